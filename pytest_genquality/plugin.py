"""pytest hooks only: options, fixtures, per-test recording, xdist merge, torchrun, the summary.

All logic lives in modules that know nothing about pytest (settings, device, session,
store, report, distributed); this file wires them to pytest's life cycle.

Under ``torchrun -m pytest`` each rank runs the whole session on its own device
(cuda:LOCAL_RANK); ``generate`` shares the seeds out and gathers the images, so every rank
computes the same values and verdicts; rank 0 alone writes the store and the reports, and
the ranks agree on one exit status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from . import distributed
from . import report as report_module
from .report import markdown as report_markdown
from .checks import run_state as session_module
from .checks.workflow import SPECS, custom_margin_names
from . import settings as settings_module
from .generation.device import DeviceUnavailableError, lane as lane_of, resolve_device, xdist_worker_index
from .store import Store

WORKER_OUTPUT_KEY = "genquality"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("genquality", "generative-model quality tests (pytest-genquality)")
    settings_module.add_options(group.addoption)
    for spec in settings_module.OPTIONS:
        parser.addini(
            spec.dest, spec.help, type="bool" if spec.is_flag else "string", default=False if spec.is_flag else None
        )


# Flags for one run, never for every run: in a committed ini file, update_refs would make each CI run
# accept whatever it measures as the new baseline, so the drift gate would pass everything.
COMMAND_LINE_ONLY = ("update_refs", "prune_refs")


def _option_values(config: pytest.Config) -> dict:
    values = {}
    for spec in settings_module.OPTIONS:
        value = config.getoption(spec.dest)
        if value in (None, ""):
            ini = config.getini(spec.dest)
            value = ini if ini not in (None, "", False) else None
            if value and spec.dest in COMMAND_LINE_ONLY:
                raise ValueError(
                    f"{spec.dest} = true in {config.inipath or 'the ini file'}: a committed file that rewrites "
                    f"the baselines makes every run (CI included) accept what it measures, so the drift gate "
                    f"passes everything. Remove it and pass {spec.flag} on the command line of the run that "
                    f"should rewrite them"
                )
        values[spec.dest] = value
    return values


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped with a reason when none is present")
    try:
        run_settings = settings_module.resolve(_option_values(config), root=Path(config.rootpath))
        config.stash[_CUSTOM_MARGINS] = custom_margin_names(run_settings.drift_margins)
        world = distributed.World.from_env()
        if world.is_distributed and (hasattr(config, "workerinput") or _xdist_workers(config)):
            raise ValueError(
                "pytest -n (xdist) under torchrun: use one of the two (torchrun for large N per test, "
                "-n for many small tests), not both"
            )
        device = resolve_device(
            run_settings.device, worker_index=world.local_rank if world.is_distributed else xdist_worker_index()
        )
    except (DeviceUnavailableError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[_WORLD] = (world, distributed.start(world, device.type))
    recorder = session_module.Recorder(
        run_settings,
        Store(run_settings.store_dir),
        lane_of(device),
        Path(config.rootpath),
        device=device,
        writer=world.is_writer,
    )
    config.stash[_PREVIOUS] = (settings_module.configure(run_settings), session_module.install(recorder))
    config.stash[_RECORDER] = recorder


def _xdist_workers(config: pytest.Config) -> bool:
    workers = getattr(config.option, "numprocesses", None)
    return bool(workers) and workers != "0"


_RECORDER = pytest.StashKey[session_module.Recorder]()
_PREVIOUS = pytest.StashKey[tuple]()
_WORLD = pytest.StashKey[tuple]()  # (World, whether this plugin started its process group)
_CUSTOM_MARGINS = pytest.StashKey[list]()  # --gen-drift-margin names that are not shipped metrics


def pytest_unconfigure(config: pytest.Config) -> None:
    if _PREVIOUS in config.stash:
        previous_settings, previous_recorder = config.stash[_PREVIOUS]
        settings_module.configure(previous_settings)
        session_module.install(previous_recorder)
    if _WORLD in config.stash:
        distributed.stop(config.stash[_WORLD][1])


def pytest_report_header(config: pytest.Config) -> list[str]:
    recorder = config.stash[_RECORDER]
    mode = " (updating baselines)" if recorder.settings.update_refs else ""
    world = config.stash[_WORLD][0]
    ranks = f", torchrun rank {world.rank} of {world.size}" if world.is_distributed else ""
    return [f"genquality: lane {recorder.lane}, store {recorder.settings.store_dir}{mode}{ranks}"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("gpu") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU (marked gpu); none is available here")


# ---- collection bookkeeping (for stale-baseline detection) -------------------------------------
def pytest_itemcollected(item: pytest.Item) -> None:
    recorder = item.config.stash[_RECORDER]
    recorder.collected.add(item.nodeid)
    recorder.collected_files.add(item.nodeid.split("::")[0])


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed and report.nodeid:
        recorder = session_module.current_run()
        if recorder is not None:
            recorder.broken_files.add(report.nodeid.split("::")[0])


# ---- per test ----------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    recorder = item.config.stash[_RECORDER]
    recorder.start_test(
        item.nodeid,
        item.nodeid.split("::")[0],
        record_property=lambda name, value: item.user_properties.append((name, value)),
    )
    return (yield)


# Exceptions the plugin raises on purpose, with a message that says everything (a failed check,
# missing weights, a bad argument): their traceback through the plugin is noise to the user.
_USER_ERRORS = (AssertionError, ValueError, TypeError, OSError, RuntimeError)
_PACKAGE_DIR = Path(__file__).resolve().parent


def _in_package(filename: str) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(_PACKAGE_DIR)
    except (OSError, ValueError):
        return False


def _raised_by_plugin(error: BaseException | None) -> bool:
    """A user error the plugin raised itself (its innermost frame is ours), not a library's."""
    if not isinstance(error, _USER_ERRORS) or error.__traceback__ is None:
        return False
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return _in_package(tb.tb_frame.f_code.co_filename)


