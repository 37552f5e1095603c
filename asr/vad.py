"""Where people speak: Silero VAD regions (raw and padded) and crosstalk gating between channels.

Each microphone of an interview room also hears the other person, more quietly. Before VAD, every channel
is gated: a stretch where another channel is clearly louder and carries the same signal is muted on this
one, so a sentence is only transcribed from the microphone it was spoken into, and never twice.

Both go through a channel a piece at a time and give the same numbers as on the whole of it at once: a
recording decoded to a temporary file (asr/buffer.py) is read from there, never copied whole into memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from asr.buffer import chunks, release
from asr.silero import WINDOW, speech_timestamps, timestamps

SAMPLE_RATE = 16000
FRAME = 320  # 20 ms
CHUNK = 60 * SAMPLE_RATE   # samples a pass over whole channels reads at a time


@dataclass(frozen=True)
class Region:
    """A padded stretch of speech in samples, made of the raw VAD spans it contains.

    `spans` are the stretches where the VAD heard speech (no padding), split at pauses of
    FINE_SILENCE_MS or more; `onset` is where the first of them begins.
    """

    start: int
    end: int
    spans: tuple[tuple[int, int], ...]

    @property
    def onset(self) -> int:
        return self.spans[0][0]

    @property
    def start_s(self) -> float:
        return self.start / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        return self.end / SAMPLE_RATE

    @property
    def onset_s(self) -> float:
        return self.onset / SAMPLE_RATE


FINE_SILENCE_MS = 300


def speech_regions(audio: np.ndarray, threshold: float = 0.5, min_silence_ms: int = 2000,
                   pad_ms: int = 400, max_speech_s: float = 30.0) -> list[Region]:
    """Silero VAD over one channel (an array, or a row of a file-backed one: read a chunk at a time).

    Speech is found at a fine grain (pauses of 300 ms), then spans closer than `min_silence_ms` are merged
    into regions of at most `max_speech_s`, padded like faster-whisper pads its VAD chunks. The fine spans
    are kept so that word times can be checked against where speech really starts after each pause.
    """
    if audio.size == 0 or peak(audio) < 1e-4:
        return []
    opts = _vad_options(threshold, min_silence_ms, max_speech_s)
    raw = [(r["start"], r["end"]) for r in speech_timestamps(audio, opts)]
    return pad_regions(merge_spans(raw, min_silence_ms, max_speech_s), audio.shape[0], pad_ms)


def _vad_options(threshold: float, min_silence_ms: int, max_speech_s: float) -> Any:
    from faster_whisper.vad import VadOptions

    return VadOptions(threshold=threshold, min_silence_duration_ms=min(FINE_SILENCE_MS, min_silence_ms),
                      speech_pad_ms=0, max_speech_duration_s=max_speech_s)


def peak(audio: np.ndarray) -> float:
    """The largest absolute sample of one channel."""
    top = 0.0
    for a, b in chunks(audio.shape[0], CHUNK):
        piece = audio[a:b]
        top = max(top, float(np.max(np.abs(piece))))
        release(piece)
    return top


def merge_spans(raw: list[tuple[int, int]], min_silence_ms: int,
                max_speech_s: float) -> list[tuple[tuple[int, int], ...]]:
    """Group raw spans whose gaps are shorter than `min_silence_ms`, never past `max_speech_s` a group."""
    gap = min_silence_ms * SAMPLE_RATE // 1000
    limit = int(max_speech_s * SAMPLE_RATE)
    groups: list[list[tuple[int, int]]] = []
    for span in raw:
        if groups and span[0] - groups[-1][-1][1] < gap and span[1] - groups[-1][0][0] <= limit:
            groups[-1].append(span)
        else:
            groups.append([span])
    return [tuple(g) for g in groups]


def pad_regions(groups: list[tuple[tuple[int, int], ...]], length: int, pad_ms: int) -> list[Region]:
    """Pad each group by `pad_ms` each side; where two pads would overlap, split the gap between them."""
    pad = pad_ms * SAMPLE_RATE // 1000
    out: list[Region] = []
    for i, spans in enumerate(groups):
        start, end = spans[0][0], spans[-1][1]
        lo = max(0, start - pad)
        hi = min(length, end + pad)
        if i > 0:
            prev_end = groups[i - 1][-1][1]
            if start - prev_end < 2 * pad:
                lo = max(lo, prev_end + (start - prev_end) // 2)
        if i + 1 < len(groups):
            next_start = groups[i + 1][0][0]
            if next_start - end < 2 * pad:
                hi = min(hi, end + (next_start - end) // 2)
        out.append(Region(lo, hi, tuple(spans)))
    return out


BLOCK = 5 * FRAME      # 100 ms blocks for the crosstalk decision
MAX_LAG = 240          # 15 ms: microphones up to about 5 m apart


def _block_db(audio: np.ndarray) -> np.ndarray:
    """Per-channel energy in dB per 100 ms block; shape (channels, blocks)."""
    channels, n = audio.shape
    blocks = n // BLOCK
    x = audio[:, : blocks * BLOCK].reshape(channels, blocks, BLOCK).astype(np.float64)
    return 10.0 * np.log10(np.mean(x ** 2, axis=2) + 1e-12)


def _block_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Peak normalised cross-correlation of two channels per 100 ms block, over lags of +-15 ms."""
    blocks = min(a.shape[0], b.shape[0]) // BLOCK
    if blocks == 0:
        return np.zeros(0)
    size = 1 << int(np.ceil(np.log2(2 * BLOCK)))
    xa = a[: blocks * BLOCK].reshape(blocks, BLOCK).astype(np.float64)
    xb = b[: blocks * BLOCK].reshape(blocks, BLOCK).astype(np.float64)
    xa -= xa.mean(axis=1, keepdims=True)
    xb -= xb.mean(axis=1, keepdims=True)
    fa = np.fft.rfft(xa, size, axis=1)
    fb = np.fft.rfft(xb, size, axis=1)
    corr = np.fft.irfft(fa * np.conj(fb), size, axis=1)
    lags = np.concatenate([corr[:, : MAX_LAG + 1], corr[:, -MAX_LAG:]], axis=1)
    norm = np.sqrt(np.sum(xa ** 2, axis=1) * np.sum(xb ** 2, axis=1)) + 1e-12
    return np.max(np.abs(lags), axis=1) / norm


