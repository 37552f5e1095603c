"""Spoken-term benchmark: a supervisor types a word that was said and must land on the moment it was said.

    .venv/bin/python -m bench.kws [--seed N] [--limit N] [--home DIR] [--fresh] [--misses]

Two two-speaker interviews are assembled in memory from ../shared/speech (or $XUNLU_SPEECH_DIR; nothing is
copied into the project), transcribed by xunlu's pipeline (asr.pipeline.load_transcriber: the bundled
Whisper base, no hub) and indexed as two sessions of one archive:

- the interview: about 60% of the S0150 news sentences, 70% of the short clips that are place names, half the
  song requests (想听歌曲... : song titles are names) and half the temperature commands (numbers said as
  numbers), the two sentences that read digits one by one (二零一五, 二零一六), and three digit strings
  spliced from those digits in groups of four (0.2 s apart, as a phone number is read: 2015|2016 ...; the
  groups are cut where forced alignment of the *reference* text puts them, CTranslate2's align);
- the distractors: the other clips and one more spliced digit string. Any hit there on an utterance that
  did not say the query is a false hit.

Clips alternate between channel 0 (officer) and 1 (suspect), 1.0-3.0 s apart, with -18 dB crosstalk and
-60 dBFS noise. Transcripts are cached in bench/out/ (git-ignored), keyed by the audio, the model and the
options, so a rerun only searches (--fresh transcribes again).

Queries come from the reference texts only, never from the ASR output: jieba's content words (nouns, verbs,
adjectives, idioms; 2+ characters, no numerals), names and places (jieba's nr/ns/nt/nz, the place clips,
the song titles), numbers said as numbers in both forms (二十五 / 25), every digit string whole in both
forms (20152016 / 二零一五二零一六), and its parts: every window of 3 and of 4 digits, and 尾号 + the last 4.
A query's targets are the utterances (both sessions) whose reference holds it. A hit is right when it lands
on a target: same session, its start between 1 s before the utterance and 0.5 s after its end (Whisper
places a first word up to 0.9 s early). Recall: targets found in the first --limit hits; precision: right
hits / all hits. Each matching tier is run on the same index in the same run: exact only (--exact),
sound (the default: same toneless pinyin), and each looser tier alone and all together.

The digit-string target counts only strings "transcribed with all digits right": the utterance's ASR text
(segments overlapping it, any channel), punctuation and spaces dropped, Chinese digit characters read as
digits, holds the reference's digits in a row. (The ASR text decides only which strings count, never what is searched.)

Run from an older checkout (no `exact`/`loose` search options) it runs that code's search as one tier, so
the same interview measures the code before and after (`--out` shares the cached transcripts).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

import numpy as np

from bench.common import ROOT, SR, Row, make_log, manifest, model_home, pct, read_wav, require_speech
from core.transcript import Transcript
from index.manager import SearchIndex, SearchOptions
from index.search_index import SessionMeta

log = make_log("kws")
SPEAKERS = ("officer", "suspect")
DIGIT_CLIPS = ("aishell/BAC009S0150W0276.wav", "aishell/BAC009S0150W0331.wav")
CN_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6",
             "七": "7", "八": "8", "九": "9"}
NAME_FLAGS = {"nr", "nrfg", "nrt", "ns", "nt", "nz"}
WORD_FLAGS = ("n", "v", "a", "i", "j", "l")
KINDS = ("name/place", "word", "number", "digits", "digit part")
# spliced digit strings: (indices into the aligned groups [2015 of W0276, 2016 of W0276, 2016 of W0331])
SPLICES = {"interview": [(0, 2), (1, 0), (2, 1, 0)], "distractors": [(2, 0)]}


@dataclass(frozen=True)
class Utt:
    uid: int
    session: str
    channel: int
    place: float      # seconds: where the clip starts
    end: float
    reference: str    # characters as the reference gives them (numbers as characters)
    kind: str         # news, place, song, command, digits, spliced


@dataclass(frozen=True)
class Q:
    kind: str
    text: str
    want: frozenset   # uids


# -- material -------------------------------------------------------------------------------------------
def classify(r: Row) -> str:
    ref = r.reference
    if r.file in DIGIT_CLIPS:
        return "digits"
    if r.duration >= 5.5 or r.file.startswith("misc/"):
        return "news"
    if ref.startswith(("想听歌曲", "来一首歌曲")):
        return "song"
    if ref.startswith(("设定", "调高", "调低")):
        return "command"
    return "place"


def split_rows(rows: list[Row], seed: int) -> dict[str, list[Row]]:
    rng = random.Random(f"{seed}:split")
    share = {"news": 0.6, "place": 0.7, "song": 0.5, "command": 0.5, "digits": 1.0}
    out: dict[str, list[Row]] = {"interview": [], "distractors": []}
    for kind, frac in share.items():
        group = sorted((r for r in rows if classify(r) == kind), key=lambda r: r.file)
        rng.shuffle(group)
        k = round(len(group) * frac)
        out["interview"] += group[:k]
        out["distractors"] += group[k:]
    return out


def aligned_digit_groups(model: Any) -> list[tuple[np.ndarray, str]]:
    """The runs of digits read one by one in DIGIT_CLIPS, cut where forced alignment of the reference text
    (not the ASR's own words) puts them: (audio, reference characters)."""
    from faster_whisper.tokenizer import Tokenizer

    rows = {r.file: r for r in manifest()}
    tok = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="zh")
    groups = []
    for name in DIGIT_CLIPS:
        row = rows[name]
        audio = read_wav(row.path)
        feats = model.feature_extractor(audio)
        frames = feats.shape[-1]
        padded = np.pad(feats[:, :3000], ((0, 0), (0, max(0, 3000 - min(3000, frames)))))
        words = model.find_alignment(tok, [tok.encode(row.reference)], model.encode(padded), frames)[0]
        chars: list[tuple[str, float, float]] = []
        for w in words:
            chars += [(ch, w["start"], w["end"]) for ch in w["word"]]
        for m in re.finditer(f"[{''.join(CN_DIGITS)}]{{3,}}", row.reference):
            a, b = chars[m.start()], chars[m.end() - 1]
            groups.append((audio[max(0, int((a[1] - 0.03) * SR)):int(b[2] * SR)], m.group()))
    return groups


