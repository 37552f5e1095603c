"""`xunlu search` and `xunlu reindex` as users run them: JSON lines, bad input, rebuilds that never leave
search without an index, a damaged index repaired, live segments searchable within 2 seconds."""
import json
import time

import pytest
from helpers.cli import xunlu

from archive.store import Archive
from archive.transcripts import add_version
from core.transcript import Segment, Transcript, Word
from index.live import LiveIndexer
from index.manager import SEARCH_ENV, SearchIndex
from index.search_index import SessionMeta
from service.indexing import rebuild

SENTENCES = ["你昨天晚上去了哪里", "我在城南的仓库里面", "有人看见你拿着一把刀", "我没有拿刀也没有去仓库",
             "车牌号是京A一二三四五", "那天晚上八点我在家里看电视"]


def transcript(n_segments, marker=None):
    segs = []
    for i in range(n_segments):
        text = SENTENCES[i % len(SENTENCES)] + (marker if marker and i == 0 else "")
        words = tuple(Word(i * 5.0 + k * 0.25, i * 5.0 + (k + 1) * 0.25, ch, 0.9) for k, ch in enumerate(text))
        segs.append(Segment(i, words[0].start, words[-1].end, text, words, "suspect" if i % 2 else "officer",
                            i % 2))
    return Transcript(language="zh", model="scripted", duration=n_segments * 5.0, segments=tuple(segs))


def fill(home, sessions, segments, marker=None):
    archive = Archive(home)
    ids = []
    for s in range(sessions):
        with archive.new_session("tester", case_id=f"C-{s % 7}", speakers=("officer", "suspect"),
                                 started_at="2026-11-20T10:00:00+08:00") as session:
            add_version(archive, session.id, transcript(segments, marker if s == 0 else None), "asr", "tester")
            archive.update_session(session.id, status="complete")
            ids.append(session.id)
    return archive, ids


