"""Benchmark: xunlu's ASR pipeline against plain faster-whisper on the shared speech clips.

    .venv/bin/python -m bench.asr [--quick] [--only cer,onset,batch,sets,interviews] [--home DIR] [--seed N]
                                  [--interview-seeds 1234,99,7] [--no-processes] [--noise-draws 3]

Sections (all measured in the same run, with one loaded model):
  cer    CER on the S0150 sentences of 5.5 s or more, CER on the other zh rows (misc/), WER on the English
         rows (not the stereo row), and the real-time factor of both systems over the same files.
  onset  a two-channel interview assembled in memory (officer / suspect, crosstalk, room noise): word-onset
         hit rate, whole-interview CER, double transcriptions; plus the shared stereo_diarization.wav row.
  batch  a mono file of S0150 sentences: xunlu sequential (batch 0) against batched (batch 8), RTF and CER.
  sets   per set (short clips under 5.5 s of all three zh speakers, S0150 sentences of 5.5 s or more, and the
         clips of 2-8 s of both): xunlu twice (byte-identical JSON?) beside plain faster-whisper with and
         without word timestamps, wall time, the slowest file, characters written after the last speech, CER.
  vocabulary  names from the references recognised without and with a case vocabulary, and names listed
         but not said written anyway (bench/vocabulary.py).
  interviews  one 5-minute two-channel interview per seed, each with the two sentences that read years digit
         by digit: offline (twice), batched, live (fed as fast as taken) and plain faster-whisper on the mono
         mix with and without word times: CER, utterances with text / only a [听不清] marker / nothing, digit
         runs kept whole, the coverage counters of each path, and whole processes (model load included).
  noise  the same interviews under several draws of their -60 dBFS noise: how far each path's CER moves
         when nothing else changes, offline against live and plain on each draw (bench/noise_draws.py).

Progress goes to stderr; stdout gets human-readable tables and, last, one JSON line with every figure.
Clips are read from ../shared/speech (relative to the project root), or from $XUNLU_SPEECH_DIR.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from asr.engine import ZH_PROMPT, collect
from asr.pipeline import load_transcriber
from asr.scoring import cer, edit_distance, wer
from asr.types import TranscribeOptions
from asr.vad import speech_regions
from bench.common import (
    DIGIT_SENTENCES,
    FRAME_10MS,
    SPEECH_DIR,
    SR,
    Row,
    digit_runs,
    feed_live,
    frame_rms,
    make_log,
    manifest,
    model_home,
    overlap,
    pct,
    read_wav,
    require_speech,
    write_wav,
)
from core.textnorm import for_scoring, to_simplified

ONSET_TOLERANCE_S = 0.5
TARGETS = {"rtf_ratio_max": 1.05, "onset_hit_min_pct": 90.0, "batch_speedup_min": 2.0,
           "batch_cer_delta_max_pts": 1.0, "double_transcriptions": 0}


log = make_log("bench")


# -- data -----------------------------------------------------------------------------------------------
def speech_onset(clip: np.ndarray) -> float:
    """Seconds of leading silence in a clip, by energy.

    10 ms frames; threshold = max(0.05 * the clip's loudest frame RMS, 4 * its 10th-percentile frame RMS,
    i.e. 12 dB over its noise floor); the onset is the first frame that starts a run of 5 frames (50 ms)
    all above the threshold. The noise-floor term and the 50 ms run keep clicks and breaths in the clips'
    recorded room tone (about -54 dBFS in AISHELL) from counting as speech.
    """
    rms = frame_rms(clip)
    n = rms.shape[0]
    threshold = max(0.05 * float(rms.max()), 4.0 * float(np.percentile(rms, 10)))
    above = rms > threshold
    run = 5
    for i in range(max(0, n - run + 1)):
        if above[i:i + run].all():
            return i * FRAME_10MS / SR
    return float(np.argmax(above)) * FRAME_10MS / SR


# -- the two systems ------------------------------------------------------------------------------------
class Systems:
    def __init__(self, home: Path):
        t0 = time.perf_counter()
        self.tr = load_transcriber("base", home)
        self.model = self.tr.model
        log(f"model {self.tr.model_label} loaded in {time.perf_counter() - t0:.1f} s")

    def xunlu(self, audio: Any, language: str, speakers: tuple[str, ...] = (), batch_size: int = 0,
              beam_size: Optional[int] = None, with_info: bool = False):
        """(Transcript, seconds[, info]). `audio` is a path (decoded by the pipeline, inside the timing) or an
        array."""
        opts = TranscribeOptions(language=language, speakers=speakers, batch_size=batch_size,
                                 beam_size=beam_size)
        t0 = time.perf_counter()
        if isinstance(audio, np.ndarray):
            segments, info = self.tr.transcribe_array(audio, opts)
        else:
            segments, info = self.tr.transcribe(str(audio), opts)
        transcript = collect(segments, info)
        took = time.perf_counter() - t0
        return (transcript, took, info) if with_info else (transcript, took)

    def plain(self, audio: Any, language: str, defaults: bool = False, word_timestamps: bool = True):
        """(list of faster-whisper segments, seconds): the baseline, with the pipeline's own settings (no
        conditioning on previous text, the zh prompt, VAD, beam 5; faster-whisper's temperature fallback), or
        with faster-whisper's defaults (condition_on_previous_text on, no prompt) when `defaults`."""
        if not isinstance(audio, np.ndarray):
            audio = str(audio)
        t0 = time.perf_counter()
        extra = {} if defaults else {"condition_on_previous_text": False,
                                     "initial_prompt": ZH_PROMPT if language == "zh" else None}
        segments, _ = self.model.transcribe(audio, language=language, beam_size=5, vad_filter=True,
                                            word_timestamps=word_timestamps, **extra)
        out = list(segments)
        return out, time.perf_counter() - t0

    def warm_up(self, zh: Path) -> None:
        log("warming up both systems")
        self.xunlu(zh, "zh")
        self.plain(zh, "zh")


def plain_text(segments: list) -> str:
    return "".join(s.text for s in segments).strip()


