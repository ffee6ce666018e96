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
    report_thumb: int = 96  # px, longest side of the images kept for the HTML report
    interface: str = "python"  # "python" or "cli": error messages give the fix in the words of the caller
    drift_margins: tuple[tuple[str, float], ...] = ()  # (metric name or key, margin in its units)
    max_n: str = "auto"  # --gen-max-n: "auto" (a test's max_seeds), "off" (never grow), or "Kx" (K x N for every batch)

    def drift_margin_for(self, key: str, name: str) -> float | None:
        """The user's drift margin for metric ``key`` ("fid@coco") or its name ("fid"); None: auto."""
        margins = dict(self.drift_margins)
        return margins.get(key, margins.get(name))

    @property
    def max_seeds_factor(self) -> int | None:
        """K of ``--gen-max-n=Kx``: batches from ``generate`` may grow to K x their seeds; else None."""
        return int(self.max_n[:-1]) if self.max_n.endswith("x") else None

    @property
    def keeps_thumbnails(self) -> bool:
        """Only an HTML report shows images: otherwise none are kept (memory)."""
        return self.report_path is not None and self.report_path.suffix.lower() in (".html", ".htm")

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


def user_cache_dir() -> Path:
    """Where derived, re-computable files live (never in the store): ``GENQUALITY_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/pytest-genquality``, else ``~/.cache/pytest-genquality``."""
    explicit = os.environ.get("GENQUALITY_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "pytest-genquality"


_active: RunSettings | None = None


def active() -> RunSettings:
    return _active if _active is not None else from_environment()


def configure(run_settings: RunSettings | None) -> RunSettings | None:
    """Install the session's settings (None: the environment defaults); returns the previous."""
    global _active
    previous, _active = _active, run_settings
    return previous


@dataclass(frozen=True)
class OptionSpec:
    """One run option, shared by the pytest plugin and the ``genquality`` CLI."""

    flag: str
    dest: str
    help: str
    is_flag: bool = False
    env: str | None = None
    cli: bool = True  # also offered by the genquality command
    aliases: tuple[str, ...] = ()  # other spellings of ``flag`` (same dest)


OPTIONS = (
    OptionSpec(
        "--gen-device",
        "gen_device",
        "device for generation and feature extraction: auto|cpu|cuda|cuda:N|mps (default auto)",
        env="GENQUALITY_DEVICE",
    ),
    OptionSpec(
        "--gen-store", "gen_store", "snapshot store folder (default <rootdir>/.genquality)", env="GENQUALITY_STORE"
    ),
    OptionSpec(
        "--gen-weights-dir",
        "gen_weights_dir",
        "folder searched first for pretrained weights files",
        env="GENQUALITY_WEIGHTS_DIR",
    ),
    OptionSpec(
        "--gen-offline", "gen_offline", "never download weights or models", is_flag=True, env="GENQUALITY_OFFLINE"
    ),
    # "refs" elsewhere means reference statistics (refs/, build-ref): --update-baselines says what it
    # writes; --update-refs, the 0.2 spelling, keeps working (same dest and ini key update_refs).
    OptionSpec(
        "--update-baselines",
        "update_refs",
        "(re)write the baselines of the tests that run (also spelled --update-refs)",
        is_flag=True,
        cli=False,
        aliases=("--update-refs",),
    ),
    OptionSpec(
        "--prune-refs",
        "prune_refs",
        "with --update-refs: delete baselines of tests that no longer exist",
        is_flag=True,
        cli=False,
    ),
    OptionSpec(
        "--gen-cache",
        "gen_cache",
        "cache generated images in the store, keyed by model fingerprint, seeds and kwargs",
        is_flag=True,
        env="GENQUALITY_CACHE",
        cli=False,
    ),
    OptionSpec("--gen-report", "gen_report", "write a report of all quality results: .html, .json or .md", cli=False),
    OptionSpec(
        "--gen-drift-margin",
        "gen_drift_margin",
        "worsening tolerated by max_drift='auto', per metric in its own units, e.g. 'fid=0.5, recall=0.01' (default: 0.75 seed-noise SDs at that N)",
        cli=False,
    ),
    OptionSpec(
        "--gen-max-n",
        "gen_max_n",
        "adaptive N of the FID/KID drift gate: 'auto' (default: up to a test's generate(..., max_seeds=M)), 'off' (never generate more seeds than asked), or 'Kx' (every generated batch may grow to K times its seeds, e.g. '4x')",
        cli=False,
    ),
    OptionSpec(
        "--gen-report-thumb",
        "gen_report_thumb",
        "longest side in px of the images the HTML report embeds (default 96)",
        cli=False,
    ),
)


def add_options(add_option, *, for_cli: bool = False, only: tuple[str, ...] | None = None) -> None:
    """Register the options with ``add_option`` (pytest's group.addoption or argparse's add_argument).

    only: the dests to offer (a command that reads stored runs takes ``--gen-store`` and nothing
    that would do nothing there, like ``--gen-device``).
    """
    for spec in OPTIONS:
        if (for_cli and not spec.cli) or (only is not None and spec.dest not in only):
            continue
        if spec.is_flag:
            add_option(spec.flag, *spec.aliases, action="store_true", default=None, dest=spec.dest, help=spec.help)
        else:
            add_option(spec.flag, *spec.aliases, action="store", default=None, dest=spec.dest, help=spec.help)


def resolve(values: dict, *, root: Path) -> RunSettings:
    """Combine command-line/ini ``values`` (dest -> value or None) with the environment.

    Precedence: command line, then ini, then environment variable, then default.
    """

    def pick(dest: str):
        spec = next(s for s in OPTIONS if s.dest == dest)
        value = values.get(dest)
        if value not in (None, ""):
            return value
        if spec.env and os.environ.get(spec.env):
            return env_flag(spec.env) if spec.is_flag else os.environ[spec.env]
        return None

    store = pick("gen_store")
    weights_dir = pick("gen_weights_dir")
    for flag, folder in (
        ("--gen-store", (root / store) if store else None),
        ("--gen-weights-dir", Path(weights_dir) if weights_dir else None),
    ):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise ValueError(f"{flag}: {folder} is a file; expected a folder")
    report = pick("gen_report")
    offline = bool(pick("gen_offline")) or env_flag("HF_HUB_OFFLINE")
    thumb = pick("gen_report_thumb")
    return RunSettings(
        device=str(pick("gen_device") or "auto"),
        store_dir=(root / store) if store else root / ".genquality",
        weights_dir=Path(weights_dir) if weights_dir else None,
        offline=offline,
        update_refs=bool(pick("update_refs")),
        prune_refs=bool(pick("prune_refs")),
        cache=bool(pick("gen_cache")),
        report_path=parse_report_path(report) if report else None,
        report_thumb=parse_thumb_size(thumb) if thumb is not None else 96,
        drift_margins=parse_drift_margins(pick("gen_drift_margin")),
        max_n=parse_max_n(pick("gen_max_n")),
    )


def parse_max_n(value) -> str:
    """--gen-max-n / gen_max_n: 'auto' | 'off' | 'Kx' with an int K >= 1 (e.g. '4x')."""
    if value in (None, ""):
        return "auto"
    text = str(value).strip().lower()
    if text in ("auto", "off"):
        return text
    if text.endswith("x") and text[:-1].isdigit() and int(text[:-1]) >= 1:
        return f"{int(text[:-1])}x"
    raise ValueError(f"--gen-max-n: expected 'auto', 'off' or a factor such as '4x', got {value!r}")


def parse_drift_margins(value) -> tuple[tuple[str, float], ...]:
    """--gen-drift-margin / gen_drift_margin: 'fid=0.5, recall@coco=0.01' (commas or new lines).

    Each margin is the worsening, in the metric's own units, that ``max_drift="auto"`` tolerates
    before it tests whether the metric is worse than its baseline.
    """
    if value in (None, ""):
        return ()
    margins = []
    for item in str(value).replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        name, _, amount = item.partition("=")
        try:
            margin = float(amount)
        except ValueError:
            margin = None
        if not name.strip() or margin is None or not margin >= 0 or margin == float("inf"):
            raise ValueError(
                f"--gen-drift-margin: expected METRIC=MARGIN items like 'fid=0.5, recall=0.01' (a "
                f"finite margin >= 0 in the metric's units), got {item!r}"
            )
        margins.append((name.strip(), margin))
    return tuple(margins)


REPORT_SUFFIXES = (".html", ".htm", ".json", ".md")


def parse_report_path(value) -> Path:
    """--gen-report: checked before the session runs, not after it (the format is the file's suffix)."""
    path = Path(value)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ValueError(f"--gen-report: expected a path ending in .html, .json or .md, got {value!r}")
    return path


def parse_thumb_size(value) -> int:
    """--gen-report-thumb: a pixel count from 8 to 1024 (beyond that the report file gets huge)."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = None
    if size is None or not 8 <= size <= 1024:
        raise ValueError(f"--gen-report-thumb: expected a size in pixels from 8 to 1024, got {value!r}")
    return size
