"""A live transcript says what made it (the live decoder's options), and the same audio fed through the live
decoder again gives the same finals: what `xunlu transcribe SESSION --reproduce 1` of a live version runs."""
import dataclasses

import numpy as np
import pytest
from helpers.speech import RATE, SPEECH, read_wav

from asr.reproduce import live_record, stream_options_of
from asr.stream import StreamOptions, replay


def test_a_live_record_gives_back_the_options_it_was_made_with():
    options = StreamOptions(language="zh", channels=2, speakers=("officer", "suspect"), hotwords=("龙耀",))
    rec = live_record("whisper-base-int8", {"name": "base", "sha256": "x"}, options)
    assert rec["live"]["speakers"] == ["officer", "suspect"] and rec["vocabulary"] == ["龙耀"]
    assert rec["decoding"]["method"].startswith("live")
    assert stream_options_of(rec) == dataclasses.replace(options, partials=False)


@pytest.mark.model
def test_the_same_audio_through_the_live_decoder_gives_the_same_finals_in_time_order(transcriber):
    clip = read_wav(SPEECH / "aishell/BAC009S0150W0122.wav")[0]
    audio = np.concatenate([np.zeros(RATE, dtype=np.float32), clip, np.zeros(2 * RATE, dtype=np.float32)])[None, :]
    options = StreamOptions(language="zh", partials=False)
    first, stats = replay(transcriber, audio, options)
    again, _ = replay(transcriber, audio, options)
    assert first and [s.to_dict() for s in first] == [s.to_dict() for s in again]
    assert [s.id for s in first] == list(range(len(first)))
    assert [s.start for s in first] == sorted(s.start for s in first)
    assert stats["regions"] >= 1
