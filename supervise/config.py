"""The rules file: the shipped defaults (default_rules.toml) with the site's `<home>/rules.toml` on top.

A bad file is a RulesError naming the file and the line: TOML syntax errors carry their line, and for an
unknown section or key, a wrong type or a value out of range the key's line is found in the text.
"""
from __future__ import annotations

import re
import sys
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from supervise.types import LEVELS, RuleConfig, RulesError

RULES_FILE = "rules.toml"
_HEADER = re.compile(r"^\s*\[\s*([^\]\s]+)\s*\]")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def default_text() -> str:
    return resources.files("supervise").joinpath("default_rules.toml").read_text(encoding="utf-8")


def line_of(text: str, section: Optional[str], key: Optional[str] = None) -> int:
    """1-based line of `key` inside `[section]` (or of the section header); 0 when not found."""
    current: Optional[str] = None
    header_line = 0
    key_re = re.compile(r"^\s*(?:\"%s\"|'%s'|%s)\s*=" % ((re.escape(key or ""),) * 3)) if key else None
    for number, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            current = m.group(1).strip("\"'")
            if key is None and current == section:
                return number
            if current == section:
                header_line = number
            continue
        if key_re and current == section and key_re.match(line):
            return number
    return header_line


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:  # Python < 3.14: the line is only in the message
            m = re.search(r"line (\d+)", str(exc))
            line = int(m.group(1)) if m else (len(text.splitlines()) or 1 if "end of document" in str(exc)
                                              else None)
        msg = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", getattr(exc, "msg", str(exc)))
        at = f", line {line}" if line else ""
        raise RulesError(f"{where}{at}: not valid TOML: {msg}") from exc


def _convert(value: Any, default: Any, where: str, name: str) -> Any:
    """The value with the type of the default, or a RulesError message (without the place)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise RulesError(f"'{name}' must be true or false, not {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RulesError(f"'{name}' must be a whole number, not {value!r}")
        if value < 0:
            raise RulesError(f"'{name}' must not be negative")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RulesError(f"'{name}' must be a number, not {value!r}")
        if value < 0:
            raise RulesError(f"'{name}' must not be negative")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise RulesError(f"'{name}' must be a string, not {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise RulesError(f"'{name}' must be a list of non-empty strings, not {value!r}")
        return tuple(v.strip() for v in value)
    raise RulesError(f"'{name}' cannot be set")  # pragma: no cover


def _check(section: str, key: str, value: Any) -> None:
    if key == "level" and value not in LEVELS:
        raise RulesError(f"'level' must be \"red\" or \"yellow\", not {value!r}")
    if key == "similarity" and not 0.0 < value <= 1.0:
        raise RulesError("'similarity' must be more than 0 and at most 1")
    if key in ("night_start", "night_end") and not _TIME.match(value):
        raise RulesError(f"'{key}' must be a time like \"22:00\", not {value!r}")
    if section == "summary" and key == "hour" and value > 23:
        raise RulesError("'hour' must be 0-23")


def apply(config: RuleConfig, text: str, where: str) -> RuleConfig:
    """`config` with the sections of the TOML `text` on top; errors name `where` and the line."""
    data = _parse(text, where)
    sections = {f.name: f for f in fields(RuleConfig) if f.name not in ("source", "timezone")}
    changes: dict[str, Any] = {}
    for name, table in data.items():
        if name not in sections:
            line = line_of(text, name) or line_of(text, None, name)
            raise RulesError(f"{where}, line {line}: unknown section [{name}] (known: {', '.join(sections)})")
        if not isinstance(table, dict):
            raise RulesError(f"{where}, line {line_of(text, None, name)}: '{name}' must be a section [{name}]")
        current = getattr(config, name)
        known = {f.name for f in fields(current)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            line = line_of(text, name, key)
            if key not in known:
                raise RulesError(f"{where}, line {line}: unknown key '{key}' in [{name}] "
                                 f"(known: {', '.join(sorted(known))})")
            try:
                converted = _convert(value, getattr(current, key), where, key)
                _check(name, key, converted)
            except RulesError as exc:
                raise RulesError(f"{where}, line {line}: [{name}] {exc}") from None
            values[key] = converted
        changes[name] = replace(current, **values)
    return replace(config, **changes)


def defaults() -> RuleConfig:
    return apply(RuleConfig(), default_text(), "default_rules.toml")


def load_rules(home: Optional[Path] = None, path: Optional[Path] = None) -> RuleConfig:
    """Defaults, then `path` if given (it must exist), else `<home>/rules.toml` when there is one; the
    centre's time zone from `<home>/config.toml` ([centre] timezone, core.config)."""
    config = defaults()
    if home is not None:
        from core.config import read

        config = replace(config, timezone=read(Path(home)).timezone)
    chosen = Path(path) if path is not None else (Path(home) / RULES_FILE if home is not None else None)
    if chosen is None or (path is None and not chosen.is_file()):
        return config
    try:
        text = chosen.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read the rules file {chosen}: {exc}") from exc
    return replace(apply(config, text, str(chosen)), source=str(chosen))
