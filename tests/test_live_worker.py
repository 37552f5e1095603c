"""Live ASR in a worker process of its own (service/live_asr.py, service/live_worker.py): a worker killed with
SIGKILL in the middle of a session is started again and the session ends with every final, once; the web
server answers at once while a decode runs; the default path loads the real model in the worker."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.capture_fakes import beep_flash_file
from helpers.speech import SPEECH, read_wav, room_tone, write_wav

from archive.store import open_archive
from service.live import RecordRequest, start_live
from service.live_asr import InWorker

pytestmark = pytest.mark.timeout(180)
BEEPS = InWorker(factory="helpers.capture_fakes:beep_stream")


@pytest.fixture()
def archive_home(tmp_path):
    home = tmp_path / "home"
    archive = open_archive(home)
    yield home, archive
    archive.close()


@pytest.fixture(scope="module")
def beeps(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "beeps.mp4"
    return path, beep_flash_file(path, seconds=7.0, period=1.0, first=0.5)


def _segments(archive, sid: str) -> list[dict]:
    return json.loads((archive.folder(sid) / "transcripts" / "v1.json").read_text())["segments"]


def _journal_lines(archive, sid: str) -> int:
    path = archive.paths(sid).journal
    return len(path.read_text().splitlines()) if path.is_file() else 0


def _kill_worker_after(live, archive, finals: int, timeout: float = 60) -> int:
    """SIGKILL the session's worker once the journal holds `finals` lines; returns the pid killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = live.asr_worker.pid if live.asr_worker is not None else None
        if pid and _journal_lines(archive, live.session_id) >= finals:
            os.kill(pid, signal.SIGKILL)
            return pid
        time.sleep(0.02)
    raise AssertionError("the worker wrote no final in time")


def _drain(q) -> list[dict]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_a_killed_worker_is_restarted_and_the_session_ends_with_every_final(archive_home, beeps):
    from archive.verify import verify

    home, archive = archive_home
    src, truth = beeps
    # the same file, played live, twice at once: one session's worker is killed with SIGKILL mid-way
    calm = start_live(home, archive, RecordRequest(audio=str(src)), None, "tester", stream=BEEPS)
    hit = start_live(home, archive, RecordRequest(audio=str(src)), None, "tester", stream=BEEPS)
    events = hit.subscribe()
    killed = _kill_worker_after(hit, archive, finals=2)
    assert calm.wait(60) and hit.wait(60)
    a, b = calm.stop(), hit.stop()
    assert a.status == b.status == "complete"
    assert len(truth) == 7 and _journal_lines(archive, b.id) == 7
    expected = [(s["start"], s["end"], s["text"], s["channel"]) for s in _segments(archive, a.id)]
    got = [(s["start"], s["end"], s["text"], s["channel"]) for s in _segments(archive, b.id)]
    assert [s[0] for s in expected] == pytest.approx(truth, abs=0.05)
    assert got == expected                                       # every final, once, as without the kill
    assert [e["segment"] for e in _drain(events) if e["type"] == "final"] == _segments(archive, b.id)  # relayed once
    runner = hit.asr_worker
    assert runner.restarts == 1 and runner.pids[0] == killed and len(set(runner.pids)) == 2
    assert calm.asr_worker.restarts == 0
    restarts = [e for e in archive.audit_entries(b.id) if e.action == "record.asr_restart"]
    assert len(restarts) == 1 and restarts[0].details["exit"] == -signal.SIGKILL
    assert not (archive.folder(b.id) / "live" / "asr-state.json").exists()
    assert verify(archive, [a.id, b.id]).ok


def test_a_worker_that_keeps_dying_leaves_the_rest_to_offline_transcription(archive_home, beeps):
    from helpers.capture_fakes import BeepTranscriber

    home, archive = archive_home
    src, truth = beeps
    spec = InWorker(factory="helpers.capture_fakes:no_such_factory", max_restarts=1)
    live = start_live(home, archive, RecordRequest(audio=str(src)), BeepTranscriber(), "tester", stream=spec)
    assert live.wait(60)
    session = live.stop()
    assert session.status == "complete" and session.duration == pytest.approx(7.0, abs=0.05)  # recorded on
    done = next(e for e in archive.audit_entries(session.id) if e.action == "record.complete")
    assert "died 2 times" in done.details["asr_error"]
    assert len([e for e in archive.audit_entries(session.id) if e.action == "record.asr_restart"]) == 2
    assert [s["start"] for s in _segments(archive, session.id)] == pytest.approx(truth, abs=0.05)


def test_a_stuck_worker_is_killed_and_restarted(archive_home, beeps, tmp_path):
    home, archive = archive_home
    src, truth = beeps
    spec = InWorker(factory="helpers.capture_fakes:beep_stream", kwargs={"hang_once": str(tmp_path / "hung")},
                    hang_s=2.0)
    live = start_live(home, archive, RecordRequest(audio=str(src)), None, "tester", stream=spec)
    assert live.wait(60)
    session = live.stop()
    assert (tmp_path / "hung").exists() and live.asr_worker.restarts == 1
    assert [s["start"] for s in _segments(archive, session.id)] == pytest.approx(truth, abs=0.05)
    restart = next(e for e in archive.audit_entries(session.id) if e.action == "record.asr_restart")
    assert restart.details["exit"] == -signal.SIGKILL


