"""Live transcription (asr.stream): shared clips fed chunk by chunk, as a capture thread would feed them.

The front end (gate, VAD) must give exactly what the offline functions give on the same audio; the finals
must read like the offline transcription, sit on the session clock, carry the right speaker, and nothing
may come out of silence or room tone.
"""
from __future__ import annotations

import random
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from helpers.speech import RATE, SPEECH, manifest, read_wav, room_tone

from asr.engine import collect
from asr.scoring import cer
from asr.stream import LiveTranscriber, Partial, StreamOptions
from asr.stream_vad import SileroStream, SpanTracker, StreamGate, Tape
from asr.types import TranscribeOptions
from asr.vad import crosstalk_gate, speech_regions
from asr.windows import MAX_FRAMES, trim_window
from core.errors import OptionError
from core.textnorm import to_simplified
from core.transcript import Segment, Word

LONG = "aishell/BAC009S0150W0122.wav"      # 7.2 s
MID = "aishell/BAC009S0150W0123.wav"       # 7.0 s
SHORT = "aishell/BAC009S0150W0124.wav"     # 5.6 s
COMMAND = "aishell/BAC009S0150W0040.wav"   # 3.5 s


def clip(name: str) -> np.ndarray:
    return read_wav(SPEECH / name)[0]


def onset(x: np.ndarray) -> float:
    """Seconds of leading silence by energy: 10 ms frames, the first of 5 above max(5% of the loudest
    frame, 4x the quiet floor)."""
    n = x.shape[0] // 160
    rms = np.sqrt(np.mean(x[: n * 160].reshape(n, 160).astype(np.float64) ** 2, axis=1))
    above = rms > max(0.05 * rms.max(), 4.0 * np.percentile(rms, 10))
    for i in range(n - 4):
        if above[i:i + 5].all():
            return i * 0.01
    return 0.0


def assemble(parts: list[tuple[int, str]], channels: int, pause_s: float = 2.0, crosstalk_db: float = -18.0,
             seed: int = 3) -> tuple[np.ndarray, list[dict]]:
    """Clips placed one after another on their channels with `pause_s` of room tone between them, the
    other microphone hearing each at `crosstalk_db` 3 ms later. Returns (n, channels) audio and, per clip,
    where its speech starts and ends."""
    placed, t = [], 1.0
    for ch, name in parts:
        x = clip(name)
        placed.append((ch, int(t * RATE), x, name))
        t += x.shape[0] / RATE + pause_s
    n = int(t * RATE)
    direct = np.zeros((channels, n), dtype=np.float32)
    utts = []
    for ch, at, x, name in placed:
        direct[ch, at:at + x.shape[0]] += x
        utts.append({"channel": ch, "place": at / RATE, "onset": at / RATE + onset(x),
                     "end": (at + x.shape[0]) / RATE, "ref": manifest()[name]["reference"]})
    mixed = direct.copy()
    if channels == 2:
        leak = 10 ** (crosstalk_db / 20)
        for ch in (0, 1):
            mixed[ch, 48:] += leak * direct[1 - ch, :-48]
    for ch in range(channels):
        mixed[ch] += 0.3 * room_tone(t, seed=seed + ch)[:n]
    return mixed.T.copy(), utts


def play(lt: LiveTranscriber, audio: np.ndarray, seed: int = 0, finish: bool = True) -> None:
    """Feed in the uneven chunk sizes a capture thread hands over (0.1-1 s)."""
    rng = random.Random(seed)
    i = 0
    while i < audio.shape[0]:
        step = int(rng.uniform(0.1, 1.0) * RATE)
        lt.feed(audio[i:i + step])
        i += step
    if finish:
        lt.finish()


class Recorder:
    """Every callback in the order it came."""

    def __init__(self):
        self.events: list[object] = []

    def partial(self, p: Partial) -> None:
        self.events.append(p)

    def final(self, s: Segment) -> None:
        self.events.append(s)

    @property
    def finals(self) -> list[Segment]:
        return [e for e in self.events if isinstance(e, Segment)]

    @property
    def partials(self) -> list[Partial]:
        return [e for e in self.events if isinstance(e, Partial)]


def live(transcriber, options: StreamOptions) -> tuple[LiveTranscriber, Recorder]:
    rec = Recorder()
    return LiveTranscriber(transcriber, options, rec.partial, rec.final), rec


def covering(segments: list[Segment], u: dict) -> list[Segment]:
    return [s for s in segments if min(s.end, u["end"]) - max(s.start, u["onset"]) > 0.3]


# -- the front end, without the model ------------------------------------------------------------------
def test_streamed_vad_finds_the_offline_spans():
    x = np.concatenate([0.3 * room_tone(1.5), clip(SHORT), 0.3 * room_tone(2.0, seed=2), clip(COMMAND)])
    offline = [span for r in speech_regions(x, 0.5, 300, 0) for span in r.spans]
    rng = random.Random(1)
    vad, tracker, spans = SileroStream(), SpanTracker(0.5), []
    i = 0
    while i < x.shape[0]:
        i = min(x.shape[0], i + rng.randrange(200, 12000))
        start = vad.pos
        for k, p in enumerate(vad.advance(x[start:i])):
            ev = tracker.step(float(p), start + k * 512)
            if ev is not None and ev.kind == "end":
                spans.append((ev.start, ev.end))
    start = vad.pos
    for k, p in enumerate(vad.finish(x[start:])):
        ev = tracker.step(float(p), start + k * 512)
        if ev is not None and ev.kind == "end":
            spans.append((ev.start, ev.end))
    ev = tracker.finish(x.shape[0])
    if ev is not None:
        spans.append((ev.start, ev.end))
    assert len(offline) >= 2
    assert spans == offline