@pytest.mark.parametrize("backend", ["whoosh", "postgresql"])
def test_search_json_lines_from_the_command_line(tmp_path, monkeypatch, request, backend):
    if backend == "postgresql":   # the catalog and the search index in a centre's database
        monkeypatch.setenv("XUNLU_DATABASE_URL", request.getfixturevalue("postgres").new_database())
        monkeypatch.setenv(SEARCH_ENV, "postgresql")
    home = tmp_path / "home"
    archive, ids = fill(home, 2, 6, marker="蔺晓翀")
    result = xunlu("search", "蔺晓翀", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert "rebuilding it from the archive" in result.stderr  # no index yet: built at first use
    [line] = result.stdout.splitlines()
    hit = json.loads(line)
    assert hit["session"] == ids[0] and hit["start"] == pytest.approx(len(SENTENCES[0]) * 0.25)
    table = xunlu("search", "仓库", "--case", "C-1", home=home)
    assert table.returncode == 0 and ids[1] in table.stdout and ids[0] not in table.stdout
    assert (home / "index" / "CURRENT").exists() == (backend == "whoosh")   # PostgreSQL: nothing in the home


@pytest.mark.parametrize("args,needle", [([""], "empty"), (["，。"], "nothing to search for"),
                                         (['"仓库'], "unbalanced quotes"),
                                         (["仓库", "--since", "2026-02-30"], "not a date"),
                                         (["仓库", "--until", "tomorrow"], "not a date"),
                                         (["仓库", "--sort", "random"], "--sort")])
def test_bad_search_input_is_exit_2_without_traceback(tmp_path, args, needle):
    result = xunlu("search", *args, home=tmp_path / "home")
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_a_damaged_index_is_detected_and_rebuilt(tmp_path):
    home = tmp_path / "home"
    archive, ids = fill(home, 2, 6)
    rebuild(home, archive)
    folder = SearchIndex(home).current_dir()
    for f in folder.iterdir():
        if f.suffix in (".seg", ".toc"):
            f.write_bytes(b"garbage")
    result = xunlu("search", "仓库", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert "cannot be read" in result.stderr and "rebuilding" in result.stderr
    assert len(result.stdout.splitlines()) == 4


def test_live_segments_are_searchable_within_two_seconds(tmp_path):
    home = tmp_path / "home"
    meta = SessionMeta("s-20261121-0009", "L-1", "讯问室3", ("张三",), "2026-11-21T10:00:00+08:00", 1)
    live = LiveIndexer(home, meta)
    # a recording session starts its indexer with the session, seconds before ASR gives a first segment
    assert live.wait_ready(60)
    try:
        for i, text in enumerate(["我叫王五", "我住在城南的仓库旁边", "那天我见过蔺晓翀"]):
            words = tuple(Word(i * 4 + k * 0.3, i * 4 + (k + 1) * 0.3, ch, 0.9) for k, ch in enumerate(text))
            said = time.monotonic()
            live.add(Segment(i, words[0].start, words[-1].end, text, words, "suspect", 1))
            assert time.monotonic() - said < 0.05  # adding never waits for the index
            while not SearchIndex(home).exists() or not SearchIndex(home).search(text):
                assert time.monotonic() - said < 2.0, f"segment {i} not searchable within 2 s"
                time.sleep(0.05)
    finally:
        live.close()
    [hit] = SearchIndex(home).search("蔺晓翀")
    assert hit.start == pytest.approx(8 + 5 * 0.3)  # 那天我见过 comes first


def test_an_index_of_an_older_format_is_rebuilt(tmp_path):
    home = tmp_path / "home"
    archive, ids = fill(home, 2, 6)
    rebuild(home, archive)
    folder = SearchIndex(home).current_dir()
    (folder / "FORMAT").unlink()  # the first version of xunlu wrote no format stamp
    result = xunlu("search", "仓库", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert "another version" in result.stderr and "rebuilding" in result.stderr
    assert len(result.stdout.splitlines()) == 4
    assert SearchIndex(home).current_dir() != folder and SearchIndex(home).exists()


def test_sound_alikes_from_the_command_line_and_exact(tmp_path):
    home = tmp_path / "home"
    archive, ids = fill(home, 1, 2, marker="，他说受信额度用完了")
    rebuild(home, archive)
    lines = [json.loads(x) for x in xunlu("search", "授信", "--json", home=home).stdout.splitlines()]
    assert [(h["session"], h["match"]) for h in lines] == [(ids[0], "sound")]
    assert lines[0]["start"] == pytest.approx((len(SENTENCES[0]) + 3) * 0.25)  # 受, after "，他说"
    assert set(lines[0]) == {"session", "start", "end", "speaker", "text", "snippet", "score", "match"}
    table = xunlu("search", "shouxin", home=home)
    assert table.returncode == 0 and "同音 受信" in table.stdout
    exact = xunlu("search", "授信", "--exact", "--json", home=home)
    assert exact.returncode == 0 and exact.stdout == ""
    bad = xunlu("search", "授信", "--loose", "tone", home=home)
    assert bad.returncode == 2 and "unknown sound tier" in bad.stderr and "Traceback" not in bad.stderr


def test_an_index_of_format_3_is_rebuilt_with_a_clear_message(tmp_path):
    home = tmp_path / "home"
    archive, ids = fill(home, 1, 6)
    rebuild(home, archive)
    folder = SearchIndex(home).current_dir()
    (folder / "FORMAT").write_text("xunlu-index 3\n")  # as xunlu left it before sound-alike search
    result = xunlu("search", "仓库", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert "'xunlu-index 3'" in result.stderr and "sound-alike" in result.stderr and "rebuilding" in result.stderr
    assert SearchIndex(home).current_dir() != folder
    done = xunlu("reindex", home=home)
    assert done.returncode == 0 and "indexed 6 segment(s) of 1 session(s)" in done.stdout
