"""Benchmark: live transcription of a two-speaker interview played in real time.

    .venv/bin/python -m bench.live [--quick] [--minutes M] [--seed N] [--home DIR] [--chunk S]
                                   [--no-partials] [--full-window] [--queue N] [--end-silence S] [--end-pad S]
                                   [--end-pad-heard S] [--debug] [--cer-only] [--context S] [--beam N]
                                   [--no-aside]

An interview is assembled in memory from the shared clips (officer on channel 0, suspect on channel 1,
alternating turns, 1.0-4.0 s pauses, crosstalk at -18 dB and 3 ms delay, -60 dBFS noise, as bench.asr
builds it). A producer thread plays it as a capture card would: a chunk of `--chunk` seconds (0.1) every
`--chunk` seconds of wall time, into a bounded queue (a chunk that finds the queue full is dropped, counted
and replaced by silence so that the clock stays right). The main thread feeds asr.stream.LiveTranscriber
from the queue. Measured, per utterance and as p50/p95:
  final    wall time from the end of speech to the last final segment of the utterance on its channel,
           with the end of speech measured two ways (see `speech_offset` and `decay_end`): where the clip's
           energy falls under 12 dB over its noise floor, and where its last syllable has decayed to 6 dB
           over the floor,
  partial  wall time from speech onset to the first partial of the utterance (and to its first text of
           any kind, for utterances too short to get a partial),
plus dropped chunks, the worst lag (audio captured - audio processed), the process's CPU use during the
live run (CPU seconds / wall seconds; 2.0 would be both cores), and the final transcript's CER beside
offline `Transcriber.transcribe_array` on the same audio, measured in the same run after the live part.

Progress goes to stderr; stdout gets the tables and, last, one JSON line with every figure.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from asr.engine import collect
from asr.pipeline import load_transcriber
from asr.scoring import cer
from asr.stream import LiveTranscriber, Partial, StreamOptions
from asr.types import TranscribeOptions
from bench import asr as bench_asr
from bench.common import (
    FRAME_10MS,
    SR,
    frame_rms,
    make_log,
    manifest,
    model_home,
    overlap,
    pct,
    read_wav,
    require_speech,
)
from core.transcript import Segment

SPEAKERS = ("officer", "suspect")
TARGETS = {"final_p95_s": 1.5, "first_partial_max_s": 2.0, "cer_delta_max_pts": 1.0}


log = make_log("live")


@dataclass(frozen=True)
class Utt:
    channel: int
    onset: float        # speech onset in the interview (s)
    offset: float       # end of speech (s): energy under 12 dB over the clip's noise floor
    decay_end: float    # end of speech (s): the last syllable decayed to 6 dB over the floor
    reference: str


def speech_offset(clip: np.ndarray) -> float:
    """Seconds from the clip's start to its end of speech: bench.asr's onset rule on the reversed clip."""
    return clip.shape[0] / SR - bench_asr.speech_onset(clip[::-1].copy())


def decay_end(clip: np.ndarray, over_floor_db: float = 6.0) -> float:
    """Seconds from the clip's start to where its last syllable has died away: the end of the last run of 5
    10 ms frames (50 ms) above the noise floor (the 10th-percentile frame RMS) + 6 dB.

    `speech_offset` reuses the onset rule, 12 dB over the floor, which suits onsets (sharp) better than ends:
    a sentence's last syllable decays. On the noisier shared clips it falls 9-12 dB over the floor for up to
    0.7 s, and Silero hears speech there at p 0.9; the 12 dB rule then puts the end 0.5-0.7 s early. Over
    the 34 utterances of the 5-minute interview, Silero's last window at p >= 0.35 comes 0.06-0.17 s after
    the 12 dB end on 30 clips and 0.21-0.71 s after it on four; it lies within 0.12 s of the 6 dB end on
    33 (one clip's 6 dB end is 0.27 s later than Silero's)."""
    rms = frame_rms(clip)
    n = rms.shape[0]
    above = (rms > float(np.percentile(rms, 10)) * 10 ** (over_floor_db / 20))[::-1]
    run = 5
    for i in range(max(0, n - run + 1)):
        if above[i:i + run].all():
            return (n - i) * FRAME_10MS / SR
    return speech_offset(clip)


def build_interview(minutes: float, seed: int) -> tuple[np.ndarray, list[Utt]]:
    audio, utts = bench_asr.assemble_interview(manifest(), minutes, seed)
    by_ref = {r.reference: r for r in manifest()}
    out = []
    for u in utts:
        clip = read_wav(by_ref[u.reference].path)
        out.append(Utt(u.channel, u.onset, u.place + speech_offset(clip), u.place + decay_end(clip),
                       u.reference))
    return audio, out


# -- the live run ---------------------------------------------------------------------------------------
class Events:
    def __init__(self, t0: list[float]):
        self.t0 = t0
        self.partials: list[tuple[float, Partial]] = []
        self.finals: list[tuple[float, Segment]] = []

    def partial(self, p: Partial) -> None:
        self.partials.append((time.perf_counter() - self.t0[0], p))

    def final(self, s: Segment) -> None:
        self.finals.append((time.perf_counter() - self.t0[0], s))


def play_live(tr: Any, audio: np.ndarray, options: StreamOptions, chunk_s: float, queue_size: int,
              realtime: bool = True) -> dict:
    """Real-time producer thread -> bounded queue -> LiveTranscriber on this thread. Not `realtime`: the
    chunks come as fast as they are taken, none dropped (the text is the same, the timings mean nothing)."""
    chunk = int(round(chunk_s * SR))
    frames = audio.T.copy()                      # (n, channels), as capture hands it over
    n_chunks = (frames.shape[0] + chunk - 1) // chunk
    q: "queue.Queue[Optional[tuple[int, np.ndarray]]]" = queue.Queue(maxsize=queue_size)
    t0 = [0.0]
    ev = Events(t0)
    lt = LiveTranscriber(tr, options, ev.partial, ev.final)
    dropped: list[int] = []
    max_depth = [0]

    def produce() -> None:
        for k in range(n_chunks):
            due = t0[0] + (k + 1) * chunk_s      # a chunk is handed over once its last sample is captured
            delay = due - time.perf_counter()
            if not realtime:
                q.put((k, frames[k * chunk:(k + 1) * chunk]))
                continue
            if delay > 0:
                time.sleep(delay)
            try:
                q.put_nowait((k, frames[k * chunk:(k + 1) * chunk]))
            except queue.Full:
                dropped.append(k)
            max_depth[0] = max(max_depth[0], q.qsize())
        q.put(None)

    max_lag = 0.0
    expected = 0
    cpu0 = time.process_time()
    t0[0] = time.perf_counter()
    producer = threading.Thread(target=produce, name="capture-sim", daemon=True)
    producer.start()
    while True:
        item = q.get()
        if item is None:
            break
        k, pcm = item
        if k > expected:                          # dropped chunks: silence keeps the clock right
            lt.feed(np.zeros((chunk * (k - expected), frames.shape[1]), dtype=np.float32))
        lt.feed(pcm)
        expected = k + 1
        captured = min(time.perf_counter() - t0[0], frames.shape[0] / SR)
        max_lag = max(max_lag, captured - lt.processed)
    lt.finish()
    wall = time.perf_counter() - t0[0]
    cpu = time.process_time() - cpu0
    producer.join()
    return {"events": ev, "wall_s": wall, "cpu_s": cpu, "dropped": len(dropped), "chunks": n_chunks,
            "max_queue_depth": max_depth[0], "max_lag_s": max_lag, "stats": lt.stats}


# -- scoring --------------------------------------------------------------------------------------------
def per_utterance(utts: list[Utt], ev: Events) -> list[dict]:
    rows = []
    for i, u in enumerate(utts):
        finals = [(t, s) for t, s in ev.finals
                  if s.channel == u.channel and overlap(u.onset, u.offset, s.start, s.end) > 0]
        partials = [(t, p) for t, p in ev.partials
                    if p.channel == u.channel and overlap(u.onset, u.offset + 0.5, p.start, p.end) > 0]
        final_t = max((t for t, _ in finals), default=None)
        partial_t = min((t for t, _ in partials), default=None)
        first_text = min([t for t in (final_t, partial_t) if t is not None], default=None)
        rows.append({
            "i": i, "channel": u.channel, "onset": round(u.onset, 2), "offset": round(u.offset, 2),
            "speech_s": round(u.offset - u.onset, 2), "segments": len(finals), "partials": len(partials),
            "final_latency_s": None if final_t is None else round(final_t - u.offset, 3),
            "decay_end": round(u.decay_end, 2),
            "final_from_decay_s": None if final_t is None else round(final_t - u.decay_end, 3),
            "first_partial_s": None if partial_t is None else round(partial_t - u.onset, 3),
            "first_text_s": None if first_text is None else round(first_text - u.onset, 3),
            "text": "".join(s.text for _, s in sorted(finals, key=lambda x: x[1].start)),
            "reference": u.reference})
    return rows


def quantiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    arr = np.array(values)
    return {"n": len(values), "p50": round(float(np.percentile(arr, 50)), 3),
            "p95": round(float(np.percentile(arr, 95)), 3), "max": round(float(arr.max()), 3)}


def channel_cer(utts: list[Utt], segments: list[Segment]) -> tuple[int, int]:
    errors = total = 0
    for ch in (0, 1):
        ref = "".join(u.reference for u in utts if u.channel == ch)
        hyp = "".join(s.text for s in sorted(segments, key=lambda s: s.start) if s.channel == ch)
        e, n = cer(ref, hyp)
        errors += e
        total += n
    return errors, total


def fmt(v: Optional[float]) -> str:
    return "   -  " if v is None else f"{v:6.2f}"


def print_cer_only(args: argparse.Namespace, duration: float, rows: list[dict], finals: list[Segment],
                   offline: Any, live_e: int, off_e: int, n: int, wall: float) -> int:
    print(f"\n== Live vs offline text: {duration:.0f} s interview, {len(rows)} utterances, fed as fast as taken, "
          f"seed {args.seed} ==")
    print(f"{'#':>3}{'ch':>3}{'speech':>7}{'err live':>9}{'err off':>8}  live | offline | reference")
    for r in rows:
        print(f"{r['i']:>3}{r['channel']:>3}{r['speech_s']:>7.2f}{r['errors_live']:>9}{r['errors_offline']:>8}  "
              f"{r['text']} | {r['offline_text']} | {r['reference']}")
    worse = sum(r["errors_live"] > r["errors_offline"] for r in rows)
    better = sum(r["errors_live"] < r["errors_offline"] for r in rows)
    delta = round(pct(live_e, n) - pct(off_e, n), 2)
    print(f"\nCER live {pct(live_e, n):.2f}% vs offline {pct(off_e, n):.2f}% ({delta:+.2f} pts, target <= "
          f"+{TARGETS['cer_delta_max_pts']}) over {n} reference characters: live worse on {worse} utterances, "
          f"better on {better}; {len(finals)} live segments, {len(offline.segments)} offline")
    print(json.dumps({"mode": "cer-only", "seed": args.seed, "duration_s": round(duration, 2),
                      "utterances": len(rows), "live_cer_pct": pct(live_e, n), "offline_cer_pct": pct(off_e, n),
                      "cer_delta_pts": delta, "ref_chars": n, "live_worse": worse, "live_better": better,
                      "wall_s": round(wall, 1)}, ensure_ascii=False))
    return 0


# -- main -----------------------------------------------------------------------------------------------
def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 2-minute interview (default 5 minutes)")
    ap.add_argument("--minutes", type=float, default=None, help="interview length (overrides --quick)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--home", type=Path, default=None, help="xunlu home (default $XUNLU_HOME or a temp dir)")
    ap.add_argument("--chunk", type=float, default=0.1, help="capture chunk in seconds (default 0.1)")
    ap.add_argument("--queue", type=int, default=100, help="capture queue length in chunks (default 100)")
    ap.add_argument("--no-partials", action="store_true", help="finals only")
    ap.add_argument("--full-window", action="store_true", help="encode a padded 30 s window, as offline")
    ap.add_argument("--late-final", action="store_true", help="decode a final only once its end is sure")
    ap.add_argument("--context", type=float, default=StreamOptions.context_s,
                    help="seconds of the channel's last final utterance decoded before the next "
                         f"(default {StreamOptions.context_s}; 0 = none)")
    ap.add_argument("--no-aside", action="store_true",
                    help="decode a final without its context only after the decode with it came back short, "
                         "not beside it")
    ap.add_argument("--beam", type=int, default=StreamOptions.beam_size,
                    help=f"beam of the final decodes (default {StreamOptions.beam_size})")
    ap.add_argument("--end-silence", type=float, default=StreamOptions.end_silence_s,
                    help=f"silence that ends an utterance (default {StreamOptions.end_silence_s} s)")
    ap.add_argument("--end-pad", type=float, default=StreamOptions.end_pad_s,
                    help=f"audio decoded after the last speech (default {StreamOptions.end_pad_s} s)")
    ap.add_argument("--end-pad-heard", type=float, default=StreamOptions.end_pad_heard_s,
                    help="of the padding, seconds captured before the final's decode starts; the rest is decoded "
                         f"as the room's sound when quiet (default {StreamOptions.end_pad_heard_s} s)")
    ap.add_argument("--debug", action="store_true", help="log every decode of asr.stream on stderr")
    ap.add_argument("--cer-only", action="store_true",
                    help="feed the interview as fast as it is taken, finals only, and compare the text with "
                         "offline (a longer interview in less time; no latency figures)")
    args = ap.parse_args(argv)
    require_speech(ap)
    if not 0.01 <= args.chunk <= 2.0 or args.queue < 1:
        ap.error("--chunk must lie between 0.01 and 2 s and --queue be at least 1")
    minutes = args.minutes or (2.0 if args.quick else 5.0)
    if args.debug:
        logging.basicConfig(format="%(relativeCreated)9.0f ms %(message)s", stream=sys.stderr)
        logging.getLogger("xunlu.asr.stream").setLevel(logging.DEBUG)
    home = model_home(args.home)

    started = time.perf_counter()
    load_before = os.getloadavg()
    log(f"cpu cores {os.cpu_count()}, load average {load_before[0]:.2f}; loading base int8")
    tr = load_transcriber("base", home, device="cpu", compute_type="int8")
    audio, utts = build_interview(minutes, args.seed)
    duration = audio.shape[1] / SR
    warm = read_wav(next(r for r in manifest() if r.file.startswith("aishell/")).path)
    warm_up = LiveTranscriber(tr, StreamOptions(partials=False), lambda p: None, lambda s: None)
    warm_up.feed(warm[:, None])
    warm_up.finish()
    options = StreamOptions(language="zh", channels=2, speakers=SPEAKERS, partials=not args.no_partials,
                            short_window=not args.full_window, early_final=not args.late_final,
                            end_silence_s=args.end_silence, end_pad_s=args.end_pad, context_s=args.context,
                            end_pad_heard_s=min(args.end_pad_heard, args.end_pad),
                            beam_size=args.beam, alone_aside=not args.no_aside)
    if args.cer_only:
        options = replace(options, partials=False)
    log(f"interview {duration:.1f} s, {len(utts)} utterances; playing it live in {args.chunk:.2f} s chunks")
    run = play_live(tr, audio, options, args.chunk, args.queue, realtime=not args.cer_only)
    load_live = os.getloadavg()
    log(f"live run done in {run['wall_s']:.1f} s; offline transcription of the same audio")
    t = time.perf_counter()
    segments, info = tr.transcribe_array(audio, TranscribeOptions(language="zh", speakers=SPEAKERS))
    offline = collect(segments, info)
    offline_s = time.perf_counter() - t

    ev: Events = run["events"]
    rows = per_utterance(utts, ev)
    finals = [s for _, s in ev.finals]
    live_e, n = channel_cer(utts, finals)
    off_e, _ = channel_cer(utts, list(offline.segments))
    lat = quantiles([r["final_latency_s"] for r in rows if r["final_latency_s"] is not None])
    lat_decay = quantiles([r["final_from_decay_s"] for r in rows if r["final_from_decay_s"] is not None])
    part = quantiles([r["first_partial_s"] for r in rows if r["first_partial_s"] is not None])
    first = quantiles([r["first_text_s"] for r in rows if r["first_text_s"] is not None])
    missing = sum(1 for r in rows if r["final_latency_s"] is None)
    ids_ok = [s.id for s in finals] == list(range(len(finals)))
    for r, u in zip(rows, utts):
        r["offline_text"] = "".join(s.text for s in offline.segments
                                    if s.channel == u.channel and overlap(u.onset, u.offset, s.start, s.end) > 0)
        r["errors_live"], r["errors_offline"] = cer(u.reference, r["text"])[0], cer(u.reference, r["offline_text"])[0]
    if args.cer_only:
        return print_cer_only(args, duration, rows, finals, offline, live_e, off_e, n, time.perf_counter() - started)
    report = {
        "minutes": minutes, "seed": args.seed, "chunk_s": args.chunk, "model": tr.model_label,
        "cpu_cores": os.cpu_count(), "partials": not args.no_partials, "short_window": not args.full_window,
        "early_final": not args.late_final, "end_silence_s": args.end_silence, "end_pad_s": args.end_pad,
        "end_pad_heard_s": args.end_pad_heard,
        "context_s": args.context, "beam_size": args.beam, "alone_aside": not args.no_aside,
        "load_avg_1m_before": round(load_before[0], 2), "load_avg_1m_after_live": round(load_live[0], 2),
        "duration_s": round(duration, 2), "utterances": len(utts), "final_segments": len(finals),
        "partial_events": len(ev.partials), "utterances_without_final": missing, "ids_in_order": ids_ok,
        "final_latency": lat, "final_latency_from_decay_end": lat_decay, "first_partial": part, "first_text": first,
        "dropped_chunks": run["dropped"], "chunks": run["chunks"], "max_queue_depth": run["max_queue_depth"],
        "max_lag_s": round(run["max_lag_s"], 3), "live_wall_s": round(run["wall_s"], 1),
        "cpu_s": round(run["cpu_s"], 1), "cpu_per_wall": round(run["cpu_s"] / run["wall_s"], 3),
        "live_cer_pct": pct(live_e, n), "offline_cer_pct": pct(off_e, n),
        "cer_delta_pts": round(pct(live_e, n) - pct(off_e, n), 2), "ref_chars": n,
        "offline_s": round(offline_s, 1), "work": run["stats"], "targets": TARGETS, "per_utterance": rows,
    }

    print(f"\n== Live transcription: {duration:.0f} s interview, {len(utts)} utterances, 2 channels "
          f"(officer/suspect, crosstalk -18 dB), {args.chunk:.2f} s chunks in real time, seed {args.seed} ==")
    print(f"{'#':>3}{'ch':>3}{'onset':>8}{'end':>8}{'speech':>7}{'segs':>5}{'parts':>6}{'final s':>8}"
          f"{'decay':>7}{'1st part':>9}{'1st text':>9}  text")
    for r in rows:
        print(f"{r['i']:>3}{r['channel']:>3}{r['onset']:>8.2f}{r['offset']:>8.2f}{r['speech_s']:>7.2f}"
              f"{r['segments']:>5}{r['partials']:>6} {fmt(r['final_latency_s'])} {fmt(r['final_from_decay_s'])}"
              f" {fmt(r['first_partial_s'])}  "
              f"{fmt(r['first_text_s'])}  {r['text']}")
    print(f"\nend of speech -> final text (end: energy under 12 dB over the floor): p50 {lat['p50']} s, "
          f"p95 {lat['p95']} s, max {lat['max']} s (target p95 < {TARGETS['final_p95_s']} s); "
          f"utterances without a final: {missing}")
    print(f"end of speech -> final text (end: the last syllable decayed to 6 dB over the floor, column "
          f"'decay'): p50 {lat_decay['p50']} s, p95 {lat_decay['p95']} s, max {lat_decay['max']} s")
    print(f"speech onset -> first partial: p50 {part['p50']} s, p95 {part['p95']} s over {part['n']} utterances; "
          f"-> first text of any kind: p50 {first['p50']} s, p95 {first['p95']} s "
          f"(target within {TARGETS['first_partial_max_s']} s)")
    print(f"dropped chunks {run['dropped']}/{run['chunks']}, deepest queue {run['max_queue_depth']}, "
          f"worst lag {run['max_lag_s']:.2f} s")
    print(f"CPU {run['cpu_s']:.1f} s over {run['wall_s']:.1f} s wall = {report['cpu_per_wall']:.2f} of one core "
          f"(load average {load_before[0]:.2f} before, {load_live[0]:.2f} after: other work shares the cores)")
    st = run["stats"]
    print(f"work: {st['finals_decoded']} final decodes ({st['final_decode_s']:.1f} s, "
          f"{st['final_decode_s'] / max(1, st['finals_decoded']):.2f} s each, "
          f"{st['with_context']} after the channel's previous utterance, {st['context_dropped']} of them came back "
          f"short and were decoded alone ({st['decoded_aside']} alone decodes ran beside the ones after a context); "
          f"padding not quiet {st['padding_not_quiet']}; decoded early and used "
          f"{st['early_used']}, wasted {st['early_wasted']}; doubted and decoded again {st['finals_doubted']}), "
          f"{st['partials_decoded']} partial decodes "
          f"({st['partial_decode_s']:.1f} s); partials skipped: behind {st['partials_skipped_behind']}, "
          f"speech ending {st['partials_skipped_ending']}")
    print(f"CER live {report['live_cer_pct']:.2f}% vs offline {report['offline_cer_pct']:.2f}% on the same audio "
          f"({report['cer_delta_pts']:+.2f} pts, target <= +{TARGETS['cer_delta_max_pts']}); "
          f"{len(finals)} live segments, {len(offline.segments)} offline; ids in order: {ids_ok}")
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
