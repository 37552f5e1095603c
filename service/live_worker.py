"""The live transcription worker: one process per live session (`python -m service.live_worker`, its job as
the first line of its stdin; started by service/live_asr.py).

It reads the session's 16 kHz PCM tap at its own pace, feeds the streaming transcriber, appends every final
to the journal (fsync'd) and writes one JSON line per event on stdout: `ready` (the decoder's options),
`partial`, `final` (a line was appended), `progress` (seconds handled), `done`. A line "end" on stdin says
the recording has ended: the worker reads the tap to its end, finishes the stream and exits 0. Its stdin
closing without "end" means the server is gone: it exits at once (recovery will close the session).

Resuming: the checkpoint (`live/asr-state.json`) holds `settled`, the point of the audio before which every
final is in the journal. A worker started again feeds the tap from there, its times moved by that much;
a final it decodes again that begins inside a final the journal holds for the same channel is dropped.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, is_dataclass, replace
from pathlib import Path
from typing import Any, Optional

from service.live_asr import WorkerJob

log = logging.getLogger("xunlu.live.worker")
GRID = 1600          # a resumed stream starts on a 0.1 s boundary of the tap
DUPLICATE_SLACK_S = 0.1
CHECKPOINT_STEP_S = 0.5


class _Out:
    """JSON lines on stdout, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, event: dict) -> None:
        line = json.dumps(event, ensure_ascii=False)
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def _watch_stdin(ended: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "end":
            ended.set()
    if not ended.is_set():   # the server is gone without a word
        os._exit(3)


class Resume:
    """Where a (re)started worker begins: the checkpoint, and what the journal already holds."""

    def __init__(self, job: WorkerJob):
        from service.live_finish import read_journal

        journal = Path(job.journal)
        if journal.is_file() and journal.stat().st_size:
            with open(journal, "rb+") as f:   # a line torn by a crash stays a line of its own
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
        held = read_journal(journal)
        self.count = len(held)
        self.last_end: dict[int, float] = {}
        for seg in held:
            self.last_end[seg.channel] = max(self.last_end.get(seg.channel, 0.0), seg.end)
        settled = 0.0
        try:
            settled = float(json.loads(Path(job.state).read_text(encoding="utf-8"))["settled"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.frames = int(settled * 16000) // GRID * GRID
        self.offset = self.frames / 16000

    def duplicate(self, seg: Any) -> bool:
        """Decoded again: it begins inside, or ends by, the last final the journal holds on its channel."""
        held = self.last_end.get(seg.channel)
        return held is not None and (seg.start < held - DUPLICATE_SLACK_S or seg.end <= held + DUPLICATE_SLACK_S)


def _shift(seg: Any, by: float) -> Any:
    if not by:
        return seg
    words = tuple(replace(w, start=w.start + by, end=w.end + by) for w in seg.words)
    return replace(seg, start=seg.start + by, end=seg.end + by, words=words)


def _make_factory(job: WorkerJob):
    spec = job.spec
    if spec.factory:
        import importlib

        module, _, name = spec.factory.partition(":")
        return getattr(importlib.import_module(module), name)(**dict(spec.kwargs))
    from asr.pipeline import load_transcriber
    from asr.stream import LiveTranscriber, StreamOptions

    transcriber = load_transcriber(spec.model or "base", Path(job.home), spec.device, spec.compute_type)

    def make(language, channels, speakers, on_partial, on_final, hotwords=()):
        return LiveTranscriber(transcriber, StreamOptions(language=language, channels=channels,
                                                          speakers=tuple(speakers), hotwords=tuple(hotwords)),
                               on_partial, on_final)
    return make


def _checkpoint(path: Path, settled: float) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"settled": round(settled, 3)}), encoding="utf-8")
    os.replace(tmp, path)


def run(job: WorkerJob) -> int:
    from capture.tap import TAP_RATE, TapReader
    from service.live_finish import append_journal

    out = _Out()
    ended = threading.Event()
    threading.Thread(target=_watch_stdin, args=(ended,), name="xunlu-asr-stdin", daemon=True).start()
    resume = Resume(job)
    journal = Path(job.journal)
    next_id = [resume.count]
    appended = [False]          # a final since the last checkpoint

    def on_final(seg: Any) -> None:
        seg = _shift(seg, resume.offset)
        if resume.duplicate(seg):
            log.info("%s: %.2f-%.2f s is in the journal already; not written again", job.session_id,
                     seg.start, seg.end)
            return
        append_journal(journal, replace(seg, id=next_id[0]))
        next_id[0] += 1
        appended[0] = True
        out.send({"type": "final"})

    def on_partial(p: Any) -> None:
        out.send({"type": "partial", "channel": int(p.channel), "speaker": p.speaker,
                  "start": round(float(p.start) + resume.offset, 2), "end": round(float(p.end) + resume.offset, 2),
                  "text": p.text})

    stream = _make_factory(job)(job.language, job.channels, tuple(job.speakers), on_partial, on_final,
                                hotwords=tuple(job.hotwords))
    options = getattr(stream, "options", None)
    out.send({"type": "ready", "pid": os.getpid(), "resumed_at": resume.offset,
              "options": asdict(options) if is_dataclass(options) else None})
    if resume.offset:
        log.warning("%s: live transcription resumed at %.1f s (%d finals in the journal)", job.session_id,
                    resume.offset, resume.count)
    tap = TapReader(Path(job.tap), job.channels)
    tap.position = resume.frames
    state = Path(job.state)
    written: Optional[float] = None
    try:
        while True:
            chunk = tap.read(int(job.feed_s * TAP_RATE))
            if len(chunk):
                stream.feed(chunk)
                settled = getattr(stream, "settled", None)
                if settled is not None and (written is None or appended[0]
                                            or settled + resume.offset >= written + CHECKPOINT_STEP_S):
                    written, appended[0] = settled + resume.offset, False
                    _checkpoint(state, written)
                processed = float(getattr(stream, "processed", tap.position / TAP_RATE - resume.offset))
                out.send({"type": "progress", "processed": round(processed + resume.offset, 3)})
                continue
            if ended.is_set() and tap.available == 0:
                break
            time.sleep(0.05)
        stream.finish()
    finally:
        if hasattr(stream, "close"):
            stream.close()
    stats = dict(getattr(stream, "stats", {}) or {})
    cpu = os.times()
    stats["cpu_s"] = round(cpu.user + cpu.system, 3)
    out.send({"type": "done", "processed": round(tap.position / TAP_RATE, 3), "stats": stats})
    return 0


def main() -> int:
    # Ctrl-C in the terminal of `xunlu record` reaches the whole process group: the recorder then stops and
    # says "end"; the worker finishes the transcript rather than dying with the keystroke
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="xunlu-asr: %(levelname)s %(message)s")
    first = sys.stdin.readline()
    try:
        job = WorkerJob.from_json(first)
    except (ValueError, TypeError, KeyError) as exc:
        sys.stderr.write(f"xunlu-asr: no job on stdin ({exc}): this process is started by a live session\n")
        return 2
    return run(job)


if __name__ == "__main__":
    sys.exit(main())
