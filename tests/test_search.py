"""Keyword search that lands on the moment: recall on a known corpus, word times, syntax, filters."""
import pytest
from helpers.search_backends import BACKENDS, open_index

from core.transcript import Segment, Word
from index.manager import SearchIndex, SearchOptions
from index.query import QueryError
from index.search_index import SessionMeta

STEP = 0.3  # every character of the corpus is one word, STEP seconds long


def seg(i, start, text, speaker):
    words = tuple(Word(round(start + k * STEP, 2), round(start + (k + 1) * STEP, 2), ch, 0.9)
                  for k, ch in enumerate(text))
    return Segment(i, start, words[-1].end, text, words, speaker, 0 if speaker == "officer" else 1)


CORPUS = {
    SessionMeta("s-20261101-0001", "A-1", "讯问室1", ("张三", "李四"), "2026-11-01T09:00:00+08:00", 1): [
        seg(0, 4.0, "你八月十一日晚上在哪里", "officer"),
        seg(1, 9.5, "我在城南的仓库里面", "suspect"),
        seg(2, 15.0, "我昨天见到了蔺晓翀和他的朋友", "suspect"),
        seg(3, 22.0, "他欠了一百一十七万元", "suspect"),
        seg(4, 30.0, "仓库里有没有刀", "officer"),
    ],
    SessionMeta("s-20261115-0002", "B-9", "讯问室2", ("王五",), "2026-11-15T14:00:00+08:00", 1): [
        seg(0, 2.0, "车牌号是117吗", "officer"),
        seg(1, 6.0, "8月11日那天我去了仓库", "suspect"),
        seg(2, 12.0, "房价，上涨得很快", "suspect"),
        seg(3, 18.0, "我没有拿枪也没有拿刀", "suspect"),
    ],
}


@pytest.fixture(scope="module", params=BACKENDS)
def index(request, tmp_path_factory):
    """The corpus indexed in the Whoosh folder, and in PostgreSQL: every test using it runs on both."""
    idx = open_index(request.param, tmp_path_factory.mktemp("home"), request)
    for meta, segments in CORPUS.items():
        idx.replace_session(meta, segments)
    return idx


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def truth(text):
    """Every segment where `text` occurs, as (session, time of its first occurrence in the segment)."""
    return {(meta.id, round(s.start + s.text.find(text) * STEP, 2))
            for meta, segments in CORPUS.items() for s in segments if text in s.text}


def found(index, query, **opts):
    return {(h.session, round(h.start, 2)) for h in index.search(query, SearchOptions(limit=100, **opts))}


@pytest.mark.parametrize("word", ["仓库", "蔺晓翀", "晓翀", "城南", "朋友", "没有拿"])
def test_every_occurrence_is_found_at_the_word_time(index, word):
    expected = truth(word)
    assert expected
    hits = index.search(word, SearchOptions(limit=100))
    assert len(hits) == len(expected)  # recall 1.0, nothing else
    for h in hits:
        assert any(sid == h.session and abs(h.start - t) <= 0.5 for sid, t in expected)
    assert found(index, word) == expected  # and exactly at the first matched word


def test_a_made_up_name_is_found_inside_a_sentence(index):
    [hit] = index.search("蔺晓翀")
    assert hit.session == "s-20261101-0001" and hit.start == pytest.approx(15.0 + 6 * STEP)
    assert hit.end == pytest.approx(15.0 + 9 * STEP)
    assert "<mark>蔺晓翀</mark>" in hit.snippet


@pytest.mark.parametrize("query", ["117", "一百一十七"])
def test_numbers_are_found_in_either_form(index, query):
    hits = {(h.session, h.segment) for h in index.search(query)}
    assert hits == {("s-20261101-0001", 3), ("s-20261115-0002", 0)}


@pytest.mark.parametrize("query", ["8月11日", "八月十一日"])
def test_dates_are_found_in_either_form(index, query):
    hits = sorted((h.session, h.start) for h in index.search(query))
    assert hits == [("s-20261101-0001", pytest.approx(4.0 + 1 * STEP)), ("s-20261115-0002", pytest.approx(6.0))]


