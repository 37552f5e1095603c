"""Chinese text normalisation: Simplified script for output, and the scoring convention of DESIGN.md."""
from __future__ import annotations

import functools
import re
import unicodedata

_PUNCT_SPACE = re.compile(r"[\s\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=1)
def _t2s():
    try:
        import opencc
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ImportError("OpenCC is missing: pip install opencc") from exc
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese; other scripts pass through unchanged."""
    if not text or not any("\u3400" <= ch <= "\u9fff" for ch in text):
        return text
    return _t2s().convert(text)


ZHU_AFTER = frozenset("名作称述者录书")            # 著名 著作 著称 著述 著者 著录 著书
ZHU_BEFORE = frozenset("显卓土名原编论巨专遗译合昭拙撰")   # 显著 卓著 土著 名著 原著 编著 论著 巨著 …


def particle_zhe(text: str) -> str:
    """著 written 着 wherever Simplified Chinese writes 着: OpenCC's t2s leaves 著 as it is (both are Simplified
    characters), and Whisper, which learned much of its Chinese from Traditional text, writes 拉著, 接著,
    著急. 著 stays in the words read zhù (著名, 著作, 显著, 土著, 名著 …); same length as `text`."""
    if "著" not in text:
        return text
    out = list(text)
    for i, ch in enumerate(text):
        if ch != "著":
            continue
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if after not in ZHU_AFTER and before not in ZHU_BEFORE:
            out[i] = "着"
    return "".join(out)


def numbers_to_digits(text: str) -> str:
    """一百一十七 -> 117, 六九八三 -> 6983, 幺 -> 1 (cn2an's `transform`)."""
    import warnings

    import cn2an

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cn2an warns on every digit string it cannot read as a number
            return cn2an.transform(text, "cn2an")
    except Exception:  # cn2an raises on odd inputs; scoring must never crash on them
        return text


def for_scoring(text: str, language: str = "zh") -> str:
    """Scoring form: Simplified, numbers as digits, lower case, punctuation and spaces dropped (zh);
    for other languages, lower case words separated by single spaces."""
    text = unicodedata.normalize("NFKC", text)
    if language.startswith("zh"):
        return _PUNCT_SPACE.sub("", numbers_to_digits(to_simplified(text))).lower()
    words = [_PUNCT_SPACE.sub("", w) for w in text.lower().replace("-", " ").split()]
    return " ".join(w for w in words if w)
