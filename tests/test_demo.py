"""`xunlu demo`, the README's main job: a sample interview recorded live, transcribed, indexed, searchable.

The default sample is Mandarin, made of AISHELL-1 recordings shipped with the project (a user's fresh machine
has no ../shared/speech); `--lang en` is the English espeak-ng sample."""
from __future__ import annotations

import json
import sys
import wave
from fnmatch import fnmatch

import numpy as np
import pytest
from helpers.cli import ROOT, xunlu

from cli.demo_sample import CLIPS, OFFICER, SUSPECT, clip_path, load_clip, make_interview

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def test_the_shipped_mandarin_clips_decode_to_16_khz_speech():
    for clip in CLIPS:
        pcm = load_clip(clip)
        seconds = len(pcm) / 16000
        assert 3.5 < seconds < 9, (clip.utterance, seconds)      # the AISHELL-1 utterances are 4.2-6.4 s
        assert np.sqrt(np.mean(pcm ** 2)) > 0.005, clip.utterance  # speech (31-40 dB down), not silence
    assert sum(clip_path(c).stat().st_size for c in CLIPS) < 1_000_000
    assert {c.channel for c in CLIPS} == {OFFICER, SUSPECT}


def test_the_clips_are_package_data_and_credited_in_the_readme():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["cli"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "AISHELL-1" in readme and "Apache-2.0" in readme
    for clip in CLIPS:
        relative = clip_path(clip).relative_to(ROOT / "cli").as_posix()
        assert any(fnmatch(relative, pattern) for pattern in package_data), relative
        assert clip.utterance in readme


def test_the_mandarin_interview_puts_each_voice_on_its_own_microphone(tmp_path):
    lines = make_interview(tmp_path / "zh.wav")
    with wave.open(str(tmp_path / "zh.wav")) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 16000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2).astype(np.float32)
    assert [line.text for line in lines] == [c.text for c in CLIPS]
    for line in lines:
        part = pcm[int(line.start * 16000):int(line.end * 16000)]
        own, other = np.sqrt(np.mean(part ** 2, axis=0))[[line.channel, 1 - line.channel]]
        assert 15 < 20 * np.log10(own / other) < 25       # the other microphone hears it 20 dB down


@pytest.mark.model
def test_the_mandarin_demo_finds_the_name_the_place_and_the_number(tmp_path):
    home = tmp_path / "home"
    done = xunlu("demo", "--no-serve", "--fast", home=home, timeout=600)
    assert done.returncode == 0, done.stderr
    sid = done.stdout.strip().splitlines()[-1]
    assert "officer:" in done.stderr and "suspect:" in done.stderr
    assert "xunlu search 张伟" in done.stderr

    session = json.loads(xunlu("session", sid, home=home).stdout)
    assert session["status"] == "complete"
    assert xunlu("verify", sid, home=home).returncode == 0

    lines = make_interview(tmp_path / "again.wav")
    said_in = {word: next(line for line in lines if word in line.text)
               for word in ("张伟", "南沙区", "广州")}
    said_in["2016"] = next(line for line in lines if "二零一六" in line.text)
    for query, line in said_in.items():
        hits = [json.loads(h) for h in xunlu("search", query, "--json", home=home).stdout.splitlines()]
        assert hits, f"{query} not found"
        hit = hits[0]
        assert hit["session"] == sid and hit["match"] == "exact"
        assert hit["speaker"] == ("officer" if line.channel == OFFICER else "suspect")
        assert line.start - 1.0 <= hit["start"] <= line.end, (query, hit, line)   # lands in that sentence


@pytest.mark.model
def test_the_english_demo_records_the_sample_live_and_makes_it_searchable(tmp_path):
    home = tmp_path / "home"
    done = xunlu("demo", "--no-serve", "--fast", "--lang", "en", home=home, timeout=600)
    assert done.returncode == 0, done.stderr
    sid = done.stdout.strip().splitlines()[-1]
    assert sid.startswith("s-")
    assert "officer:" in done.stderr and "suspect:" in done.stderr  # the live transcript, by speaker
    assert "xunlu search warehouse" in done.stderr

    session = json.loads(xunlu("session", sid, home=home).stdout)
    assert session["status"] == "complete"
    assert [m["role"] for m in session["media"]] == ["original"]
    assert xunlu("verify", sid, home=home).returncode == 0

    hits = [json.loads(line) for line in xunlu("search", "warehouse", "--json", home=home).stdout.splitlines()]
    assert {h["speaker"] for h in hits} == {"officer", "suspect"}  # the sample says it once on each side
    assert all(h["session"] == sid for h in hits)


def test_the_demo_speaks_mandarin_or_english_only(tmp_path):
    done = xunlu("demo", "--no-serve", "--lang", "fr", home=tmp_path / "home", timeout=60)
    assert done.returncode == 2
    assert "--lang 'fr'" in done.stderr
