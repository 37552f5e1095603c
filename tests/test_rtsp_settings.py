"""Network cameras without a camera: passwords masked everywhere (one helper), the RTSP transport setting
(a room's, the CLI's), what a failed connection means, the backoff, the web's view of a room's camera, and
the recording-gap warning reading a camera's gap from the audit chain."""
from __future__ import annotations

import json

import pytest
from helpers.cli import xunlu

from capture import rtsp, sources
from capture.reconnect import Backoff
from core.config import ConfigError, Room, read
from core.config_edit import set_room
from core.urls import is_redacted, redact


@pytest.mark.parametrize("text, shown", [
    ("rtsp://admin:12345@10.0.0.7/Streaming/Channels/101", "rtsp://admin:***@10.0.0.7/Streaming/Channels/101"),
    ("rtsp://admin:p@ss:w0rd@10.0.0.7:554/ch1", "rtsp://admin:***@10.0.0.7:554/ch1"),     # "@" in the password
    ("rtsps://0f3a9c77@cam.local/live", "rtsps://***@cam.local/live"),                    # a token as user
    ("http://cam/video.cgi?user=admin&password=12345&res=720", "http://cam/video.cgi?user=admin&password=***&res=720"),
    ("[rtsp @ 0x55] method DESCRIBE failed: 401 rtsp://u:pw@h/cam: Unauthorized", "[rtsp @ 0x55] method DESCRIBE "
     "failed: 401 rtsp://u:***@h/cam: Unauthorized"),
    ("rtsp://10.0.0.7/ch1", "rtsp://10.0.0.7/ch1"),
    ("udp://127.0.0.1:5000?timeout=2000000", "udp://127.0.0.1:5000?timeout=2000000"),
    ("mail officer@example.com", "mail officer@example.com"),
])
def test_passwords_are_masked_in_any_text(text, shown):
    assert redact(text) == shown
    assert redact(shown) == shown                      # masking twice changes nothing
    assert is_redacted(shown) == ("***" in shown)


def test_a_camera_is_described_without_its_password():
    plan = sources.plan(None, "rtsp://admin:12345@10.0.0.7/ch1")
    assert plan.describe() == "rtsp://admin:***@10.0.0.7/ch1"
    assert plan.audio.target == "rtsp://admin:12345@10.0.0.7/ch1"     # ffmpeg still gets the real URL


def test_transport_setting_and_the_order_of_tries():
    assert rtsp.check_transport(None) is None and rtsp.check_transport(" UDP-Multicast ") == "udp_multicast"
    with pytest.raises(rtsp.TransportError, match="not one of auto, tcp, udp, udp_multicast"):
        rtsp.check_transport("http")
    assert rtsp.order(None) == rtsp.order("auto") == ("tcp", "udp")
    assert rtsp.order("auto", learned="udp") == ("udp", "tcp")       # what worked last is tried first
    assert rtsp.order("tcp", learned="udp") == ("tcp",)
    plan = sources.plan(None, "rtsp://10.0.0.7/ch1", rtsp_transport="udp")
    assert plan.audio.transport == "udp" and plan.shared
    args = plan.audio.input_args()
    assert args[args.index("-rtsp_transport") + 1] == "udp"
    args = sources.plan(None, "rtsp://10.0.0.7/ch1").audio.input_args()
    assert args[args.index("-rtsp_transport") + 1] == "tcp"          # auto: TCP first
    assert "-rtsp_transport" not in sources.plan(None, "udp://127.0.0.1:5000", rtsp_transport="tcp").audio.input_args()


@pytest.mark.parametrize("lines, reason, other, final", [
    (["[rtsp @ 0x1] method SETUP failed: 461 Unsupported transport"], "refused this RTSP transport", True, False),
    (["[rtsp @ 0x1] method SETUP failed: 400 Bad Request"], "refused this RTSP transport", True, False),
    (["[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized"], "user name or password", False, True),
    (["[rtsp @ 0x1] method DESCRIBE failed: 404 Not Found"], "no stream at this path", False, True),
    (["[tcp @ 0x1] Connection to tcp://10.0.0.7:554 failed: Connection refused"], "connection refused", False, False),
    (["[tcp @ 0x1] Connection to tcp://10.0.0.7:554 failed: No route to host"], "no route", False, False),
    (["[udp @ 0x1] bind failed: Address already in use", "rtsp://10.0.0.7/ch1: Invalid data found when processing "
      "input"], "multicast port the camera named is taken", True, False),
])
def test_what_a_failed_connection_means(lines, reason, other, final):
    failure = rtsp.explain(lines, "tcp")
    assert reason in failure.reason and failure.other_transport == other and failure.final == final


