"""Benchmark: `xunlu import` throughput on a long two-channel recording, ASR and archive overhead apart.

    .venv/bin/python -m bench.import [--minutes N] [--quick] [--model-home DIR] [--seed N] [--keep]

One run builds an N-minute (default 10) interview from the shared AISHELL clips (officer on channel 0,
suspect on channel 1, alternating, 1-3 s pauses, seeded) as a 2-channel 16 kHz WAV and as an MP4 of the
same audio (AAC) with a small H.264 test video (320x240, 10 fps), written *without* fast start. Each is
imported with `service.importing.import_file` into a fresh archive home, with the real `base` model (loaded
once, before timing, from a dedicated model home):

  - WAV: not browser-playable, so the archive encodes an audio-only AAC MP4 copy;
  - MP4: H.264/AAC but `moov` after `mdat`, so the archive remuxes it (stream copy, +faststart).

Timed: the whole `import_file` call (total), the transcribe call inside it (ASR), and archive overhead =
total - ASR (probe, hashing, copying the original, the playable copy, catalog, audit, manifest), also
broken down by step. Baseline in the same run, on the same file: `shutil.copyfile` + fsync, and a plain
SHA-256 of it. Throughput is minutes of media per minute of wall time.

Progress goes to stderr; stdout gets the tables and, last, one JSON line with every figure.
Clips are read from ../shared/speech (relative to the project root), or from $XUNLU_SPEECH_DIR.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from archive.store import Archive
from asr.engine import collect
from asr.pipeline import load_transcriber
from asr.types import TranscribeOptions
from bench.common import SPEECH_DIR, SR, make_log, model_home, read_pcm16, require_speech, write_wav
from core.transcript import Transcript
from service import importing
from service.importing import ImportRequest, import_file

SPEAKERS = ("officer", "suspect")
CHUNK = 1 << 20


log = make_log("bench")


# -- test recording ---------------------------------------------------------------------------------------
def assemble(minutes: float, seed: int) -> tuple[np.ndarray, int]:
    """int16 (2, n) of exactly `minutes`: clips alternate ch0/ch1 with 1-3 s pauses; (audio, clips placed).
    The clip pool is reshuffled and reused if one pass is not long enough."""
    clips = sorted((SPEECH_DIR / "aishell").glob("*.wav"))
    if not clips:
        raise SystemExit(f"no clips in {SPEECH_DIR / 'aishell'} (set XUNLU_SPEECH_DIR)")
    rng = random.Random(seed)
    n = int(round(minutes * 60.0 * SR))
    out = np.zeros((2, n), dtype=np.int16)
    t = int(round(rng.uniform(0.5, 1.5) * SR))
    channel = placed = 0
    cache: dict[Path, np.ndarray] = {}
    while True:
        order = clips[:]
        rng.shuffle(order)
        for path in order:
            clip = cache.get(path)
            if clip is None:
                clip = cache[path] = read_pcm16(path)
            if t + clip.shape[0] > n:
                return out, placed
            out[channel, t:t + clip.shape[0]] = clip
            placed += 1
            t += clip.shape[0] + int(round(rng.uniform(1.0, 3.0) * SR))
            channel = 1 - channel


def make_mp4(wav: Path, mp4: Path, seconds: float) -> None:
    """H.264 test video + AAC of `wav`, no +faststart (moov at the end, as many recorders leave it)."""
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=10:duration={seconds:.3f}",
            "-i", str(wav), "-map", "0:v:0", "-map", "1:a:0",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-shortest", "-f", "mp4", str(mp4)]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed making the test MP4: {proc.stderr.strip()}")


# -- baselines ------------------------------------------------------------------------------------------
def bare_copy(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    with open(dst, "rb+") as f:
        os.fsync(f.fileno())
    secs = time.perf_counter() - t0
    dst.unlink()
    return secs


def bare_sha256(src: Path) -> float:
    t0 = time.perf_counter()
    h = hashlib.sha256()
    with open(src, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    h.hexdigest()
    return time.perf_counter() - t0


# -- per-step timing inside import_file (wraps the names service.importing looks up; nothing is edited) -------
class Steps:
    NAMES = {"check_input": "probe+checks", "sha256_file": "sha256", "copy_hashed": "copy original",
             "is_browser_playable": "playable check", "make_playable": "make playable"}

    def __init__(self) -> None:
        self.secs: dict[str, float] = {}
        self._saved: list[tuple[Any, str, Any]] = []

    def reset(self) -> None:
        self.secs = {label: 0.0 for label in self.NAMES.values()}

    def _wrap(self, owner: Any, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            # Work done on another thread overlaps ASR: it is shown apart and not subtracted from the overhead.
            key = label if threading.current_thread() is threading.main_thread() else f"{label} ‖"
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.secs[key] = self.secs.get(key, 0.0) + time.perf_counter() - t0

        self._saved.append((owner, attr, original))
        setattr(owner, attr, timed)

    def install(self) -> None:
        for attr in ("check_input", "sha256_file", "copy_hashed"):
            self._wrap(importing, attr, self.NAMES[attr])
        for attr in ("is_browser_playable", "make_playable"):
            self._wrap(importing.media_io, attr, self.NAMES[attr])
        self.reset()

    def uninstall(self) -> None:
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)
        self._saved.clear()


# -- the import ------------------------------------------------------------------------------------------
def run_import(tr: Any, src: Path, home: Path, steps: Steps) -> dict:
    asr_secs = [0.0]

    def transcribe(path: Path, speakers: Sequence[str]) -> Transcript:
        t0 = time.perf_counter()
        try:
            segments, info = tr.transcribe(str(path), TranscribeOptions(language="zh", speakers=tuple(speakers)))
            return collect(segments, info)
        finally:
            asr_secs[0] += time.perf_counter() - t0

    archive = Archive(home)
    steps.reset()
    try:
        t0 = time.perf_counter()
        session = import_file(archive, ImportRequest(input=src, speakers=SPEAKERS, case_id="BENCH"), transcribe,
                              "bench", say=lambda m: log(f"  import: {m}"))
        total = time.perf_counter() - t0
    finally:
        archive.close()
    return {"session": session, "total_s": total, "asr_s": asr_secs[0], "steps": dict(steps.secs)}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the test recording (default 10)")
    ap.add_argument("--quick", action="store_true", help="smoke test: a 2-minute recording")
    ap.add_argument("--model-home", type=Path, default=None,
                    help="home whose models/whisper-base is used (assembled there on first use; default "
                         "$XUNLU_HOME, else <tmp>/xunlu-bench-home, as bench.asr)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (test files and archive homes)")
    args = ap.parse_args(argv)
    minutes = 2.0 if args.quick else args.minutes
    if minutes <= 0:
        ap.error("--minutes must be > 0")
    require_speech(ap, "aishell/")
    if not shutil.which("ffmpeg"):
        ap.error("ffmpeg is not installed")
    models = model_home(args.model_home)
    started = time.perf_counter()

    tmp = Path(tempfile.mkdtemp(prefix="xunlu-bench-import-"))
    log(f"speech dir {SPEECH_DIR}, model home {models}, work dir {tmp}, {minutes:g} min, "
        f"cpu cores {os.cpu_count()}")
    try:
        report = bench(tmp, models, minutes, args.seed)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)  # read-only files in writable folders unlink fine
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(f"\nwall time {report['wall_s']:.0f} s")
    print(json.dumps(report, ensure_ascii=False))
    return 0


def bench(tmp: Path, model_home: Path, minutes: float, seed: int) -> dict:
    # 1. the test recording
    t0 = time.perf_counter()
    pcm, placed = assemble(minutes, seed)
    wav = tmp / "interview.wav"
    write_wav(wav, pcm)
    seconds = pcm.shape[1] / SR
    log(f"WAV: {seconds:.1f} s, {placed} clips, {wav.stat().st_size / 1e6:.1f} MB "
        f"({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    mp4 = tmp / "interview.mp4"
    make_mp4(wav, mp4, seconds)
    from archive import media as media_io
    mp4_boxes = media_io.top_level_boxes(mp4)
    log(f"MP4: {mp4.stat().st_size / 1e6:.1f} MB, boxes {mp4_boxes}, fast start {media_io.is_fast_start(mp4)} "
        f"({time.perf_counter() - t0:.1f} s)")
    if media_io.is_fast_start(mp4):
        log("warning: the test MP4 has fast start; the remux path is not exercised")

    # 2. the model, loaded once (and warmed up on one clip) before any timing
    t0 = time.perf_counter()
    tr = load_transcriber("base", model_home)
    load_s = time.perf_counter() - t0
    log(f"model {tr.model_label} loaded in {load_s:.1f} s")
    t0 = time.perf_counter()
    warm = sorted((SPEECH_DIR / "aishell").glob("*.wav"))[0]
    segs, info = tr.transcribe(str(warm), TranscribeOptions(language="zh"))
    collect(segs, info)
    warm_s = time.perf_counter() - t0
    log(f"warm-up transcription of {warm.name}: {warm_s:.1f} s")

    # 3. baselines and imports
    steps = Steps()
    steps.install()
    results: list[dict] = []
    try:
        for kind, src in (("wav", wav), ("mp4", mp4)):
            size = src.stat().st_size
            cp_s = bare_copy(src, tmp / f"cp-{src.name}")
            sha_s = bare_sha256(src)
            log(f"{kind}: baseline cp+fsync {cp_s:.3f} s, sha256 {sha_s:.3f} s; importing")
            home = tmp / f"home-{kind}"
            r = run_import(tr, src, home, steps)
            s = r["session"]
            if s.status != "complete":
                raise SystemExit(f"{kind}: session {s.id} ended {s.status}: {s.error}")
            media_min = (s.duration or seconds) / 60.0
            total, asr = r["total_s"], r["asr_s"]
            over = total - asr
            known = sum(v for k, v in r["steps"].items() if not k.endswith("‖"))
            roles = {m.role: m for m in s.media}
            playable = roles.get("playable")
            row = {
                "kind": kind, "bytes": size, "media_min": round(media_min, 3), "session": s.id,
                "segments": None, "total_s": round(total, 3), "asr_s": round(asr, 3),
                "overhead_s": round(over, 3), "overhead_pct": round(100.0 * over / total, 2),
                "throughput": round(media_min / (total / 60.0), 2),
                "archive_throughput": round(media_min / (over / 60.0), 1) if over > 0 else None,
                "asr_throughput": round(media_min / (asr / 60.0), 2),
                "steps_s": {k: round(v, 3) for k, v in r["steps"].items()},
                "catalog_audit_manifest_other_s": round(over - known, 3),
                "playable_bytes": playable.size if playable else None,
                "baseline_cp_fsync_s": round(cp_s, 3), "baseline_sha256_s": round(sha_s, 3),
                "overhead_vs_cp_plus_sha": round(over / (cp_s + sha_s), 2) if cp_s + sha_s > 0 else None,
            }
            versions = s.transcripts
            if versions:
                data = json.loads((home / "sessions" / s.id / versions[0].path).read_text(encoding="utf-8"))
                row["segments"] = len(data.get("segments", []))
            results.append(row)
            log(f"{kind}: total {total:.1f} s, ASR {asr:.1f} s, overhead {over:.2f} s")
    finally:
        steps.uninstall()

    # 4. tables
    print(f"\n== Import throughput: {seconds / 60:.2f}-minute 2-channel interview ({placed} AISHELL clips, "
          f"seed {seed}), model {tr.model_label}, {os.cpu_count()} CPU cores ==")
    print(f"model load {load_s:.2f} s and one warm-up transcription {warm_s:.2f} s (not in the figures below)")
    print(f"{'file':<6}{'MB':>8}{'media min':>11}{'total s':>10}{'ASR s':>9}{'overhead s':>12}{'ovh %':>8}"
          f"{'x overall':>11}{'x archive':>11}{'x ASR':>8}")
    for r in results:
        arch = f"{r['archive_throughput']:.0f}" if r["archive_throughput"] is not None else "-"
        print(f"{r['kind']:<6}{r['bytes'] / 1e6:>8.1f}{r['media_min']:>11.2f}{r['total_s']:>10.2f}{r['asr_s']:>9.2f}"
              f"{r['overhead_s']:>12.2f}{r['overhead_pct']:>8.1f}{r['throughput']:>11.2f}{arch:>11}"
              f"{r['asr_throughput']:>8.2f}")
    print("(x = minutes of media per minute of wall time; overall = whole import_file call, archive = total - "
          "ASR, i.e. probe, hashing, copying the original, playable copy, catalog, audit, manifest)")

    print("\nArchive overhead by step (s) against the bare I/O baseline on the same file:")
    labels = list(Steps.NAMES.values()) + ["catalog etc."]
    parallel = sorted({k for r in results for k in r["steps_s"] if k.endswith("‖")})
    print(f"{'file':<6}" + "".join(f"{lab:>16}" for lab in labels + parallel)
          + f"{'cp+fsync':>11}{'sha256':>9}{'ovh/(cp+sha)':>14}")
    for r in results:
        vals = ([r["steps_s"].get(lab, 0.0) for lab in Steps.NAMES.values()] + [r["catalog_audit_manifest_other_s"]]
                + [r["steps_s"].get(lab, 0.0) for lab in parallel])
        ratio = f"{r['overhead_vs_cp_plus_sha']:.1f}" if r["overhead_vs_cp_plus_sha"] is not None else "-"
        print(f"{r['kind']:<6}" + "".join(f"{v:>16.3f}" for v in vals)
              + f"{r['baseline_cp_fsync_s']:>11.3f}{r['baseline_sha256_s']:>9.3f}{ratio:>14}")
    print("(baseline: shutil.copyfile + fsync, and a plain SHA-256, of the same file just before its import; "
          "sha256 step = both calls inside import: the source before copying, and the playable copy; "
          "catalog etc. = total - ASR - the named steps: session row, audit entries, transcript file, manifest; "
          "a step marked ‖ ran on a second thread while ASR ran, so it is not part of the overhead)")
    for r in results:
        extra = f", playable copy {r['playable_bytes'] / 1e6:.1f} MB" if r["playable_bytes"] else ""
        print(f"{r['kind']}: session {r['session']}, {r['segments']} transcript segments{extra}")

    return {"minutes": round(seconds / 60.0, 3), "clips": placed, "seed": seed, "model": tr.model_label,
            "cpu_cores": os.cpu_count(), "model_load_s": round(load_s, 3), "warmup_s": round(warm_s, 3),
            "mp4_top_level_boxes": mp4_boxes, "imports": results}


if __name__ == "__main__":
    sys.exit(main())
