"""One flash and one beep seen by several cameras and a microphone at the same instant: an ffmpeg that makes,
in real time, a black picture flashing white for 2 frames and a 60 ms 1 kHz beep at `first`, `first + period`,
..., and sends the picture (H.264 in MPEG-TS) to each camera's UDP port (tests/helpers/rtsp_server.py
`--live-port`, or read directly as `udp://127.0.0.1:PORT`, a network encoder) and the sound (AAC in MPEG-TS)
to another port, which a recording reads as its sound source (`udp://127.0.0.1:PORT`), or into a PulseAudio
sink whose monitor a recording takes as its microphone (`pulse_sink`, as bench/capture.py does).
"""
from __future__ import annotations

import subprocess
from typing import Optional

BACKGROUNDS = ("black", "0x505050")


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlashSender:
    def __init__(self, cameras: int = 2, period: float = 1.0, first: float = 0.5, size: str = "320x240",
                 fps: int = 25, seconds: Optional[float] = None, pulse_sink: Optional[str] = None):
        self.pulse_sink = pulse_sink     # the sound played into this PulseAudio sink instead (a microphone)
        self.video_ports = [free_udp_port() for _ in range(cameras)]
        self.audio_port = free_udp_port()
        self.period, self.first, self.size, self.fps, self.seconds = period, first, size, fps, seconds
        self.proc: Optional[subprocess.Popen] = None

    @property
    def audio_url(self) -> str:
        return f"udp://127.0.0.1:{self.audio_port}"

    def args(self) -> list[str]:
        """Camera 1 is black between flashes, the others grey (BACKGROUNDS), so that a picture-in-picture shows
        which is which; every camera flashes at the same instants."""
        off = self.first % self.period
        flash = f"between(mod(t-{off}\\,{self.period})\\,0\\,{1.99 / self.fps:.4f})"
        beep = f"between(mod(t-{off}\\,{self.period})\\,0\\,0.06)"
        limit = ["-t", str(self.seconds)] if self.seconds else []
        args = ["ffmpeg", "-nostdin", "-v", "error"]
        for i, _port in enumerate(self.video_ports):
            background = BACKGROUNDS[min(i, len(BACKGROUNDS) - 1)]
            args += ["-re", "-f", "lavfi", "-i",
                     f"color=c={background}:s={self.size}:r={self.fps},drawbox=t=fill:c=white:enable='{flash}'"]
        args += ["-re", "-f", "lavfi", "-i", f"aevalsrc='if({beep}\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:c=mono"]
        for i, port in enumerate(self.video_ports):
            args += [*limit, "-map", f"{i}:v", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                     "-g", str(self.fps), "-pix_fmt", "yuv420p", "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"]
        args += [*limit, "-map", f"{len(self.video_ports)}:a"]
        if self.pulse_sink:
            return args + ["-c:a", "pcm_s16le", "-f", "pulse", "-buffer_duration", "20", "-device", self.pulse_sink,
                           "xunlu flash"]
        return args + ["-c:a", "aac", "-b:a", "96k", "-f", "mpegts", "-flush_packets", "1",
                       f"udp://127.0.0.1:{self.audio_port}?pkt_size=1316"]

    def start(self) -> "FlashSender":
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
            self.proc = None

    def __enter__(self) -> "FlashSender":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
