"""Probe and decode any file ffmpeg can read (through PyAV's bundled FFmpeg) into 16 kHz float32 audio,
one row per channel."""
from __future__ import annotations

import logging
import os

import numpy as np

from asr.types import AudioInfo
from core.errors import InputError
from core.media import av_options

log = logging.getLogger("xunlu.asr.audio")
SAMPLE_RATE = 16000


def check_path(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    if os.path.isdir(path):
        raise InputError(f"is a directory, not a media file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read file (permission denied): {path}")
    if os.path.getsize(path) == 0:
        raise InputError(f"file is empty (0 bytes): {path}")


def _open(path: str):
    import av

    check_path(path)
    try:
        return av.open(path, mode="r", metadata_errors="ignore", options=av_options())
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"not a media file ffmpeg can read: {path} ({reason})") from exc


def _describe(path: str, container) -> AudioInfo:
    if not container.streams.audio:
        raise InputError(f"no audio stream in {path}")
    stream = container.streams.audio[0]
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    ctx = stream.codec_context
    channels = ctx.layout.nb_channels if ctx.layout is not None else getattr(ctx, "channels", 1)
    return AudioInfo(path=path, duration=duration, channels=int(channels or 1),
                     sample_rate=int(ctx.sample_rate or 0), codec=str(ctx.name))


def probe(path: str) -> AudioInfo:
    """Describe the first audio stream of `path`; raise InputError when there is none."""
    with _open(path) as container:
        return _describe(path, container)


MAX_DECODE_S = 48 * 3600.0   # no recording decodes to more than this (a header may claim less than it holds)


def _decode(path: str, container, channels: int, declared_s: float = 0.0) -> np.ndarray:
    """Decode into one preallocated (channels, samples) array, grown only when the header said too little:
    the memory is the audio's own, not two or three copies of it. A file that decodes to more than
    MAX_DECODE_S (or to far more than its header declared) is refused."""
    import av

    layout = "mono" if channels == 1 else "stereo" if channels == 2 else av.AudioLayout(channels).name
    resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)
    limit = int(MAX_DECODE_S * SAMPLE_RATE)
    if declared_s > 0:
        limit = min(limit, int((declared_s * 1.25 + 600) * SAMPLE_RATE))
    out = np.empty((channels, max(SAMPLE_RATE, int((declared_s + 1) * SAMPLE_RATE))), dtype=np.float32)
    n = 0

    def put(chunk: np.ndarray) -> None:
        nonlocal out, n
        k = len(chunk) // channels
        if n + k > limit:
            raise InputError(f"{path} decodes to more audio than it declares or than "
                             f"{MAX_DECODE_S / 3600:.0f} hours; refused")
        if n + k > out.shape[1]:
            grown = np.empty((channels, min(limit, max(2 * out.shape[1], n + k))), dtype=np.float32)
            grown[:, :n] = out[:, :n]
            out = grown
        out[:, n:n + k] = chunk[:k * channels].reshape(k, channels).T
        n += k

    frames = container.decode(audio=0)
    decoded_any = False
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except av.error.InvalidDataError:
            continue  # a damaged packet: skip it, keep the rest of the recording
        except av.error.FFmpegError as exc:
            if decoded_any:
                log.warning("decoding stopped early in %s: %s", path, exc)
                break
            raise InputError(f"cannot decode audio of {path}: {exc}") from exc
        frame.pts = None
        for chunk in resampler.resample(frame):
            decoded_any = True
            put(chunk.to_ndarray().reshape(-1))
    for chunk in resampler.resample(None):
        put(chunk.to_ndarray().reshape(-1))
    if n == 0:
        raise InputError(f"no audio samples could be decoded from {path}")
    return out[:, :n] if n > 0.9 * out.shape[1] else out[:, :n].copy()


def decode(path: str, channels: int) -> np.ndarray:
    """Decode the first audio stream to float32 at 16 kHz, shape (channels, samples)."""
    with _open(path) as container:
        if not container.streams.audio:
            raise InputError(f"no audio stream in {path}")
        return _decode(path, container, channels, _describe(path, container).duration)


def load(path: str) -> tuple[AudioInfo, np.ndarray]:
    """Probe and decode in one pass; the info's duration is the decoded length (exact, not the header's)."""
    with _open(path) as container:
        info = _describe(path, container)
        audio = _decode(path, container, info.channels, info.duration)
    exact = audio.shape[1] / SAMPLE_RATE
    log.debug("decoded %s: %.2f s, %d channel(s)", path, exact, info.channels)
    return AudioInfo(info.path, exact, info.channels, info.sample_rate, info.codec), audio