def assemble(items: list[tuple[np.ndarray, str, str]], seed: int, session: str, first_uid: int
             ) -> tuple[np.ndarray, list[Utt]]:
    """(audio, reference, kind) in turns on channels 0/1, 1.0-3.0 s apart, crosstalk -18 dB (3 ms), -60 dBFS
    noise."""
    rng = random.Random(f"{seed}:{session}")
    t = rng.uniform(0.5, 1.5)
    placed = []
    for k, (clip, ref, kind) in enumerate(items):
        placed.append((k % 2, int(round(t * SR)), clip, ref, kind))
        t += clip.shape[0] / SR + rng.uniform(1.0, 3.0)
    n = int(round((t + 1.0) * SR))
    direct = np.zeros((2, n))
    utts = []
    for k, (ch, start, clip, ref, kind) in enumerate(placed):
        direct[ch, start:start + clip.shape[0]] += clip
        utts.append(Utt(first_uid + k, session, ch, start / SR, (start + clip.shape[0]) / SR, ref, kind))
    mixed = direct.copy()
    delay = int(0.003 * SR)
    for ch in (0, 1):
        mixed[ch, delay:] += 10 ** (-18 / 20) * direct[1 - ch, :n - delay]
    mixed += np.random.default_rng(seed).standard_normal((2, n)) * 10 ** (-60 / 20)
    return mixed.astype(np.float32), utts


def build(seed: int, model: Any) -> dict[str, tuple[np.ndarray, list[Utt]]]:
    rows = [r for r in manifest() if r.language == "zh" and ("S0150" in r.file or r.file.startswith("misc/"))]
    parts = split_rows(rows, seed)
    groups = aligned_digit_groups(model)
    out = {}
    uid = 0
    for session in ("interview", "distractors"):
        items = [(read_wav(r.path), r.reference.replace(" ", ""), classify(r)) for r in parts[session]]
        gap = np.zeros(int(0.2 * SR), dtype=np.float32)
        for combo in SPLICES[session]:
            pieces = []
            for k in combo:
                pieces += [groups[k][0], gap]
            items.append((np.concatenate(pieces[:-1]), "".join(groups[k][1] for k in combo), "spliced"))
        random.Random(f"{seed}:order:{session}").shuffle(items)
        audio, utts = assemble(items, seed, session, uid)
        uid += len(utts)
        out[session] = (audio, utts)
    return out


