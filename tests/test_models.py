"""The model store: `base` from the PyPI parts, checked by SHA-256, rebuilt when damaged; folders; hub names."""
import os
from pathlib import Path

import pytest
from helpers.cli import xunlu
from helpers.speech import SPEECH

from models.store import (
    BASE_SHA256,
    ModelError,
    assemble_base,
    base_dir,
    base_is_valid,
    installed,
    label,
    resolve,
    resolve_cpu_threads,
    sha256_file,
)

OFFLINE = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "3"}


@pytest.fixture
def fresh_home(tmp_path) -> Path:
    return tmp_path / "home"


def test_base_is_assembled_once_and_matches_the_published_hash(fresh_home):
    folder = assemble_base(fresh_home)
    assert folder == base_dir(fresh_home)
    assert sha256_file(folder / "model.bin") == BASE_SHA256
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (folder / name).is_file()
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert assemble_base(fresh_home) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # not rebuilt


def test_a_flipped_byte_is_detected_and_rebuilt(fresh_home):
    folder = assemble_base(fresh_home)
    with open(folder / "model.bin", "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert not base_is_valid(folder)
    assemble_base(fresh_home)
    assert sha256_file(folder / "model.bin") == BASE_SHA256


def test_a_partial_file_is_detected_and_rebuilt(fresh_home):
    folder = assemble_base(fresh_home)
    size = (folder / "model.bin").stat().st_size
    os.truncate(folder / "model.bin", size // 2)
    assert not base_is_valid(folder)
    assert resolve("base", fresh_home).path == folder
    assert (folder / "model.bin").stat().st_size == size


def test_a_model_folder_path_is_used_as_is(fresh_home, tmp_path):
    folder = assemble_base(fresh_home)
    ref = resolve(str(folder), fresh_home)
    assert ref.source == "folder" and ref.path == folder.resolve()
    assert label(ref, "cpu", "int8") == "whisper-base-int8"


def test_a_folder_that_is_not_a_model_is_refused(tmp_path, fresh_home):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a CTranslate2 Whisper model folder"):
        resolve(str(tmp_path / "empty"), fresh_home)
    with pytest.raises(ModelError, match="not found"):
        resolve(str(tmp_path / "missing" / "model"), fresh_home)


def test_unknown_model_names_are_refused(fresh_home):
    with pytest.raises(ModelError, match="unknown model 'bass'"):
        resolve("bass", fresh_home)


def test_hub_names_fail_clearly_when_the_hub_cannot_be_reached(fresh_home):
    result = xunlu("transcribe", "--model", "small", str(Path(__file__)), home=fresh_home, env=OFFLINE)
    assert result.returncode == 2
    # the input is checked first: a text file is not media
    assert "not a media file" in result.stderr


def test_hub_download_error_message(fresh_home, monkeypatch):
    for k, v in OFFLINE.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ModelError, match="could not be downloaded from the model hub"):
        resolve("small", fresh_home)


def test_models_command_lists_base_and_where(fresh_home):
    result = xunlu("models", home=fresh_home)
    assert result.returncode == 0
    assert result.stdout.startswith("base\tpypi")
    assert "not assembled yet" in result.stdout
    assemble_base(fresh_home)
    listed = installed(fresh_home)
    assert listed[0].name == "base" and listed[0].status == "ok" and listed[0].path == base_dir(fresh_home)


def test_cpu_threads_one_on_two_cores_else_faster_whispers_default(monkeypatch):
    monkeypatch.delenv("XUNLU_CPU_THREADS", raising=False)
    assert resolve_cpu_threads(0, cores=2) == 1 and resolve_cpu_threads(0, cores=1) == 1
    assert resolve_cpu_threads(0, cores=16) == 4
    assert resolve_cpu_threads(3, cores=2) == 3                          # asked for: as asked


def test_cpu_threads_from_the_environment(monkeypatch):
    monkeypatch.setenv("XUNLU_CPU_THREADS", "2")
    assert resolve_cpu_threads(0, cores=2) == 2
    monkeypatch.setenv("XUNLU_CPU_THREADS", "0")                          # 0 is auto, as the argument's 0
    assert resolve_cpu_threads(0, cores=2) == 1 and resolve_cpu_threads(0, cores=16) == 4
    monkeypatch.setenv("XUNLU_CPU_THREADS", "many")
    with pytest.raises(ModelError, match="XUNLU_CPU_THREADS"):
        resolve_cpu_threads(0)


def test_a_bad_thread_count_is_one_clear_line(home):
    clip = SPEECH / "aishell" / "BAC009S0150W0122.wav"
    result = xunlu("transcribe", str(clip), home=home, env={"XUNLU_CPU_THREADS": "two"})
    assert result.returncode != 0 and "XUNLU_CPU_THREADS" in result.stderr and "Traceback" not in result.stderr
