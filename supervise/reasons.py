"""A supervision warning's reason in the reader's language.

The rules write each reason from a template of the message catalogue (core/messages.py, codes `warn_*`) in
Chinese, and the warnings table keeps that text, as every stored reason before it. `in_language` gives the
English text for an English page by reading the stored Chinese against the same templates: each field of a
template has a shape (a clock time, a number, a duration), so a reason matches one template only, and its
fields are filled into the English one. A text no template made (an older wording) is shown as it is.

    say("warn_room_not_approved", room="会议室")    -> "讯问地点「会议室」不在批准的讯问室名单中"
    in_language(that, "en")                          -> "The place of questioning “会议室” is not on the list ..."
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Pattern

from core.messages import MESSAGES, message

GAP_KINDS = ("discontinuity", "missing", "sequence", "source_lost")

# the templates a reason can come from, the ones with the fewest free fields first
CODES = ("warn_rights_late", "warn_rights_incomplete", "warn_rights_not_yet", "warn_rights_missing",
         "warn_not_understood", "warn_no_answer", "warn_too_few_officers", "warn_officer_silent",
         "warn_continuous", "warn_continuous_since", "warn_night", "warn_detention", "warn_room_unknown",
         "warn_room_not_approved", "warn_signed_late", "warn_unsigned", "warn_gap_file", "warn_restart",
         "warn_transcript_past_media", "warn_no_transcript", "warn_partial_transcript", "warn_gap",
         "warn_gap_detail")

_CLOCK = r"\d+(?::\d{2}){1,2}"
_NUMBER = r"\d+(?:\.\d+)?"
_SHAPES = {
    "at": _CLOCK, "elapsed": _CLOCK, "last": _CLOCK, "covered": _CLOCK, "duration_clock": _CLOCK,
    "minutes": _NUMBER, "seconds": _NUMBER, "need": _NUMBER, "found": _NUMBER, "count": _NUMBER,
    "min": _NUMBER, "channel": _NUMBER, "max": _NUMBER, "rest": _NUMBER, "hours": _NUMBER,
    "duration": r"\d+ 小时 \d+ 分|\d+ 分钟",
    "start": r"\d{1,2}:\d{2}", "end": r"\d{1,2}:\d{2}", "check_in": r"\d{2}-\d{2} \d{2}:\d{2}",
}
_FIELD = re.compile(r"\{(\w+)\}")


def say(code: str, **params: Any) -> str:
    """The reason as the rules store it (Chinese)."""
    return message(code, "zh", **params)


def duration(seconds: float) -> str:
    """2 小时 5 分, or 12 分钟 (the stored form; `in_language` turns it into 2 h 5 min)."""
    h, m = divmod(int(seconds // 60), 60)
    return f"{h} 小时 {m} 分" if h else f"{m} 分钟"


def gap_text(kind: str) -> str:
    """What a break in the recording of this kind is, in Chinese; the kind itself when unknown."""
    return say(f"warn_gap_{kind}") if kind in GAP_KINDS else kind


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, Pattern[str]], ...]:
    what = "|".join(re.escape(gap_text(kind)) for kind in GAP_KINDS)
    shapes = {**_SHAPES, "what": what}
    out = []
    for code in CODES:
        parts, last = [], 0
        template = MESSAGES[code][0]
        for field in _FIELD.finditer(template):
            parts.append(re.escape(template[last:field.start()]))
            parts.append(f"(?P<{field.group(1)}>{shapes.get(field.group(1), '.+?')})")
            last = field.end()
        parts.append(re.escape(template[last:]))
        out.append((code, re.compile("".join(parts))))
    return tuple(out)


def _english(name: str, value: str) -> str:
    if name == "duration":
        hm = re.fullmatch(r"(\d+) 小时 (\d+) 分", value)
        return f"{hm.group(1)} h {hm.group(2)} min" if hm else value.replace(" 分钟", " min")
    if name == "what":
        return next((message(f"warn_gap_{k}", "en") for k in GAP_KINDS if gap_text(k) == value), value)
    if name == "names" and value == "无":
        return "none"
    if name in ("names", "said"):
        return value.replace("」、「", "”, “").replace("、", ", ").replace("「", "“").replace("」", "”")
    return value


def in_language(reason: str, language: str) -> str:
    """The stored (Chinese) reason in `language` (zh or en); unchanged when no template made it."""
    if language != "en" or not reason:
        return reason
    for code, pattern in _patterns():
        found = pattern.fullmatch(reason)
        if found:
            return message(code, "en", **{k: _english(k, v) for k, v in found.groupdict().items()})
    return reason
