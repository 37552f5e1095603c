"""Live recording in real time (5-10 s each), with a beep detector standing in for the speech model:
file as live, sync of audio, video and transcript, slow ASR, a network camera, a microphone (PulseAudio's
null sink), kill -9 and recovery."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.capture_fakes import BeepTranscriber, beep_flash_file, beep_stream, ensure_pulse, onsets, play, remove_sink
from helpers.speech import write_wav

from archive.store import open_archive
from service.live import RecordRequest, recover_recordings, start_live

pytestmark = pytest.mark.timeout(120)


@pytest.fixture()
def archive_home(tmp_path):
    home = tmp_path / "home"
    archive = open_archive(home)
    yield home, archive
    archive.close()


@pytest.fixture(scope="module")
def beeps8(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "beeps.mp4"
    return path, beep_flash_file(path, seconds=8.0)


def _drain(q) -> list[dict]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_file_as_live_keeps_audio_video_and_transcript_in_sync(archive_home, beeps8):
    from archive.media import is_browser_playable, streams
    from archive.verify import verify
    from index.manager import SearchIndex

    home, archive = archive_home
    src, truth = beeps8
    live = start_live(home, archive, RecordRequest(audio=str(src), case_id="A-1", clock=True), None, "tester",
                      stream=beep_stream())
    assert archive.get(live.session_id).status == "recording"   # returns at once
    events = live.subscribe()
    live_dir = archive.folder(live.session_id) / "live"
    time.sleep(5.5)
    playlist = (live_dir / "index.m3u8").read_text()
    durations = [float(line.split(":")[1].rstrip(",")) for line in playlist.splitlines()
                 if line.startswith("#EXTINF")]
    assert len(durations) >= 4 and all(0.75 <= d <= 1.25 for d in durations), playlist  # ~1 s, on disk
    found_live = False
    while not found_live and not live.wait(0.2):                 # finals searchable while recording
        with contextlib.suppress(Exception):
            found_live = bool(SearchIndex(home).search("嘀"))
    assert found_live
    assert live.wait(20)
    session = live.stop()
    assert session.status == "complete" and session.duration == pytest.approx(8.0, abs=0.05)
    mp4 = archive.folder(session.id) / session.file("original").path
    assert is_browser_playable(mp4) and streams(mp4).video == "h264"

    flashes, beeps = onsets(mp4)
    assert len(flashes) == len(beeps) == len(truth)
    offsets = [abs(f - b) for f, b in zip(flashes, beeps)]
    assert max(offsets) <= 0.040, offsets                       # audio-video offset in the final MP4

    transcript = json.loads((archive.folder(session.id) / "transcripts" / "v1.json").read_text())
    starts = [s["start"] for s in transcript["segments"]]
    assert starts == pytest.approx(truth, abs=0.05)              # transcript times vs truth
    assert starts == pytest.approx(beeps, abs=0.05)              # ... and vs the MP4: one time origin

    got = _drain(events)
    assert [e["segment"] for e in got if e["type"] == "final"] == transcript["segments"]
    assert any(e["type"] == "status" and e["recording"] for e in got)
    assert got[-1] == {"type": "stopped", "session": session.id, "reason": "source_ended"}   # the file ended
    journal = (archive.folder(session.id) / "live" / "transcript.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in journal] == transcript["segments"]
    actions = [e.action for e in archive.audit_entries(session.id)]
    for action in ("session.create", "record.start", "media.original", "transcript.version", "record.complete"):
        assert action in actions
    assert verify(archive, [session.id]).ok
    hits = SearchIndex(home).search("嘀")
    assert {h.session for h in hits} == {session.id} and len(hits) == len(truth)
    assert live.stop().status == "complete"                     # idempotent


def test_slow_asr_never_holds_up_the_recording(archive_home, tmp_path):
    home, archive = archive_home
    src = tmp_path / "b.mp4"
    truth = beep_flash_file(src, seconds=6.0, period=1.5, first=0.5)
    make = beep_stream(delay_per_feed=0.9)                       # ASR at about half real time
    t = time.monotonic()
    live = start_live(home, archive, RecordRequest(audio=str(src)), None, "tester", stream=make)
    assert live.recorder.wait(15)
    recorded_in = time.monotonic() - t
    lag = live.snapshot()["status"]["lag"]
    session = live.stop()
    assert recorded_in < 9.0                                     # recording kept real time
    assert lag >= 1.0                                            # while ASR was behind
    assert live.max_lag >= 2.0
    mp4 = archive.folder(session.id) / session.file("original").path
    _flashes, beeps = onsets(mp4)
    assert len(beeps) == len(truth)
    transcript = json.loads((archive.folder(session.id) / "transcripts" / "v1.json").read_text())
    assert [s["start"] for s in transcript["segments"]] == pytest.approx(truth, abs=0.05)  # caught up
    assert sum(make.instance.feeds) == round(session.duration * 16000)  # every tap frame fed, once
    assert session.duration == pytest.approx(6.0, abs=0.05)


def test_network_camera_over_udp(archive_home):
    from archive.media import streams

    home, archive = archive_home
    port = 20000 + os.getpid() % 20000
    publisher = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
         "-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "30", "-c:v", "libx264", "-preset", "ultrafast",
         "-tune", "zerolatency", "-g", "25", "-c:a", "aac", "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"])
    try:
        live = start_live(home, archive, RecordRequest(video=f"udp://127.0.0.1:{port}", duration=5.0), None,
                          "tester", stream=beep_stream(threshold=2.0))
        assert live.wait(40)
        session = live.stop()
    finally:
        publisher.kill()
        publisher.wait()
    assert session.status == "complete", session.error
    s = streams(archive.folder(session.id) / session.file("original").path)
    assert (s.video, s.audio) == ("h264", "aac")
    assert s.duration == pytest.approx(5.0, abs=0.5)
    assert session.duration == pytest.approx(5.0, abs=0.05)


@pytest.fixture()
def pulse(monkeypatch):
    """A null sink of this test's own; its monitor is the microphone PyAudio records from."""
    sink = f"xunlu_test_{os.getpid()}"
    reason = ensure_pulse(sink)
    if reason:
        pytest.skip(reason)
    from capture.devices import microphones

    if not any(d.name == "pulse" for d in microphones()):
        pytest.skip("PyAudio sees no 'pulse' device: install libasound2-plugins (ALSA's PulseAudio plugin)")
    monkeypatch.setenv("PULSE_SOURCE", f"{sink}.monitor")
    monkeypatch.setenv("PULSE_SINK", sink)
    yield sink
    remove_sink(sink)


