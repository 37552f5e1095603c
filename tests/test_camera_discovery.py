"""Cameras found on the network: `xunlu devices --network` and the admin's room editor list the ONVIF cameras
that answer a WS-Discovery probe (SOAP-over-UDP, 239.255.255.250:3702, dn:NetworkVideoTransmitter) with the
stream addresses their media service gives (GetProfiles, GetStreamUri; WS-Security UsernameToken digest,
ONVIF Core 5.12). A fake camera here answers the probe on a UDP socket and the SOAP calls over HTTP.

What answers is untrusted: oversized, broken or DOCTYPE-bearing replies, answers to another probe, and
cameras whose XAddr is not an http(s) URL on a private, link-local or loopback IP address are ignored; only
such an address is ever asked anything, and only admins may search."""
from __future__ import annotations

import base64
import hashlib
import re
import socket
import struct
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as
from helpers.browser import browser_fixture, logged_in, needs_chromium, serve
from helpers.cli import xunlu

from accounts.types import ADMIN, OFFICER, SUPERVISOR
from capture import discovery, onvif
from capture.discovery import DiscoveryOptions, discover

USER, SECRET = "admin", "cam-pass-9"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SOAP = "http://www.w3.org/2003/05/soap-envelope"


def matches(relates_to: str, *items: tuple[str, str, str]) -> bytes:
    """A ProbeMatches envelope (WS-Discovery 2005/04) with (endpoint, xaddrs, scopes) per match."""
    body = "".join(f"<d:ProbeMatch><a:EndpointReference><a:Address>{ep}</a:Address></a:EndpointReference>"
                   f"<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>{scopes}</d:Scopes>"
                   f"<d:XAddrs>{xaddrs}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch>"
                   for ep, xaddrs, scopes in items)
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}" '
            f'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header>'
            f"<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>"
            f"<a:RelatesTo>{relates_to}</a:RelatesTo></s:Header>"
            f"<s:Body><d:ProbeMatches>{body}</d:ProbeMatches></s:Body></s:Envelope>").encode()


SCOPES = ("onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Room%201%20camera "
          "onvif://www.onvif.org/hardware/DS-2CD2143 onvif://www.onvif.org/location/country/china")


class Responder:
    """Answers each Probe it receives with what `answers(message_id)` gives (datagrams)."""

    def __init__(self, answers, group: bool = False):
        self.answers, self.probes = answers, []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if group:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("", discovery.MULTICAST[1]))
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                                 struct.pack("4s4s", socket.inet_aton(discovery.MULTICAST[0]),
                                             socket.inet_aton("0.0.0.0")))
        else:
            self.sock.bind(("127.0.0.1", 0))
        self.address = ("127.0.0.1", self.sock.getsockname()[1])
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                continue
            root = ET.fromstring(data)
            if root.find(".//{http://schemas.xmlsoap.org/ws/2005/04/discovery}Probe") is None:
                continue
            self.probes.append(data)
            for answer in self.answers(root.findtext(f".//{{{WSA}}}MessageID")):
                self.sock.sendto(answer, peer)

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class Camera(BaseHTTPRequestHandler):
    """An ONVIF device + media service: GetCapabilities, GetProfiles, GetStreamUri; every call but
    GetCapabilities needs the digest of USER/SECRET."""
    calls: list = []
    profiles_padding = 0

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: str):
        data = (f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP}" xmlns:tt="http://www.onvif.org/ver10/schema" '
                f'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
                f"<s:Body>{body}</s:Body></s:Envelope>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/soap+xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _signed(self, root) -> bool:
        token = root.find(f".//{{{WSSE}}}UsernameToken")
        if token is None or token.findtext(f"{{{WSSE}}}Username") != USER:
            return False
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce"))
        created = token.findtext(f"{{{WSU}}}Created")
        expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + SECRET.encode()).digest()).decode()
        return token.findtext(f"{{{WSSE}}}Password") == expected

    def do_POST(self):
        root = ET.fromstring(self.rfile.read(int(self.headers["Content-Length"])))
        op = root.find(f"{{{SOAP}}}Body")[0].tag.split("}")[1]
        self.calls.append((self.path, op))
        port = self.server.server_address[1]
        if op == "GetCapabilities":
            return self._answer(200, "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media>"
                                     f"<tt:XAddr>http://127.0.0.1:{port}/onvif/media</tt:XAddr>"
                                     "</tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>")
        if not self._signed(root):
            return self._answer(400, "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>"
                                     "ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text "
                                     'xml:lang="en">Sender not Authorized</s:Text></s:Reason></s:Fault>')
        if op == "GetProfiles":
            pad = "<!-- " + "x" * self.profiles_padding + " -->" if self.profiles_padding else ""
            return self._answer(200, f"<trt:GetProfilesResponse>{pad}"
                                     '<trt:Profiles token="prof0"><tt:Name>MainStream</tt:Name></trt:Profiles>'
                                     '<trt:Profiles token="prof1"><tt:Name>SubStream</tt:Name></trt:Profiles>'
                                     "</trt:GetProfilesResponse>")
        token = root.findtext(".//{http://www.onvif.org/ver10/media/wsdl}ProfileToken")
        uri = {"prof0": "rtsp://127.0.0.1:8554/Streaming/Channels/101",
               "prof1": "rtsp://viewer:sub-secret@127.0.0.1:8554/Streaming/Channels/102"}[token]
        self._answer(200, f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri></trt:MediaUri>"
                          "</trt:GetStreamUriResponse>")


