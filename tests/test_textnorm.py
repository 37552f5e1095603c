"""Simplified output and the scoring convention of DESIGN.md."""
from asr.scoring import cer, wer
from core.textnorm import for_scoring, particle_zhe, to_simplified
from core.transcript import Word


def test_traditional_becomes_simplified():
    assert to_simplified("變溫溫度設為兩度，這個問題") == "变温温度设为两度，这个问题"
    assert to_simplified("Hello 123") == "Hello 123"


def test_the_particle_is_written_as_simplified_chinese_writes_it():
    # Whisper writes the Traditional 著 for the particle 着; OpenCC leaves it, both being Simplified characters
    assert particle_zhe(to_simplified("若要一男子拉著一車")) == "若要一男子拉着一车"
    assert particle_zhe("接著他很著急，本著良心") == "接着他很着急，本着良心"
    # words read zhù keep it
    assert particle_zhe("著名的著作，显著，土著，名著") == "著名的著作，显著，土著，名著"


def test_a_transcript_writes_the_particle_even_when_whisper_splits_it_from_its_word():
    from asr.digits import tidy_words

    words = [Word(0.0, 0.2, "拉", 0.9), Word(0.2, 0.4, "著", 0.9), Word(0.4, 0.6, "著", 0.9), Word(0.6, 0.8, "名", 0.9)]
    assert [w.text for w in tidy_words(words)] == ["拉", "着", "著", "名"]
    assert [(w.start, w.end) for w in tidy_words(words)] == [(w.start, w.end) for w in words]


def test_scoring_form_uses_digits_and_drops_punctuation():
    assert for_scoring("一百一十七号，八月十一日！") == "117号8月11日"
    assert for_scoring("电话六九八三，幺二三") == "电话6983123"
    assert for_scoring("And so, my fellow-Americans!", "en") == "and so my fellow americans"


def test_error_rates():
    assert cer("房价上涨", "访价上涨") == (1, 4)
    assert cer("一百一十七", "117") == (0, 3)
    assert wer("ask not what", "ask what") == (1, 3)
