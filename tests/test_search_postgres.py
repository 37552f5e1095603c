"""Search on PostgreSQL (`XUNLU_SEARCH=postgresql`): the nodes of a centre, each with a home of its own, see the
same hits, a live session's segments included; the hits, times and ranking are the Whoosh backend's; a rebuild
is seen whole or not at all. (tests/test_search.py and tests/test_search_sounds.py run on both backends.)"""
from __future__ import annotations

import json
import time

import pytest
from helpers.cli import xunlu
from helpers.search_backends import open_index

from archive.store import Archive
from archive.transcripts import add_version, edit
from core.errors import XunluError
from core.transcript import Segment, Transcript, Word
from index.live import LiveIndexer
from index.manager import SEARCH_ENV, IndexProblem, SearchIndex, SearchOptions
from index.search_index import SessionMeta
from service.indexing import stale_sessions

STEP = 0.25
SENTENCES = ["你昨天晚上去了哪里", "我在城南的仓库里面", "有人看见你拿着一把刀", "他说受信额度用完了"]


def segment(i: int, start: float, text: str, speaker: str = "suspect") -> Segment:
    words = tuple(Word(start + k * STEP, start + (k + 1) * STEP, ch, 0.9) for k, ch in enumerate(text))
    return Segment(i, start, words[-1].end, text, words, speaker, 1 if speaker == "suspect" else 0)


def archived(home, sessions: int) -> list[str]:
    """Sessions with a transcript each, in the catalog (PostgreSQL here) and in `home`'s session folders."""
    archive = Archive(home)
    ids = []
    for s in range(sessions):
        with archive.new_session("tester", case_id=f"C-{s}", speakers=("officer", "suspect"),
                                 started_at="2026-11-20T10:00:00+08:00") as session:
            segs = tuple(segment(i, i * 5.0, text + ("，蔺晓翀" if s == 0 and i == 0 else ""))
                         for i, text in enumerate(SENTENCES))
            add_version(archive, session.id, Transcript(language="zh", model="scripted", duration=20.0,
                                                         segments=segs), "asr", "tester")
            archive.update_session(session.id, status="complete")
            ids.append(session.id)
    archive.close()
    return ids


def test_two_nodes_with_homes_of_their_own_see_the_same_hits_live_ones_included(tmp_path, postgres, monkeypatch):
    monkeypatch.setenv("XUNLU_DATABASE_URL", postgres.new_database())
    monkeypatch.setenv(SEARCH_ENV, "postgresql")
    node_a, node_b = tmp_path / "a", tmp_path / "b"
    ids = archived(node_a, 3)
    monkeypatch.setenv("XUNLU_AUDIT_KEY", str(node_a / "keys" / "audit.key"))   # the key the site shares
    done = xunlu("reindex", home=node_a)
    assert done.returncode == 0 and "indexed 12 segment(s) of 3 session(s)" in done.stdout, done.stderr

    on_a = [h.to_json() for h in SearchIndex(node_a).search("仓库 OR 授信", SearchOptions(limit=50))]
    found = xunlu("search", "仓库 OR 授信", "--json", "--limit", "50", home=node_b)
    assert found.returncode == 0 and "rebuilding" not in found.stderr, found.stderr
    assert [json.loads(line) for line in found.stdout.splitlines()] == on_a
    assert {(h["session"], h["match"]) for h in on_a} == {(i, m) for i in ids for m in ("exact", "sound")}
    assert not (node_b / "index" / "CURRENT").exists()   # node b has no index of its own

    archive = Archive(node_a)   # a correction saved, the process gone before indexing it: found as stale
    assert stale_sessions(node_a, archive) == []
    edit(archive, ids[1], {0: "更正后的文字"}, "tester", "test")
    assert stale_sessions(node_a, archive) == [ids[1]]
    archive.close()

    # a session recorded live on node a: its finals are searchable on node b within a second or two
    meta = SessionMeta("s-20261121-0009", "L-1", "讯问室3", ("张三",), "2026-11-21T10:00:00+08:00", 1)
    live = LiveIndexer(node_a, meta)
    assert live.wait_ready(60)
    try:
        live.add(segment(0, 1.0, "那天我见过欧阳靖雯"))
        deadline = time.monotonic() + 5.0
        while not SearchIndex(node_b).search("欧阳靖雯"):
            assert time.monotonic() < deadline, "the live final was not searchable on the other node within 5 s"
            time.sleep(0.05)
    finally:
        live.close()
    found = xunlu("search", "欧阳靖雯", "--json", home=node_b)
    [hit] = [json.loads(line) for line in found.stdout.splitlines()]
    assert hit["session"] == meta.id and hit["start"] == pytest.approx(1.0 + 5 * STEP)


def test_the_same_hits_times_and_scores_as_whoosh_on_the_benchmark_queries(tmp_path, request):
    from bench.search import Corpus, make_queries, sentences

    corpus = Corpus(1.0, 3, sentences())
    sessions = list(corpus.iterate())
    whoosh = open_index("whoosh", tmp_path / "w", request)
    postgresql = open_index("postgresql", tmp_path / "p", request)
    whoosh.rebuild(iter(sessions), len(sessions), procs=1)   # one writer: documents numbered in order
    assert postgresql.rebuild(iter(sessions), len(sessions)) == sum(len(segs) for _, segs in sessions)
    compared = 0
    for q in make_queries(corpus, 3):
        options = SearchOptions(limit=20, case_id=q.case_id, speaker=q.speaker, since=q.since, until=q.until)
        want, got = whoosh.search(q.text, options), postgresql.search(q.text, options)
        assert [h.to_json() | {"score": None} for h in got] == [h.to_json() | {"score": None} for h in want], q
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-9), q
        assert [h.written for h in got] == [h.written for h in want], q
        compared += len(want)
    assert compared > 500   # the queries do find things


