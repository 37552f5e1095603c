"""`xunlu serve`: the web app (officer console, supervisor search and player, API at /docs) with uvicorn.

`start_in_thread` runs the same server in a background thread (for `xunlu demo` and tests)."""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer

from api.cli import HomeOpt, app, fail, handled
from api.config import home_dir

log = logging.getLogger("xunlu.serve")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    audio: Optional[str] = None
    video: Optional[str] = None
    language: str = "zh"
    max_upload_gb: float = 64.0
    video_delay: float = 0.0


def build(home: Path, options: ServeOptions, transcriber: Any = None, live: Any = None):
    from api.app import create_app

    defaults = {k: v for k, v in {"audio": options.audio, "video": options.video,
                                  "language": options.language, "video_delay": options.video_delay}.items() if v}
    return create_app(home, transcriber=transcriber, live=live, defaults=defaults,
                      max_upload=int(options.max_upload_gb * 1024 ** 3))


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another server running? try --port)")


@dataclass
class RunningServer:
    server: Any
    thread: threading.Thread
    url: str

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start_in_thread(home: Path, options: ServeOptions = ServeOptions(port=0), transcriber: Any = None,
                    live: Any = None, app_obj: Any = None, timeout: float = 30.0) -> RunningServer:
    """Start uvicorn in a daemon thread and wait until it answers; port 0 picks a free port."""
    import uvicorn

    application = app_obj or build(home, options, transcriber, live)
    sock = socket.socket(socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((options.host, options.port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(application, log_level="warning", ws_max_size=1 << 16, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="xunlu-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    return RunningServer(server, thread, f"http://{options.host}:{port}")


def _first_run(home: Path, host: str, tls: bool = False) -> None:
    """The bind-address warning, and on first run the admin account (its password shown once)."""
    try:
        from api.auth.setup import bind_warning, ensure_admin
    except ImportError:
        return
    warning = bind_warning(host, tls=tls)
    if warning:
        typer.echo(warning, err=True)
    try:
        from api.cli_users import first_run_admin
    except ImportError:  # no user CLI: a generated password, shown once
        admin, password = ensure_admin(home)
        if admin is not None and password:
            typer.echo(f"讯录 first run: user 'admin' created with password {password} (shown once; change it "
                       "with `xunlu users passwd admin`)", err=True)
        return
    first_run_admin(home)  # on a terminal it asks for the password; otherwise generates one, shown once


@app.command("serve")
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
    home: Optional[str] = HomeOpt,
) -> None:
    """Serve the officer console, supervisor search and player, and the HTTP API (docs at /docs)."""
    import uvicorn

    with handled("stopped"):
        if bool(ssl_certfile) != bool(ssl_keyfile):
            fail("give both --ssl-certfile and --ssl-keyfile (or neither)")
        for tls_file in (ssl_certfile, ssl_keyfile):
            if tls_file is not None and not tls_file.is_file():
                fail(f"no such file: {tls_file}")
        _check_port(host, port)
        options = ServeOptions(host, port, audio, video, language, max_upload_gb, video_delay)
        application = build(home_dir(home), options)
        _first_run(home_dir(home), host, tls=ssl_certfile is not None)
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if ssl_certfile else "http"
        base = f"{scheme}://{shown}:{port}"
        typer.echo(f"讯录 xunlu: console {base}/console.html  search {base}/search.html  API {base}/docs", err=True)
        summary = _daily_summary(home_dir(home))
        try:
            uvicorn.run(application, host=host, port=port, log_level="warning", ws_max_size=1 << 16,
                        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
                        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None)
        finally:  # the server runs without lifespan events: stop the thread here
            if summary is not None:
                summary.stop()


def _daily_summary(home: Path):
    """The supervision summary of the day before, written once a day while the server runs (supervise/)."""
    try:
        from supervise.summary import DailySummary
    except ImportError:
        return None
    return DailySummary(home).start()
