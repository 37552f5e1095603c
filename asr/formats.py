"""Render a transcript as JSON (DESIGN.md), SRT, WebVTT (W3C) or plain text."""
from __future__ import annotations

import json
from typing import Any, Optional, Union

from asr.types import FORMATS, TEXT_FORMATS
from core.errors import OptionError
from core.transcript import Segment, Transcript, timestamp


def _cue_times(seg: Segment) -> tuple[float, float]:
    # a cue's end must be after its start; give a zero-length segment one millisecond
    return seg.start, max(seg.end, seg.start + 0.001)


def _one_line(text: str) -> str:
    # a blank line would end a cue early, and "-->" would be read as a timing line
    return " ".join(text.replace("-->", "->").split())


def to_json(t: Transcript) -> str:
    return json.dumps(t.to_dict(), ensure_ascii=False, indent=1) + "\n"


def to_srt(t: Transcript) -> str:
    blocks = []
    for n, seg in enumerate(t.segments, 1):
        start, end = _cue_times(seg)
        who = f"{seg.speaker}: " if seg.speaker else ""
        blocks.append(f"{n}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n{who}{_one_line(seg.text)}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(t: Transcript) -> str:
    out = ["WEBVTT", ""]
    for seg in t.segments:
        start, end = _cue_times(seg)
        text = _vtt_escape(_one_line(seg.text))
        if seg.speaker:
            text = f"<v {_vtt_escape(_one_line(seg.speaker))}>{text}"
        out += [f"{timestamp(start)} --> {timestamp(end)}", text, ""]
    return "\n".join(out)


def to_txt(t: Transcript) -> str:
    lines = []
    for seg in t.segments:
        who = f" {seg.speaker}:" if seg.speaker else ""
        lines.append(f"[{timestamp(seg.start)} - {timestamp(seg.end)}]{who} {_one_line(seg.text)}")
    return "\n".join(lines) + ("\n" if lines else "")


RENDERERS = {"json": to_json, "srt": to_srt, "vtt": to_vtt, "txt": to_txt}


def render(t: Transcript, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise OptionError(f"unknown format '{fmt}': use one of {', '.join(TEXT_FORMATS)}")
    return RENDERERS[fmt](t)


def render_any(t: Transcript, fmt: str, header: Optional[Any] = None,
               question_speakers: tuple[str, ...] = ("officer",)) -> Union[str, bytes]:
    """Text for the text formats; bytes for docx (the 讯问笔录, with `header` from the session if known)."""
    if fmt == "docx":
        from asr.docx_record import RecordHeader, render_docx

        header = header or RecordHeader(case_id=None, place=None, started_at=None, ended_at=None, officers=(),
                                        person=None, session_id=t.session)
        return render_docx(t, header, question_speakers=question_speakers)
    if fmt not in FORMATS:
        raise OptionError(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")
    return render(t, fmt)