# -- transcription, cached ------------------------------------------------------------------------------
def transcribe(audio: np.ndarray, transcriber: Any, cache: Path, session: str, fresh: bool) -> Transcript:
    from asr.engine import collect
    from asr.types import TranscribeOptions

    options = TranscribeOptions(language="zh", speakers=SPEAKERS)
    key = hashlib.sha256(audio.tobytes() + repr((transcriber.model_label, options)).encode()).hexdigest()[:16]
    path = cache / f"kws-{session}-{key}.json"
    if path.exists() and not fresh:
        log(f"{session}: transcript from the cache ({path.name})")
        return Transcript.from_dict(json.loads(path.read_text()))
    t0 = time.perf_counter()
    segments, info = transcriber.transcribe_array(audio, options)
    tr = collect(segments, info)
    secs = time.perf_counter() - t0
    log(f"{session}: transcribed {audio.shape[1] / SR:.0f} s in {secs:.0f} s ({len(tr.segments)} segments)")
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tr.to_dict(), ensure_ascii=False))
    return tr


# -- queries from the references ------------------------------------------------------------------------
def digit_runs(reference: str) -> list[str]:
    return ["".join(CN_DIGITS[c] for c in m.group())
            for m in re.finditer(f"[{''.join(CN_DIGITS)}]{{3,}}", reference)]


def queries(utts: list[Utt]) -> list[Q]:
    import cn2an
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    interview = [u for u in utts if u.session == "interview"]
    found: dict[str, tuple[str, set[int]]] = {}

    def add(kind: str, text: str, want: set[int]) -> None:
        if text not in found or KINDS.index(kind) < KINDS.index(found[text][0]):
            found[text] = (kind, want)

    def holding(sub: str) -> set[int]:
        return {u.uid for u in utts if sub in u.reference}

    numeral = set(CN_DIGITS) | set("十百千两")
    for u in interview:
        if u.kind == "place":
            add("name/place", u.reference, holding(u.reference))
        if u.kind == "song":
            title = re.sub("^(想听歌曲|来一首歌曲)", "", u.reference)
            if len(title) >= 2:
                add("name/place", title, holding(title))
        for w in pseg.cut(u.reference):
            text, flag = w.word, w.flag
            if len(text) < 2:
                continue
            if flag in NAME_FLAGS:  # 三星, 万科: a name keeps its numerals
                add("name/place", text, holding(text))
            elif flag.startswith(WORD_FLAGS) and not any(c in numeral for c in text):
                add("word", text, holding(text))
        for m in re.finditer("[零一二两三四五六七八九十百千万]*[十百千万][零一二两三四五六七八九十百千万]*", u.reference):
            run = m.group()
            if len(run) < 2:
                continue
            try:
                digits = str(int(cn2an.cn2an(run.replace("两", "二"), "normal")))
            except Exception:
                continue
            add("number", run, holding(run))
            add("number", digits, holding(run))
    digit_utts = {u.uid: digit_runs(u.reference) for u in utts}

    def saying(part: str, ending: bool = False) -> set[int]:
        return {uid for uid, runs in digit_utts.items()
                if any((r.endswith(part) if ending else part in r) for r in runs)}

    for u in interview:
        for run in digit_runs(u.reference):
            cn = "".join("零一二三四五六七八九"[int(d)] for d in run)
            add("digits", run, saying(run))
            add("digits", cn, saying(run))
            for n in (3, 4):
                for a in range(len(run) - n + 1):
                    if run[a:a + n] != run:
                        add("digit part", run[a:a + n], saying(run[a:a + n]))
            if len(run) > 4:
                add("digit part", "尾号" + run[-4:], saying(run[-4:], ending=True))
    return [Q(kind, text, frozenset(want)) for text, (kind, want) in sorted(found.items()) if want]


