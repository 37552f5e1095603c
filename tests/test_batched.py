"""The batched mode: speech cut at pauses into short clips, decoded together, nothing lost at a clip's end."""
from types import SimpleNamespace

import numpy as np
from helpers.speech import RATE, SPEECH, manifest, read_wav

from asr.batched import speech_clips, unheard_tails
from asr.engine import collect
from asr.scoring import cer
from asr.types import TranscribeOptions
from asr.vad import Region

S = RATE


def region(start_s: float, end_s: float, *spans: tuple[float, float]) -> Region:
    return Region(int(start_s * S), int(end_s * S), tuple((int(a * S), int(b * S)) for a, b in spans))


def seconds(clips):
    return [(round(a / S, 2), round(b / S, 2)) for a, b in clips]


def test_clips_end_at_the_longest_pause_and_cover_all_the_speech():
    # 20 s of speech in one region: sentences of 5 s, a 0.3 s breath at 5.3, a 1.2 s pause at 11.6
    r = region(0, 20, (0.4, 5.3), (5.6, 11.0), (12.2, 16.0), (16.4, 19.6))
    clips = seconds(speech_clips([r], max_s=14))
    assert clips == [(0.0, 11.6), (11.6, 20.0)]


def test_a_clip_never_ends_inside_speech_that_has_no_pause():
    r = region(0, 24, (0.4, 23.6))
    assert seconds(speech_clips([r], max_s=14)) == [(0.0, 24.0)]


def test_speech_over_30_s_without_a_pause_is_cut_at_29_5_s():
    r = region(0, 40, (0.2, 39.8))
    assert seconds(speech_clips([r], max_s=14)) == [(0.0, 29.5), (29.5, 40.0)]


def test_regions_are_joined_end_to_end_and_short_ones_share_a_clip():
    # the audio between regions (4 s of silence) is not in the joined speech
    a, b = region(1, 5, (1.4, 4.6)), region(9, 13, (9.4, 12.6))
    assert seconds(speech_clips([a, b], max_s=14)) == [(0.0, 8.0)]


def test_the_rest_of_a_clip_whose_text_stops_early_is_decoded_again():
    clips = [(0.0, 13.0), (13.0, 26.0)]
    spans = [(0.4, 5.8), (7.4, 12.5), (13.4, 25.6)]
    words = lambda *ends: [SimpleNamespace(end=e) for e in ends]  # noqa: E731
    decoded = [SimpleNamespace(start=0.0, end=6.0, words=words(2.0, 5.7)),       # the sentence at 7.4 is lost
               SimpleNamespace(start=13.0, end=25.7, words=words(20.0, 25.5))]
    assert unheard_tails(clips, decoded, spans) == [(5.7, 13.0)]


def test_a_clip_with_no_text_is_not_retried_and_a_finished_clip_has_no_tail():
    clips = [(0.0, 10.0), (10.0, 20.0)]
    spans = [(0.5, 9.5), (10.5, 19.5)]
    decoded = [SimpleNamespace(start=10.0, end=19.6, words=[SimpleNamespace(end=19.5)])]
    assert unheard_tails(clips, decoded, spans) == []


def test_batched_mode_keeps_every_sentence_of_a_long_file(transcriber, tmp_path):
    rows = [r for name, r in sorted(manifest().items())
            if name.startswith("aishell/") and float(r["duration_s"]) >= 5.5][:9]
    parts, placed, t = [], [], 0.0
    for k, row in enumerate(rows):
        clip = read_wav(SPEECH / row["file"])[0]
        pause = np.zeros(int((0.6 + 0.1 * (k % 5)) * S), dtype=np.float32)
        placed.append((t, t + clip.shape[0] / S, row["reference"]))
        parts += [clip, pause]
        t += (clip.shape[0] + pause.shape[0]) / S
    audio = np.concatenate(parts)
    segments, info = transcriber.transcribe_array(audio, TranscribeOptions(language="zh", batch_size=4))
    tr = collect(segments, info)
    starts = [s.start for s in tr.segments]
    assert starts == sorted(starts)
    for a, b, ref in placed:
        heard = "".join(s.text for s in tr.segments if min(b, s.end) - max(a, s.start) > 0.5)
        e, n = cer(ref, heard)
        assert e / n <= 0.5, (ref, heard)
    e, n = cer("".join(r for _, _, r in placed), "".join(s.text for s in tr.segments))
    assert e / n <= 0.2
    assert all(s.end <= audio.shape[0] / S for s in tr.segments)
