"""bench/asr.py section `vocabulary`: does telling Whisper the case's names help, and does it make it write
names that were not said?

Names are taken from the references only (jieba's person, place, organisation and other proper-noun tags, two
characters or more) of the shared zh clips. Each clip that holds names is transcribed by xunlu's pipeline
twice: without a vocabulary, and with one made of its own names and six names of other clips (shuffled), as
an officer's list would hold names that are said and names that are not. A name counts as recognised when it
is in the transcript; the figures are also given apart for names in everyday use (jieba's dictionary count of
300 or more, core/dictionary.py EVERYDAY: 北京, 三星, 孙中山) and the others (左小蕾, 佐野, 龙耀), which are what a
case's list is mostly made of and what Whisper has no reason to guess. Insertions: clips that hold no name,
transcribed with a vocabulary of eight names of other clips; every one of those names in the transcript (and
not in the reference) is an insertion. The same is counted on the live path (each clip after a second of
silence, fed to asr.stream as fast as taken), which decodes a short reply alone: there the list's first name
was once written for a 成都 said alone, until a lone listed name had to be heard without the list too.

jieba's tags also catch words that are not names at all (听歌曲 "listen to songs", 会徽 "emblem", 藏獒
"mastiff", 大城市 "big city"): an officer's list of names would not hold them, and Whisper writes the everyday
ones right without help. The figures are therefore also given for proper names only: the tagged
words less NOT_NAMES, every tagged word of the shared clips that is a common word by its meaning, read from
the references (not from any transcript) and listed whether or not Whisper writes it.
"""
from __future__ import annotations

import random
from typing import Any

from asr.types import TranscribeOptions
from bench.common import SR, Row, make_log, read_wav

log = make_log("bench")
TAGS = ("nr", "ns", "nt", "nz", "nrt")
# Tagged words of the shared zh clips that are common words, not names, by their sense in the clip's
# reference. Parts of names that jieba cut out of a longer name (二郎 of 佐野研二郎, 华山 of
# 龙华山, 迪卡 of 莱昂纳多迪卡普里奥) are kept: they are names' own characters.
NOT_NAMES = frozenset({
    "城市", "大城市", "大街", "古城", "东西", "顾问", "保安", "博客", "天王", "立马", "安宁",
    "美国市场", "无人驾驶", "肌肉发达", "珠宝店", "铁汉子", "小猴子", "藏獒", "灵堂", "会徽",
    "听歌曲",      # 想听歌曲致青春: "(I) want to listen to the song ..."
    "高原", "青春", "山里红",   # common words inside the song titles 又见高原红, 致青春, 又见山里红
})


def names_of(text: str) -> list[str]:
    import jieba.posseg as pseg

    return sorted({w for w, flag in pseg.cut(text) if flag in TAGS and len(w) >= 2})


def _text(sys_: Any, row: Row, words: tuple[str, ...]) -> str:
    from asr.engine import collect

    segments, info = sys_.tr.transcribe(str(row.path), TranscribeOptions(language="zh", hotwords=words))
    return "".join(s.text for s in collect(segments, info).segments)


def _live_text(sys_: Any, row: Row, words: tuple[str, ...]) -> str:
    """The finals of the live path over the clip (1 s of silence before it, 2 s after, as a room would give
    it), fed as fast as taken."""
    import numpy as np

    from asr.stream import StreamOptions, replay

    clip = read_wav(row.path)
    audio = np.concatenate([np.zeros(SR, dtype=np.float32), clip, np.zeros(2 * SR, dtype=np.float32)])
    finals, _ = replay(sys_.tr, audio[None, :], StreamOptions(language="zh", partials=False, hotwords=words))
    return "".join(s.text for s in finals)


