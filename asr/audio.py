"""Probe and decode any file ffmpeg can read (through PyAV's bundled FFmpeg) into 16 kHz float32 audio,
one row per channel.

Decoding streams: frames go to a temporary file as they come (asr/buffer.py), and the audio comes back as a
memmap of it, so an hours-long recording is never whole in process memory. It stops as soon as the audio
passes its limits, whatever the header said: 48 hours, far more than the header declared, and the server's
[limits] (core/config.py) given to `load` or set around it with `limited(limits)` (service/importing.py).
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, Optional

import numpy as np

from asr.buffer import Spool
from asr.types import AudioInfo
from core.config import Limits
from core.errors import InputError, TooLargeError
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

_LIMITS: ContextVar[Optional[Limits]] = ContextVar("xunlu_decode_limits", default=None)


@contextmanager
def limited(limits: Limits) -> Iterator[Limits]:
    """Decodes inside the block stop as soon as the audio passes `limits` ([limits] of config.toml), whatever
    the file's header said (service/importing.py checks the header before; this catches a header that lies)."""
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def _stop_at(path: str, channels: int, declared_s: float,
             limits: Optional[Limits]) -> tuple[int, Callable[[], Exception]]:
    """Samples per channel a decode may reach, and the error when it goes past them: the nearest of
    MAX_DECODE_S, far more than the header declared, and `limits`."""
    name = os.path.basename(path)
    said = f"its header says {_length(declared_s)}" if declared_s > 0 else "its header gives no length"
    caps: list[tuple[int, Callable[[], Exception]]] = [
        (int(MAX_DECODE_S * SAMPLE_RATE), lambda: TooLargeError(
            f"{name} decodes to more than {MAX_DECODE_S / 3600:.0f} hours of audio ({said}); refused"))]
    if declared_s > 0:
        caps.append((int((declared_s * 1.25 + 600) * SAMPLE_RATE), lambda: InputError(
            f"{name} decodes to far more audio than its header declares ({declared_s:.0f} s); refused")))
    if limits is not None:
        hours, gb = limits.max_import_hours, limits.max_decoded_gb
        caps.append((int(hours * 3600 * SAMPLE_RATE), lambda: TooLargeError(
            f"{name} decodes to more than {hours:g} hours of audio ({said}); this server imports at most "
            f"{hours:g} hours ([limits] max_import_hours)")))
        caps.append((int(gb * 1024 ** 3) // (4 * max(1, channels)), lambda: TooLargeError(
            f"{name} decodes to more than {gb:g} GB of audio ({said}); this server decodes at most {gb:g} GB "
            "([limits] max_decoded_gb)")))
    return min(caps, key=lambda cap: cap[0])


def _length(seconds: float) -> str:
    return f"{seconds / 3600:.1f} hours" if seconds >= 3600 else f"{seconds / 60:.1f} minutes"


def _decode(path: str, container, channels: int, declared_s: float = 0.0,
            limits: Optional[Limits] = None) -> np.ndarray:
    """Decode frame by frame into a temporary file (asr/buffer.py): returns a (channels, samples) memmap of
    it, so the audio is never whole in memory. The decode stops, and the file is gone, as soon as the audio
    passes the limits (`_stop_at`; `limits` or those of an enclosing `limited` block)."""
    import av

    layout = "mono" if channels == 1 else "stereo" if channels == 2 else av.AudioLayout(channels).name
    resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)
    limit, too_much = _stop_at(path, channels, declared_s, limits or _LIMITS.get())

    with Spool(channels) as spool:
        def put(chunk: np.ndarray) -> None:
            k = len(chunk) // channels
            if spool.frames + k > limit:
                raise too_much()
            spool.append(chunk[:k * channels])

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
        if spool.frames == 0:
            raise InputError(f"no audio samples could be decoded from {path}")
        return spool.samples()


def decode(path: str, channels: int, limits: Optional[Limits] = None) -> np.ndarray:
    """Decode the first audio stream to float32 at 16 kHz, shape (channels, samples), file-backed."""
    with _open(path) as container:
        if not container.streams.audio:
            raise InputError(f"no audio stream in {path}")
        return _decode(path, container, channels, _describe(path, container).duration, limits)


def load(path: str, limits: Optional[Limits] = None) -> tuple[AudioInfo, np.ndarray]:
    """Probe and decode in one pass; the info's duration is the decoded length (exact, not the header's). The
    samples are a read-write memmap of a temporary file the caller owns (gone when the array is dropped)."""
    with _open(path) as container:
        info = _describe(path, container)
        audio = _decode(path, container, info.channels, info.duration, limits)
    exact = audio.shape[1] / SAMPLE_RATE
    log.debug("decoded %s: %.2f s, %d channel(s)", path, exact, info.channels)
    return AudioInfo(info.path, exact, info.channels, info.sample_rate, info.codec), audio
