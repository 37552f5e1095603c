"""`xunlu import`, `export`, `transcript` and re-transcription from the command line, with the real model."""
import json
import shutil

import docx
import pytest
from helpers.archive import make_mp4
from helpers.cli import xunlu
from helpers.speech import SPEECH

from archive.store import Archive

pytestmark = pytest.mark.model


@pytest.fixture
def fresh(tmp_path, home, transcriber):
    """A new archive that shares the session's assembled model (not its archive)."""
    h = tmp_path / "home"
    (h / "models").mkdir(parents=True)
    (h / "models" / "whisper-base").symlink_to(home / "models" / "whisper-base")
    return h


def test_import_prints_the_session_id_and_stores_everything(fresh, tmp_path):
    src = tmp_path / "interview.wav"
    shutil.copyfile(SPEECH / "misc" / "stereo_diarization.wav", src)
    result = xunlu("import", str(src), "--case", "A-2026-17", "--room", "讯问室2", "--officers", "张三,李四",
                   "--suspect", "王五", "--speakers", "officer,suspect", "--started-at", "2026-11-21T09:30:00+08:00",
                   "--language", "en", home=fresh)
    assert result.returncode == 0, result.stderr
    sid = result.stdout.strip()
    assert sid.startswith("s-") and len(result.stdout.splitlines()) == 1
    session = Archive(fresh).get(sid)
    assert session.status == "complete" and session.latest.version == 1 and session.latest.kind == "asr"

    again = xunlu("import", str(src), home=fresh)
    assert again.returncode == 2 and f"already in the archive as session {sid}" in again.stderr

    shown = xunlu("transcript", "show", sid, home=fresh)
    assert "officer:" in shown.stdout and "wizard" in shown.stdout and "suspect:" in shown.stdout

    out = tmp_path / "record.docx"
    exported = xunlu("export", sid, "--format", "docx", "-o", str(out), home=fresh)
    assert exported.returncode == 0, exported.stderr
    text = "\n".join(p.text for p in docx.Document(str(out)).paragraphs)
    assert "讯问笔录" in text and "A-2026-17" in text and "讯问室2" in text and "王五" in text
    assert "问：" in text and "答：" in text

    srt = xunlu("export", sid, "-f", "srt", home=fresh)
    assert srt.returncode == 0 and srt.stdout.startswith("1\n00:00:00,")

    edited = xunlu("transcript", "edit", sid, "-s", "1", "-t", "The horizon seems very distant.",
                   "--reason", "听写更正", "--author", "张三", home=fresh)
    assert edited.returncode == 0, edited.stderr
    found = xunlu("search", '"very distant"', "--json", home=fresh)
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["session"] for line in found.stdout.splitlines()] == [sid]  # the edit is indexed
    wizard = json.loads(xunlu("search", "wizard", "--json", home=fresh).stdout.splitlines()[0])
    v1 = json.loads(xunlu("transcript", "show", sid, "-v", "1", "-f", "json", home=fresh).stdout)
    word = next(w for s in v1["segments"] for w in s["words"] if "wizard" in w["text"])
    assert wizard["speaker"] == "officer"
    assert wizard["start"] == pytest.approx(word["start"], abs=0.01)  # the word's time, not its segment's
    assert wizard["start"] > v1["segments"][0]["start"] + 1.0
    rerun = xunlu("transcribe", sid, "-l", "en", "-f", "txt", home=fresh)
    assert rerun.returncode == 0, rerun.stderr
    versions = xunlu("transcript", "versions", sid, home=fresh).stdout.splitlines()
    assert [v.split("\t")[:2] for v in versions] == [["v1", "asr"], ["v2", "edit from v1"], ["v3", "asr from v2"]]
    assert xunlu("verify", home=fresh).returncode == 0


def test_import_json_prints_the_record(fresh, tmp_path):
    src = make_mp4(tmp_path)
    result = xunlu("import", str(src), "--json", "-l", "en", home=fresh)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "complete" and record["media"][0]["role"] == "original"
    assert len(record["media"]) == 1  # an H.264/AAC fast-start MP4 plays in browsers as it is


@pytest.mark.parametrize("make,needle", [
    (lambda p: (p / "notes.mp4").write_text("不是视频") and p / "notes.mp4", "not a media file"),
    (lambda p: p / "missing.wav", "no such file"),
])
def test_bad_input_is_refused_and_nothing_is_half_written(fresh, tmp_path, make, needle):
    result = xunlu("import", str(make(tmp_path)), home=fresh)
    assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr
    assert not (fresh / "sessions").exists() or not any((fresh / "sessions").iterdir())


def test_a_truncated_mp4_is_refused(fresh, tmp_path):
    full = make_mp4(tmp_path)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    result = xunlu("import", str(cut), home=fresh)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["export", "s-20990101-0001", "-f", "srt"], ["transcript", "show", "s-20990101-0001"],
                                  ["session", "s-20990101-0001"], ["export", "nonsense", "-f", "txt"]])
def test_unknown_sessions_are_exit_2(fresh, args):
    result = xunlu(*args, home=fresh)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "session" in result.stderr