def _hide_in_failures(excinfo) -> bool:
    """``__tracebackhide__`` of the package's modules: hide their frames for the plugin's own errors."""
    return excinfo is not None and _raised_by_plugin(excinfo.value)


def _hide_plugin_frames(excinfo: pytest.ExceptionInfo) -> None:
    """Show the user's line and the message: hide this package's frames and the chained cause.

    pytest hides a frame whose module defines ``__tracebackhide__`` (a callable decides per
    failure); it is set on the package modules this traceback passes through, so lazily
    imported ones are covered too. Only errors the plugin raised itself are trimmed: an
    exception from a library under it, or from the user's code, keeps its frames, and
    ``--full-trace`` shows everything.
    """
    if not _raised_by_plugin(excinfo.value):
        return
    for entry in excinfo.traceback:
        if _in_package(str(entry.path)):
            entry.frame.f_globals.setdefault("__tracebackhide__", _hide_in_failures)
    excinfo.value.__suppress_context__ = True
    excinfo.value.__cause__ = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    if call.excinfo is not None and not item.config.getoption("fulltrace", False):
        _hide_plugin_frames(call.excinfo)
    report = yield
    if call.when == "call":
        item.config.stash[_RECORDER].finish_test(passed=report.passed)
    return report


# ---- end of session, xdist ---------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    recorder = config.stash[_RECORDER]
    if hasattr(config, "workerinput"):
        config.workeroutput[WORKER_OUTPUT_KEY] = json.dumps(recorder.worker_payload())
        return
    run_file = recorder.finish_session()
    if recorder.store_errors and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    world = config.stash[_WORLD][0]
    if world.is_distributed:  # one status for the job: the first rank's that is not OK
        statuses = distributed.all_gather(world, int(session.exitstatus))
        first = next((status for status in statuses if status), 0)
        session.exitstatus = pytest.ExitCode(first) if first in set(pytest.ExitCode) else first
    if not recorder.writer:
        return
    provenance = {**recorder.provenance, "lane": recorder.lane}
    if recorder.settings.report_path is not None and recorder.results:
        recorder.report_written = report_module.write_report(
            recorder.settings.report_path,
            recorder.results,
            provenance,
            thumbnails=recorder.thumbnails,
            store=recorder.store,
            current_run=run_file,
            thumb=recorder.settings.report_thumb,
        )
    report_markdown.append_step_summary(recorder.results, provenance)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if payload:
        node.config.stash[_RECORDER].merge_worker_payload(json.loads(payload))


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    recorder = config.stash[_RECORDER]
    if hasattr(config, "workerinput") or not recorder.writer:
        return
    lines = report_module.summary_lines(
        recorder.results,
        stale=recorder.stale,
        quiet=config.get_verbosity() < 0,
        update_refs=recorder.settings.update_refs,
        pruned=recorder.settings.prune_refs,
    )
    unmatched = _unmatched_margins(config.stash.get(_CUSTOM_MARGINS, []), recorder.results)
    if lines or recorder.store_errors or unmatched:
        terminalreporter.section("genquality")
        for line in lines:
            terminalreporter.write_line(line)
        for name in unmatched:
            terminalreporter.write_line(
                f"warning: --gen-drift-margin {name!r} matched no metric of this session "
                f"(shipped metrics: {', '.join(SPECS)}; or a name given to assert_metric)",
                yellow=True,
            )
        for error in recorder.store_errors:
            terminalreporter.write_line(f"ERROR (store not updated): {error}", red=True)
    if recorder.report_written is not None:
        terminalreporter.write_line(f"genquality report: {Path(recorder.report_written).resolve()}")


def _unmatched_margins(custom: list[str], results: list[dict]) -> list[str]:
    """Margins for metrics of the user's own that no test of this session recorded (a typo, most likely)."""
    measured = {result.get("key") for result in results} | {result.get("metric") for result in results}
    return [name for name in custom if name not in measured]


