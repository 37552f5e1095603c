"""Benchmark: a long file-as-live recording while the CPU is busy; counts every audio frame.

    .venv/bin/python -m bench.capture [--minutes 30] [--source pulse|file] [--load 1] [--video] [--asr fake|real]
    .venv/bin/python -m bench.capture --room [--minutes 30]

`--room`: one interview room with two RTSP cameras and two microphones, a camera restarted on the way, the
picture-in-picture copy's encode (bench/capture_room.py says what it reports). Otherwise:

The source is an N-minute 48 kHz stereo recording with a 60 ms beep every 10 s (alternating channels),
made with ffmpeg (with --video: plus a 320x240 25 fps test picture, H.264).
- `--source pulse` (default when PulseAudio is there): the file is played into a PulseAudio null sink with
  paplay and recorded from the sink's monitor through PyAudio, the way a microphone is, so it measures the
  capture path that can drop frames: PortAudio callback -> bounded queue -> ffmpeg's stdin.
- `--source file`: ffmpeg reads the file at real speed itself (the drill mode).
`--load N` starts N processes that spin on the CPU for the whole run (besides whatever else runs).
ASR is a beep detector by default (no model; it still reads the whole 16 kHz tap); `--asr real` uses the
streaming Whisper transcriber (asr.stream) with the base model.

Reported (stdout: a table, then one JSON line): frames delivered by PyAudio and driver overflows, frames
dropped by the queue, frames written to ffmpeg vs the recording's length, the 16 kHz tap's frames, the
final MP4's audio samples and duration, beeps expected vs transcribed, the ASR's largest lag, wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import make_log

RATE = 48000
PERIOD = 10.0

log = make_log("bench/capture", clock=False)


def make_source(path: Path, seconds: float, video: bool) -> int:
    """Beeps at 5, 15, 25 ... s, on channel 0 then 1 in turn. Returns how many."""
    beep = f"between(mod(t-5\\,{PERIOD})\\,0\\,0.06)"
    left = f"if({beep}*lt(mod(floor((t-5)/{PERIOD})\\,2)\\,1)\\,0.4*sin(2*PI*1000*t)\\,0)"
    right = f"if({beep}*gte(mod(floor((t-5)/{PERIOD})\\,2)\\,1)\\,0.4*sin(2*PI*1000*t)\\,0)"
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
            f"aevalsrc='{left}|{right}':s={RATE}:c=stereo:d={seconds}"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:d={seconds}", "-c:v", "libx264",
                 "-preset", "ultrafast", "-c:a", "aac", "-b:a", "192k"]
    else:
        args += ["-c:a", "pcm_s16le"]
    subprocess.run(args + [str(path)], check=True)
    return int((seconds - 5 - 0.06) // PERIOD) + 1


def mp4_audio(path: Path) -> tuple[int, float]:
    """(audio samples, duration) of the final MP4 by decoding it."""
    import av

    samples = 0
    with av.open(str(path)) as c:
        for frame in c.decode(audio=0):
            samples += frame.samples
        duration = (c.duration or 0) / 1e6
    return samples, duration


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--source", choices=("pulse", "file"), default=None)
    ap.add_argument("--load", type=int, default=1, help="CPU-spinning processes during the run")
    ap.add_argument("--video", action="store_true", help="a video track too (encoded live with x264)")
    ap.add_argument("--asr", choices=("fake", "real"), default="fake")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--room", action="store_true", help="one room: two RTSP cameras and two microphones "
                                                         "(bench/capture_room.py)")
    args = ap.parse_args()
    if args.room:
        from bench.capture_room import run

        return run(args.minutes, args.keep)

    from tests.helpers.capture_fakes import beep_stream, ensure_pulse, play

    source = args.source
    if source is None:
        source = "pulse" if ensure_pulse() is None else "file"
    if source == "pulse":
        reason = ensure_pulse()
        if reason:
            log(reason)
            return 2
        os.environ["PULSE_SOURCE"] = "xunlu_test.monitor"
        os.environ["PULSE_SINK"] = "xunlu_test"
    seconds = args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="xunlu-bench-capture-"))
    home = work / "home"
    src = work / ("source.mp4" if args.video and source == "file" else "source.wav")
    log(f"making a {args.minutes:g}-minute source in {work}")
    beeps = make_source(src, seconds, args.video and source == "file")

    from archive.store import open_archive
    from service.live import RecordRequest, start_live

    transcriber, stream = None, beep_stream(threshold=0.05)
    if args.asr == "real":
        from asr.pipeline import load_transcriber

        transcriber, stream = load_transcriber("base", home, "cpu", "int8"), None
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    archive = open_archive(home)
    try:
        t = time.monotonic()
        if source == "pulse":
            video = "lavfi:testsrc2=size=320x240:rate=25" if args.video else None
            req = RecordRequest(audio="pulse", video=video, speakers=("officer", "suspect"),
                                duration=seconds + 2.0)
            live = start_live(home, archive, req, transcriber, "bench", stream=stream)
            live.recorder.started.wait(30)
            player = play(src)
        else:
            req = RecordRequest(audio=str(src), speakers=("officer", "suspect"))
            live = start_live(home, archive, req, transcriber, "bench", stream=stream)
            player = None
        next_note = 60.0
        while not live.wait(5):
            el = time.monotonic() - t
            if el >= next_note:
                st = live.snapshot()["status"]
                log(f"{el / 60:.0f} min: recorded {st.get('elapsed', 0):.0f} s, ASR lag {st.get('lag', 0):.1f} s, "
                    f"{live.recorder.stats()}")
                next_note += 60.0
        recorded_wall = time.monotonic() - t
        stats = live.recorder.stats()
        session = live.stop()
        total_wall = time.monotonic() - t
        if player is not None:
            player.wait(30)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    folder = archive.folder(session.id)
    transcript = json.loads((folder / "transcripts" / "v1.json").read_text()) if session.transcripts else {}
    segs = transcript.get("segments", [])
    complete = next((e.details for e in archive.audit_entries(session.id) if e.action == "record.complete"), {})
    samples, mp4_duration = mp4_audio(folder / session.file("original").path) if session.file("original") \
        else (0, 0.0)
    rate = stats.get("rate") or RATE
    result = {
        "source": source, "minutes": args.minutes, "load_processes": args.load, "video": args.video,
        "asr": args.asr, "cores": os.cpu_count(), "status": session.status, "error": session.error,
        "recording_seconds": session.duration, "rate": rate,
        "pyaudio_frames": stats.get("frames"), "driver_overflows": stats.get("overflows"),
        "queue_dropped_frames": stats.get("dropped"), "frames_written": stats.get("frames_written"),
        "expected_frames": round((session.duration or 0) * rate),
        "tap_frames_16k": complete.get("tap_frames"), "mp4_audio_samples": samples,
        "mp4_duration": round(mp4_duration, 3), "beeps_in_source": beeps, "beeps_transcribed": len(segs),
        "max_asr_lag_s": complete.get("max_lag"), "wall_recording_s": round(recorded_wall, 1),
        "wall_total_s": round(total_wall, 1),
    }
    print(f"{'source':24} {source} ({'paplay -> null sink -> PyAudio' if source == 'pulse' else 'ffmpeg -re'})")
    for key in ("minutes", "load_processes", "recording_seconds", "pyaudio_frames", "driver_overflows",
                "queue_dropped_frames", "frames_written", "expected_frames", "tap_frames_16k",
                "mp4_audio_samples", "mp4_duration", "beeps_in_source", "beeps_transcribed", "max_asr_lag_s",
                "wall_recording_s", "wall_total_s", "status"):
        print(f"{key:24} {result[key]}")
    print(json.dumps(result))
    archive.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = session.status == "complete" and not stats.get("overflows") and not stats.get("dropped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
