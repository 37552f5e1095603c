"""`xunlu import`: keep the original, hash it, make a playable copy when needed, transcribe, catalogue.

A failure at any step leaves the session marked failed (never half-complete) with the reason; a crash
(kill -9, power cut) leaves it unfinished and the next start marks it failed (`Archive.recover`).
"""
from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Sequence

from archive import media as media_io
from archive.fsutil import copy_hashed, sha256_file
from archive.layout import PLAYABLE
from archive.store import Archive
from archive.transcripts import add_version
from archive.types import ArchiveError, Duplicate, MediaFile, Session
from asr import audio as audio_io
from asr import vocabulary
from asr.types import TranscriptionInfo
from core.config import Limits
from core.config import zone as centre_zone
from core.errors import InputError, OptionError, TooLargeError, XunluError
from core.media import av_options
from core.transcript import Segment, Transcript
from supervise.session_info import parse_when, set_fields

log = logging.getLogger("xunlu.import")

Transcribe = Callable[[Path, Sequence[str]], Transcript]


@dataclass(frozen=True)
class ImportRequest:
    input: Path
    case_id: Optional[str] = None
    room: Optional[str] = None
    officers: tuple[str, ...] = ()
    suspect: Optional[str] = None
    speakers: tuple[str, ...] = ()
    started_at: Optional[str] = None
    unit: Optional[str] = None        # 单位 of the officers
    check_in: Optional[str] = None    # when the person arrived in the centre, ISO 8601
    recorder: Optional[str] = None    # 记录人
    suspect_gender: Optional[str] = None   # 男, 女 or 未知 (male, female, unknown are taken too)
    suspect_birth: Optional[str] = None    # YYYY-MM-DD
    suspect_id: Optional[str] = None       # 身份证件种类及号码
    suspect_address: Optional[str] = None  # 现住址
    vocabulary: tuple[str, ...] = ()       # names and places the recognition should expect


GENDERS = {"男": "男", "male": "男", "m": "男", "女": "女", "female": "女", "f": "女", "未知": "未知",
           "unknown": "未知"}


class Progress(Protocol):
    """What a caller shows while a recording is transcribed (the CLI's progress bar)."""

    def start(self, info: TranscriptionInfo) -> None: ...

    def advance(self, segment: Segment) -> None: ...


def parse_started_at(value: Optional[str], fallback_file: Optional[Path] = None, zone: Optional[tzinfo] = None) -> str:
    """ISO 8601; a value without a time zone is taken on the centre's clock (`zone`, core.config.zone; else
    the machine's). Default: the file's mtime."""
    if value:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise OptionError(f"--started-at {value!r} is not a date and time (use e.g. 2026-11-21T09:30:00+08:00)") from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone) if zone is not None else when.astimezone()
        return when.isoformat(timespec="seconds")
    stamp = fallback_file.stat().st_mtime if fallback_file else datetime.now().timestamp()
    return datetime.fromtimestamp(stamp, zone).astimezone(zone).isoformat(timespec="seconds")


LABELS = {"room": "讯问地点", "suspect": "被讯问人", "recorder": "记录人", "suspect_id": "身份证件种类及号码",
          "suspect_address": "现住址", "unit": "单位", "suspect_gender": "性别", "suspect_birth": "出生日期",
          "started_at": "讯问时间", "check_in": "到案时间", "vocabulary": "词表"}


def _bad(name: str, value: Any, detail: str) -> OptionError:
    """A field that cannot be used, named for the operator (`--flag`) and for the page (code bad_field)."""
    return OptionError(f"--{name.replace('_', '-')} {value!r}: {detail}", code="bad_field",
                       params={"field": LABELS.get(name, name), "name": name, "value": str(value)[:100]})


def gender_of(value: Optional[str]) -> Optional[str]:
    """男, 女 or 未知 from what a form or the CLI gives; OptionError for anything else."""
    if value is None or not value.strip():
        return None
    found = GENDERS.get(value.strip().lower())
    if found is None:
        raise _bad("suspect_gender", value, "use 男, 女 or 未知 (male, female, unknown)")
    return found


def birth_of(value: Optional[str]) -> Optional[str]:
    """A date of birth as YYYY-MM-DD, not in the future; OptionError otherwise."""
    if value is None or not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise _bad("suspect_birth", value, "not a date (use e.g. 1990-01-31)") from None
    if day > date.today() or day.year < 1900:
        raise _bad("suspect_birth", value, "cannot be a date of birth")
    return day.isoformat()