def test_two_speaker_microphone_through_pulseaudio_with_a_camera(pulse, archive_home, tmp_path):
    from archive.media import streams

    home, archive = archive_home
    rate, seconds = 48000, 7.0
    wav = np.zeros((2, int(seconds * rate)), dtype=np.float32)
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(int(0.1 * rate)) / rate)
    for k, t in enumerate((1.0, 2.0, 3.0, 4.0, 5.0)):
        wav[k % 2, int(t * rate):int(t * rate) + len(tone)] = tone   # officer left, suspect right, in turn
    write_wav(tmp_path / "turns.wav", wav, rate)
    live = start_live(home, archive, RecordRequest(audio="pulse", video="lavfi:testsrc2=size=160x120:rate=10",
                                                   speakers=("officer", "suspect"), duration=8.0), None,
                      "tester", stream=beep_stream())
    player = play(tmp_path / "turns.wav", pulse)
    assert live.wait(40)
    session = live.stop()
    player.wait(10)
    stats = live.recorder.stats()
    assert session.status == "complete", session.error
    assert stats["overflows"] == 0 and stats["dropped"] == 0
    assert stats["frames_written"] == 8 * stats["rate"]         # the sample count is the clock
    assert session.duration == pytest.approx(8.0, abs=0.01)
    done = next(e for e in archive.audit_entries(session.id) if e.action == "record.complete")
    assert done.details["audio_clock_adjusted"] == 0   # the card held on the wall clock: too short to measure
    s = streams(archive.folder(session.id) / session.file("original").path)
    assert (s.video, s.audio) == ("h264", "aac") and s.duration == pytest.approx(8.0, abs=0.1)
    segs = json.loads((archive.folder(session.id) / "transcripts" / "v1.json").read_text())["segments"]
    assert len(segs) >= 3, segs
    for a, b in zip(segs, segs[1:]):
        assert b["start"] - a["start"] == pytest.approx(1.0, abs=0.05)
        assert {a["speaker"], b["speaker"]} == {"officer", "suspect"}
    assert all(s["speaker"] == ("officer", "suspect")[s["channel"]] for s in segs)


RECORDER = """
import sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from service.live import RecordRequest, start_live
from archive.store import open_archive
from helpers.capture_fakes import beep_stream
home = Path({home!r})
live = start_live(home, open_archive(home), RecordRequest(audio={src!r}), None, "tester", stream=beep_stream())
print(live.session_id, flush=True)
time.sleep(60)
"""


