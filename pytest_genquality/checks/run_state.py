"""Session state behind the assertions: which test is running, what it recorded, what to write.

Knows nothing about pytest: the plugin calls ``start_test`` / ``finish_test`` around each test
and ``finish_session`` at the end; assertions call ``current_test()``. Outside pytest there is
no recorder, and assertions only check their thresholds.

Under pytest-xdist, each worker writes the per-node files (features, images: one node runs on
one worker) and hands its results and baseline-JSON updates to the controller
(``worker_payload`` / ``merge_worker_payload``), which writes each baseline file and the run
file exactly once.

Under torchrun every rank runs every test on the same (gathered) images and so records the
same values; only the recorder of rank 0 (``writer=True``) writes to the store.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..store.provenance import provenance
from ..settings import RunSettings
from ..store.files import StoreFileError
from ..store.layout import Store


@dataclass
class TestContext:
    node_id: str
    test_file: str
    record_property: Callable[[str, Any], None] | None = None
    results: list = field(default_factory=list)
    pending_entries: dict = field(default_factory=dict)  # key -> lane -> entry
    pending_arrays: dict = field(default_factory=dict)  # npz member -> array
    pending_images: tuple | None = None  # (uint8 images, seeds)
    thumbnails: dict = field(default_factory=lambda: {"total": 0, "images": []})
    thumbnailed: weakref.WeakSet = field(
        default_factory=weakref.WeakSet
    )  # batches already kept (not id(): ids are reused)


class Recorder:
    def __init__(self, settings: RunSettings, store: Store, lane: str, root: Path, device=None, writer: bool = True):
        self.settings = settings
        self.writer = writer  # False on torchrun ranks other than 0: they write nothing
        self.device = device
        self.store = store
        self.lane = lane
        self.root = Path(root)
        self.provenance = provenance(self.root)
        self.current: TestContext | None = None
        self.results: list[dict] = []
        self.outcomes: dict[str, str] = {}  # node id -> "passed" | "failed" (the run file's "tests")
        self.baseline_updates: dict[str, dict] = {}  # test file -> node -> key -> lane -> entry
        self.collected: set[str] = set()
        self.collected_files: set[str] = set()
        self.broken_files: set[str] = set()
        self.stale: list[str] = []
        self.store_errors: list[str] = []
        self.thumbnails: dict[str, dict] = {}  # node id -> {"total", "images"} (HTML report only)
        self.extractor_provider: Callable[[str], Any] | None = None  # fixture name -> the test's extractor
        self.report_written: Path | None = None  # --gen-report's file, once written

    # ---- per test ------------------------------------------------------------------------
    def start_test(self, node_id: str, test_file: str, record_property=None) -> TestContext:
        self.current = TestContext(node_id, test_file, record_property)
        return self.current

    def keep_thumbnails(self, context: TestContext, batch) -> None:
        """Keep small copies of a measured batch for the HTML report (once per batch object)."""
        if not self.settings.keeps_thumbnails or batch in context.thumbnailed:
            return
        from ..report.thumbnails import MAX_THUMBNAILS, batch_thumbnails

        context.thumbnailed.add(batch)
        kept = context.thumbnails
        room = MAX_THUMBNAILS - len(kept["images"])
        kept["total"] += len(batch)
        if room > 0:
            kept["images"].extend(
                batch_thumbnails(batch.images, batch.seeds, batch.prompts, size=self.settings.report_thumb, limit=room)
            )

    def finish_test(self, passed: bool) -> None:
        """Commit the test's baseline updates (only under --update-refs, only if it passed)."""
        context, self.current = self.current, None
        if context is None:
            return
        if self.settings.update_refs and not passed:
            mark_not_written(context.results)
        self.results.extend(result.as_dict() for result in context.results)
        self.outcomes[context.node_id] = "passed" if passed else "failed"
        if context.thumbnails["images"]:
            self.thumbnails[context.node_id] = context.thumbnails
        if not (
            self.writer and self.settings.update_refs and passed and (context.pending_entries or context.pending_images)
        ):
            return
        if context.pending_arrays:
            self.store.save_features(context.node_id, context.pending_arrays)
        if context.pending_images is not None:
            images, seeds = context.pending_images
            self.store.save_images(context.node_id, images, seeds)
        node_updates = self.baseline_updates.setdefault(context.test_file, {}).setdefault(context.node_id, {})
        for key, lanes in context.pending_entries.items():
            node_updates.setdefault(key, {}).update(lanes)

    # ---- xdist ---------------------------------------------------------------------------
    def worker_payload(self) -> dict:
        return {
            "results": self.results,
            "outcomes": self.outcomes,
            "baseline_updates": self.baseline_updates,
            "collected": sorted(self.collected),
            "collected_files": sorted(self.collected_files),
            "broken_files": sorted(self.broken_files),
            "thumbnails": self.thumbnails,
        }

    def merge_worker_payload(self, payload: dict) -> None:
        self.results.extend(payload.get("results", []))
        self.outcomes.update(payload.get("outcomes", {}))
        for test_file, nodes in payload.get("baseline_updates", {}).items():
            target = self.baseline_updates.setdefault(test_file, {})
            for node_id, metrics in nodes.items():
                for key, lanes in metrics.items():
                    target.setdefault(node_id, {}).setdefault(key, {}).update(lanes)
        self.collected.update(payload.get("collected", []))
        self.collected_files.update(payload.get("collected_files", []))
        self.broken_files.update(payload.get("broken_files", []))
        self.thumbnails.update(payload.get("thumbnails", {}))

    # ---- end of session ------------------------------------------------------------------
    def find_stale(self) -> list[str]:
        """Baselined node ids of fully collected test files that no longer exist."""
        stale = []
        for test_file in self.store.baseline_files():
            if test_file not in self.collected_files or test_file in self.broken_files:
                continue
            try:
                node_ids = self.store.read_baselines(test_file)
            except StoreFileError as error:
                self._note_store_error(error)
                continue
            stale.extend(node_id for node_id in node_ids if node_id not in self.collected)
        return stale

    def _note_store_error(self, error: Exception) -> None:
        if str(error) not in self.store_errors:
            self.store_errors.append(str(error))

    def finish_session(self) -> Path | None:
        """Write baseline updates, prune stale ones if asked, and write the run file.

        A damaged baseline file is never overwritten: its error is kept in ``store_errors``
        (the plugin prints them and fails the session) and the other files are still written.
        A recorder that is not the writer (torchrun rank > 0) writes nothing and returns None.
        """
        if not self.writer:
            return None
        for test_file, nodes in self.baseline_updates.items():
            try:
                self.store.update_baselines(test_file, nodes)
            except StoreFileError as error:
                self._note_store_error(error)
        self.stale = self.find_stale() if self.collected_files else []
        if self.settings.update_refs and self.settings.prune_refs and self.stale:
            by_file: dict[str, list[str]] = {}
            for node_id in self.stale:
                by_file.setdefault(node_id.split("::")[0], []).append(node_id)
            for test_file, node_ids in by_file.items():
                self.store.update_baselines(test_file, {}, remove_nodes=node_ids)
                for node_id in node_ids:
                    self.store.remove_node_artifacts(node_id)
        if not self.results:
            return None
        return self.store.write_run(
            self.results,
            {**self.provenance, "lane": self.lane, "update_refs": self.settings.update_refs},
            tests=self.outcomes,
        )


