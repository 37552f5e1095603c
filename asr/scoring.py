"""Character and word error rates, in the scoring convention of DESIGN.md."""
from __future__ import annotations

from typing import Sequence

from core.textnorm import for_scoring


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def cer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors, reference characters) after Chinese scoring normalisation."""
    ref = for_scoring(reference, "zh")
    hyp = for_scoring(hypothesis, "zh")
    return edit_distance(ref, hyp), len(ref)


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors, reference words) after English scoring normalisation."""
    ref = for_scoring(reference, "en").split()
    hyp = for_scoring(hypothesis, "en").split()
    return edit_distance(ref, hyp), len(ref)
