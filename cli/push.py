"""`xunlu push SESSION --to URL`: hand a finished session from this room recorder to the centre's server
(service/push.py does the work; run it again after an interruption to go on where it stopped)."""
from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from cli.common import HomeOpt, fail, handled


def push_cmd(session: Optional[str] = typer.Argument(None, help="The session to send (complete, as `xunlu sessions` "
                                                                  "lists)."),
             pending: bool = typer.Option(False, "--pending", help="Instead: every complete session not yet sent to "
                                          "this centre (for a timer), one after another."),
             to: str = typer.Option(..., "--to", help="The centre's server, e.g. https://centre.example:8000"),
             user: Optional[str] = typer.Option(None, "--user", help="An account at the centre that may import; "
                                                "its password from $XUNLU_PUSH_PASSWORD, --password-stdin or a "
                                                "prompt."),
             password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
             token: Optional[str] = typer.Option(None, "--token", envvar="XUNLU_PUSH_TOKEN",
                                                 help="A login token of the centre instead of --user "
                                                      "(or $XUNLU_PUSH_TOKEN)."),
             chunk_mb: float = typer.Option(4.0, "--chunk-mb", min=0.0625, max=16.0,
                                            help="Size of each piece sent (MiB)."),
             cafile: Optional[str] = typer.Option(None, "--cafile", help="The centre's CA certificate (PEM)."),
             home: Optional[str] = HomeOpt) -> None:
    """Send a finished session to the centre: every file's SHA-256 checked there before it is catalogued."""
    from archive.store import system_actor
    from cli.sessions import archive_for
    from service.push import PushOptions, login, push
    from service.push import pending as pending_sessions

    if not to.lower().startswith(("http://", "https://")):
        fail("--to must be the centre's http:// or https:// address")
    if bool(session) == pending:
        fail("name one SESSION, or give --pending")
    with handled("interrupted: run the same command again to go on where it stopped"):
        if not token:
            if not user:
                fail("give --user (an account at the centre) or --token")
            password = os.environ.get("XUNLU_PUSH_PASSWORD")
            if password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            if not password:
                password = typer.prompt(f"password of {user} at the centre", hide_input=True)
            token = login(to, user, password, cafile)
        archive = archive_for(home)
        total = [0]

        def progress(done: int, size: int) -> None:
            if size and done * 10 // size != total[0]:
                total[0] = done * 10 // size
                typer.echo(f"xunlu: {done * 100 // size}% of {size} bytes at the centre", err=True)

        options = PushOptions(url=to, token=token, chunk_bytes=int(chunk_mb * 1024 ** 2), cafile=cafile)
        chosen = pending_sessions(archive, to) if pending else [session]
        if pending and not chosen:
            typer.echo("xunlu: every complete session is at the centre already", err=True)
        for sid in chosen:
            result = push(archive, sid, options, system_actor(), progress)
            if result.already:
                typer.echo(f"xunlu: the centre already holds {sid} as {result.centre_session}; nothing sent",
                           err=True)
            elif result.had:
                typer.echo(f"xunlu: resumed: the centre had {result.had} bytes already", err=True)
            typer.echo(result.centre_session if not pending else f"{sid}\t{result.centre_session}")