def test_streamed_gate_matches_the_offline_gate():
    a = np.zeros(8 * RATE, dtype=np.float32)
    b = np.zeros(8 * RATE, dtype=np.float32)
    s = clip(COMMAND)
    a[RATE:RATE + s.shape[0]] = s
    b[5 * RATE - 20000:5 * RATE - 20000 + s.shape[0] // 2] = s[: s.shape[0] // 2]
    leak = 10 ** (-18 / 20)
    stereo = np.stack([a + leak * np.roll(b, 48), b + leak * np.roll(a, 48)]).astype(np.float32)
    stereo += 0.3 * np.stack([room_tone(8, seed=4), room_tone(8, seed=5)])
    expected = crosstalk_gate(stereo)
    raw, gated, gate = Tape(2), Tape(2), StreamGate(2)
    rng = random.Random(2)
    i = 0
    while i < stereo.shape[1]:
        j = min(stereo.shape[1], i + rng.randrange(300, 9000))
        raw.append(stereo[:, i:j])
        gate.advance(raw, gated)
        assert gated.end <= raw.end
        i = j
    gate.advance(raw, gated, final=True)
    assert gated.end == stereo.shape[1]
    np.testing.assert_allclose(gated.get(0, gated.end), expected, atol=1e-6)
    # the crosstalk really was muted: not a pass-through
    assert np.abs(expected[1, RATE + 8000:RATE + 24000]).max() < 0.01 * np.abs(stereo[1]).max() + 0.02


def test_a_preview_of_the_gate_reads_ahead_as_if_the_stream_ended_there():
    """Early finals read their padding past what the gate has handed out: the preview is what the gate
    would give if the stream stopped at the last sample captured, and leaves the gate as it was."""
    s = clip(COMMAND)
    leak = 10 ** (-18 / 20)
    a = np.concatenate([np.zeros(RATE // 2), s, np.zeros(RATE)]).astype(np.float32)
    stereo = np.stack([a, leak * np.roll(a, 48)]).astype(np.float32) + 0.3 * np.stack(
        [room_tone(a.shape[0] / RATE, seed=6)[: a.shape[0]], room_tone(a.shape[0] / RATE, seed=7)[: a.shape[0]]])
    cut = RATE // 2 + s.shape[0] // 2 + 1234               # mid-sentence, off the block grid
    raw, gated, gate = Tape(2), Tape(2), StreamGate(2)
    raw.append(stereo[:, :cut])
    gate.advance(raw, gated)
    done = gate.done
    assert done < cut                                     # the gate holds back its last blocks
    ahead = gate.preview(raw, cut)
    assert gate.done == done and gated.end == done        # nothing handed out
    np.testing.assert_allclose(ahead, crosstalk_gate(stereo[:, :cut])[:, done:cut], atol=1e-6)
    assert np.abs(ahead[1]).max() < 0.05 * np.abs(ahead[0]).max()   # the crosstalk is muted in it too


def test_trim_window_keeps_the_content_and_a_second():
    feats = np.zeros((80, MAX_FRAMES), dtype=np.float32)
    feats[:, :1431] = -0.5
    assert trim_window(feats).shape == (1, 80, 1600)
    feats[:, 1431:] = -0.5
    assert trim_window(feats).shape == (1, 80, MAX_FRAMES)
    short = np.zeros((80, MAX_FRAMES), dtype=np.float32)
    short[:, :200] = -0.5
    assert trim_window(short).shape == (1, 80, 1000)   # never under 10 s
    assert trim_window(short, 2000).shape == (1, 80, 2000)
    assert trim_window(feats, 2000).shape == (1, 80, MAX_FRAMES)


def test_a_later_window_is_decoded_only_when_speech_remains():
    from asr.stream_decode import TailSkipped, tail_check

    check = tail_check(500, [(0.5, 4.0)])
    check(500)                 # the first window: the whole utterance
    check(420)                 # seek at 0.8 s: 3.2 s of speech left
    with pytest.raises(TailSkipped):
        check(60)              # seek at 4.4 s: only padding left


class _NoModel:
    model = object()


@pytest.mark.parametrize("options, message", [
    (StreamOptions(channels=2, speakers=("officer",)), "1 speaker"),
    (StreamOptions(channels=2, speakers=("a", "a")), "twice"),
    (StreamOptions(language="klingon"), "unknown language"),
    (StreamOptions(vad_threshold=1.5), "vad_threshold"),
    (StreamOptions(max_utterance_s=40), "max_utterance_s"),
    (StreamOptions(beam_size=0), "beam_size"),
    (StreamOptions(end_pad_heard_s=0.5), "end_pad_heard_s"),
    (StreamOptions(end_pad_heard_s=-0.1), "end_pad_heard_s"),
    (StreamOptions(digits_pause_s=0.3), "digits_pause_s"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(OptionError, match=message):
        LiveTranscriber(_NoModel(), options, print, print)


def test_bad_feeds_are_refused():
    lt = LiveTranscriber(_NoModel(), StreamOptions(channels=2, speakers=("officer", "suspect")), print, print)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        lt.feed(np.zeros(1600, dtype=np.float32))
    lt.feed(np.zeros((1600, 2), dtype=np.float32))
    lt.finish()
    with pytest.raises(RuntimeError, match="finish"):
        lt.feed(np.zeros((1600, 2), dtype=np.float32))


def test_an_empty_or_silent_stream_finishes_with_nothing():
    got = []
    lt = LiveTranscriber(_NoModel(), StreamOptions(), got.append, got.append)
    lt.finish()
    assert got == [] and lt.processed == 0.0
    lt = LiveTranscriber(_NoModel(), StreamOptions(channels=2), got.append, got.append)
    for _ in range(30):
        lt.feed(np.zeros((1600, 2), dtype=np.float32))
    assert 2.5 <= lt.processed <= 3.0          # the VAD trails the input by the gate's delay at most
    lt.finish()
    assert got == [] and lt.processed == pytest.approx(3.0)


class _BeamSpy:
    """A model that writes nothing and keeps the beam each decode asked for."""
    def __init__(self):
        self.beams = []

    def transcribe(self, audio, **kw):
        self.beams.append(kw["beam_size"])
        return iter(()), None


def test_a_short_decode_gets_the_wide_beam_and_a_long_one_the_narrow():
    from asr.stream_decode import UtteranceDecoder

    spy = _BeamSpy()
    decoder = UtteranceDecoder(spy, "zh", beam_size=2, short_beam=(5, 10.0))
    for seconds in (3.0, 10.0, 10.5, 17.0):                # context and utterance together
        decoder._run(spy, np.zeros(int(seconds * RATE), dtype=np.float32), [], 0.0)
    assert spy.beams == [5, 5, 2, 2]


class _Mute:
    """A model that reads nothing from any audio."""
    def __init__(self):
        self.model = self
        self.prompts = []

    def transcribe(self, audio, **kw):
        self.prompts.append(kw.get("initial_prompt"))
        return iter(()), None


def test_an_utterance_nothing_can_be_read_from_is_marked_unintelligible():
    mute = _Mute()
    lt, rec = live(SimpleNamespace(model=mute), StreamOptions(partials=False))
    clip = read_wav(SPEECH / "aishell/BAC009S0150W0005.wav")[0]      # 调高温度, 1.95 s
    audio = np.concatenate([np.zeros(RATE // 2, dtype=np.float32), clip, np.zeros(RATE, dtype=np.float32)])
    for k in range(0, audio.shape[0], 1600):
        lt.feed(audio[k:k + 1600])
    lt.finish()
    assert [s.text for s in rec.finals] == ["[听不清]"]
    seg = rec.finals[0]
    assert seg.to_dict()["unintelligible"] is True and seg.words == () and 0.5 <= seg.start < seg.end <= 2.5
    assert {k: lt.stats[k] for k in ("regions", "retried", "with_words", "unintelligible")} == \
        {"regions": 1, "retried": 1, "with_words": 0, "unintelligible": 1}


class _Digits:
    """A model that writes "号码是一三八" for the first group of a number and "一二三四" for more audio (or the
    texts it is given: Whisper often writes the pause after a group as a comma or a full stop)."""
    def __init__(self, first: str = "号码是一三八", both: str = "号码是一三八一二三四"):
        self.model = self
        self.first, self.both = first, both

    def transcribe(self, audio, **kw):
        seconds = len(audio) / RATE
        text = self.first if seconds < 3.0 else self.both
        words = [SimpleNamespace(start=0.45 + 0.25 * i, end=0.7 + 0.25 * i, word=ch, probability=0.9)
                 for i, ch in enumerate(text)]
        return iter([SimpleNamespace(start=0.45, end=words[-1].end, text=text, words=words, avg_logprob=-0.2,
                                     compression_ratio=1.1)]), None


def test_a_number_read_out_in_groups_is_held_open_for_its_next_group():
    clip = read_wav(SPEECH / "aishell/BAC009S0150W0005.wav")[0]
    # with the clip's own silences, about 0.9 s without speech: more than end_silence_s, less than digits_pause_s
    pause = np.zeros(int(0.2 * RATE), dtype=np.float32)
    audio = np.concatenate([np.zeros(RATE // 2, dtype=np.float32), clip, pause, clip,
                            np.zeros(2 * RATE, dtype=np.float32)])
    for hold, wanted in ((1.5, ["号码是1381234"]), (0.5, ["号码是一三八", "号码是一三八"])):
        lt, rec = live(SimpleNamespace(model=_Digits()), StreamOptions(partials=False, digits_pause_s=hold,
                                                                   context_s=0.0))
        for k in range(0, audio.shape[0], 1600):
            lt.feed(audio[k:k + 1600])
        lt.finish()
        assert [s.text for s in rec.finals] == wanted, hold


@pytest.mark.parametrize("pause", ["，", "。", "、"])
def test_a_group_whisper_closed_with_punctuation_is_still_held_open(pause):
    clip = read_wav(SPEECH / "aishell/BAC009S0150W0005.wav")[0]
    silence = np.zeros(int(0.2 * RATE), dtype=np.float32)
    audio = np.concatenate([np.zeros(RATE // 2, dtype=np.float32), clip, silence, clip,
                            np.zeros(2 * RATE, dtype=np.float32)])
    model = _Digits(first=f"号码是138{pause}", both=f"号码是138{pause}1234{pause}5678{pause}")
    lt, rec = live(SimpleNamespace(model=model), StreamOptions(partials=False, digits_pause_s=1.5, context_s=0.0))
    for k in range(0, audio.shape[0], 1600):
        lt.feed(audio[k:k + 1600])
    lt.finish()
    assert [s.text.rstrip("，。、") for s in rec.finals] == ["号码是13812345678"]


# -- a doubted quick decode -----------------------------------------------------------------------------
class _Seg:
    """What faster-whisper yields, as far as the decoder reads it."""
    def __init__(self, text: str, avg_logprob: float):
        self.text, self.avg_logprob, self.compression_ratio = text, avg_logprob, 1.2
        self.start, self.end, self.words = 0.0, 1.0, None


def _scripted_decoder(transcriber, monkeypatch, quick: list, again: list):
    """An UtteranceDecoder on the real model whose decodes are scripted: the quick (short-window) decode
    gives `quick`, any other gives `again`; returns it and the list of windows each decode used."""
    from asr.stream_decode import UtteranceDecoder

    decoder = UtteranceDecoder(transcriber.model, "zh")
    used = []

    def run(model, audio, spans_s, temperature, prefix=""):
        name = {id(decoder.model): "short", id(decoder.wide_model): "20 s", id(decoder.full_model): "30 s"}
        used.append((name[id(model)], temperature))
        return list(quick if model is decoder.model else again)
    monkeypatch.setattr(decoder, "_run", run)
    return decoder, used


@pytest.mark.model
def test_a_doubted_short_utterance_shows_its_text_and_is_decoded_again_on_20_s(transcriber, monkeypatch):
    decoder, used = _scripted_decoder(transcriber, monkeypatch, quick=[_Seg("怀访落", -1.6)],
                                      again=[_Seg("潍坊路小游园", -0.4)])
    shown = []
    out = decoder._decode_final(np.zeros(3 * RATE, dtype=np.float32), [(0.4, 2.6)], on_doubt=shown.append)
    assert [s.text for s in out] == ["潍坊路小游园"]
    assert shown == ["怀访落"]                             # the quick text, as a partial, meanwhile
    assert used == [("short", 0.0), ("20 s", 0.0)]        # temperature 0 both times: no sampling in live
    assert decoder.doubted == 1


@pytest.mark.model
def test_a_doubted_utterance_of_20_s_or_more_is_decoded_again_on_the_30_s_window(transcriber, monkeypatch):
    decoder, used = _scripted_decoder(transcriber, monkeypatch, quick=[_Seg("好好好好好", -1.2)],
                                      again=[_Seg("一句长话", -0.3)])
    decoder._decode_final(np.zeros(int(19.5 * RATE), dtype=np.float32), [(0.4, 19.0)])
    assert used == [("short", 0.0), ("30 s", 0.0)]


@pytest.mark.model
def test_a_trusted_quick_decode_is_final_and_an_empty_second_decode_keeps_the_quick_text(
        transcriber, monkeypatch):
    decoder, used = _scripted_decoder(transcriber, monkeypatch, quick=[_Seg("孔家花园", -0.3)], again=[])
    assert [s.text for s in decoder._decode_final(np.zeros(2 * RATE, dtype=np.float32), [(0.4, 1.6)])] \
        == ["孔家花园"]
    assert used == [("short", 0.0)] and decoder.doubted == 0
    decoder, used = _scripted_decoder(transcriber, monkeypatch, quick=[_Seg("孔家花园", -1.3)], again=[])
    assert [s.text for s in decoder._decode_final(np.zeros(2 * RATE, dtype=np.float32), [(0.4, 1.6)])] \
        == ["孔家花园"]


@pytest.mark.model
def test_the_wider_window_encodes_20_s_for_a_short_utterance(transcriber, monkeypatch):
    from faster_whisper import WhisperModel

    from asr.stream_decode import UtteranceDecoder

    decoder = UtteranceDecoder(transcriber.model, "zh")
    widths = []
    real = WhisperModel.encode
    monkeypatch.setattr(WhisperModel, "encode", lambda self, f: widths.append(f.shape[-1]) or real(self, f))
    feats = np.zeros((80, MAX_FRAMES), dtype=np.float32)
    feats[:, :300] = -0.5                                 # 3 s of content
    for model in (decoder.model, decoder.wide_model, decoder.full_model):
        model.encode(feats)
    assert widths == [1000, 2000, MAX_FRAMES]


# -- with the model -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mono(transcriber):
    audio, utts = assemble([(0, LONG), (0, MID), (0, SHORT)], channels=1)
    lt, rec = live(transcriber, StreamOptions())
    play(lt, audio, seed=1)
    segments, info = transcriber.transcribe_array(audio.T.copy(), TranscribeOptions(language="zh"))
    return {"audio": audio, "utts": utts, "rec": rec, "offline": collect(segments, info), "lt": lt}


@pytest.mark.model
def test_finals_read_like_the_offline_transcription(mono):
    finals = mono["rec"].finals
    live_text = "".join(s.text for s in finals)
    offline_text = "".join(s.text for s in mono["offline"].segments)
    ref = "".join(u["ref"] for u in mono["utts"])
    e_live, n = cer(ref, live_text)
    e_off, _ = cer(ref, offline_text)
    # 56 characters: one is 1.8 points; live hears only the previous utterance, offline its 30 s window
    assert e_live <= e_off + 4, (live_text, offline_text)
    assert e_live / n <= 0.15, live_text
    assert to_simplified(live_text) == live_text
    assert all(s.speaker is None and s.channel == 0 for s in finals)


@pytest.mark.model
def test_finals_sit_on_the_session_clock(mono):
    finals = mono["rec"].finals
    duration = mono["audio"].shape[0] / RATE
    assert [s.id for s in finals] == list(range(len(finals)))
    for u in mono["utts"]:
        mine = covering(finals, u)
        assert len(mine) == 1, (u, finals)
        seg = mine[0]
        assert abs(seg.words[0].start - u["onset"]) <= 0.5, (u, seg)
        assert seg.end <= u["end"] + 0.5
    for s in finals:
        assert s.words and 0 <= s.start <= s.end <= duration
        assert s.start == s.words[0].start and s.end == s.words[-1].end
        assert [w.start for w in s.words] == sorted(w.start for w in s.words)
        assert all(w.start <= w.end for w in s.words)
    assert mono["lt"].processed == pytest.approx(duration)


@pytest.mark.model
def test_partials_come_before_the_final_of_a_long_utterance(mono):
    events = mono["rec"].events
    first = mono["utts"][0]
    final_at = next(i for i, e in enumerate(events) if isinstance(e, Segment))
    early = [e for e in events[:final_at] if isinstance(e, Partial)]
    assert len(early) >= 2, events[:final_at]
    assert all(abs(p.start - first["onset"]) <= 0.5 and p.end <= first["end"] for p in early)
    assert early[0].end - first["onset"] <= 2.0          # the first partial comes from the first 2 s
    assert len(early[-1].text) > len(early[0].text)       # and they grow as the person speaks
    assert all(to_simplified(p.text) == p.text for p in early)


@pytest.mark.model
def test_silence_and_room_tone_give_nothing(transcriber):
    lt, rec = live(transcriber, StreamOptions())
    play(lt, np.concatenate([np.zeros(5 * RATE, dtype=np.float32), room_tone(20.0, seed=7)])[:, None])
    assert rec.events == []
    assert lt.processed == pytest.approx(25.0)


@pytest.mark.model
def test_two_microphones_give_one_segment_per_utterance_with_its_speaker(transcriber):
    audio, utts = assemble([(0, COMMAND), (1, SHORT), (0, "aishell/BAC009S0150W0038.wav"), (1, MID)],
                           channels=2, pause_s=1.5)
    lt, rec = live(transcriber, StreamOptions(channels=2, speakers=("officer", "suspect")))
    play(lt, audio, seed=2)
    finals = rec.finals
    assert [s.id for s in finals] == list(range(len(finals)))
    for u in utts:
        mine = covering(finals, u)
        assert len(mine) == 1, (u, finals)
        seg = mine[0]
        assert seg.channel == u["channel"] and seg.speaker == ("officer", "suspect")[u["channel"]]
        e, n = cer(u["ref"], seg.text)
        assert e / n <= 0.35, (u["ref"], seg.text)
        assert abs(seg.words[0].start - u["onset"]) <= 0.5
    assert all(p.speaker == ("officer", "suspect")[p.channel] for p in rec.partials)


@pytest.mark.model
def test_finish_flushes_the_open_utterance(transcriber):
    x = clip(COMMAND)
    audio = np.concatenate([0.3 * room_tone(1.0), x[: int(0.85 * x.shape[0])]])[:, None]
    lt, rec = live(transcriber, StreamOptions(partials=False))
    play(lt, audio, seed=3, finish=False)
    assert rec.finals == []
    lt.finish()
    lt.finish()   # idempotent
    assert len(rec.finals) == 1
    seg = rec.finals[0]
    assert seg.end <= audio.shape[0] / RATE
    assert cer(manifest()[COMMAND]["reference"][:5], seg.text[:5])[0] <= 2, seg.text


@pytest.mark.model
def test_long_speech_is_cut_into_utterances(transcriber):
    x = clip(LONG)
    lt, rec = live(transcriber, StreamOptions(max_utterance_s=3.0, partials=False))
    play(lt, np.concatenate([0.3 * room_tone(1.0), x, 0.3 * room_tone(1.0, seed=9)])[:, None], seed=4)
    finals = rec.finals
    assert len(finals) >= 2
    for a, b in zip(finals, finals[1:]):
        assert a.end <= b.start + 0.05          # no audio transcribed twice
    assert all(s.end - s.start <= 3.0 + 0.5 for s in finals)
    e, n = cer(manifest()[LONG]["reference"], "".join(s.text for s in finals))
    assert e / n <= 0.35, [s.text for s in finals]


@pytest.mark.model
def test_deciding_early_changes_when_a_final_comes_not_what_it_says(transcriber):
    """Fed 0.1 s at a time, as capture hands audio over, finals are decoded before their end is sure (as
    soon as the padding after the last speech is captured) and kept when the silence lasts: the finals
    are the ones a stream that waits for the end gives."""
    audio, _ = assemble([(0, SHORT), (0, COMMAND)], channels=1, pause_s=1.5)
    runs = {}
    for early in (True, False):
        lt, rec = live(transcriber, StreamOptions(partials=False, early_final=early))
        for i in range(0, audio.shape[0], RATE // 10):
            lt.feed(audio[i:i + RATE // 10])
        lt.finish()
        runs[early] = (rec.finals, lt.stats)
    (eager, eager_stats), (late, late_stats) = runs[True], runs[False]
    assert [(s.start, s.end, s.text) for s in eager] == [(s.start, s.end, s.text) for s in late]
    assert len(eager) >= 2
    assert eager_stats["early_used"] >= 2 and late_stats["early_used"] == 0


def _halves(name: str, pause_s: float) -> tuple[np.ndarray, float, float]:
    """A clip said in two halves: cut at its quietest 10 ms between 40% and 60% of its length, `pause_s`
    of room tone put in. Returns (n, 1) audio, where the pause starts and where the second half starts."""
    x = clip(name)
    lo, hi = int(0.4 * x.shape[0]) // 160, int(0.6 * x.shape[0]) // 160
    rms = [float(np.sqrt(np.mean(x[i * 160:(i + 1) * 160].astype(np.float64) ** 2))) for i in range(lo, hi)]
    cut = (lo + int(np.argmin(rms))) * 160
    lead = 0.3 * room_tone(1.0)
    audio = np.concatenate([lead, x[:cut], 0.3 * room_tone(pause_s, seed=5), x[cut:],
                            0.3 * room_tone(1.5, seed=6)])
    pause = (lead.shape[0] + cut) / RATE
    return audio[:, None], pause, pause + pause_s


@pytest.mark.model
def test_a_sentence_broken_by_a_pause_goes_on_from_its_first_half(transcriber):
    """The second half of a sentence is decoded after the first half's audio, Whisper made to have written
    the first half's text already: the final of the second half is only its own words, on its own time."""
    audio, pause, resumed = _halves(LONG, 0.8)
    lt, rec = live(transcriber, StreamOptions(partials=False))
    play(lt, audio, seed=2)
    finals = rec.finals
    assert len(finals) >= 2, finals
    first = [s for s in finals if s.start < pause]
    second = [s for s in finals if s.start >= pause]
    assert first and second, finals
    assert lt.stats["with_context"] >= 1
    assert all(w.start >= resumed - 0.3 for s in second for w in s.words), second
    said_first = "".join(s.text for s in first)
    said_second = "".join(s.text for s in second)
    assert cer(said_first, said_second[: len(said_first)])[0] >= len(said_first) // 2   # not said again
    e, n = cer(manifest()[LONG]["reference"], said_first + said_second)
    assert e / n <= 0.2, (said_first, said_second)


@pytest.mark.model
def test_an_utterance_is_decoded_after_the_last_one_of_its_channel_only(transcriber, monkeypatch):
    """What the decoder is given: the officer's second utterance comes after the end of the officer's first
    (its text there as the prefix), never after the suspect's; the first utterance of a channel comes
    alone."""
    audio, utts = assemble([(0, COMMAND), (1, SHORT), (0, MID)], channels=2)
    lt, rec = live(transcriber, StreamOptions(channels=2, speakers=("officer", "suspect"), partials=False))
    decoder = lt._decoder
    real = decoder._run
    calls = []

    def run(model, audio_, spans_s, temperature, prefix=""):
        calls.append((len(rec.finals), audio_.shape[0] / RATE, prefix))
        return real(model, audio_, spans_s, temperature, prefix=prefix)
    monkeypatch.setattr(decoder, "_run", run)
    play(lt, audio, seed=5)
    finals = rec.finals
    assert [s.speaker for s in finals] == ["officer", "suspect", "officer"], finals
    first_officer = finals[0].text.rstrip("。，,.！？")
    alone = [c for c in calls if c[0] < 2]            # the officer's and the suspect's first utterances
    after = [c for c in calls if c[0] == 2]           # the officer's second
    assert alone and all(prefix == "" for _, _, prefix in alone), calls
    assert after and all(prefix and first_officer.endswith(prefix) for _, _, prefix in after), calls
    assert all(seconds > utts[2]["end"] - utts[2]["place"] for _, seconds, _ in after)   # earlier audio first
    assert first_officer not in finals[2].text


def test_context_is_bounded():
    with pytest.raises(OptionError, match="context_s"):
        LiveTranscriber(_NoModel(), StreamOptions(context_s=25), print, print)


class _W:
    def __init__(self, word: str, start: float, end: float):
        self.word, self.start, self.end = word, start, end


class _S:
    def __init__(self, *words: _W):
        self.words = list(words)


def test_the_context_s_own_words_are_the_prefix_whisper_wrote():
    from asr.stream_decode import _context_words
    written = [_S(_W(" 就是", 0.0, 0.3), _W("根据", 0.3, 0.8)), _S(_W("情况，", 0.8, 1.2), _W("决定", 3.1, 3.5))]
    assert _context_words(written, "就是根据情况", lead=3.0) == 3      # the last one carries the new comma
    # a model that takes no prefix decodes the context's audio anew: its words are those heard before `lead`
    anew = [_S(_W("就是", 0.0, 0.3), _W("跟据", 0.3, 0.8), _W("决定", 3.1, 3.5))]
    assert _context_words(anew, "就是根据", lead=3.0) == 2
    assert _context_words([_S(_W("决定", 3.1, 3.5))], "就是根据", lead=3.0) == 0


def test_a_chinese_word_after_a_prefix_has_no_leading_space():
    from asr.stream_decode import _cjk_word
    assert _cjk_word(" 争") == "争" and _cjk_word(" ，") == "，"
    assert _cjk_word(" iPhone") == " iPhone" and _cjk_word("好") == "好"


def test_a_decode_after_the_context_that_stops_short_is_done_again_alone():
    """Whisper may close its window right after the prefix: the utterance is then decoded alone, and its
    text is not lost."""
    audio, utts = assemble([(0, COMMAND), (0, SHORT)], channels=1)
    lt, rec = live(_NoModel(), StreamOptions(partials=False))
    asked = []

    def final(audio_, region, channel, speaker, duration, on_doubt=None, context=None):
        asked.append(context is not None)
        if context is not None:
            return []                           # stopped after the prefix
        a, b = region.spans[0][0] / RATE, region.spans[-1][1] / RATE
        words = tuple(Word(round(t, 2), round(min(t + 0.5, b), 2), "话", 0.9) for t in np.arange(a, b, 0.5))
        return [Segment(0, a, b, "话" * len(words), words, speaker, channel)]
    lt._decoder.final = final
    play(lt, audio, seed=6)
    assert len(rec.finals) == 2 and all(s.text for s in rec.finals)
    assert rec.finals[1].start >= utts[1]["onset"] - 0.5
    assert asked.count(True) >= 1 and asked[-1] is False
    assert lt.stats["context_dropped"] >= 1


class _TwoWorkers:
    """A transcriber whose model's CTranslate2 side runs two calls at once and is idle."""
    class model:
        class model:
            num_workers = 2
            num_active_batches = 0


def _said(region, channel, speaker) -> list[Segment]:
    a, b = region.spans[0][0] / RATE, region.spans[-1][1] / RATE
    words = tuple(Word(round(t, 2), round(min(t + 0.5, b), 2), "话", 0.9) for t in np.arange(a, b, 0.5))
    return [Segment(0, a, b, "话" * len(words), words, speaker, channel)]


@pytest.mark.parametrize("short", [True, False])
def test_with_two_workers_the_decode_alone_runs_beside_the_one_after_the_context(short):
    """On a model with two workers, an utterance after a context is also decoded alone, at the same time
    (the decode after the context waits here until the one alone has begun): when the first comes back
    short, the second's text is the final, with no decode after it; when it does not, the first's is."""
    import threading

    audio, utts = assemble([(0, COMMAND), (0, SHORT)], channels=1)
    lt, rec = live(_TwoWorkers(), StreamOptions(partials=False))
    began = threading.Event()
    main_calls, aside_calls = [], []

    def after_context(audio_, region, channel, speaker, duration, on_doubt=None, context=None):
        main_calls.append(context is not None)
        if context is None:
            return _said(region, channel, speaker)
        assert began.wait(10), "the decode alone did not start beside this one"
        return [] if short else [replace(s, text="前" * len(s.words)) for s in _said(region, channel, speaker)]

    def alone(audio_, region, channel, speaker, duration, on_doubt=None, context=None):
        aside_calls.append((threading.current_thread() is not threading.main_thread(), context))
        began.set()
        return _said(region, channel, speaker)
    lt._decoder.final, lt._spare.final = after_context, alone
    play(lt, audio, seed=6)
    assert [s.text[:1] for s in rec.finals] == ["话", "话" if short else "前"]
    assert main_calls.count(True) >= 1 and main_calls[-1] is True      # never decoded again after it
    assert aside_calls and all(other_thread and ctx is None for other_thread, ctx in aside_calls)
    assert lt.stats["decoded_aside"] == len(aside_calls)
    assert (lt.stats["context_dropped"] >= 1) is short


def test_a_model_with_one_worker_decodes_alone_only_after_the_context_came_back_short():
    audio, _ = assemble([(0, COMMAND), (0, SHORT)], channels=1)
    lt, rec = live(_NoModel(), StreamOptions(partials=False))
    lt._spare.final = lambda *a, **k: pytest.fail("decoded aside on a model with one worker")
    lt._decoder.final = lambda audio_, region, channel, speaker, duration, on_doubt=None, context=None: \
        [] if context is not None else _said(region, channel, speaker)
    play(lt, audio, seed=6)
    assert len(rec.finals) == 2 and lt.stats["decoded_aside"] == 0 and lt.stats["context_dropped"] >= 1


def _feed_in_tenths(lt: LiveTranscriber, audio: np.ndarray) -> None:
    for i in range(0, audio.shape[0], RATE // 10):
        lt.feed(audio[i:i + RATE // 10])
    lt.finish()


def _watch_decodes(lt: LiveTranscriber) -> list[tuple[int, object, np.ndarray]]:
    """(samples captured, region, audio) of every decode, the decode answering a word per half second."""
    seen = []

    def final(audio_, region, channel, speaker, duration, on_doubt=None, context=None):
        seen.append((lt._raw.end, region, np.array(audio_)))
        return _said(region, channel, speaker)
    lt._decoder.final = final
    return seen


def test_a_final_is_decoded_once_a_fifth_of_a_second_of_padding_is_in_the_rest_as_the_room():
    """The 0.4 s decoded after the last speech: the decode starts when 0.2 s of it is captured, the rest
    given as the room's own sound, and that decode is the final when the rest turns out quiet."""
    audio, _ = assemble([(0, COMMAND)], channels=1)
    lt, rec = live(_NoModel(), StreamOptions(partials=False))
    seen = _watch_decodes(lt)
    _feed_in_tenths(lt, audio)
    assert len(seen) == 1 and len(rec.finals) == 1 and lt.stats["early_used"] == 1
    captured, region, decoded = seen[0]
    last = region.spans[-1][1]
    assert region.end == last + int(0.4 * RATE)
    assert last + int(0.2 * RATE) <= captured < region.end            # before the whole padding was in
    heard = last + int(0.2 * RATE) - region.start
    assert decoded.shape[0] == region.end - region.start
    assert np.array_equal(decoded[:heard], audio[region.start:last + int(0.2 * RATE), 0])
    rest = decoded[heard:]
    blocks = decoded[:heard // 1600 * 1600].reshape(-1, 1600).astype(np.float64)
    quietest = float(np.min(np.sqrt(np.mean(blocks ** 2, axis=1))))
    assert np.sqrt(np.mean(rest.astype(np.float64) ** 2)) == pytest.approx(quietest, rel=0.05)   # the room
    assert not np.array_equal(rest, audio[last + int(0.2 * RATE):region.end, 0]) and rest.any()


def test_a_padding_that_is_not_quiet_is_decoded_as_captured(monkeypatch):
    """When the padding's second part turns out not to be quiet (a sound the VAD did not call speech), the
    final is decoded again with the padding as captured."""
    audio, _ = assemble([(0, COMMAND)], channels=1)
    lt, rec = live(_NoModel(), StreamOptions(partials=False))
    monkeypatch.setattr(lt, "_quiet_after", lambda *args: False)
    seen = _watch_decodes(lt)
    _feed_in_tenths(lt, audio)
    assert len(rec.finals) == 1 and len(seen) == 2 and lt.stats["early_wasted"] == 1
    _, early_region, early = seen[0]
    assert not np.array_equal(early, audio[early_region.start:early_region.end, 0])   # early: the room's sound
    _, region, decoded = seen[1]                                      # the final's decode
    assert region == early_region and np.array_equal(decoded, audio[region.start:region.end, 0])


def test_quiet_is_the_room_s_level_or_20_db_under_the_speech():
    from asr.stream import _quiet
    room = 0.3 * room_tone(2.0)
    floor = float(np.sqrt(np.mean(room[:1600].astype(np.float64) ** 2)))
    assert _quiet(floor, room, speech=0.02)                           # the room itself
    assert _quiet(1.5 * floor, room, speech=0.02)
    assert not _quiet(4 * floor, room, speech=0.02)                   # a sound over the room ...
    assert _quiet(4 * floor, room, speech=50 * floor)                 # ... but 20 dB under loud speech
    assert not _quiet(0.001, np.zeros(16000, dtype=np.float32), speech=0.005)
    assert _quiet(0.0, np.zeros(16000, dtype=np.float32), speech=0.005)   # digital silence
    assert _quiet(4 * floor, room, speech=0.02, before=3 * floor)     # a sound dying away
    assert not _quiet(4 * floor, room, speech=0.02, before=floor)     # a new one


@pytest.mark.model
def test_the_loaded_model_runs_two_decodes_at_once_and_decodes_aside(transcriber):
    """The base model is loaded with two workers; a live stream on it decodes each utterance after a
    context alone as well, beside it, and the finals still read like the offline transcription."""
    from models.store import WORKERS
    assert WORKERS == 2 and transcriber.model.model.num_workers == WORKERS
    audio, _ = assemble([(0, COMMAND), (0, SHORT)], channels=1)
    lt, rec = live(transcriber, StreamOptions(partials=False))
    play(lt, audio, seed=7)
    assert lt.stats["with_context"] >= 1 and lt.stats["decoded_aside"] == lt.stats["with_context"]
    e, n = cer(manifest()[COMMAND]["reference"] + manifest()[SHORT]["reference"], "".join(s.text for s in rec.finals))
    assert e / n <= 0.35, [s.text for s in rec.finals]   # base reads the second clip 6-7 characters wrong


def test_close_lets_the_thread_aside_go_without_finish():
    """A stream whose transcription failed is closed without finish(): its thread aside ends."""
    import threading

    audio, _ = assemble([(0, COMMAND), (0, SHORT)], channels=1)
    lt, _ = live(_TwoWorkers(), StreamOptions(partials=False))
    lt._decoder.final = lambda audio_, region, channel, speaker, duration, on_doubt=None, context=None: \
        _said(region, channel, speaker)
    lt._spare.final = lambda *args, **kwargs: []
    play(lt, audio, seed=6, finish=False)
    assert lt.stats["decoded_aside"] >= 1
    lt.close()
    for t in threading.enumerate():
        if t.name.startswith("xunlu-asr-aside"):
            t.join(5)
    assert not any(t.is_alive() for t in threading.enumerate() if t.name.startswith("xunlu-asr-aside"))


def test_what_a_decode_after_the_context_writes_in_the_context_s_audio_is_not_put_on_this_utterance():
    from asr.stream_decode import Context, UtteranceDecoder
    from asr.vad import Region

    # the previous final wrote only the start of what was said there (街动自由，冷); decoded after it, Whisper
    # writes the rest of the context's audio (暗，前段在各自…) before this utterance's own words (计划于九月)
    said = [("街", 0.3, 0.5), ("动", 0.5, 0.9), ("自由，", 0.9, 1.3), ("冷", 1.8, 2.0), ("暗，", 2.0, 2.3),
            ("前", 2.5, 2.6), ("段", 2.6, 3.0), ("在", 3.0, 3.3), ("各", 3.3, 3.8), ("自", 3.8, 4.1),
            ("计", 6.4, 6.6), ("划", 6.6, 6.9), ("于", 6.9, 7.2), ("九", 7.2, 7.5), ("月", 7.5, 7.8)]

    class Model:
        def transcribe(self, audio, **kwargs):
            words = [SimpleNamespace(word=w, start=a, end=b, probability=0.8) for w, a, b in said]
            return iter([SimpleNamespace(start=0.0, end=7.8, text="".join(w for w, _, _ in said), words=words,
                                         avg_logprob=-0.3, compression_ratio=1.2)]), SimpleNamespace()

    decoder = UtteranceDecoder(Model(), "zh")
    region = Region(10 * RATE, 14 * RATE, ((int(10.4 * RATE), int(13.6 * RATE)),))
    # the context: the last 6 s of the earlier utterance, which began at 1.5 s
    context = Context(np.zeros(6 * RATE, dtype=np.float32), "街动自由，冷", 1.5)
    out = decoder.final(np.zeros(4 * RATE, dtype=np.float32), region, 0, "officer", 60.0, context=context)
    # what the earlier final left out stands at its own time, in the earlier utterance; this one's words in it
    assert [(s.text, s.start, s.end) for s in out] == [("暗，前段在各自", 3.5, 5.6), ("计划于九月", 10.4, 11.8)]
    # when it only says the context's text again (Whisper looping on its prefix), it is not written twice
    said[4:10] = [("冷", 2.0, 2.3), ("街", 2.3, 2.3), ("动", 2.3, 2.3), ("自由，", 2.3, 2.3), ("冷", 2.3, 2.3)]
    out = decoder.final(np.zeros(4 * RATE, dtype=np.float32), region, 0, "officer", 60.0, context=context)
    assert [s.text for s in out] == ["计划于九月"]
