"""A `xunlu worker` for the job-queue tests, with a scripted transcriber instead of the model (the real model
runs in test_job_queue's end-to-end test):

    python tests/helpers/queue_worker.py HOME BROKER MODE

MODE steady: four segments, 0.3 s apart (so that a test sees the job running and its progress move);
hang: the transcription never ends (a worker to kill); fail: the transcription raises, every time."""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from core.transcript import Segment, Word  # noqa: E402

TEXTS = ["你叫什么名字", "我叫王小明", "八月十一日晚上你在哪里", "我在港口路的仓库"]


class Scripted:
    model_label = "scripted"

    def __init__(self, mode: str):
        self.mode = mode

    def transcribe(self, path, options):
        from asr.types import TranscriptionInfo

        def segments():
            for i, text in enumerate(TEXTS):
                if self.mode == "fail":
                    raise RuntimeError("the decoder crashed (scripted)")
                time.sleep(3600 if self.mode == "hang" else 0.3)
                start = 1.0 * i
                yield Segment(i, start, start + 0.9, text, (Word(start, start + 0.9, text, 0.9),), None, 0)

        return segments(), TranscriptionInfo("zh", 1.0, 4.0, 1, 4.0, "scripted")


def main() -> None:
    from service.job_queue import QueueOptions
    from service.worker import WorkerOptions, run

    home, broker, mode = sys.argv[1:4]
    transcriber = Scripted(mode)
    options = WorkerOptions(home=Path(home), broker=broker, alive_s=3.0, queue=QueueOptions(retry_after_s=(1,)))
    run(options, transcriber=lambda _name: transcriber)


if __name__ == "__main__":
    main()
