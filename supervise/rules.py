"""The supervision rules: pure functions of one session's facts, the settings and the time now.

Each returns findings with a level, a reason a person can read and, where there is one, the time in the
recording it refers to. `evaluate` runs every enabled rule; with facts of a running session (`live=True`)
only the rules that can already be judged while it is recorded run, and time limits count up to now.
"""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Callable, Iterable, Optional

from supervise.matching import Pattern, bigrams, found, normalise
from supervise.reasons import duration, gap_text, say
from supervise.types import Finding, RuleConfig, Seg, SessionFacts, Speakers

TITLES = {
    "rights_notice": "权利义务告知 rights notice",
    "rights_understood": "告知后未表示听清 notice not acknowledged",
    "too_few_officers": "单人讯问 fewer than two officers",
    "officer_silent": "讯问人声道无声 officer channel silent",
    "continuous_questioning": "连续讯问超时 continuous questioning too long",
    "night_questioning": "夜间讯问无理由 night questioning without reason",
    "detention": "羁押超时 time in centre over limit",
    "room_not_approved": "讯问地点不规范 room not approved",
    "unsigned_record": "笔录无签名 record not signed",
    "recording_gap": "录像不连续 recording not continuous",
    "recording_restart": "录像中断重录 recording stopped and restarted",
    "transcript_past_media": "转写超出录像 transcript past media",
    "media_without_transcript": "录像无转写 media without transcript",
}


