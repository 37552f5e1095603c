"""Audio level per channel, to tell a microphone that was off from an officer who never spoke.

Only asked for when the officer-silent rule fires (rare), because it decodes the whole recording's audio;
the answer is kept in the facts cache (the original media never changes)."""
from __future__ import annotations

import json
import logging
import math
import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Optional

from supervise.types import Finding

log = logging.getLogger("xunlu.supervise.levels")
OFF_DB = -70.0          # below this over the whole session: no signal (a microphone off or unplugged)
_CHANNEL = re.compile(r"Channel:\s*(\d+)")
_RMS = re.compile(r"RMS level dB:\s*(\S+)")


def channel_levels(path: Path, timeout: float = 600.0) -> Optional[tuple[Optional[float], ...]]:
    """RMS level in dB of each channel of the first audio stream over the whole file (None: digital
    silence); None when ffmpeg cannot tell."""
    try:
        if Path(path).stat().st_size == 0:
            return None
    except OSError:
        return None
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:a:0", "-af",
           "astats=measure_overall=none:measure_perchannel=RMS_level", "-f", "null", "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("audio levels of %s not measured: %s", path, exc)
        return None
    levels: dict[int, Optional[float]] = {}
    channel = None
    for line in done.stderr.splitlines():
        m = _CHANNEL.search(line)
        if m:
            channel = int(m.group(1)) - 1
            continue
        m = _RMS.search(line)
        if m and channel is not None:
            try:
                value = float(m.group(1))
            except ValueError:
                value = float("-inf")
            levels[channel] = None if math.isinf(value) else round(value, 1)
    if not levels:
        return None
    return tuple(levels.get(i) for i in range(max(levels) + 1))


def annotate(findings: list[Finding], media: Path, key: str, cache) -> list[Finding]:
    """Officer-silent findings with what the channel's audio level says."""
    levels = _cached(media, key, cache)
    if levels is None:
        return findings
    out = []
    for f in findings:
        index = int(f.detail[2:]) if f.rule == "officer_silent" and f.detail.startswith("ch") else None
        if index is None or index >= len(levels):
            out.append(f)
            continue
        level = levels[index]
        if level is None or level < OFF_DB:
            note = f"；该声道整场几乎无信号（{'无' if level is None else f'{level:g} dB'}）：麦克风未接通或被静音"
        else:
            note = f"；该声道有声音（平均 {level:g} dB），但没有识别出该讯问人的讲话：请核实该讯问人是否在场"
        out.append(replace(f, reason=f.reason.split("：")[0] + note))
    return out


def _cached(media: Path, key: str, cache) -> Optional[tuple[Optional[float], ...]]:
    conn = getattr(cache, "conn", None)
    if conn is not None:
        conn.execute("CREATE TABLE IF NOT EXISTS levels (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
        row = conn.execute("SELECT data FROM levels WHERE key = ?", (key,)).fetchone()
        if row:
            data = json.loads(row[0])
            return None if data is None else tuple(data)
    levels = channel_levels(media)   # media never changes: a file ffmpeg cannot read is not tried again
    if conn is not None:
        conn.execute("INSERT OR REPLACE INTO levels (key, data) VALUES (?, ?)",
                     (key, json.dumps(None if levels is None else list(levels))))
    return levels
