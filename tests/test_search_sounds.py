"""Sound-alike search and numbers as spoken, from the spec: a supervisor types what was said (授信, shouxin,
2285) and lands on the moment, whatever characters the ASR wrote (受信) and however it cut the number
(8864 2285, or over two segments)."""
import time

import pytest
from helpers.search_backends import BACKENDS, open_index

from core.transcript import Segment, Word
from index.live import LiveIndexer
from index.manager import SearchIndex, SearchOptions
from index.query import QueryError
from index.search_index import SessionMeta

STEP = 0.3  # every character is one word, STEP seconds long


def seg(i, start, text, speaker="suspect"):
    words = tuple(Word(round(start + k * STEP, 2), round(start + (k + 1) * STEP, 2), ch, 0.9)
                  for k, ch in enumerate(text))
    return Segment(i, start, words[-1].end, text, words, speaker, 0 if speaker == "officer" else 1)


def at(segment, text):
    """The time of the first word of `text` in a segment made by seg()."""
    return pytest.approx(segment.start + segment.text.index(text) * STEP)


ONE = SessionMeta("s-20261101-0001", "A-1", "讯问室1", ("张三",), "2026-11-01T09:00:00+08:00", 1)
TWO = SessionMeta("s-20261115-0002", "B-9", "讯问室2", ("王五",), "2026-11-15T14:00:00+08:00", 1)
SEGS_ONE = [
    seg(0, 1.0, "银行给他的授信额度是多少", "officer"),   # as written
    seg(1, 6.0, "他说受信额度用完了", "suspect"),          # 授信 heard, written 受信
    seg(2, 12.0, "我的电话是8864 2285", "suspect"),         # a number in groups
    seg(3, 20.0, "我在沉督的中航上班", "suspect"),          # 成都 heard as chen du; 中行 written 中航
    seg(4, 26.0, "以季度为单位还款", "suspect"),            # 一季度 written 以季度
    seg(5, 31.0, "一季度的流水", "officer"),
    seg(6, 35.0, "他到银行去了", "officer"),
    seg(7, 39.0, "检测结果是阴性", "officer"),             # yin xing: not 银行 (yin hang)
]
SEGS_TWO = [
    seg(0, 2.0, "受信", "suspect"),                          # short: scores high, still after an exact hit
    seg(1, 5.0, "车牌京A12345，身份证11010519491231002X", "officer"),
    seg(2, 12.0, "一共一千亿", "suspect"),
    seg(3, 16.0, "号码是幺三九幺幺二二", "suspect"),         # 幺 = 1: 1391122 then 3344 after a breath
    seg(4, 19.4, "三三四四", "suspect"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def index(request, tmp_path_factory):
    """Both sessions indexed in the Whoosh folder, and in PostgreSQL: every test using it runs on both."""
    idx = open_index(request.param, tmp_path_factory.mktemp("home"), request)
    idx.replace_session(ONE, SEGS_ONE)
    idx.replace_session(TWO, SEGS_TWO)
    return idx


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def hits(index, query, **opts):
    return index.search(query, SearchOptions(limit=50, **opts))


def where(found):
    return [(h.session[-4:], h.segment, h.match) for h in found]


def test_a_word_finds_where_it_was_written_with_other_characters(index):
    found = hits(index, "授信")
    assert ("0001", 1, "sound") in where(found)
    sound = next(h for h in found if h.segment == 1 and h.session == ONE.id)
    assert sound.start == at(SEGS_ONE[1], "受信") and sound.end == pytest.approx(sound.start + 2 * STEP)
    assert sound.written == "受信" and "<mark>受信</mark>" in sound.snippet
    assert sound.to_json()["match"] == "sound"


def test_exact_hits_come_first_then_sound_alikes(index):
    found = hits(index, "授信")
    assert where(found) == [("0001", 0, "exact"), ("0002", 0, "sound"), ("0001", 1, "sound")] or \
        where(found) == [("0001", 0, "exact"), ("0001", 1, "sound"), ("0002", 0, "sound")]
    assert found[0].start == at(SEGS_ONE[0], "授信")
    # the two-character segment 受信 alone scores far higher than a long segment, and still comes after it
    assert found[1].score > found[0].score or found[2].score > found[0].score
    assert [h.match for h in index.search("授信", SearchOptions(limit=1))] == ["exact"]
    assert [h.match for h in index.search("授信", SearchOptions(limit=2))] == ["exact", "sound"]


def test_exact_turns_sound_alikes_off(index):
    assert where(hits(index, "授信", exact=True)) == [("0001", 0, "exact")]
    assert hits(index, "shouxin", exact=True) == []


@pytest.mark.parametrize("query", ["shouxin", "shou xin", "SHOUXIN", "shou'xin", "shòu xìn"])
def test_pinyin_finds_every_way_it_was_written(index, query):
    assert {(s, i) for s, i, _ in where(hits(index, query))} == {("0001", 0), ("0001", 1), ("0002", 0)}
    assert {h.match for h in hits(index, query)} == {"sound"}


def test_heteronyms_are_read_by_their_word(index):
    assert {(h.session[-4:], h.segment) for h in hits(index, "yinhang")} == {("0001", 0), ("0001", 6)}
    assert ("0001", 7) not in {(h.session[-4:], h.segment) for h in hits(index, "银行")}  # 阴性 is yin xing
    assert ("0001", 3, "sound") in where(hits(index, "中行"))  # 中行 zhong hang, written 中航


def test_a_numeral_said_as_a_sound_alike(index):
    found = hits(index, "一季度")
    assert where(found)[:1] == [("0001", 5, "exact")]
    assert ("0001", 4, "sound") in where(found)


def test_one_syllable_is_never_searched_by_sound(index):
    assert all(h.match == "exact" for h in hits(index, "信"))
    assert hits(index, "xin") == []


def test_looser_tiers_are_off_by_default_and_find_confused_finals(index):
    assert ("0001", 3) not in {(h.session[-4:], h.segment) for h in hits(index, "成都")}
    found = hits(index, "成都", loose=("ng",))
    assert ("0001", 3, "sound") in where(found)
    hit = next(h for h in found if h.segment == 3)
    assert hit.written == "沉督" and hit.start == at(SEGS_ONE[3], "沉督")
    with pytest.raises(QueryError, match="unknown sound tier"):
        hits(index, "成都", loose=("tone",))


def test_phrases_operators_and_filters_work_with_sound(index):
    assert ("0001", 1) in {(h.session[-4:], h.segment) for h in hits(index, '"授信额度"')}
    assert {(h.session[-4:], h.segment) for h in hits(index, "授信 AND 额度")} == {("0001", 0), ("0001", 1)}
    assert {(h.session[-4:], h.segment) for h in hits(index, "授信 -用完")} == {("0001", 0), ("0002", 0)}
    either = {(h.session[-4:], h.segment) for h in hits(index, "授信 OR 阴性")}
    assert either == {("0001", 0), ("0001", 1), ("0002", 0), ("0001", 7)}
    assert {h.session for h in hits(index, "授信", case_id="B-9")} == {TWO.id}
    assert {(h.session[-4:], h.segment) for h in hits(index, "授信", speaker="suspect")} == {("0001", 1), ("0002", 0)}
    assert {h.session for h in hits(index, "授信", since="2026-11-10")} == {TWO.id}
    # NOT leaves out only what is written: -受信 does not drop the segment that says 授信
    assert ("0001", 0) in {(h.session[-4:], h.segment) for h in hits(index, "额度 -受信")}


# -- numbers as spoken -------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["2285", "88642285", "8864 2285", "二二八五", "尾号2285", "6422"])
def test_a_number_read_in_groups_is_found_whole_and_by_a_part(index, query):
    [hit] = hits(index, query)
    assert (hit.session, hit.segment, hit.match) == (ONE.id, 2, "exact")
    digits = query.replace(" ", "").replace("尾号", "").replace("二二八五", "2285")
    first = "8864 2285".replace(" ", "").index(digits) if digits != "88642285" else 0
    text = SEGS_ONE[2].text
    position = [i for i, ch in enumerate(text) if ch.isdigit()][first]
    assert hit.start == pytest.approx(SEGS_ONE[2].start + position * STEP)


def test_a_part_must_end_the_number_after_weihao(index):
    assert hits(index, "尾号8864") == []
    assert [h.segment for h in hits(index, "8864")] == [2]


def test_a_number_said_with_shi_bai_qian_is_not_cut_into_parts(index):
    assert hits(index, "000") == []  # 一千亿 is 1000 亿: found as 1000, not by its parts
    assert [(h.session, h.segment) for h in hits(index, "1000亿")] == [(TWO.id, 2)]
    assert [(h.session, h.segment) for h in hits(index, "一千亿")] == [(TWO.id, 2)]


def test_id_numbers_plates_and_yao_keep_working(index):
    assert [h.segment for h in hits(index, "11010519491231002X")] == [1]
    assert [h.segment for h in hits(index, "京A12345")] == [1]
    assert [h.segment for h in hits(index, "2345")] == [1]
    assert [h.segment for h in hits(index, "1231002")] == [1]


def test_digits_over_two_segments_of_the_same_speaker_are_one_number(index):
    # 幺三九幺幺二二 | 三三四四, 0.4 s apart (19.0 -> 19.4), same speaker: 13911223344
    for query in ("13911223344", "幺三九幺幺二二三三四四", "2233"):
        [hit] = hits(index, query)
        assert (hit.session, hit.segment) == (TWO.id, 3), query
    [hit] = hits(index, "2233")
    two_two = SEGS_TWO[3].start + SEGS_TWO[3].text.index("二二") * STEP
    assert hit.start == pytest.approx(two_two) and hit.end == pytest.approx(SEGS_TWO[4].start + 2 * STEP)
    assert "<mark>" in hit.snippet


def test_digits_are_not_joined_after_a_long_pause_or_across_speakers(backend, request, tmp_path):
    idx = open_index(backend, tmp_path / "home", request)
    meta = SessionMeta("s-20261120-0003", "C-1", "讯问室3", ("赵六",), "2026-11-20T09:00:00+08:00", 1)
    # each segment ends 7 x 0.3 = 2.1 s after it starts
    idx.replace_session(meta, [seg(0, 1.0, "号码是1380", "suspect"), seg(1, 4.5, "1234", "suspect"),  # 1.4 s
                               seg(2, 10.0, "号码是4729", "suspect"), seg(3, 13.7, "7011", "suspect"),  # 1.6 s
                               seg(4, 20.0, "号码是6222", "suspect"), seg(5, 22.5, "0212", "officer")])
    assert [h.segment for h in idx.search("13801234")] == [0]
    assert idx.search("47297011") == []
    assert idx.search("62220212") == []
    # the segment that holds the second half still finds its own digits, once
    assert [h.segment for h in idx.search("1234")] == [1]


def test_the_second_half_is_found_once(index):
    found = hits(index, "3344")
    assert len(found) == 1 and found[0].start == pytest.approx(SEGS_TWO[4].start)


# -- live indexing ----------------------------------------------------------------------------------------
def test_live_indexing_gives_the_new_fields(tmp_path):
    home = tmp_path / "home"
    meta = SessionMeta("s-20261121-0009", "L-1", "讯问室3", ("张三",), "2026-11-21T10:00:00+08:00", 1)
    live = LiveIndexer(home, meta)
    assert live.wait_ready(60)
    finals = [seg(0, 1.0, "他说受信额度用完了", "suspect"), seg(1, 5.0, "我的号码是4729", "suspect"),
              seg(2, 7.5, "7011", "suspect")]
    try:
        for final in finals:
            live.add(final)
            time.sleep(0.8)  # one commit per final, as finals arrive in a real session
        deadline = time.monotonic() + 5.0
        while not SearchIndex(home).exists() or not SearchIndex(home).search("47297011"):
            assert time.monotonic() < deadline, "the joined number was not searchable within 5 s"
            time.sleep(0.05)
    finally:
        live.close()
    idx = SearchIndex(home)
    [sound] = idx.search("shouxin")
    assert sound.match == "sound" and sound.written == "受信"
    [hit] = idx.search("47297011")
    assert hit.segment == 1 and hit.start == pytest.approx(5.0 + 5 * STEP)
    assert hit.end == pytest.approx(7.5 + 4 * STEP)  # the last digit, in the next final
    assert [h.segment for h in idx.search("2970")] == [1]


def test_an_index_of_format_3_says_what_the_new_format_adds(tmp_path):
    from index.manager import IndexProblem

    idx = SearchIndex(tmp_path / "home")
    idx.replace_session(ONE, SEGS_ONE[:2])
    (idx.current_dir() / "FORMAT").write_text("xunlu-index 3\n")
    idx.close()
    with pytest.raises(IndexProblem, match="sound-alike"):
        idx.search("授信")


def test_two_syllables_across_the_middle_of_two_words_are_not_a_sound_alike(backend, request, tmp_path):
    idx = open_index(backend, tmp_path / "home", request)
    meta = SessionMeta("s-20261120-0005", "C-2", "讯问室3", ("赵六",), "2026-11-20T09:00:00+08:00", 1)
    idx.replace_session(meta, [seg(0, 1.0, "他在学驾驶汽车", "suspect"),      # 驶汽 shi qi: not 十七
                               seg(1, 5.0, "授信额度不够", "officer"),        # 授信 inside the word 授信额度
                               seg(2, 9.0, "他今年十七岁", "suspect")])
    assert [(h.segment, h.match) for h in idx.search("十七")] == [(2, "exact")]
    assert [h.segment for h in idx.search("shiqi")] == [2]
    assert [h.segment for h in idx.search("shouxin")] == [1]


def test_digit_groups_written_with_a_comma_or_a_stop_are_one_number_by_their_digits(backend, request, tmp_path):
    idx = open_index(backend, tmp_path / "home", request)
    meta = SessionMeta("s-20261120-0006", "C-3", "讯问室3", ("赵六",), "2026-11-20T09:00:00+08:00", 1)
    idx.replace_session(meta, [seg(0, 1.0, "号码是4729，7011", "suspect"), seg(1, 6.0, "是2016.2015", "suspect"),
                               seg(2, 10.0, "从2015,2016年开始", "officer"), seg(3, 15.0, "圆周率是3.14", "officer")])
    # (query, segment, index of the first matched character in its text)
    for query, segment, first in (("47297011", 0, 3), ("9701", 0, 6), ("20162015", 1, 1), ("尾号7011", 0, 8)):
        [hit] = idx.search(query)
        assert (hit.segment, hit.match) == (segment, "exact"), query
        assert hit.start == pytest.approx([1.0, 6.0][segment] + first * STEP), query
    assert [h.segment for h in idx.search("2016年")] == [2]  # the groups stay apart as words
    assert idx.search("314") == []  # a decimal point is not a group


@pytest.mark.parametrize("query,written,said_in,loose", [
    ("授信", "受信", "他说受信额度用完了", ()), ("一季度", "以季度", "以季度为单位还款", ()),
    ("中行", "中航", "我在中航办的贷款", ()), ("驴马市", "旅马十", "我们在旅马十见的面", ()),
    ("复苏", "复速", "经济复速以后", ()), ("成都", "沉督", "我在沉督打工", ("ng",)),
    ("授信", "受性", "他说受性额度不够", ("ng",)),
])
def test_the_sound_alikes_of_the_issue(backend, request, tmp_path, query, written, said_in, loose):
    idx = open_index(backend, tmp_path / "home", request)
    meta = SessionMeta("s-20261120-0007", "C-4", "讯问室3", ("赵六",), "2026-11-20T09:00:00+08:00", 1)
    idx.replace_session(meta, [seg(0, 1.0, said_in, "suspect")])
    [hit] = idx.search(query, SearchOptions(loose=loose))
    assert (hit.match, hit.written) == ("sound", written)
    assert hit.start == pytest.approx(1.0 + said_in.index(written) * STEP)
    if loose:
        assert idx.search(query) == []  # not without the looser tier


def test_another_everyday_word_that_sounds_the_same_is_not_offered(backend, request, tmp_path):
    idx = open_index(backend, tmp_path / "home", request)
    idx.replace_session(ONE, [seg(0, 1.0, "实现安全的智能驾驶", "officer"),    # 智能, not 只能 (zhi neng)
                              seg(1, 5.0, "他说受信额度用完了", "suspect")])   # 受信 is no everyday word
    assert hits(idx, "只能") == []
    assert [(h.segment, h.match) for h in hits(idx, "智能")] == [(0, "exact")]
    assert [(h.segment, h.match, h.written) for h in hits(idx, "授信")] == [(1, "sound", "受信")]
    # a name is no everyday word: 李明 still finds 黎明 as it was heard
    idx.replace_session(TWO, [seg(0, 2.0, "黎明来过这里", "suspect")])
    assert [(h.segment, h.written) for h in hits(idx, "李明")] == [(0, "黎明")]
