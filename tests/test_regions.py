"""Offline decoding region by region: nothing sampled, every region the VAD heard accounted for (its words or
one segment marked unintelligible), the same JSON twice, and what reproduces it recorded in it."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
from helpers.cli import xunlu
from helpers.speech import RATE, SPEECH, manifest, read_wav

from asr.engine import Transcriber, collect
from asr.scoring import cer
from asr.types import TranscribeOptions

CLIP = "aishell/BAC009S0150W0122.wav"      # 7.2 s, speech to about 6.7 s


class ScriptedModel:
    """Answers each decode with `answer(audio_seconds, call_number)`: a list of segments (times relative to
    the audio it is handed, like faster-whisper)."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def transcribe(self, audio, **kwargs):
        self.calls.append((len(audio) / RATE, kwargs))
        return iter(self.answer(len(audio) / RATE, len(self.calls))), SimpleNamespace()

    def detect_language(self, audio):
        return "zh", 0.99


def fw_segment(text, start, step):
    words = [SimpleNamespace(start=start + i * step, end=start + (i + 1) * step, word=ch, probability=0.8)
             for i, ch in enumerate(text)]
    return SimpleNamespace(start=words[0].start, end=words[-1].end, text=text, words=words, avg_logprob=-0.3,
                           compression_ratio=1.2)


def speech(seconds=3.0):
    return read_wav(SPEECH / CLIP)[0][: int(seconds * RATE)]


def run(model, audio, **options):
    segments, info = Transcriber(model, "scripted").transcribe_array(audio, TranscribeOptions(language="zh",
                                                                                              **options))
    return collect(segments, info), info


def test_a_region_nothing_can_be_read_from_is_one_segment_marked_unintelligible():
    model = ScriptedModel(lambda seconds, n: [])
    audio = np.concatenate([np.zeros(RATE, dtype=np.float32), speech()])
    t, info = run(model, audio)
    assert [s.text for s in t.segments] == ["[听不清]"]
    seg = t.to_dict()["segments"][0]
    assert seg["unintelligible"] is True and seg["words"] == []
    from asr.vad import speech_regions

    heard = speech_regions(audio)[0]   # the speech's own start and end, not the padding around it
    assert (seg["start"], seg["end"]) == (round(heard.onset_s, 2), round(heard.spans[-1][1] / RATE, 2))
    assert 1.0 < seg["start"] < 2.0 and seg["end"] > 3.0
    assert info.coverage.as_dict() == {"regions": 1, "decoded": 1, "retried": 1, "with_words": 0,
                                       "unintelligible": 1}
    # the retry: the region alone, on the 30 s window, after the zh prompt
    assert len(model.calls) >= 2 and model.calls[-1][1]["initial_prompt"].startswith("以下是普通话的句子")


def test_every_region_ends_with_words_or_a_marker_and_only_the_marker_has_the_key():
    clip = speech()
    audio = np.concatenate([clip, np.zeros(4 * RATE, dtype=np.float32), clip])
    # the model reads the first region (its first decode) and nothing after it
    model = ScriptedModel(lambda seconds, n: [fw_segment("就是根据经济体", 0.5, 0.3)] if n == 1 else [])
    t, info = run(model, audio)
    texts = [s.text for s in t.segments]
    assert texts == ["就是根据经济体", "[听不清]"]
    assert t.segments[1].start >= 7.0
    cov = info.coverage
    assert cov.regions == 2 and cov.with_words + cov.unintelligible == cov.regions and cov.unintelligible == 1
    data = t.to_dict()
    assert "unintelligible" not in data["segments"][0]
    assert set(data["segments"][0]) == {"id", "start", "end", "speaker", "channel", "text", "words"}


def test_the_cli_warns_when_speech_was_marked_unintelligible(capsys):
    from cli.transcribe import warn_unintelligible

    model = ScriptedModel(lambda seconds, n: [])
    t, info = run(model, np.concatenate([np.zeros(RATE, dtype=np.float32), speech()]))
    warn_unintelligible(t, info.coverage.regions)
    err = capsys.readouterr().err
    assert err.startswith("xunlu: warning: 1 of 1 speech region(s)") and "[听不清]" in err and "00:00:01" in err
    warn_unintelligible(run(ScriptedModel(lambda s, n: [fw_segment("就是根据经济体", 0.5, 0.3)]), speech())[0])
    assert capsys.readouterr().err == ""


