"""A live video whose every flash says when it was made, and a watch on a page's player that sees each flash
arrive: how far behind the room a live viewer is (tests/test_live_view_browser.py, bench/web.py).

The source is black with a white flash every `period` seconds whose bottom band carries the flash's number in
binary (black blocks are 1 bits), with a beep (for the beep detector's finals). FRAME_WATCH, run in the page,
draws each frame the player presents (requestVideoFrameCallback) onto a small canvas; the first lit frame of
a flash is stamped with the wall-clock time it was to be shown. A flash was made at the recording's first
audio sample (the session's started_at, same machine) + its time in the file.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

BITS = 6


def numbered_flashes(path: Path, seconds: float, period: float = 2.0, first: float = 2.0,
                     size: tuple[int, int] = (320, 240), fps: int = 25) -> list[float]:
    """Black video, a white flash of 2 frames at first, first + period, ..., numbered in its bottom band;
    a 60 ms beep with each (the beep detector's finals). Returns the flash times."""
    import subprocess

    w, h = size
    on = f"between(mod(t-{first}\\,{period})\\,0\\,0.079)*gte(t\\,{first - 0.001})"
    k = f"floor((t-{first - 0.001})/{period})"
    boxes = [f"drawbox=x=0:y=0:w={w}:h={h}:t=fill:c=white:enable='{on}'"]
    for b in range(BITS):
        boxes.append(f"drawbox=x={b * w // BITS}:y={h * 3 // 4}:w={w // BITS}:h={h // 4}:t=fill:c=black:"
                     f"enable='{on}*mod(floor({k}/{2 ** b})\\,2)'")
    beep = f"between(mod(t-{first}\\,{period})\\,0\\,0.06)*gte(t\\,{first - 0.001})"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r={fps}," + ",".join(boxes),
                    "-f", "lavfi", "-i", f"aevalsrc='if({beep}\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:c=mono",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps),
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)], check=True)
    times, t = [], first
    while t < seconds - 0.2:
        times.append(round(t, 3))
        t += period
    return times


# each presented frame of the player's video, on a 32x24 canvas: a lit frame after a dark one is a flash
FRAME_WATCH = """() => {
  window.__flashes = [];
  const W = 32, H = 24, BITS = %d;
  const canvas = document.createElement('canvas'); canvas.width = W; canvas.height = H;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  let lit = false, video = null;
  const look = (now, meta) => {
    try {
      ctx.drawImage(video, 0, 0, W, H);
      const px = ctx.getImageData(0, 0, W, H).data;
      let sum = 0;
      for (let y = 0; y < H * 3 / 4 - 1; y++) for (let x = 0; x < W; x++) sum += px[(y * W + x) * 4];
      const bright = sum / ((H * 3 / 4 - 1) * W) > 128;
      if (bright && !lit) {
        let k = 0;
        for (let b = 0; b < BITS; b++) {
          const x = Math.floor((b + 0.5) * W / BITS), y = Math.floor(H * 7 / 8);
          if (px[(y * W + x) * 4] < 128) k |= 1 << b;
        }
        window.__flashes.push({k, wall: performance.timeOrigin + meta.expectedDisplayTime, media: meta.mediaTime,
                               now: Date.now()});
      }
      lit = bright;
    } catch (e) { /* not decodable yet */ }
    video.requestVideoFrameCallback(look);
  };
  window.__stalls = 0;
  const attach = () => {
    video = document.querySelector('video.pl-video');
    if (!video) { setTimeout(attach, 50); return; }
    video.requestVideoFrameCallback(look);
    let playing = false;   // a wait for data after playback began is a stall
    video.addEventListener('playing', () => { playing = true; });
    video.addEventListener('waiting', () => { if (playing) window.__stalls += 1; });
  };
  attach();
}""" % BITS


def delays_of(flashes: list[dict], truth: list[float], started_at: str) -> dict[int, float]:
    """Flash number -> seconds from its making to its showing, for each flash the page saw."""
    t0 = datetime.fromisoformat(started_at).timestamp()
    seen: dict[int, float] = {}
    for f in flashes:
        if 0 <= f["k"] < len(truth) and f["k"] not in seen:
            seen[f["k"]] = f["wall"] / 1000 - (t0 + truth[f["k"]])
    return seen
