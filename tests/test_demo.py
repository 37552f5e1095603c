"""`xunlu demo`, the README's main job: a sample interview recorded live, transcribed, indexed, searchable."""
from __future__ import annotations

import json

import pytest
from helpers.cli import xunlu

pytestmark = pytest.mark.model


def test_demo_records_the_sample_live_and_makes_it_searchable(tmp_path):
    home = tmp_path / "home"
    done = xunlu("demo", "--no-serve", "--fast", home=home, timeout=600)
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
