"""Atomic, locked, schema-checked files: the only way the store touches the disk.

A write goes to a temporary file in the same folder and is moved over the target with
``os.replace`` (atomic on POSIX and Windows), under a ``filelock`` lock, so a reader sees the
old file or the new one, never half of one, and a crash mid-write loses nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np
from filelock import FileLock
from ..errors import StoreFileError  # noqa: F401  (0.2 import path)


def lock_for(path: Path, timeout: float = 120.0) -> FileLock:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock", timeout=timeout)


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux: /proc)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it; restored at once
    os.umask(mask)
    return mask


def give_default_mode(fd: int) -> None:
    """Give a file made by ``tempfile`` (always 0600) the mode ``open()`` would: 0666 minus the umask.

    Store files and reports are shared through git and CI artifacts; a 0600 file is unreadable
    to the rest of a team on a shared machine.
    """
    if hasattr(os, "fchmod"):  # POSIX; on Windows the mode bits mean nothing here
        os.fchmod(fd, 0o666 & ~current_umask())


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` atomically: ``write(file)`` fills a temp file in the same folder, which is
    fsynced and moved into place with ``os.replace``; a reader sees the old file or the new one.

    The one atomic writer of the package (store files, references, the image and feature caches).
    The file gets the mode a plain ``open(path, "wb")`` would give (0666 minus the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        give_default_mode(handle)
        with os.fdopen(handle, "wb") as temp:
            write(temp)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_write``)."""
    atomic_write(path, lambda file: file.write(data))


def atomic_write_json(path: Path, payload: dict) -> None:
    text = json.dumps(payload, indent=1, sort_keys=True, default=_json_default) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as an uncompressed ``.npz``, streamed into the temp file (no copy in memory)."""
    atomic_write(path, lambda file: np.savez(file, **arrays))


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, hex, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(value: Any):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} in JSON")


def read_json(path: Path, *, kind: str, schema: int) -> dict:
    """Read a store JSON file, checking it parses and carries the expected ``schema``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise StoreFileError(
            f"{kind} file {path} is not UTF-8 text ({error}); it is corrupt. "
            "Restore it from version control or delete it and run `pytest --update-refs`."
        ) from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise StoreFileError(
            f"{kind} file {path} is corrupt or truncated (JSON error at line {error.lineno}, column {error.colno}: "
            f"{error.msg}). It was left untouched: restore it from version control, or delete it and run "
            "`pytest --update-refs`."
        ) from None
    if not isinstance(payload, dict) or "schema" not in payload:
        raise StoreFileError(f"{kind} file {path} has no 'schema' field; it is not a pytest-genquality file")
    if payload["schema"] != schema:
        raise StoreFileError(
            f"{kind} file {path} has schema {payload['schema']!r}; this version of pytest-genquality reads "
            f"schema {schema}. Upgrade pytest-genquality or regenerate the file."
        )
    return payload


def read_npz(path: Path, *, kind: str) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except Exception as error:  # zipfile/numpy raise several types for a damaged archive
        raise StoreFileError(
            f"{kind} file {path} is corrupt or truncated ({type(error).__name__}: {error}). It was left "
            "untouched: restore it from version control or rebuild it."
        ) from None
