"""Bad input gets one clear line on stderr, exit code 2, no traceback and nothing at the output path."""
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import ffmpeg, xunlu
from helpers.speech import SPEECH, write_wav

CLIP = SPEECH / "misc" / "fw_jfk.flac"


def assert_clean_failure(result, out: Path, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("xunlu: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert not out.exists()
    assert result.stdout == ""


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out.json"


def test_missing_file(tmp_path, home, out):
    result = xunlu("transcribe", str(tmp_path / "nope.wav"), "-o", str(out), home=home)
    assert_clean_failure(result, out, "no such file")


def test_directory(tmp_path, home, out):
    result = xunlu("transcribe", str(tmp_path), "-o", str(out), home=home)
    assert_clean_failure(result, out, "directory")


def test_text_file_renamed_wav(tmp_path, home, out):
    fake = tmp_path / "notes.wav"
    fake.write_text("讯问笔录 这不是音频\n" * 50, encoding="utf-8")
    result = xunlu("transcribe", str(fake), "-o", str(out), home=home)
    assert_clean_failure(result, out, "not a media file")


def test_zero_length_file(tmp_path, home, out):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    result = xunlu("transcribe", str(empty), "-o", str(out), home=home)
    assert_clean_failure(result, out, "empty")


def test_video_without_audio(tmp_path, home, out):
    video = tmp_path / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10", "-an", str(video))
    result = xunlu("transcribe", str(video), "-o", str(out), home=home)
    assert_clean_failure(result, out, "no audio stream")


def test_unknown_language(home, out):
    result = xunlu("transcribe", str(CLIP), "--language", "klingon", "-o", str(out), home=home)
    assert_clean_failure(result, out, "unknown language code 'klingon'")


def test_unknown_model(home, out):
    result = xunlu("transcribe", str(CLIP), "--model", "whisper-huge-9", "-o", str(out), home=home)
    assert_clean_failure(result, out, "unknown model")


def test_speakers_that_do_not_match_the_channels(tmp_path, home, out):
    mono = write_wav(tmp_path / "mono.wav", np.zeros(16000, dtype=np.float32))
    result = xunlu("transcribe", str(mono), "--speakers", "officer,suspect", "-o", str(out), home=home)
    assert_clean_failure(result, out, "2 speaker(s)", "1 audio channel(s)")


def test_truncated_media_file(tmp_path, home, out):
    full = tmp_path / "full.m4a"
    ffmpeg("-i", str(CLIP), "-c:a", "aac", str(full))
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(full.read_bytes()[:200])
    result = xunlu("transcribe", str(cut), "-o", str(out), home=home)
    assert_clean_failure(result, out)


def test_unknown_format(home, out):
    result = xunlu("transcribe", str(CLIP), "--format", "pdf", "-o", str(out), home=home)
    assert_clean_failure(result, out, "unknown format 'pdf'")


def test_existing_output_is_untouched_on_failure(tmp_path, home):
    out = tmp_path / "keep.srt"
    out.write_text("earlier work\n")
    result = xunlu("transcribe", str(tmp_path / "missing.wav"), "-o", str(out), home=home)
    assert result.returncode == 2
    assert out.read_text() == "earlier work\n"


def test_docx_needs_an_output_file(home):
    result = xunlu("transcribe", str(CLIP), "--format", "docx", home=home)
    assert result.returncode == 2 and "-o FILE.docx" in result.stderr and result.stdout == ""