def xunlu_text(transcript, channel: Optional[int] = None) -> str:
    """Segment texts in time order; Chinese segments are joined without separator, others with a space."""
    segs = [s for s in transcript.segments if channel is None or s.channel == channel]
    sep = "" if transcript.language.startswith("zh") else " "
    return sep.join(s.text for s in segs)


# -- section 1: accuracy and speed on the shared rows ---------------------------------------------------
def bench_cer(sys_: Systems, rows: list[Row], quick: bool, dump: Optional[list] = None) -> dict:
    s0150 = [r for r in rows if r.file.startswith("aishell/") and r.language == "zh" and r.duration >= 5.5]
    if quick:
        s0150 = s0150[:20]
    misc_zh = [r for r in rows if r.file.startswith("misc/") and r.language == "zh"]
    english = [r for r in rows if r.language == "en" and Path(r.file).name != "stereo_diarization.wav"]
    groups = [("S0150>=5.5s", "zh", s0150), ("misc zh", "zh", misc_zh), ("english", "en", english)]

    results: dict[str, Any] = {}
    timing = {"audio_s": 0.0, "xunlu_s": 0.0, "plain_s": 0.0, "files": 0}
    timing_s0150 = {"audio_s": 0.0, "xunlu_s": 0.0, "plain_s": 0.0}
    k = 0
    total = sum(len(g[2]) for g in groups)
    for name, lang, group in groups:
        score = cer if lang == "zh" else wer
        err = {"xunlu": 0, "plain": 0}
        ref_len = 0
        trad = {"xunlu": 0, "plain": 0}
        for row in group:
            k += 1
            # alternate which system goes first, so neither always runs with warm caches
            order = ("xunlu", "plain") if k % 2 else ("plain", "xunlu")
            hyp: dict[str, str] = {}
            secs: dict[str, float] = {}
            for which in order:
                if which == "xunlu":
                    tr, secs["xunlu"] = sys_.xunlu(row.path, lang)
                    hyp["xunlu"] = xunlu_text(tr)
                else:
                    segs, secs["plain"] = sys_.plain(row.path, lang)
                    hyp["plain"] = plain_text(segs)
            audio_s = row.duration
            per_file = {"file": row.file, "reference": row.reference}
            for which in ("xunlu", "plain"):
                e, n = score(row.reference, hyp[which])
                err[which] += e
                per_file[which] = hyp[which]
                per_file[f"{which}_errors"] = e
                per_file[f"{which}_s"] = round(secs[which], 3)
                if lang == "zh":
                    trad[which] += sum(1 for a, b in zip(hyp[which], to_simplified(hyp[which])) if a != b)
            ref_len += n
            per_file["ref_units"] = n
            if dump is not None:
                dump.append(per_file)
            timing["audio_s"] += audio_s
            timing["xunlu_s"] += secs["xunlu"]
            timing["plain_s"] += secs["plain"]
            timing["files"] += 1
            if name.startswith("S0150"):
                timing_s0150["audio_s"] += audio_s
                timing_s0150["xunlu_s"] += secs["xunlu"]
                timing_s0150["plain_s"] += secs["plain"]
            if k % 10 == 0 or k == total:
                log(f"cer: {k}/{total} files")
        results[name] = {"metric": "CER" if lang == "zh" else "WER", "files": len(group), "ref_units": ref_len,
                         "xunlu_errors": err["xunlu"], "plain_errors": err["plain"],
                         "xunlu_pct": pct(err["xunlu"], ref_len), "plain_pct": pct(err["plain"], ref_len)}
        if lang == "zh":
            results[name]["traditional_chars_xunlu"] = trad["xunlu"]
            results[name]["traditional_chars_plain"] = trad["plain"]

    def rtf(t: dict) -> dict:
        x = t["xunlu_s"] / t["audio_s"]
        p = t["plain_s"] / t["audio_s"]
        return {"audio_s": round(t["audio_s"], 2), "xunlu_s": round(t["xunlu_s"], 2),
                "plain_s": round(t["plain_s"], 2), "xunlu_rtf": round(x, 4), "plain_rtf": round(p, 4),
                "ratio": round(x / p, 3)}

    results["rtf_all"] = {"files": timing["files"], **rtf(timing)}
    results["rtf_s0150"] = rtf(timing_s0150)

    print("\n== 1. Accuracy and speed on the shared rows (xunlu vs plain faster-whisper, base int8) ==")
    print(f"{'set':<14}{'metric':>7}{'files':>7}{'ref':>7}{'xunlu err':>11}{'xunlu %':>9}"
          f"{'plain err':>11}{'plain %':>9}")
    for name, _, _ in groups:
        r = results[name]
        print(f"{name:<14}{r['metric']:>7}{r['files']:>7}{r['ref_units']:>7}{r['xunlu_errors']:>11}"
              f"{r['xunlu_pct']:>9.2f}{r['plain_errors']:>11}{r['plain_pct']:>9.2f}")
    r = results["S0150>=5.5s"]
    print(f"Traditional characters left in output (S0150): xunlu {r['traditional_chars_xunlu']}, "
          f"plain {r['traditional_chars_plain']} (scoring converts both)")
    for key, label in (("rtf_s0150", "S0150 files"), ("rtf_all", "all files")):
        t = results[key]
        print(f"RTF over {label:<12} audio {t['audio_s']:8.1f} s   xunlu {t['xunlu_rtf']:.4f} "
              f"({t['xunlu_s']:.1f} s)   plain {t['plain_rtf']:.4f} ({t['plain_s']:.1f} s)   "
              f"ratio {t['ratio']:.3f} (target <= {TARGETS['rtf_ratio_max']})")
    return results


# -- section 3: two-speaker interview -------------------------------------------------------------------
@dataclass(frozen=True)
class Utterance:
    channel: int
    place: float      # where the clip starts in the interview, seconds
    onset: float      # true speech onset in the interview, seconds
    end: float        # where the clip ends
    reference: str