@pytest.fixture(scope="module")
def camera():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    device = f"http://127.0.0.1:{server.server_address[1]}/onvif/device_service"
    responder = Responder(lambda mid: [matches(mid, ("urn:uuid:cam-1", device, SCOPES))])
    yield {"device": device, "probe": responder.address, "responder": responder}
    responder.close()
    server.shutdown()


def options(*targets, **kw) -> DiscoveryOptions:
    return DiscoveryOptions(timeout=kw.pop("timeout", 0.5), targets=tuple(targets), **kw)


# -- the probe and the camera's streams ---------------------------------------------------------------------
def test_the_probe_is_a_ws_discovery_probe_for_video_transmitters(camera):
    discover(options(camera["probe"], streams=False))
    probe = ET.fromstring(camera["responder"].probes[-1])
    assert probe.tag == f"{{{SOAP}}}Envelope"
    assert probe.findtext(f".//{{{WSA}}}Action") == "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
    assert probe.findtext(f".//{{{WSA}}}To") == "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
    assert re.fullmatch(r"uuid:[0-9a-f-]{36}", probe.findtext(f".//{{{WSA}}}MessageID"))
    types = probe.findtext(".//{http://schemas.xmlsoap.org/ws/2005/04/discovery}Types")
    assert types == "dn:NetworkVideoTransmitter" and "http://www.onvif.org/ver10/network/wsdl" in \
        camera["responder"].probes[-1].decode()


def test_a_camera_with_its_name_hardware_and_stream_addresses(camera):
    Camera.calls.clear()
    [cam] = discover(options(camera["probe"], username=USER, password=SECRET))
    assert (cam.address, cam.host, cam.endpoint) == (camera["device"], "127.0.0.1", "urn:uuid:cam-1")
    assert (cam.name, cam.hardware) == ("Room 1 camera", "DS-2CD2143")
    assert [(s.profile, s.uri) for s in cam.streams] == [
        ("MainStream", "rtsp://127.0.0.1:8554/Streaming/Channels/101"),
        ("SubStream", "rtsp://viewer:sub-secret@127.0.0.1:8554/Streaming/Channels/102")]
    assert cam.problem is None and not cam.needs_login
    # the media service the device named (GetCapabilities) is the one asked for profiles and streams
    assert ("/onvif/media", "GetProfiles") in Camera.calls and ("/onvif/media", "GetStreamUri") in Camera.calls


def test_without_a_password_the_camera_is_listed_with_a_guess(camera):
    [cam] = discover(options(camera["probe"]))
    assert cam.streams == () and cam.needs_login
    assert cam.problem == "the camera wants a user name and password"
    assert cam.guess == "rtsp://127.0.0.1:554/"
    [cam] = discover(options(camera["probe"], username=USER, password="wrong"))
    assert cam.needs_login and cam.problem == "the camera refused the user name and password"


def test_nothing_answers_nothing_found():
    quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    quiet.bind(("127.0.0.1", 0))
    try:
        assert discover(options(quiet.getsockname(), timeout=0.3)) == []
    finally:
        quiet.close()


def test_multicast_probe_reaches_a_camera_on_the_group(camera):
    try:
        group = Responder(lambda mid: [matches(mid, ("urn:uuid:cam-m", camera["device"], SCOPES))], group=True)
    except OSError as exc:
        pytest.skip(f"no multicast here: {exc}")
    try:
        found = discover(DiscoveryOptions(timeout=1.0, streams=False))
    finally:
        group.close()
    if not group.probes:
        pytest.skip("multicast does not loop back on this machine")
    assert "urn:uuid:cam-m" in [c.endpoint for c in found]


