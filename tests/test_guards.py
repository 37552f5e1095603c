"""Whisper's failure modes on interview audio: phantom phrases, loops, times past the end."""
from asr.guards import clamp, collapse_repeats, collapse_text_repeats, drop_unheard_repeats, guard, is_hallucination
from core.transcript import Segment, Word


def words_of(text: str, start: float = 0.0, step: float = 0.2) -> tuple[Word, ...]:
    return tuple(Word(start + i * step, start + (i + 1) * step, ch, 0.9) for i, ch in enumerate(text))


def seg(text: str, start: float = 0.0, step: float = 0.2) -> Segment:
    words = words_of(text, start, step)
    return Segment(0, words[0].start, words[-1].end, text, words)


def test_known_phantom_phrases_are_recognised():
    for phrase in ("字幕由Amara.org社群提供", "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", "Thanks for watching!",
                   "謝謝觀看", "感谢观看。"):
        assert is_hallucination(phrase), phrase


def test_real_speech_mentioning_similar_words_is_kept():
    for text in ("我们来校对一下笔录", "你在哪个频道看到的订阅信息", "Thank you, officer.", "谢谢"):
        assert not is_hallucination(text), text


def test_loop_of_a_phrase_is_cut_to_one_occurrence():
    looped = "变温温度设为两度，变温温度设为两度，变温温度设为两度，变温温度"
    out = guard(seg(looped), duration=10.0)
    assert out is not None
    assert out.text == "变温温度设为两度，"
    assert [w.text for w in out.words] == list("变温温度设为两度，")


def test_word_level_loop_with_multi_character_words():
    words = tuple(Word(i * 0.3, i * 0.3 + 0.3, t, 0.8) for i, t in enumerate(
        ["我", "不", "知道", "我", "不", "知道", "我", "不", "知道", "我", "不", "知道"]))
    assert [w.text for w in collapse_repeats(words)] == ["我", "不", "知道"]


def test_natural_repetition_is_kept():
    for text in ("对对，是的", "嗯嗯嗯", "好好好", "不是不是，我没有去"):
        words = words_of(text)
        assert len(collapse_repeats(words)) == len(words), text


def test_a_long_sentence_said_twice_in_a_row_is_a_loop():
    sentence = "后两者是人口，尤其是年轻人口正流入的城市。"
    out = guard(seg(sentence * 2), duration=20.0)
    assert out is not None and out.text == sentence
    assert [w.text for w in out.words] == list(sentence)


def test_a_short_phrase_said_twice_is_speech():
    for text in ("我不知道，我不知道", "你再说一遍，你再说一遍"):
        words = words_of(text)
        assert len(collapse_repeats(words)) == len(words), text


def test_text_only_segments_lose_their_loop_too():
    assert collapse_text_repeats("我不知道。我不知道。我不知道。我不知道。") == "我不知道。"


def test_no_segment_or_word_ends_after_the_audio():
    s = seg("你叫什么名字", start=9.5, step=0.2)  # runs to 10.7 s in a 10.0 s file
    out = clamp(s, 10.0)
    assert out.end <= 10.0
    assert all(w.end <= 10.0 for w in out.words)
    assert [w.text for w in out.words] == list("你叫什")  # words that start after the end are gone
    assert out.text == "你叫什"


def test_segment_starting_after_the_end_is_dropped():
    assert clamp(seg("你好", start=12.0), 10.0) is None


def test_a_phrase_written_again_with_no_audio_under_it_is_dropped():
    # "2016年" said once, written a second time at one instant (zero length), then carried into the next
    # window before what was said there
    said = (Word(794.22, 794.92, "2016", 0.9), Word(794.92, 795.54, "年,", 0.9),
            Word(795.54, 795.54, "2016", 0.4), Word(795.54, 795.54, "年。", 0.4))
    first = drop_unheard_repeats(Segment(0, 794.22, 795.54, "2016年,2016年。", said), before="")
    assert first is not None and first.text == "2016年," and first.end == 795.54
    carried = (Word(807.55, 807.55, "2016", 0.3), Word(807.55, 807.55, "年", 0.3),
               Word(807.55, 807.55, "服", 0.5), Word(807.55, 807.68, "务", 0.8), Word(807.68, 807.92, "员", 0.8))
    second = drop_unheard_repeats(Segment(1, 807.55, 807.92, "2016年服务员", carried), before="2016年")
    assert second is not None and second.text == "服务员" and second.start == 807.55


def test_a_repeat_that_was_said_or_a_short_one_is_kept():
    said_twice = seg("我不知道我不知道", step=0.2)   # each word has its own length
    assert drop_unheard_repeats(said_twice, before="我不知道") is said_twice
    short = Segment(0, 1.0, 1.2, "对对", (Word(1.0, 1.2, "对", 0.9), Word(1.2, 1.2, "对", 0.5)))
    assert drop_unheard_repeats(short, before="") is short                  # under three characters
    new = Segment(0, 3.0, 3.0, "好的", (Word(3.0, 3.0, "好", 0.5), Word(3.0, 3.0, "的", 0.5)))
    assert drop_unheard_repeats(new, before="他说了什么") is new             # not a repeat


BROKEN = "\ufffd"   # U+FFFD, what decoding leaves of a character whose bytes were cut


def test_a_character_cut_inside_its_bytes_never_reaches_the_transcript():
    # a decode stopped inside a character's bytes (a loop cut, the token budget) ends with U+FFFD
    words = (Word(0.0, 0.3, "那", 0.9), Word(0.3, 0.6, "种", 0.9), Word(0.6, 0.9, "用心", 0.9),
             Word(0.9, 1.2, "脆", 0.9), Word(1.2, 1.3, BROKEN, 0.1))
    kept = guard(Segment(0, 0.0, 1.3, "那种用心脆" + BROKEN, words), duration=10.0)
    assert kept.text == "那种用心脆" and [x.text for x in kept.words] == ["那", "种", "用心", "脆"]
    assert kept.end == 1.2                                   # the broken word's time goes with it
    assert guard(Segment(0, 0.0, 0.2, BROKEN, (Word(0.0, 0.2, BROKEN, 0.1),)), duration=10.0) is None
    assert guard(Segment(0, 0.0, 1.0, "好的" + BROKEN), duration=10.0).text == "好的"   # no word times


def test_words_aligned_to_one_instant_are_not_kept_as_speech():
    # a loop's tail spilling past its clip: the alignment finds no audio for it and piles it on one instant
    assert guard(seg("若不", 355.87, 0.0), duration=400.0) is None
    assert guard(seg("其中一阵，", 268.67, 0.0), duration=400.0) is None
    # a short word with its own length stays, and so does a segment without word times
    assert guard(seg("对", 12.0, 0.2), duration=400.0).text == "对"
    assert guard(Segment(0, 12.0, 12.0, "对"), duration=400.0).text == "对"