def check_fields(req: ImportRequest) -> ImportRequest:
    """The request's metadata checked and normalised (gender as 男/女/未知, dates as ISO), before any file is
    read: a value that cannot be used is an OptionError that names it (code bad_field)."""
    for name in ("room", "suspect", "recorder", "suspect_id", "suspect_address", "unit"):
        value = getattr(req, name)
        if value is not None and not value.strip():
            raise _bad(name, value, "must not be empty")
    for name, what in (("started_at", "--started-at"), ("check_in", "--check-in")):
        value = getattr(req, name)
        try:
            if value and name == "started_at":
                parse_started_at(value)
            elif value:
                parse_when(value, what)
        except XunluError:
            raise _bad(name, value, "not a date and time (use e.g. 2026-11-21T09:30:00+08:00)") from None
    words = tuple(dict.fromkeys(w.strip() for w in req.vocabulary if w and w.strip()))
    most, longest, total = vocabulary.MAX_WORDS, vocabulary.MAX_WORD_CHARS, vocabulary.MAX_CHARS
    if len(words) > most:
        raise _bad("vocabulary", f"{len(words)} words", f"at most {most} words are taken")
    long = next((w for w in words if len(w) > longest), None)
    if long is not None:
        raise _bad("vocabulary", long[:20], f"a word is longer than {longest} characters")
    if len("、".join(words)) > total:
        raise _bad("vocabulary", f"{len('、'.join(words))} characters", f"at most {total} characters in all")
    return replace(req, suspect_gender=gender_of(req.suspect_gender), suspect_birth=birth_of(req.suspect_birth),
                   vocabulary=words)


def check_request(req: ImportRequest, language: Optional[str]) -> ImportRequest:
    """`check_fields` and the language code: what a web upload checks before it takes the body."""
    from asr.engine import check_language

    check_language(language)
    return check_fields(req)


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^\w.\-]+", "_", name, flags=re.UNICODE).strip("._") or "recording"
    return cleaned[:120]


def _has_samples(path: str) -> bool:
    """Whether the first audio stream decodes to at least one frame (headers alone say 0 s for an empty WAV,
    and nothing for some streams that are not empty)."""
    import av

    try:
        with av.open(path, mode="r", metadata_errors="ignore", options=av_options()) as container:
            for frame in container.decode(audio=0):
                if frame.samples:
                    return True
    except (av.error.FFmpegError, ValueError):
        return False
    return False


def check_input(req: ImportRequest, limits: Limits = Limits()) -> audio_io.AudioInfo:
    """Everything that can be wrong with the request, from the file's header and the options, before any
    decoding: not a recording (playlists and the like are not opened at all), truncated, empty, longer or
    larger once decoded than `limits`, a speaker list that does not fit its channels."""
    info = audio_io.probe(str(req.input))  # missing, directory, empty, not media, no audio -> InputError
    if info.duration > limits.max_import_hours * 3600:
        raise TooLargeError(f"{Path(req.input).name} lasts {info.duration / 3600:.1f} hours; this server imports "
                            f"at most {limits.max_import_hours:g} hours ([limits] max_import_hours)")
    decoded = limits.decoded_bytes(info.duration, info.channels)
    if decoded > limits.max_decoded_gb * 1024 ** 3:
        raise TooLargeError(f"{Path(req.input).name} decodes to {decoded / 1024 ** 3:.1f} GB of audio; this server "
                            f"decodes at most {limits.max_decoded_gb:g} GB ([limits] max_decoded_gb)")
    cut = media_io.truncation(Path(req.input))
    if cut:
        raise InputError(f"{req.input} is truncated ({cut}); import the complete file")
    if info.duration <= 0 and not _has_samples(str(req.input)):
        raise InputError(f"{req.input} holds no audio samples (an empty recording)")
    if req.speakers and len(req.speakers) != info.channels:
        raise OptionError(f"--speakers names {len(req.speakers)} speaker(s) but {req.input} has "
                          f"{info.channels} audio channel(s)")
    check_fields(req)
    return info


