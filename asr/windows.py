"""Whisper's encoder window cut to the audio it holds.

faster-whisper always hands the encoder a 30 s window of mel frames, padded with zeros. CTranslate2 accepts a
shorter one, and self-attention makes the encoder's cost grow faster than the window: base int8 on 2 cores
takes about 0.43 s for 30 s, 0.08 s for 15 s, 0.06 s for 10 s. Live decoding (asr/stream_decode.py) and the
batched mode (asr/batched.py) encode only what a window holds, plus a margin, never under 10 s.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np

FRAMES_PER_S = 100      # Whisper's mel frames
MAX_FRAMES = 3000       # the 30 s window
MARGIN_FRAMES = 100     # encoded beyond the utterance's last frame
MIN_FRAMES = 1000       # windows under 10 s made Whisper repeat or garble short commands (stream_decode.py)


def with_encoder(model: Any, name: str, make_encode: Callable[[type], Callable[[Any, np.ndarray], Any]]) -> Any:
    """A shallow copy of a faster-whisper WhisperModel (the weights, tokenizer and feature extractor are
    shared, not copied) whose class's `encode` is `make_encode(the model's own class)`; the new class is
    called `name` + the old one's name. Attributes set on the copy stay on the copy. Other objects are
    returned as they are."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:  # pragma: no cover - a dependency of the package
        return model
    if not isinstance(model, WhisperModel):
        return model
    cls = type(model)
    clone = copy.copy(model)   # a new __dict__
    clone.__class__ = type(f"{name}{cls.__name__}", (cls,), {"encode": make_encode(cls)})
    return clone


def content_frames(features: np.ndarray) -> int:
    """Frames of a mel window (or the longest of a batch of them) before faster-whisper's padding:
    pad_or_trim pads with exact zeros, which a real log-mel frame never is."""
    f = features if features.ndim == 3 else features[None, ...]
    nonzero = np.flatnonzero(np.any(f != 0.0, axis=(0, 1)))
    return int(nonzero[-1]) + 1 if nonzero.size else 1


def trim_window(features: np.ndarray, min_frames: int = MIN_FRAMES) -> np.ndarray:
    """Mel features cut after the content: the content plus MARGIN_FRAMES, rounded up to whole seconds, and
    never under `min_frames`."""
    f = features if features.ndim == 3 else features[None, ...]
    frames = max(min_frames, int(math.ceil((content_frames(f) + MARGIN_FRAMES) / FRAMES_PER_S)) * FRAMES_PER_S)
    frames = min(f.shape[-1], MAX_FRAMES, frames)
    return np.ascontiguousarray(f[..., :frames])
