"""End to end with the real Whisper base model on the shared clips (../shared/speech)."""
import json

import numpy as np
import pytest
from helpers.cli import ffmpeg, xunlu
from helpers.speech import RATE, SPEECH, manifest, read_wav, room_tone, write_wav

from asr.engine import collect
from asr.scoring import cer, wer
from asr.types import TranscribeOptions
from core.textnorm import to_simplified

pytestmark = pytest.mark.model

MANDARIN = "aishell/BAC009S0150W0122.wav"
ENGLISH = "misc/wenet_librispeech_1995-1837-0001.wav"
STEREO = "misc/stereo_diarization.wav"


def run(transcriber, path, **options):
    segments, info = transcriber.transcribe(str(path), TranscribeOptions(**options))
    return collect(segments, info)


def check_times(t):
    for seg in t.segments:
        assert 0 <= seg.start <= seg.end <= t.duration
        for w in seg.words:
            assert seg.start <= w.start <= w.end <= seg.end + 1e-6
        assert [w.start for w in seg.words] == sorted(w.start for w in seg.words)


def test_mandarin_sentence(transcriber):
    ref = manifest()[MANDARIN]["reference"]
    t = run(transcriber, SPEECH / MANDARIN, language="zh")
    text = "".join(s.text for s in t.segments)
    errors, n = cer(ref, text)
    assert errors / n <= 0.2, text
    assert to_simplified(text) == text
    assert t.language == "zh" and t.model == "whisper-base-int8"
    assert all(s.speaker is None and s.channel == 0 for s in t.segments)
    check_times(t)
    assert all(s.words for s in t.segments)


def test_mandarin_from_other_speakers_is_simplified(transcriber):
    for clip in ("misc/wenet_aishell_BAC009S0724W0121.wav", "misc/fr_aishell1_BAC009S0764W0121.wav"):
        t = run(transcriber, SPEECH / clip, language="zh")
        text = "".join(s.text for s in t.segments)
        assert text and to_simplified(text) == text
        errors, n = cer(manifest()[clip]["reference"], text)
        assert errors / n <= 0.35, (clip, text)


def test_english_sentence(transcriber):
    t = run(transcriber, SPEECH / ENGLISH, language="en")
    errors, n = wer(manifest()[ENGLISH]["reference"], " ".join(s.text for s in t.segments))
    assert errors / n <= 0.2
    check_times(t)


def test_language_auto_detects(transcriber):
    assert run(transcriber, SPEECH / MANDARIN, language=None).language == "zh"
    assert run(transcriber, SPEECH / "misc/fw_jfk.flac", language=None).language == "en"


def test_two_channels_are_two_speakers(transcriber):
    t = run(transcriber, SPEECH / STEREO, language="en", speakers=("officer", "suspect"))
    by_speaker = {}
    for seg in t.segments:
        assert (seg.speaker, seg.channel) in {("officer", 0), ("suspect", 1)}
        by_speaker.setdefault(seg.speaker, []).append(seg.text)
    left = manifest()["misc/fw_stereo_diarization_left.wav"]["reference"]
    right = manifest()["misc/fw_stereo_diarization_right.wav"]["reference"]
    assert wer(left, " ".join(by_speaker["officer"]))[0] <= 3
    assert wer(right, " ".join(by_speaker["suspect"]))[0] <= 2
    check_times(t)


def test_crosstalk_is_not_transcribed_twice(transcriber, tmp_path):
    """Each microphone hears the other person 18 dB down: every sentence appears once, on its own channel."""
    a = read_wav(SPEECH / "misc/fw_stereo_diarization_left.wav")[0]
    b = read_wav(SPEECH / "misc/fw_stereo_diarization_right.wav")[0]
    gap = np.zeros(int(1.5 * RATE), dtype=np.float32)
    officer = np.concatenate([gap, a, gap, np.zeros_like(b), gap])
    suspect = np.concatenate([gap, np.zeros_like(a), gap, b, gap])
    leak, delay = 10 ** (-18 / 20), 40
    ch0 = officer + leak * np.roll(suspect, delay)
    ch1 = suspect + leak * np.roll(officer, delay)
    path = write_wav(tmp_path / "room.wav", np.stack([ch0, ch1]))
    t = run(transcriber, path, language="en", speakers=("officer", "suspect"))
    texts = {"officer": " ".join(s.text for s in t.segments if s.speaker == "officer"),
             "suspect": " ".join(s.text for s in t.segments if s.speaker == "suspect")}
    assert "horizon" not in texts["officer"].lower()
    assert "wizard" not in texts["suspect"].lower()
    assert "wizard" in texts["officer"].lower() and "horizon" in texts["suspect"].lower()
    suspect_start = (len(gap) * 2 + len(a)) / RATE
    assert all(s.start >= suspect_start - 0.5 for s in t.segments if s.speaker == "suspect")


def test_a_minute_of_room_tone_gives_no_segments(transcriber, tmp_path):
    path = write_wav(tmp_path / "tone.wav", room_tone(60.0))
    assert run(transcriber, path, language="zh").segments == ()


