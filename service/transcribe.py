"""Re-transcription: ASR again on a session's original, added as a new transcript version (never an
overwrite), then indexed. `xunlu transcribe SESSION` uses it; a re-run with a better model is the usual case.
`reproduce`: a version run again with the settings it recorded, and compared (`--reproduce N`)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional

from archive.store import Archive
from archive.transcripts import add_version
from archive.types import ArchiveError, TranscriptVersion
from asr.engine import collect
from asr.types import TranscribeOptions
from core.transcript import Transcript
from service.importing import Progress
from service.indexing import index_session

log = logging.getLogger("xunlu.transcribe")


def retranscribe(home: Path, archive: Archive, sid: str, transcriber: Callable[[], Any], options: TranscribeOptions,
                 actor: str, reason: str, progress: Optional[Progress] = None,
                 warn: Callable[[str], None] = log.warning) -> tuple[Transcript, TranscriptVersion]:
    """Transcribe the session's original with `transcriber()` (loaded once the session is known to have an
    original) and the session's speakers; returns the transcript and the version it was saved as."""
    session = archive.get(sid)
    original = session.file("original")
    if original is None:
        raise ArchiveError(f"session {sid} has no original media to transcribe")
    from service.vocabulary import for_session

    words = for_session(home, (*options.hotwords, *getattr(session, "vocabulary", ())), session.suspect,
                        session.officers, session.room, session.case_id)
    model = transcriber()
    path = archive.paths(sid).file(original.path)
    segments, info = model.transcribe(str(path), options.with_(speakers=session.speakers, hotwords=words))
    if progress is not None:
        progress.start(info)
    transcript = collect(segments, info, progress.advance if progress is not None else None)
    version = add_version(archive, sid, transcript, "asr", actor, reason=reason,
                          parent=session.latest.version if session.latest else None)
    try:
        index_session(home, archive, sid)
    except Exception as exc:  # the index can always be rebuilt from the archive
        warn(f"{sid} is saved but not yet searchable ({exc}); run xunlu reindex")
    return transcript, version


@dataclass(frozen=True)
class Reproduction:
    """A re-run of a transcript version with the settings it recorded (`xunlu transcribe SESSION --reproduce N`)."""

    session: str
    version: int
    text_matches: bool        # the same segments' text, in the same order
    identical: bool           # the whole transcript JSON the same, but for its session and version
    diff: str                 # a unified diff of the segment lines (speaker, channel, times, text); "" when none
    changed: tuple[str, ...]  # what differs from then: versions, model.bin, device, compute type, threads
    transcript: Transcript    # the re-run's transcript (not saved)


def recorded(archive: Archive, sid: str, version: int) -> dict[str, Any]:
    """The stored JSON of a transcript version, `reproduce` record included (read_version keeps only the
    contract's keys)."""
    import json

    from archive.types import NotFound

    session = archive.get(sid)
    chosen = next((t for t in session.transcripts if t.version == version), None)
    if chosen is None:
        known = ", ".join(str(t.version) for t in session.transcripts) or "none"
        raise NotFound(f"session {sid} has no transcript version {version} (versions: {known})")
    try:
        return json.loads((archive.folder(sid) / chosen.path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"transcript {sid} v{version} cannot be read ({exc}); run xunlu verify") from exc


def _replay_live(model: Any, path: Path, rec: dict, then: dict) -> Any:
    """A live transcript made again: the original's audio through the live decoder with the options it
    recorded, fed in the chunks the recording fed it."""
    from asr import audio as audio_io
    from asr.reproduce import live_record, stream_options_of
    from asr.stream import replay
    from asr.types import ReproducibleTranscript

    options = stream_options_of(rec)
    _, samples = audio_io.load(str(path))
    finals, _ = replay(model, samples[:options.channels], options, chunk_s=float(rec.get("feed_s") or 0.5))
    return ReproducibleTranscript(language=then.get("language") or options.language, model=then.get("model", ""),
                                  duration=float(then.get("duration") or samples.shape[1] / 16000),
                                  segments=tuple(finals),
                                  reproduce=live_record(model.model_label, getattr(model, "provenance", None),
                                                        options) | {"feed_s": rec.get("feed_s")})


def reproduce(archive: Archive, sid: str, version: int, load: Callable[[str, str, str], Any], actor: str,
              progress: Optional[Progress] = None) -> Reproduction:
    """Transcribe the session's original again with the model, device, compute type and options that
    version `version` records, and compare. Nothing is saved but an audit entry. `load(model, device,
    compute_type)` gives a Transcriber."""
    from asr.reproduce import compare, mismatches, options_of

    then = recorded(archive, sid, version)
    rec = then.get("reproduce")
    if not isinstance(rec, dict) or not (rec.get("model") or {}).get("name"):
        raise ArchiveError(f"transcript {sid} v{version} does not record how it was made (a correction, "
                           "or a transcript made before xunlu kept that): nothing to reproduce")
    session = archive.get(sid)
    original = session.file("original")
    if original is None:
        raise ArchiveError(f"session {sid} has no original media to transcribe")
    model = load(rec["model"]["name"], rec.get("device") or "auto", rec.get("compute_type") or "auto")
    path = archive.paths(sid).file(original.path)
    if rec.get("live"):
        transcript = _replay_live(model, path, rec, then)
    else:
        segments, info = model.transcribe(str(path), options_of(rec))
        if progress is not None:
            progress.start(info)
        transcript = collect(segments, info, progress.advance if progress is not None else None)
    now = replace(transcript, session=sid, version=version).to_dict()
    text_matches, identical, diff = compare(then, now, f"{sid} v{version}", f"{sid} v{version} again")
    changed = tuple(mismatches(rec, now.get("reproduce") or {}))
    archive.audit(actor, "transcript.reproduced", f"{sid}/v{version}",
                  {"text_matches": text_matches, "identical": identical, "changed": list(changed)})
    return Reproduction(sid, version, text_matches, identical, diff, changed, transcript)
