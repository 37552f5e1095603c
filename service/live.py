"""Live sessions: record audio and video into the archive while a streaming transcript is written.

`start_live` opens the session (status "recording") and returns at once; the work runs in threads:
- the recorder (capture.recorder) writes HLS segments and a 16 kHz PCM tap, and never waits for ASR;
- the ASR worker reads the tap at its own pace, feeds `asr.stream.LiveTranscriber`, appends finals to the
  journal (fsync'd), the live index and the subscribers; when it falls behind, a warning says how far;
- a ticker publishes the status about once a second and fsyncs finished segments.
When the recording ends (stop, duration, end of file) the worker catches up, then the session is closed:
segments joined into the original MP4, hashed, journal frozen as transcript v1, indexed, "complete".
The last event, {"type": "stopped", "reason": ...}, says why it ended (END_REASONS): "source_ended" when
nobody stopped it and the source itself ended (a file played to its end, a camera that stopped sending).
"""
from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional

from archive.store import Archive
from archive.types import ArchiveError, Session
from service import live_finish as finish

log = logging.getLogger("xunlu.live")
LAG_WARN_S = 10.0
FEED_S = 0.5
DURATION_SLACK_S = 0.5   # a recording this close to its planned duration ended by it
# why a recording ended, as the "stopped" event and the record.complete audit entry say ("ended")
END_REASONS = ("stop", "duration", "source_ended", "recorder_stopped", "disk_full", "failed")

# factory(language, channels, speakers, on_partial, on_final, hotwords=()) -> object with feed(), finish(),
# processed; or a service.live_asr.InWorker: the transcriber runs in a worker process of its own
StreamFactory = Callable[..., Any]


@dataclass(frozen=True)
class RecordRequest:
    audio: Optional[str] = None            # PyAudio device name/index, a file, or a URL; None -> from video
    video: Optional[str] = None            # v4l2 device, file, URL (rtsp/udp/http) or "lavfi:testsrc2"...
    duration: Optional[float] = None
    case_id: Optional[str] = None
    room: Optional[str] = None
    officers: tuple[str, ...] = ()
    suspect: Optional[str] = None
    speakers: tuple[str, ...] = ()
    language: str = "zh"
    clock: bool = False
    realtime: bool = True                  # files are played at real speed ("file as live")
    video_delay: float = 0.0               # seconds a separate camera lags the microphone (calibration)
    vocabulary: tuple[str, ...] = ()       # words the recognition should expect (`--hotwords`)
    rtsp_transport: Optional[str] = None   # auto, tcp, udp, udp_multicast; None: the room's setting, else auto
    cameras: tuple[Any, ...] = ()          # several cameras (capture.sources.CameraSpec), the first = `video`;
                                           # none: one camera, or the room's (service/multicam.py)
    pip: Optional[Any] = None              # their picture-in-picture layout (core.cameras.PipLayout)


def default_stream(transcriber: Any) -> StreamFactory:
    def make(language: str, channels: int, speakers: tuple[str, ...], on_partial, on_final,
             hotwords: tuple[str, ...] = ()):
        from asr.stream import LiveTranscriber, StreamOptions

        return LiveTranscriber(transcriber, StreamOptions(language=language, channels=channels,
                                                          speakers=speakers, hotwords=tuple(hotwords)),
                               on_partial, on_final)
    return make


def default_asr(transcriber: Any) -> Any:
    """The live transcriber of a session: in a worker process loading the same model (the default), or in a
    thread of this process when $XUNLU_LIVE_ASR=thread or the transcriber names no model to load."""
    from service.live_asr import InWorker, mode

    spec = InWorker.for_transcriber(transcriber) if mode() == "process" else None
    return spec or default_stream(transcriber)


_registry: dict[str, "LiveSession"] = {}
_registry_lock = threading.Lock()


def get_live(session_id: str) -> Optional["LiveSession"]:
    with _registry_lock:
        return _registry.get(session_id)


