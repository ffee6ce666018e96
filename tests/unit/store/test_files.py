"""files.py: atomic writes survive failures and kills; corrupt files are named and left alone."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pytest_genquality.store import files
from pytest_genquality.store.files import (
    StoreFileError,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_npz,
    read_json,
    read_npz,
)


def leftovers(folder: Path, target: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != target and not p.name.endswith(".lock"))


def test_json_round_trip_with_numpy_values(tmp_path):
    path = tmp_path / "deep" / "er" / "x.json"
    atomic_write_json(path, {"schema": 1, "a": np.float32(1.5), "b": np.int64(3), "c": np.arange(3), "p": Path("q")})
    assert read_json(path, kind="test", schema=1) == {"schema": 1, "a": 1.5, "b": 3, "c": [0, 1, 2], "p": "q"}
    with pytest.raises(TypeError, match="cannot store a object"):
        atomic_write_json(tmp_path / "y.json", {"schema": 1, "x": object()})
    assert not (tmp_path / "y.json").exists() and leftovers(tmp_path, tmp_path / "deep") == []


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, failing):
    path = tmp_path / "baseline.json"
    atomic_write_json(path, {"schema": 1, "value": "old"})
    old_bytes = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"simulated {failing} failure")

    if failing == "replace":
        monkeypatch.setattr(os, "replace", boom)
    elif failing == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:  # the disk fills half-way through the payload
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def write(self, data):
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))

    with pytest.raises(OSError, match="simulated|No space"):
        atomic_write_json(path, {"schema": 1, "value": "new" * 1000})
    assert path.read_bytes() == old_bytes
    assert leftovers(tmp_path, path) == []


def test_keyboard_interrupt_mid_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and leftovers(tmp_path, path) == []


WRITER = textwrap.dedent("""
    import os, sys
    from pytest_genquality.store.files import atomic_write_bytes

    path, mode, stop_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    state = {"i": 0}

    def announce_and_block():
        print("inside write", state["i"], flush=True)
        sys.stdin.readline()  # the parent SIGKILLs us here

    real_fdopen, real_fsync = os.fdopen, os.fsync

    class HalfThenBlock:
        def __init__(self, handle):
            self.handle = handle
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.handle.close()
        def write(self, data):
            if state["i"] == stop_at:
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                announce_and_block()
            self.handle.write(data)
        def __getattr__(self, name):
            return getattr(self.handle, name)

    def fsync_then_block(fd):
        real_fsync(fd)
        if state["i"] == stop_at:
            announce_and_block()

    if mode == "half-written":
        os.fdopen = lambda fd, mode: HalfThenBlock(real_fdopen(fd, mode))
    else:
        os.fsync = fsync_then_block
    filler = "x" * (8 << 20)
    for i in range(1, 1000):
        state["i"] = i
        atomic_write_bytes(path, ('{"schema": 1, "i": %d, "filler": "%s"}' % (i, filler)).encode())
""")


@pytest.mark.parametrize("mode", ["half-written", "before-replace"])
def test_sigkill_mid_write_leaves_the_previous_file(tmp_path, mode):
    """A real process writing 8 MB payloads in a loop is SIGKILLed inside its 3rd write."""
    path = tmp_path / "big.json"
    atomic_write_json(path, {"schema": 1, "i": 0, "filler": ""})
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), mode, "3"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().split() == ["inside", "write", "3"]
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(temps) == 1 and temps[0].stat().st_size > 0  # the new content is on its way
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdin.close()
        child.stdout.close()
    payload = json.loads(path.read_text())  # parses: the 2nd complete write, not half of the 3rd
    assert payload["i"] == 2 and payload["filler"] == "x" * (8 << 20)
    if mode == "half-written":
        with pytest.raises(json.JSONDecodeError):
            json.loads(temps[0].read_text())  # what a non-atomic write would have left


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"schema": 1, "tests": {"a": ', "corrupt or truncated .*line 1"),
        (b"", "corrupt or truncated"),
        (b"not json at all", "corrupt or truncated"),
        (b'{"tests": {}}', "has no 'schema' field"),
        (b"[1, 2, 3]", "has no 'schema' field"),
        (b'{"schema": 99}', "has schema 99; this version of pytest-genquality reads schema 1"),
        (b'{"schema": "1"}', "has schema '1'"),
        (b"\xff\xfe\x00garbage", "is not UTF-8 text"),
    ],
)
def test_read_json_errors_name_the_file_and_leave_it_untouched(tmp_path, content, expected):
    path = tmp_path / "baselines" / "test_x.py.json"
    path.parent.mkdir()
    path.write_bytes(content)
    before = os.stat(path)
    with pytest.raises(StoreFileError, match=expected) as info:
        read_json(path, kind="baseline", schema=1)
    assert f"baseline file {path}" in str(info.value)
    assert path.read_bytes() == content and os.stat(path).st_mtime_ns == before.st_mtime_ns


def test_read_json_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "none.json", kind="run", schema=1)


def test_npz_round_trip_and_truncation(tmp_path):
    path = tmp_path / "features.npz"
    arrays = {"a": np.arange(1000, dtype=np.float16).reshape(10, 100), "b": np.array([1.5, 2.5])}
    atomic_write_npz(path, arrays)
    loaded = read_npz(path, kind="baseline features")
    assert loaded.keys() == arrays.keys()
    for key in arrays:
        assert loaded[key].dtype == arrays[key].dtype and np.array_equal(loaded[key], arrays[key])

    whole = path.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 10, 5):
        path.write_bytes(whole[:cut])
        with pytest.raises(StoreFileError, match=f"baseline features file {path} is corrupt or truncated"):
            read_npz(path, kind="baseline features")
        assert path.read_bytes() == whole[:cut]


def test_npz_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(StoreFileError, match="evil.npz"):
        read_npz(path, kind="baseline features")


def test_read_npz_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "none.npz", kind="x")


def test_lock_for_is_next_to_the_file(tmp_path):
    lock = files.lock_for(tmp_path / "new" / "x.json")
    assert lock.lock_file == str(tmp_path / "new" / "x.json.lock")
    with files.lock_for(tmp_path / "new" / "x.json"):
        assert (tmp_path / "new").is_dir()
