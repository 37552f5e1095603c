"""Microphones (PyAudio) and cameras (V4L2 on Linux, avfoundation on macOS, dshow on Windows) on this machine."""
from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from capture.sources import MicInput, SourceError

log = logging.getLogger("xunlu.capture.devices")
_stderr_lock = threading.Lock()


@dataclass(frozen=True)
class Device:
    kind: str              # "microphone" or "camera"
    id: str                # what to pass to --audio / --video
    name: str
    channels: int = 0
    rate: int = 0
    default: bool = False


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """PortAudio's ALSA and JACK probes write pages of noise to fd 2 on start; hide them."""
    with _stderr_lock:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def pyaudio_instance():
    try:
        import pyaudio
    except ImportError as exc:  # pragma: no cover - a dependency
        raise SourceError("PyAudio is not installed: pip install pyaudio (needs portaudio19-dev)") from exc
    with quiet_stderr():
        return pyaudio.PyAudio()


def microphones() -> list[Device]:
    pa = pyaudio_instance()
    try:
        try:
            default = pa.get_default_input_device_info()["index"]
        except (IOError, OSError):
            default = -1
        found = []
        for i in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(i)
            if int(info.get("maxInputChannels", 0)) > 0:
                found.append(Device("microphone", str(i), str(info["name"]), int(info["maxInputChannels"]),
                                    int(info["defaultSampleRate"]), i == default))
        return found
    finally:
        pa.terminate()


def cameras() -> list[Device]:
    if sys.platform.startswith("linux"):
        found = []
        for dev in sorted(glob.glob("/dev/video*"), key=lambda p: int(re.sub(r"\D", "", p) or 0)):
            name_file = Path("/sys/class/video4linux") / Path(dev).name / "name"
            name = name_file.read_text().strip() if name_file.is_file() else Path(dev).name
            found.append(Device("camera", dev, name))
        return found
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return []
    fmt = "avfoundation" if sys.platform == "darwin" else "dshow"
    target = "" if fmt == "avfoundation" else "dummy"
    proc = subprocess.run([ffmpeg, "-hide_banner", "-f", fmt, "-list_devices", "true", "-i", target],
                          capture_output=True, text=True, timeout=20)
    found, video_section = [], True
    for line in proc.stderr.splitlines():
        if "audio devices" in line.lower():
            video_section = False
        m = re.search(r"\[(\d+)\] (.+)$", line) if fmt == "avfoundation" else re.search(r'"([^"]+)"', line)
        if m and video_section and "Alternative name" not in line:
            if fmt == "avfoundation":
                found.append(Device("camera", f"avfoundation:{m.group(1)}", m.group(2).strip()))
            else:
                found.append(Device("camera", f"dshow:video={m.group(1)}", m.group(1)))
    return found


def _find(devices: list[Device], spec: str) -> Device:
    spec = spec.strip()
    if spec == "default":
        chosen = next((d for d in devices if d.default), None) or next(iter(devices), None)
        if chosen is None:
            raise SourceError("no microphone found (`xunlu devices` lists what PyAudio sees); give --audio FILE "
                              "or a URL instead")
        return chosen
    if spec.isdigit():
        chosen = next((d for d in devices if d.id == spec), None)
        if chosen is None:
            raise SourceError(f"no microphone with index {spec} (`xunlu devices` lists them)")
        return chosen
    exact = [d for d in devices if d.name == spec]
    partial = [d for d in devices if spec.lower() in d.name.lower()]
    if exact:
        return exact[0]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = ", ".join(f"{d.id}: {d.name}" for d in partial)
        raise SourceError(f"'{spec}' matches several microphones ({names}); give the index")
    raise SourceError(f"no microphone, file or URL called '{spec}' (`xunlu devices` lists the microphones)")


def resolve_mics(spec: str, channels: Optional[int] = None) -> MicInput:
    """One device ('pulse', '3') with 1 or 2 channels, or two devices 'A+B' with one channel each."""
    devices = microphones()
    parts = [p for p in spec.split("+")] if "+" in spec else [spec]
    if len(parts) > 2 or any(not p.strip() for p in parts):
        raise SourceError(f"--audio '{spec}': give one microphone or two joined by '+'")
    chosen = [_find(devices, p) for p in parts]
    if len(chosen) == 2:
        if chosen[0].id == chosen[1].id:
            raise SourceError(f"--audio '{spec}' names the same microphone twice")
        if channels not in (None, 2):
            raise SourceError("two microphones give two channels: name two speakers, or none")
        rate = min(d.rate for d in chosen)
        return MicInput(tuple(int(d.id) for d in chosen), tuple(d.name for d in chosen), 2, rate)
    dev = chosen[0]
    want = channels or 1
    if dev.channels < want:
        raise SourceError(f"microphone '{dev.name}' has {dev.channels} channel(s); {want} were asked for")
    return MicInput((int(dev.id),), (dev.name,), want, dev.rate or 48000)
