"""Hostile input, part 3: malformed WebSocket traffic on /api/sessions/{id}/live, against a real uvicorn server
(cli.serve.start_in_thread) with the scripted live backend. Whatever one viewer sends (binary garbage, text
that is not JSON, unknown message types, a message over the app's limit, a frame over the server's limit, frames
that break RFC 6455), only that viewer's socket is answered with an error or closed: another viewer of the same
live session keeps receiving its events, and the server keeps answering.

tests/test_api.py covers in-process that an error message keeps the connection open; here the same over a real
socket, plus what only a real server sees (frame size limit, protocol violations).
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import struct
import time

import pytest
import websockets.sync.client as websockets_sync
from helpers.auth import add_users, fast_auth, http_client
from test_web_fakes import FakeLive, script

from accounts.types import OFFICER

# a long interview (so the session stays live through the test) played at 4x
LINES = script([(1.0 + 3 * i, 3.0 + 3 * i, "officer" if i % 2 == 0 else "suspect", f"第{i}句话说的是仓库")
                for i in range(60)])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    from api.server import ServeOptions, start_in_thread

    home = fast_auth(tmp_path_factory.mktemp("hostile-ws-home"))
    live = FakeLive(home, segments=LINES, speed=4.0)
    running = start_in_thread(home, ServeOptions(port=0), transcriber=object(), live=live)
    add_users(running.server.config.app, ("zhangsan", OFFICER, "张三"))
    client = http_client(running.url, "zhangsan")
    r = client.post("/api/sessions", json={"audio": "test", "case_id": "WS-1"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        yield {"url": running.url, "client": client, "sid": sid, "token": client.headers["Authorization"],
               "ws": running.url.replace("http://", "ws://") + f"/api/sessions/{sid}/live"}
    finally:
        client.post(f"/api/sessions/{sid}/stop")
        client.close()
        running.stop()


@contextlib.contextmanager
def connect(live_server):
    """A logged-in viewer of the live session, past its snapshot."""
    with websockets_sync.connect(live_server["ws"], additional_headers={"Authorization": live_server["token"]},
                                 open_timeout=10, max_size=None) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "snapshot", first
        yield ws


def next_event(ws, timeout: float = 10.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def still_streaming(viewer, within: float = 10.0) -> None:
    """The other viewer gets a fresh event (status every 0.2 s, partials, finals) after the attack."""
    deadline = time.monotonic() + within
    seen = None
    while time.monotonic() < deadline:
        event = next_event(viewer, timeout=max(0.1, deadline - time.monotonic()))
        if event["type"] in ("status", "partial", "final"):
            seen = event
            break
    assert seen is not None, "the other viewer stopped receiving events"


def drain(viewer) -> None:
    """Drop what the other viewer has queued, so `still_streaming` sees only what comes after an attack."""
    while True:
        try:
            viewer.recv(timeout=0.05)
        except TimeoutError:
            return


def answers_until_pong(ws) -> list[dict]:
    ws.send(json.dumps({"type": "ping"}))
    got = []
    while not got or got[-1]["type"] != "pong":
        got.append(next_event(ws))
    return [e for e in got if e["type"] == "error"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("message, status", [
    (os.urandom(300), 400),                                  # binary garbage
    (bytes(range(256)) * 300, None),                         # binary, over the frame limit -> closed 1009
    ("{\"type\": \"ping\"", 400),                            # cut-off JSON
    ("\x00\x01\x02 not json", 400),                          # control characters
    (json.dumps({"type": "subscribe", "session": "*"}), 400),  # unknown message type
    (json.dumps(["ping"]), 400),                             # JSON, not an object
    (json.dumps(None), 400),
    (json.dumps({"type": {"$ne": None}}), 400),              # a type that is not a string
    (json.dumps({"type": "ping", "pad": "x" * 5000}), 413),  # over the app's message limit, under the frame limit
    ("x" * 70000, None),                                     # text over the frame limit -> closed 1009
])
def test_a_bad_message_is_answered_or_closes_that_socket_only(live_server, message, status):
    from websockets.exceptions import ConnectionClosed

    with connect(live_server) as viewer, connect(live_server) as attacker:
        drain(viewer)
        attacker.send(message)
        if status is None:  # over the server's frame limit (ws_max_size): that connection is closed
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    attacker.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009, closed.value
        else:  # answered with an error; the connection stays open and still answers
            errors = answers_until_pong(attacker)
            assert [e["status"] for e in errors] == [status] and all(e["detail"] for e in errors), errors
        still_streaming(viewer)
    assert live_server["client"].get(f"/api/sessions/{live_server['sid']}").json()["live"] is True


# -- frames that break RFC 6455, sent on a raw socket ------------------------------------------------------

def raw_socket(live_server) -> tuple[socket.socket, bytes]:
    """A WebSocket handshake by hand; -> the socket and the bytes already read past the handshake."""
    host, port = live_server["url"].removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /api/sessions/{live_server['sid']}/live HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nAuthorization: {live_server['token']}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:200]
    return sock, head.partition(b"\r\n\r\n")[2]


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0) -> bytes:
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    length = bytes([n | (0x80 if masked else 0)]) if n < 126 else \
        bytes([126 | (0x80 if masked else 0)]) + struct.pack(">H", n)
    if not masked:
        return bytes([first]) + length + payload
    mask = os.urandom(4)
    return bytes([first]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_code(sock: socket.socket, data: bytes = b"", within: float = 10.0):
    """Read the server's frames until its close frame: its status code; None when it just hung up."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        while len(data) >= 2:
            opcode, n, at = data[0] & 0x0F, data[1] & 0x7F, 2
            if n == 126:
                if len(data) < 4:
                    break
                n, at = struct.unpack(">H", data[2:4])[0], 4
            elif n == 127:
                if len(data) < 10:
                    break
                n, at = struct.unpack(">Q", data[2:10])[0], 10
            if len(data) < at + n:
                break
            payload, data = data[at:at + n], data[at + n:]
            if opcode == 0x8:
                return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return None
        if not chunk:
            return None
        data += chunk
    raise AssertionError("the server kept the broken connection open")


