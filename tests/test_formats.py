"""SRT (SubRip) and WebVTT output checked against the formats' rules, and the JSON contract of DESIGN.md."""
import json
import re

import pytest

from asr.formats import render
from core.errors import OptionError
from core.transcript import Segment, Transcript, Word, timestamp

SRT_TIME = r"\d{2}:\d{2}:\d{2},\d{3}"
VTT_TIME = r"\d{2}:\d{2}:\d{2}\.\d{3}"


def sample() -> Transcript:
    return Transcript(language="zh", model="whisper-base-int8", duration=3725.5, segments=(
        Segment(0, 4.18, 6.92, "你叫什么名字", (Word(4.18, 4.40, "你", 0.97), Word(4.40, 6.92, "叫什么名字", 0.9)),
                "officer", 0),
        Segment(1, 3661.001, 3662.5, "a < b & c --> d", (), "suspect", 1),
        Segment(2, 3700.0, 3700.0, "嗯", (), None, 0),
    ))


def test_timestamps_keep_hours_and_milliseconds():
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(3661.0015, ",") == "01:01:01,002"
    assert timestamp(59.9996) == "00:01:00.000"


def test_srt_blocks_follow_subrip():
    text = render(sample(), "srt")
    blocks = text.strip("\n").split("\n\n")
    assert len(blocks) == 3
    for n, block in enumerate(blocks, 1):
        lines = block.split("\n")
        assert lines[0] == str(n)
        assert re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", lines[1])
        assert lines[2]
    assert blocks[0].split("\n")[1] == "00:00:04,180 --> 00:00:06,920"
    assert blocks[0].split("\n")[2] == "officer: 你叫什么名字"


def test_srt_cue_end_is_after_start_even_for_zero_length_segments():
    last = render(sample(), "srt").strip().split("\n\n")[-1].split("\n")[1]
    start, end = last.split(" --> ")
    assert end > start


def test_vtt_header_cues_voice_and_escaping():
    text = render(sample(), "vtt")
    assert text.startswith("WEBVTT\n\n")
    cues = text[len("WEBVTT\n\n"):].strip("\n").split("\n\n")
    assert len(cues) == 3
    for cue in cues:
        timing, payload = cue.split("\n", 1)
        assert re.fullmatch(f"{VTT_TIME} --> {VTT_TIME}", timing)
        assert "-->" not in payload  # would be read as a timing line
    assert cues[0].split("\n")[1] == "<v officer>你叫什么名字"
    assert cues[1].split("\n")[1] == "<v suspect>a &lt; b &amp; c -&gt; d"
    assert cues[1].startswith("01:01:01.001 --> 01:01:02.500")


def test_json_has_exactly_the_contract_fields():
    data = json.loads(render(sample(), "json"))
    assert set(data) == {"session", "language", "model", "duration", "version", "segments"}
    seg = data["segments"][0]
    assert set(seg) == {"id", "start", "end", "speaker", "channel", "text", "words"}
    assert seg["words"][0] == {"start": 4.18, "end": 4.4, "text": "你", "p": 0.97}
    assert data["segments"][2]["speaker"] is None
    assert Transcript.from_dict(data).segments[0].words[1].text == "叫什么名字"


def test_txt_has_one_line_per_segment_with_times_and_speaker():
    lines = render(sample(), "txt").splitlines()
    assert lines[0] == "[00:00:04.180 - 00:00:06.920] officer: 你叫什么名字"
    assert lines[2] == "[01:01:40.000 - 01:01:40.000] 嗯"


def test_unknown_format_is_an_option_error():
    with pytest.raises(OptionError):
        render(sample(), "docx2")