# -- search and scoring ---------------------------------------------------------------------------------
def tiers() -> list[tuple[str, dict[str, Any]]]:
    names = {f.name for f in fields(SearchOptions)}
    if "exact" not in names:
        return [("as built", {})]
    from index.sounds import TIERS

    return ([("exact", {"exact": True}), ("sound", {})] + [(f"sound+{t}", {"loose": (t,)}) for t in TIERS]
            + [("sound+all", {"loose": TIERS})])


def landing(utts: list[Utt], session: str, start: float) -> Optional[Utt]:
    near = [u for u in utts if u.session == session and u.place - 1.0 <= start <= u.end + 0.5]
    return min(near, key=lambda u: abs(start - (u.place + u.end) / 2)) if near else None


def run_tier(index: SearchIndex, qs: list[Q], utts: list[Utt], limit: int, opts: dict[str, Any]
             ) -> dict[str, Any]:
    by_kind: dict[str, list[int]] = {k: [0, 0] for k in KINDS}
    right = wrong = wrong_distractor = 0
    misses, false_hits = [], []
    per_query: dict[str, set[int]] = {}
    t0 = time.perf_counter()
    for q in qs:
        hits = index.search(q.text, SearchOptions(limit=limit, **opts))
        got: set[int] = set()
        for h in hits:
            u = landing(utts, h.session, h.start)
            if u is not None and u.uid in q.want:
                right += 1
                got.add(u.uid)
            else:
                wrong += 1
                wrong_distractor += h.session == "distractors"
                false_hits.append((q.text, h.session, round(h.start, 2), h.text, getattr(h, "match", "")))
        per_query[q.text] = got
        by_kind[q.kind][0] += len(got & q.want)
        by_kind[q.kind][1] += len(q.want)
        misses += [(q.kind, q.text, uid) for uid in sorted(q.want - got)]
    found = sum(v[0] for v in by_kind.values())
    total = sum(v[1] for v in by_kind.values())
    return {"by_kind": by_kind, "found": found, "targets": total, "recall_pct": pct(found, total),
            "right_hits": right, "false_hits": wrong, "false_hits_distractors": wrong_distractor,
            "precision_pct": pct(right, right + wrong), "ms_per_query": round((time.perf_counter() - t0) * 1000
                                                                              / max(1, len(qs)), 2),
            "misses": misses, "false": false_hits, "per_query": per_query}


def intact(utts: list[Utt], transcripts: dict[str, Transcript]) -> dict[int, bool]:
    """Digit utterances whose digits the ASR wrote all right, in a row (punctuation and spaces aside)."""
    out = {}
    table = str.maketrans(CN_DIGITS)
    for u in utts:
        runs = digit_runs(u.reference)
        if not runs:
            continue
        text = "".join(s.text for s in transcripts[u.session].segments
                       if s.end > u.place - 1.0 and s.start < u.end + 0.5)
        said = "".join(ch for ch in text.translate(table) if ch.isalnum() or "\u3400" <= ch <= "\u9fff")
        out[u.uid] = all(r in said for r in runs)
    return out


