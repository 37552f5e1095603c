"""Run every rule over the archive and bring the stored warnings up to date."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from archive.store import Archive
from supervise.facts import FactsCache, iter_facts
from supervise.rules import evaluate
from supervise.store import SessionInfo, SyncReport, WarningStore
from supervise.types import Finding, RuleConfig

log = logging.getLogger("xunlu.supervise")


@dataclass(frozen=True)
class ScanResult:
    findings: tuple[Finding, ...]
    info: dict[str, SessionInfo]
    sessions: int
    seconds: float
    level_checks: int = 0           # officer-silent findings whose channel levels were looked up
    level_seconds: float = 0.0      # time spent on that (ffmpeg decodes the audio once per recording)


def scan(archive: Archive, config: RuleConfig, now: Optional[datetime] = None,
         sessions: Optional[Iterable[str]] = None, cache: Optional[FactsCache] = None) -> ScanResult:
    """Every rule over every finished session (or those named)."""
    now = now or datetime.now().astimezone()
    began = time.perf_counter()
    findings: list[Finding] = []
    info: dict[str, SessionInfo] = {}
    level_checks, level_seconds = 0, 0.0
    own_cache = cache is None
    cache = cache if cache is not None else FactsCache(archive.home)
    try:
        for facts in iter_facts(archive, sessions, cache):
            info[facts.id] = SessionInfo(facts.unit, facts.start.isoformat() if facts.start else None)
            found = evaluate(facts, config, now)
            if facts.media_path and any(w.rule == "officer_silent" for w in found):
                from supervise.levels import annotate

                t = time.perf_counter()
                found = annotate(found, archive.folder(facts.id) / facts.media_path,
                                 f"{facts.id}/{facts.media_path}", cache)
                level_checks, level_seconds = level_checks + 1, level_seconds + time.perf_counter() - t
            findings.extend(found)
    finally:
        if own_cache:
            cache.close()
    seconds = time.perf_counter() - began
    log.info("rules over %d sessions: %d findings in %.2f s", len(info), len(findings), seconds)
    return ScanResult(tuple(findings), info, len(info), seconds, level_checks, level_seconds)


def refresh(archive: Archive, config: RuleConfig, actor: str, now: Optional[datetime] = None,
            sessions: Optional[Iterable[str]] = None) -> SyncReport:
    """Evaluate and store: new warnings open, gone ones resolve; a change is noted in the audit chain."""
    chosen = list(sessions) if sessions is not None else None
    result = scan(archive, config, now, chosen)
    report = WarningStore(archive).sync(result.findings, result.info, chosen)
    if report.new or report.reopened or report.resolved:
        archive.audit(actor, "warnings.refresh", ",".join(chosen) if chosen else "*",
                      {"new": report.new, "reopened": report.reopened, "resolved": report.resolved,
                       "open": report.open_total, "rules": config.source})
    return report
