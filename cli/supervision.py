"""Supervision commands of the `xunlu` CLI: warnings (list, close, daily summary), sign, session-set."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterator, Optional

import typer

from cli.common import HomeOpt, fail, handled
from core.config import home_dir


@contextlib.contextmanager
def supervised() -> Iterator[None]:
    from supervise.types import RulesError

    with handled():
        try:
            yield
        except RulesError as exc:
            fail(str(exc), exc.exit_code)


def _who(by: Optional[str]) -> str:
    from archive.store import system_actor

    return by.strip() if by and by.strip() else system_actor().split(":", 1)[-1]


def warnings_cmd(
    since: Optional[str] = typer.Option(None, "--since", help="Sessions from this date (YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Sessions up to this date (YYYY-MM-DD)."),
    level: Optional[str] = typer.Option(None, "--level", help="red or yellow."),
    rule: Optional[str] = typer.Option(None, "--rule", help="Only this rule (see the rules file)."),
    unit: Optional[str] = typer.Option(None, "--unit", help="Only this unit (单位)."),
    session: Optional[str] = typer.Option(None, "--session", help="Only this session."),
    state: str = typer.Option("open", "--state", help="open, closed, resolved or all."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    close: Optional[int] = typer.Option(None, "--close", help="Close this warning (needs --reason)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why the warning is closed (kept and audited)."),
    by: Optional[str] = typer.Option(None, "--by", help="Who closes it (default: the login name)."),
    daily: bool = typer.Option(False, "--daily", help="Write today's summary if due (for cron)."),
    force: bool = typer.Option(False, "--force", help="With --daily: write it now, whatever the hour."),
    no_refresh: bool = typer.Option(False, "--no-refresh", help="List the stored warnings without re-checking."),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Rules file (default <home>/rules.toml)."),
    limit: int = typer.Option(1000, "--limit", min=1),
    broker: Optional[str] = typer.Option(None, "--broker", metavar="URL",
                                         help="With --daily: the job queue (default $XUNLU_BROKER_URL); a worker "
                                              "writes the summary (with the home's rules.toml)."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Supervision warnings (监督预警): check every session against the rules and list what is open, red
    first; close one with a reason; write the daily summary."""
    from archive.store import system_actor
    from cli.sessions import archive_for
    from service.warnings import Refresher
    from supervise.config import load_rules
    from supervise.rules import RULES, TITLES, clock
    from supervise.store import Filter, WarningStore, parse_day

    with supervised():
        root = home_dir(home)
        config = load_rules(root, rules)
        if daily:
            from cli.jobs import queue_of

            jobs = queue_of(broker, home)
            if jobs is not None:
                _queued_daily(jobs, force)
                return
            from supervise.summary import run_due

            result = run_due(root, config=config, force=force)
            if result is None:
                typer.echo("xunlu: the daily summary is not due yet or was already written today", err=True)
            else:
                typer.echo(str(result.path))
                if result.hook_exit not in (None, 0):
                    fail(f"the summary hook failed (exit {result.hook_exit}); the summary is at {result.path}", 1)
            return
        archive = archive_for(home)
        store = WarningStore(archive)
        if close is not None:
            if not reason or not reason.strip():
                fail("closing a warning needs a reason: --reason '...'")
            warning = store.close(close, reason, _who(by))
            typer.echo(f"warning #{warning.id} ({warning.session} {warning.rule}) closed by {warning.closed_by}")
            return
        if level and level not in ("red", "yellow"):
            fail(f"--level must be red or yellow, not {level!r}")
        if rule and rule not in RULES:
            fail(f"unknown rule {rule!r}: use one of {', '.join(RULES)}")
        flt = Filter(state=state, unit=unit, level=level, rule=rule, since=parse_day(since, "--since"),
                     until=parse_day(until, "--until"), session=session, limit=limit)
        if not no_refresh:
            Refresher(root).now(archive, config, system_actor())
        found = store.list(flt)
        for w in found:
            if as_json:
                typer.echo(json.dumps({**w.to_dict(), "title": TITLES.get(w.rule, w.rule)}, ensure_ascii=False))
            else:
                at = clock(w.at) if w.at is not None else "-"
                mark = "红 red   " if w.level == "red" else "黄 yellow"
                state_note = "" if w.state == "open" else f"\t[{w.state}]"
                typer.echo(f"#{w.id}\t{mark}\t{w.session}\t{at}\t{w.unit or '-'}\t{w.rule}\t{w.reason}{state_note}")
        red = sum(w.level == "red" for w in found)
        typer.echo(f"{len(found)} warning(s) ({state}): {red} red, {len(found) - red} yellow", err=True)


def sign_cmd(session: str = typer.Argument(...),
             signer: Optional[str] = typer.Option(None, "--signer", help="Who signed (被讯问人/讯问人)."),
             at: Optional[str] = typer.Option(None, "--at", help="When it was signed (default: now), ISO 8601."),
             by: Optional[str] = typer.Option(None, "--by", help="Who confirms it (default: the login name)."),
             home: Optional[str] = HomeOpt) -> None:
    """Confirm that the session's 笔录 was signed (audited; clears the unsigned-record warning)."""
    from cli.sessions import archive_for
    from supervise.session_info import sign

    with supervised():
        record = sign(archive_for(home), session, _who(by), at, signer)
        typer.echo(f"{session}: 笔录 confirmed signed at {record.signed_at}")


def session_set_cmd(session: str = typer.Argument(...),
                    unit: Optional[str] = typer.Option(None, "--unit", help="Unit (单位)."),
                    check_in: Optional[str] = typer.Option(None, "--check-in",
                                                           help="When the person arrived in the centre, ISO 8601."),
                    night_reason: Optional[str] = typer.Option(None, "--night-reason",
                                                               help="Why questioning at night was needed."),
                    by: Optional[str] = typer.Option(None, "--by", help="Who records it (default: the login name)."),
                    home: Optional[str] = HomeOpt) -> None:
    """Record a session's unit, the person's check-in time or the reason for night questioning (audited)."""
    from cli.sessions import archive_for
    from supervise.session_info import set_fields

    with supervised():
        record = set_fields(archive_for(home), session, _who(by), unit, check_in, night_reason)
        typer.echo(json.dumps({k: getattr(record, k) for k in ("id", "unit", "check_in_at", "night_reason")},
                              ensure_ascii=False))


def _queued_daily(jobs, force: bool) -> None:
    """`xunlu warnings --daily --broker`: a worker writes the summary; its path (or why not) here."""
    from archive.store import system_actor
    from cli.jobs import follow, outcome
    from service.queued import queue_warnings

    done = follow(jobs, queue_warnings(jobs, system_actor(), force), "监督预警日报 daily summary")
    outcome(done)
    if not done.result.get("written"):
        typer.echo("xunlu: the daily summary is not due yet or was already written today", err=True)
        return
    typer.echo(done.result["written"])
    if done.result.get("hook_exit") not in (None, 0):
        fail(f"the summary hook failed (exit {done.result['hook_exit']}); the summary is at "
             f"{done.result['written']}", 1)
