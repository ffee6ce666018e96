"""The snapshot store on disk, meant to be committed with the tests.

    refs/<name>.npz, refs/<name>.json          reference statistics + provenance
    baselines/<test file path>.json             node id -> metric key -> lane -> entry
    baselines/images/<node id>/<seed>.png       baseline images for paired checks
    baselines/features/<node id>.npz            baseline generated features (float16)
    runs/<UTC time>_<short commit>[_dirty].json one file per session: the drift history

Every JSON file carries a ``schema``; every write is atomic under a file lock; a baseline
file is updated by merging, so tests that did not run keep their baselines.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import re
from pathlib import Path
from typing import Iterable

import numpy as np

from .files import (
    StoreFileError,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_npz,
    lock_for,
    read_json,
    read_npz,
)
from ..errors import ReferenceExistsError  # noqa: F401  (0.2 import path)

BASELINE_SCHEMA = 1
RUN_SCHEMA = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")
_STORED_NAME = re.compile(r"[A-Za-z0-9._-]+")
_REFERENCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_REFERENCE_NAME = 128  # chars; leaves room for '.npz.lock' and a temp prefix under the usual 255-byte limit


def check_reference_name(name: str) -> str:
    """A reference name is a file stem inside ``refs/``: it must not reach outside it or look like a file.

    It starts with a letter or digit (so never '.', '..', a hidden file or a flag) and holds only
    letters, digits, '.', '_' and '-'; a trailing '.npz' / '.json' is refused because the file
    name would silently lose it.
    """
    if (
        not isinstance(name, str)
        or not _REFERENCE_NAME.fullmatch(name)
        or len(name) > MAX_REFERENCE_NAME
        or name.lower().endswith((".npz", ".json"))
    ):
        raise ValueError(
            f"name: reference names start with a letter or digit, hold only letters, digits, '.', '_' and '-', "
            f"are at most {MAX_REFERENCE_NAME} characters and do not end in .npz or .json; got {name!r}. "
            "Example: --name coco-val-2k"
        )
    return name


def node_dir_name(node_id: str) -> str:
    """A file-system-safe, readable and unique folder name for a pytest node id."""
    readable = _UNSAFE.sub("_", node_id.replace("::", "__")).strip("_")[:80]
    return f"{readable}-{hashlib.sha1(node_id.encode()).hexdigest()[:8]}"


def array_name(metric_key: str, lane: str) -> str:
    """npz member name for one metric key on one lane (hashed: lanes hold '/' and spaces)."""
    return "a" + hashlib.sha1(f"{metric_key}\n{lane}".encode()).hexdigest()[:16]


STORE_GITIGNORE = "# written by pytest-genquality: lock files and the image cache are not history\n*.lock\ncache/\n"


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def prepare(self) -> None:
        """Create the store folder with a .gitignore for its lock files (the rest is meant to be committed)."""
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            atomic_write_bytes(ignore, STORE_GITIGNORE.encode())

    # ---- layout --------------------------------------------------------------------------
    @property
    def refs_dir(self) -> Path:
        return self.root / "refs"

    @property
    def baselines_dir(self) -> Path:
        return self.root / "baselines"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def baseline_file(self, test_file: str) -> Path:
        return self.baselines_dir / (test_file + ".json")

    def features_file(self, node_id: str) -> Path:
        return self.baselines_dir / "features" / (node_dir_name(node_id) + ".npz")

    def images_dir(self, node_id: str) -> Path:
        return self.baselines_dir / "images" / node_dir_name(node_id)

    # ---- reference statistics ------------------------------------------------------------
    def reference_names(self) -> list[str]:
        if not self.refs_dir.is_dir():
            return []
        return sorted(p.stem for p in self.refs_dir.glob("*.json"))

    def reference_path(self, name: str) -> Path:
        """``refs/<name>`` (without suffix) for a valid name; always inside ``refs/``."""
        return self.refs_dir / check_reference_name(name)

    def reference_files(self, name: str) -> tuple[Path, Path]:
        """``refs/<name>.npz`` and ``refs/<name>.json`` for a valid name."""
        base = self.reference_path(name)
        return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")

    def load_reference(self, name: str):
        """The ReferenceStats stored as ``refs/<name>``; a KeyError naming the known ones and the fix if none."""
        # Read with the older, looser rule (no '/', not only dots) so references saved by 0.1 keep loading.
        if not isinstance(name, str) or not _STORED_NAME.fullmatch(name) or not name.strip("."):
            raise KeyError(f"name: {name!r} is not a reference name (letters, digits, '.', '_' and '-')")
        json_path = self.refs_dir / f"{name}.json"
        if not json_path.is_file():
            known = ", ".join(self.reference_names()) or "none"
            raise KeyError(
                f"no reference statistics named {name!r} in {self.refs_dir} (known: {known}); build them with "
                f"`genquality build-ref IMAGE_DIR --name {name} --gen-store {self.root}`"
            )
        # The one import of a layer above: Store.load_reference is 0.2 API (the gen_store fixture)
        # and returns ReferenceStats, whose file format is the reference package's (tests/test_layers.py).
        from ..reference.reference_stats import ReferenceStats

        return ReferenceStats.load(self.refs_dir / name)

    def check_new_reference(self, name: str, *, overwrite: bool = False) -> Path:
        """Validate ``name`` before minutes of feature extraction; refuse an existing one unless ``overwrite``."""
        base = self.reference_path(name)
        existing = [p for p in self.reference_files(name) if p.exists()]
        if existing and not overwrite:
            raise ReferenceExistsError(
                f"name: a reference named {name!r} already exists ({existing[0]}); tests that use it would "
                "silently compare against new statistics. Choose another --name, or pass --force "
                "(overwrite=True in Python) to replace it."
            )
        return base

    def save_reference(self, name: str, stats, *, overwrite: bool = False) -> Path:
        """Store ``stats`` (ReferenceStats: anything with ``name`` and ``save(base)``) as
        ``refs/<name>.npz`` + ``.json``; returns the json path.

        An existing reference of that name is a ``ReferenceExistsError`` unless ``overwrite``.
        """
        base = self.check_new_reference(name, overwrite=overwrite)
        stats.name = name
        self.prepare()
        return stats.save(base)

    # ---- baselines -----------------------------------------------------------------------
    def read_baselines(self, test_file: str) -> dict:
        """node id -> metric key -> lane -> entry, for one test file ({} when none)."""
        path = self.baseline_file(test_file)
        if not path.is_file():
            return {}
        payload = read_json(path, kind="baseline", schema=BASELINE_SCHEMA)
        tests = payload.get("tests")
        if not isinstance(tests, dict):
            raise StoreFileError(f"baseline file {path} has no 'tests' mapping; it is corrupt")
        return tests

    def baseline_files(self) -> dict[str, Path]:
        """test file path -> its baseline file."""
        if not self.baselines_dir.is_dir():
            return {}
        found = {}
        for path in self.baselines_dir.rglob("*.json"):
            relative = path.relative_to(self.baselines_dir).as_posix()
            if relative.startswith(("images/", "features/")):
                continue
            found[relative[: -len(".json")]] = path
        return dict(sorted(found.items()))

    def update_baselines(
        self, test_file: str, updates: dict[str, dict[str, dict[str, dict]]], remove_nodes: Iterable[str] = ()
    ) -> Path:
        """Merge ``updates`` (node -> key -> lane -> entry) into the test file's baselines.

        Only the given node/key/lane entries change; everything else in the file stays.
        A corrupt existing file raises ``StoreFileError`` and is not overwritten.
        """
        path = self.baseline_file(test_file)
        remove_nodes = set(remove_nodes)
        self.prepare()
        with lock_for(path):
            tests = self.read_baselines(test_file)
            for node_id, metrics in updates.items():
                node_entry = tests.setdefault(node_id, {})
                for key, lanes in metrics.items():
                    node_entry.setdefault(key, {}).update(lanes)
            for node_id in remove_nodes:
                tests.pop(node_id, None)
            if not tests:
                if path.exists():
                    path.unlink()
                return path
            atomic_write_json(
                path,
                {
                    "schema": BASELINE_SCHEMA,
                    "kind": "baselines",
                    "test_file": test_file,
                    "tests": dict(sorted(tests.items())),
                },
            )
        return path

    # ---- baseline features / per-sample values -------------------------------------------
    def save_features(self, node_id: str, arrays: dict[str, np.ndarray]) -> Path:
        """Merge named arrays into the node's features file (float16 for feature rows)."""
        path = self.features_file(node_id)
        self.prepare()
        with lock_for(path):
            existing = read_npz(path, kind="baseline features") if path.is_file() else {}
            existing.update(arrays)
            atomic_write_npz(path, existing)
        return path

    def load_features(self, node_id: str, name: str) -> np.ndarray | None:
        path = self.features_file(node_id)
        if not path.is_file():
            return None
        return read_npz(path, kind="baseline features").get(name)

    def remove_node_artifacts(self, node_id: str) -> None:
        import shutil

        path = self.features_file(node_id)
        if path.exists():
            path.unlink()
        shutil.rmtree(self.images_dir(node_id), ignore_errors=True)

    # ---- baseline images -----------------------------------------------------------------
    def save_images(self, node_id: str, images, seeds: list[int]) -> Path:
        """images: uint8 [N, 3, H, W]; written as <seed>.png, atomically, replacing the folder's content."""
        from PIL import Image

        folder = self.images_dir(node_id)
        self.prepare()
        with lock_for(folder.with_suffix(".dir")):
            folder.mkdir(parents=True, exist_ok=True)
            wanted = {f"{seed}.png" for seed in seeds}
            for stale in folder.glob("*.png"):
                if stale.name not in wanted:
                    stale.unlink()
            for image, seed in zip(images, seeds):
                buffer = io.BytesIO()
                Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
                atomic_write_bytes(folder / f"{seed}.png", buffer.getvalue())
        return folder

    def load_images(self, node_id: str, seeds: list[int]):
        """uint8 [N, 3, H, W] for the given seeds, or None if any is missing."""
        import torch
        from PIL import Image

        folder = self.images_dir(node_id)
        tensors = []
        for seed in seeds:
            path = folder / f"{seed}.png"
            if not path.is_file():
                return None
            with Image.open(path) as image:
                tensors.append(torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1))
        return torch.stack(tensors)

    # ---- runs ----------------------------------------------------------------------------
    def write_run(self, results: list[dict], provenance: dict, tests: dict[str, str] | None = None) -> Path:
        """One session's run file. ``tests``: node id -> "passed" | "failed" for each test that ran,
        so a metric missing from a run can be told apart: its test failed or stopped before it, or
        passed without it (the assertion was removed)."""
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        commit = provenance.get("commit") or "nogit"
        name = f"{stamp}_{commit}{'_dirty' if provenance.get('dirty') else ''}.json"
        path = self.runs_dir / name
        self.prepare()
        with lock_for(path):
            atomic_write_json(
                path,
                {
                    "schema": RUN_SCHEMA,
                    "kind": "run",
                    "provenance": provenance,
                    "results": results,
                    **({"tests": dict(tests)} if tests is not None else {}),
                },
            )
        return path

    def run_files(self) -> list[Path]:
        """Run files, oldest first (the UTC stamp leads the name)."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(self.runs_dir.glob("*.json"))

    def load_run(self, path: Path) -> dict:
        return read_json(path, kind="run", schema=RUN_SCHEMA)
