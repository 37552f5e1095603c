"""bench/capture.py, short: every audio frame of a file played live is counted and none is lost."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.capture_fakes import ensure_pulse

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(180)
def test_bench_counts_every_frame_under_load():
    source = "pulse" if ensure_pulse() is None else "file"
    result = subprocess.run([sys.executable, "-m", "bench.capture", "--minutes", "0.3", "--source", source,
                             "--load", "1"], cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["status"] == "complete" and figures["load_processes"] == 1
    assert figures["driver_overflows"] == 0 and figures["queue_dropped_frames"] == 0
    assert figures["beeps_transcribed"] == figures["beeps_in_source"] == 2
    rate = figures["rate"]
    if source == "pulse":
        assert figures["frames_written"] == figures["expected_frames"] == round(figures["recording_seconds"] * rate)
    assert figures["tap_frames_16k"] == round(figures["recording_seconds"] * 16000)
    assert abs(figures["mp4_audio_samples"] - figures["recording_seconds"] * rate) <= 2048  # AAC priming