NOT_WRITTEN = "not-written"  # verdict of a value measured under --update-refs whose baseline was not written


def mark_not_written(results: list) -> None:
    """A failed test's baselines are not written: its "updated" values must not claim they were."""
    for result in results:
        if result.verdict == "updated":
            result.verdict = NOT_WRITTEN
            result.reason = "baseline not written: the test failed (--update-refs writes only passing tests)"


_recorder: Recorder | None = None


def install(recorder: Recorder | None) -> Recorder | None:
    """Make ``recorder`` the active one; returns the previous (pytester nests sessions)."""
    global _recorder
    previous, _recorder = _recorder, recorder
    return previous


def current_run() -> Recorder | None:
    """The one accessor of the run state: the pytest session's recorder, None outside pytest."""
    return _recorder


active_recorder = current_run  # the 0.2 name


def current_test() -> TestContext | None:
    """The running test's context in ``current_run()``, None between tests or outside pytest."""
    run = current_run()
    return run.current if run is not None else None


def session_extractor(kind: str, build: Callable[[], Any]) -> Any:
    """The extractor an assertion uses when none is passed: the running test's ``kind`` fixture.

    ``kind`` is "inception" or "clip". Inside pytest the plugin installs a provider that looks
    the fixture up for the running test, so overriding the fixture in a ``conftest.py``
    changes every assertion's default at once; the fixture is only instantiated when an
    assertion needs it. Outside pytest: one ``build()`` per process.
    """
    run = current_run()
    if run is not None and run.extractor_provider is not None:
        return run.extractor_provider(kind)
    return shared_extractor(kind, build)


_EXTRACTORS: dict[str, Any] = {}


def shared_extractor(name: str, build: Callable[[], Any]) -> Any:
    """One extractor per name per process: the fixtures and the assertions' defaults share it."""
    if name not in _EXTRACTORS:
        _EXTRACTORS[name] = build()
    return _EXTRACTORS[name]


def build_extractor(kind: str, device) -> Any:
    """The default extractor of ``kind`` ("inception" or "clip") on ``device``, one per process:
    what the ``inception`` / ``clip`` fixtures return and what an assertion uses outside pytest."""
    if kind == "inception":
        from ..features.inception import InceptionFID

        return shared_extractor(f"inception:{device}", lambda: InceptionFID(device=device))
    if kind == "clip":
        from ..features.clip import CLIPEmbedder

        return shared_extractor(f"clip:{device}", lambda: CLIPEmbedder(device=device))
    raise ValueError(f"kind: expected 'inception' or 'clip', got {kind!r}")


def default_extractor(kind: str) -> Any:
    """The extractor an assertion uses when none is passed: inside pytest the running test's
    ``kind`` fixture (so a conftest.py override reaches every assertion), outside one per process
    on the run's device (CPU without a run)."""
    device = run_device()
    return session_extractor(kind, lambda: build_extractor(kind, device))


def run_device() -> Any:
    """The device of the run (``--gen-device``), "cpu" outside pytest: where default extractors go."""
    run = current_run()
    return run.device if run is not None and run.device is not None else "cpu"
