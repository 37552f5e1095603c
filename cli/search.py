"""Search commands of the `xunlu` CLI: search and reindex."""
from __future__ import annotations

import html
import json
from typing import Optional

import typer

from archive.store import system_actor
from cli.common import BrokerOpt, HomeOpt, fail, handled
from cli.sessions import archive_for
from core.config import home_dir
from core.transcript import timestamp


def search_cmd(
    query: str = typer.Argument(..., help='Words, names or numbers; "a phrase"; AND, OR, NOT (or -word).'),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per hit, per line."),
    case: Optional[str] = typer.Option(None, "--case", help="Only this case id."),
    speaker: Optional[str] = typer.Option(None, "--speaker", help="Only this speaker (officer, suspect, ...)."),
    since: Optional[str] = typer.Option(None, "--since", help="Sessions on or after this day (YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Sessions on or before this day (YYYY-MM-DD)."),
    limit: int = typer.Option(20, "--limit", "-n", help="At most this many hits."),
    sort: str = typer.Option("score", "--sort", help="score (best first) or time (by session and time)."),
    exact: bool = typer.Option(False, "--exact", help="Only as written: no sound-alikes (受信 for 授信)."),
    loose: Optional[str] = typer.Option(
        None, "--loose", metavar="TIERS",
        help="Also accept sounds often confused, comma-separated: zh (zh/z ch/c sh/s), ng (-ng/-n), ln (l/n), "
             "fh (f/h). Finds more, and more that is wrong."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Find every moment a word was said, across all recordings: as written first, then where the same
    syllables were said but written with other characters (marked 同音; --exact: not those). A query can be
    typed in pinyin too (shouxin, shou xin)."""
    from index.manager import IndexProblem
    from index.query import QueryError
    from service.search import SearchRequest, check, search

    with handled():
        if sort not in ("score", "time"):
            fail(f"--sort must be score or time, not {sort!r}")
        tiers = tuple(t.strip() for t in (loose or "").split(",") if t.strip())
        req = SearchRequest(query, case, speaker, since, until, limit, sort, exact, tiers)
        try:  # bad queries fail before anything is opened
            check(req, "--since", "--until")
        except QueryError as exc:
            fail(str(exc))
        archive = archive_for(home)
        try:
            hits = search(home_dir(home), archive, req, system_actor(),
                          say=lambda m: typer.echo(f"xunlu: {m}", err=True)).hits
        except QueryError as exc:
            fail(str(exc))
        except IndexProblem as exc:
            fail(f"{exc}; run xunlu reindex", 1)
        if as_json:
            for hit in hits:
                typer.echo(json.dumps(hit.to_json(), ensure_ascii=False))
            return
        if not hits:
            typer.echo(f"no match for {query!r}", err=True)
            return
        for hit in hits:
            who = hit.speaker or f"ch{hit.channel}"
            text = html.unescape(hit.snippet.replace("<mark>", "【").replace("</mark>", "】"))
            if hit.match == "sound":
                text = f"[同音 {hit.written}] {text}" if hit.written else f"[同音] {text}"
            typer.echo(f"{hit.session}  {timestamp(hit.start)}  {who:<8} {text}")
            media = _media_path(archive, hit.session)
            if media:
                typer.echo(f"    play: ffplay -ss {max(0.0, hit.start - 1):.2f} '{media}'")


def _media_path(archive, sid: str) -> Optional[str]:
    try:
        session = archive.get(sid)
    except Exception:
        return None
    chosen = session.file("playable") or session.file("original")
    return str(archive.folder(sid) / chosen.path) if chosen else None


def reindex_cmd(sessions: Optional[list[str]] = typer.Argument(None, help="Sessions (default: all)."),
                procs: int = typer.Option(2, "--procs", min=1, help="Worker processes for a full rebuild."),
                broker: Optional[str] = BrokerOpt,
                home: Optional[str] = HomeOpt) -> None:
    """Rebuild the search index from the archive alone (the latest transcript of each session)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cli.jobs import follow, outcome, queue_of
    from service.indexing import rebuild

    with handled("interrupted; the previous index is still in use"):
        jobs = queue_of(broker, home)
        if jobs is not None:   # on a worker; this follows it
            from service.queued import queue_reindex

            done = follow(jobs, queue_reindex(jobs, sessions or [], system_actor(), procs), "重建索引 reindex")
            outcome(done)
            typer.echo(f"indexed {done.result.get('segments')} segment(s) of {done.result.get('sessions')} session(s)")
            return
        archive = archive_for(home)
        total = len([s for s in (sessions or [x.id for x in archive.list()])])
        with Progress(TextColumn("重建索引 reindex"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=_stderr()) as progress:
            task = progress.add_task("reindex", total=total)
            n_sessions, n_segments = rebuild(home_dir(home), archive, sessions or None,
                                             lambda _sid: progress.advance(task), procs)
        archive.audit(system_actor(), "reindex", ",".join(sessions or ["*"]), {"segments": n_segments})
        typer.echo(f"indexed {n_segments} segment(s) of {n_sessions} session(s)")


def _stderr():
    from rich.console import Console

    return Console(stderr=True)
