"""Simplified output and the scoring convention of DESIGN.md."""
from asr.scoring import cer, wer
from core.textnorm import for_scoring, to_simplified


def test_traditional_becomes_simplified():
    assert to_simplified("變溫溫度設為兩度，這個問題") == "变温温度设为两度，这个问题"
    assert to_simplified("Hello 123") == "Hello 123"


def test_scoring_form_uses_digits_and_drops_punctuation():
    assert for_scoring("一百一十七号，八月十一日！") == "117号8月11日"
    assert for_scoring("电话六九八三，幺二三") == "电话6983123"
    assert for_scoring("And so, my fellow-Americans!", "en") == "and so my fellow americans"


def test_error_rates():
    assert cer("房价上涨", "访价上涨") == (1, 4)
    assert cer("一百一十七", "117") == (0, 3)
    assert wer("ask not what", "ask what") == (1, 3)
