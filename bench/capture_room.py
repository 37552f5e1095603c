"""bench/capture.py --room: one interview room as it is wired, for N minutes.

Two RTSP cameras (GStreamer's RTSP server, tests/helpers/rtsp_server.py, each serving the live picture of one
flash-and-beep sender, tests/helpers/flash_sender.py) and two microphones (the sender's beep played into a
two-channel PulseAudio null sink, recorded from its monitor through PyAudio: the two channels of one
interface, one a speaker). A flash and a beep every second, at the same instants on both cameras and in the
microphones. A third of the way in, the close-up camera's server is killed and started again 5 s later.

Reported (stdout: a table, then one JSON line):
- audio: PyAudio frames, driver overflows, frames dropped by the queue, frames written vs the recording's
  length, the final MP4's audio samples;
- each camera: frames in its original; frames missing or extra, counted by the sender's own numbering (it
  flashes every 25th frame: every second between two flashes must hold 25 frames, however late they came),
  outside the reconnection gap; frames short of the wall clock (25 a second over the original's span, less
  those it holds: the sender's own stalls under CPU load count here, not as missing; `sender_late_s` says
  how far its flashes fell behind one a second); for the close-up, the frames the gap took and the stand-in's
  black frames in their place;
- the sound card's drift off the system clock and the frames the recorder added (negative: took) to hold
  the sound on it (capture/clock_lock.py);
- camera-to-camera offset (each flash in the wide original against the close-up's: median, largest) and
  audio-to-video offset (each flash against its beep, per camera: median, largest, per 5 minutes, and the
  furthest from the first minute's median: what is left after a room's one calibration);
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
from dataclasses import dataclass
from pathlib import Path

from bench.common import make_log

SINK = "xunlu_bench_room"
FPS = 25
FLASH_PERIOD_S = 1.0
BLACK = 40            # mean brightness under which a frame of the close-up (grey, 0x505050) is the stand-in
RESTART_AFTER_S = 5.0

log = make_log("bench/capture --room", clock=False)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a running process (Linux /proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pictures(path: Path) -> list[tuple[float, float]]:
    """(time, mean brightness 0-255) of each frame of a file's picture."""
    import av

    with av.open(str(path)) as c:
        return [(float(f.time), float(f.to_ndarray(format="gray").mean())) for f in c.decode(video=0)]


def _flash_starts(pictures: list[tuple[float, float]]) -> list[int]:
    """The index of each flash's first frame (as tests/helpers/capture_fakes.py `onsets` finds them)."""
    return [i for i in range(1, len(pictures)) if pictures[i][1] > 128 >= pictures[i - 1][1]]


@dataclass(frozen=True)
class CameraFrames:
    """What one camera's original holds, counted by the sender's own numbering: it draws a flash every
    FPS-th frame, so a second of its picture between two flashes has FPS frames however late they came."""

    frames: int
    first_s: float        # its first frame's time in the recording
    missing: int          # frames short of FPS between two flashes, outside the gap: lost on the way
    extra: int            # frames over FPS between two flashes (a frame doubled), outside the gap
    short_of_clock: int   # frames a 25 fps camera sends in the original's span on the wall clock, less those
                          # it holds (outside the gap): the sender's stalls count here, not in `missing`
    away: int             # the camera's frames the gap took (its last before it to its first after it)
    stand_in: int         # plain black frames in its place (capture/stand_in.py)
    sender_late_s: float  # how far the sender's flashes fell behind one a second, outside the gap


def _camera_frames(pictures: list[tuple[float, float]], gap: tuple[float, float], grey: bool) -> CameraFrames:
    """`grey`: the camera's background is grey, so that a black frame is the stand-in (the wide camera's
    background is black: it is not restarted)."""
    if len(pictures) < 2:
        return CameraFrames(len(pictures), pictures[0][0] if pictures else 0.0, 0, 0, 0, 0, 0, 0.0)
    times = [t for t, _mean in pictures]
    black = [i for i, (_t, mean) in enumerate(pictures) if mean < BLACK] if grey else []
    away = 0
    if black:
        before, after = max(0, black[0] - 1), min(len(times) - 1, black[-1] + 1)
        away = round((times[after] - times[before]) * FPS) - 1
    starts = _flash_starts(pictures)
    counts = [(times[a], times[b], b - a) for a, b in zip(starts, starts[1:])
              if not (times[a] < gap[1] + 1 and times[b] > gap[0] - 1)]
    missing = sum(max(0, FPS - n) for _a, _b, n in counts)
    extra = sum(max(0, n - FPS) for _a, _b, n in counts)
    camera = len(times) - len(black)
    short = round((times[-1] - times[0]) * FPS) + 1 - camera - away
    late = sum(b - a - FLASH_PERIOD_S for a, b, _n in counts)
    return CameraFrames(len(times), times[0], missing, extra, short, away, len(black), round(late, 3))


def _offsets(ours: list[float], theirs: list[float]) -> dict:
    found = [min((o - t for t in theirs), key=abs) for o in ours] if theirs else []
    if not found:
        return {"n": 0}
    def ms(value: float) -> float:
        return round(1000 * float(value), 1)

    return {"n": len(found), "median_ms": ms(statistics.median(found)), "largest_ms": ms(max(found, key=abs)),
            "first_min_ms": ms(statistics.median(found[:60])), "last_min_ms": ms(statistics.median(found[-60:])),
            # the median of each 5 minutes (a flash a second): a drift shows as a trend, a step as a jump
            "per_5_min_ms": [ms(statistics.median(found[i:i + 300])) for i in range(0, len(found), 300)],
            # calibrated once on the first minute (a room's video_delay): the furthest any flash is from it
            "calibrated_largest_ms": ms(max(abs(f - statistics.median(found[:60])) for f in found))}


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
    none = CameraFrames(0, 0.0, 0, 0, 0, 0, 0, 0.0)
    wide_frames = _camera_frames(_pictures(files["original"]), (0.0, 0.0), False) if "original" in files else none
    close_frames = _camera_frames(_pictures(files["video2"]), gap, True) if "video2" in files else none
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
        "queue_dropped_frames": stats.get("dropped"),
        "audio_clock_ppm": stats.get("audio_clock_ppm"), "audio_clock_adjusted": stats.get("audio_clock_adjusted"),
        "frames_written": stats.get("frames_written"),
        "expected_frames": round((session.duration or 0) * rate), "mp4_audio_samples": samples,
        "wide_frames": wide_frames.frames, "wide_frames_missing": wide_frames.missing,
        "wide_frames_extra": wide_frames.extra, "wide_frames_short_of_clock": wide_frames.short_of_clock,
        "closeup_frames": close_frames.frames,
        "closeup_frames_missing_outside_gap": close_frames.missing, "closeup_frames_extra": close_frames.extra,
        "closeup_frames_short_of_clock": close_frames.short_of_clock,
        "closeup_frames_away_in_gap": close_frames.away, "closeup_stand_in_frames": close_frames.stand_in,
        "sender_late_s": wide_frames.sender_late_s,
        "wide_first_frame_s": round(wide_frames.first_s, 3),
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
