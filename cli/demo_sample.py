"""The Mandarin sample interview of `xunlu demo`: real recordings, not a speech synthesiser.

Five AISHELL-1 utterances and two parts cut from a sixth (Apache-2.0 data, credited with their ids in the
README) are shipped in cli/demo_clips/ as 16 kHz mono Opus. Two voices (speakers S0724 and S0764, the two
officers at the desk) speak into the officer's microphone, the left channel; speaker S0150 is the suspect on
the right. Each line is heard faintly by the other microphone, as in a real room. The sentences are news
readings, so the "interview" is not a conversation, but it holds what a supervisor searches for: a person's
name (张伟), places (南沙区, 广州市), a year read digit by digit (二零一六) and a phone number read out in two
groups of four digits, 20162015. No AISHELL-1 clip of these speakers reads a phone number: the groups are
二零一六 and 二零一五 of BAC009S0150W0276 (最早于二零一五年最晚二零一六年), cut where forced alignment of the
reference text (Whisper base, as bench/kws.py does) puts them, played GROUP_GAP_S apart. The bundled model
writes the line "2016-2015" (at 0.2 and 0.25 s; at 0.3 s it heard 2026), which the index joins."""
from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000
OFFICER, SUSPECT = 0, 1


@dataclass(frozen=True)
class Clip:
    channel: int     # OFFICER (left) or SUSPECT (right)
    utterance: str   # the AISHELL-1 utterance id; the file is demo_clips/<id>.opus
    text: str        # the AISHELL-1 reference transcript (of the part cut from it, for a part)
    part: str = ""   # a part cut from the utterance: the file is demo_clips/<id>-<part>.opus


@dataclass(frozen=True)
class Line:
    channel: int
    text: str
    start: float     # seconds from the first sample
    end: float


@dataclass(frozen=True)
class SearchWord:
    word: str
    kind: str        # what it shows: a name, a place, a number
    said: str = ""   # what the transcript holds when the index finds the word (default: the word itself)


PHONE = (Clip(SUSPECT, "BAC009S0150W0276", "二零一六", "2016"),   # cut from 最晚二零一六年 (5.61-6.53 s)
         Clip(SUSPECT, "BAC009S0150W0276", "二零一五", "2015"))   # cut from 最早于二零一五年 (3.33-4.45 s)
PHONE_NUMBER = "20162015"
GROUP_GAP_S = 0.25   # between the groups of the phone number, as a number is read out
LINES = (                       # each line: clips of one voice, GROUP_GAP_S apart
    (Clip(OFFICER, "BAC009S0724W0121", "广州市房地产中介协会分析"),),
    (Clip(SUSPECT, "BAC009S0150W0457", "四十六岁的国企出纳员张伟在任职的四年时间里"),),
    PHONE,
    (Clip(OFFICER, "BAC009S0764W0121", "甚至出现交易几乎停滞的情况"),),
    (Clip(SUSPECT, "BAC009S0150W0331", "这家公司宣布以二零一六年作为第一阶段的起点"),),
    (Clip(SUSPECT, "BAC009S0150W0443", "南沙区东涌镇祥和路六号发生一起血案"),),
)
CLIPS = tuple(clip for line in LINES for clip in line)

SEARCH_WORDS = (SearchWord("张伟", "姓名 name"), SearchWord("南沙区", "地点 place"),
                SearchWord(PHONE_NUMBER, "电话号码 phone number"),
                SearchWord("尾号" + PHONE_NUMBER[-4:], "电话尾号 the number's last four digits", PHONE_NUMBER))
SUSPECT_NAME = "张伟"


def clip_path(clip: Clip) -> Path:
    name = f"{clip.utterance}-{clip.part}" if clip.part else clip.utterance
    return Path(__file__).with_name("demo_clips") / f"{name}.opus"


def load_clip(clip: Clip) -> np.ndarray:
    """The clip as float32 samples at 16 kHz, mono."""
    from asr.audio import decode

    return np.array(decode(str(clip_path(clip)), 1)[0], dtype=np.float32)


def _level(pcm: np.ndarray, level_db: float) -> np.ndarray:
    """The clip at `level_db` dBFS RMS (AISHELL-1 is recorded 31-40 dB down), its peaks kept under -1 dBFS."""
    rms = float(np.sqrt(np.mean(pcm ** 2))) or 1.0
    gain = min(10 ** (level_db / 20) / rms, 0.89 / (float(np.abs(pcm).max()) or 1.0))
    return pcm * np.float32(gain)


def make_interview(path: Path, pause_s: float = 1.5, crosstalk_db: float = -20.0,
                   level_db: float = -24.0) -> list[Line]:
    """Write a 2-channel 16 kHz WAV of LINES (officer left, suspect right, each heard faintly by the other
    microphone 3 ms later); the lines with their times."""
    joint = np.zeros(int(GROUP_GAP_S * RATE), dtype=np.float32)
    voices = []
    for said in LINES:
        parts = [_level(load_clip(clip), level_db) for clip in said]
        pcm = np.concatenate([x for part in parts for x in (joint, part)][1:])
        voices.append((said[0].channel, "".join(clip.text for clip in said), pcm))
    gap = int(pause_s * RATE)
    total = sum(len(pcm) for _, _, pcm in voices) + gap * (len(voices) + 1)
    stereo = np.zeros((2, total), dtype=np.float32)
    leak, delay = 10 ** (crosstalk_db / 20), 48
    lines, cursor = [], gap
    for ch, text, pcm in voices:
        stereo[ch, cursor:cursor + len(pcm)] += pcm
        stereo[1 - ch, cursor + delay:cursor + delay + len(pcm)] += leak * pcm[: total - cursor - delay]
        lines.append(Line(ch, text, cursor / RATE, (cursor + len(pcm)) / RATE))
        cursor += len(pcm) + gap
    pcm16 = (np.clip(stereo.T, -1, 1) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm16.tobytes())
    return lines