def test_traditional_queries_find_simplified_text(index):
    assert {h.segment for h in index.search("車牌號")} == {0}
    assert {(h.session, h.segment) for h in index.search("倉庫")} == {(s, i) for s, i in [
        ("s-20261101-0001", 1), ("s-20261101-0001", 4), ("s-20261115-0002", 1)]}


def test_a_phrase_matches_across_asr_punctuation(index):
    [hit] = index.search('"房价上涨"')
    assert hit.start == pytest.approx(12.0) and hit.end == pytest.approx(12.0 + 5 * STEP)


def test_and_or_not(index):
    assert {h.segment for h in index.search("仓库 AND 刀")} == {4}
    assert {h.segment for h in index.search("仓库 刀")} == {4}
    assert {(h.session, h.segment) for h in index.search("枪 OR 刀")} == {("s-20261101-0001", 4),
                                                                           ("s-20261115-0002", 3)}
    assert {(h.session, h.segment) for h in index.search("仓库 NOT 刀")} == {("s-20261101-0001", 1),
                                                                             ("s-20261115-0002", 1)}
    assert {(h.session, h.segment) for h in index.search("仓库 -刀")} == {("s-20261101-0001", 1),
                                                                          ("s-20261115-0002", 1)}


def test_filters_by_case_speaker_and_date(index):
    assert {h.session for h in index.search("仓库", SearchOptions(case_id="B-9"))} == {"s-20261115-0002"}
    assert {h.segment for h in index.search("仓库", SearchOptions(speaker="officer"))} == {4}
    assert {h.session for h in index.search("仓库", SearchOptions(since="2026-11-10"))} == {"s-20261115-0002"}
    assert {h.session for h in index.search("仓库", SearchOptions(until="2026-11-01"))} == {"s-20261101-0001"}


def test_results_can_be_ordered_by_session_and_time(index):
    hits = index.search("仓库", SearchOptions(sort="time"))
    assert [(h.session, h.start) for h in hits] == sorted((h.session, h.start) for h in hits)


def test_json_hit_has_the_contract_fields(index):
    hit = index.search("蔺晓翀")[0].to_json()
    assert set(hit) == {"session", "start", "end", "speaker", "text", "snippet", "score", "match"}
    assert hit["speaker"] == "suspect" and hit["match"] == "exact"


@pytest.mark.parametrize("query,message", [("", "empty"), ("   ", "empty"), ("，。！", "nothing to search for"),
                                           ('"仓库', "unbalanced quotes"), ("(仓库", "parentheses"),
                                           ("NOT 刀", "only NOT"), ("仓库 AND", "ends")])
def test_bad_queries_raise_a_clear_error(index, query, message):
    with pytest.raises(QueryError, match=message):
        index.search(query)


def test_a_bad_date_is_a_clear_error(index):
    with pytest.raises(QueryError, match="not a date"):
        index.search("仓库", SearchOptions(since="yesterday"))


# -- the numpy scorer gives Whoosh's own ranking; the shared searcher follows every change ----------------
QUERIES = ["仓库", "刀", "117", "一百一十七", "蔺晓翀", '"房价上涨"', "仓库 刀", "枪 OR 刀", "仓库 NOT 刀",
           "(枪 OR 刀) AND 仓库", "没有拿", "我", "8月11日", "不存在的词"]


@pytest.fixture(scope="module")
def index_with_deletions(tmp_path_factory):
    """The corpus, plus a session indexed twice, the first copy deleted but not merged away."""
    idx = SearchIndex(tmp_path_factory.mktemp("home"))
    for meta, segments in CORPUS.items():
        idx.replace_session(meta, segments)
    # decoys: every bigram of 房价上涨 / 蔺晓翀, but not in a row (they score high and must still not match)
    decoys = SessionMeta("s-20261120-0003", "C-3", "讯问室3", ("赵六",), "2026-11-20T09:00:00+08:00", 1)
    idx.replace_session(decoys, [seg(0, 1.0, "房价高价上去上涨", "suspect"), seg(1, 5.0, "蔺晓晓翀", "suspect"),
                                 seg(2, 9.0, "上涨房价价上", "officer"), seg(3, 13.0, "房价上涨了", "officer")])
    from index.search_index import documents
    meta, segments = next(iter(CORPUS.items()))
    ix = idx.open()
    w = ix.writer()
    w.delete_by_term("session", meta.id)
    for doc in documents(meta, segments):
        w.add_document(**doc)
    w.commit(merge=False)
    with idx.searcher() as s:
        assert s.reader().has_deletions()
    return idx