# -- bounds: what answers is untrusted ----------------------------------------------------------------------
def hostile(mid: str) -> list[bytes]:
    good = matches(mid, ("urn:uuid:good", "http://192.168.1.64/onvif/device_service", SCOPES))
    bomb = (b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            + matches(mid, ("urn:uuid:doctype", "http://192.168.1.65/onvif/device_service", "&b;"))
            .split(b"?>", 1)[1])
    external = matches(mid, ("urn:uuid:ext", "http://192.168.1.66/x", SCOPES)).replace(
        b"?>", b'?><!DOCTYPE s SYSTEM "file:///etc/passwd">', 1)
    return [
        bomb, external,
        b"<s:Envelope><not xml",                                                             # malformed
        matches("uuid:someone-else", ("urn:uuid:other", "http://192.168.1.67/onvif/device_service", "")),
        matches(mid, ("urn:uuid:public", "http://8.8.8.8/onvif/device_service", SCOPES)),  # not this site
        matches(mid, ("urn:uuid:name", "http://camera.example/onvif/device_service", SCOPES)),  # DNS
        matches(mid, ("urn:uuid:ftp", "ftp://192.168.1.68/onvif", SCOPES)),
        matches(mid, ("urn:uuid:cred", "http://u:p@192.168.1.69/onvif", SCOPES)),
        matches(mid, ("urn:uuid:oversized", "http://192.168.1.70/onvif/device_service", SCOPES + " " + "x" * 5000)),
        matches(mid, ("urn:uuid:mixed", "http://203.0.113.9/onvif http://[fe80::1]/onvif/device_service", "")),
        good,
    ]


def test_hostile_answers_are_ignored(monkeypatch):
    monkeypatch.setattr(onvif, "MAX_REPLY", 4096)      # UDP carries 64 KB at most: a smaller bound to test it
    responder = Responder(hostile)
    try:
        found = discover(options(responder.address, streams=False))
    finally:
        responder.close()
    assert sorted(c.endpoint for c in found) == ["urn:uuid:good", "urn:uuid:mixed"]
    mixed = next(c for c in found if c.endpoint == "urn:uuid:mixed")
    assert mixed.address == "http://[fe80::1]/onvif/device_service" and mixed.guess == "rtsp://[fe80::1]:554/"


def test_at_most_64_cameras_are_kept():
    def flood(mid):
        return [matches(mid, *[(f"urn:uuid:c{d}-{i}", f"http://10.0.{d}.{i + 1}/onvif/device_service", "")
                               for i in range(16)]) for d in range(8)]
    responder = Responder(flood)
    try:
        found = discover(options(responder.address, streams=False))
    finally:
        responder.close()
    assert len(found) == 64


def test_only_local_http_addresses_are_ever_asked():
    ok = ["http://192.168.1.64/onvif/device_service", "https://10.1.2.3:8443/onvif", "http://172.16.0.9/x",
          "http://169.254.10.20/onvif", "http://127.0.0.1:8080/onvif", "http://[fe80::1%25eth0]/onvif",
          "http://[fd00::5]/onvif", "http://[::ffff:192.168.0.9]/onvif"]
    refused = ["http://8.8.8.8/onvif", "http://172.32.0.1/onvif", "http://100.64.0.1/onvif", "http://0.0.0.0/",
               "http://[2001:db8::1]/onvif", "http://cam.local/onvif", "rtsp://192.168.1.64/",
               "file:///etc/passwd", "http://u:p@192.168.1.64/", "http://192.168.1.64:99999/", "", "http://"]
    assert [u for u in ok if not onvif.local_url(u)] == []
    assert [u for u in refused if onvif.local_url(u)] == []
    with pytest.raises(onvif.OnvifError, match="not an http"):
        onvif.call("http://8.8.8.8/onvif/device_service", "<x/>", None, 0.1)