class LiveSession:
    def __init__(self, home: Path, session_id: str, req: Any, plan: Any, transcriber: Any, actor: str,
                 stream: StreamFactory, lock_cm: Any):
        from capture.recorder import Recorder, RecorderOptions

        self.home = Path(home)
        self.session_id = session_id
        self.req = req
        self.plan = plan
        self.actor = actor
        self.model = getattr(transcriber, "model_label", "") or "unknown"
        self.error: Optional[str] = None
        self.asr_error: Optional[str] = None
        self.transcriber = transcriber
        self._archive = Archive(self.home)           # this session's own connection, for its threads
        self._paths = self._archive.paths(session_id)
        self._journal = self._paths.journal
        self._stream_factory = stream
        self._lock_cm = lock_cm
        self.recorder = Recorder(plan, RecorderOptions(live_dir=self._paths.live, clock=req.clock,
                                                       duration=req.duration, video_delay=req.video_delay),
                                 on_gap=self._on_gap)
        self._subs: list[queue.Queue] = []
        self._state_lock = threading.Lock()
        self._finals: list[dict] = []
        self._partials: dict[str, dict] = {}
        self._status: dict = {"type": "status", "elapsed": 0.0, "lag": 0.0, "recording": True}
        self._processed = 0.0
        self.max_lag = 0.0
        self._finished = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopping = False
        self._indexer = None
        self._alarm_event: Optional[dict] = None
        self.end_reason: Optional[str] = None       # why the recording ended (END_REASONS), once it has
        self._source_alarm: Optional[dict] = None    # a network source that is away now
        self.asr_worker: Any = None                  # service.live_asr.WorkerRunner, when ASR runs in one

    # -- public ---------------------------------------------------------------------------------------
    def subscribe(self) -> "queue.Queue[dict]":
        q: "queue.Queue[dict]" = queue.Queue(maxsize=5000)
        with self._state_lock:
            self._subs.append(q)
            if self._finished.is_set():
                q.put_nowait(self._stopped_event())
        return q

    def unsubscribe(self, q: "queue.Queue[dict]") -> None:
        with self._state_lock:
            if q in self._subs:
                self._subs.remove(q)

    def snapshot(self) -> dict:
        with self._state_lock:
            snap = {"segments": list(self._finals), "partials": dict(self._partials), "status": dict(self._status)}
            if self._alarm_event is not None:
                snap["alarm"] = dict(self._alarm_event)
            elif self._source_alarm is not None:
                snap["alarm"] = dict(self._source_alarm)
            return snap

    def stop(self) -> Session:
        """Idempotent: stop recording, let ASR catch up, close the session; returns its record."""
        with self._stop_lock:
            if not self._stopping and not self._finished.is_set():
                self._stopping = True
                with contextlib.closing(Archive(self.home)) as arch:
                    arch.audit(self.actor, "record.stop", self.session_id,
                               {"at": round(self.recorder.captured_seconds, 3)})
        self.recorder.stop()
        self._finished.wait()
        with contextlib.closing(Archive(self.home)) as arch:
            return arch.get(self.session_id)

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._finished.wait(timeout)

    @property
    def elapsed(self) -> float:
        return self.recorder.captured_seconds

    # -- events ---------------------------------------------------------------------------------------
    def _stopped_event(self) -> dict:
        return {"type": "stopped", "session": self.session_id, "reason": self.end_reason or "stop"}

    def _why_ended(self) -> str:
        """Why the recording ended: asked to stop, its planned duration, the recorder's alarm, or its source
        ended by itself (a file played to its end, a camera or stream that stopped sending)."""
        rec = self.recorder
        if self._stopping:
            return "stop"
        if rec.error:
            return "disk_full" if getattr(rec, "disk_full", False) else "recorder_stopped"
        if self.req.duration and rec.captured_seconds >= self.req.duration - DURATION_SLACK_S:
            return "duration"
        return "source_ended"

    def _publish(self, event: dict) -> None:
        with self._state_lock:
            subs = list(self._subs)
        for q in subs:
            try:
                q.put_nowait(event)
            except queue.Full:  # a listener that stopped reading loses its oldest events, never blocks us
                with contextlib.suppress(queue.Empty, queue.Full):
                    q.get_nowait()
                    q.put_nowait(event)

    def _on_partial(self, p: Any) -> None:
        event = {"type": "partial", "channel": int(p.channel), "speaker": p.speaker,
                 "start": round(float(p.start), 2), "end": round(float(p.end), 2), "text": p.text}
        with self._state_lock:
            self._partials[str(event["channel"])] = event
        self._publish(event)

    def _live_record(self) -> Optional[dict]:
        """The `reproduce` record of the live transcript: the model as loaded and the live decoder's options."""
        from asr.reproduce import live_record
        from asr.stream import StreamOptions

        options = getattr(self, "_stream_options", None)
        if not isinstance(options, StreamOptions):
            return None
        return live_record(self.model, getattr(self.transcriber, "provenance", None), options) | {"feed_s": FEED_S}

    def _on_final(self, segment: Any) -> None:
        finish.append_journal(self._journal, segment)
        self._relay_final(segment)

    def _relay_final(self, segment: Any) -> None:
        """A final that is in the journal: to the live view, the live index and the subscribers."""
        data = segment.to_dict()
        with self._state_lock:
            self._finals.append(data)
            self._partials.pop(str(segment.channel), None)
        if self._indexer is not None:
            self._indexer.add(segment)
        self._publish({"type": "final", "segment": data})

    # -- threads --------------------------------------------------------------------------------------
    def _start(self) -> None:
        self.recorder.start()
        threading.Thread(target=self._work, name=f"live-{self.session_id}", daemon=True).start()
        threading.Thread(target=self._tick, name=f"live-tick-{self.session_id}", daemon=True).start()

    def _tick(self) -> None:
        from capture.segments import sync_segments

        synced: set[str] = set()
        while not self._finished.wait(1.0):
            recording = not self.recorder.done.is_set()
            captured = self.recorder.captured_seconds
            lag = max(0.0, captured - self._processed)
            self.max_lag = max(self.max_lag, lag)
            event = {"type": "status", "elapsed": round(captured, 1), "lag": round(lag, 1),
                     "recording": recording}
            with self._state_lock:
                self._status = event
            self._publish(event)
            if self.recorder.error:
                self._alarm()
            with contextlib.suppress(OSError):
                sync_segments(self._paths.live, synced)

    def _alarm(self) -> None:
        """The recorder stopped by itself (disk full, a source gone): viewers, the log and the audit trail are
        told once, at once; what was recorded before stays and the session is closed with it."""
        rec = self.recorder
        code = "disk_full" if getattr(rec, "disk_full", False) else "recorder_stopped"
        event = {"type": "alarm", "code": code, "level": "red", "at": round(rec.captured_seconds, 1),
                 "message": rec.error or "the recorder stopped"}
        with self._state_lock:
            if self._alarm_event is not None:
                return
            self._alarm_event = event
        log.error("%s: ALARM %s: %s", self.session_id, code, event["message"])
        self._publish(event)
        with contextlib.suppress(Exception), contextlib.closing(Archive(self.home)) as arch:  # may be full too
            arch.audit("system:recorder", "record.alarm", self.session_id,
                       {"code": code, "at": event["at"], "message": event["message"][:300]})

    def _on_gap(self, found: Any) -> None:
        """A network camera or sound source dropped or is back (capture.recorder.SourceGap): viewers are told
        at once, the log and the audit trail keep both ends; the gap itself (`record.gap`, seconds in the
        recording) is what the recording-gap warning reads. The recording goes on either way."""
        from service.source_gaps import back_event, gap_record, lost_event

        if not found.back:
            event = lost_event(found.role, found.gap, found.start)
            with self._state_lock:
                self._source_alarm = event
            log.warning("%s: %s", self.session_id, event["message"])
            action, details = "record.source_lost", {k: event[k] for k in ("source", "role", "at", "reason")}
        else:
            details = gap_record(found.role, found.gap, found.start, found.end)
            event = back_event(details)
            with self._state_lock:
                self._source_alarm = None
            log.warning("%s: %s", self.session_id, event["message"])
            action = "record.gap"
        self._publish(event)
        with contextlib.suppress(Exception), contextlib.closing(Archive(self.home)) as arch:
            arch.audit("system:recorder", action, self.session_id, details)

    def _close_open_gaps(self, arch: Archive, end: float) -> int:
        """A source still away when the recording ended: its gap runs to the end, the recording's `end` for a
        separate camera (the sound went on), else by the wall clock (a camera that carried the sound, or a
        sound source, took the audio clock with it)."""
        from service.source_gaps import gap_record

        rec, still = self.recorder, 0
        by_wall = max(end, rec.recording_time(rec.ended_at or time.time()))
        for found in rec.source_gaps:
            if not found.back:
                still += 1
                arch.audit("system:recorder", "record.gap", self.session_id,
                           gap_record(found.role, found.gap, found.start, end if found.role == "video" else by_wall))
        return still

    def _work(self) -> None:
        try:
            self._transcribe_live()
            self._close()
        except Exception as exc:
            log.exception("live session %s failed", self.session_id)
            self._fail(str(exc) or type(exc).__name__)
        finally:
            with self._state_lock:
                self._status = {**self._status, "recording": False}
            if self.end_reason is None:
                self.end_reason = "failed" if self.error else self._why_ended()
            self._finished.set()
            self._publish(self._stopped_event())
            with _registry_lock:
                _registry.pop(self.session_id, None)
            with contextlib.suppress(Exception):
                self._lock_cm.__exit__(None, None, None)
            self._archive.close()

    def _in_worker(self, spec: Any, words: tuple[str, ...]) -> None:
        """The transcriber in a process of its own (service/live_asr.py), restarted if it dies: this thread
        relays its finals from the journal and its partials, and tells it when the recording has ended."""
        from service.live_asr import WorkerFailed, WorkerJob, WorkerRunner, stream_options

        rec = self.recorder
        job = WorkerJob(self.session_id, str(self.home), str(rec.tap_path), str(self._journal),
                        str(self._paths.asr_state), self.plan.channels, self.req.language,
                        tuple(self.req.speakers), tuple(words), FEED_S, spec)
        runner = self.asr_worker = WorkerRunner(job, self._on_partial, self._relay_final, self._asr_restarted,
                                                on_progress=lambda s: setattr(self, "_processed", s))
        threading.Thread(target=lambda: rec.done.wait() and runner.end(), daemon=True,
                         name=f"live-end-{self.session_id}").start()
        try:
            runner.run()
        except (WorkerFailed, OSError) as exc:
            log.error("%s: live transcription failed; recording continues, the rest is transcribed offline: %s",
                      self.session_id, exc)
            self.asr_error = str(exc)
            while not rec.done.wait(0.5):   # the recording goes on; its close transcribes the rest offline
                self._processed = rec.tap_frames / 16000
        self._stream_options = stream_options(runner.options)
        self._processed = max(self._processed, runner.processed)

    def _asr_restarted(self, info: dict) -> None:
        with contextlib.suppress(Exception), contextlib.closing(Archive(self.home)) as arch:
            arch.audit("system:asr", "record.asr_restart", self.session_id, info)

    def _transcribe_live(self) -> None:
        from capture.tap import TAP_RATE, TapReader
        from index.live import LiveIndexer
        from service.live_asr import InWorker

        rec = self.recorder
        rec.started.wait()
        if rec.error and rec.tap_frames == 0:
            raise ArchiveError(rec.error)
        while rec.t0 is None and not rec.done.wait(0.05):
            pass
        started = datetime.fromtimestamp(rec.t0 or time.time()).astimezone().isoformat(timespec="milliseconds")
        self._archive.update_session(self.session_id, started_at=started)
        from service.indexing import meta_of

        self._indexer = LiveIndexer(self.home, meta_of(self._archive.get(self.session_id)))
        stream = None
        in_worker = isinstance(self._stream_factory, InWorker)
        try:
            from service.vocabulary import for_session

            words = for_session(self.home, self.req.vocabulary, self.req.suspect, self.req.officers,
                                self.req.room, self.req.case_id)
            if not in_worker:
                stream = self._stream_factory(self.req.language, self.plan.channels, tuple(self.req.speakers),
                                              self._on_partial, self._on_final, hotwords=words)
                self._stream_options = getattr(stream, "options", None)
        except Exception as exc:  # no live transcript, but the recording goes on
            log.exception("%s: live transcription could not start; recording continues", self.session_id)
            self.asr_error = f"{type(exc).__name__}: {exc}"
        if in_worker and self.asr_error is None:
            try:
                self._in_worker(self._stream_factory, words)
            finally:
                self._indexer.close()
            return self._ended()
        tap = TapReader(rec.tap_path, self.plan.channels)
        warned = 0.0
        try:
            while True:
                chunk = tap.read(int(FEED_S * TAP_RATE))
                if len(chunk) and self.asr_error is not None:
                    self._processed = tap.position / TAP_RATE  # recording goes on; the rest is done offline
                    continue
                if len(chunk):
                    try:
                        stream.feed(chunk)
                    except Exception as exc:
                        log.exception("%s: live transcription failed; recording continues", self.session_id)
                        self.asr_error = f"{type(exc).__name__}: {exc}"
                        continue
                    self._processed = float(getattr(stream, "processed", tap.position / TAP_RATE))
                    lag = tap.total_frames / TAP_RATE - self._processed
                    if lag > LAG_WARN_S and lag > warned + LAG_WARN_S:
                        warned = lag
                        log.warning("%s: transcription is %.0f s behind the recording; recording continues, "
                                    "the transcript will catch up", self.session_id, lag)
                    elif lag < LAG_WARN_S:
                        warned = 0.0
                    continue
                if rec.done.is_set() and tap.available == 0:
                    break
                time.sleep(0.1)
            if self.asr_error is None:
                try:
                    stream.finish()
                except Exception as exc:
                    log.exception("%s: live transcription failed at the end", self.session_id)
                    self.asr_error = f"{type(exc).__name__}: {exc}"
            self._processed = tap.position / TAP_RATE
        finally:
            if stream is not None and hasattr(stream, "close"):
                stream.close()
            self._indexer.close()
        self._ended()

    def _ended(self) -> None:
        rec = self.recorder
        if rec.error and rec.tap_frames == 0:
            raise ArchiveError(rec.error)
        if rec.error:
            self._alarm()
            self.error = rec.error
        self.end_reason = self._why_ended()
        if self.end_reason == "source_ended":
            log.warning("%s: the source ended by itself after %.1f s; the recording is closed with it",
                        self.session_id, rec.captured_seconds)

    def _close(self) -> None:
        arch, sid = self._archive, self.session_id
        arch.update_session(sid, status="finalising")
        audio_s = round(self.recorder.tap_frames / 16000, 3)
        if not audio_s:
            raise ArchiveError("nothing was recorded (stopped before the first audio arrived)")
        media = finish.close_media(arch, sid, self.actor, audio_s)
        duration = audio_s
        if self.plan.cameras:   # the other cameras' originals and the picture-in-picture copy
            from service import multicam

            for problem in multicam.close(arch, sid, self.actor, duration):
                log.warning("%s: %s", sid, problem)
        with self._state_lock:
            finals = list(self._finals)
        from asr.types import TranscribeOptions
        from core.transcript import Segment

        segments = [Segment.from_dict(d) for d in finals]
        if self.asr_error is not None and self.transcriber is not None:
            covered = max((s.end + finish.TAIL_GAP_S for s in segments), default=0.0)
            segments += finish.transcribe_tail(self.transcriber, self._paths.file(media.path), covered,
                                               TranscribeOptions(language=self.req.language,
                                                                 speakers=tuple(self.req.speakers)), len(segments))
        finish.freeze(arch, sid, segments, self.req.language, self.model, duration, self.actor, reason="live",
                      reproduce=self._live_record())
        arch.update_session(sid, status="complete", duration=duration)
        self._close_open_gaps(arch, duration)
        details = {"duration": duration, "segments": len(segments), "max_lag": round(self.max_lag, 1),
                   "ended": self.end_reason,
                   **{k: v for k, v in self.recorder.stats().items() if v is not None}}
        if self.error:
            details["recorder_error"] = self.error
        if self.asr_error:
            details["asr_error"] = self.asr_error[:300]
        arch.audit(self.actor, "record.complete", sid, details)
        arch.write_manifest(sid)
        finish.drop_working_files(self._paths)
        finish.reindex(self.home, arch, sid)

    def _fail(self, reason: str) -> None:
        self.error = reason
        with contextlib.suppress(Exception):
            self.recorder.stop()
            self._archive.update_session(self.session_id, status="failed", error=reason[:500])
            self._archive.audit(self.actor, "record.failed", self.session_id, {"reason": reason[:500]})
            self._archive.write_manifest(self.session_id)