GATE_CHUNK = 100 * BLOCK   # 10 s: the gate's float64 and FFT work on a piece stays near 15 MB


def crosstalk_gate(audio: np.ndarray, margin_db: float = 3.0, min_similarity: float = 0.5,
                   out: Optional[np.ndarray] = None, gains: Optional[np.ndarray] = None) -> np.ndarray:
    """Mute, on each channel, the blocks where it only hears another channel's speaker.

    Crosstalk is the louder channel's signal arriving, attenuated and a little late, at the quieter
    microphone: a block is taken from channel c when another channel is louder by `margin_db` and the two
    signals are correlated there. Two people speaking at once are uncorrelated, so both are kept; a
    recording with the same signal on every channel keeps it on the first channel only.

    `gains`: the gate's decisions when already taken (`gate_decisions`).

    Returns the gated audio in `out` (a new array when None; `audio` itself may be given), written GATE_CHUNK
    samples at a time: a block's decision needs only that block, so no step holds more than a piece of
    a long recording (a file-backed one stays on disk). Fewer than two channels, or less than a block:
    `audio` itself.
    """
    channels, n = audio.shape
    if channels < 2 or n < BLOCK:
        return audio
    if gains is None:
        gains = gate_decisions(audio, margin_db, min_similarity)[0]
    if out is None:
        out = np.empty((channels, n), dtype=np.float32)
    for a, b in chunks(n, GATE_CHUNK):
        piece = audio[:, a:b]
        out[:, a:b] = piece * _ramped(gains, a, b)
        release(piece)
        release(out[:, a:b])
    return out