# -- main -----------------------------------------------------------------------------------------------
def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--limit", type=int, default=100, help="hits looked at per query")
    ap.add_argument("--home", type=Path, default=None, help="xunlu home whose model is used")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="transcript cache")
    ap.add_argument("--fresh", action="store_true", help="transcribe again even when cached")
    ap.add_argument("--misses", action="store_true", help="list every miss and false hit of the default tier")
    args = ap.parse_args(argv)
    require_speech(ap)
    started = time.perf_counter()
    from asr.pipeline import load_transcriber

    transcriber = load_transcriber("base", model_home(args.home))
    sessions = build(args.seed, transcriber.model)
    utts = [u for _, us in sessions.values() for u in us]
    transcripts = {name: transcribe(audio, transcriber, args.out, name, args.fresh)
                   for name, (audio, _) in sessions.items()}
    qs = queries(utts)
    work = Path(tempfile.mkdtemp(prefix="xunlu-kws-"))
    index = SearchIndex(work / "home")
    for name, tr in transcripts.items():
        index.replace_session(SessionMeta(name, "K-1", "讯问室1", ("张三",), "2026-11-20T09:00:00+08:00", 1,
                                          language="zh"), list(tr.segments))
    ok = intact(utts, transcripts)
    results = {}
    for name, opts in tiers():
        log(f"tier {name}: {len(qs)} queries")
        results[name] = run_tier(index, qs, utts, args.limit, opts)

    durations = {k: round(a.shape[1] / SR, 1) for k, (a, _) in sessions.items()}
    counts = {k: sum(1 for q in qs if q.kind == k) for k in KINDS}
    print(f"\n== Spoken terms: interview {durations['interview']:.0f} s "
          f"({sum(1 for u in utts if u.session == 'interview')} utterances), distractors "
          f"{durations['distractors']:.0f} s ({sum(1 for u in utts if u.session == 'distractors')}), "
          f"seed {args.seed}, {len(qs)} queries: " + ", ".join(f"{k} {n}" for k, n in counts.items()) + " ==")
    print("recall = targets found in the first %d hits / targets; precision = right hits / hits" % args.limit)
    head = f"{'tier':<11}" + "".join(f"{k:>14}" for k in KINDS) + f"{'all':>14}{'precision':>16}{'false (distr.)':>16}{'ms/q':>7}"
    print(head)
    for name, r in results.items():
        cells = "".join(f"{pct(*r['by_kind'][k]) if r['by_kind'][k][1] else float('nan'):>8.1f}%"
                        f"{'(' + str(r['by_kind'][k][1]) + ')':>6}" for k in KINDS)
        print(f"{name:<11}{cells}{r['recall_pct']:>13.1f}%{r['precision_pct']:>15.1f}%"
              f"{str(r['false_hits']) + ' (' + str(r['false_hits_distractors']) + ')':>16}{r['ms_per_query']:>7.1f}")

    default = "sound" if "sound" in results else next(iter(results))
    r = results[default]
    whole = [q for q in qs if q.kind == "digits"]
    parts = [q for q in qs if q.kind == "digit part" and not q.text.startswith("尾号")]
    kept = {uid for uid, good in ok.items() if good}

    def share(group: list[Q], n: Optional[int] = None) -> tuple[int, int]:
        chosen = [q for q in group if n is None or len(q.text) == n]
        want = sum(len(q.want & kept) for q in chosen)
        got = sum(len(r["per_query"][q.text] & q.want & kept) for q in chosen)
        return got, want

    print(f"\ndigit strings transcribed with all digits right: {len(kept)} of {len(ok)} utterances "
          f"({sum(1 for u in utts if u.kind == 'spliced')} spliced from groups, "
          f"{sum(1 for u in utts if u.kind == 'digits')} read in a sentence)")
    for label, group, n in (("whole, both forms", whole, None), ("every 4-digit part", parts, 4),
                            ("every 3-digit part", parts, 3)):
        got, want = share(group, n)
        print(f"  {default}: {label}: {got}/{want} found ({pct(got, want):.1f}%)")
    if args.misses:
        print(f"\nmisses of tier {default} (kind, query, reference):")
        ref = {u.uid: u for u in utts}
        for kind, text, uid in r["misses"]:
            u = ref[uid]
            near = " | ".join(s.text for s in transcripts[u.session].segments
                              if s.end > u.place - 1.0 and s.start < u.end + 0.5)
            print(f"  {kind:<11} {text:<10} said: {u.reference}  ASR: {near}")
        print(f"\nfalse hits of tier {default} (query, session, start, segment text, match):")
        for row in r["false"]:
            print("  " + "  ".join(str(x) for x in row))
    wall = round(time.perf_counter() - started, 1)
    print(f"\nwall time {wall:.0f} s")
    for r in results.values():
        for k in ("misses", "false", "per_query"):
            r.pop(k)
    print(json.dumps({"seed": args.seed, "limit": args.limit, "durations_s": durations, "queries": counts,
                      "intact_digit_utterances": f"{len(kept)}/{len(ok)}", "tiers": results, "wall_s": wall},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