def _children_writing(folder: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(folder).encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def test_kill_9_mid_recording_then_recovery(archive_home, beeps8):
    from archive.media import streams
    from archive.verify import verify

    home, archive = archive_home
    src, truth = beeps8
    code = RECORDER.format(tests=str(Path(__file__).parent), home=str(home), src=str(src))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parents[1])
    sid = proc.stdout.readline().strip()
    time.sleep(5.6)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    folder = archive.folder(sid)
    for _ in range(50):                                           # ffmpeg dies with its parent
        if not _children_writing(folder):
            break
        time.sleep(0.1)
    assert not _children_writing(folder)
    assert archive.get(sid).status == "recording"
    assert archive.recover() == []                                # left for the live recovery
    journal = (folder / "live" / "transcript.jsonl").read_text().splitlines()
    assert 1 <= len(journal) <= 3

    fake = BeepTranscriber()
    assert recover_recordings(home, archive, fake, "tester") == [sid]
    session = archive.get(sid)
    assert session.status == "complete" and session.file("original") is not None
    mp4 = folder / session.file("original").path
    duration = streams(mp4).duration
    assert 3.0 <= duration <= 6.0                                 # at most the last segment lost
    _flashes, beeps = onsets(mp4)
    transcript = json.loads((folder / "transcripts" / "v1.json").read_text())
    assert [s["start"] for s in transcript["segments"]] == pytest.approx(beeps, abs=0.05)  # each once
    assert [s["id"] for s in transcript["segments"]] == list(range(len(beeps)))
    recovered = [e for e in archive.audit_entries(sid) if e.action == "session.recovered"]
    details = recovered[0].details if len(recovered) == 1 else {}
    assert details["live_segments"] + details["dropped_past_media_end"] == len(journal)
    assert verify(archive, [sid]).ok
    assert recover_recordings(home, archive, fake, "tester") == []  # nothing left to do


def test_a_silent_network_camera_fails_the_session_with_a_reason(archive_home, monkeypatch):
    from capture import sources

    monkeypatch.setattr(sources, "NET_TIMEOUT_S", 2.0)
    home, archive = archive_home
    live = start_live(home, archive, RecordRequest(video="udp://127.0.0.1:9"), None, "tester",
                      stream=beep_stream())
    assert live.wait(30)
    session = archive.get(live.session_id)
    assert session.status == "failed" and "udp://127.0.0.1:9" in session.error
    assert live.stop().status == "failed"
    assert any(e.action == "record.failed" for e in archive.audit_entries(session.id))


def test_fast_mode_reads_a_file_as_fast_as_it_can(archive_home, beeps8):
    home, archive = archive_home
    src, truth = beeps8
    t = time.monotonic()
    live = start_live(home, archive, RecordRequest(audio=str(src), realtime=False), None, "tester",
                      stream=beep_stream())
    session = live.stop() if live.wait(30) else None
    assert session is not None and session.status == "complete"
    assert time.monotonic() - t < 6.0 and session.duration == pytest.approx(8.0, abs=0.05)
    transcript = json.loads((archive.folder(session.id) / "transcripts" / "v1.json").read_text())
    assert [s["start"] for s in transcript["segments"]] == pytest.approx(truth, abs=0.05)


class _Broken:
    processed = 0.0

    def feed(self, pcm):
        raise RuntimeError("model crashed")

    def finish(self):
        raise AssertionError("finish() after a failed feed()")


def test_asr_failure_never_stops_the_recording(archive_home, beeps8):
    home, archive = archive_home
    src, truth = beeps8
    fake = BeepTranscriber()
    live = start_live(home, archive, RecordRequest(audio=str(src), realtime=False), fake, "tester",
                      stream=lambda *args, **kwargs: _Broken())
    assert live.wait(30)
    session = archive.get(live.session_id)
    assert session.status == "complete" and session.duration == pytest.approx(8.0, abs=0.05)
    done = next(e for e in archive.audit_entries(session.id) if e.action == "record.complete")
    assert "model crashed" in done.details["asr_error"]
    transcript = json.loads((archive.folder(session.id) / "transcripts" / "v1.json").read_text())
    assert [s["start"] for s in transcript["segments"]] == pytest.approx(truth, abs=0.05)  # done offline


