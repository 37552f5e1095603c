"""`xunlu record`, `xunlu devices`, `xunlu recover` as a user runs them."""
from __future__ import annotations

import json
import subprocess
import time

import numpy as np
import pytest
from helpers.cli import xunlu
from helpers.speech import RATE, SPEECH, manifest, read_wav, room_tone, write_wav

from asr.scoring import cer


@pytest.mark.parametrize("args, message", [
    (["--audio", "missing/interview.wav"], "no such file: missing/interview.wav"),
    (["--audio", "nosuchfile.wav"], "no such file"),
    (["--video", "webcam"], "no camera or file called 'webcam'"),
    (["--video", "/dev/video77"], "no camera at /dev/video77"),
    (["--audio", "No Such Microphone 42"], "no microphone, file or URL called 'No Such Microphone 42'"),
    (["--language", "auto"], "needs a language"),
    (["--language", "klingon"], "unknown language code"),
    (["--speakers", "a,b,c"], "1 or 2 channels"),
])
def test_bad_input_is_one_clear_line(args, message, tmp_path):
    result = xunlu("record", *args, home=tmp_path / "home", timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("extra, message", [
    ([], "separate sources"),                              # one file carries both: nothing to move
    (["--video", "lavfi:testsrc2"], "between -5 and 5 s"),
])
def test_a_camera_delay_needs_a_separate_camera_and_a_sane_value(extra, message, tmp_path):
    wav = write_wav(tmp_path / "a.wav", room_tone(1.0))
    delay = "9" if extra else "0.1"
    result = xunlu("record", "--audio", str(wav), *extra, "--video-delay", delay, home=tmp_path / "home",
                   timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "home").glob("sessions/*"))  # refused before a session was opened


def test_bad_duration(tmp_path):
    wav = write_wav(tmp_path / "a.wav", room_tone(1.0))
    result = xunlu("record", "--audio", str(wav), "--duration", "0", home=tmp_path / "home", timeout=120)
    assert result.returncode == 2 and "--duration" in result.stderr and "Traceback" not in result.stderr


def test_devices_lists_microphones_and_cameras(tmp_path):
    result = xunlu("devices", home=tmp_path / "home", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "microphones (--audio):" in result.stdout and "cameras (--video):" in result.stdout
    assert "Traceback" not in result.stderr and "jack" not in result.stderr.lower()


def test_recover_with_nothing_to_recover(tmp_path):
    result = xunlu("recover", home=tmp_path / "home", timeout=120)
    assert result.returncode == 0 and "no interrupted recording" in result.stderr


MANDARIN = "aishell/BAC009S0150W0122.wav"


def _onset(samples: np.ndarray) -> float:
    """First 10 ms frame of the clip clearly above its own floor (the clip's leading silence)."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    threshold = max(0.05 * rms.max(), 4 * np.percentile(rms, 10))
    return float(np.argmax(rms > threshold) * 0.01)


class Running:
    """`xunlu record` in the background, its stderr collected line by line."""

    def __init__(self, home, *args: str):
        import os
        import sys
        import threading
        from pathlib import Path

        exe = Path(sys.executable).with_name("xunlu")
        self.proc = subprocess.Popen([str(exe), "record", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, "XUNLU_HOME": str(home)})
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "".join(self.lines)
            time.sleep(0.1)


def _utterance(tmp_path, lead: float = 3.0, tail: float = 3.0):
    clip = read_wav(SPEECH / MANDARIN)[0]
    audio = np.concatenate([room_tone(lead), clip + room_tone(len(clip) / RATE, seed=2)[: len(clip)],
                            room_tone(tail, seed=3)])
    return write_wav(tmp_path / "utterance.wav", audio), lead + _onset(clip)


@pytest.mark.model
def test_record_a_file_as_live_then_ctrl_c(tmp_path):
    import signal

    from archive.store import open_archive

    src, truth = _utterance(tmp_path, tail=20.0)
    home = tmp_path / "home"
    run = Running(home, "--audio", str(src), "--case", "A-7", "--speakers", "officer")
    run.wait_for("recording s-")
    run.wait_for("officer:", timeout=60)                               # the final, printed as it came
    run.proc.send_signal(signal.SIGINT)                                # Ctrl-C
    out, _ = run.proc.communicate(timeout=120)
    assert run.proc.returncode == 0, "".join(run.lines)
    sid = out.strip()
    assert sid.startswith("s-") and "Traceback" not in "".join(run.lines)
    archive = open_archive(home)
    session = archive.get(sid)
    assert session.status == "complete" and session.case_id == "A-7"
    assert 8.0 < session.duration < 20.0                               # stopped by Ctrl-C, not the file's end
    segs = json.loads((archive.folder(sid) / "transcripts" / "v1.json").read_text())["segments"]
    assert segs and abs(segs[0]["start"] - truth) <= 0.3, (segs[0], truth)  # a known utterance's time
    text = "".join(s["text"] for s in segs)
    errors, n = cer(manifest()[MANDARIN]["reference"], text)  # base int8 reads 房价 as 访价 on some CPUs
    assert errors / n <= 0.2, text
    word = next(w for w in ("上涨", "经济", "下跌", "房价") if w in text)   # a word of the sentence, as heard
    search = xunlu("search", word, "--json", home=home, timeout=120)
    hits = [json.loads(line) for line in search.stdout.splitlines()]
    assert hits and hits[0]["session"] == sid


@pytest.mark.model
def test_kill_9_then_the_next_start_recovers(tmp_path):
    import signal

    from archive.store import open_archive

    src, _truth = _utterance(tmp_path)
    home = tmp_path / "home"
    run = Running(home, "--audio", str(src))
    run.wait_for("recording s-")
    time.sleep(6.5)
    run.proc.send_signal(signal.SIGKILL)                               # a power cut, as far as we can tell
    run.proc.wait()
    sid = next(line for line in run.lines if "recording s-" in line).split()[1]
    listed = xunlu("sessions", home=home, timeout=60)
    assert f"{sid}\trecording" in listed.stdout and "xunlu recover" in listed.stderr
    result = xunlu("recover", home=home, timeout=300)
    assert result.returncode == 0 and result.stdout.split() == [sid], result.stderr
    archive = open_archive(home)
    session = archive.get(sid)
    assert session.status == "complete" and session.file("original") is not None
    assert 3.5 <= session.duration <= 7.0                              # at most the last segment lost
    assert any(e.action == "session.recovered" for e in archive.audit_entries(sid))
    assert xunlu("verify", sid, home=home, timeout=60).returncode == 0
