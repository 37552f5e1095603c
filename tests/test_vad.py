"""Channels = speakers: crosstalk from the other microphone is muted, simultaneous speech is kept."""
import numpy as np

from asr.vad import SAMPLE_RATE, channels_are_copies, crosstalk_gate, merge_spans, pad_regions


def voice(seconds: float, seed: int) -> np.ndarray:
    """Speech-like noise: random noise shaped by a 4 Hz syllable envelope."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.2 * rng.normal(0, 1, n) * envelope).astype(np.float32)


def place(total_s: float, clip: np.ndarray, at_s: float) -> np.ndarray:
    out = np.zeros(int(total_s * SAMPLE_RATE), dtype=np.float32)
    i = int(at_s * SAMPLE_RATE)
    out[i:i + len(clip)] = clip
    return out


def energy(x: np.ndarray, a_s: float, b_s: float) -> float:
    return float(np.mean(x[int(a_s * SAMPLE_RATE):int(b_s * SAMPLE_RATE)] ** 2))


def test_crosstalk_is_muted_on_the_quiet_microphone_only():
    officer = place(6, voice(2, 1), 0.5)
    suspect = place(6, voice(2, 2), 3.5)
    leak = 10 ** (-18 / 20)
    delay = 48  # 3 ms
    ch0 = officer + leak * np.roll(suspect, delay)
    ch1 = suspect + leak * np.roll(officer, delay)
    gated = crosstalk_gate(np.stack([ch0, ch1]))
    # each speaker stays whole on their own microphone
    assert energy(gated[0], 0.6, 2.4) > 0.9 * energy(ch0, 0.6, 2.4)
    assert energy(gated[1], 3.6, 5.4) > 0.9 * energy(ch1, 3.6, 5.4)
    # and is gone from the other one
    assert energy(gated[1], 0.7, 2.3) < 0.01 * energy(ch1, 0.7, 2.3)
    assert energy(gated[0], 3.7, 5.3) < 0.01 * energy(ch0, 3.7, 5.3)


def test_two_people_speaking_at_once_are_both_kept():
    a = place(4, voice(3, 3), 0.5)
    b = place(4, voice(3, 4), 0.5) * 0.5  # quieter, but a different voice
    gated = crosstalk_gate(np.stack([a, b]))
    assert energy(gated[1], 0.6, 3.4) > 0.9 * energy(b, 0.6, 3.4)
    assert energy(gated[0], 0.6, 3.4) > 0.9 * energy(a, 0.6, 3.4)


def test_identical_channels_keep_the_speech_once():
    a = place(3, voice(2, 5), 0.5)
    stereo = np.stack([a, a.copy()])
    assert channels_are_copies(stereo)
    gated = crosstalk_gate(stereo)
    assert energy(gated[0], 0.6, 2.4) > 0.9 * energy(a, 0.6, 2.4)
    assert energy(gated[1], 0.6, 2.4) < 0.01 * energy(a, 0.6, 2.4)


def test_distinct_channels_are_not_copies():
    assert not channels_are_copies(np.stack([voice(1, 6), voice(1, 7)]))


def test_padding_splits_short_gaps_and_keeps_onsets():
    pad = 400 * SAMPLE_RATE // 1000
    regions = pad_regions([((16000, 32000),), ((33000, 48000),)], 64000, 400)
    assert regions[0].start == 16000 - pad
    assert regions[0].end == regions[1].start == 32500  # the 1000-sample gap is split in the middle
    assert regions[1].end == 48000 + pad
    assert [r.onset for r in regions] == [16000, 33000]


def test_spans_closer_than_the_silence_limit_share_a_region():
    raw = [(0, 8000), (16000, 24000), (80000, 96000), (100000, 600000)]
    groups = merge_spans(raw, min_silence_ms=2000, max_speech_s=30.0)
    # 0.5 s pause: merged; 3.5 s pause: new region; merging would pass 30 s: new region
    assert groups == [((0, 8000), (16000, 24000)), ((80000, 96000),), ((100000, 600000),)]


def probabilities(total_s: float, speech: list[tuple[float, float]]) -> np.ndarray:
    """Silero-like probabilities, one per 512 samples: 0.67 inside the given stretches, 0.02 elsewhere."""
    from asr.silero import WINDOW

    t = np.arange(int(total_s * SAMPLE_RATE) // WINDOW + 1) * WINDOW / SAMPLE_RATE
    return np.where([any(a <= x < b for a, b in speech) for x in t], 0.67, 0.02).astype(np.float32)


def test_own_speech_the_vad_of_the_gated_audio_missed_is_found_and_crosstalk_is_not():
    from asr.vad import BLOCK, Region, missed_speech

    blocks = 10 * SAMPLE_RATE // BLOCK
    gains = np.ones((2, blocks))
    levels = np.full((2, blocks), -60.0)
    levels[0, 40:46] = -25.0          # 4.0-4.6 s: the officer says a word; the suspect's microphone hears it
    levels[1, 40:46] = -37.0
    gains[1, 40:46] = 0.0             # and the gate took it from there
    probs = probabilities(10, [(4.0, 4.6)])
    n = 10 * SAMPLE_RATE
    found = missed_speech(probs, gains, levels, 0, [], n)
    assert len(found) == 1 and 3.5 < found[0].start_s < 4.0 and 4.6 < found[0].end_s < 5.1
    # on the other microphone it is crosstalk: muted there, and quieter where it was not
    assert missed_speech(probs, gains, levels, 1, [], n) == []
    assert missed_speech(probs, np.ones((2, blocks)), levels, 1, [], n) == []
    # a stretch the gated VAD found already is not found twice
    assert missed_speech(probs, gains, levels, 0, [Region(3 * SAMPLE_RATE, 5 * SAMPLE_RATE, ((62000, 76000),))], n) == []


def test_a_channel_keeps_a_word_the_vad_of_its_gated_audio_missed(monkeypatch):
    from helpers.speech import SPEECH, read_wav

    import asr.channels as channels
    from asr.types import TranscribeOptions

    word = read_wav(SPEECH / "aishell/BAC009S0150W0017.wav")[0]          # 崇明岛, 1.6 s
    officer = place(8, word, 4.0)
    stereo = np.stack([officer + 0.001 * voice(8, 6), 10 ** (-12 / 20) * np.roll(officer, 48) + 0.001 * voice(8, 7)])
    found = channels.split_channels(stereo.copy(), TranscribeOptions(language="zh"))
    assert [len(ch.regions) for ch in found] == [1, 0]
    # the VAD of the gated audio hears nothing at all: the microphone's own audio still tells where the word is
    monkeypatch.setattr(channels, "speech_regions", lambda *args, **kwargs: [])
    rescued = channels.split_channels(stereo.copy(), TranscribeOptions(language="zh"))
    assert [len(ch.regions) for ch in rescued] == [1, 0]
    assert rescued[0].regions[0].spans == found[0].regions[0].spans