# ---- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _genquality_session_extractors(request: pytest.FixtureRequest):
    """Assertions without ``extractor=`` / ``embedder=`` use this test's ``inception`` / ``clip``
    fixtures (a conftest.py override included), looked up only when one is needed."""

    def fixture_value(name: str):
        try:
            return request.getfixturevalue(name)
        except _USER_ERRORS as error:
            if not _raised_by_plugin(error):
                raise
            # pytest's fixture machinery between the test and the plugin's message is noise
            raise error.with_traceback(None) from None

    recorder = request.config.stash[_RECORDER]
    recorder.extractor_provider = fixture_value
    yield
    recorder.extractor_provider = None


@pytest.fixture(scope="session")
def gen_device(pytestconfig: pytest.Config):
    """The torch.device that generation and feature extraction use (--gen-device)."""
    return pytestconfig.stash[_RECORDER].device


@pytest.fixture(scope="session")
def gen_store(pytestconfig: pytest.Config) -> Store:
    """The snapshot store (--gen-store), for advanced use."""
    return pytestconfig.stash[_RECORDER].store


class ReferenceMapping(Mapping):
    """Stored ReferenceStats by name, loaded on first access."""

    def __init__(self, store: Store):
        self._store = store
        self._loaded: dict = {}

    def __getitem__(self, name: str):
        if name not in self._loaded:
            self._loaded[name] = self._store.load_reference(name)
        return self._loaded[name]

    def __iter__(self):
        return iter(self._store.reference_names())

    def __len__(self) -> int:
        return len(self._store.reference_names())


@pytest.fixture(scope="session")
def gen_refs(gen_store: Store) -> ReferenceMapping:
    """Mapping of stored reference statistics by name (``refs/<name>.npz``)."""
    return ReferenceMapping(gen_store)


@pytest.fixture(scope="session")
def inception(gen_device):
    """The FID Inception on gen_device, loaded once per session (official weights or a clear error)."""
    return session_module.build_extractor("inception", gen_device)


@pytest.fixture(scope="session")
def clip(gen_device):
    """The CLIP embedder on gen_device, loaded once per session (needs transformers)."""
    return session_module.build_extractor("clip", gen_device)


@pytest.fixture(scope="session")
def generate(pytestconfig: pytest.Config, gen_device):
    """generate(model, *, prompts=None, seeds, batch_size=8, max_seeds=None, **model_kwargs) -> ImageBatch."""
    from .generation.engine import make_generate

    recorder = pytestconfig.stash[_RECORDER]
    cache_dir = recorder.store.cache_dir / "images" if recorder.settings.cache else None
    sink = TerminalProgressSink.of(pytestconfig)
    return make_generate(
        gen_device,
        cache_dir=cache_dir,
        show_progress=sink is not None,
        progress_sink=sink,
        world=pytestconfig.stash[_WORLD][0],
        max_seeds_factor=recorder.settings.max_seeds_factor,
    )


class TerminalProgressSink:
    """Progress through pytest's terminal reporter with capture suspended, as pytest-benchmark writes:
    the test's own output stays captured, the progress shows (redrawn on a terminal, a line every
    few seconds in a CI log)."""

    def __init__(self, config: pytest.Config, reporter):
        self.config = config
        self.reporter = reporter
        self.is_tty = bool(reporter.isatty())
        self.drawing = False
        self.test_line = None  # the reporter's line when the bar started (a path, a node id prefix, or None)

    @classmethod
    def of(cls, config: pytest.Config) -> "TerminalProgressSink | None":
        """None when nothing should show: ``-q``, no terminal reporter, or an xdist worker (its output is not shown)."""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or config.get_verbosity() < 0 or hasattr(config, "workerinput"):
            return None
        return cls(config, reporter)

    def _uncaptured(self):
        import contextlib

        capture = self.config.pluginmanager.get_plugin("capturemanager")
        return capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()

    def draw(self, text: str) -> None:
        with self._uncaptured():
            if not self.drawing:  # start below the test's line ("test_x.py .." or its node id)
                self.test_line = self.reporter.currentfspath
                self.reporter.ensure_newline()
                self.drawing = True
            self.reporter.rewrite(f"  {text}", erase=True)

    def line(self, text: str) -> None:
        with self._uncaptured():
            self.reporter.write_line(f"  {text}")

    def end(self) -> None:
        """Erase the bar (as tqdm's ``leave=False``) and give the test's line back, so the results go on it."""
        from _pytest.pathlib import bestrelpath

        with self._uncaptured():
            self.reporter.rewrite("", erase=True)
            self.reporter.write("\r")
            line = self.test_line
            if isinstance(line, Path):
                self.reporter.write(bestrelpath(self.reporter.startpath, line) + " ")
            elif isinstance(line, str):
                self.reporter.write(line)
            self.reporter.currentfspath = line
        self.drawing = False
