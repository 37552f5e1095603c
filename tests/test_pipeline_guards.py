"""The pipeline applies the guards to whatever the model emits (a scripted model stands in for Whisper's
known failures, so each failure happens every time)."""
from types import SimpleNamespace

import numpy as np
from helpers.speech import RATE, SPEECH, read_wav

from asr.engine import Transcriber, collect
from asr.types import TranscribeOptions


class ScriptedModel:
    """Returns the given segments (times relative to the audio it is handed, like faster-whisper)."""

    def __init__(self, segments):
        self.segments = segments
        self.calls = []

    def transcribe(self, audio, **kwargs):
        self.calls.append((len(audio), kwargs))
        return iter(self.segments), SimpleNamespace(language=kwargs.get("language"))

    def detect_language(self, audio):
        return "zh", 0.99


def fw_segment(text, start, step):
    words = [SimpleNamespace(start=start + i * step, end=start + (i + 1) * step, word=ch, probability=0.8)
             for i, ch in enumerate(text)]
    return SimpleNamespace(start=words[0].start, end=words[-1].end, text=text, words=words, avg_logprob=-0.3,
                           compression_ratio=1.2)


def three_seconds_of_speech():
    return read_wav(SPEECH / "aishell/BAC009S0150W0122.wav")[0][: 3 * RATE]


def transcribe(model, audio):
    segments, info = Transcriber(model, "scripted").transcribe_array(audio, TranscribeOptions(language="zh"))
    return collect(segments, info)


def test_a_looping_transcript_of_a_3_second_clip_is_cut():
    looped = "變溫溫度設為兩度，變溫溫度設為兩度，變溫溫度設為兩度，變溫溫度"
    model = ScriptedModel([fw_segment(looped, 0.2, 0.09)])
    t = transcribe(model, three_seconds_of_speech())
    assert [s.text for s in t.segments] == ["变温温度设为两度，"]
    assert model.calls[0][1]["condition_on_previous_text"] is False
    assert model.calls[0][1]["initial_prompt"] == "以下是普通话的句子。"


def test_phantom_credits_are_dropped_but_speech_beside_them_is_kept():
    model = ScriptedModel([fw_segment("就是根据经济体", 0.3, 0.2), fw_segment("字幕由Amara.org社群提供", 1.9, 0.05)])
    t = transcribe(model, three_seconds_of_speech())
    assert [s.text for s in t.segments] == ["就是根据经济体"]


def test_nothing_ends_after_the_audio():
    model = ScriptedModel([fw_segment("就是根据经济体自身情况", 1.5, 0.2)])  # would run to 3.7 s of 3.0
    t = transcribe(model, three_seconds_of_speech())
    assert t.duration == 3.0
    assert all(s.end <= 3.0 and all(w.end <= 3.0 for w in s.words) for s in t.segments)


def test_silence_never_reaches_the_model():
    model = ScriptedModel([fw_segment("请不吝点赞订阅转发打赏支持明镜与点点栏目", 0.0, 0.1)])
    t = transcribe(model, np.zeros(30 * RATE, dtype=np.float32))
    assert t.segments == () and model.calls == []


def test_a_first_word_placed_in_the_silence_before_speech_is_moved_to_the_onset():
    clip = three_seconds_of_speech()
    audio = np.concatenate([np.zeros(2 * RATE, dtype=np.float32), clip])
    onset_in_clip = 0.3  # the model puts its first word 0.3 s into the padded audio it gets: before speech
    model = ScriptedModel([fw_segment("就是根据", onset_in_clip, 0.25)])
    t = transcribe(model, audio)
    first = t.segments[0].words[0]
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    true_onset = np.argmax(rms > 0.1 * rms.max()) * 0.01  # first 10 ms frame above a tenth of the peak
    assert 2.4 < true_onset < 2.7
    assert abs(first.start - true_onset) <= 0.1
    assert t.segments[0].start == first.start


def test_phantom_words_in_the_silence_after_speech_are_dropped():
    clip = read_wav(SPEECH / "aishell/BAC009S0150W0122.wav")[0]  # speech ends near 6.7 s of 7.2
    model = ScriptedModel([fw_segment("就是根据经济体自身情况决定房价上涨或者下跌", 0.5, 0.28),
                           fw_segment("那天", 6.9, 0.1)])  # joined-speech time: after the speech, in the pad
    t = transcribe(model, clip)
    assert [s.text for s in t.segments] == ["就是根据经济体自身情况决定房价上涨或者下跌"]


def test_segments_are_split_where_the_speaker_paused():
    clip = three_seconds_of_speech()
    pause = np.zeros(RATE, dtype=np.float32)  # 1 s: shorter than the VAD's 2 s chunking, longer than 0.8 s
    audio = np.concatenate([clip, pause, clip])
    # the model returns one segment running over both utterances (joined-speech times)
    first, second = fw_segment("就是根据经济体", 0.6, 0.3), fw_segment("就是根据经济体", 4.6, 0.3)
    joined = SimpleNamespace(start=first.start, end=second.end, text=first.text + second.text,
                             words=first.words + second.words, avg_logprob=-0.3, compression_ratio=1.2)
    model = ScriptedModel([joined])
    t = transcribe(model, audio)
    assert len(t.segments) == 2
    assert t.segments[1].start >= 3.0 + 0.9
