"""Running the web app: the app built from serve options, and uvicorn in a background thread (for
`xunlu demo`, tests and bench). `xunlu serve` (cli/serve.py) runs it in the foreground."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from api.app import create_app


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    audio: Optional[str] = None
    video: Optional[str] = None
    language: str = "zh"
    max_upload_gb: float = 64.0
    video_delay: float = 0.0
    broker: Optional[str] = None      # Redis URL of the job queue (service/job_queue.py); None: jobs in-process


def build(home: Path, options: ServeOptions, transcriber: Any = None, live: Any = None):
    defaults = {k: v for k, v in {"audio": options.audio, "video": options.video,
                                  "language": options.language, "video_delay": options.video_delay}.items() if v}
    return create_app(home, transcriber=transcriber, live=live, defaults=defaults,
                      max_upload=int(options.max_upload_gb * 1024 ** 3), broker=options.broker)


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
    # proxy_headers=False: the app decides whom to believe about the client ([auth] trusted_proxies)
    config = uvicorn.Config(application, log_level="warning", ws_max_size=1 << 16, lifespan="off",
                            proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="xunlu-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    return RunningServer(server, thread, f"http://{options.host}:{port}")
