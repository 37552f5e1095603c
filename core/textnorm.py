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