POLLER = (
    "import sys, time, httpx\n"
    "with httpx.Client(timeout=10) as client:\n"
    "    while True:\n"
    "        t = time.perf_counter()\n"
    "        code = client.get(sys.argv[1] + '/console.html').status_code\n"
    "        print(code, time.perf_counter() - t, flush=True)\n"
    "        time.sleep(0.02)\n")


def _latencies(url: str, start, limit: float = 30) -> tuple[list[float], object]:
    """A session started by `start()` while another process asks the server for a page every 20 ms: the
    requests' latencies, once the session has ended, and the session. (A client in the server's own process
    would be held by the same interpreter lock as the server, and could not even send during a stall.)"""
    poller = subprocess.Popen([sys.executable, "-c", POLLER, url], stdout=subprocess.PIPE, text=True)
    try:
        assert poller.stdout.readline().startswith("200 ")    # the server answers; the poller is running
        live = start()
        live.wait(limit)
    finally:
        poller.terminate()
        out, _ = poller.communicate(timeout=10)
    rows = [line.split() for line in out.splitlines()]
    rows = [row for row in rows if len(row) == 2]                # (a line cut short by the end is left out)
    assert all(code == "200" for code, _ in rows), rows
    return [float(seconds) for _, seconds in rows], live


def test_the_web_server_answers_at_once_while_a_decode_holds_its_process(archive_home, tmp_path):
    """A decode that holds the interpreter (a C call keeping the GIL for 1.5 s per final) stalls every
    request of the server's process when it runs there, and none when it runs in the worker (what is left
    there, relaying finals, the live index and closing the session, costs a request well under that)."""
    from helpers.capture_fakes import beep_stream

    from api.server import ServeOptions, start_in_thread

    home, archive = archive_home
    src = tmp_path / "two.mp4"
    assert len(beep_flash_file(src, seconds=3.0, period=1.0, first=0.5)) == 3
    server = start_in_thread(home, ServeOptions(port=0))
    try:
        req = RecordRequest(audio=str(src), realtime=False)
        stalled, inside = _latencies(server.url, lambda: start_live(home, archive, req, None, "tester",
                                                                    stream=beep_stream(hold_gil_s=1.5)))
        inside.stop()
        in_worker = InWorker(factory="helpers.capture_fakes:beep_stream", kwargs={"hold_gil_s": 1.5})
        answered, worker = _latencies(server.url, lambda: start_live(home, archive, req, None, "tester",
                                                                     stream=in_worker))
        worker.stop()
    finally:
        server.stop()
    assert len(_segments(archive, inside.session_id)) == len(_segments(archive, worker.session_id)) == 3
    assert max(stalled) >= 1.2                   # in the server's process, a request waits for the decode
    assert len(answered) >= 20 and max(answered) < 0.8, sorted(answered)[-5:]


def _clip_with_pauses(path: Path) -> Path:
    parts = []
    for name in ("BAC009S0150W0006.wav", "BAC009S0150W0005.wav", "BAC009S0150W0026.wav"):   # 哈根达斯 调高温度 绍兴饭店
        parts += [room_tone(1.0, seed=len(parts)), read_wav(SPEECH / "aishell" / name)[0]]
    parts.append(room_tone(1.0, seed=9))
    return write_wav(path, np.concatenate(parts))


def _overlaps(a: dict, b: dict) -> bool:
    return a["channel"] == b["channel"] and a["start"] < b["end"] and b["start"] < a["end"]


def test_the_default_worker_loads_the_model_and_resumes_after_a_kill(archive_home, transcriber, tmp_path,
                                                                     monkeypatch):
    """`xunlu serve` and `xunlu record` start sessions this way: the worker loads the same model itself."""
    monkeypatch.delenv("XUNLU_LIVE_ASR", raising=False)
    home, archive = archive_home
    src = _clip_with_pauses(tmp_path / "two.wav")
    calm = start_live(home, archive, RecordRequest(audio=str(src), realtime=False), transcriber, "tester")
    hit = start_live(home, archive, RecordRequest(audio=str(src), realtime=False), transcriber, "tester")
    assert isinstance(calm._stream_factory, InWorker) and calm._stream_factory.model == "base"
    _kill_worker_after(hit, archive, finals=1, timeout=120)
    assert calm.wait(120) and hit.wait(120)
    a, b = calm.stop(), hit.stop()
    assert a.status == b.status == "complete"
    expected, got = _segments(archive, a.id), _segments(archive, b.id)
    text = "".join(s["text"] for s in got)
    assert len(expected) >= 3 and "温度" in text, (expected, got)
    assert all(any(_overlaps(e, g) for g in got) for e in expected), (expected, got)   # none lost
    assert not any(_overlaps(x, y) for i, x in enumerate(got) for y in got[i + 1:]), got   # none twice
    assert hit.asr_worker.restarts == 1 and calm.asr_worker.restarts == 0
    assert calm.asr_worker.stats["finals_decoded"] >= 2           # decoded there, not in this process
    v1 = json.loads((archive.folder(a.id) / "transcripts" / "v1.json").read_text())
    assert v1["reproduce"]["live"]["beam_size"] == 2              # the worker's decoder options, recorded
