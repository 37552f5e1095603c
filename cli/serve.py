"""`xunlu serve`: the web app (officer console, supervisor search and player, API at /docs) with uvicorn, in
the foreground (api/server.py builds it, and runs it in a thread for `xunlu demo` and tests)."""
from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Optional

import typer

from accounts.setup import bind_warning
from cli.common import BrokerOpt, HomeOpt, fail, handled
from cli.users import first_run_admin
from core.config import home_dir
from core.urls import redact
from service.job_queue import broker_url

log = logging.getLogger("xunlu.serve")


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another server running? try --port)")


def _first_run(home: Path, host: str, tls: bool = False) -> None:
    """The bind-address warning, and on first run the admin account (its password shown once)."""
    warning = bind_warning(host, tls=tls)
    if warning:
        typer.echo(warning, err=True)
    first_run_admin(home)  # on a terminal it asks for the password; otherwise generates one, shown once


def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    audio: Optional[str] = typer.Option(None, "--audio", help="Default microphone, file or URL for the console."),
    video: Optional[str] = typer.Option(None, "--video", help="Default camera, file or URL for the console."),
    language: str = typer.Option("zh", "--language", "-l", help="Default language of live transcription."),
    max_upload_gb: float = typer.Option(64.0, "--max-upload-gb", min=0.001, help="Largest accepted upload."),
    video_delay: float = typer.Option(0.0, "--video-delay", min=-5.0, max=5.0, metavar="SECONDS",
                                      help="Default for the console: how much a separate camera's picture "
                                           "lags the microphone."),
    ssl_certfile: Optional[Path] = typer.Option(None, "--ssl-certfile", help="TLS certificate (PEM): serve HTTPS."),
    ssl_keyfile: Optional[Path] = typer.Option(None, "--ssl-keyfile", help="TLS private key (PEM)."),
    broker: Optional[str] = BrokerOpt,
    home: Optional[str] = HomeOpt,
) -> None:
    """Serve the officer console, supervisor search and player, and the HTTP API (docs at /docs)."""
    import uvicorn

    from api.server import ServeOptions, build

    with handled("stopped"):
        if bool(ssl_certfile) != bool(ssl_keyfile):
            fail("give both --ssl-certfile and --ssl-keyfile (or neither)")
        for tls_file in (ssl_certfile, ssl_keyfile):
            if tls_file is not None and not tls_file.is_file():
                fail(f"no such file: {tls_file}")
        _check_port(host, port)
        queue = broker_url(broker, home_dir(home))
        options = ServeOptions(host, port, audio, video, language, max_upload_gb, video_delay, broker=queue)
        application = build(home_dir(home), options)
        _first_run(home_dir(home), host, tls=ssl_certfile is not None)
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if ssl_certfile else "http"
        base = f"{scheme}://{shown}:{port}"
        typer.echo(f"讯录 xunlu: console {base}/console.html  search {base}/search.html  API {base}/docs", err=True)
        if queue:
            typer.echo(f"讯录 xunlu: imports run on workers of the job queue {redact(queue)} (xunlu worker)", err=True)
        summary = _daily_summary(home_dir(home), application.state.jobs if queue else None)
        try:
            uvicorn.run(application, host=host, port=port, log_level="warning", ws_max_size=1 << 16,
                        proxy_headers=False,  # the app trusts only [auth] trusted_proxies
                        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
                        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None)
        finally:  # the server runs without lifespan events: stop the thread here
            if summary is not None:
                summary.stop()


def _daily_summary(home: Path, jobs=None):
    """The supervision summary of the day before, written once a day while the server runs (supervise/); with
    a job queue, by a worker (service.warnings.QueuedDailySummary)."""
    if jobs is not None:
        from service.warnings import QueuedDailySummary

        return QueuedDailySummary(home, jobs).start()
    from supervise.summary import DailySummary

    return DailySummary(home).start()