def test_a_channel_is_decoded_as_its_joined_speech_at_temperature_0_and_a_region_left_without_text_alone():
    clip = speech()
    audio = np.concatenate([clip, np.zeros(4 * RATE, dtype=np.float32), clip])
    # the long-form decode of the joined speech gives text for the first region only
    model = ScriptedModel(lambda seconds, n: [fw_segment("就是根据经济体", 0.5, 0.3)])
    t, info = run(model, audio)
    assert model.calls and all(kw.get("temperature") == 0.0 for _, kw in model.calls)
    assert all(kw["condition_on_previous_text"] is False for _, kw in model.calls)
    first = model.calls[0]
    assert first[0] > 5.0 and first[1]["word_timestamps"] is False     # both regions, one decode
    assert 2.5 < model.calls[1][0] < 4.0                                # then the second region alone
    assert [s.text for s in t.segments] == ["就是根据经济体", "就是根据经济体"]
    assert t.segments[1].start > 7.0 and info.coverage.retried == 1


def test_speech_after_the_last_word_is_decoded_on_from_there():
    # one region of two sentences 1 s apart; the first decode stops after the first sentence
    clip = speech()
    audio = np.concatenate([clip, np.zeros(RATE, dtype=np.float32), clip])
    # (the second decode is handed the region's first part again before the rest: its words come last)
    answers = {1: lambda s: [fw_segment("就是根据经济体", 0.5, 0.3)], 2: lambda s: [fw_segment("自身情况", s - 2.5, 0.3)]}
    model = ScriptedModel(lambda seconds, n: answers[n](seconds) if n in answers else [])
    t, info = run(model, audio)
    assert [s.text for s in t.segments] == ["就是根据经济体", "自身情况"]
    assert t.segments[1].start >= 3.0
    assert info.coverage.retried == 1 and info.coverage.unintelligible == 0


def windowed(seek_s, text, start, end):
    """A long-form segment of the window that starts at `seek_s`, its words spread over start..end."""
    from faster_whisper.transcribe import Segment, Word

    step = (end - start) / len(text)
    words = [Word(start + i * step, start + (i + 1) * step, ch, 0.8) for i, ch in enumerate(text)]
    return Segment(0, int(round(seek_s * 100)), start, end, text, [], -0.3, 1.2, 0.1, words, 0.0)


def test_a_window_that_loops_leaves_no_copy_and_no_speech_decoded_twice():
    from asr.longform import once_each

    # the first window says 甲 and 乙, then loops: 甲 again at its last frame, with no length, and 丙 pushed
    # past 27.5 s, where the next window starts and decodes 丙 again from its audio
    first = [windowed(0, "甲甲", 1.0, 3.0), windowed(0, "乙乙", 4.0, 6.0), windowed(0, "丙丙", 27.5, 29.98),
             windowed(0, "甲甲", 29.98, 29.98)]
    second = [windowed(27.5, "丙丁", 27.5, 31.0), windowed(27.5, "戊戊", 33.0, 35.0)]
    assert [s.text for s in once_each(first + second)] == ["甲甲", "乙乙", "丙丁", "戊戊"]
    # a window that ends inside a sentence, and the next one starting a little before its last words end
    ending = [windowed(0, "与国际奥委会", 23.0, 26.0)]
    starting = [windowed(24.5, "奥委会基于法律", 24.5, 28.0)]
    assert [s.text for s in once_each(ending + starting)] == ["与国际奥委会", "基于法律"]
    # but a first word that says something new stays, though the last word before it was aligned over the pause
    stretched = [windowed(0, "人口数量的百分之一", 20.0, 28.0), windowed(27.0, "购房者主要集中在", 27.0, 31.0)]
    assert [s.text for s in once_each(stretched)] == ["人口数量的百分之一", "购房者主要集中在"]
    # a window that does not loop keeps every segment: each begins before the next window does
    calm = [windowed(0, "甲甲", 1.0, 3.0), windowed(0, "乙乙", 25.0, 27.5), windowed(27.5, "丙丁", 27.5, 31.0)]
    assert once_each(calm) == calm


def test_a_loop_at_the_end_of_the_long_form_decode_writes_nothing_at_one_instant():
    clip = speech()
    audio = np.concatenate([clip, np.zeros(4 * RATE, dtype=np.float32), clip])
    # the long-form decode reads the first region, then loops: text with no length (its words found no audio)
    # at the second region's onset, which the region's own decode does not hear
    answers = {1: lambda s: [fw_segment("就是根据经济体", 0.5, 0.3), windowed(0, "自身情况", 3.8, 3.8)]}
    model = ScriptedModel(lambda seconds, n: answers[n](seconds) if n in answers else [])
    t, info = run(model, audio)
    assert all(s.end > s.start for s in t.segments)
    assert [s.text for s in t.segments] == ["就是根据经济体", "[听不清]"]
    assert info.coverage.retried == 1


