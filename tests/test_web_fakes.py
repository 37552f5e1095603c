"""Support for the API and browser tests (no tests here): sessions seeded into an archive with real media and
a given transcript, and a scripted stand-in for api/live.py with the same interface (start_live, get_live,
LiveSession.subscribe/unsubscribe/snapshot/stop/wait) that also writes real HLS segments."""
from __future__ import annotations

import contextlib
import queue
import shutil
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

from archive.fsutil import sha256_file
from archive.store import Archive
from archive.transcripts import add_version
from archive.types import MediaFile
from core.transcript import Segment, Transcript, Word
from service.live import RecordRequest


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def make_video(path: Path, seconds: float, size: str = "320x180", rate: int = 10, tone: bool = True) -> Path:
    """An H.264/AAC fast-start MP4 (a test pattern and a tone)."""
    audio = f"sine=frequency=440:sample_rate=16000:duration={seconds}" if tone else \
        f"anullsrc=r=16000:cl=mono:d={seconds}"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size={size}:rate={rate}", "-f", "lavfi", "-i", audio,
           "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-b:a", "48k", "-movflags", "+faststart", str(path))
    return path


def words_of(text: str, start: float, end: float) -> tuple[Word, ...]:
    """One word per character, spread evenly: word times that search can land on."""
    step = (end - start) / max(1, len(text))
    return tuple(Word(round(start + i * step, 2), round(start + (i + 1) * step, 2), ch, 0.9)
                 for i, ch in enumerate(text))


def script(lines: Sequence[tuple[float, float, str, str]]) -> tuple[Segment, ...]:
    """(start, end, speaker, text) -> segments with word times; channel 0 = first speaker seen."""
    speakers: list[str] = []
    out = []
    for i, (start, end, speaker, text) in enumerate(lines):
        if speaker not in speakers:
            speakers.append(speaker)
        out.append(Segment(i, start, end, text, words_of(text, start, end), speaker, speakers.index(speaker)))
    return tuple(out)


INTERVIEW = script([
    (1.0, 3.0, "officer", "你叫什么名字"),
    (3.5, 5.5, "suspect", "我叫王小明"),
    (6.0, 8.5, "officer", "八月十一日晚上你在哪里"),
    (9.0, 12.0, "suspect", "我在港口路的仓库一直到九点"),
    (12.5, 14.5, "officer", "还有谁和你在一起"),
    (15.0, 17.5, "suspect", "没有别人我一个人在那里"),
])


def seed_session(archive: Archive, home: Path, media: Path, segments: Sequence[Segment], duration: float,
                 case_id: Optional[str] = None, room: Optional[str] = None, officers: Sequence[str] = (),
                 suspect: Optional[str] = None, started_at: Optional[str] = None) -> str:
    """Import `media` with a transcript made of `segments`, and index it."""
    from service.importing import ImportRequest, import_file
    from service.indexing import index_session

    def transcribe(_path: Path, _names: Sequence[str]) -> Transcript:
        return Transcript(language="zh", model="scripted", duration=duration, segments=tuple(segments))

    req = ImportRequest(input=media, case_id=case_id, room=room, officers=tuple(officers), suspect=suspect,
                        started_at=started_at)
    session = import_file(archive, req, transcribe, "test")
    index_session(home, archive, session.id)
    return session.id


class ScriptedTranscriber:
    """Stands in for asr.engine.Transcriber in uploads: the same `transcribe(path, options)` shape."""

    def __init__(self, segments: Sequence[Segment]):
        self.segments = tuple(segments)

    def transcribe(self, path, options):
        from asr.types import TranscriptionInfo

        end = max((s.end for s in self.segments), default=0.0)
        return iter(self.segments), TranscriptionInfo("zh", 1.0, end + 0.5, 1, end, "scripted")


def make_hls(folder: Path, source: Path) -> None:
    """A live-style HLS rendition of `source` (2 s MPEG-TS segments, an EVENT playlist)."""
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg("-i", str(source), "-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "event",
           "-hls_segment_filename", str(folder / "seg%05d.ts"), str(folder / "index.m3u8"))


FakeRequest = RecordRequest  # the fake backend takes the real request type


