"""Benchmark: peak memory of getting a long recording ready for Whisper (decode, channel split, crosstalk gate,
VAD), the whole decoded audio in memory against the streamed path (issue 18, "decoding streamed, not whole").

    .venv/bin/python -m bench.decode [--minutes 20,120] [--stereo-minutes 20] [--quick] [--seed N] [--keep]

Test recordings are built from the shared AISHELL clips (or $XUNLU_SPEECH_DIR), written a piece at a time as
16 kHz 16-bit WAV: one mono file per `--minutes` value (sentences with 0.5-2 s pauses, the clip pool reused
as needed), and one two-channel interview of `--stereo-minutes` (officer and suspect take turns, each heard
on the other microphone 18 dB lower and 3 ms later). Each measurement runs in a fresh child process, which
reports its peak resident set (VmHWM of /proc/self/status) and the same figure just before the work (Python,
numpy, PyAV and the Silero VAD loaded), so the difference is what the work itself held:

  - whole: the audio decoded into one in-memory array (as asr/audio.py did before), then, for mono, the VAD
    as it was called before: faster-whisper's `get_speech_timestamps` on the whole channel (which pads it
    and rebuilds it with each window's context); for two channels, `split_channels` on the in-memory array
    (what `Transcriber.transcribe_array` does with an array it is handed).
  - streamed: `asr.audio.load` (frames to a temporary file, a memmap of it back) and `split_channels` in
    place, exactly what `Transcriber.transcribe` does before its first segment.

Whisper's own decoding is left out (hours of it on 2 cores). Both paths must find the same speech regions,
sample for sample: a hash of them is printed beside each figure. Progress goes to stderr; stdout gets the
table and, last, one JSON line with every figure.

Run of 2026-12-06 (defaults, 2 shared cores, load average about 5; baseline VmHWM 95 MB in every child):

    recording     decoded   whole: peak / work   streamed: peak / work   same regions
    20 min mono     73 MB      497 / 401 MB          160 / 64 MB             yes (133)
    2 h mono       440 MB    1,688 / 1,592 MB        151 / 56 MB             yes (801)
    20 min 2ch     146 MB      450 / 354 MB          161 / 66 MB             yes (170)

The streamed path's work space is the same for 20 minutes and 2 hours (a VAD batch, ONNX Runtime's space for
it, a gate piece). The two-channel "whole" row already uses the piecewise gate on the in-memory array; the
gate as it was before (float64 copies and FFTs of whole channels), measured once on the same 20-minute file
with the previous asr/vad.py and asr/audio.py, peaked at 2,040 MB (work 1,945 MB).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Optional

import numpy as np

from bench.common import ROOT, SPEECH_DIR, SR, make_log, read_pcm16, require_speech

log = make_log("bench")
PIECE_S = 60          # the test files are written a minute at a time


# -- test recordings (written a piece at a time: the parent stays small too) ---------------------------------
def clip_stream(seed: int):
    """int16 AISHELL clips in a seeded order, the pool reshuffled when used up, forever."""
    clips = sorted((SPEECH_DIR / "aishell").glob("*.wav"))
    rng = random.Random(seed)
    cache: dict[Path, np.ndarray] = {}
    while True:
        order = clips[:]
        rng.shuffle(order)
        for path in order:
            if path not in cache:
                cache[path] = read_pcm16(path)
            yield cache[path], rng.uniform(0.5, 2.0)


def write_recording(path: Path, minutes: float, channels: int, seed: int) -> float:
    """A `channels`-channel WAV of exactly `minutes`; returns its seconds. Two channels: the talker changes
    with every sentence and is heard on the other channel at 1/8 (-18 dB), 48 samples (3 ms) later."""
    total = int(round(minutes * 60 * SR))
    piece = PIECE_S * SR
    clips = clip_stream(seed)
    pending = np.zeros((channels, 0), dtype=np.float32)   # audio placed past the current piece
    written = 0
    talker = 0
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(SR)
        while written < total:
            size = min(piece, total - written)
            while pending.shape[1] < size:
                clip, pause = next(clips)
                x = clip.astype(np.float32) / 32768.0
                gap = int(pause * SR)
                add = np.zeros((channels, gap + x.shape[0] + 48), dtype=np.float32)
                add[talker, gap:gap + x.shape[0]] = x
                if channels == 2:
                    add[1 - talker, gap + 48:gap + 48 + x.shape[0]] += x / 8
                    talker = 1 - talker
                pending = np.concatenate([pending, add], axis=1)
            out, pending = pending[:, :size], pending[:, size:]
            w.writeframes((np.clip(out.T, -1, 1) * 32767).round().astype("<i2").tobytes())
            written += size
    return total / SR


# -- one measurement, in a child process -----------------------------------------------------------------------
def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, path: str, channels: int) -> dict:
    """Decode and split `path` one way; the figures as a dict (printed as JSON by --child)."""
    import resource

    from asr import audio as audio_io
    from asr.buffer import chunks, release
    from asr.channels import split_channels
    from asr.types import TranscribeOptions
    from asr.vad import merge_spans, pad_regions, speech_regions

    speech_regions(np.full(SR, 0.1, dtype=np.float32))    # the VAD model loaded before the baseline
    import av  # noqa: F401  (loaded by audio_io on first use)

    speakers = ("officer", "suspect") if channels == 2 else ()
    options = TranscribeOptions(language="zh", speakers=speakers)
    base = vm_hwm_mb()
    t0 = time.perf_counter()
    if mode == "streamed":
        _info, samples = audio_io.load(path)
        found = [(ch.index, ch.regions) for ch in split_channels(samples, options, in_place=True)]
    else:
        _info, streamed = audio_io.load(path)     # then copied into memory a piece at a time, as one array
        samples = np.empty(streamed.shape, dtype=np.float32)
        for a, b in chunks(streamed.shape[1], 60 * SR):
            samples[:, a:b] = streamed[:, a:b]
            release(streamed[:, a:b])
        del streamed
        if channels == 1:
            from faster_whisper.vad import VadOptions, get_speech_timestamps

            track = samples[0]
            assert float(np.max(np.abs(track))) >= 1e-4
            opts = VadOptions(threshold=options.vad_threshold, min_silence_duration_ms=300, speech_pad_ms=0,
                              max_speech_duration_s=30.0)
            raw = [(r["start"], r["end"]) for r in get_speech_timestamps(track, opts)]
            found = [(0, tuple(pad_regions(merge_spans(raw, options.min_silence_ms, 30.0), track.shape[0],
                                           options.speech_pad_ms)))]
        else:
            found = [(ch.index, ch.regions) for ch in split_channels(samples, options, in_place=False)]
    wall = time.perf_counter() - t0
    peak = vm_hwm_mb()
    digest = hashlib.sha256(repr([(i, [(r.start, r.end, r.spans) for r in regions])
                                  for i, regions in found]).encode()).hexdigest()[:16]
    return {"mode": mode, "seconds": samples.shape[1] / SR, "channels": channels,
            "decoded_mb": round(samples.shape[1] * channels * 4 / 2 ** 20, 1),
            "baseline_mb": round(base, 1), "peak_mb": round(peak, 1), "work_mb": round(peak - base, 1),
            "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "wall_s": round(wall, 2), "regions": sum(len(r) for _i, r in found), "regions_sha": digest}


def measure(mode: str, path: Path, channels: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.decode", "--child", mode, str(path), str(channels)],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} on {path.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- main -----------------------------------------------------------------------------------------------------
def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", default="20,120", help="lengths of the mono recordings (default 20,120)")
    ap.add_argument("--stereo-minutes", type=float, default=20.0, help="length of the two-channel one (0: none)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 3 minutes mono, 3 minutes two-channel")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--keep", action="store_true", help="keep the temp folder with the test recordings")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "CHANNELS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], int(args.child[2]))))
        return 0
    if not Path("/proc/self/status").exists():
        ap.error("needs Linux /proc (VmHWM)")
    require_speech(ap, "aishell/")
    mono = [3.0] if args.quick else [float(m) for m in args.minutes.split(",") if m.strip()]
    stereo = 3.0 if args.quick else args.stereo_minutes
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="xunlu-bench-decode-"))
    log(f"speech dir {SPEECH_DIR}, work dir {tmp}, cpu cores {os.cpu_count()}")
    rows = []
    try:
        plan = [(m, 1) for m in mono] + ([(stereo, 2)] if stereo > 0 else [])
        for minutes, channels in plan:
            path = tmp / f"rec-{minutes:g}min-{channels}ch.wav"
            t0 = time.perf_counter()
            seconds = write_recording(path, minutes, channels, args.seed)
            log(f"{path.name}: {seconds / 60:.1f} min, {path.stat().st_size / 1e6:.0f} MB "
                f"({time.perf_counter() - t0:.1f} s)")
            for mode in ("whole", "streamed"):
                r = measure(mode, path, channels)
                log(f"  {mode}: peak {r['peak_mb']:.0f} MB (work {r['work_mb']:.0f} MB), {r['wall_s']:.1f} s, "
                    f"{r['regions']} regions {r['regions_sha']}")
                rows.append(r)
            path.unlink()
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n== Peak memory: decode + channel split (gate, VAD) before Whisper, {os.cpu_count()} CPU cores ==")
    print(f"{'recording':<14}{'decoded MB':>11}{'path':>10}{'peak MB':>9}{'work MB':>9}{'work/decoded':>14}"
          f"{'wall s':>8}{'regions':>9}  same regions")
    for i in range(0, len(rows), 2):
        for r in rows[i:i + 2]:
            same = "yes" if rows[i]["regions_sha"] == rows[i + 1]["regions_sha"] else "NO"
            name = f"{r['seconds'] / 60:g} min {r['channels']}ch"
            print(f"{name:<14}{r['decoded_mb']:>11.0f}{r['mode']:>10}{r['peak_mb']:>9.0f}{r['work_mb']:>9.0f}"
                  f"{r['work_mb'] / r['decoded_mb']:>14.2f}{r['wall_s']:>8.1f}{r['regions']:>9}  {same}")
    print("(peak = VmHWM of the child process; work = peak - VmHWM just before decoding, with Python, numpy, "
          "PyAV and the VAD model loaded; whole = one in-memory array and the VAD called on the whole channel, "
          "as before; streamed = asr.audio.load to a temporary file + split_channels in place)")
    report = {"rows": rows, "cpu_cores": os.cpu_count(), "seed": args.seed,
              "wall_s": round(time.perf_counter() - started, 1)}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
