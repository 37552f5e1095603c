"""A real RTSP camera for the tests: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0 with
python3-gi, installed by scripts/setup.sh) serving an MP4 file's H.264 + AAC in real time, as a network
camera serves its picture and sound.

Run with the system Python, which has the GObject bindings (the project's venv does not):

    /usr/bin/python3 tests/helpers/rtsp_server.py --port 18554 --file clip.mp4 [--protocols udp]
        [--user admin --password secret]
    /usr/bin/python3 tests/helpers/rtsp_server.py --port 18555 --live-port 41000

With `--live-port` it serves, instead of a file, the H.264 picture of a live MPEG-TS stream arriving on that
UDP port (tests/helpers/flash_sender.py): several such cameras fed by one sender see the same flash at the
same instant, as cameras in one room do.

It serves rtsp://127.0.0.1:PORT/cam, prints "ready" once listening, and runs until killed: killing it is a
camera that reboots or loses its cable. `--protocols udp` is a camera that speaks RTP over UDP only (as
Debian's rtsp-server-perl does), `tcp` one that only interleaves RTP in the RTSP connection, `multicast` one
that sends its RTP to a multicast group (`--group`, ports from `--multicast-port`) shared by every client.

From the tests, `RtspCamera` starts, kills and restarts it; `gst_rtsp_missing()` says why it cannot run.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

SYSTEM_PYTHON = "/usr/bin/python3"
HERE = Path(__file__).resolve()


# -- the server (system Python) ---------------------------------------------------------------------------
def serve(port: int, path: str, protocols: str, user: Optional[str], password: Optional[str],
          live_port: Optional[int] = None, group: str = "239.255.0.1", multicast_port: int = 0) -> None:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    if live_port:
        factory.set_launch(
            f'( udpsrc port={live_port} caps="video/mpegts,systemstream=(boolean)true" ! tsdemux latency=0 ignore-pcr=true ! '
            "h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )")
    else:
        factory.set_launch(
            f'( filesrc location="{path}" ! qtdemux name=d '
            "d.video_0 ! queue ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 "
            "d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 )")
    lower = {"tcp": GstRtsp.RTSPLowerTrans.TCP, "udp": GstRtsp.RTSPLowerTrans.UDP,
             "both": GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
             "multicast": GstRtsp.RTSPLowerTrans.UDP_MCAST}[protocols]
    factory.set_protocols(lower)
    if protocols == "multicast":   # one group for every client, as a camera that multicasts does
        pool = GstRtspServer.RTSPAddressPool()
        pool.add_range(group, group, multicast_port, multicast_port + 3, 1)
        factory.set_address_pool(pool)
        factory.set_shared(True)
        _multicast_on_this_host(server)
    if user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print("cannot listen", flush=True)
        sys.exit(1)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("ready", flush=True)
    loop.run()


def _multicast_on_this_host(server) -> None:
    """The camera and its client on one machine. GStreamer binds the group's ports without SO_REUSEADDR and
    sends with IP_MULTICAST_LOOP off: a client on the same host could neither bind the port (ffmpeg: "bind
    failed: Address already in use", then "Invalid data found") nor receive a packet. Turned on as each reply
    is sent (after a SETUP has allocated the sockets, before the client binds its own): SO_REUSEADDR on every
    socket, loopback on the RTP one only (on the RTCP one too, ffmpeg's stream ended by itself after about 2 s:
    most likely the server's own RTCP reports coming back into its session)."""
    import socket as so

    from gi.repository import Gio

    sessions: list = []

    def sending(*_args) -> None:
        for session in sessions:
            for session_media in session.filter(None):
                media = session_media.get_media()
                for i in range(media.n_streams()):
                    stream = media.get_stream(i)
                    rtp = stream.get_rtp_multicast_socket(Gio.SocketFamily.IPV4)
                    rtcp = stream.get_rtcp_multicast_socket(Gio.SocketFamily.IPV4)
                    for sock in (rtp, rtcp):
                        if sock is not None:
                            sock.set_option(so.SOL_SOCKET, so.SO_REUSEADDR, 1)
                    if rtp is not None:
                        rtp.set_multicast_loopback(True)

    def connected(_server, client) -> None:
        client.connect("new-session", lambda _client, session: sessions.append(session))
        client.connect("send-message", sending)

    server.connect("client-connected", connected)


# -- from the tests (the venv's Python) -----------------------------------------------------------------
def gst_rtsp_missing() -> Optional[str]:
    """Why the GStreamer RTSP server cannot run here, or None when it can."""
    if not os.path.exists(SYSTEM_PYTHON):
        return f"no {SYSTEM_PYTHON}"
    check = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
             "assert Gst.ElementFactory.find('qtdemux') and Gst.ElementFactory.find('rtph264pay') "
             "and Gst.ElementFactory.find('rtpmp4gpay') and Gst.ElementFactory.find('h264parse') "
             "and Gst.ElementFactory.find('aacparse')")
    done = subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return ("GStreamer's RTSP server is not installed (run scripts/setup.sh: gir1.2-gst-rtsp-server-1.0, "
                "gstreamer1.0-plugins-good, python3-gi): " + (done.stderr.strip().splitlines() or ["?"])[-1])
    if not shutil.which("ffmpeg"):
        return "ffmpeg is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspCamera:
    """The server as a camera the test can unplug (`kill`) and plug back in (`start`), on the same port."""

    def __init__(self, clip: Optional[Path], protocols: str = "both", user: Optional[str] = None,
                 password: Optional[str] = None, port: Optional[int] = None, live_port: Optional[int] = None):
        self.clip, self.protocols, self.user, self.password = clip, protocols, user, password
        self.live_port = live_port
        self.port = port or free_port()
        # multicast: a group and four ports (RTP and RTCP of two streams) of its own, kept across restarts
        self.group = f"239.255.{random.randrange(1, 255)}.{random.randrange(1, 255)}"
        self.multicast_port = random.randrange(20000, 30000, 4)
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/cam"

    def start(self, timeout: float = 20.0) -> "RtspCamera":
        args = [SYSTEM_PYTHON, str(HERE), "--port", str(self.port), "--protocols", self.protocols]
        args += ["--live-port", str(self.live_port)] if self.live_port else ["--file", str(self.clip)]
        if self.user:
            args += ["--user", self.user, "--password", self.password or ""]
        if self.protocols == "multicast":
            args += ["--group", self.group, "--multicast-port", str(self.multicast_port)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.kill()
            raise RuntimeError(f"the RTSP server did not start: {line.strip() or 'no answer'}")
        while time.monotonic() < deadline:   # listening: accept a connection
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"the RTSP server is not listening on {self.port}")

    def kill(self) -> None:
        """The camera goes away at once (kill -9: no RTSP TEARDOWN, no RTCP BYE)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
            self.proc = None

    def __enter__(self) -> "RtspCamera":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file")
    parser.add_argument("--live-port", type=int)
    parser.add_argument("--protocols", choices=("tcp", "udp", "both", "multicast"), default="both")
    parser.add_argument("--group", default="239.255.0.1")
    parser.add_argument("--multicast-port", type=int, default=0)
    parser.add_argument("--user")
    parser.add_argument("--password")
    a = parser.parse_args()
    if not a.file and not a.live_port:
        parser.error("give --file or --live-port")
    serve(a.port, os.path.abspath(a.file) if a.file else "", a.protocols, a.user, a.password, a.live_port, a.group,
          a.multicast_port)


if __name__ == "__main__":
    main()
