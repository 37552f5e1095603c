"""A spoken run of digits is one run in one segment: no spaces inside, Chinese digit characters read one by one
as digits (幺 = 1), not split at a breath between its groups."""
import pytest

from asr.digits import joins_digits, tidy_text, tidy_words
from asr.vad import Region
from asr.words import split_at_pauses
from core.transcript import Word


@pytest.mark.parametrize("written, wanted", [
    ("号码是 9879 0902", "号码是98790902"),
    ("3 7 3 8 8 6 9 9", "37388699"),
    ("我的手机号是一三八一二三四五六七八", "我的手机号是13812345678"),
    ("一三八 幺二三四 五六七八", "13812345678"),
    ("报警打幺幺零", "报警打110"),
    ("卡号6222 零二一二", "卡号62220212"),
    ("车牌京A 12345", "车牌京A12345"),
    ("身份证11010519491231002 x", "身份证11010519491231002X"),
    ("一九九八年", "1998年"),
    ("我的电话是138，1234，5678。", "我的电话是13812345678。"),
    ("电话138、1234、5678", "电话13812345678"),
    ("号码是138-1234-5678", "号码是13812345678"),
    ("138。1234。5678", "13812345678"),
    ("卡号6222，0212，3456，7890", "卡号6222021234567890"),
    ("一三八，一二三四，五六七八", "13812345678"),
    ("身份证110105，19900307，123X", "身份证11010519900307123X"),
])
def test_digit_runs_are_joined_and_written_as_digits(written, wanted):
    assert tidy_text(written) == wanted


@pytest.mark.parametrize("text", ["一千三百二十", "乱七八糟", "七七八八", "五六个人", "三点一四一五", "这是一个人",
                                  "第一次", "Hello world, ok",
                                  # lists of numbers and numbers with thousands stay as written
                                  "2015、2016、2017年", "2015-2016", "他说了1，2，3个人", "12，34，56", "10,000,000元",
                                  "住在3号楼，2单元", "六十，七十，八十"])
def test_numbers_said_as_numbers_and_words_stay_as_written(text):
    assert tidy_text(text) == text


def test_words_keep_their_times_when_a_run_spans_them():
    words = [Word(0.0, 0.5, "号码是", 0.9), Word(0.6, 0.9, " 98", 0.9), Word(0.9, 1.2, "79", 0.9),
             Word(2.2, 2.5, " 09", 0.9), Word(2.5, 2.8, "02", 0.9)]
    out = tidy_words(words)
    assert "".join(w.text for w in out) == "号码是98790902"
    assert [(w.start, w.end) for w in out] == [(w.start, w.end) for w in words]


def test_a_breath_between_groups_of_digits_does_not_split_the_segment():
    r = 16000
    # the VAD heard 1.0 s pauses between the groups: a segment would be split there
    spans = ((int(0.0 * r), int(1.2 * r)), (int(2.2 * r), int(3.0 * r)), (int(4.0 * r), int(5.0 * r)))
    region = Region(0, 5 * r, spans)
    words = [Word(0.1, 0.6, "号码", 0.9), Word(0.6, 1.1, "一三八", 0.9), Word(2.2, 2.9, "一二三四", 0.9),
             Word(4.0, 4.5, "我", 0.9), Word(4.5, 4.9, "记得", 0.9)]
    groups = split_at_pauses(words, (region,))
    assert ["".join(w.text for w in g) for g in groups] == ["号码一三八一二三四", "我记得"]


def test_joins_digits_needs_a_run_on_the_left():
    assert joins_digits("9879", " 0902") and joins_digits("一三八", "一二")
    assert not joins_digits("第一", "一个") and not joins_digits("号码", "123") and not joins_digits("123", "号")


def test_a_number_whisper_ended_a_segment_in_the_middle_of_is_joined_with_its_rest():
    from asr.engine import join_numbers
    from core.transcript import Segment, Word

    a = Segment(0, 1.0, 2.0, "电话9879，", (Word(1.0, 1.4, "电话", 0.9), Word(1.4, 2.0, "9879，", 0.9)))
    b = Segment(0, 2.4, 3.0, "0902", (Word(2.4, 3.0, "0902", 0.9),))
    c = Segment(0, 6.0, 7.0, "1234", (Word(6.0, 7.0, "1234", 0.9),))     # 3 s later: another number
    joined = join_numbers([a, b, c])
    assert [s.text for s in joined] == ["电话98790902", "1234"]
    assert (joined[0].start, joined[0].end) == (1.0, 3.0)
    d = Segment(0, 1.0, 2.0, "我们一起去", (Word(1.0, 2.0, "我们一起去", 0.9),))
    assert [s.text for s in join_numbers([d, b])] == ["我们一起去", "0902"]


def test_numbers_that_are_not_one_read_out_in_groups_stay_in_their_segments():
    from asr.engine import join_numbers
    from core.transcript import Segment, Word

    years = Segment(0, 1.0, 2.0, "2015。", (Word(1.0, 2.0, "2015。", 0.9),))
    more = Segment(0, 2.5, 3.5, "2016年我去了", (Word(2.5, 3.0, "2016年", 0.9), Word(3.0, 3.5, "我去了", 0.9)))
    three = Segment(0, 1.0, 2.0, "我有3，", (Word(1.0, 2.0, "我有3，", 0.9),))
    five = Segment(0, 2.5, 3.5, "5个人", (Word(2.5, 3.5, "5个人", 0.9),))
    assert [s.text for s in join_numbers([years, more])] == ["2015。", "2016年我去了"]
    assert [s.text for s in join_numbers([three, five])] == ["我有3，", "5个人"]


def test_a_number_whisper_ended_at_a_full_stop_and_went_on_with_is_one():
    from asr.engine import join_numbers
    from core.transcript import Segment, Word

    a = Segment(0, 1.0, 2.0, "电话138，1234。", (Word(1.0, 1.4, "电话", 0.9), Word(1.4, 2.0, "138，1234。", 0.9)))
    b = Segment(0, 2.4, 3.0, "5678", (Word(2.4, 3.0, "5678", 0.9),))
    assert [s.text for s in join_numbers([a, b])] == ["电话13812345678"]