def test_backoff_doubles_up_to_eight_seconds():
    delays = Backoff().delays()
    assert [next(delays) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_room_keeps_its_transport_in_config_toml(tmp_path):
    set_room(tmp_path, "讯问室1", Room(audio="test", video="rtsp://admin:pw@10.0.0.7/ch1", rtsp_transport="udp"))
    assert read(tmp_path).rooms["讯问室1"].rtsp_transport == "udp"
    assert 'rtsp_transport = "udp"' in (tmp_path / "config.toml").read_text(encoding="utf-8")
    (tmp_path / "config.toml").write_text('[rooms."讯问室2"]\nvideo = "rtsp://h/c"\nrtsp_transport = "quic"\n',
                                          encoding="utf-8")
    with pytest.raises(ConfigError, match="rooms.讯问室2: rtsp_transport 'quic' is not one of"):
        read(tmp_path)


def test_record_refuses_an_unknown_transport_before_anything_starts(tmp_path):
    result = xunlu("record", "--video", "rtsp://10.0.0.7/ch1", "--rtsp-transport", "quic", home=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "rtsp_transport 'quic' is not one of auto, tcp, udp, udp_multicast" in result.stderr
    assert not (tmp_path / "sessions").exists() or not any((tmp_path / "sessions").iterdir())


def test_the_room_transport_applies_to_the_room_camera_only(tmp_path):
    from service.live import RecordRequest, room_transport

    set_room(tmp_path, "讯问室1", Room(video="rtsp://10.0.0.7/ch1", rtsp_transport="udp"))
    cam = "rtsp://10.0.0.7/ch1"
    assert room_transport(tmp_path, RecordRequest(video=cam, room="讯问室1")) == "udp"
    assert room_transport(tmp_path, RecordRequest(video=cam, room="讯问室1", rtsp_transport="tcp")) == "tcp"
    assert room_transport(tmp_path, RecordRequest(video="rtsp://10.0.0.9/other", room="讯问室1")) is None
    assert room_transport(tmp_path, RecordRequest(video=cam)) is None


def test_the_web_sees_a_room_camera_masked_and_starts_it_by_that_name(tmp_path):
    from service.sources import available, resolve

    real = "rtsp://admin:12345@10.0.0.7/ch1"
    set_room(tmp_path, "讯问室1", Room(audio="test", video=real))
    found = available(tmp_path, {}, devices=lambda: ([], []))
    assert "12345" not in json.dumps([found.rooms, [s.id for s in found.video]], ensure_ascii=False)
    assert found.rooms["讯问室1"]["video"] == "rtsp://admin:***@10.0.0.7/ch1"
    # a one-key start by the room, or by the masked id, records from the real URL
    assert resolve(found, {}, "讯问室1", None, None)[1] == real
    assert resolve(found, {}, None, "test", "rtsp://admin:***@10.0.0.7/ch1")[1] == real


def test_an_admin_sees_the_password_masked_and_sending_it_back_keeps_it(tmp_path):
    from service import rooms

    real = "rtsp://admin:12345@10.0.0.7/ch1"
    set_room(tmp_path, "讯问室1", Room(video=real, rtsp_transport="udp"))
    listed = rooms.rooms(tmp_path)
    assert listed == [{"name": "讯问室1", "audio": None, "video": "rtsp://admin:***@10.0.0.7/ch1", "speakers": None,
                       "rtsp_transport": "udp"}]
    rooms.save(tmp_path, {}, rooms.RoomChange("讯问室1", video=listed[0]["video"], speakers="officer"))
    room = read(tmp_path).rooms["讯问室1"]
    assert (room.video, room.speakers, room.rtsp_transport) == (real, "officer", "udp")   # kept as they were
    rooms.save(tmp_path, {}, rooms.RoomChange("讯问室1", video="rtsp://admin:new@10.0.0.7/ch1", rtsp_transport="tcp"))
    assert read(tmp_path).rooms["讯问室1"].video == "rtsp://admin:new@10.0.0.7/ch1"
    assert read(tmp_path).rooms["讯问室1"].rtsp_transport == "tcp"


def test_the_recording_gap_warning_reads_a_camera_gap_from_the_audit_chain(tmp_path):
    from datetime import datetime, timezone

    from archive.store import open_archive
    from supervise.config import defaults
    from supervise.facts import session_facts
    from supervise.rules import recording_gap

    archive = open_archive(tmp_path)
    try:
        with archive.new_session("tester", status="complete") as session:
            pass
        archive.audit("system:recorder", "record.gap", session.id,
                      {"source": "rtsp://admin:***@10.0.0.7/ch1", "role": "camera", "from": 65.2, "to": 71.9,
                       "seconds": 6.7, "back": True, "attempts": 3, "transport": "tcp", "reason": "connection refused"})
        archive.audit("system:recorder", "record.gap", session.id,
                      {"source": "rtsp://admin:***@10.0.0.7/ch1", "role": "camera", "from": 300.0, "to": 312.5,
                       "seconds": 12.5, "back": False, "attempts": 4, "transport": None, "reason": "no data for 3 s"})
        found = recording_gap(session_facts(archive, session.id), defaults(), datetime.now(timezone.utc))
    finally:
        archive.close()
    assert [f.at for f in found] == [65.2, 300.0]
    assert "摄像头 rtsp://admin:***@10.0.0.7/ch1 中断 6.7 秒" in found[0].reason
    assert "未恢复" in found[1].reason and found[0].level == "red"


class _Microphone:
    """A PyAudio stand-in whose one microphone can be unplugged and plugged back in: while unplugged its
    streams stop calling back, as PortAudio's do when a USB microphone goes away."""

    def __init__(self, rate: int, block: int):
        import threading

        self.rate, self.block, self.plugged, self.opened = rate, block, threading.Event(), 0
        self.plugged.set()

    def __call__(self):      # capture.devices.pyaudio_instance
        return self

    def open(self, *, stream_callback, **_kw):
        self.opened += 1
        if not self.plugged.is_set():
            raise OSError("Invalid input device (no default output device)")
        return _Stream(self, stream_callback)

    def terminate(self):
        pass


class _Stream:
    def __init__(self, mic, callback):
        import threading

        self.mic, self.callback, self.running = mic, callback, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start_stream(self):
        self.running.set()
        self.thread.start()

    def _run(self):
        import time

        import numpy as np

        data = (np.full(self.mic.block, 0.1, dtype=np.float32)).tobytes()
        while self.running.is_set() and self.mic.plugged.is_set():
            time.sleep(self.mic.block / self.mic.rate)
            self.callback(data, self.mic.block, {}, 0)

    def stop_stream(self):
        self.running.clear()

    def close(self):
        pass


def test_a_microphone_that_drops_is_opened_again_and_the_gap_is_silence(monkeypatch):
    import threading
    import time

    import numpy as np

    from capture import audio_in, devices

    rate, block = 16000, 800
    mic = sources.MicInput((3,), ("USB Mic",), 1, rate)
    fake = _Microphone(rate, block)
    monkeypatch.setattr(devices, "pyaudio_instance", fake)
    monkeypatch.setattr(devices, "resolve_mics", lambda spec, channels=None: sources.MicInput((5,), (spec,), 1, rate))
    heard = []
    pump = audio_in.MicPump(mic, block=block, stall_s=0.4, on_gap=heard.append)
    chunks = []

    def drain():
        while (chunk := pump.read(0.2)) is not None:
            if chunk is not False:
                chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    pump.start()
    reader.start()
    time.sleep(1.0)
    fake.plugged.clear()            # unplugged
    time.sleep(1.5)
    fake.plugged.set()              # plugged back in
    deadline = time.monotonic() + 10
    while not (heard and heard[-1].back_at) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    pump.stop()
    stopped = time.time()
    reader.join(5)
    assert [g.back_at is None for g in heard] == [True, False] and heard[-1].attempts >= 1
    assert pump.mic.devices == (5,)                                   # found again by its name
    audio = np.concatenate(chunks)[:, 0]
    # the sample count stays the clock: as many samples as the wall clock says, the gap silent
    assert len(audio) / rate == pytest.approx(stopped - pump.t0, abs=0.15)
    silent = np.flatnonzero(audio == 0.0)
    assert pump.padded > 0 and len(silent) == pump.padded
    gap = heard[-1].back_at - heard[-1].lost_at
    assert pump.padded / rate == pytest.approx(gap, abs=0.15)
    assert silent[0] / rate == pytest.approx(heard[0].lost_at - pump.t0, abs=0.15)
