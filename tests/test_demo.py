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

from cli.demo_sample import CLIPS, LINES, OFFICER, PHONE, PHONE_NUMBER, SUSPECT, clip_path, load_clip, make_interview

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def test_the_shipped_mandarin_clips_decode_to_16_khz_speech():
    for clip in CLIPS:
        pcm = load_clip(clip)
        seconds = len(pcm) / 16000
        if clip.part:                                             # four digits cut from a sentence
            assert 0.7 < seconds < 1.4, (clip.part, seconds)
        else:
            assert 3.5 < seconds < 9, (clip.utterance, seconds)  # the AISHELL-1 utterances are 4.2-6.4 s
        assert np.sqrt(np.mean(pcm ** 2)) > 0.005, clip.utterance  # speech (31-40 dB down), not silence
    assert sum(clip_path(c).stat().st_size for c in CLIPS) < 1_000_000
    assert {c.channel for c in CLIPS} == {OFFICER, SUSPECT}
    assert all(len({c.channel for c in said}) == 1 for said in LINES)    # a line is one voice


def test_the_phone_number_is_one_voice_reading_two_groups_of_four_digits():
    assert len({(c.channel, c.utterance) for c in PHONE}) == 1
    assert [c.part for c in PHONE] == [PHONE_NUMBER[:4], PHONE_NUMBER[4:]]
    digits = str.maketrans("零一二三四五六七八九", "0123456789")
    assert "".join(c.text for c in PHONE).translate(digits) == PHONE_NUMBER


def test_the_clips_are_package_data_and_credited_in_the_readme():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["cli"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "AISHELL-1" in readme and "Apache-2.0" in readme
    for clip in CLIPS:
        relative = clip_path(clip).relative_to(ROOT / "cli").as_posix()
        assert any(fnmatch(relative, pattern) for pattern in package_data), relative
        assert clip.utterance in readme
        assert not clip.part or clip_path(clip).name in readme    # a part cut is named as cut


def test_the_mandarin_interview_puts_each_voice_on_its_own_microphone(tmp_path):
    lines = make_interview(tmp_path / "zh.wav")
    with wave.open(str(tmp_path / "zh.wav")) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 16000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2).astype(np.float32)
    assert [line.text for line in lines] == ["".join(c.text for c in said) for said in LINES]
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
    assert f"xunlu search {PHONE_NUMBER}" in done.stderr and f"xunlu search 尾号{PHONE_NUMBER[-4:]}" in done.stderr

    session = json.loads(xunlu("session", sid, home=home).stdout)
    assert session["status"] == "complete"
    assert xunlu("verify", sid, home=home).returncode == 0

    def search(query):
        return [json.loads(h) for h in xunlu("search", query, "--json", home=home).stdout.splitlines()]

    def lands(hit, line):   # in that sentence, on that microphone
        return (hit["session"] == sid and hit["speaker"] == ("officer" if line.channel == OFFICER else "suspect")
                and line.start - 1.0 <= hit["start"] <= line.end)

    lines = make_interview(tmp_path / "again.wav")
    phone = next(line for line in lines if line.text == "".join(c.text for c in PHONE))
    said_in = {word: next(line for line in lines if word in line.text) for word in ("张伟", "南沙区", "广州")}
    said_in |= {query: phone for query in (PHONE_NUMBER, "尾号" + PHONE_NUMBER[-4:], PHONE_NUMBER[-4:])}
    for query, line in said_in.items():
        hits = search(query)
        assert hits, f"{query} not found"
        assert hits[0]["match"] == "exact" and lands(hits[0], line), (query, hits[0], line)
    year = next(line for line in lines if "二零一六年" in line.text)     # 2016: the year, and the number's head
    assert {(lands(h, year), lands(h, phone)) for h in search("2016")} == {(True, False), (False, True)}


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
