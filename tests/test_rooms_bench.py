"""bench/rooms.py's measures, without a server: a final's latency per utterance (its channel, the end of speech
placed on the wall clock) and the CPU of a process tree whose child has ended."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench.live import Utt
from bench.rooms import Room, TreeCPU, per_room


def test_final_latency_is_taken_per_utterance_on_its_channel():
    room = Room("讯问室1", "s-1")
    room.zero = 1000.0                                    # wall time of the recording's first sample
    utts = [Utt(0, 1.0, 4.0, 4.2, "甲"), Utt(1, 6.0, 9.0, 9.1, "乙"), Utt(0, 12.0, 15.0, 15.1, "丙")]
    room.finals = [
        (1000.0 + 4.0 + 0.8, {"channel": 0, "start": 1.1, "end": 2.5}),    # first part of utterance 0
        (1000.0 + 4.0 + 1.5, {"channel": 0, "start": 2.5, "end": 3.9}),    # its last final: 1.5 s after the end
        (1000.0 + 9.0 + 0.9, {"channel": 1, "start": 6.1, "end": 8.8}),    # utterance 1: 0.9 s
        (1000.0 + 15.0 + 0.2, {"channel": 1, "start": 12.1, "end": 14.9}),  # crosstalk on the other channel
    ]
    row = per_room(room, utts, {"dropped": 0, "max_lag": 1.2, "ended": "source_ended"})
    assert row["without_final"] == 1                      # utterance 2 has no final on its own channel
    assert row["final_max_s"] == 1.5 and row["final_p50_s"] in (0.9, 1.5)
    assert row["dropped_frames"] == 0 and row["max_lag_s"] == 1.2


BURN = """
import subprocess, sys, time
time.sleep(0.3)
subprocess.run([sys.executable, "-c", "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.6: pass"])
time.sleep(1.5)
"""


@pytest.mark.timeout(30)
def test_tree_cpu_counts_a_child_that_ended():
    root = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        time.sleep(0.1)
        cpu = TreeCPU(root.pid)
        time.sleep(1.8)
        got = cpu.stop()
    finally:
        root.wait(10)
    assert 0.55 <= got["total"] < 1.5, got               # the child's 0.6 s, and the root's little
    assert got.get("other", 0) > 0, got                  # seen while it ran, as a plain process