def clock(seconds: float) -> str:
    """12:03 or 1:02:03."""
    s = int(max(0.0, seconds))
    h, rem = divmod(s, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"


_hours = duration


# -- who speaks on a channel ---------------------------------------------------------------------------
def _is_officer(name: Optional[str], f: SessionFacts, spk: Speakers) -> bool:
    if not name:
        return False
    if name in f.officers:
        return True
    low = name.lower()
    return any(low.startswith(label.lower()) for label in spk.officer_labels)


def officer_channels(f: SessionFacts, spk: Speakers) -> dict[int, str]:
    """Channel index -> name, for the named channels that are officers'."""
    return {i: n for i, n in enumerate(f.speakers) if _is_officer(n, f, spk)}


def _by_officer(seg: Seg, f: SessionFacts, spk: Speakers) -> Optional[bool]:
    """True/False when the segment's speaker is known to be an officer or not; None when unknown."""
    name = seg.speaker or (f.speakers[seg.channel] if 0 <= seg.channel < len(f.speakers) else None)
    if not name:
        return None
    return _is_officer(name, f, spk)


# -- rights notice ---------------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _patterns(phrases: tuple[str, ...], similarity: float) -> tuple[Pattern, ...]:
    return tuple(p for p in (Pattern.of(x, similarity) for x in phrases) if p.text)


_last_hits: tuple = (None, None, [])  # (facts, config, hits) of the last call: two rules ask in a row


def notice_hits(f: SessionFacts, cfg: RuleConfig) -> list[tuple[int, float, float]]:
    """(phrase index, start, end) of each notice phrase found, in order of time, first time only. A phrase may
    run over two consecutive segments. Stops as soon as `min_phrases` are found."""
    global _last_hits
    last = _last_hits  # one read: other threads may replace it meanwhile
    if last[0] is f and last[1] is cfg:
        return list(last[2])
    hits = _notice_hits(f, cfg)
    _last_hits = (f, cfg, hits)
    return list(hits)


def _notice_hits(f: SessionFacts, cfg: RuleConfig) -> list[tuple[int, float, float]]:
    rn = cfg.rights_notice
    patterns = _patterns(rn.phrases, rn.similarity)
    need = min(rn.min_phrases, len(patterns))
    hits: list[tuple[int, float, float]] = []
    todo = set(range(len(patterns)))
    segs = f.segments
    texts: list[Optional[str]] = [None] * len(segs)
    for i, seg in enumerate(segs):
        if texts[i] is None:
            texts[i] = normalise(seg.text)
        window, end = texts[i], seg.end
        if i + 1 < len(segs) and segs[i + 1].start - seg.end < 10.0:
            if texts[i + 1] is None:
                texts[i + 1] = normalise(segs[i + 1].text)
            window, end = window + texts[i + 1], segs[i + 1].end
        if not window:
            continue
        pairs, chars = None, None
        for k in sorted(todo):
            p = patterns[k]
            if p.text in window:
                ok = True
            elif p.allowed == 0:
                ok = False
            else:
                if chars is None:
                    chars = frozenset(window)
                if len(p.chars & chars) < p.chars_needed:
                    continue
                if pairs is None:
                    pairs = bigrams(window)
                ok = found(p, window, pairs, chars)
            if ok:
                hits.append((k, seg.start, end))
                todo.discard(k)
        if len(hits) >= need or not todo:
            break
    return hits


def rights_notice(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    rn = cfg.rights_notice
    if not f.has_transcript and not f.live:
        return []
    limit = rn.within_minutes * 60.0
    need = min(rn.min_phrases, len(rn.phrases))
    if need == 0:
        return []
    hits = notice_hits(f, cfg)
    if f.live and (f.duration or 0.0) < limit:
        return []  # there is still time
    done_at = hits[need - 1][1] if len(hits) >= need else None
    if done_at is not None and done_at <= limit:
        return []
    expected = next((s.start for s in f.segments if _by_officer(s, f, cfg.speakers)),
                    f.segments[0].start if f.segments else 0.0)
    window = f"{rn.within_minutes:g}"
    if done_at is not None:
        reason = say("warn_rights_late", at=clock(hits[0][1]), minutes=window)
        return [Finding(f.id, "rights_notice", rn.level, reason, hits[0][1], "late")]
    if hits:
        said = "、".join(f"「{rn.phrases[k]}」" for k, _, _ in hits)
        reason = say("warn_rights_incomplete", found=len(hits), said=said, need=need, at=clock(hits[0][1]))
        return [Finding(f.id, "rights_notice", rn.level, reason, hits[0][1], "incomplete")]
    if f.live:
        reason = say("warn_rights_not_yet", elapsed=clock(f.duration or 0.0), minutes=window)
    else:
        reason = say("warn_rights_missing", minutes=window)
    return [Finding(f.id, "rights_notice", rn.level, reason, expected, "missing")]


_CLAUSE = re.compile(r"[。！？!?，,；;、…\s]+")
_QUESTION_END = ("吗", "么", "嘛", "没有", "没", "不")


def _answer_clauses(text: str) -> Iterable[str]:
    """Normalised clauses of a segment that are not questions (the officer's "听清楚了吗" is no answer)."""
    pieces = _CLAUSE.split(text)
    marks = _CLAUSE.findall(text) + [""]
    for piece, mark in zip(pieces, marks):
        clause = normalise(piece)
        if not clause or "?" in mark or "？" in mark or clause.endswith(_QUESTION_END):
            continue
        yield clause


def rights_understood(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    ru, rn = cfg.rights_understood, cfg.rights_notice
    need = min(rn.min_phrases, len(rn.phrases))
    hits = notice_hits(f, cfg) if need else []
    if len(hits) < need or not hits:
        return []  # no notice at all is the rights_notice rule's finding
    first, last_end = hits[0][1], max(h[2] for h in hits)
    deadline = last_end + ru.within_seconds
    if f.live and (f.duration or 0.0) < deadline:
        return []
    answers = _patterns(ru.answers, ru.similarity)
    negations = tuple(normalise(n) for n in ru.negations)
    refused = None
    for seg in f.segments:
        if seg.start < first:
            continue
        if seg.start > deadline:
            break
        if _by_officer(seg, f, cfg.speakers):
            continue
        for clause in _answer_clauses(seg.text):
            if any(n and n in clause for n in negations):
                refused = refused if refused is not None else seg.start
                continue
            if any(found(p, clause) for p in answers):
                return []
    if refused is not None:
        reason = say("warn_not_understood", at=clock(refused))
        return [Finding(f.id, "rights_understood", ru.level, reason, refused)]
    reason = say("warn_no_answer", at=clock(first), seconds=f"{ru.within_seconds:g}")
    return [Finding(f.id, "rights_understood", ru.level, reason, last_end)]


# -- officers -------------------------------------------------------------------------------------------
def too_few_officers(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.too_few_officers
    names = {o.strip() for o in f.officers if o.strip()}
    if len(names) >= r.min_officers:
        return []
    who = "、".join(sorted(names)) if names else "无"
    reason = say("warn_too_few_officers", count=len(names), names=who, min=r.min_officers)
    return [Finding(f.id, "too_few_officers", r.level, reason, None)]


def officer_silent(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.officer_silent
    if not f.has_transcript or (f.duration or 0.0) < r.min_duration_s:
        return []
    channels = officer_channels(f, cfg.speakers)
    if not channels:
        return []
    heard_channels = {s.channel for s in f.segments}
    heard_names = {s.speaker for s in f.segments if s.speaker}
    out = []
    for index, name in sorted(channels.items()):
        if index in heard_channels or name in heard_names:
            continue
        reason = say("warn_officer_silent", name=name, channel=index + 1)
        out.append(Finding(f.id, "officer_silent", r.level, reason, None, f"ch{index}"))
    return out


# -- time limits ----------------------------------------------------------------------------------------
def _offset(f: SessionFacts, when: datetime) -> float:
    return min(max(0.0, (when - f.start).total_seconds()), f.duration or 0.0)


def continuous_questioning(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.continuous_questioning
    if f.start is None:
        return []
    chain_start, first = f.start, f.id
    rest = timedelta(minutes=r.rest_minutes)
    for visit in reversed(f.earlier):
        if chain_start - visit.end < rest:
            chain_start, first = min(chain_start, visit.start), visit.session
        else:
            break
    total = (f.end - chain_start).total_seconds()
    limit = r.max_hours * 3600.0
    if total <= limit:
        return []
    if first == f.id:
        reason = say("warn_continuous", duration=_hours(total), max=f"{r.max_hours:g}")
    else:
        reason = say("warn_continuous_since", duration=_hours(total), first=first, rest=f"{r.rest_minutes:g}",
                     max=f"{r.max_hours:g}")
    return [Finding(f.id, "continuous_questioning", r.level, reason,
                    _offset(f, chain_start + timedelta(seconds=limit)))]


def _clock_time(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


def night_questioning(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    """Night is read on the centre's clock (cfg.timezone), not on the offset the session was stored with:
    a session stored as 00:32+00:00 by a machine set to UTC started at 08:32 in Beijing."""
    r = cfg.night_questioning
    if f.start is None or (f.night_reason or "").strip():
        return []
    zone = cfg.zone()
    start, end = f.start.astimezone(zone), f.end.astimezone(zone)
    ns, ne = _clock_time(r.night_start), _clock_time(r.night_end)
    day = start.date() - timedelta(days=1)
    while day <= end.date():
        w_start = datetime.combine(day, ns, zone)
        w_end = datetime.combine(day + timedelta(days=1) if ne <= ns else day, ne, zone)
        lo, hi = max(start, w_start), min(end, w_end)
        if (hi - lo).total_seconds() >= max(r.min_minutes * 60.0, 1.0):
            reason = say("warn_night", start=r.night_start, end=r.night_end,
                         duration=_hours((hi - lo).total_seconds()))
            return [Finding(f.id, "night_questioning", r.level, reason, _offset(f, lo))]
        day += timedelta(days=1)
    return []


def detention(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.detention
    if f.start is None or f.check_in_at is None:
        return []
    held = (f.end - f.check_in_at).total_seconds()
    limit = r.max_hours * 3600.0
    if held <= limit:
        return []
    crossed = f.check_in_at + timedelta(seconds=limit)
    reason = say("warn_detention", check_in=f.check_in_at.astimezone(cfg.zone()).strftime("%m-%d %H:%M"),
                 duration=_hours(held), max=f"{r.max_hours:g}")
    return [Finding(f.id, "detention", r.level, reason, _offset(f, crossed))]


# -- place, signature -------------------------------------------------------------------------------------
def room_not_approved(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.room_not_approved
    if not r.approved:
        return []
    room = (f.room or "").strip()
    if not room:
        return [Finding(f.id, "room_not_approved", r.level, say("warn_room_unknown"), None)]
    if room in r.approved:
        return []
    return [Finding(f.id, "room_not_approved", r.level, say("warn_room_not_approved", room=room), None)]


def unsigned_record(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.unsigned_record
    if f.live or f.status != "complete" or f.start is None:
        return []
    deadline = f.end + timedelta(hours=r.within_hours)
    if f.signed_at is not None:
        if f.signed_at <= deadline:
            return []
        late = (f.signed_at - f.end).total_seconds()
        reason = say("warn_signed_late", duration=_hours(late), hours=f"{r.within_hours:g}")
        return [Finding(f.id, "unsigned_record", r.level, reason, None, "late")]
    if now <= deadline:
        return []
    waited = (now - f.end).total_seconds()
    reason = say("warn_unsigned", duration=_hours(waited), hours=f"{r.within_hours:g}")
    return [Finding(f.id, "unsigned_record", r.level, reason, None, "missing")]


# -- continuity ---------------------------------------------------------------------------------------------
def _gap_reason(kind: str, at: float, detail: str) -> str:
    if detail:
        return say("warn_gap_detail", what=gap_text(kind), at=clock(at), detail=detail)
    return say("warn_gap", what=gap_text(kind), at=clock(at))


def recording_gap(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.recording_gap
    if f.live:
        return []
    out = [Finding(f.id, "recording_gap", r.level, _gap_reason(g.kind, g.at, g.detail), g.at,
                   f"{g.kind}@{g.at:.1f}") for g in f.gaps]
    for path in f.media_files_missing:
        out.append(Finding(f.id, "recording_gap", r.level, say("warn_gap_file", path=path), None, f"file:{path}"))
    return out


def recording_restart(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.recording_restart
    if f.start is None or not f.earlier:
        return []
    last = f.earlier[-1]
    pause = (f.start - last.end).total_seconds()
    if not 0.0 <= pause <= r.within_minutes * 60.0:
        return []
    reason = say("warn_restart", previous=last.session, duration=_hours(pause))
    return [Finding(f.id, "recording_restart", r.level, reason, 0.0, last.session)]


def _last_end(f: SessionFacts) -> float:
    return max((s.end for s in f.segments), default=0.0)


def transcript_past_media(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.transcript_past_media
    if f.live or not f.has_transcript or not f.has_media or not f.duration:
        return []
    last = _last_end(f)
    if last <= f.duration + r.tolerance_s:
        return []
    reason = say("warn_transcript_past_media", last=clock(last), duration_clock=clock(f.duration))
    return [Finding(f.id, "transcript_past_media", r.level, reason, f.duration)]


def media_without_transcript(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    r = cfg.media_without_transcript
    if f.live or f.status != "complete" or not f.has_media:
        return []
    if not f.has_transcript:
        return [Finding(f.id, "media_without_transcript", r.level, say("warn_no_transcript"), 0.0, "none")]
    covered = f.transcript_duration or 0.0
    if f.duration and covered < f.duration - r.tolerance_s:
        reason = say("warn_partial_transcript", covered=clock(covered), duration_clock=clock(f.duration))
        return [Finding(f.id, "media_without_transcript", r.level, reason, covered, "partial")]
    return []


Rule = Callable[[SessionFacts, RuleConfig, datetime], list[Finding]]

# name -> (rule, can it be judged while the session is still being recorded)
RULES: dict[str, tuple[Rule, bool]] = {
    "rights_notice": (rights_notice, True),
    "rights_understood": (rights_understood, True),
    "too_few_officers": (too_few_officers, True),
    "officer_silent": (officer_silent, False),
    "continuous_questioning": (continuous_questioning, True),
    "night_questioning": (night_questioning, True),
    "detention": (detention, True),
    "room_not_approved": (room_not_approved, True),
    "unsigned_record": (unsigned_record, False),
    "recording_gap": (recording_gap, False),
    "recording_restart": (recording_restart, True),
    "transcript_past_media": (transcript_past_media, False),
    "media_without_transcript": (media_without_transcript, False),
}


def evaluate(f: SessionFacts, cfg: RuleConfig, now: datetime) -> list[Finding]:
    """Every enabled rule over one session, red first. Finished sessions only, or live ones (f.live)."""
    if not f.live and f.status != "complete":
        return []
    out: list[Finding] = []
    for name, (rule, live_ok) in RULES.items():
        if f.live and not live_ok:
            continue
        if getattr(cfg, name).enabled:
            out.extend(rule(f, cfg, now))
    out.sort(key=lambda w: (w.level != "red", w.at if w.at is not None else -1.0))
    return out