def test_oversized_or_entity_soap_replies_give_no_streams(camera, monkeypatch):
    monkeypatch.setattr(Camera, "profiles_padding", 70 * 1024)
    [cam] = discover(options(camera["probe"], username=USER, password=SECRET))
    assert cam.streams == () and "over" in cam.problem
    with pytest.raises(onvif.OnvifError, match="DOCTYPE"):
        onvif.parse_xml(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')


# -- the command line ----------------------------------------------------------------------------------------
def test_xunlu_devices_network(camera, tmp_path):
    host, port = camera["probe"]
    r = xunlu("devices", "--network", "--timeout", "0.5", "--probe", f"{host}:{port}", "--user", USER,
              home=tmp_path, timeout=60, env={"XUNLU_CAMERA_PASSWORD": SECRET})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "network cameras (ONVIF, WS-Discovery, 0.5 s):"
    assert lines[1] == f"  {camera['device']}\tRoom 1 camera\tDS-2CD2143"
    assert lines[2] == "    MainStream\trtsp://127.0.0.1:8554/Streaming/Channels/101"
    assert lines[3] == "    SubStream\trtsp://viewer:***@127.0.0.1:8554/Streaming/Channels/102"
    assert "sub-secret" not in r.stdout + r.stderr and SECRET not in r.stdout + r.stderr
    r = xunlu("devices", "--network", "--timeout", "0.5", "--probe", f"{host}:{port}", home=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "no stream address: the camera wants a user name and password" in r.stdout
    assert "try rtsp://127.0.0.1:554/" in r.stdout


# -- the admin's API ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api(tmp_path_factory, camera):
    import warnings

    from api.app import create_app

    home = fast_auth(tmp_path_factory.mktemp("cameras-home"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = create_app(home, transcriber=object(), recover=False)
    app.state.camera_probe = [camera["probe"]]
    with TestClient(app) as client:
        yield {"client": client, "admin": login_as(client, app, "root", ADMIN),
               "officer": login_as(client, app, "zhangsan", OFFICER),
               "supervisor": login_as(client, app, "fazhi", SUPERVISOR)}


def test_admin_finds_cameras_for_a_room(api, camera):
    r = api["client"].post("/api/admin/cameras", json={"timeout": 0.5, "username": USER, "password": SECRET},
                           headers=api["admin"])
    assert r.status_code == 200, r.text
    [cam] = r.json()["cameras"]
    assert (cam["address"], cam["name"], cam["hardware"]) == (camera["device"], "Room 1 camera", "DS-2CD2143")
    assert [s["uri"] for s in cam["streams"]] == ["rtsp://127.0.0.1:8554/Streaming/Channels/101",
                                                   "rtsp://viewer:***@127.0.0.1:8554/Streaming/Channels/102"]
    assert SECRET not in r.text and "sub-secret" not in r.text
    r = api["client"].post("/api/admin/cameras", json={"timeout": 0.5}, headers=api["admin"])
    [cam] = r.json()["cameras"]
    assert cam["needs_login"] and cam["streams"] == [] and cam["guess"] == "rtsp://127.0.0.1:554/"
    trail = api["client"].get("/api/admin/audit", headers=api["admin"])
    assert trail.status_code == 200 and "config.cameras_found" in trail.text and SECRET not in trail.text


def test_only_an_admin_may_search_the_network(api):
    for who in ("officer", "supervisor"):
        r = api["client"].post("/api/admin/cameras", json={"timeout": 0.5}, headers=api[who])
        assert r.status_code == 403, (who, r.text)
    assert api["client"].post("/api/admin/cameras", json={}).status_code == 401
    bad = api["client"].post("/api/admin/cameras", json={"timeout": 600}, headers=api["admin"])
    assert bad.status_code == 422                     # bounded in time


# -- the room editor's button -----------------------------------------------------------------------------------
browser = browser_fixture()


@needs_chromium
@pytest.mark.timeout(180)
def test_the_room_editor_fills_the_camera_from_the_network(browser, camera, tmp_path):
    from playwright.sync_api import expect

    server = serve(tmp_path, users=[("root", "admin", None)])
    server.server.config.app.state.camera_probe = [camera["probe"]]
    try:
        page = logged_in(browser, server.url, "root", timeout_ms=20000)
        page.goto(f"{server.url}/admin.html#rooms")
        page.click("#camera-find")
        item = page.locator("#camera-list li[data-camera='127.0.0.1']")
        expect(item).to_contain_text("Room 1 camera · DS-2CD2143 · 127.0.0.1")
        expect(item).to_contain_text("需要摄像头的用户名和密码")
        item.locator("button.use-camera").click()                        # the usual address, for a start
        expect(page.locator("#room-video")).to_have_value("rtsp://127.0.0.1:554/")
        page.fill("#camera-user", USER)
        page.fill("#camera-password", SECRET)
        page.click("#camera-find")
        main = page.locator("#camera-list button.use-camera", has_text="MainStream")
        main.click()
        expect(page.locator("#room-video")).to_have_value(
            f"rtsp://{USER}:{SECRET}@127.0.0.1:8554/Streaming/Channels/101")
        assert page.errors == []
        page.context.close()
    finally:
        server.stop()