def test_a_rebuild_is_seen_whole_or_not_at_all(tmp_path, request):
    idx = open_index("postgresql", tmp_path / "home", request)
    old = SessionMeta("s-20261101-0001", "A-1", "讯问室1", ("张三",), "2026-11-01T09:00:00+08:00", 1)
    new = SessionMeta("s-20261102-0002", "A-2", "讯问室1", ("张三",), "2026-11-02T09:00:00+08:00", 1)
    idx.replace_session(old, [segment(0, 1.0, "我在城南的仓库里面")])
    seen_during = []

    def sessions():
        yield new, [segment(0, 1.0, "仓库在城北")]
        seen_during.append({h.session for h in idx.search("仓库")})   # another connection, meanwhile
        raise KeyboardInterrupt   # Ctrl-C in the middle

    with pytest.raises(KeyboardInterrupt):
        idx.rebuild(sessions(), 2)
    assert seen_during == [{old.id}]
    assert {h.session for h in idx.search("仓库")} == {old.id}
    idx.rebuild(iter([(new, [segment(0, 1.0, "仓库在城北")])]), 1)
    assert {h.session for h in idx.search("仓库")} == {new.id} and idx.check() == 1


def test_an_index_of_another_format_is_refused_until_rebuilt(tmp_path, request):
    idx = open_index("postgresql", tmp_path / "home", request)
    assert not idx.exists() and idx.never_built()
    with pytest.raises(IndexProblem, match="never built"):
        idx.search("仓库")
    idx.replace_session(SessionMeta("s-20261101-0001", "A-1", "讯问室1", ("张三",), None, 1),
                        [segment(0, 1.0, "我在城南的仓库里面")])
    assert idx.exists()
    from archive.database import open_database
    conn = open_database(idx.url, "test", RuntimeError)
    conn.execute("UPDATE search_totals SET format = 'xunlu-index 3'")   # as an older xunlu left it
    conn.close()
    with pytest.raises(IndexProblem, match="another version.*sound-alike"):
        idx.search("仓库")


@pytest.mark.parametrize("env,message", [
    ({SEARCH_ENV: "postgresql", "XUNLU_DATABASE_URL": ""}, "set XUNLU_DATABASE_URL"),
    ({SEARCH_ENV: "elastic"}, "must be whoosh or postgresql"),
])
def test_a_search_backend_that_cannot_be_used_is_one_clear_error(tmp_path, monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(XunluError, match=message) as caught:
        SearchIndex(tmp_path / "home")
    assert caught.value.exit_code == 2


def test_the_statistics_scoring_reads_follow_every_write(tmp_path, request):
    """Documents, field lengths and each token's document frequency, kept up to date by every write, are what
    counting the rows gives: after replacing a session, adding live segments again and a rebuild."""
    from archive.database import open_database
    from index.pg_store import FIELDS

    idx = open_index("postgresql", tmp_path / "home", request)
    one = SessionMeta("s-20261101-0001", "A-1", "讯问室1", ("张三",), "2026-11-01T09:00:00+08:00", 1)
    two = SessionMeta("s-20261102-0002", "A-2", "讯问室1", ("张三",), "2026-11-02T09:00:00+08:00", 1)
    conn = open_database(idx.url, "test", RuntimeError)

    def kept_and_counted():
        kept = {tuple(r) for r in conn.execute("SELECT field, token, df FROM search_terms")}
        counted = {tuple(r) for f in FIELDS for r in conn.execute(
            f"SELECT '{f}', t, count(*) FROM search_segments, LATERAL (SELECT DISTINCT unnest({f}) AS t) x "
            "GROUP BY t")}
        totals = tuple(conn.execute("SELECT docs, " + ", ".join(f"len_{f}" for f in FIELDS)
                                    + " FROM search_totals").fetchone())
        lengths = tuple(conn.execute("SELECT count(*), " + ", ".join(f"COALESCE(sum(cardinality({f})), 0)"
                                                                     for f in FIELDS)
                                     + " FROM search_segments").fetchone())
        return kept, counted, totals, lengths

    try:
        idx.replace_session(one, [segment(0, 1.0, "我在城南的仓库里面"), segment(1, 5.0, "号码是8864 2285")])
        idx.replace_session(two, [segment(0, 1.0, "他说受信额度用完了")])
        idx.replace_session(one, [segment(0, 1.0, "仓库在城北")])                 # corrected: fewer tokens
        idx.add_segments(two, [segment(1, 6.0, "我的号码是4729")])
        idx.add_segments(two, [segment(2, 8.5, "7011")], context=[segment(1, 6.0, "我的号码是4729")])
        for _ in range(2):
            kept, counted, totals, lengths = kept_and_counted()
            assert kept == counted and totals == lengths and totals[0] == 4
            assert ("units", "仓", 1) in kept and not any(t == "南" for _, t, _ in kept)   # 城南 is gone
            idx.rebuild(iter([(one, [segment(0, 1.0, "仓库在城北")]),
                              (two, [segment(0, 1.0, "他说受信额度用完了"), segment(1, 6.0, "我的号码是4729"),
                                     segment(2, 8.5, "7011")])]), 2)
    finally:
        conn.close()
