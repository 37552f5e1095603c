"""A recording's channels made ready for decoding: copies of one signal folded into one channel, crosstalk
gated, each channel's speech regions found (on the gated audio, and where that missed some of the channel's own
speech, on the microphone's audio: asr/vad.py `missed_speech`).

`split_channels` goes through the audio a chunk at a time (asr/vad.py), so a long file-backed recording
(asr/buffer.py) is never copied whole into memory: the gated channels are written back into it when the
caller owns it (`in_place`), else into a new array of the same kind (memory for memory, a temporary file for
a file). An in-memory array the caller passed is never written to.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from asr.buffer import chunks, empty, file_backed, release
from asr.regions import Channel
from asr.silero import speech_probs
from asr.types import TranscribeOptions
from asr.vad import CHUNK, channels_are_copies, crosstalk_gate, gate_decisions, missed_speech, speech_regions
from core.errors import OptionError


def split_channels(samples: np.ndarray, options: TranscribeOptions, in_place: bool = False) -> list[Channel]:
    """`samples`: float32 at 16 kHz, shape (channels, n). `in_place`: the caller owns `samples` and it may be
    overwritten with the gated audio."""
    n_channels = samples.shape[0]
    speakers = list(options.speakers)
    if speakers and len(speakers) != n_channels:
        raise OptionError(f"--speakers names {len(speakers)} speaker(s) but the recording has "
                          f"{n_channels} audio channel(s)")
    if n_channels == 1 or (not speakers and channels_are_copies(samples)):
        mono = samples[0] if n_channels == 1 else mix(samples, samples[0] if in_place else None)
        names: list[Optional[str]] = [speakers[0] if speakers else None]
        tracks = [mono]
    else:
        gains, levels = gate_decisions(samples)
        heard = [speech_probs(samples[c]) for c in range(n_channels)]   # before the gate writes over them
        out = samples if in_place else empty(samples.shape, on_disk=file_backed(samples))
        tracks = list(crosstalk_gate(samples, out=out, gains=gains))
        names = list(speakers) if speakers else [None] * n_channels
    out_channels = []
    for index, (track, name) in enumerate(zip(tracks, names)):
        regions = speech_regions(track, options.vad_threshold, options.min_silence_ms, options.speech_pad_ms)
        if len(tracks) > 1:   # what the gated VAD missed of the channel's own speech (asr/vad.py)
            regions += missed_speech(heard[index], gains, levels, index, regions, track.shape[0],
                                     options.vad_threshold, options.min_silence_ms, options.speech_pad_ms)
            regions.sort(key=lambda r: r.start)
        out_channels.append(Channel(index, name, track, tuple(regions)))
    return out_channels


def mix(samples: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """The mean of the channels, float32 (n,), into `out` (a new array of `samples`' kind when None)."""
    n = samples.shape[1]
    if out is None:
        out = empty((1, n), on_disk=file_backed(samples))[0]
    for a, b in chunks(n, CHUNK):
        piece = samples[:, a:b]
        out[a:b] = np.ascontiguousarray(piece).mean(axis=0)
        release(piece)
        release(out[a:b])
    return out