def bench_vocabulary(sys_: Any, rows: list[Row], quick: bool, seed: int) -> dict:
    zh = [r for r in rows if r.language == "zh" and "stereo" not in r.file]
    named = {r.file: names_of(r.reference) for r in zh}
    with_names = [r for r in zh if named[r.file]]
    without_names = [r for r in zh if not named[r.file]]
    every = sorted({n for r in with_names for n in named[r.file]})
    rng = random.Random(seed)
    if quick:
        with_names, without_names = with_names[:12], without_names[:8]
    from core.dictionary import EVERYDAY, word_count

    found, uncommon = _tally(), _tally()
    proper = {"all": _tally(), "uncommon": _tally()}     # names less NOT_NAMES
    live = _tally()                                      # the same names through the live path
    inserted_with_own = live_inserted_with_own = 0
    misses: list[dict] = []
    for k, r in enumerate(with_names, 1):
        others = rng.sample([n for n in every if n not in named[r.file] and n not in r.reference], 6)
        vocab = tuple(sorted(named[r.file] + others, key=lambda _: rng.random()))
        plain, told = _text(sys_, r, ()), _text(sys_, r, vocab)
        live_plain, live_told = _live_text(sys_, r, ()), _live_text(sys_, r, vocab)
        for n in named[r.file]:
            live["names"] += 1
            live["without"] += n in live_plain
            live["with"] += n in live_told
            rare = word_count(n) < EVERYDAY
            counted = [found] + [uncommon] * rare
            if n not in NOT_NAMES:
                counted += [proper["all"]] + [proper["uncommon"]] * rare
            for tally in counted:
                tally["names"] += 1
                tally["without"] += n in plain
                tally["with"] += n in told
            if n not in told:
                misses.append({"file": r.file, "name": n, "without": plain, "with": told})
        inserted_with_own += sum(n in told for n in others)
        live_inserted_with_own += sum(n in live_told for n in others)
        log(f"vocabulary: {k}/{len(with_names)} {r.file}")
    inserted = live_inserted = 0
    for k, r in enumerate(without_names, 1):
        vocab = tuple(rng.sample([n for n in every if n not in r.reference], 8))
        told = _text(sys_, r, vocab)
        inserted += sum(n in told for n in vocab)
        live_inserted += sum(n in _live_text(sys_, r, vocab) for n in vocab)
        log(f"vocabulary: insertions {k}/{len(without_names)} {r.file}")
    total = found["names"]
    out = {"clips_with_names": len(with_names), "names": total, "found_without": found["without"],
           "found_with": found["with"], "uncommon_names": uncommon["names"],
           "uncommon_found_without": uncommon["without"], "uncommon_found_with": uncommon["with"],
           "proper_names": proper, "insertions_beside_own_names": inserted_with_own,
           "clips_without_names": len(without_names), "insertions": inserted, "misses": misses,
           "live": {**live, "insertions_beside_own_names": live_inserted_with_own, "insertions": live_inserted}}
    print(f"\n== 6. Vocabulary (names from the references; {len(with_names)} clips with names, "
          f"{len(without_names)} without) ==")
    print(f"names recognised: {found['without']}/{total} without the vocabulary, {found['with']}/{total} with it "
          f"({_ratio(found['with'], found['without'])}); misses among names not recognised without it: "
          f"{total - found['without']} -> {len(misses)}")
    print(f"names not in everyday use (jieba count < {EVERYDAY}): {uncommon['without']}/{uncommon['names']} without, "
          f"{uncommon['with']}/{uncommon['names']} with it ({_ratio(uncommon['with'], uncommon['without'])})")
    for kind, label in (("all", "all"), ("uncommon", "not in everyday use")):
        t = proper[kind]
        print(f"proper names only (less {len(NOT_NAMES)} common words jieba tags), {label}: {t['without']}/"
              f"{t['names']} without, {t['with']}/{t['names']} with it ({_ratio(t['with'], t['without'])})")
    print(f"insertions: {inserted_with_own} of the six absent names listed beside each clip's own "
          f"({len(with_names) * 6} chances), {inserted} on {len(without_names)} clips without names "
          f"({len(without_names) * 8} chances)")
    print(f"live path (each clip after 1 s of silence, fed as fast as taken): {live['without']}/{live['names']} "
          f"without, {live['with']}/{live['names']} with it ({_ratio(live['with'], live['without'])}); "
          f"insertions {live_inserted_with_own} beside the clips' own names, {live_inserted} on clips without")
    return out


def _tally() -> dict[str, int]:
    return {"names": 0, "without": 0, "with": 0}


def _ratio(with_: int, without: int) -> str:
    return f"{with_ / without:.2f}x" if without else "inf"
