"""Benchmarks: each module measures one target and its baseline in the same run and prints both.

Run them from the checkout's root as modules, e.g. `.venv/bin/python -m bench.asr --quick` (see
bench/README.md). What several of them share (paths, progress lines, the shared speech clips, WAV files,
small figures) is in bench/common.py.
"""
