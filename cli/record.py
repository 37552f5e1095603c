"""Live commands of the `xunlu` CLI: record, devices, recover."""
from __future__ import annotations

import queue
import signal
import sys
import time
from typing import Optional

import typer

from asr import vocabulary
from cli.common import HomeOpt, fail, handled, split_names
from core.config import home_dir, load_config


def _clock(t: float) -> str:
    m, s = divmod(max(0.0, t), 60)
    return f"{int(m):02d}:{s:04.1f}"


def _line(seg: dict) -> str:
    who = seg.get("speaker") or f"ch{seg.get('channel', 0)}"
    return f"[{_clock(seg['start'])}-{_clock(seg['end'])}] {who}: {seg['text']}"


class _Screen:
    """The live transcript in the terminal: finals as lines, partials updated in place (rich Live on a
    terminal; plain lines on stderr otherwise)."""

    def __init__(self, sid: str, source: str):
        self.sid, self.source = sid, source
        self.finals: list[str] = []
        self.partials: dict[str, str] = {}
        self.status: dict = {}
        self.tty = sys.stderr.isatty()
        self.live = None
        self.warned_lag = 0.0
        self.alarm = ""

    def __enter__(self) -> "_Screen":
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(self._render(), console=Console(stderr=True), refresh_per_second=4, transient=False)
            self.live.__enter__()
        else:
            typer.echo(f"recording {self.sid} from {self.source} (Ctrl-C stops)", err=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.update(self._render(final=True))
            self.live.__exit__(*exc)

    def _render(self, final: bool = False):
        from rich.console import Group
        from rich.text import Text

        lines = [Text(f"● {self.sid}  {self.source}", style="bold red" if not final else "bold")]
        lines += [Text(line) for line in self.finals[-18:]]
        if not final:
            lines += [Text(f"… {p}", style="dim italic") for p in self.partials.values()]
        if self.alarm:
            lines.append(Text(self.alarm, style="bold yellow"))
        st = self.status
        if st:
            lag = f"  ASR {st.get('lag', 0):.0f} s behind" if st.get("lag", 0) >= 3 else ""
            lines.append(Text(f"{_clock(st.get('elapsed', 0))} recorded{lag}   Ctrl-C stops", style="cyan"))
        return Group(*lines)

    def event(self, e: dict) -> None:
        kind = e.get("type")
        if kind == "final":
            seg = e["segment"]
            self.finals.append(_line(seg))
            self.partials.pop(str(seg.get("channel", 0)), None)
            if not self.tty:
                typer.echo(self.finals[-1], err=True)
        elif kind == "partial":
            who = e.get("speaker") or f"ch{e.get('channel', 0)}"
            self.partials[str(e.get("channel", 0))] = f"{who}: {e['text']}"
        elif kind == "alarm":   # a camera lost or back, the recorder stopped: said at once
            self.alarm = f"! {_clock(float(e.get('at') or 0))} {e.get('message', '')}"
            if not self.tty:
                typer.echo(f"xunlu: {self.alarm}", err=True)
        elif kind == "status":
            self.status = e
            lag = float(e.get("lag", 0))
            if not self.tty and lag >= 10 and lag > self.warned_lag + 10:
                self.warned_lag = lag
                typer.echo(f"xunlu: warning: transcription is {lag:.0f} s behind; recording continues", err=True)
        if self.live is not None:
            self.live.update(self._render())


def record_cmd(
    audio: Optional[str] = typer.Option(None, "--audio", "-a",
                                        help="Microphone (name or index; 'A+B' = two, one per speaker), a file "
                                             "played live, or a URL. Default: the video source, else the "
                                             "default microphone."),
    video: Optional[list[str]] = typer.Option(None, "--video", "-v", metavar="SOURCE",
                                              help="Camera (/dev/video0), URL (rtsp://, udp://, http://), file, "
                                                   "or lavfi:testsrc2. Repeat for several cameras: each is kept "
                                                   "as its own original, plus a picture-in-picture copy."),
    camera_names: Optional[str] = typer.Option(None, "--camera-names", metavar="A,B",
                                               help="Names of the cameras, in the order of --video (default "
                                                    "camera1, camera2, ...)."),
    pip: Optional[str] = typer.Option(None, "--pip", metavar="main=A,inset=B,position=top-right,size=0.3",
                                      help="The picture-in-picture copy of several cameras: which is the main "
                                           "picture, which the inset, its corner and width (a fraction of the "
                                           "main picture's). Default: the room's, else the first camera with "
                                           "the second top right at 0.3."),
    duration: Optional[float] = typer.Option(None, "--duration", "-t", help="Stop after this many seconds."),
    case: Optional[str] = typer.Option(None, "--case", help="Case id (案件编号)."),
    room: Optional[str] = typer.Option(None, "--room", help="Interview room (讯问地点)."),
    officers: Optional[str] = typer.Option(None, "--officers", help="Officers, comma-separated: 张三,李四."),
    suspect: Optional[str] = typer.Option(None, "--suspect", help="The person questioned (被讯问人)."),
    speakers: Optional[str] = typer.Option(None, "--speakers", help="Names of the channels: officer,suspect."),
    language: Optional[str] = typer.Option(None, "--language", "-l", help="Language code (default zh)."),
    clock: bool = typer.Option(False, "--clock", help="Burn the date and time into the video."),
    fast: bool = typer.Option(False, "--fast", help="Read a file as fast as possible instead of in real time."),
    video_delay: float = typer.Option(0.0, "--video-delay", metavar="SECONDS",
                                      help="How much a separate camera's picture lags the microphone; the "
                                           "video is moved that much earlier (e.g. 0.08)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Speech model (default base)."),
    rtsp_transport: Optional[str] = typer.Option(None, "--rtsp-transport", metavar="auto|tcp|udp|udp_multicast",
                                                 help="How to ask an RTSP camera for its stream: auto (default: "
                                                      "TCP, then UDP), tcp, udp or udp_multicast. Default: the "
                                                      "room's rtsp_transport."),
    hotwords: Optional[str] = typer.Option(None, "--hotwords",
                                           help="Names and places to expect, comma-separated (with the suspect, "
                                                "officers, room, case and <home>/vocabulary.txt)."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Record a session live: audio and video into the archive, the transcript on screen as people speak."""
    from archive.store import system_actor
    from asr.engine import check_language
    from asr.pipeline import load_transcriber
    from cli.sessions import archive_for
    from core.errors import OptionError
    from service.live import RecordRequest, recover_recordings, start_live

    # Ctrl-C (SIGINT) always stops a recording cleanly, also when the shell or service that started this
    # process ignored SIGINT (a process started in the background inherits that, and Python keeps it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with handled("interrupted"):
        cfg = load_config(home_dir(home))
        lang = check_language(language or cfg.language)
        if lang is None:
            raise OptionError("live transcription needs a language (zh, en, ...), not auto")
        if duration is not None and duration <= 0:
            raise OptionError("--duration must be more than 0 seconds")
        cameras, layout = _cameras(video or [], camera_names, pip)
        req = RecordRequest(audio=audio, video=video[0] if video else None, duration=duration, case_id=case,
                            room=room, cameras=cameras, pip=layout,
                            officers=split_names(officers), suspect=suspect, speakers=split_names(speakers), language=lang,
                            clock=clock, realtime=not fast, video_delay=video_delay,
                            vocabulary=vocabulary.parse(hotwords), rtsp_transport=rtsp_transport)
        from capture.sources import plan, with_cameras
        from service import multicam
        from service.live import check_video_delay, room_transport

        # bad sources fail before the model loads
        checked = multicam.resolve(home_dir(home), req)
        transport = room_transport(home_dir(home), checked)
        found = with_cameras(plan(checked.audio, checked.video, checked.speakers, checked.realtime, transport),
                             tuple(checked.cameras), checked.realtime, transport, checked.video_delay)
        if found.cameras:
            multicam.check(found, checked.pip)
        check_video_delay(checked.video_delay, found)
        archive = archive_for(home)
        transcriber = load_transcriber(model or cfg.model, home_dir(home), cfg.device, cfg.compute_type)
        actor = system_actor()
        for sid in recover_recordings(home_dir(home), archive, transcriber, actor,
                                      say=lambda m: typer.echo(f"xunlu: {m}", err=True)):
            typer.echo(f"xunlu: session {sid} recovered from its segments", err=True)
        live = start_live(home_dir(home), archive, req, transcriber, actor)
        events = live.subscribe()
        try:
            with _Screen(live.session_id, live.plan.describe()) as screen:
                while not live.wait(0):
                    try:
                        screen.event(events.get(timeout=0.25))
                    except queue.Empty:
                        pass
                while True:
                    try:
                        screen.event(events.get_nowait())
                    except queue.Empty:
                        break
        except KeyboardInterrupt:
            typer.echo("xunlu: stopping: finishing the transcript and closing the recording…", err=True)
        session = _stop(live)
        if session.status != "complete":
            fail(f"session {session.id} {session.status}: {session.error or 'see xunlu session ' + session.id}")
        typer.echo(session.id)


def _cameras(videos: list[str], names: Optional[str], pip: Optional[str]):
    """(camera specs, layout) of several --video; ((), None) for one or none (OptionError: bad names or
    layout)."""
    from capture.sources import CameraSpec
    from core.cameras import check_name, parse_pip
    from core.errors import OptionError

    try:
        layout = parse_pip(pip)
        given = [check_name(n) for n in split_names(names)] if names else []
    except ValueError as exc:
        raise OptionError(str(exc), code="bad_pip") from None
    if len(videos) < 2:
        if layout is not None or len(given) > 1:
            raise OptionError("--pip and --camera-names need several --video", code="bad_pip")
        return (), None
    if given and len(given) != len(videos):
        raise OptionError(f"--camera-names names {len(given)} camera(s) for {len(videos)} --video",
                          code="bad_pip")
    names_ = given or [f"camera{i}" for i in range(1, len(videos) + 1)]
    if len(set(names_)) != len(names_):
        raise OptionError("--camera-names has the same name twice", code="bad_pip")
    return tuple(CameraSpec(n, v) for n, v in zip(names_, videos)), layout


def _stop(live):
    """Stop, even through further Ctrl-Cs (the recording must be closed, not abandoned)."""
    while True:
        try:
            return live.stop()
        except KeyboardInterrupt:
            typer.echo("xunlu: still closing the recording; please wait", err=True)
            time.sleep(0.2)


def devices_cmd(network: bool = typer.Option(False, "--network", help="list the ONVIF cameras on the network "
                                             "(WS-Discovery) with their stream addresses, instead"),
                timeout: float = typer.Option(2.0, "--timeout", min=0.1, max=30, help="seconds to wait for answers"),
                user: Optional[str] = typer.Option(None, "--user", help="the cameras' user name, to ask their "
                                                   "stream addresses"),
                password: Optional[str] = typer.Option(None, "--password", envvar="XUNLU_CAMERA_PASSWORD",
                                                       help="their password (or $XUNLU_CAMERA_PASSWORD)"),
                probe: list[str] = typer.Option([], "--probe", metavar="ADDRESS[:PORT]",
                                                help="ask this address directly (a camera on another subnet); "
                                                     "repeatable; replaces the multicast probe")) -> None:
    """List the microphones and cameras this machine has (ids for --audio and --video), or the network's."""
    if network:
        return _network_cameras(timeout, user, password, probe)
    from capture.devices import cameras, microphones
    from capture.sources import SourceError

    try:
        mics = microphones()
    except SourceError as exc:
        mics = []
        typer.echo(f"xunlu: {exc}", err=True)
    typer.echo("microphones (--audio):")
    for d in mics:
        mark = " (default)" if d.default else ""
        typer.echo(f"  {d.id}\t{d.name}\t{d.channels} ch\t{d.rate} Hz{mark}")
    if not mics:
        typer.echo("  none found")
    typer.echo("cameras (--video):")
    cams = cameras()
    for d in cams:
        typer.echo(f"  {d.id}\t{d.name}")
    if not cams:
        typer.echo("  none found")
    typer.echo("also: a file (played in real time), rtsp:// udp:// http:// URLs, lavfi:testsrc2")


def _network_cameras(timeout: float, user: Optional[str], password: Optional[str], probe: list[str]) -> None:
    from capture.discovery import MULTICAST, DiscoveryOptions, discover
    from core.urls import redact

    targets = []
    for address in probe:
        host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
        if not port.isdigit() or not 0 < int(port) < 65536:
            host, port = address, str(MULTICAST[1])
        targets.append((host, int(port)))
    options = DiscoveryOptions(timeout=timeout, targets=tuple(targets) or (MULTICAST,), username=user,
                               password=password)
    with handled():
        cams = discover(options)
    typer.echo(f"network cameras (ONVIF, WS-Discovery, {timeout:g} s):")
    for cam in cams:
        about = "\t".join(x for x in (cam.name, cam.hardware) if x)
        typer.echo(f"  {redact(cam.address)}\t{about}".rstrip())
        for stream in cam.streams:
            typer.echo(f"    {stream.profile}\t{redact(stream.uri)}")
        if not cam.streams:
            typer.echo(f"    no stream address: {cam.problem}" + ("" if user else " (--user, --password)"))
            typer.echo(f"    try {cam.guess}")
    if not cams:
        typer.echo("  none found")
    else:
        typer.echo("use a stream address as --video (with rtsp://USER:PASSWORD@... when the camera asks for one)")


def recover_cmd(model: Optional[str] = typer.Option(None, "--model", "-m"), home: Optional[str] = HomeOpt) -> None:
    """Close recordings interrupted by a crash: media from their segments, the rest of the transcript."""
    from archive.store import system_actor
    from asr.pipeline import load_transcriber
    from cli.sessions import archive_for
    from service.live import recover_recordings
    from service.live_finish import pending

    with handled():
        cfg = load_config(home_dir(home))
        archive = archive_for(home)
        if not pending(archive):
            typer.echo("xunlu: no interrupted recording to recover", err=True)
            return
        transcriber = load_transcriber(model or cfg.model, home_dir(home), cfg.device, cfg.compute_type)
        done = recover_recordings(home_dir(home), archive, transcriber, system_actor(),
                                  say=lambda m: typer.echo(f"xunlu: {m}", err=True))
        for sid in done:
            typer.echo(sid)
        if not done:
            typer.echo("xunlu: no interrupted recording to recover", err=True)