@pytest.mark.parametrize("video_delay, low, high", [
    (0.0, -0.05, 0.25),    # measured +0.06 to +0.08 s here: the picture reaches us later than the sound
    (0.5, -0.55, -0.25),   # a camera delay set: the picture moved 0.5 s earlier
])
def test_separate_live_audio_and_video_sources_share_the_audio_clock(archive_home, video_delay, low, high):
    """Audio from one network stream (pumped through Python), video from another, both sent by one
    encoder that beeps and flashes at the same instants: the wall clock lines them up in the MP4, and
    --video-delay moves the picture by what it says."""
    home, archive = archive_home
    p1, p2 = 21000 + os.getpid() % 10000, 31000 + os.getpid() % 10000
    flash = "between(mod(t-1\\,2)\\,0\\,0.079)"
    beep = "between(mod(t-1\\,2)\\,0\\,0.06)"
    publisher = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re",
         "-f", "lavfi", "-i", f"color=c=black:s=320x240:r=25,drawbox=t=fill:c=white:enable='{flash}'",
         "-f", "lavfi", "-i", f"aevalsrc='if({beep}\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000", "-t", "40",
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-c:a", "aac",
         "-map", "0:v", "-map", "1:a", "-f", "tee",
         f"[f=mpegts]udp://127.0.0.1:{p1}?pkt_size=1316|[f=mpegts]udp://127.0.0.1:{p2}?pkt_size=1316"])
    try:
        time.sleep(0.5)
        live = start_live(home, archive, RecordRequest(audio=f"udp://127.0.0.1:{p1}",
                                                       video=f"udp://127.0.0.1:{p2}", duration=9.0,
                                                       video_delay=video_delay),
                          None, "tester", stream=beep_stream())
        assert not live.plan.shared
        assert live.wait(40)
        session = live.stop()
    finally:
        publisher.kill()
        publisher.wait()
    assert session.status == "complete", session.error
    flashes, beeps = onsets(archive.folder(session.id) / session.file("original").path)
    assert len(flashes) >= 2 and len(beeps) >= 4
    offsets = [min((f - b for b in beeps), key=abs) for f in flashes]
    assert all(low <= o <= high for o in offsets), offsets


def test_two_microphones_one_channel_each(pulse, archive_home, tmp_path):
    """Two PyAudio devices ('pulse' and 'default' both reach the null sink here), merged sample by sample."""
    import av

    from capture.devices import microphones

    if not any(d.name == "default" for d in microphones()):
        pytest.skip("PyAudio has no second device ('default') here")
    home, archive = archive_home
    rate = 48000
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(int(0.1 * rate)) / rate)
    wav = np.zeros((2, 4 * rate), dtype=np.float32)
    wav[:, 2 * rate:2 * rate + len(tone)] = tone
    write_wav(tmp_path / "beep.wav", wav, rate)
    live = start_live(home, archive, RecordRequest(audio="pulse+default", speakers=("officer", "suspect"),
                                                   duration=6.0), None, "tester", stream=beep_stream())
    player = play(tmp_path / "beep.wav", pulse)
    assert live.wait(40)
    session = live.stop()
    player.wait(10)
    stats = live.recorder.stats()
    assert session.status == "complete", session.error
    assert live.plan.channels == 2 and stats["overflows"] == 0 and stats["dropped"] == 0
    assert stats["frames_written"] == 6 * stats["rate"]
    with av.open(str(archive.folder(session.id) / session.file("original").path)) as c:
        assert c.streams.audio[0].codec_context.channels == 2
    segs = json.loads((archive.folder(session.id) / "transcripts" / "v1.json").read_text())["segments"]
    assert len(segs) == 1 and segs[0]["speaker"] in ("officer", "suspect")   # heard on both: once


def test_a_crash_while_closing_is_recovered_too(archive_home, beeps8):
    """Killed between 'finalising' and 'complete': the segments are still there, the join is done again."""
    from capture.segments import segment_files

    home, archive = archive_home
    src, truth = beeps8
    live = start_live(home, archive, RecordRequest(audio=str(src), realtime=False), None, "tester",
                      stream=beep_stream())
    live.recorder.wait(20)
    folder = archive.folder(live.session_id)
    # what a crash in the middle of closing leaves: status finalising, segments, no MP4, the writer gone
    import shutil

    copy = folder.parent / "copy-live"
    shutil.copytree(folder / "live", copy)
    live.wait(20)
    sid = live.session_id
    archive.conn.execute("DELETE FROM media WHERE session_id = ?", (sid,))
    archive.conn.execute("DELETE FROM transcripts WHERE session_id = ?", (sid,))
    archive.update_session(sid, status="finalising")
    from archive.fsutil import remove_tree

    remove_tree(folder / "original")
    remove_tree(folder / "transcripts")
    remove_tree(folder / "live")
    shutil.copytree(copy, folder / "live")
    assert segment_files(folder / "live")
    assert archive.recover() == []
    assert recover_recordings(home, archive, BeepTranscriber(), "tester") == [sid]
    session = archive.get(sid)
    assert session.status == "complete" and session.file("original") and session.latest.version == 1
    transcript = json.loads((folder / "transcripts" / "v1.json").read_text())
    assert [s["start"] for s in transcript["segments"]] == pytest.approx(truth, abs=0.05)