def import_file(archive: Archive, req: ImportRequest, transcribe: Transcribe, actor: str,
                say: Callable[[str], None] = lambda _msg: None,
                on_session: Callable[[str], None] = lambda _sid: None) -> Session:
    """Keep, hash, copy, transcribe and catalogue one recording; `on_session(id)` as soon as its session
    exists. The unit and check-in time of the request are set once it is complete."""
    src = Path(req.input)
    info = check_input(req)
    req = check_fields(req)
    started_at = parse_started_at(req.started_at, src, centre_zone(archive.home))
    say(f"hashing {src.name}")
    digest = sha256_file(src)
    holder = archive.holder_of(digest)
    if holder:
        raise Duplicate(f"{src} is already in the archive as session {holder} (same SHA-256)", holder)
    with archive.new_session(actor, case_id=req.case_id, room=req.room, officers=req.officers,
                             suspect=req.suspect, speakers=req.speakers, started_at=started_at,
                             source_name=src.name, recorder=req.recorder, suspect_gender=req.suspect_gender,
                             suspect_birth=req.suspect_birth, suspect_id=req.suspect_id,
                             suspect_address=req.suspect_address, vocabulary=req.vocabulary) as session:
        sid = session.id
        on_session(sid)
        folder = archive.folder(sid)
        try:
            paths = archive.paths(sid)
            rel = (paths.original_dir / safe_name(src.name)).relative_to(folder).as_posix()
            say(f"keeping the original as {sid}/{rel}")
            copied, size = copy_hashed(src, folder / rel, mode=0o444)
            if copied != digest:
                raise ArchiveError(f"{src} changed while it was being imported; import it again")
            holder = archive.claim_original(sid, MediaFile("original", rel, digest, size))
            if holder:
                raise Duplicate(f"{src} is already in the archive as session {holder} (same SHA-256)", holder)
            archive.audit(actor, "media.original", sid, {"path": rel, "sha256": digest, "size": size,
                                                         "source": str(src)})
            playable_path = paths.playable
            needs_copy = not media_io.is_browser_playable(folder / rel)
            with ThreadPoolExecutor(max_workers=1) as pool:  # ffmpeg encodes while Whisper listens
                copying = None
                if needs_copy:
                    kind = "H.264/AAC" if media_io.streams(folder / rel).video else "AAC audio"
                    say(f"making a browser-playable copy ({kind} MP4, fast start)")
                    copying = pool.submit(media_io.make_playable, folder / rel, playable_path)
                say("transcribing")
                transcript = transcribe(folder / rel, req.speakers)
                if copying is not None:
                    copying.result()
            if needs_copy:
                playable = MediaFile("playable", PLAYABLE, sha256_file(playable_path),
                                     playable_path.stat().st_size)
                archive.add_media(sid, playable)
                archive.audit(actor, "media.playable", sid, {"path": playable.path, "sha256": playable.sha256})
            archive.update_session(sid, duration=round(info.duration or transcript.duration, 3),
                                   language=transcript.language)
            add_version(archive, sid, transcript, "asr", actor, reason="import")
            archive.update_session(sid, status="complete")
            archive.audit(actor, "import", sid, {"source": str(src), "sha256": digest})
            archive.write_manifest(sid)
        except BaseException as exc:
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, KeyboardInterrupt):
                reason = "interrupted"
            _mark_failed(archive, sid, actor, reason)
            if isinstance(exc, TooLargeError):   # past [limits] while decoding (its header lied): still a 413
                raise TooLargeError(f"import failed, session {sid} marked failed: {reason}") from exc
            if isinstance(exc, (InputError, OptionError)):
                raise ArchiveError(f"import failed, session {sid} marked failed: {reason}") from exc
            raise
    if req.unit or req.check_in:
        return set_fields(archive, sid, actor, unit=req.unit,
                          check_in_at=parse_when(req.check_in, "--check-in", centre_zone(archive.home))
                          if req.check_in else None)
    return archive.get(sid)


def import_recording(home: Path, archive: Archive, req: ImportRequest, transcriber: Callable[[], Any],
                     language: Optional[str], actor: str, say: Callable[[str], None] = lambda _msg: None,
                     progress: Optional[Progress] = None, on_session: Callable[[str], None] = lambda _sid: None,
                     warn: Callable[[str], None] = log.warning) -> Session:
    """`xunlu import` and `POST /api/import`: check the request before the model is loaded (`transcriber()`
    gives the asr Transcriber), import the file, then make it searchable. A failure to index never undoes the
    import: `warn` says so, and `xunlu reindex` (or the next search) catches up."""
    from asr.engine import check_language, collect
    from asr.types import TranscribeOptions
    from core.config import read
    from service.indexing import index_session

    settings = read(home)
    lang = check_language(language or settings.asr.language)
    check_input(req, settings.limits)  # not media, too long, wrong speaker count: refused before the model loads
    checked = check_fields(req)
    from service.vocabulary import for_session

    words = for_session(home, checked.vocabulary, checked.suspect, checked.officers, checked.room, checked.case_id)
    model = transcriber()

    def transcribe(path: Path, names: Sequence[str]) -> Transcript:
        options = TranscribeOptions(language=lang, speakers=tuple(names), hotwords=words)
        with audio_io.limited(settings.limits):   # a header that lied is stopped while decoding
            segments, info = model.transcribe(str(path), options)
        if progress is not None:
            progress.start(info)
        return collect(segments, info, progress.advance if progress is not None else None)

    session = import_file(archive, req, transcribe, actor, say, on_session)
    try:
        index_session(home, archive, session.id)
    except Exception as exc:  # the index can always be rebuilt from the archive
        warn(f"{session.id} is saved but not yet searchable ({exc}); run xunlu reindex")
    return session


def drop_stale_uploads(home: Path) -> list[str]:
    """Remove upload folders (`<home>/uploads/.up-<pid>-<token>`) left by a server process that is gone
    (killed during an upload or a background import): nothing will finish them, and each holds a whole
    recording. Returns their names."""
    from archive.fsutil import remove_tree
    from core.proc import pid_alive

    dropped = []
    for folder in (Path(home) / "uploads").glob(".up-*"):
        pid = folder.name.split("-")[1] if folder.name.count("-") == 2 else ""
        if pid.isdigit() and pid_alive(int(pid)):
            continue  # its server is still running
        remove_tree(folder)
        dropped.append(folder.name)
    return dropped


def _mark_failed(archive: Archive, sid: str, actor: str, reason: str) -> None:
    try:
        archive.update_session(sid, status="failed", error=reason[:500])
        archive.audit(actor, "import.failed", sid, {"reason": reason[:500]})
        archive.write_manifest(sid)
    except Exception:  # the disk may be full: the lock file tells the next start to mark it failed
        log.exception("could not mark %s failed", sid)
