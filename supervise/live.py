"""Warnings while a session is still being recorded: the rules that can already be judged (no rights notice
after N minutes, one officer alone, time limits, the room, a restart), counted up to the time now.

`live_findings` is pure: give it the session record, the live snapshot (service.live.LiveSession.snapshot():
{"segments": [...], "status": {"elapsed": ...}}) and the time now.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Optional, Sequence

from supervise.facts import parse_time
from supervise.rules import evaluate
from supervise.types import Finding, RuleConfig, Seg, SessionFacts, Visit


def snapshot_segments(segments: Sequence[Mapping[str, Any]]) -> tuple[Seg, ...]:
    out = []
    for s in segments:
        try:
            out.append(Seg(float(s["start"]), float(s["end"]), int(s.get("channel", 0) or 0), s.get("speaker"),
                           str(s.get("text", ""))))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed event is not a reason to stop warning
    out.sort(key=lambda s: s.start)
    return tuple(out)


def live_facts(session: Any, snapshot: Mapping[str, Any], now: Optional[datetime] = None,
               earlier: tuple[Visit, ...] = ()) -> SessionFacts:
    """Facts of a running session. `session` is an archive.types.Session; elapsed comes from the snapshot's
    status, else from the wall clock since the session started."""
    now = now or datetime.now().astimezone()
    start = parse_time(getattr(session, "started_at", None) or getattr(session, "created_at", None))
    status = snapshot.get("status") or {}
    elapsed = status.get("elapsed")
    if not isinstance(elapsed, (int, float)):
        elapsed = max(0.0, (now - start).total_seconds()) if start else 0.0
    segments = snapshot_segments(snapshot.get("segments") or ())
    return SessionFacts(
        id=session.id, status="recording", start=start, duration=float(elapsed), case_id=session.case_id,
        room=session.room, unit=getattr(session, "unit", None), suspect=session.suspect,
        officers=tuple(session.officers), speakers=tuple(session.speakers),
        check_in_at=parse_time(getattr(session, "check_in_at", None)),
        night_reason=getattr(session, "night_reason", None), has_media=True, has_transcript=True,
        transcript_duration=float(elapsed), segments=segments, earlier=earlier, live=True)


def live_findings(session: Any, snapshot: Mapping[str, Any], config: RuleConfig,
                  now: Optional[datetime] = None, earlier: tuple[Visit, ...] = ()) -> list[Finding]:
    """The live-capable rules over a running session, red first."""
    now = now or datetime.now().astimezone()
    return evaluate(live_facts(session, snapshot, now, earlier), config, now)