@pytest.mark.parametrize("filters", [{}, {"speaker": "suspect"}, {"case_id": "A-1"},
                                     {"since": "2026-11-10", "until": "2026-11-30"}])
def test_fast_scoring_ranks_exactly_as_whoosh(index_with_deletions, filters):
    from whoosh import query as wq

    from index.fastfilter import Filter, allowed_docs
    from index.fastscore import FastScorer
    from index.query import parse, parse_day
    from index.search_index import to_whoosh

    since = parse_day(filters.get("since"), "s")
    until = parse_day(filters.get("until"), "u", True)
    keep = Filter(tuple((f, filters[k]) for f, k in (("case", "case_id"), ("speaker", "speaker")) if k in filters),
                  "date", since, until)
    fq = []
    if "speaker" in filters:
        fq.append(wq.Term("speaker", filters["speaker"]))
    if "case_id" in filters:
        fq.append(wq.Term("case", filters["case_id"]))
    if "since" in filters:
        fq.append(wq.DateRange("date", parse_day(filters["since"], "s"), parse_day(filters["until"], "u", True)))
    fq = wq.And(fq) if fq else None
    compared = 0
    with index_with_deletions.searcher() as s:
        fast = FastScorer(s)
        for text in QUERIES:
            q = to_whoosh(parse(text))
            want = [(r.docnum, r.score) for r in s.search(q, limit=5, filter=fq)]
            for got in (fast.top(q, 5, allowed_docs(fast, fq)), fast.top(q, 5, keep=keep)):
                assert [d for d, _ in got] == [d for d, _ in want], text
                assert [sc for _, sc in got] == pytest.approx([sc for _, sc in want], rel=1e-6), text
            compared += len(want)
    assert compared > 10  # the queries do find things


def test_a_date_filter_leaves_out_segments_without_a_date(backend, request, tmp_path):
    idx = open_index(backend, tmp_path / "home", request)
    dated, undated = list(CORPUS)
    idx.replace_session(dated, CORPUS[dated])
    idx.replace_session(SessionMeta(undated.id, undated.case_id, undated.room, undated.officers, None, 1),
                        CORPUS[undated])
    assert {h.session for h in idx.search("仓库", SearchOptions(since="2020-01-01"))} == {dated.id}
    assert {h.session for h in idx.search("仓库")} == {dated.id, undated.id}


def test_search_sees_a_reindexed_session_once(index_with_deletions):
    hits = index_with_deletions.search("仓库", SearchOptions(limit=100))
    assert len(hits) == len(truth("仓库"))  # the deleted copies are not found


@pytest.mark.parametrize("limit", [1, 2, 100])
def test_a_phrase_needs_its_words_in_a_row(index_with_deletions, limit):
    hits = index_with_deletions.search('"房价上涨"', SearchOptions(limit=limit))
    assert len(hits) == min(limit, 2)
    assert {(h.session, h.segment) for h in hits} <= {("s-20261115-0002", 2), ("s-20261120-0003", 3)}
    assert [h.session for h in index_with_deletions.search("蔺晓翀", SearchOptions(limit=limit))] == [
        "s-20261101-0001"]


