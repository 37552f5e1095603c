"""A sound card on its own crystal, held on the system clock that stamps the pictures (capture/clock_lock.py).

A simulated card delivers 2048-frame chunks at 48 kHz for 20 minutes, its rate a few tens of ppm off, each
chunk arriving late by a random scheduler delay, with now and then a stall and a burst: the sound written
must stay within a couple of milliseconds of the wall clock all through, where left alone it slides away.
"""
from __future__ import annotations

import numpy as np
import pytest

from capture.audio_in import AudioPump
from capture.clock_lock import ClockLock, stretch

RATE, BLOCK = 48000, 2048


def _card(drift_ppm: float, minutes: float, seed: int, lock: bool = True):
    """(wall time of each chunk's last frame, seconds of sound written by then) through a lock or not."""
    rng = np.random.default_rng(seed)
    clock = ClockLock(RATE)
    true_rate = RATE * (1 + drift_ppm * 1e-6)
    raw = written = 0
    stall_until = 0.0
    times, sound = [], []
    for _ in range(int(minutes * 60 * RATE / BLOCK)):
        raw += BLOCK
        ready = raw / true_rate                    # the card has this chunk
        delay = 0.004 + rng.exponential(0.008)     # the driver and the scheduler
        if rng.random() < 0.002:                   # a stall: this and the next chunks come in one burst
            stall_until = ready + rng.uniform(0.1, 0.4)
        arrived = max(ready + delay, stall_until)
        chunk = np.zeros((BLOCK, 2), dtype=np.float32)
        out = clock.adjust(chunk, arrived) if lock else chunk
        written += len(out)
        times.append(ready)
        sound.append(written / RATE)
    return np.array(times), np.array(sound), clock


@pytest.mark.parametrize("drift_ppm, seed", [(26.0, 1), (-48.0, 2), (110.0, 3), (-7.0, 4)])
def test_a_card_off_the_system_clock_is_held_on_it_for_twenty_minutes(drift_ppm, seed):
    times, sound, clock = _card(drift_ppm, 20, seed)
    off = sound - times
    assert np.abs(off).max() < 0.003, (drift_ppm, np.abs(off).max())       # within 3 ms all through
    assert clock.drift_ppm == pytest.approx(drift_ppm, abs=2.0)
    assert clock.adjusted == pytest.approx(-drift_ppm * 1e-6 * 20 * 60 * RATE, rel=0.1, abs=50)
    times, sound, _ = _card(drift_ppm, 20, seed, lock=False)               # left alone, it slides away
    assert abs((sound - times)[-1]) > abs(drift_ppm) * 1e-6 * 20 * 60 * 0.9


def test_a_card_on_time_is_left_untouched():
    for seed in range(3):
        _times, _sound, clock = _card(0.0, 20, seed)
        assert clock.adjusted == 0 and abs(clock.drift_ppm) < 2.0


def test_a_driver_that_loses_samples_is_not_followed():
    """2,000 ppm is no crystal: the overflow count tells of it; stretching would only hide it."""
    _times, _sound, clock = _card(2000.0, 2, 5)
    assert clock.adjusted == 0 and clock.drift_ppm == pytest.approx(2000.0, abs=20)


def test_a_stretch_is_one_frame_spread_over_the_chunk():
    t = np.arange(BLOCK) / RATE
    chunk = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 1000 * t)], axis=1).astype(np.float32)
    for frames in (BLOCK - 1, BLOCK + 1):
        out = stretch(chunk, frames)
        assert out.shape == (frames, 2) and out.dtype == np.float32
        assert np.array_equal(out[0], chunk[0]) and np.array_equal(out[-1], chunk[-1])   # the joins stay
        at = np.linspace(0, BLOCK - 1, frames) / RATE        # the same sound, read at its stretched places
        for c, hz in enumerate((440, 1000)):
            assert np.abs(out[:, c] - np.sin(2 * np.pi * hz * at)).max() < 2e-4


class _Pump(AudioPump):
    def start(self) -> None:
        pass

    def stop(self) -> None:
        self._end()


def test_a_locked_pump_keeps_its_start_and_measures_afresh_after_a_gap(monkeypatch):
    import capture.audio_in as audio_in

    now = [1000.0]
    monkeypatch.setattr(audio_in.time, "time", lambda: now[0])
    pump = _Pump(RATE, 1, BLOCK)
    chunk = np.zeros((BLOCK, 1), dtype=np.float32)
    now[0] += BLOCK / RATE
    pump._push(chunk)
    t0 = pump.t0
    pump.lock_clock()
    for _ in range(1000):                       # 42 s of a card 100 ppm fast, arriving on time
        now[0] += BLOCK / (RATE * 1.0001)
        pump._push(chunk)
    assert pump.t0 == t0                        # the start the pictures were put on stays
    assert pump.clock.drift_ppm == pytest.approx(100.0, abs=5) and pump.clock.adjusted < 0
    now[0] += 10.0                              # away 10 s: the gap is padded from the wall clock
    pump._pad_to_clock(BLOCK)
    assert abs((pump.frames + BLOCK) / RATE - (now[0] - t0)) < 0.001
    adjusted = pump.clock.adjusted
    for _ in range(200):                        # measured afresh: nothing changes before the line spans 20 s
        now[0] += BLOCK / (RATE * 1.0001)
        pump._push(chunk)
    assert pump.clock.adjusted == adjusted
