"""Resolved run settings, shared by the plugin, the CLI and library code.

The plugin resolves options once per session and installs them with ``configure``; library
code (weights search, stores) reads ``active()``, which outside pytest falls back to the
environment variables, so ``pytest_genquality.metrics`` works in a notebook too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

TRUE_WORDS = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


@dataclass(frozen=True)
class RunSettings:
    device: str = "auto"
    store_dir: Path = Path(".genquality")
    weights_dir: Path | None = None
    offline: bool = False
    update_refs: bool = False
    prune_refs: bool = False
    cache: bool = False
    report_path: Path | None = None

    def with_changes(self, **changes) -> "RunSettings":
        return replace(self, **changes)


def from_environment() -> RunSettings:
    weights_dir = os.environ.get("GENQUALITY_WEIGHTS_DIR") or None
    return RunSettings(
        device=os.environ.get("GENQUALITY_DEVICE", "auto"),
        store_dir=Path(os.environ.get("GENQUALITY_STORE", ".genquality")),
        weights_dir=Path(weights_dir) if weights_dir else None,
        offline=env_flag("GENQUALITY_OFFLINE") or env_flag("HF_HUB_OFFLINE"),
    )


_active: RunSettings | None = None


def active() -> RunSettings:
    return _active if _active is not None else from_environment()


def configure(run_settings: RunSettings | None) -> None:
    """Install the session's settings (None restores the environment defaults)."""
    global _active
    _active = run_settings