def test_the_shared_searcher_follows_writes_and_swaps(tmp_path):
    idx = SearchIndex(tmp_path / "home")
    metas = list(CORPUS)
    idx.replace_session(metas[0], CORPUS[metas[0]])
    assert {h.session for h in idx.search("仓库", SearchOptions(limit=100))} == {metas[0].id}
    idx.add_segments(metas[1], CORPUS[metas[1]][:2])  # a live session: seen by the next search
    assert {h.session for h in SearchIndex(tmp_path / "home").search("仓库")} == {metas[0].id, metas[1].id}
    idx.add_segments(metas[1], CORPUS[metas[1]][:2])  # added again: replaced, not doubled
    assert len(idx.search("仓库", SearchOptions(limit=100))) == 3
    before = idx.current_dir()
    idx.rebuild(iter([(metas[1], CORPUS[metas[1]])]), 1)  # a new folder swapped in
    assert idx.current_dir() != before
    assert {h.session for h in idx.search("仓库", SearchOptions(limit=100))} == {metas[1].id}


def test_searches_from_many_threads_while_a_writer_commits(tmp_path):
    import threading

    idx = SearchIndex(tmp_path / "home")
    meta0, meta1 = list(CORPUS)
    idx.replace_session(meta0, CORPUS[meta0])
    errors, counts = [], []

    def searching():
        try:
            for _ in range(15):
                counts.append(len(SearchIndex(tmp_path / "home").search("仓库", SearchOptions(limit=100))))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=searching) for _ in range(4)]
    for t in threads:
        t.start()
    for seg in CORPUS[meta1]:
        idx.add_segments(meta1, [seg])
    for t in threads:
        t.join()
    assert not errors
    assert counts and all(2 <= c <= 3 for c in counts)
    assert len(idx.search("仓库", SearchOptions(limit=100))) == 3


def test_an_index_of_another_format_is_refused(tmp_path):
    from index.manager import IndexProblem

    idx = SearchIndex(tmp_path / "home")
    meta = next(iter(CORPUS))
    idx.replace_session(meta, CORPUS[meta])
    assert idx.search("仓库")
    (idx.current_dir() / "FORMAT").unlink()  # as the first version of xunlu left it
    assert not idx.exists()
    with pytest.raises(IndexProblem, match="another version"):
        idx.search("仓库")


def test_phrase_candidates_are_checked_past_many_better_scoring_decoys(tmp_path):
    from index.fastscore import FastScorer
    from index.query import parse
    from index.search_index import to_whoosh

    idx = SearchIndex(tmp_path / "home")
    meta = SessionMeta("s-20261120-0004", "D-1", "讯问室4", ("赵六",), "2026-11-20T09:00:00+08:00", 1)
    decoys = [seg(i, i * 5.0, "房价价上上涨", "suspect") for i in range(40)]  # all three bigrams, apart
    idx.replace_session(meta, decoys + [seg(40, 300.0, "我是说那年的房价上涨了很多很多", "officer")])
    q = to_whoosh(parse('"房价上涨"'))
    with idx.searcher() as s:
        want = [(r.docnum, r.score) for r in s.search(q, limit=3)]
        assert FastScorer(s).top(q, 3) == [(d, pytest.approx(sc)) for d, sc in want]
    [hit] = idx.search('"房价上涨"', SearchOptions(limit=3))
    assert hit.segment == 40 and hit.start == pytest.approx(300.0 + 6 * STEP)


def test_queries_the_fast_scorer_leaves_to_whoosh_still_answer(index):
    # only exclusions: Whoosh's Every matcher, which the numpy scorer does not reproduce
    hits = index.search("NOT 刀 NOT 枪", SearchOptions(limit=100, since="2026-11-10"))
    assert {(h.session, h.segment) for h in hits} == {("s-20261115-0002", i) for i in (0, 1, 2)}


def test_a_snippet_never_cuts_an_english_word_in_two(backend, request, tmp_path):
    text = "Who else went out to the warehouse with you on that evening in the harbour district"
    idx = open_index(backend, tmp_path / "home", request)
    idx.replace_session(SessionMeta("s-20261101-0009", "E-1", "room 1", ("Smith",), "2026-11-01T09:00:00+00:00", 1,
                                    language="en"), [seg(0, 1.0, text, "officer")])
    [hit] = idx.search("warehouse")
    assert "<mark>warehouse</mark>" in hit.snippet
    shown = hit.snippet.replace("<mark>", "").replace("</mark>", "").strip("…").split()
    assert shown and all(word in text.split() for word in shown), hit.snippet