MAX_VIDEO_DELAY = 5.0


def check_video_delay(delay: float, plan: Any) -> None:
    """A camera delay moves a separate video source onto the microphone's clock: refused where there is no
    separate video (one source carrying both keeps them in sync by its own timestamps)."""
    from core.errors import OptionError

    if not -MAX_VIDEO_DELAY <= delay <= MAX_VIDEO_DELAY:
        raise OptionError(f"--video-delay must lie between -{MAX_VIDEO_DELAY:g} and {MAX_VIDEO_DELAY:g} s",
                          code="video_delay_range")
    if delay and (plan.shared or plan.video is None):
        raise OptionError("--video-delay applies when audio and video come from separate sources "
                          "(a microphone and a camera); this recording has them in one source",
                          code="video_delay_shared")


def room_transport(home: Path, req: Any) -> Optional[str]:
    """The RTSP transport to ask the cameras for: the request's, else the room's `rtsp_transport` when the
    request records from that room's own camera or microphone, else None (auto)."""
    given = getattr(req, "rtsp_transport", None)
    if given or not req.room:
        return given
    from core.config import read

    room = read(home).rooms.get(req.room)
    if room is None or not room.rtsp_transport:
        return None
    return room.rtsp_transport if (req.video and req.video == room.video) or (req.audio and req.audio == room.audio) \
        else None


