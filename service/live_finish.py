"""Closing a live recording, after a normal stop or after a crash: join the segments into the original MP4,
hash it, freeze the transcript journal as version 1 (transcribing offline what the live ASR never reached),
mark the session complete, index it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

from archive.fsutil import sha256_file
from archive.layout import LIVE_ORIGINAL, SessionPaths
from archive.store import Archive
from archive.types import ArchiveError, MediaFile
from asr.types import TranscribeOptions
from core.transcript import Segment

log = logging.getLogger("xunlu.live")
TAIL_GAP_S = 0.2


def append_journal(path: Path, segment: Segment) -> None:
    """One segment per line, fsync'd: what a crash cannot take back."""
    line = json.dumps(segment.to_dict(), ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_journal(path: Path) -> list[Segment]:
    """The journal's segments; a line torn by a crash (the last one) is skipped."""
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(Segment.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            log.warning("%s line %d is torn (written when the recording stopped); skipped", path, n)
    return out


def close_media(archive: Archive, sid: str, actor: str, duration: Optional[float] = None) -> MediaFile:
    """Join `live/seg*.ts` into `original/recording.mp4` (no re-encoding, fast start), hash, register."""
    from capture.segments import JoinError, join

    paths = archive.paths(sid)
    existing = archive.get(sid).file("original")
    if existing is not None:
        return existing
    try:
        join(paths.live, paths.live_original, duration, comment=f"xunlu session {sid}")
    except JoinError as exc:
        raise ArchiveError(f"session {sid}: {exc}") from exc
    path = paths.live_original
    media = MediaFile("original", LIVE_ORIGINAL, sha256_file(path), path.stat().st_size)
    holder = archive.claim_original(sid, media)
    if holder:  # the same bytes twice, session id included, can only mean a copied session folder
        raise ArchiveError(f"session {sid}: its recording is already held by {holder}")
    archive.audit(actor, "media.original", sid, {"path": LIVE_ORIGINAL, "sha256": media.sha256, "size": media.size,
                                                 "source": "live segments"})
    return media


def media_duration(path: Path) -> float:
    from archive.media import streams

    return streams(path).duration


def transcribe_tail(transcriber: Any, path: Path, start: float, options: TranscribeOptions,
                    first_id: int) -> list[Segment]:
    """Offline ASR of the recording from `start` seconds on, in session time: every speech region there with
    its words or as an "[听不清]" segment (asr/regions.py)."""
    from asr import audio as audio_io

    _info, samples = audio_io.load(str(path))
    tail = samples[:, int(start * audio_io.SAMPLE_RATE):]
    if tail.shape[1] < audio_io.SAMPLE_RATE // 2:
        return []
    if options.speakers and len(options.speakers) != tail.shape[0]:
        options = options.with_(speakers=())
    segments, info = transcriber.transcribe_array(tail, options)
    out = []
    for i, seg in enumerate(segments):   # an "[听不清]" segment stays one (its class carries the key)
        words = tuple(replace(w, start=w.start + start, end=w.end + start) for w in seg.words)
        out.append(replace(seg, id=first_id + i, start=seg.start + start, end=seg.end + start, words=words))
    coverage = getattr(info, "coverage", None)
    if coverage is not None and coverage.unintelligible:
        log.warning("%d of %d speech regions after %.1f s could not be read: marked [听不清]",
                    coverage.unintelligible, coverage.regions, start)
    return out


def freeze(archive: Archive, sid: str, segments: list[Segment], language: str, model: str, duration: float,
           actor: str, reason: str, reproduce: Optional[dict] = None) -> None:
    """The live transcript as version 1, with its `reproduce` record when there is one."""
    from archive.transcripts import add_version
    from asr.types import ReproducibleTranscript

    ordered = sorted(segments, key=lambda s: (s.start, s.channel))
    ordered = [replace(s, id=i) for i, s in enumerate(ordered)]
    add_version(archive, sid, ReproducibleTranscript(language=language, model=model, duration=duration,
                                                     segments=tuple(ordered), reproduce=reproduce),
                "asr", actor, reason=reason)


def reindex(home: Path, archive: Archive, sid: str) -> None:
    from service.indexing import index_session

    try:
        index_session(home, archive, sid)
    except Exception as exc:  # the index can always be rebuilt from the archive
        log.warning("%s is saved but not yet searchable (%s); run xunlu reindex", sid, exc)


def _lock_if_dead(paths: SessionPaths):
    """The session's lock if nobody holds it (its writer is gone), else None."""
    try:
        lock = open(paths.lock, "a")
    except OSError:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def _unfinished(archive: Archive) -> list:
    """Recording, or stopped while being closed (a crash during the join)."""
    return archive.list(status="recording") + archive.list(status="finalising")


def pending(archive: Archive) -> list[str]:
    """Recordings whose writer is gone and that have segments on disk: what `recover` would close."""
    from capture.segments import segment_files

    found = []
    for session in _unfinished(archive):
        paths = archive.paths(session.id)
        if segment_files(paths.live):
            lock = _lock_if_dead(paths)
            if lock is not None:
                lock.close()
                found.append(session.id)
    return found


def recover(home: Path, archive: Archive, transcriber: Any, actor: str,
            say: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Close every recording whose writer died: media from the segments on disk, the journal plus an
    offline transcription of the part the live ASR never reached, status complete, audit `session.recovered`.
    A recording with no segment at all is left to `Archive.recover` (marked failed)."""
    from capture.segments import segment_files

    recovered = []
    for session in _unfinished(archive):
        sid = session.id
        paths = archive.paths(sid)
        if not segment_files(paths.live):
            continue
        lock = _lock_if_dead(paths)
        if lock is None:
            continue  # still being recorded
        with contextlib.closing(lock):
            say(f"session {sid} was interrupted while recording; closing it from its segments")
            try:
                archive.update_session(sid, status="finalising")
                media = close_media(archive, sid, actor)
                path = paths.file(media.path)
                duration = round(media_duration(path), 3)
                from service import multicam

                for problem in multicam.close(archive, sid, actor, duration):   # a room with several cameras
                    say(f"session {sid}: {problem}")
                journal = read_journal(paths.journal)
                # the tap runs ahead of the segments: text of audio the crash kept out of the media goes
                beyond = [s for s in journal if s.end > duration + 0.05]
                journal = [s for s in journal if s.end <= duration + 0.05]
                # the live ASR finalised up to `covered`; a little past it, so its last words are not heard twice
                covered = max((s.end + TAIL_GAP_S for s in journal), default=0.0)
                language = session.language or "zh"
                has_v1 = bool(archive.get(sid).transcripts)  # a crash after v1 was written keeps that v1
                tail = transcribe_tail(transcriber, path, covered, TranscribeOptions(
                    language=language, speakers=session.speakers), len(journal)) \
                    if transcriber and not has_v1 else []
                model = getattr(transcriber, "model_label", "") or "unknown"
                if not has_v1:
                    freeze(archive, sid, journal + tail, language, model, duration, actor,
                           reason="recovered after interruption")
                archive.update_session(sid, status="complete", duration=duration)
                archive.audit(actor, "session.recovered", sid,
                              {"live_segments": len(journal), "transcribed_after": round(covered, 2),
                               "dropped_past_media_end": len(beyond),
                               "tail_segments": len(tail), "duration": duration})
                archive.write_manifest(sid)
            except Exception as exc:
                reason = f"recovery failed: {exc}"
                log.exception("recovery of %s failed", sid)
                archive.update_session(sid, status="failed", error=reason[:500])
                archive.audit(actor, "session.failed", sid, {"reason": reason[:500]})
                with contextlib.suppress(ArchiveError, OSError):
                    archive.write_manifest(sid)
                say(f"session {sid}: {reason}")
                continue
        reindex(home, archive, sid)
        recovered.append(sid)
    return recovered


def drop_working_files(paths: SessionPaths) -> None:
    """After the MP4 is joined and hashed: the segments and the PCM tap are copies of what it holds."""
    from capture.segments import segment_files

    for p in segment_files(paths.live):
        p.unlink(missing_ok=True)
    for path in (paths.tap, paths.playlist, paths.asr_state):
        path.unlink(missing_ok=True)
    from service import multicam

    multicam.drop_working_files(paths)
