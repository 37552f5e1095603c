"""The daily summary: once a day, after the configured hour, the open warnings are written to
`<home>/<folder>/warnings-YYYY-MM-DD.txt` (and .json beside it) and the hook command, if any, is run with
the text file's path as its last argument (to mail it, post it to a chat, print it ...).

`run_due(home, now)` does it when it is due and not yet done today; `xunlu warnings --daily` (for cron) and
the server's background thread (`DailySummary`) both call it, and a lock file makes sure only one writes.
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from supervise.types import RuleConfig

log = logging.getLogger("xunlu.supervise.summary")


@dataclass(frozen=True)
class SummaryResult:
    path: Path
    open_warnings: int
    red: int
    hook_exit: Optional[int] = None     # None: no hook configured; -1: it could not run or timed out


def render(warnings, day: str, rules_source: str) -> str:
    from supervise.rules import TITLES, clock

    red = [w for w in warnings if w.level == "red"]
    lines = [f"讯录 监督预警日报 {day}", f"未处理预警 {len(warnings)} 条：红色 {len(red)} 条，黄色 {len(warnings) - len(red)} 条",
             f"规则文件：{rules_source}", ""]
    by_rule = Counter(w.rule for w in warnings)
    if by_rule:
        lines.append("按规则：")
        lines += [f"  {TITLES.get(rule, rule)}: {n}" for rule, n in by_rule.most_common()]
        by_unit = Counter(w.unit or "(未登记单位)" for w in warnings)
        lines.append("按单位：")
        lines += [f"  {unit}: {n}" for unit, n in by_unit.most_common()]
        lines.append("")
        lines.append("明细（红色在前）：")
    for w in warnings:
        at = f" @{clock(w.at)}" if w.at is not None else ""
        lines.append(f"  [{'红' if w.level == 'red' else '黄'}] #{w.id} {w.session}{at} {w.unit or '-'} "
                     f"{TITLES.get(w.rule, w.rule)}：{w.reason}")
    return "\n".join(lines) + "\n"


def run_due(home: Path, now: Optional[datetime] = None, config: Optional[RuleConfig] = None,
            force: bool = False) -> Optional[SummaryResult]:
    """Write today's summary if the hour has come and it is not written yet (`force`: now, whatever the hour,
    but still once a day). Returns None when nothing was due."""
    from archive.fsutil import atomic_write
    from archive.store import open_archive, system_actor
    from supervise.config import load_rules
    from supervise.scan import refresh
    from supervise.store import Filter, WarningStore

    home = Path(home)
    config = config or load_rules(home)
    now = (now or datetime.now().astimezone()).astimezone(config.zone())   # the hour and day of the centre
    s = config.summary
    if now.hour < s.hour and not force:
        return None
    day = now.date().isoformat()
    folder = (home / s.folder) if not os.path.isabs(s.folder) else Path(s.folder)
    folder.mkdir(parents=True, exist_ok=True)
    text_path = folder / f"warnings-{day}.txt"
    try:
        marker = open(folder / f".warnings-{day}.lock", "x")
    except FileExistsError:
        return None  # done today (or being done by another process)
    marker.close()
    try:
        archive = open_archive(home)
    except BaseException:
        (folder / f".warnings-{day}.lock").unlink(missing_ok=True)
        raise
    try:
        actor = system_actor()
        refresh(archive, config, actor, now)
        warnings = WarningStore(archive).list(Filter(state="open", limit=1_000_000))
        atomic_write(text_path, render(warnings, day, config.source).encode("utf-8"))
        atomic_write(text_path.with_suffix(".json"), json.dumps(
            {"day": day, "generated_at": now.isoformat(), "warnings": [w.to_dict() for w in warnings]},
            ensure_ascii=False, indent=1).encode("utf-8"))
        red = sum(w.level == "red" for w in warnings)
        archive.audit(actor, "warnings.summary", day, {"path": str(text_path), "open": len(warnings), "red": red})
    except BaseException:
        (folder / f".warnings-{day}.lock").unlink(missing_ok=True)  # not done: the next call tries again
        raise
    finally:
        archive.close()
    exit_code = _run_hook(s.hook, text_path, s.hook_timeout_s) if s.hook.strip() else None
    return SummaryResult(text_path, len(warnings), red, exit_code)


def _run_hook(hook: str, path: Path, timeout: float) -> int:
    try:
        argv = shlex.split(hook) + [str(path)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout or None)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        log.error("daily summary hook %r failed: %s", hook, exc)
        return -1
    if done.returncode != 0:
        log.error("daily summary hook %r exited %d: %s", hook, done.returncode, done.stderr.strip()[-500:])
    return done.returncode


class DailySummary:
    """A background thread for `xunlu serve`: checks once a minute whether the summary is due."""

    def __init__(self, home: Path, interval_s: float = 60.0):
        self.home = Path(home)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="xunlu-daily-summary", daemon=True)

    def start(self) -> "DailySummary":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = run_due(self.home)
                if result is not None:
                    log.info("daily summary written: %s (%d open)", result.path, result.open_warnings)
            except Exception:  # keep the server running; the next minute tries again
                log.exception("daily summary failed")
            self._stop.wait(self.interval_s)
