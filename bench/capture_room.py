"""bench/capture.py --room: one interview room as it is wired, for N minutes.

Two RTSP cameras (GStreamer's RTSP server, tests/helpers/rtsp_server.py, each serving the live picture of one
flash-and-beep sender, tests/helpers/flash_sender.py) and two microphones (the sender's beep played into a
two-channel PulseAudio null sink, recorded from its monitor through PyAudio: the two channels of one
interface, one a speaker). A flash and a beep every second, at the same instants on both cameras and in the
microphones. A third of the way in, the close-up camera's server is killed and started again 5 s later.

Reported (stdout: a table, then one JSON line):
- audio: PyAudio frames, driver overflows, frames dropped by the queue, frames written vs the recording's
  length, the final MP4's audio samples;
- each camera: frames in its original, frames missing (a step between two frames of more than 1.5 frame
  times, counted in frame times) outside the reconnection gap, and inside it;
- camera-to-camera offset (each flash in the wide original against the close-up's: median, largest) and
  audio-to-video offset (each flash against its beep, per camera: median, largest; not calibrated);
- the reconnection: seconds from the camera's server being started again to the recording having its
  picture back, and the gap the audit trail keeps;
- the picture-in-picture copy: made again from the originals, its encode's CPU seconds and wall seconds per
  minute of recording on this machine's cores;
- CPU seconds of the recorder's ffmpeg (sound + first camera) and the close-up camera's ffmpeg.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import make_log

SINK = "xunlu_bench_room"
FPS = 25
RESTART_AFTER_S = 5.0

log = make_log("bench/capture --room", clock=False)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a running process (Linux /proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _frame_times(path: Path) -> list[float]:
    import av

    with av.open(str(path)) as c:
        return [float(p.pts * p.time_base) for p in c.demux(video=0) if p.pts is not None]


def _missing(times: list[float], gap: tuple[float, float]) -> tuple[int, int]:
    """(frames missing outside the gap, inside it): the frames a 25 fps camera sends between the original's
    first and last frame, less those it holds; inside the gap, the steps of more than 1.5 frame times."""
    times = sorted(times)
    if len(times) < 2:
        return 0, 0
    total = round((times[-1] - times[0]) * FPS) + 1 - len(times)
    inside = sum(round((b - a) * FPS) - 1 for a, b in zip(times, times[1:])
                 if b - a > 1.5 / FPS and b > gap[0] and a < gap[1])
    return total - inside, inside


def _offsets(ours: list[float], theirs: list[float]) -> dict:
    found = [min((o - t for t in theirs), key=abs) for o in ours] if theirs else []
    if not found:
        return {"n": 0}
    def ms(value: float) -> float:
        return round(1000 * float(value), 1)

    return {"n": len(found), "median_ms": ms(statistics.median(found)), "largest_ms": ms(max(found, key=abs)),
            "first_min_ms": ms(statistics.median(found[:60])), "last_min_ms": ms(statistics.median(found[-60:]))}


def run(minutes: float, keep: bool = False) -> int:
    from archive.store import open_archive
    from capture.composite import Caption, make_composite
    from capture.sources import CameraSpec
    from core.cameras import PipLayout
    from service.live import RecordRequest, start_live
    from tests.helpers.capture_fakes import beep_stream, ensure_pulse, onsets, remove_sink
    from tests.helpers.flash_sender import FlashSender
    from tests.helpers.rtsp_server import RtspCamera, gst_rtsp_missing

    reason = gst_rtsp_missing() or ensure_pulse(SINK)
    if reason:
        log(reason)
        return 2
    os.environ["PULSE_SOURCE"] = f"{SINK}.monitor"
    seconds = minutes * 60
    work = Path(tempfile.mkdtemp(prefix="xunlu-bench-room-"))
    home = work / "home"
    archive = open_archive(home)
    sender = FlashSender(cameras=2, pulse_sink=SINK).start()
    cameras = [RtspCamera(None, live_port=port).start() for port in sender.video_ports]
    cpu = {}
    try:
        specs = (CameraSpec("全景", cameras[0].url), CameraSpec("特写", cameras[1].url))
        req = RecordRequest(audio="pulse", speakers=("officer", "suspect"), cameras=specs, duration=seconds,
                            room="讯问室1", case_id="BENCH-1", pip=PipLayout())
        log(f"recording {minutes:g} min: 2 RTSP cameras + a 2-channel microphone, in {work}")
        live = start_live(home, archive, req, None, "bench", stream=beep_stream(threshold=0.05))
        events = live.subscribe()
        kill_at, restarted_at, back_after = seconds / 3, None, None
        procs = {}
        next_note = 60.0
        while not live.wait(0.2):
            rec = live.recorder
            for role, proc in [("recorder", rec._proc), *((c.camera.role, c._proc) for c in rec.cameras)]:
                if proc is not None and role not in procs:
                    procs[role] = proc.pid
            cpu.update({k: max(cpu.get(k, 0.0), _cpu_seconds(pid)) for k, pid in procs.items()})
            at = rec.captured_seconds
            if restarted_at is None and at >= kill_at:
                cameras[1].kill()
                log(f"{at:.0f} s: the close-up camera's server killed; started again in {RESTART_AFTER_S:g} s")
                time.sleep(RESTART_AFTER_S)
                cameras[1].start()
                restarted_at = time.monotonic()
            while not events.empty():
                event = events.get_nowait()
                if event.get("code") == "source_back" and restarted_at is not None and back_after is None:
                    back_after = time.monotonic() - restarted_at
            if at >= next_note:
                log(f"{at / 60:.0f} min recorded, {rec.stats()['source_gaps']} gap(s)")
                next_note += 60.0
        stats = live.recorder.stats()
        session = live.stop()
    finally:
        for camera in cameras:
            camera.kill()
        sender.stop()
        remove_sink(SINK)
    folder = archive.folder(session.id)
    files = {m.role: folder / m.path for m in session.media}
    gaps = [e.details for e in archive.audit_entries(session.id) if e.action == "record.gap"]
    gap = (gaps[0]["from"], gaps[0]["to"]) if gaps else (0.0, 0.0)
    wide, beeps = onsets(files["original"]) if "original" in files else ([], [])
    close, _ = onsets(files["video2"]) if "video2" in files else ([], [])
    close_outside_gap = [f for f in close if not gap[0] - 1 < f < gap[1] + 1]
    wide_outside_gap = [f for f in wide if not gap[0] - 1 < f < gap[1] + 1]
    frames = {role: _frame_times(files[role]) for role in ("original", "video2") if role in files}
    missing = {role: _missing(times, gap if role == "video2" else (0.0, 0.0)) for role, times in frames.items()}
    # the picture-in-picture encode, again, measured alone
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    make_composite(files["original"], files["video2"], PipLayout(), Caption(time.time(), "讯问室1", "BENCH-1"),
                   work / "pip-again.mp4", session.duration)
    pip_wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    pip_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    from bench.capture import mp4_audio

    samples, _duration = mp4_audio(files["original"])
    rate = stats.get("rate") or 48000
    per_min = 60.0 / max(1.0, session.duration or 1.0)
    result = {
        "mode": "room", "minutes": minutes, "cores": os.cpu_count(), "status": session.status,
        "error": session.error, "recording_seconds": session.duration, "media": sorted(files),
        "pyaudio_frames": stats.get("frames"), "driver_overflows": stats.get("overflows"),
        "queue_dropped_frames": stats.get("dropped"), "frames_written": stats.get("frames_written"),
        "expected_frames": round((session.duration or 0) * rate), "mp4_audio_samples": samples,
        "wide_frames": len(frames.get("original", [])), "wide_frames_missing": missing.get("original", (0, 0))[0],
        "closeup_frames": len(frames.get("video2", [])),
        "closeup_frames_missing_outside_gap": missing.get("video2", (0, 0))[0],
        "closeup_frames_missing_in_gap": missing.get("video2", (0, 0))[1],
        "wide_first_frame_s": round(min(frames.get("original", [0.0])), 3),
        "camera_to_camera": _offsets(wide_outside_gap, close_outside_gap),
        "audio_to_wide": _offsets(wide, beeps), "audio_to_closeup": _offsets(close_outside_gap, beeps),
        "reconnect_after_restart_s": None if back_after is None else round(back_after, 2),
        "gap": gaps[0] if gaps else None,
        "pip_cpu_s_per_min": round(pip_cpu * per_min, 2), "pip_wall_s_per_min": round(pip_wall * per_min, 2),
        "recorder_cpu_s_per_min": round(cpu.get("recorder", 0.0) * per_min, 2),
        "closeup_cpu_s_per_min": round(cpu.get("video2", 0.0) * per_min, 2),
    }
    for key, value in result.items():
        if key != "gap":
            print(f"{key:36} {value}")
    print(json.dumps(result, ensure_ascii=False))
    archive.close()
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = session.status == "complete" and not stats.get("overflows") and not stats.get("dropped")
    return 0 if ok else 1
