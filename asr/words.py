"""Word times on the session clock, checked against where the VAD heard speech: a first word moved onto the
speech onset, segments split at the pauses the VAD heard (never inside a spoken run of digits), words that lie
in the padding dropped. Shared by offline (asr/regions.py, asr/batched.py) and live (asr/stream_decode.py)
decoding."""
from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Any

from asr.digits import joins_digits
from asr.vad import SAMPLE_RATE, Region
from core.transcript import Word

ZH_PROMPT = "以下是普通话的句子。"


def word_chunks(fw_words: list[Any], ts_map: Any, regions: tuple[Region, ...]) -> list[int]:
    """Which VAD chunk each word of the joined speech belongs to.

    faster-whisper goes by a word's midpoint. But Whisper starts an utterance's first word early, often in
    the padding or even the last syllables of the previous chunk, and the word would be carried back into
    the previous utterance's time. The first word or two of a segment, when the words after them are in a
    later chunk, and any word that lands after the speech of its chunk has ended and leads into a later
    chunk, are given to that later chunk."""
    chunks = [ts_map.get_chunk_index((w.start + w.end) / 2) for w in fw_words]
    # a segment's first word or two, alone in an earlier chunk than the words that follow them
    for lead in (1, 2):
        if len(chunks) > lead and len(set(chunks[:lead])) == 1 and chunks[lead] > chunks[lead - 1]:
            chunks[:lead] = [chunks[lead]] * lead
            break
    for i in range(len(fw_words) - 2, -1, -1):
        here, after = chunks[i], chunks[i + 1]
        if after > here:
            speech_end = regions[here].spans[-1][1] / SAMPLE_RATE
            start = ts_map.get_original_time(fw_words[i].start, here)
            if start >= speech_end - 0.1:
                chunks[i] = after
    return chunks


def heard_as_speech(words: list[Word], regions: tuple[Region, ...]) -> bool:
    """False for words that lie mostly in the padding around speech, where the VAD heard none: Whisper
    fills that silence with phantom text ("字幕制作人", "那天") at the end of an utterance."""
    start, end = words[0].start, words[-1].end
    if end - start <= 0:
        return True
    covered = sum(max(0.0, min(end, b) - max(start, a)) for a, b in _spans_s(regions))
    coverage = covered / (end - start)
    mean_p = sum(w.p for w in words) / len(words)
    return coverage >= 0.6 or (coverage >= 0.4 and mean_p >= 0.5)


SPLIT_PAUSE_S = 0.8  # a segment is split where the VAD heard a pause at least this long between two words


def _spans_s(regions: tuple[Region, ...]) -> list[tuple[float, float]]:
    return [(a / SAMPLE_RATE, b / SAMPLE_RATE) for r in regions for a, b in r.spans]


def _span_index(t: float, ends: list[float]) -> int:
    """Index of the first span that ends after `t` (len(ends) when none does)."""
    return bisect.bisect_right(ends, t)


def snap_to_onsets(words: list[Word], regions: tuple[Region, ...]) -> list[Word]:
    """Whisper often starts an utterance's first word in the silence before it. A word that starts
    before the speech it belongs to (it straddles the onset, or lies in the pause nearer the next onset than
    the previous speech) gets the VAD's onset as its start; word order is kept."""
    spans = _spans_s(regions)
    ends = [e for _, e in spans]
    out: list[Word] = []
    for i, w in enumerate(words):
        k = _span_index((w.start + w.end) / 2, ends)
        if k < len(spans) and w.start < spans[k][0]:
            onset = spans[k][0]
            in_gap = (w.start + w.end) / 2 < onset
            prev_end = spans[k - 1][1] if k > 0 else -1e9
            if not in_gap or onset - w.end <= w.start - prev_end:
                end = w.end if not in_gap else onset + min(w.end - w.start, 0.3)
                if i + 1 < len(words):
                    end = min(end, max(onset, words[i + 1].start))
                w = replace(w, start=round(onset, 2), end=round(max(onset, end), 2))
        if out and w.start < out[-1].start:
            w = replace(w, start=out[-1].start, end=max(w.end, out[-1].start))
        out.append(w)
    return out


def split_at_pauses(words: list[Word], regions: tuple[Region, ...]) -> list[list[Word]]:
    """Split a segment where its words cross a pause the VAD heard (SPLIT_PAUSE_S or more), so that one
    segment is one utterance, whatever Whisper's own segmentation over the joined speech did. Never between
    two digits: a phone or ID number read out in groups, with a breath between them, stays one run in one
    segment."""
    spans = _spans_s(regions)
    ends = [e for _, e in spans]
    groups: list[list[Word]] = []
    prev_k = -1
    for w in words:
        k = min(_span_index((w.start + w.end) / 2, ends), len(spans) - 1) if spans else 0
        if not groups:
            groups.append([])
        elif k > prev_k and spans and spans[k][0] - spans[max(prev_k, 0)][1] >= SPLIT_PAUSE_S \
                and w.start - groups[-1][-1].end >= 0.05 and not joins_digits(groups[-1][-1].text, w.text):
            groups.append([])
        groups[-1].append(w)
        prev_k = max(prev_k, k)
    return groups