def gate_decisions(audio: np.ndarray, margin_db: float = 3.0,
                   min_similarity: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(gains, levels) per channel and 100 ms block: 0 or 1, whether the gate keeps the block (one-block
    holes closed); and the block's level in dB."""
    channels, n = audio.shape
    blocks = n // BLOCK
    gains = np.ones((channels, blocks))
    levels = np.zeros((channels, blocks))
    for a, b in chunks(blocks * BLOCK, GATE_CHUNK):
        piece = audio[:, a:b]
        x = np.ascontiguousarray(piece)
        release(piece)
        db = _block_db(x)
        levels[:, a // BLOCK:b // BLOCK] = db
        g = gains[:, a // BLOCK:b // BLOCK]
        for c in range(channels):
            for d in range(channels):
                if d == c:
                    continue
                louder = db[d] > db[c] + margin_db
                if d < c:  # equal copies belong to the lower channel
                    louder |= np.abs(db[d] - db[c]) <= margin_db
                candidates = louder & (db[d] > -60.0)
                if not candidates.any():
                    continue
                similar = _block_similarity(x[c], x[d]) >= min_similarity
                g[c, candidates & similar] = 0.0
    for c in range(channels):
        g = gains[c]
        holes = (g[1:-1] > 0) & (g[:-2] == 0) & (g[2:] == 0)
        g[1:-1][holes] = 0.0
    return gains, levels


OWN_MARGIN_DB = 6.0   # a stretch the gated VAD missed is the channel's own speech when this much louder there


def missed_speech(probs: np.ndarray, gains: np.ndarray, levels: np.ndarray, channel: int,
                  found: list[Region], length: int, threshold: float = 0.5, min_silence_ms: int = 2000,
                  pad_ms: int = 400, max_speech_s: float = 30.0) -> list[Region]:
    """Regions of a channel's own speech that the VAD of its gated audio did not find.

    Silero carries its state through a channel, and after the stretches the gate muted (exact zeros) it is
    slower to believe speech: a short word said alone after the other person spoke (崇明岛, 0.5 s, in a room
    with an echo) reached a speech probability of 0.67 on the microphone's own audio and 0.49 on the gated
    audio, the same samples, and was lost without a trace. Here the VAD's probabilities on the microphone's
    audio (`probs`, `asr.silero.speech_probs` of the channel before gating), zeroed where the gate muted the
    channel, give regions; one that overlaps no region `found` is kept where the channel is OWN_MARGIN_DB
    louder than every other channel (the median over its speech's blocks): its own speaker, not crosstalk's
    edges or the room."""
    if gains.shape[1] == 0 or probs.size == 0:
        return []
    block = np.minimum((np.arange(probs.shape[0]) * WINDOW + WINDOW // 2) // BLOCK, gains.shape[1] - 1)
    heard = np.where(gains[channel][block] > 0, probs, np.float32(0.0)).astype(np.float32)
    opts = _vad_options(threshold, min_silence_ms, max_speech_s)
    raw = [(r["start"], r["end"]) for r in timestamps(heard, length, opts)]
    others = np.delete(levels, channel, axis=0).max(axis=0)
    out = []
    for r in pad_regions(merge_spans(raw, min_silence_ms, max_speech_s), length, pad_ms):
        if any(f.start < r.end and f.end > r.start for f in found):
            continue
        ks = [k for a, b in r.spans for k in range(a // BLOCK, min(-(-b // BLOCK), levels.shape[1]))]
        if ks and float(np.median(levels[channel, ks] - others[ks])) >= OWN_MARGIN_DB:
            out.append(r)
    return out


def _ramped(gains: np.ndarray, a: int, b: int) -> np.ndarray:
    """The per-sample gain of samples a..b, shape (channels, b - a): each block's gain softened over a 20 ms
    ramp at its edges (no clicks); after the last whole block, the last value. The same numbers as the gain
    of every sample at once: each is the same 320-sample dot product of the same values."""
    length = gains.shape[1] * BLOCK
    left, right = FRAME // 2, FRAME - 1 - FRAME // 2
    ramp = np.ones(FRAME) / FRAME

    def smooth(lo: int, hi: int) -> np.ndarray:   # lo < hi <= length
        at = np.clip(np.arange(lo - left, hi + right), 0, length - 1) // BLOCK
        return np.stack([np.convolve(row, ramp, mode="valid") for row in gains[:, at]])

    parts = []
    if a < length:
        parts.append(smooth(a, min(b, length)))
    if b > length:
        parts.append(np.repeat(smooth(length - 1, length), b - max(a, length), axis=1))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def channels_are_copies(audio: np.ndarray, tolerance: float = 0.98) -> bool:
    """True when every channel carries the same signal (a mono recording stored as stereo).

    The correlation is summed CHUNK samples at a time: float32 dot products of each piece, as np.linalg.norm
    and np.dot give them on a whole channel (a recording of one piece or less gets the very same figure;
    a longer one a sum of pieces, which rounds less)."""
    channels, n = audio.shape
    if channels < 2:
        return True
    for other in range(1, channels):
        rr = oo = ro = 0.0
        heard = False
        for a, b in chunks(n, CHUNK):
            pieces = audio[0, a:b], audio[other, a:b]
            x, y = (np.ascontiguousarray(p) for p in pieces)
            rr += float(np.dot(x, x))
            oo += float(np.dot(y, y))
            ro += float(np.dot(x, y))
            heard = heard or bool(np.any(x)) or bool(np.any(y))
            for p in pieces:
                release(p)
            del x, y   # before the next piece is copied
        denom = float(np.sqrt(np.float32(rr)) * np.sqrt(np.float32(oo)))
        if denom == 0.0:
            if heard:
                return False
            continue
        if ro / denom < tolerance:
            return False
    return True
