"""Where a value came from: git commit (and dirty flag), branch, time, library versions."""

from __future__ import annotations

import datetime as _dt
import functools
import subprocess
from pathlib import Path


def _git(root: Path, *args: str) -> str | None:
    try:
        completed = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


@functools.lru_cache(maxsize=8)
def git_state(root: str) -> dict:
    """{'commit': short hash or None, 'dirty': bool, 'branch': name or None}; works outside git."""
    path = Path(root)
    commit = _git(path, "rev-parse", "--short=7", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": False, "branch": None}
    status = _git(path, "status", "--porcelain", "--untracked-files=no")
    branch = _git(path, "rev-parse", "--abbrev-ref", "HEAD")
    return {"commit": commit, "dirty": bool(status), "branch": branch if branch != "HEAD" else None}


def versions() -> dict:
    import torch

    found = {"torch": torch.__version__}
    for name in ("diffusers", "transformers", "numpy"):
        try:
            module = __import__(name)
            found[name] = getattr(module, "__version__", "?")
        except ImportError:
            continue
    from ..version import __version__

    found["pytest-genquality"] = __version__
    return found


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def provenance(root: str | Path) -> dict:
    return {**git_state(str(root)), "time": utc_now(), "versions": versions()}