def test_digital_silence_gives_no_segments(transcriber, tmp_path):
    path = write_wav(tmp_path / "silence.wav", np.zeros(10 * RATE, dtype=np.float32))
    assert run(transcriber, path, language="zh").segments == ()


@pytest.mark.parametrize("ext,codec", [("flac", ["-c:a", "flac"]), ("mp3", ["-c:a", "libmp3lame"]),
                                       ("m4a", ["-c:a", "aac"]), ("mkv", ["-c:a", "libopus"]),
                                       ("ts", ["-c:a", "aac"])])
def test_any_container_ffmpeg_reads(transcriber, tmp_path, ext, codec):
    path = tmp_path / f"clip.{ext}"
    ffmpeg("-i", str(SPEECH / MANDARIN), *codec, str(path))
    t = run(transcriber, path, language="zh")
    errors, n = cer(manifest()[MANDARIN]["reference"], "".join(s.text for s in t.segments))
    assert errors / n <= 0.25


def test_video_file_with_speech(transcriber, tmp_path):
    path = tmp_path / "interview.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=11:size=160x120:rate=10", "-i", str(SPEECH / "misc/fw_jfk.flac"),
           "-shortest", "-c:v", "mpeg4", "-c:a", "aac", str(path))
    t = run(transcriber, path, language="en")
    assert "ask not what your country" in " ".join(s.text for s in t.segments).lower()
    check_times(t)


def test_batched_pipeline_gives_the_same_words(transcriber):
    t = run(transcriber, SPEECH / MANDARIN, language="zh", batch_size=4)
    errors, n = cer(manifest()[MANDARIN]["reference"], "".join(s.text for s in t.segments))
    assert errors / n <= 0.2
    check_times(t)


def test_cli_json_contract_and_output_file(home, tmp_path):
    out = tmp_path / "t.json"
    result = xunlu("transcribe", str(SPEECH / STEREO), "--language", "en", "--speakers", "officer,suspect",
                   "-o", str(out), home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    data = json.loads(out.read_text(encoding="utf-8"))
    # the contract's keys, and the optional record of what reproduces the transcript
    assert set(data) == {"session", "language", "model", "duration", "version", "segments", "reproduce"}
    assert data["version"] == 1 and data["language"] == "en" and data["model"] == "whisper-base-int8"
    assert data["duration"] == pytest.approx(5.0, abs=0.05)
    assert [s["id"] for s in data["segments"]] == list(range(len(data["segments"])))
    assert {s["speaker"] for s in data["segments"]} == {"officer", "suspect"}
    for s in data["segments"]:
        assert set(s) == {"id", "start", "end", "speaker", "channel", "text", "words"}
        assert set(s["words"][0]) == {"start", "end", "text", "p"}


def test_cli_prints_subtitles_to_stdout(home):
    result = xunlu("transcribe", str(SPEECH / "misc/fw_jfk.flac"), "--language", "en", "--format", "vtt",
                   home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("WEBVTT\n\n00:00:0")
    assert "ask not what your country" in result.stdout.lower()


def test_cli_format_follows_the_output_suffix(home, tmp_path):
    out = tmp_path / "t.srt"
    result = xunlu("transcribe", str(SPEECH / "misc/fw_jfk.flac"), "-l", "en", "-o", str(out), home=home)
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("1\n00:00:")


def test_language_default_comes_from_config(tmp_path, home):
    cfg_home = tmp_path / "cfg-home"
    cfg_home.mkdir()
    (cfg_home / "config.toml").write_text('language = "en"\n')
    (cfg_home / "models").symlink_to(home / "models")
    result = xunlu("transcribe", str(SPEECH / "misc/fw_jfk.flac"), "-f", "txt", home=cfg_home)
    assert result.returncode == 0, result.stderr
    assert "country" in result.stdout


def test_progress_bar_for_files_longer_than_a_minute(home, tmp_path):
    clip = read_wav(SPEECH / MANDARIN)[0]
    long = np.concatenate([clip, room_tone(58.0)])
    path = write_wav(tmp_path / "long.wav", long)
    result = xunlu("transcribe", str(path), "-f", "txt", home=home, env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    assert "转写 long.wav" in result.stderr and "/65 s" in result.stderr
    short = xunlu("transcribe", str(SPEECH / MANDARIN), "-f", "txt", home=home)
    assert short.stderr == ""


def test_cli_writes_a_docx_record(home, tmp_path):
    import docx

    out = tmp_path / "笔录.docx"
    result = xunlu("transcribe", str(SPEECH / STEREO), "-l", "en", "--speakers", "officer,suspect", "-o", str(out),
                   home=home)
    assert result.returncode == 0, result.stderr
    text = "\n".join(p.text for p in docx.Document(str(out)).paragraphs)
    assert "讯问笔录" in text and "问：" in text and "答：" in text and "horizon" in text.lower()
