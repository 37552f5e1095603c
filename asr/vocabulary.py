"""Case vocabulary: names and places the officer already knows, told to Whisper so that it writes them as they
are spelled (龙耀, not 龙药).

The words go into the decoder's prompt after the Simplified-Chinese sentence, as a list ("以下是普通话的句子。
张三、成都、龙耀。"): Whisper reads its prompt as text said before, and writes a name it has just seen rather
than a sound-alike. Joined by 、, not spaces: Whisper copies the prompt's punctuation (barred below), but a
list joined by spaces reads as text to go on with, and Whisper went on with it (a spoken 2016 2015 after a
case number DEMO-2026-001 in the list came out as "张警官讯问室1 DEMO-2026-2015"); joined by ， it found fewer
names (bench/README.md, section vocabulary).
faster-whisper's own `hotwords` option does the same (it appends the words' tokens to the prompt) but is
ignored when the decoder is given a prefix, which live decoding does; one prompt serves every path. Measured
in bench/asr.py (section `vocabulary`): names in the vocabulary against the same clips without, and
insertions of vocabulary names into clips that do not say them.

The decoder may not write 、 itself while the list is in its prompt (`barred`): it copies the list's 、 into
ordinary sentences (成都、五后、四大街、几个外地人…, 32 in the bench's 92 clips against 2 without a list), and
splits names with it. Barred, the same clips gave the same names, 188 errors in 1,431 characters against 192,
and no 、 (bench/README.md, section vocabulary); a real enumeration is then written with commas.

A segment that is only one vocabulary word is speech, not the prompt said back (asr/guards.py), but it stays
only where the same audio decoded without the list is heard as that word too (asr/stream_decode.py
`confirm_names`): where Whisper hears little, it goes on from its prompt with a listed name. A segment that
lists two vocabulary words or more and nothing else is the prompt said back, and dropped. A name that
still comes out as a sound-alike of the same syllables and tones is then written as listed
(asr/respell.py).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Optional

MAX_WORDS = 40            # Whisper's prompt holds at most 223 tokens; the list stays well inside it
MAX_WORD_CHARS = 32
MAX_CHARS = 240           # the whole list, separators included
LIST_MARK = "、"           # joins the list in the prompt
SEPARATORS = re.compile(r"[,，、;；\n\t]+")
GLOSSARY = "vocabulary.txt"   # in the xunlu home: one word a line, '#' starts a comment


def parse(text: Optional[str]) -> tuple[str, ...]:
    """Words from a comma (，、;) separated string, as `--hotwords` takes them; blanks dropped, order kept,
    each word once."""
    if not text:
        return ()
    return tidy(SEPARATORS.split(text))


def tidy(words: Iterable[Optional[str]]) -> tuple[str, ...]:
    """Words stripped, blanks and repeats dropped, each cut to MAX_WORD_CHARS, at most MAX_WORDS and
    MAX_CHARS in all (the first ones are kept: the caller puts the case's own words first)."""
    out: list[str] = []
    size = 0
    for word in words:
        w = " ".join((word or "").split())[:MAX_WORD_CHARS]
        if not w or w in out:
            continue
        if len(out) >= MAX_WORDS or size + len(w) + 1 > MAX_CHARS:
            break
        out.append(w)
        size += len(w) + 1
    return tuple(out)


def read_glossary(home: Path) -> tuple[str, ...]:
    """The unit's glossary `<home>/vocabulary.txt`, or () when there is none."""
    path = Path(home) / GLOSSARY
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return ()
    except (OSError, UnicodeDecodeError):
        return ()
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return tidy(w for line in lines for w in SEPARATORS.split(line))


def prompt(base: Optional[str], words: Iterable[str]) -> Optional[str]:
    """The decoder's prompt: `base` (the zh sentence, or the caller's own) and then the words as a list."""
    listed = LIST_MARK.join(tidy(words))
    if not listed:
        return base
    closing = "。" if re.search(r"[\u4e00-\u9fff]", listed) else "."
    return f"{base or ''}{listed}{closing}"


_marked_tokens: dict[int, list[int]] = {}


def barred(model: Any, prompt: Optional[str]) -> dict[str, list[int]]:
    """faster-whisper's `suppress_tokens` for a decode with `prompt`: its default set (-1) and every token that
    writes 、, when the prompt holds a 、 (a listed vocabulary) and the model has a tokenizer; else {} (the
    default). A model without a tokenizer (a scripted one in the tests) is asked as it is."""
    tokenizer = getattr(model, "hf_tokenizer", None)
    if not prompt or LIST_MARK not in prompt or tokenizer is None:
        return {}
    key = id(tokenizer)
    if key not in _marked_tokens:
        _marked_tokens[key] = [i for i in range(tokenizer.get_vocab_size())
                               if LIST_MARK in tokenizer.decode([i])]
    return {"suppress_tokens": [-1, *_marked_tokens[key]]}


def is_list_echo(said: str, words: Iterable[str]) -> bool:
    """True when `said` (punctuation and spaces removed) is two vocabulary words or more and nothing else."""
    rest, count = said, 0
    for w in sorted({"".join(x.split()) for x in words if x}, key=len, reverse=True):
        if w and w in rest:
            count += rest.count(w)
            rest = rest.replace(w, "")
    return count >= 2 and not rest