def db_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def assemble_interview(rows: list[Row], minutes: float, seed: int, crosstalk_db: float = -18.0,
                       delay_ms: float = 3.0, noise_dbfs: float = -60.0, extra: Sequence[Any] = (),
                       noise_seed: Optional[int] = None) -> tuple[np.ndarray, list[Utterance]]:
    """Alternating turns on channel 0 (officer) and 1 (suspect), 1.0-4.0 s pauses, crosstalk, room noise.
    `extra`: clips (rows, or (audio, reference)) that the interview must hold, spread evenly among the others.
    `noise_seed`: the room noise's own draw (default `seed`): the same interview under another draw of it."""
    rng = random.Random(seed)
    pool: list[Any] = [r for r in rows if r.language == "zh" and
                       ("S0150" in r.file or r.file.startswith("misc/")) and r not in extra]
    rng.shuffle(pool)
    if extra:
        step = max(1, int(minutes * 60.0 / 8.5) // (len(extra) + 1))   # a turn takes about 8.5 s
        for k, item in enumerate(extra):
            pool.insert(min(len(pool), (k + 1) * step + k), item)
    target = minutes * 60.0
    placed: list[tuple[int, int, np.ndarray, str]] = []
    t = rng.uniform(0.5, 1.5)
    channel = 0
    for item in pool:
        clip, reference = (read_wav(item.path), item.reference) if isinstance(item, Row) else item
        if t + clip.shape[0] / SR > target:
            break
        placed.append((channel, int(round(t * SR)), clip, reference))
        t += clip.shape[0] / SR + rng.uniform(1.0, 4.0)
        channel = 1 - channel
    n = int(round(t * SR))
    direct = np.zeros((2, n), dtype=np.float64)
    utterances = []
    for ch, start, clip, reference in placed:
        direct[ch, start:start + clip.shape[0]] += clip
        place = start / SR
        utterances.append(Utterance(ch, place, place + speech_onset(clip), place + clip.shape[0] / SR,
                                    reference))
    delay = int(round(delay_ms * SR / 1000.0))
    mixed = direct.copy()
    for ch in (0, 1):
        other = direct[1 - ch]
        mixed[ch, delay:] += db_gain(crosstalk_db) * other[: n - delay]
    noise = np.random.default_rng(seed if noise_seed is None else noise_seed).standard_normal((2, n)) \
        * db_gain(noise_dbfs)
    return (mixed + noise).astype(np.float32), utterances


def semi_global_distance(ref: str, hyp: str) -> int:
    """Edit distance of all of `ref` against the best-matching substring of `hyp` (free ends in hyp)."""
    prev = [0] * (len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return min(prev)


def nearest_word_hits(utts: list[Utterance], words: list[tuple[int, float]]) -> int:
    """Diagnostic beside the segment rule: utterances with *some* word on their channel (channel -1: any)
    starting within the tolerance of the onset, wherever the segments were cut."""
    hits = 0
    for u in utts:
        starts = [t for ch, t in words if ch in (-1, u.channel)]
        if starts and min(abs(t - u.onset) for t in starts) <= ONSET_TOLERANCE_S:
            hits += 1
    return hits


def spanning(utts: list[Utterance], segs: list[tuple[int, float, float, float]]) -> int:
    """Segments that overlap the speech of more than one utterance of their channel."""
    count = 0
    for s in segs:
        n = sum(1 for u in utts if s[0] in (-1, u.channel) and overlap(u.onset, u.end, s[1], s[2]) > 0.3)
        count += n > 1
    return count


def onset_hits(utts: list[Utterance], segs: list[tuple[int, float, float, float]]) -> dict:
    """`segs`: (channel, start, end, first word start). Channel -1 matches any utterance channel."""
    hits = 0
    errors: list[float] = []
    missing = 0
    for u in utts:
        best, best_ov = None, 0.0
        for s in segs:
            if s[0] not in (-1, u.channel):
                continue
            ov = overlap(u.onset, u.end, s[1], s[2])
            if ov > best_ov:
                best, best_ov = s, ov
        if best is None:
            missing += 1
            continue
        err = best[3] - u.onset
        errors.append(err)
        if abs(err) <= ONSET_TOLERANCE_S:
            hits += 1
    arr = np.array(errors) if errors else np.zeros(1)
    return {"utterances": len(utts), "hits": hits, "hit_pct": pct(hits, len(utts)), "no_segment": missing,
            "median_abs_err_s": round(float(np.median(np.abs(arr))), 3),
            "mean_signed_err_s": round(float(np.mean(arr)), 3),
            "early_over_tol": int(np.sum(arr < -ONSET_TOLERANCE_S)) if errors else 0,
            "late_over_tol": int(np.sum(arr > ONSET_TOLERANCE_S)) if errors else 0}


def bench_onset(sys_: Systems, rows: list[Row], quick: bool, seed: int) -> dict:
    minutes = 2.0 if quick else 5.0
    audio, utts = assemble_interview(rows, minutes, seed)
    duration = audio.shape[1] / SR
    log(f"onset: interview of {duration:.1f} s, {len(utts)} utterances; running xunlu (2 channels)")
    tr, x_secs = sys_.xunlu(audio, "zh", speakers=("officer", "suspect"))
    log(f"onset: xunlu done in {x_secs:.1f} s; running plain faster-whisper on the mono mix")
    mono = audio.mean(axis=0).astype(np.float32)
    fw_segs, p_secs = sys_.plain(mono, "zh")

    x_rows = [(s.channel, s.start, s.end, s.words[0].start if s.words else s.start) for s in tr.segments]
    p_rows = [(-1, s.start, s.end, s.words[0].start if s.words else s.start) for s in fw_segs]
    x_on = onset_hits(utts, x_rows)
    p_on = onset_hits(utts, p_rows)
    x_words = [(s.channel, w.start) for s in tr.segments for w in s.words]
    p_words = [(-1, w.start) for s in fw_segs for w in (s.words or ())]
    for o, words, seg_rows, segs in ((x_on, x_words, x_rows, tr.segments), (p_on, p_words, p_rows, fw_segs)):
        o["any_word_hits"] = nearest_word_hits(utts, words)
        o["any_word_hit_pct"] = pct(o["any_word_hits"], len(utts))
        o["segments_spanning_utterances"] = spanning(utts, seg_rows)
        o["longest_segment_s"] = round(max((s.end - s.start for s in segs), default=0.0), 2)

    # whole-interview CER: xunlu per channel; the baseline's mono text against all references in time order
    x_err = x_len = 0
    per_channel = {}
    for ch in (0, 1):
        ref = "".join(u.reference for u in utts if u.channel == ch)
        e, n = cer(ref, xunlu_text(tr, ch))
        per_channel[ch] = pct(e, n)
        x_err += e
        x_len += n
    all_ref = "".join(u.reference for u in sorted(utts, key=lambda u: u.place))
    p_err, p_len = cer(all_ref, plain_text(fw_segs))

    # double transcription: a segment on one channel that carries an utterance of the other channel
    doubles = []
    for s in tr.segments:
        hyp = for_scoring(s.text, "zh")
        for u in utts:
            if u.channel == s.channel or overlap(u.place, u.end, s.start, s.end) <= 0:
                continue
            ref = for_scoring(u.reference, "zh")
            if not ref or not hyp:
                continue
            whole = edit_distance(ref, hyp) / len(ref)
            part = semi_global_distance(ref, hyp) / len(ref)
            if min(whole, part) < 0.5:
                doubles.append({"channel": s.channel, "start": round(s.start, 2), "text": s.text,
                                "other_ref": u.reference, "cer_whole": round(whole, 2),
                                "cer_within": round(part, 2)})
                break

    result = {
        "duration_s": round(duration, 2), "utterances": len(utts),
        "xunlu_onset": x_on, "plain_onset": p_on,
        "xunlu_cer_pct": pct(x_err, x_len), "xunlu_cer_ch0_pct": per_channel[0],
        "xunlu_cer_ch1_pct": per_channel[1], "plain_mono_cer_pct": pct(p_err, p_len),
        "xunlu_segments": len(tr.segments), "plain_segments": len(fw_segs),
        "double_transcriptions": len(doubles), "doubles": doubles[:10],
        "xunlu_rtf": round(x_secs / duration, 4), "plain_mono_rtf": round(p_secs / duration, 4),
    }

    # the shared two-speaker file (one speaker per channel, English)
    stereo = next((r for r in rows if Path(r.file).name == "stereo_diarization.wav"), None)
    if stereo is not None:
        left = next(r for r in rows if r.file.endswith("stereo_diarization_left.wav")).reference
        right = next(r for r in rows if r.file.endswith("stereo_diarization_right.wav")).reference
        st, _ = sys_.xunlu(stereo.path, "en", speakers=("left", "right"))
        el, nl = wer(left, xunlu_text(st, 0))
        er, nr = wer(right, xunlu_text(st, 1))
        ps, _ = sys_.plain(stereo.path, "en")
        ep, np_ = wer(left + " " + right, plain_text(ps))
        result["stereo_diarization"] = {
            "xunlu_wer_left_pct": pct(el, nl), "xunlu_wer_right_pct": pct(er, nr),
            "xunlu_wer_pct": pct(el + er, nl + nr), "plain_mono_wer_pct": pct(ep, np_),
            "xunlu_left": xunlu_text(st, 0), "xunlu_right": xunlu_text(st, 1), "plain": plain_text(ps)}

    print(f"\n== 2. Two-speaker interview ({duration:.0f} s, {len(utts)} utterances, crosstalk -18 dB / 3 ms, "
          f"noise -60 dBFS, seed {seed}) ==")
    print(f"{'system':<22}{'onset hit %':>12}{'hits':>8}{'no seg':>8}{'early':>7}{'late':>6}"
          f"{'med |err| s':>13}{'mean err s':>12}")
    for label, o in (("xunlu (per channel)", x_on), ("plain (mono mix)", p_on)):
        print(f"{label:<22}{o['hit_pct']:>12.1f}{o['hits']:>5}/{o['utterances']:<3}{o['no_segment']:>7}"
              f"{o['early_over_tol']:>7}{o['late_over_tol']:>6}{o['median_abs_err_s']:>13.3f}"
              f"{o['mean_signed_err_s']:>12.3f}")
    print(f"(hit: first word of the most-overlapping segment within {ONSET_TOLERANCE_S} s of the energy onset; "
          f"target >= {TARGETS['onset_hit_min_pct']}% for xunlu)")
    for label, o in (("xunlu", x_on), ("plain", p_on)):
        print(f"{label}: any word within {ONSET_TOLERANCE_S} s of the onset {o['any_word_hit_pct']:.1f}% "
              f"({o['any_word_hits']}/{o['utterances']}); segments spanning >1 utterance "
              f"{o['segments_spanning_utterances']}; longest segment {o['longest_segment_s']:.1f} s")
    print(f"whole-interview CER: xunlu {result['xunlu_cer_pct']:.2f}% (officer {per_channel[0]:.2f}%, "
          f"suspect {per_channel[1]:.2f}%), plain on mono mix {result['plain_mono_cer_pct']:.2f}%")
    print(f"segments: xunlu {len(tr.segments)}, plain {len(fw_segs)}; double transcriptions (crosstalk "
          f"transcribed on the wrong channel): {len(doubles)} (target 0)")
    for d in doubles[:5]:
        print(f"  ch{d['channel']} @{d['start']:.2f}s '{d['text']}' ~ other channel '{d['other_ref']}'")
    print(f"RTF: xunlu (2 channels) {result['xunlu_rtf']:.4f}, plain (mono) {result['plain_mono_rtf']:.4f}")
    if "stereo_diarization" in result:
        sd = result["stereo_diarization"]
        print(f"stereo_diarization.wav: xunlu WER left {sd['xunlu_wer_left_pct']:.1f}%, right "
              f"{sd['xunlu_wer_right_pct']:.1f}%, both {sd['xunlu_wer_pct']:.1f}%; plain mono WER vs "
              f"left+right {sd['plain_mono_wer_pct']:.1f}%")
        print(f"  xunlu left: {sd['xunlu_left']!r}\n  xunlu right: {sd['xunlu_right']!r}\n"
              f"  plain: {sd['plain']!r}")
    return result


# -- section 4: batched mode ----------------------------------------------------------------------------
def _plain_run(result: tuple[list, float]) -> tuple[str, float, int, float]:
    segs, secs = result
    return plain_text(segs), secs, len(segs), max((x.end - x.start for x in segs), default=0.0)


def _xunlu_run(result: tuple[Any, float]) -> tuple[str, float, int, float]:
    tr, secs = result
    return xunlu_text(tr), secs, len(tr.segments), max((x.end - x.start for x in tr.segments), default=0.0)


def bench_batch(sys_: Systems, rows: list[Row], quick: bool, seed: int, workdir: Path, repeat: int = 2,
                beam: Optional[int] = None) -> dict:
    """Each system runs `repeat` times, in alternating order; its best time is kept (the text is the same)."""
    minutes = 2.0 if quick else 5.0
    rng = random.Random(seed + 1)
    pool = [r for r in rows if r.file.startswith("aishell/") and r.language == "zh" and r.duration >= 5.5]
    rng.shuffle(pool)
    parts, refs = [], []
    total = 0.0
    for row in pool:
        clip = read_wav(row.path)
        pause = np.zeros(int(round(rng.uniform(0.5, 1.5) * SR)), dtype=np.float32)
        if total + (clip.shape[0] + pause.shape[0]) / SR > minutes * 60.0:
            break
        parts += [clip, pause]
        refs.append(row.reference)
        total += (clip.shape[0] + pause.shape[0]) / SR
    audio = np.concatenate(parts)
    path = workdir / "batch_mono.wav"
    write_wav(path, audio)
    duration = audio.shape[0] / SR
    reference = "".join(refs)
    out: dict[str, Any] = {"duration_s": round(duration, 2), "sentences": len(refs), "repeat": repeat,
                           "batched_beam": TranscribeOptions(batch_size=8, beam_size=beam).beam}
    batched_name = "xunlu batch_size=8" + (f", beam {beam}" if beam else "")
    systems = {
        "plain sequential, same settings": lambda: _plain_run(sys_.plain(path, "zh")),
        "plain sequential, defaults": lambda: _plain_run(sys_.plain(path, "zh", defaults=True)),
        "xunlu batch_size=0": lambda: _xunlu_run(sys_.xunlu(path, "zh")),
        batched_name: lambda: _xunlu_run(sys_.xunlu(path, "zh", batch_size=8, beam_size=beam)),
    }
    runs: dict[str, tuple[str, float, int, float]] = {}  # name -> (text, best seconds, segments, longest)
    for rep in range(repeat):
        order = list(systems) if rep % 2 == 0 else list(reversed(systems))
        for name in order:
            log(f"batch: {name} on {duration:.1f} s (run {rep + 1} of {repeat})")
            text, secs, nseg, longest = systems[name]()
            if name in runs:
                secs = min(secs, runs[name][1])
            runs[name] = (text, secs, nseg, longest)
    for name, (text, secs, nseg, longest) in runs.items():
        e, n = cer(reference, text)
        out[name] = {"seconds": round(secs, 2), "rtf": round(secs / duration, 4), "cer_pct": pct(e, n),
                     "errors": e, "ref_chars": n, "segments": nseg, "max_segment_s": round(longest, 2)}
    batched = out[batched_name]
    for name in ("plain sequential, same settings", "plain sequential, defaults", "xunlu batch_size=0"):
        key = name.replace(" ", "_").replace(",", "").replace("=", "")
        out[f"speedup_vs_{key}"] = round(out[name]["seconds"] / batched["seconds"], 3)
        out[f"cer_delta_vs_{key}"] = round(batched["cer_pct"] - out[name]["cer_pct"], 2)

    print(f"\n== 3. Batched mode (mono, {duration:.0f} s, {len(refs)} S0150 sentences, 0.5-1.5 s pauses; "
          f"best of {repeat} runs each) ==")
    print(f"{'system':<34}{'seconds':>9}{'RTF':>9}{'CER %':>8}{'segments':>10}{'longest s':>11}")
    for name in runs:
        r = out[name]
        print(f"{name:<34}{r['seconds']:>9.1f}{r['rtf']:>9.4f}{r['cer_pct']:>8.2f}{r['segments']:>10}"
              f"{r['max_segment_s']:>11.2f}")
    print(f"{batched_name} against each sequential run "
          f"(targets: >= {TARGETS['batch_speedup_min']}x faster, CER <= +{TARGETS['batch_cer_delta_max_pts']} pts):")
    for name in ("plain sequential, same settings", "plain sequential, defaults", "xunlu batch_size=0"):
        key = name.replace(" ", "_").replace(",", "").replace("=", "")
        print(f"  vs {name:<32} {out['speedup_vs_' + key]:.2f}x, CER {out['cer_delta_vs_' + key]:+.2f} pts")
    return out


# -- section 5: per set of files: speed, the same text twice, nothing after the speech ------------------------
AFTER_TOL_S = 0.2   # a word starting this long after the VAD's last speech was written from silence


def last_speech_end(audio: np.ndarray) -> float:
    """Where the VAD (xunlu's, on the mono mix) heard the last speech end, seconds; 0 when none."""
    mono = audio if audio.ndim == 1 else audio.mean(axis=0).astype(np.float32)
    regions = speech_regions(mono)
    return regions[-1].spans[-1][1] / SR if regions else 0.0


def chars_after(items: list[tuple[float, str]], end: float) -> int:
    """Characters (scoring form) of the words (or segments without words) starting after `end` + tolerance."""
    return sum(len(for_scoring(text, "zh")) for start, text in items if start >= end + AFTER_TOL_S)


def xunlu_items(tr) -> list[tuple[float, str]]:
    out = []
    for s in tr.segments:
        if s.to_dict().get("unintelligible"):
            continue
        out += [(w.start, w.text) for w in s.words] if s.words else [(s.start, s.text)]
    return out


def plain_items(segs: list) -> list[tuple[float, str]]:
    out = []
    for s in segs:
        out += [(w.start, w.word) for w in s.words] if s.words else [(s.start, s.text)]
    return out


def transcript_json(tr) -> str:
    return json.dumps(tr.to_dict(), ensure_ascii=False)


def bench_sets(sys_: Systems, rows: list[Row], quick: bool) -> dict:
    """Per set: xunlu twice (the JSON must match byte for byte) beside plain faster-whisper with and without
    word timestamps, in turn, per file; wall times, the slowest file against plain without word times,
    characters written after the VAD's last speech, CER."""
    zh = [r for r in rows if r.language == "zh"]
    short = [r for r in zh if r.duration < 5.5]
    long = [r for r in zh if r.file.startswith("aishell/") and r.duration >= 5.5]
    if quick:
        short, long = short[::3], long[:15]
    systems = ("xunlu", "xunlu again", "plain", "plain no word times")
    out: dict[str, Any] = {}
    per_file: list[dict] = []
    for name, group in (("short clips <5.5 s", short), ("sentences >=5.5 s", long)):
        for k, row in enumerate(group):
            audio = read_wav(row.path)
            end = last_speech_end(audio)
            order = systems if k % 2 == 0 else tuple(reversed(systems))
            got: dict[str, Any] = {"set": name, "file": row.file, "duration": row.duration}
            for which in order:
                if which.startswith("xunlu"):
                    tr, secs = sys_.xunlu(row.path, "zh")
                    text, items, js = xunlu_text(tr), xunlu_items(tr), transcript_json(tr)
                else:
                    segs, secs = sys_.plain(row.path, "zh", word_timestamps=(which == "plain"))
                    text, items, js = plain_text(segs), plain_items(segs), ""
                got[which] = {"s": secs, "text": text, "errors": cer(row.reference, text)[0],
                              "after": chars_after(items, end), "json": js}
            got["ref_units"] = cer(row.reference, "")[1]
            per_file.append(got)
            if (k + 1) % 10 == 0 or k + 1 == len(group):
                log(f"sets: {name} {k + 1}/{len(group)}")

    def summary(files: list[dict]) -> dict:
        ref = sum(f["ref_units"] for f in files)
        res: dict[str, Any] = {"files": len(files), "audio_s": round(sum(f["duration"] for f in files), 1)}
        for which in systems:
            res[which] = {"wall_s": round(sum(f[which]["s"] for f in files), 2),
                          "cer_pct": pct(sum(f[which]["errors"] for f in files), ref),
                          "chars_after_speech": sum(f[which]["after"] for f in files)}
        base = res["plain no word times"]["wall_s"]
        res["ratio_vs_plain_no_word_times"] = round(res["xunlu"]["wall_s"] / base, 3) if base else None
        res["ratio_vs_plain"] = round(res["xunlu"]["wall_s"] / res["plain"]["wall_s"], 3)
        worst = max(files, key=lambda f: f["xunlu"]["s"] / f["plain no word times"]["s"])
        res["slowest"] = {"file": worst["file"], "xunlu_s": round(worst["xunlu"]["s"], 3),
                          "plain_no_word_times_s": round(worst["plain no word times"]["s"], 3),
                          "ratio": round(worst["xunlu"]["s"] / worst["plain no word times"]["s"], 2)}
        res["slowest_plain"] = max(files, key=lambda f: f["plain"]["s"])["file"]
        res["runs_differ"] = [f["file"] for f in files if f["xunlu"]["json"] != f["xunlu again"]["json"]]
        res["runs_match"] = not res["runs_differ"]
        return res

    for name in ("short clips <5.5 s", "sentences >=5.5 s"):
        out[name] = summary([f for f in per_file if f["set"] == name])
    out["clips 2-8 s"] = summary([f for f in per_file if 2.0 <= f["duration"] <= 8.0])

    print("\n== 4. Per set: wall time, the same JSON twice, text after the last speech (plain: faster-whisper "
          "base int8, VAD, beam 5, zh prompt, no conditioning, its temperature fallback) ==")
    print(f"{'set':<20}{'files':>6}{'system':>22}{'wall s':>9}{'CER %':>8}{'chars after':>13}")
    for name, r in out.items():
        for which in systems:
            x = r[which]
            print(f"{name if which == 'xunlu' else '':<20}{r['files'] if which == 'xunlu' else '':>6}"
                  f"{which:>22}{x['wall_s']:>9.2f}{x['cer_pct']:>8.2f}{x['chars_after_speech']:>13}")
        sl = r["slowest"]
        print(f"{'':<26}xunlu / plain no word times {r['ratio_vs_plain_no_word_times']:.3f}x, / plain "
              f"{r['ratio_vs_plain']:.3f}x; slowest against plain no word times: {sl['file']} "
              f"{sl['xunlu_s']:.2f} s vs {sl['plain_no_word_times_s']:.2f} s ({sl['ratio']:.2f}x); "
              f"two runs {'identical' if r['runs_match'] else 'DIFFER: ' + ', '.join(r['runs_differ'][:5])}")
    r = out["clips 2-8 s"]
    print(f"targets on clips of 2-8 s: total {r['ratio_vs_plain_no_word_times']:.3f}x plain without word times "
          f"(<= 1.2), slowest {r['slowest']['ratio']:.2f}x (<= 3), chars after speech "
          f"{r['xunlu']['chars_after_speech']} (0), runs identical {r['runs_match']}")
    return out


# -- section 6: interviews with digit strings: offline, batched, live, plain; coverage ----------------------
SPEAKERS = ("officer", "suspect")


def under(u: Utterance, s: Any) -> bool:
    """Segment `s` lies (partly) in utterance `u`; one of no length (its words aligned to one instant) counts
    where its instant falls."""
    return overlap(u.onset, u.end, s.start, s.end) > 0 or (s.start == s.end and u.onset <= s.start <= u.end)


def text_coverage(utts: list[Utterance], segments: list, any_channel: bool = False) -> dict:
    """Per reference utterance: text overlapping it on its channel, only a [听不清] marker, or nothing."""
    out = {"with_text": 0, "marked": 0, "nothing": 0, "nothing_at": []}
    for u in utts:
        near = [s for s in segments if (any_channel or s.channel == u.channel) and under(u, s)]
        if any(s.text and not getattr(s, "unintelligible", False) and not s.to_dict().get("unintelligible")
               for s in near):
            out["with_text"] += 1
        elif near:
            out["marked"] += 1
        else:
            out["nothing"] += 1
            out["nothing_at"].append(round(u.onset, 1))
    return out


def digits_intact(utts: list[Utterance], segments: list, any_channel: bool = False) -> tuple[int, int]:
    """(runs of digits read one by one that come out as one run of Arabic digits in one segment, such runs)."""
    ok = total = 0
    for u in utts:
        near = [s for s in segments if (any_channel or s.channel == u.channel) and under(u, s)]
        for want in digit_runs(u.reference):
            total += 1
            ok += any(want in s.text for s in near)
    return ok, total


def written_twice(segments: list) -> dict:
    """Speech written at no place or twice on one channel: segments of no length (words aligned to one instant,
    where the decoder wrote text with no audio under it) and pairs of segments of a channel that overlap by
    more than 0.3 s (the same speech decoded twice; or, live, the words a final left out, written by the next
    decode at their own time inside the earlier final's, whose last word was aligned over the pause)."""
    overlaps = 0
    for ch in {s.channel for s in segments}:
        mine = sorted((s for s in segments if s.channel == ch), key=lambda s: s.start)
        overlaps += sum(1 for k, b in enumerate(mine) for a in mine[:k] if b.start < a.end - 0.3)
    return {"no_length": sum(1 for s in segments if s.end <= s.start), "overlapping": overlaps}


class _Seg:
    """A plain faster-whisper segment seen as an xunlu one (channel -1: the mono mix)."""

    def __init__(self, seg: Any):
        self.start, self.end, self.text, self.channel = seg.start, seg.end, to_simplified(seg.text.strip()), -1

    def to_dict(self) -> dict:
        return {}


def channel_cer(utts: list[Utterance], segments: list) -> tuple[int, int]:
    e_all = n_all = 0
    for ch in (0, 1):
        ref = "".join(u.reference for u in utts if u.channel == ch)
        hyp = "".join(s.text for s in segments if s.channel == ch and not s.to_dict().get("unintelligible"))
        e, n = cer(ref, hyp)
        e_all, n_all = e_all + e, n_all + n
    return e_all, n_all


def process_times(home: Path, path: Path, out: Path) -> dict:
    """Whole processes, model load included: `xunlu transcribe` of the two-channel file against a Python
    process that loads faster-whisper (the same model folder, threads, int8) and transcribes the same file
    (its mono mix) with the plain settings, with and without word times."""
    import subprocess

    from models import store

    folder = store.assemble_base(home)
    threads = store.resolve_cpu_threads()
    script = ("import sys; from faster_whisper import WhisperModel; "
              "m = WhisperModel(sys.argv[1], device='cpu', compute_type='int8', cpu_threads=int(sys.argv[3])); "
              "s, _ = m.transcribe(sys.argv[2], language='zh', beam_size=5, vad_filter=True, "
              "condition_on_previous_text=False, initial_prompt=sys.argv[4], word_timestamps=sys.argv[5] == '1'); "
              "print(''.join(x.text for x in s))")
    xunlu = Path(sys.executable).with_name("xunlu")
    runs = {"xunlu": [str(xunlu), "transcribe", str(path), "--speakers", ",".join(SPEAKERS), "-o", str(out),
                      "--home", str(home)]}
    for name, wt in (("plain", "1"), ("plain no word times", "0")):
        runs[name] = [sys.executable, "-c", script, str(folder), str(path), str(threads), ZH_PROMPT, wt]
    res = {}
    for name, cmd in runs.items():
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=str(Path(__file__).resolve().parents[1]))
        res[name] = round(time.perf_counter() - t0, 2)
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed: {done.stderr[-500:]}")
    return res


def _coverage(info: Any) -> Optional[dict]:
    """The info's coverage counters (None from a version of xunlu that kept none: a baseline run)."""
    cov = getattr(info, "coverage", None)
    return cov.as_dict() if cov is not None else None


def bench_interviews(sys_: Systems, rows: list[Row], quick: bool, seeds: list[int], workdir: Path,
                     processes: bool = True) -> dict:
    from asr.stream import StreamOptions

    minutes = 2.0 if quick else 5.0
    extra = [r for r in rows if r.file in DIGIT_SENTENCES]
    out: dict[str, Any] = {"minutes": minutes, "interviews": []}
    for seed in seeds:
        audio, utts = assemble_interview(rows, minutes, seed, extra=extra)
        duration = audio.shape[1] / SR
        log(f"interviews: seed {seed}, {duration:.0f} s, {len(utts)} utterances "
            f"({sum(len(digit_runs(u.reference)) for u in utts)} runs of digits read one by one)")
        res: dict[str, Any] = {"seed": seed, "duration_s": round(duration, 1), "utterances": len(utts)}
        paths: dict[str, list] = {}
        tr, secs, info = sys_.xunlu(audio, "zh", SPEAKERS, with_info=True)
        again, secs2 = sys_.xunlu(audio, "zh", SPEAKERS)
        paths["offline"] = list(tr.segments)
        res["offline"] = {"s": round(min(secs, secs2), 2), "coverage": _coverage(info),
                          "runs_match": transcript_json(tr) == transcript_json(again)}
        log(f"interviews: offline {secs:.1f} s and {secs2:.1f} s; batched")
        bt, bsecs, binfo = sys_.xunlu(audio, "zh", SPEAKERS, batch_size=8, with_info=True)
        paths["batched"] = list(bt.segments)
        res["batched"] = {"s": round(bsecs, 2), "coverage": _coverage(binfo)}
        log("interviews: live (fed as fast as taken)")
        t0 = time.perf_counter()
        finals, stats = feed_live(sys_.tr, audio, StreamOptions(language="zh", channels=2, speakers=SPEAKERS,
                                                                partials=False))
        paths["live"] = finals
        res["live"] = {"s": round(time.perf_counter() - t0, 2),
                       "coverage": {k: stats[k] for k in ("regions", "retried", "with_words", "unintelligible")}
                       if "regions" in stats else None}
        mono = audio.mean(axis=0).astype(np.float32)
        for name, wt in (("plain", True), ("plain no word times", False)):
            log(f"interviews: {name} on the mono mix")
            segs, psecs = sys_.plain(mono, "zh", word_timestamps=wt)
            paths[name] = [_Seg(x) for x in segs]
            res[name] = {"s": round(psecs, 2)}
        all_ref = "".join(u.reference for u in sorted(utts, key=lambda u: u.place))
        for name, segs in paths.items():
            mono_path = name.startswith("plain")
            e, n = cer(all_ref, "".join(x.text for x in segs)) if mono_path else channel_cer(utts, segs)
            res[name]["cer_pct"] = pct(e, n)
            res[name]["utterances"] = text_coverage(utts, segs, any_channel=mono_path)
            res[name]["digits_intact"] = "%d/%d" % digits_intact(utts, segs, any_channel=mono_path)
            res[name]["twice"] = written_twice(segs)
        if processes:
            path = workdir / f"interview-{seed}.wav"
            write_wav(path, audio)
            log("interviews: whole processes (model load included)")
            res["process_s"] = process_times(model_home(None), path, workdir / f"interview-{seed}.json")
        out["interviews"].append(res)

    names = ("offline", "batched", "live", "plain", "plain no word times")
    print(f"\n== 5. Interviews ({minutes:.0f} min, two channels, crosstalk -18 dB, noise -60 dBFS, each with the "
          "two sentences that read years digit by digit; plain: the mono mix) ==")
    print(f"{'seed':>6}{'path':>22}{'CER %':>8}{'wall s':>8}{'utt: text':>11}{'marked':>8}{'nothing':>9}"
          f"{'digits':>8}{'0 s/overlap':>12}  coverage (regions/with words/unintelligible/retried)")
    for r in out["interviews"]:
        for name in names:
            x = r[name]
            u = x["utterances"]
            cov = x.get("coverage")
            c = f"{cov['regions']}/{cov['with_words']}/{cov['unintelligible']}/{cov['retried']}" if cov else "-"
            print(f"{r['seed'] if name == 'offline' else '':>6}{name:>22}{x['cer_pct']:>8.2f}{x['s']:>8.1f}"
                  f"{u['with_text']:>11}{u['marked']:>8}{u['nothing']:>9}{x['digits_intact']:>8}"
                  f"{'%d/%d' % (x['twice']['no_length'], x['twice']['overlapping']):>12}  {c}")
        print(f"{'':>6}offline: two runs {'identical' if r['offline']['runs_match'] else 'DIFFER'}; "
              f"offline - live {r['offline']['cer_pct'] - r['live']['cer_pct']:+.2f} pts, offline - plain "
              f"{r['offline']['cer_pct'] - r['plain']['cer_pct']:+.2f} pts, - plain no word times "
              f"{r['offline']['cer_pct'] - r['plain no word times']['cer_pct']:+.2f} pts")
        if "process_s" in r:
            p = r["process_s"]
            print(f"{'':>6}whole process: xunlu transcribe {p['xunlu']:.1f} s, plain {p['plain']:.1f} s "
                  f"({p['xunlu'] / p['plain']:.2f}x), plain no word times {p['plain no word times']:.1f} s "
                  f"({p['xunlu'] / p['plain no word times']:.2f}x)")
    return out


# -- main -----------------------------------------------------------------------------------------------
SECTIONS = ("cer", "onset", "batch", "sets", "interviews", "vocabulary", "noise")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 sentences and 2-minute interview/batched files")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma list of: cer (incl. RTF), onset, batch")
    ap.add_argument("--home", type=Path, default=None, help="xunlu home (default $XUNLU_HOME or a temp dir)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each system in section batch (best time kept)")
    ap.add_argument("--batch-beam", type=int, default=None,
                    help="beam of the batched run (default: xunlu's, 3 with --batch-size)")
    ap.add_argument("--dump", type=Path, default=None,
                    help="write per-file references, hypotheses and errors of section cer as JSON lines")
    ap.add_argument("--interview-seeds", default="1234,99,7",
                    help="section interviews: one interview per seed (default 1234,99,7)")
    ap.add_argument("--noise-draws", type=int, default=3,
                    help="section noise: draws of the room noise per interview seed (default 3)")
    ap.add_argument("--no-processes", action="store_true",
                    help="section interviews: skip the whole-process timings (model load included)")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    aliases = {"rtf": "cer", "wer": "cer", "interview": "onset", "batched": "batch"}
    only = [aliases.get(s, s) for s in only]
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {bad}: use {','.join(SECTIONS)}")
    require_speech(ap)

    home = model_home(args.home)
    rows = manifest()
    log(f"speech dir {SPEECH_DIR}, home {home}, sections {only}, quick={args.quick}, "
        f"cpu cores {os.cpu_count()}")

    started = time.perf_counter()
    sys_ = Systems(home)
    warm = next(r for r in rows if r.file.startswith("aishell/") and r.duration >= 5.5)
    sys_.warm_up(warm.path)

    report: dict[str, Any] = {"quick": args.quick, "seed": args.seed, "model": sys_.tr.model_label,
                              "cpu_cores": os.cpu_count(), "targets": TARGETS}
    if "cer" in only:
        per_file: list = []
        report["cer"] = bench_cer(sys_, rows, args.quick, per_file)
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as f:
                for item in per_file:
                    f.write(json.dumps(item, ensure_ascii=False) + "\n")
            log(f"per-file results written to {args.dump}")
    if "onset" in only:
        report["onset"] = bench_onset(sys_, rows, args.quick, args.seed)
    if "batch" in only:
        with tempfile.TemporaryDirectory(prefix="xunlu-bench-") as tmp:
            report["batch"] = bench_batch(sys_, rows, args.quick, args.seed, Path(tmp), max(1, args.repeat),
                                          args.batch_beam)
    if "sets" in only:
        report["sets"] = bench_sets(sys_, rows, args.quick)
    if "interviews" in only:
        seeds = [int(x) for x in args.interview_seeds.split(",") if x.strip()]
        with tempfile.TemporaryDirectory(prefix="xunlu-bench-") as tmp:
            report["interviews"] = bench_interviews(sys_, rows, args.quick, seeds, Path(tmp),
                                                    processes=not args.no_processes)
    if "vocabulary" in only:
        from bench.vocabulary import bench_vocabulary

        report["vocabulary"] = bench_vocabulary(sys_, rows, args.quick, args.seed)
    if "noise" in only:
        from bench.noise_draws import bench_noise

        seeds = [int(x) for x in args.interview_seeds.split(",") if x.strip()]
        report["noise"] = bench_noise(sys_, rows, args.quick, seeds, max(1, args.noise_draws))
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(f"\nwall time {report['wall_s']:.0f} s")
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
