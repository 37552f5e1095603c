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

GREY_Y = 80           # the other cameras' background (luma), camera 1's is black


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
        """One lavfi graph makes every camera's picture and the sound, so that they share one clock: with an
        input each, ffmpeg's `-re` paced each on its own, and a sender slowed by a busy machine let them drift
        apart (tens of ms over half an hour), which then showed as the recording's offsets. Camera 1 is black
        between flashes, the others grey (Y at least GREY_Y), so that a picture-in-picture shows which is
        which; every camera flashes at the same instants, in the same frame."""
        off = self.first % self.period
        flash = f"between(mod(t-{off}\\,{self.period})\\,0\\,{1.99 / self.fps:.4f})"
        beep = f"between(mod(t-{off}\\,{self.period})\\,0\\,0.06)"
        n = len(self.video_ports)
        graph = f"color=c=black:s={self.size}:r={self.fps},drawbox=t=fill:c=white:enable='{flash}'"
        if n == 1:
            graph += "[out0];"
        else:
            graph += f",split={n}[out0]" + "".join(f"[g{i}]" for i in range(1, n)) + ";"
            graph += "".join(f"[g{i}]lutyuv=y='max(val\\,{GREY_Y})'[out{i}];" for i in range(1, n))
        graph += f"aevalsrc='if({beep}\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:c=mono[out{n}]"
        limit = ["-t", str(self.seconds)] if self.seconds else []
        args = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", graph]
        for i, port in enumerate(self.video_ports):
            args += [*limit, "-map", f"0:v:{i}", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                     "-g", str(self.fps), "-pix_fmt", "yuv420p", "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"]
        args += [*limit, "-map", "0:a:0"]
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