_start_lock = threading.Lock()


def refuse_busy_room(archive: Archive, room: Optional[str]) -> None:
    """A room records one session at a time: refused (409 room_busy) while a recording of that room is
    going on, here or in another process on this archive (`xunlu record --room`). A recording whose process
    died does not hold its room (recovery closes it)."""
    from archive.types import Conflict

    if not room:
        return
    with _registry_lock:
        here = [sid for sid, live in _registry.items() if live.req.room == room and not live._finished.is_set()]
    if not here:
        for session in archive.list(status="recording"):
            if session.room == room:
                lock = finish._lock_if_dead(archive.paths(session.id))
                if lock is None:
                    here.append(session.id)
                else:
                    lock.close()
    if here:
        raise Conflict(f"room {room} is recording session {here[0]}: stop it first", code="room_busy",
                       params={"session": here[0]})


def start_live(home: Path, archive: Archive, req: RecordRequest, transcriber: Any, actor: str,
               stream: Optional[StreamFactory] = None) -> LiveSession:
    """Check the request, open the session (status "recording") and start; returns at once.
    Raises OptionError/SourceError (bad request or source) before anything is created."""
    from asr.engine import check_language
    from capture import sources
    from core.errors import OptionError

    if req.duration is not None and req.duration <= 0:
        raise OptionError("--duration must be more than 0 seconds", code="duration_not_positive")
    if len(set(req.speakers)) != len(req.speakers):
        raise OptionError("--speakers has the same name twice", code="speakers_repeated")
    language = check_language(req.language)
    if language is None:
        raise OptionError("live transcription needs a language (zh, en, ...), not auto", code="live_needs_language")
    from service import multicam

    req = multicam.resolve(home, req)
    transport = room_transport(home, req)
    plan = sources.plan(req.audio, req.video, tuple(req.speakers), req.realtime, transport)
    plan = sources.with_cameras(plan, tuple(req.cameras), req.realtime, transport, req.video_delay)
    layout = multicam.check(plan, req.pip) if plan.cameras else None
    if plan.cameras and plan.cameras[0].delay != req.video_delay:   # the first camera's own delay
        req = replace(req, video_delay=plan.cameras[0].delay)
    if plan.cameras and req.clock:   # several cameras: the time goes into the picture-in-picture copy only
        req = replace(req, clock=False)
    check_video_delay(req.video_delay, plan)
    factory = stream or default_asr(transcriber)
    with _start_lock:   # one recording a room: checked, and the new one visible, before the next start looks
        refuse_busy_room(archive, req.room)
        cm = archive.new_session(actor, status="recording", case_id=req.case_id, room=req.room,
                                 officers=tuple(req.officers), suspect=req.suspect, speakers=tuple(req.speakers),
                                 source_name=plan.describe()[:200], language=language,
                                 started_at=datetime.now().astimezone().isoformat(timespec="milliseconds"))
        session = cm.__enter__()  # holds the session's lock until the session is closed (see LiveSession._work)
    try:
        live = LiveSession(home, session.id, req, plan, transcriber, actor, factory, cm)
        archive.audit(actor, "record.start", session.id, {"source": plan.describe()[:200],
                                                          "channels": plan.channels, "video": plan.has_video,
                                                          "clock": req.clock, "duration": req.duration,
                                                          "video_delay": req.video_delay,
                                                          **({"cameras": [c.name for c in plan.cameras]}
                                                             if plan.cameras else {})})
        if layout is not None:
            multicam.start(live._paths, plan, layout)
        with _registry_lock:
            _registry[session.id] = live
        live._start()
    except BaseException as exc:
        archive.update_session(session.id, status="failed", error=str(exc)[:500] or type(exc).__name__)
        cm.__exit__(None, None, None)
        raise
    return live


def recover_recordings(home: Path, archive: Archive, transcriber: Any, actor: str,
                       say: Callable[[str], None] = lambda _m: None) -> list[str]:
    """After a crash: close each dead recording's media from its segments, transcribe what the live ASR did
    not reach, mark it complete with an audit entry `session.recovered`. Returns the recovered ids."""
    return finish.recover(Path(home), archive, transcriber, actor, say)
