"""Silero VAD over a channel of any length, a batch of windows at a time.

faster-whisper's `get_speech_timestamps` (faster_whisper/vad.py, adapted there from snakers4/silero-vad; both
MIT) pads the whole channel, then builds every 512-sample window again with 64 samples of context before it
and hands them to the ONNX model 10,000 at a time: 2.1 times the channel in memory, on top of the channel,
and some 110 MB inside ONNX Runtime for a batch that size. Here the same windows are built from the channel
BATCH at a time and fed to the same session, the model's state carried from batch to batch as there; a
window's probability does not depend on how the windows are batched, so they are the same, bit for bit
(tests/test_audio_stream.py holds this against faster-whisper across its batches). The spans are then
found from them by the same steps (`timestamps`, a copy of its second half).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from asr.buffer import release

WINDOW = 512          # samples the model takes at a time
CONTEXT = 64          # samples of the window before, put in front of each window
BATCH = 2000          # windows per session.run (64 s): about 30 MB of ONNX Runtime's work space
SAMPLE_RATE = 16000


def speech_probs(audio: np.ndarray) -> np.ndarray:
    """float32 speech probability of each 512-sample window of `audio` (1-D, 16 kHz), zero-padded to a whole
    window and one more where it ends on a window's edge: faster-whisper's `get_vad_model()(padded audio)`."""
    from faster_whisper.vad import get_vad_model

    session = get_vad_model().session
    n = audio.shape[0]
    windows = n // WINDOW + 1
    h = np.zeros((1, 1, 128), dtype="float32")
    c = np.zeros((1, 1, 128), dtype="float32")
    before = np.zeros(CONTEXT, dtype="float32")   # the context of the first window
    out = []
    for w0 in range(0, windows, BATCH):
        w1 = min(windows, w0 + BATCH)
        batch = np.zeros((w1 - w0, CONTEXT + WINDOW), dtype="float32")   # each window after its context
        piece = audio[w0 * WINDOW:min(n, w1 * WINDOW)]
        whole = piece.shape[0] // WINDOW
        batch[:whole, CONTEXT:] = piece[:whole * WINDOW].reshape(whole, WINDOW)
        if whole < batch.shape[0]:   # the last window: the end of the audio, then zeros
            batch[whole, CONTEXT:CONTEXT + piece.shape[0] - whole * WINDOW] = piece[whole * WINDOW:]
        release(piece)
        if w1 == windows:
            batch[-1, -CONTEXT:] = 0   # faster-whisper zeroes the end of the last window (its context buffer)
        batch[0, :CONTEXT] = before
        batch[1:, :CONTEXT] = batch[:-1, -CONTEXT:]
        before = batch[-1, -CONTEXT:].copy()
        probs, h, c = session.run(None, {"input": batch, "h": h, "c": c})
        out.append(probs)
        del batch   # before the next one is made
    return np.concatenate(out, axis=0)


def speech_timestamps(audio: np.ndarray, vad_options: Any) -> list[dict]:
    """faster-whisper's `get_speech_timestamps(audio, vad_options)`, without its whole-length copies."""
    return timestamps(speech_probs(audio), audio.shape[0], vad_options)


def timestamps(speech_probs: np.ndarray, audio_length_samples: int, vad_options: Any,
               sampling_rate: int = SAMPLE_RATE) -> list[dict]:
    """The speech spans ({"start", "end"} in samples) in a channel's window probabilities: the second half of
    faster-whisper 1.2's `get_speech_timestamps`, statement for statement (the probabilities stay float32
    scalars, compared with the thresholds as there)."""
    threshold = vad_options.threshold
    neg_threshold = vad_options.neg_threshold
    min_speech_duration_ms = vad_options.min_speech_duration_ms
    max_speech_duration_s = vad_options.max_speech_duration_s
    min_silence_duration_ms = vad_options.min_silence_duration_ms
    window_size_samples = WINDOW
    speech_pad_ms = vad_options.speech_pad_ms
    min_speech_samples = sampling_rate * min_speech_duration_ms / 1000
    speech_pad_samples = sampling_rate * speech_pad_ms / 1000
    max_speech_samples = sampling_rate * max_speech_duration_s - window_size_samples - 2 * speech_pad_samples
    min_silence_samples = sampling_rate * min_silence_duration_ms / 1000
    min_silence_samples_at_max_speech = sampling_rate * 98 / 1000

    triggered = False
    speeches: list[dict] = []
    current_speech: dict = {}
    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)
    temp_end = 0                      # a possible end of the speech (some silence is tolerated)
    prev_end = next_start = 0         # where to cut when a span reaches the maximum length

    for i, speech_prob in enumerate(speech_probs):
        if (speech_prob >= threshold) and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = window_size_samples * i
        if (speech_prob >= threshold) and not triggered:
            triggered = True
            current_speech["start"] = window_size_samples * i
            continue
        if triggered and (window_size_samples * i) - current_speech["start"] > max_speech_samples:
            if prev_end:
                current_speech["end"] = prev_end
                speeches.append(current_speech)
                current_speech = {}
                if next_start < prev_end:   # silence reached before, and still no speech
                    triggered = False
                else:
                    current_speech["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current_speech["end"] = window_size_samples * i
                speeches.append(current_speech)
                current_speech = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if (speech_prob < neg_threshold) and triggered:
            if not temp_end:
                temp_end = window_size_samples * i
            if (window_size_samples * i) - temp_end > min_silence_samples_at_max_speech:
                prev_end = temp_end
            if (window_size_samples * i) - temp_end < min_silence_samples:
                continue
            current_speech["end"] = temp_end
            if (current_speech["end"] - current_speech["start"]) > min_speech_samples:
                speeches.append(current_speech)
            current_speech = {}
            prev_end = next_start = temp_end = 0
            triggered = False
            continue

    if current_speech and (audio_length_samples - current_speech["start"]) > min_speech_samples:
        current_speech["end"] = audio_length_samples
        speeches.append(current_speech)

    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - speech_pad_samples))
        if i != len(speeches) - 1:
            silence_duration = speeches[i + 1]["start"] - speech["end"]
            if silence_duration < 2 * speech_pad_samples:
                speech["end"] += int(silence_duration // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - silence_duration // 2))
            else:
                speech["end"] = int(min(audio_length_samples, speech["end"] + speech_pad_samples))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - speech_pad_samples))
        else:
            speech["end"] = int(min(audio_length_samples, speech["end"] + speech_pad_samples))
    return speeches