PROTOCOL_ERRORS = {
    "unmasked client frame": (frame(0x1, b'{"type": "ping"}', masked=False), {1002}),
    "reserved opcode 0x3": (frame(0x3, b"boo"), {1002}),
    "reserved bits set": (frame(0x1, b'{"type": "ping"}', rsv=0b111), {1002}),
    "continuation without a start": (frame(0x0, b"tail"), {1002}),
    "text that is not UTF-8": (frame(0x1, b"\xff\xfe\xc3\x28 bad"), {1007}),
    "control frame over 125 bytes": (frame(0x9, b"p" * 200), {1002}),
    "fragmented ping": (frame(0x9, b"p", fin=False), {1002}),
    "close code out of range": (frame(0x8, struct.pack(">H", 999)), {1002}),
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", list(PROTOCOL_ERRORS))
def test_a_frame_that_breaks_the_protocol_closes_that_socket_only(live_server, name):
    data, codes = PROTOCOL_ERRORS[name]
    with connect(live_server) as viewer:
        sock, pending = raw_socket(live_server)
        try:
            drain(viewer)
            sock.sendall(data)
            code = close_code(sock, pending)
            assert code in codes, f"{name}: closed with {code}"
            still_streaming(viewer)
        finally:
            sock.close()
    assert live_server["client"].get("/api/auth/me").status_code == 200


@pytest.mark.timeout(90)
def test_many_attackers_at_once_and_the_viewer_still_sees_the_session_end(live_server):
    """Every kind of bad input from several sockets together; the viewer still gets finals, and later sees
    the session stop."""
    with connect(live_server) as viewer:
        socks = [raw_socket(live_server) for _ in PROTOCOL_ERRORS]
        try:
            for (sock, _pending), (data, _codes) in zip(socks, PROTOCOL_ERRORS.values()):
                sock.sendall(data)
            for (sock, pending), (_data, codes) in zip(socks, PROTOCOL_ERRORS.values()):
                assert close_code(sock, pending) in codes
            drain(viewer)
            deadline = time.monotonic() + 30
            while next_event(viewer)["type"] != "final":
                assert time.monotonic() < deadline, "no final segment reached the viewer"
        finally:
            for sock, _pending in socks:
                sock.close()
        client = live_server["client"]
        assert client.post(f"/api/sessions/{live_server['sid']}/stop").status_code == 200
        deadline = time.monotonic() + 30
        while next_event(viewer)["type"] != "stopped":
            assert time.monotonic() < deadline, "the viewer never saw the session stop"