class FakeLiveSession:
    """Plays `segments` as if spoken now: a partial half-way through each, then the final; status events."""

    def __init__(self, backend: "FakeLive", archive: Archive, req: FakeRequest, actor: str):
        self.backend = backend
        self.archive = archive
        self.actor = actor
        self.req = req
        self._birth = archive.new_session(actor, status="recording", case_id=req.case_id, room=req.room,
                                          officers=req.officers, suspect=req.suspect, speakers=req.speakers,
                                          started_at=datetime.now().astimezone().isoformat(timespec="seconds"),
                                          source_name="live")
        self.session_id = self._birth.__enter__().id
        self.folder = archive.folder(self.session_id)
        if backend.media is not None:
            make_hls(self.folder / "live", backend.media)
        self.subscribers: list[queue.Queue] = []
        self.finals: list[dict] = []
        self.partials: dict[str, dict] = {}
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self.stopped_session = None
        self.thread = threading.Thread(target=self._play, daemon=True)
        self.thread.start()

    # -- the interface --------------------------------------------------------------------------------
    def subscribe(self) -> "queue.Queue[dict]":
        q: queue.Queue = queue.Queue()
        with self._lock:
            self.subscribers.append(q)
        return q

    def unsubscribe(self, q) -> None:
        with self._lock:
            if q in self.subscribers:
                self.subscribers.remove(q)

    def snapshot(self) -> dict:
        with self._lock:
            return {"segments": list(self.finals), "partials": dict(self.partials),
                    "status": {"elapsed": round(self.elapsed, 2), "lag": 0.1, "recording": not self._stop.is_set()}}

    def stop(self):
        with self._lock:
            first = not self._stop.is_set()
            self._stop.set()
        if first:
            self.thread.join(10)
            self._finish()
        self._done.wait(30)
        return self.archive.get(self.session_id)

    def wait(self, timeout=None) -> bool:
        return self._done.wait(timeout)

    # -- the play ------------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _emit(self, event: dict) -> None:
        with self._lock:
            targets = list(self.subscribers)
        for q in targets:
            q.put(event)

    def _sleep_until(self, t: float) -> bool:
        while self.elapsed < t:
            if self._stop.wait(min(0.2, max(0.0, t - self.elapsed))):
                return False
            self._emit({"type": "status", "elapsed": round(self.elapsed, 2), "lag": 0.1, "recording": True})
        return True

    def _play(self) -> None:
        speed = self.backend.speed
        for seg in self.backend.segments:
            middle = seg.start + (seg.end - seg.start) / 2
            if not self._sleep_until(middle / speed):
                return
            partial = {"type": "partial", "channel": seg.channel, "speaker": seg.speaker, "start": seg.start,
                       "end": middle, "text": seg.text[: max(1, len(seg.text) // 2)]}
            with self._lock:
                self.partials[str(seg.channel)] = partial
            self._emit(partial)
            if not self._sleep_until(seg.end / speed + 0.3):
                return
            final = seg.to_dict()
            with self._lock:
                self.finals.append(final)
                self.partials.pop(str(seg.channel), None)
            self._emit({"type": "final", "segment": final})
        while self._sleep_until(self.elapsed + 0.5):
            pass

    def _finish(self) -> None:
        sid = self.session_id
        duration = round(max(self.elapsed, max((s["end"] for s in self.finals), default=0.0)), 2)
        if self.backend.media is not None:
            rel = "original/recording.mp4"
            (self.folder / "original").mkdir(exist_ok=True)
            shutil.copyfile(self.backend.media, self.folder / rel)
            self.archive.add_media(sid, MediaFile("original", rel, sha256_file(self.folder / rel),
                                                  (self.folder / rel).stat().st_size))
            duration = self.backend.media_seconds
        segments = tuple(Segment.from_dict(s) for s in self.finals)
        self.archive.update_session(sid, status="finalising", duration=duration, language="zh")
        add_version(self.archive, sid, Transcript("zh", "scripted-live", duration, segments), "asr", self.actor,
                    reason="live")
        self.archive.update_session(sid, status="complete")
        self.archive.write_manifest(sid)
        from service.indexing import index_session

        index_session(self.backend.home, self.archive, sid)
        with contextlib.suppress(Exception):
            self._birth.__exit__(None, None, None)
        self.backend.running.pop(sid, None)
        self._done.set()
        self._emit({"type": "stopped", "session": sid})


class FakeLive:
    """The live backend the app calls: start_live / get_live / request_type."""

    def __init__(self, home: Path, segments: Sequence[Segment] = INTERVIEW, speed: float = 1.0,
                 media: Optional[Path] = None, media_seconds: float = 0.0):
        self.home = home
        self.segments = tuple(segments)
        self.speed = speed
        self.media = media
        self.media_seconds = media_seconds
        self.running: dict[str, FakeLiveSession] = {}
        self.requests: list[FakeRequest] = []

    def request_type(self):
        return FakeRequest

    def start_live(self, home, archive, req, transcriber, actor):
        self.requests.append(req)
        live = FakeLiveSession(self, archive, req, actor)
        self.running[live.session_id] = live
        return live

    def get_live(self, sid: str):
        return self.running.get(sid)