@pytest.mark.model
def test_the_same_audio_gives_the_same_json_and_says_what_reproduces_it(transcriber):
    from models.store import BASE_SHA256

    path = SPEECH / CLIP
    runs = []
    for _ in range(2):
        segments, info = transcriber.transcribe(str(path), TranscribeOptions(language="zh"))
        runs.append(json.dumps(collect(segments, info).to_dict(), ensure_ascii=False))
    assert runs[0] == runs[1]
    data = json.loads(runs[0])
    rec = data["reproduce"]
    assert rec["model"]["name"] == "base" and rec["model"]["sha256"] == BASE_SHA256
    assert rec["device"] == "cpu" and rec["compute_type"] == "int8" and rec["cpu_threads"] >= 1
    assert rec["faster_whisper"] and rec["ctranslate2"] and rec["xunlu"]
    assert rec["options"]["beam_size"] == 5 and rec["options"]["initial_prompt"] == "以下是普通话的句子。"
    assert rec["decoding"]["temperature"] == 0.0 and rec["vad"]["threshold"] == 0.5
    assert cer(manifest()[CLIP]["reference"], "".join(s["text"] for s in data["segments"]))[0] <= 3


@pytest.mark.model
def test_nothing_is_written_after_the_speech_of_short_commands(transcriber):
    from asr.vad import speech_regions

    for clip in ("aishell/BAC009S0150W0005.wav", "aishell/BAC009S0150W0043.wav", "aishell/BAC009S0150W0017.wav"):
        audio = read_wav(SPEECH / clip)[0]
        end = speech_regions(audio)[-1].spans[-1][1] / RATE
        segments, info = transcriber.transcribe(str(SPEECH / clip), TranscribeOptions(language="zh"))
        t = collect(segments, info)
        assert t.segments, clip
        assert all(w.start <= end + 0.2 for s in t.segments for w in s.words), (clip, end, t.segments)


@pytest.fixture
def fresh(tmp_path, home, transcriber):
    h = tmp_path / "home"
    (h / "models").mkdir(parents=True)
    (h / "models" / "whisper-base").symlink_to(home / "models" / "whisper-base")
    return h


@pytest.mark.model
def test_a_version_is_reproduced_from_what_it_records(fresh, transcriber):
    from archive.store import Archive
    from service.transcribe import reproduce

    imported = xunlu("import", str(SPEECH / CLIP), home=fresh)
    assert imported.returncode == 0, imported.stderr
    sid = imported.stdout.strip()
    again = xunlu("transcribe", sid, "--reproduce", "1", home=fresh)
    assert again.returncode == 0, again.stderr
    assert "reproduced" in again.stdout and "identical" in again.stdout
    assert xunlu("transcribe", str(SPEECH / CLIP), "--reproduce", "1", home=fresh).returncode == 2
    assert xunlu("transcribe", sid, "--reproduce", "7", home=fresh).returncode == 2
    # another model's text: the differences, line by line
    other = Transcriber(ScriptedModel(lambda seconds, n: [fw_segment("完全不同的话", 0.5, 0.3)]), "scripted",
                        transcriber.provenance)
    archive = Archive(fresh)
    result = reproduce(archive, sid, 1, lambda name, device, ctype: other, "tester")
    assert not result.text_matches and not result.identical
    lines = result.diff.splitlines()
    assert any(x.startswith("+") and x.endswith("完全不同的话") for x in lines)
    assert any(x.startswith("-") and "上涨或者下跌" in x for x in lines)
    assert any(e.action == "transcript.reproduced" for e in archive.audit_entries(sid + "/v1"))


def test_a_batched_segment_running_over_two_regions_is_cut_between_them():
    from asr.engine import _by_region
    from core.transcript import Segment, Word

    words = (Word(1.0, 1.3, "就是", 0.9), Word(1.3, 1.6, "根据", 0.9), Word(5.1, 5.4, "经济", 0.9))
    seg = Segment(0, 1.0, 5.4, "就是根据经济", words)
    parts = _by_region(seg, [0.6, 4.8])            # regions start at 0.6 s and 4.8 s
    assert [(k, s.text, s.start, s.end) for k, s in parts] == [(0, "就是根据", 1.0, 1.6), (1, "经济", 5.1, 5.4)]


def test_a_long_channel_is_decoded_a_group_of_regions_at_a_time(monkeypatch):
    import asr.engine as engine

    clip = speech()
    gap = np.zeros(4 * RATE, dtype=np.float32)
    audio = np.concatenate([clip, gap, clip, gap, clip])          # three regions of about 3.4 s of speech
    monkeypatch.setattr(engine, "GROUP_S", 5.0)                   # two regions reach it: then a new group
    model = ScriptedModel(lambda seconds, n: [fw_segment("就是根据经济体", 0.5, 0.3)])
    t, info = run(model, audio)
    long_form = [seconds for seconds, kw in model.calls if kw["word_timestamps"] is False]
    assert len(long_form) == 2 and long_form[0] > 6.0 and long_form[1] < 4.0
    assert info.coverage.regions == 3 and info.coverage.unintelligible == 0
