"""Capture units: sources, the recorder's ffmpeg command, segments on disk, the tap, the journal."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers.speech import write_wav

from archive.fsutil import sha256_file
from capture import sources
from capture.recorder import RecorderOptions, recorder_args
from capture.segments import JoinError, join, segment_files
from capture.sources import MediaInput, SourceError
from capture.tap import TapReader
from core.transcript import Segment, Word
from service.live_finish import append_journal, read_journal


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def test_urls_devices_and_files_are_told_apart(tmp_path):
    wav = write_wav(tmp_path / "a.wav", np.zeros(1600, dtype=np.float32))
    assert sources.media_input("rtsp://10.0.0.5/stream1") == MediaInput("url", "rtsp://10.0.0.5/stream1")
    assert sources.media_input("udp://127.0.0.1:5000").kind == "url"
    assert sources.media_input("lavfi:testsrc2").input_args() == ["-re", "-f", "lavfi", "-i", "testsrc2"]
    assert sources.media_input("alsa:hw:1").input_args()[-4:] == ["-f", "alsa", "-i", "hw:1"]
    assert sources.media_input(str(wav)).input_args() == ["-re", "-i", str(wav)]
    assert sources.media_input(str(wav), realtime=False).input_args() == ["-i", str(wav)]
    assert sources.media_input("Built-in Microphone") is None  # left to PyAudio
    assert "tcp" in sources.media_input("rtsp://cam/1").input_args()


@pytest.mark.parametrize("video, message", [
    ("/dev/video99", "no camera at /dev/video99"),
    ("missing/file.mp4", "no such file"),
    ("webcam", "no camera or file called 'webcam'"),
])
def test_bad_video_sources_are_named(video, message, tmp_path):
    wav = write_wav(tmp_path / "a.wav", np.zeros(1600, dtype=np.float32))
    with pytest.raises(SourceError, match=message):
        sources.plan(str(wav), video)


def test_bad_audio_files(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not media")
    with pytest.raises(SourceError, match="empty"):
        sources.plan(str(empty), None)
    with pytest.raises(SourceError, match="not a media file"):
        sources.plan(str(text), None)
    with pytest.raises(SourceError, match="directory"):
        sources.plan(str(tmp_path), None)


def test_plan_of_a_file_counts_channels_and_checks_speakers(tmp_path):
    stereo = write_wav(tmp_path / "s.wav", np.zeros((2, 1600), dtype=np.float32))
    plan = sources.plan(str(stereo), None, ("officer", "suspect"))
    assert (plan.channels, plan.shared, plan.has_video, plan.video) == (2, False, False, None)
    with pytest.raises(SourceError, match="names 1 speaker"):
        sources.plan(str(stereo), None, ("officer",))
    with pytest.raises(SourceError, match="1 or 2 channels"):
        sources.plan(str(stereo), None, ("a", "b", "c"))


def test_plan_of_a_video_file_shares_one_input(tmp_path):
    clip = tmp_path / "clip.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-f", "lavfi", "-i", "sine", "-t", "1",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip))
    plan = sources.plan(str(clip), None)
    assert plan.shared and plan.has_video and plan.channels == 1
    assert sources.plan(None, str(clip)).shared  # audio from the video source
    url = sources.plan(None, "udp://127.0.0.1:5999")
    assert url.shared and url.audio.kind == "url"


def test_shared_recorder_command(tmp_path):
    clip = write_wav(tmp_path / "a.wav", np.zeros((2, 1600), dtype=np.float32))
    plan = sources.plan(str(clip), None)
    args = recorder_args(plan, RecorderOptions(live_dir=tmp_path / "live", duration=5), 0.0)
    joined = " ".join(args)
    assert "aresample=async=1:first_pts=0" in joined       # audio starts at 0, gaps filled: samples = time
    assert "-hls_time 1" in joined and "-hls_playlist_type event" in joined   # 1 s: live viewers ~1.5 s behind
    assert "independent_segments" in joined and "-hls_segment_type mpegts" in joined
    assert str(tmp_path / "live" / "index.m3u8") in args
    assert args[-1] == str(tmp_path / "live" / "tap.s16") and "aresample=16000" in joined
    assert "libx264" not in joined                         # no video in a WAV
    assert args.count("-t") == 2


def test_pumped_recorder_command_places_video_on_the_audio_clock(tmp_path):
    plan = sources.CapturePlan(audio=sources.MicInput((0,), ("pulse",), 2, 48000),
                               video=MediaInput("v4l2", "/dev/video0"), channels=2, shared=False, has_video=True)
    args = recorder_args(plan, RecorderOptions(live_dir=tmp_path, clock=True), 1700000000.25, 48000,
                         1700000000.25)
    joined = " ".join(args)
    assert "-f f32le -ar 48000 -ac 2 -i pipe:0" in joined
    assert "-use_wallclock_as_timestamps 1 -thread_queue_size 1024 -f v4l2 -i /dev/video0 -copyts" in joined
    assert "setpts=PTS-1700000000.250000/TB" in joined          # wall-clock stamps minus t0
    assert "drawtext" in joined and "localtime" in joined and "1700000000.250" in joined
    assert "libx264" in joined and "zerolatency" in joined and "expr:gte(t,n_forced*1)" in joined
    file_video = sources.CapturePlan(audio=plan.audio, video=MediaInput("lavfi", "testsrc2"), channels=2,
                                     shared=False, has_video=True)
    joined = " ".join(recorder_args(file_video, RecorderOptions(live_dir=tmp_path), 5.0, 48000, 5.0))
    assert "setpts=PTS-STARTPTS+(RTCSTART/1000000-5.000000)/TB" in joined and "-copyts" not in joined


def _segments(live: Path, seconds: int = 6) -> None:
    live.mkdir(parents=True)
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-f", "lavfi", "-i", "sine=r=48000",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-force_key_frames",
            "expr:gte(t,n_forced*2)", "-c:a", "aac", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "event",
            "-hls_segment_filename", str(live / "seg%05d.ts"), str(live / "index.m3u8"))


def test_join_makes_one_fast_start_mp4_without_reencoding(tmp_path):
    from archive.media import is_browser_playable, streams

    live = tmp_path / "live"
    _segments(live)
    assert [p.name for p in segment_files(live)] == ["seg00000.ts", "seg00001.ts", "seg00002.ts"]
    out = join(live, tmp_path / "original" / "recording.mp4")
    s = streams(out)
    assert (s.video, s.audio) == ("h264", "aac") and abs(s.duration - 6.0) < 0.15
    assert is_browser_playable(out)
    assert not (out.stat().st_mode & 0o222)  # read-only evidence


def test_the_same_segments_joined_for_two_sessions_are_two_recordings(tmp_path):
    """A file played as live twice (a drill, `xunlu demo` run again) records the same bytes twice; the MP4
    names its session, so the archive holds two originals, not one refused as a copy."""
    live = tmp_path / "live"
    _segments(live)
    first = join(live, tmp_path / "a.mp4", comment="xunlu session s-20261204-0001")
    second = join(live, tmp_path / "b.mp4", comment="xunlu session s-20261204-0002")
    assert sha256_file(first) != sha256_file(second)
    tags = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags=comment", "-of",
                           "default=nw=1:nk=1", str(second)], capture_output=True, text=True).stdout
    assert tags.strip() == "xunlu session s-20261204-0002"


def test_join_after_a_crash_keeps_the_partial_segment(tmp_path):
    from archive.media import streams

    live = tmp_path / "live"
    _segments(live)
    last = live / "seg00002.ts"
    data = last.read_bytes()
    last.unlink()
    (live / "seg00002.ts.tmp").write_bytes(data[: len(data) // 2 + 77])  # cut mid-packet by the crash
    out = join(live, tmp_path / "out.mp4")
    assert 4.3 < streams(out).duration < 5.9


def test_join_without_segments_is_a_clear_error(tmp_path):
    with pytest.raises(JoinError, match="no recorded segments"):
        join(tmp_path / "live", tmp_path / "x.mp4")


def test_tap_reader_reads_what_is_there_and_no_more(tmp_path):
    path = tmp_path / "tap.s16"
    pcm = (np.arange(2 * 3000, dtype=np.int16) % 1000).astype("<i2")
    path.write_bytes(pcm[:2 * 1000].tobytes() + b"\x01")  # half a frame written so far
    tap = TapReader(path, 2)
    first = tap.read(5000)
    assert first.shape == (1000, 2) and first.dtype == np.float32
    assert tap.read(10).shape == (0, 2)
    path.write_bytes(pcm.tobytes())
    rest = tap.read(5000)
    assert rest.shape == (2000, 2)
    assert np.allclose(np.concatenate([first, rest]).reshape(-1) * 32768, pcm)


def test_journal_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "transcript.jsonl"
    seg = Segment(0, 1.0, 2.0, "你好", (Word(1.0, 1.5, "你", 0.9), Word(1.5, 2.0, "好", 0.9)), "officer", 0)
    append_journal(path, seg)
    append_journal(path, Segment(1, 3.0, 4.0, "再见", (), "suspect", 1))
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(seg.to_dict(), ensure_ascii=False)[:25])  # the crash hit mid-write
    got = read_journal(path)
    assert [s.text for s in got] == ["你好", "再见"] and got[0] == seg


def test_a_camera_without_sound_records_with_the_default_microphone(monkeypatch):
    from capture import devices

    monkeypatch.setattr(devices, "microphones", lambda: [
        devices.Device("microphone", "3", "USB Mic", 2, 48000, default=True),
        devices.Device("microphone", "5", "Desk Mic Array", 4, 44100)])
    plan = sources.plan(None, "lavfi:testsrc2")
    assert plan.audio == sources.MicInput((3,), ("USB Mic",), 1, 48000) and not plan.shared
    two = sources.plan("usb+desk", None, ("officer", "suspect"))
    assert two.audio == sources.MicInput((3, 5), ("USB Mic", "Desk Mic Array"), 2, 44100)
    assert sources.plan("5", None, ("a", "b")).audio.channels == 2
    with pytest.raises(SourceError, match="same microphone twice"):
        sources.plan("3+USB", None)
    with pytest.raises(SourceError, match="no microphone with index 9"):
        sources.plan("9", None)
    with pytest.raises(SourceError, match="matches several"):
        sources.plan("mic", None)
