"""What reproduces a transcript: the optional `reproduce` key of the transcript JSON, and the comparison of a
re-run with the transcript it reproduces.

The same audio, model (model.bin by its SHA-256), compute type, device, CPU threads, library versions and
options give the same transcript byte for byte: decoding is at temperature 0 only (asr/regions.py), and the
VAD and the crosstalk gate are deterministic. The record holds every option of TranscribeOptions as it was
used (`options`: enough to run it again), the fixed decoding and VAD settings that shape the text
(`decoding`, `vad`), and the vocabulary. A live transcript's record (`live_record`) holds the live decoder's
options instead (`live`): `xunlu transcribe SESSION --reproduce 1` feeds the original's audio through the
live decoder again, in the chunks live took it; where live decided by the clock (an early decode used or not)
the text may differ, and the comparison says where.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
from typing import Any, Optional

from asr import regions, stream_decode, vad, vocabulary, windows, words
from asr.types import TranscribeOptions

RECORD_FORMAT = 1
OPTION_FIELDS = tuple(f.name for f in dataclasses.fields(TranscribeOptions))


@functools.lru_cache(maxsize=None)
def versions() -> dict[str, str]:
    """xunlu, faster-whisper and CTranslate2 versions (what is installed)."""
    import importlib.metadata as md

    out = {}
    for key, dist in (("xunlu", "xunlu"), ("faster_whisper", "faster-whisper"), ("ctranslate2", "ctranslate2"),
                      ("onnxruntime", "onnxruntime")):
        try:
            out[key] = md.version(dist)
        except md.PackageNotFoundError:
            out[key] = None
    return out


def effective_options(options: TranscribeOptions) -> dict[str, Any]:
    """TranscribeOptions as used: the beam and the prompt resolved, speakers a list."""
    d = {name: getattr(options, name) for name in OPTION_FIELDS}
    d["speakers"] = list(options.speakers)
    d["hotwords"] = list(options.hotwords)
    d["beam_size"] = options.beam
    if d["initial_prompt"] is None and options.language == "zh":
        d["initial_prompt"] = words.ZH_PROMPT
    return d


def record(label: str, provenance: Optional[dict[str, Any]], options: TranscribeOptions) -> dict[str, Any]:
    """The `reproduce` record of a transcription with these options by a model loaded as `provenance` says
    (asr.pipeline.load_transcriber: name, source, sha256, device, compute_type, cpu_threads)."""
    loaded = dict(provenance or {})
    return {
        "format": RECORD_FORMAT,
        **versions(),
        "model": {"name": loaded.get("name"), "label": label, "source": loaded.get("source"),
                  "sha256": loaded.get("sha256")},
        "device": loaded.get("device"),
        "compute_type": loaded.get("compute_type"),
        "cpu_threads": loaded.get("cpu_threads"),
        "options": effective_options(options),
        "decoding": {
            "method": "batched clips, then regions without text alone" if options.batch_size > 0
            else "long-form over the channel's joined speech, words aligned per window; regions without text alone",
            "temperature": 0.0, "word_timestamps": "aligned after each window's decode", "condition_on_previous_text": False,
            "tokens_per_s": stream_decode.TOKENS_PER_S, "min_window_frames": windows.MIN_FRAMES,
            "window_margin_frames": windows.MARGIN_FRAMES, "doubt_window_frames": stream_decode.DOUBT_MIN_FRAMES,
            "doubt_logprob_min": stream_decode.LOGPROB_MIN, "doubt_compression_max": stream_decode.COMPRESSION_MAX,
            "tail_speech_s": stream_decode.TAIL_SPEECH_S, "max_window_s": regions.MAX_WINDOW_S,
            "uncovered_s": regions.UNCOVERED_S,
            "split_pause_s": words.SPLIT_PAUSE_S,
            "barred_while_listed": vocabulary.LIST_MARK,
        },
        "vad": {"model": "silero (faster-whisper)", "threshold": options.vad_threshold,
                "min_silence_ms": options.min_silence_ms, "speech_pad_ms": options.speech_pad_ms,
                "fine_silence_ms": vad.FINE_SILENCE_MS, "max_speech_s": 30.0,
                "crosstalk_margin_db": 3.0, "crosstalk_min_similarity": 0.5},
        "vocabulary": list(options.hotwords),
    }


def live_record(label: str, provenance: Optional[dict[str, Any]], options: Any) -> dict[str, Any]:
    """The `reproduce` record of a live transcript made with these `asr.stream.StreamOptions`."""
    live = dataclasses.asdict(options)
    live["speakers"] = list(options.speakers)
    live["hotwords"] = list(options.hotwords)
    base = record(label, provenance, TranscribeOptions(language=options.language,
                                                       speakers=tuple(options.speakers),
                                                       beam_size=options.beam_size,
                                                       initial_prompt=options.initial_prompt,
                                                       hotwords=tuple(options.hotwords)))
    base["decoding"] = {"method": "live: utterance by utterance as the audio arrived (asr/stream.py)",
                        "temperature": 0.0, "condition_on_previous_text": False,
                        "barred_while_listed": vocabulary.LIST_MARK}
    base["live"] = live
    return base


def stream_options_of(rec: dict[str, Any]) -> Any:
    """The StreamOptions a live record was made with, partials off (they do not change the finals)."""
    from asr.stream import StreamOptions

    given = dict(rec.get("live") or {})
    known = {f.name for f in dataclasses.fields(StreamOptions)}
    kwargs = {k: v for k, v in given.items() if k in known}
    for key in ("speakers", "hotwords"):
        kwargs[key] = tuple(kwargs.get(key) or ())
    kwargs["partials"] = False
    return StreamOptions(**kwargs)


def options_of(rec: dict[str, Any]) -> TranscribeOptions:
    """The TranscribeOptions a record was made with (unknown keys of a later format are ignored)."""
    given = rec.get("options") or {}
    kwargs = {k: v for k, v in given.items() if k in OPTION_FIELDS}
    for key in ("speakers", "hotwords"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key] or ())
    return TranscribeOptions(**kwargs)


def mismatches(rec: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between the record and the one a re-run makes (versions, model, device), one line each:
    a re-run with any of these changed may give other text."""
    out = []
    for key in ("xunlu", "faster_whisper", "ctranslate2", "onnxruntime", "device", "compute_type", "cpu_threads"):
        if rec.get(key) != now.get(key):
            out.append(f"{key}: {rec.get(key)} then, {now.get(key)} now")
    a, b = rec.get("model") or {}, now.get("model") or {}
    if a.get("sha256") != b.get("sha256"):
        out.append(f"model.bin sha256: {a.get('sha256')} then, {b.get('sha256')} now")
    return out


def _lines(data: dict[str, Any]) -> list[str]:
    return [f"{s.get('speaker') or '-'} ch{s.get('channel', 0)} [{s['start']:.2f}-{s['end']:.2f}] {s['text']}"
            for s in data.get("segments", ())]


def compare(then: dict[str, Any], now: dict[str, Any], label_then: str, label_now: str) -> tuple[bool, bool, str]:
    """(the text matches, the whole JSON matches but for session and version, a unified diff of the segment
    lines: speaker, channel, times, text)."""
    text_then = [s["text"] for s in then.get("segments", ())]
    text_now = [s["text"] for s in now.get("segments", ())]
    strip = {"session", "version"}
    same = {k: v for k, v in then.items() if k not in strip} == {k: v for k, v in now.items() if k not in strip}
    diff = "".join(line + "\n" for line in difflib.unified_diff(_lines(then), _lines(now), fromfile=label_then,
                                                                  tofile=label_now, lineterm=""))
    return text_then == text_now, same, diff
