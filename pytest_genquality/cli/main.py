"""The `genquality` command: build-ref (one process or torchrun), import-ref, weights, history, diff, report,
thresholds."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .. import settings as settings_module
from .rootdir import find_rootdir


def _settings(args) -> settings_module.RunSettings:
    """Options, ini-less: the store defaults to pytest's ``<rootdir>/.genquality`` (see rootdir.py).

    A ``--gen-store`` typed on this command line is relative to the current folder, like any path
    in a shell; ``GENQUALITY_STORE`` is relative to the root, as in pytest.
    """
    values = {spec.dest: getattr(args, spec.dest, None) for spec in settings_module.OPTIONS}
    if values.get("gen_store"):
        values["gen_store"] = str(Path(values["gen_store"]).expanduser().absolute())
    resolved = settings_module.resolve(values, root=find_rootdir(Path.cwd()))
    return resolved.with_changes(interface="cli")


def cmd_build_ref(args) -> int:
    """build-ref, in one process or on every rank of a torchrun job (rank 0 alone writes)."""
    from .. import distributed
    from ..store import Store

    run_settings = _settings(args)
    source = Path(args.image_dir)
    usage_error = _check_extractor_options(args)
    if usage_error:
        print(f"genquality build-ref: {usage_error}", file=sys.stderr)
        return 2
    world = distributed.World.from_env()
    if not source.exists() and not world.is_distributed:  # under torchrun every rank must hear of it: see below
        print(f"genquality build-ref: {source} is not a directory, .zip or .tar of images", file=sys.stderr)
        return 2
    Store(run_settings.store_dir).check_new_reference(args.name, overwrite=args.force)  # before minutes of work
    previous = settings_module.configure(run_settings)  # weights search reads them; restored below
    created = False
    try:
        from ..generation.device import resolve_device

        device = resolve_device(run_settings.device, worker_index=world.local_rank if world.is_distributed else None)
        created = distributed.start(world, device.type)
        return _build_ref(args, run_settings, source, world, device)
    finally:
        distributed.stop(created)
        settings_module.configure(previous)


def _build_ref(args, run_settings, source: Path, world, device) -> int:
    from .. import distributed
    from ..generation.progress import Progress, StreamSink
    from ..reference.builder import build_reference
    from ..reference.image_files import ImageFiles, default_workers
    from ..store import Store

    workers = default_workers() if args.workers is None else args.workers
    label = (
        f"genquality build-ref (rank {world.rank} of {world.size})" if world.is_distributed else "genquality build-ref"
    )
    progress = None
    try:
        error, extractor, feature, files = None, None, "pool", None
        try:
            files = ImageFiles.open(source)
            extractor, feature = _reference_extractor(args, device)
        except Exception as failure:  # noqa: BLE001 - every rank must hear of it
            error = failure
        distributed.agree(world, error)
        if world.is_writer:
            progress = Progress(len(files), desc=f"genquality build-ref {args.name}", sink=StreamSink(sys.stderr))
        stats = build_reference(
            files,
            extractor,
            batch_size=args.batch_size,
            workers=workers,
            pin_memory=device.type == "cuda",
            world=world,
            name=args.name,
            progress=progress.set_done if progress is not None else None,
            feature=feature,
        )
        error, path = None, None
        if world.is_writer:
            try:
                path = Store(run_settings.store_dir).save_reference(args.name, stats, overwrite=args.force)
            except OSError as failure:
                error = failure
        distributed.agree(world, error)
    except distributed.DistributedError as error:  # every rank prints the same failure (one process: main's handler)
        print(f"{label}: error: {error}; no reference was written", file=sys.stderr)
        return 2
    finally:
        if progress is not None:
            progress.close()
    if world.is_writer:
        shards = f" from {world.size} ranks" if world.is_distributed else ""
        print(f"wrote {path.with_suffix('.npz')} and {path.name}: n={stats.n}{shards}, extractor {stats.extractor_id}")
    return 0


def cmd_weights(args) -> int:
    """status: every file and where it was looked for; fetch: download into the caches; both exit 1 when a
    file is missing or has a bad hash (a CI step that needs them goes red), 0 when every file is there
    (a demo stand-in counts); demo DIR: seeded random stand-ins."""
    from . import weights_command as weights_setup

    run_settings = _settings(args)
    previous = settings_module.configure(run_settings)
    try:
        if args.action == "demo":
            only = tuple(args.only) if args.only else weights_setup.DEMO_CHOICES
            for path in weights_setup.write_demo(args.directory, seed=args.seed, only=only):
                print(f"wrote {path}")
            print(
                f"seeded random stand-ins (ids say random-seed-{args.seed}; numbers match no published value): "
                f"use them with --gen-weights-dir {args.directory}"
            )
            return 0
        if args.action == "fetch":
            rows = weights_setup.fetch(clip_model=args.clip_model, include_clip=not args.no_clip)
        else:
            rows = weights_setup.status(clip_model=args.clip_model, check_hashes=not args.no_hash)
        print("\n".join(weights_setup.status_lines(rows)))
        unusable = [row.name for row in rows if row.state in ("missing", "bad hash")]
        if unusable:
            print(
                f"genquality weights {args.action}: {len(unusable)} file(s) missing or corrupt: "
                f"{', '.join(unusable)} (exit status 1)",
                file=sys.stderr,
            )
        return 1 if unusable else 0
    finally:
        settings_module.configure(previous)


def _add_weights_command(sub) -> None:
    from .weights_command import DEMO_CHOICES

    weights = sub.add_parser(
        "weights", help="status, fetch or demo stand-ins of every weights file the plugin can need"
    )
    actions = weights.add_subparsers(dest="action", required=True)
    status = actions.add_parser(
        "status",
        help="where each file was looked for, found or not, hash OK or not; exit "
        "status 1 when one is missing or corrupt",
    )
    status.add_argument("--no-hash", action="store_true", help="skip hashing (CLIP ViT-L/14 is 1.7 GB)")
    fetch = actions.add_parser("fetch", help="download every missing file into the caches (CI pre-caching)")
    fetch.add_argument("--no-clip", action="store_true", help="skip the CLIP model (1.7 GB)")
    demo = actions.add_parser("demo", help="write seeded random stand-ins (offline demos and tests) into DIR")
    demo.add_argument("directory")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--only", nargs="+", choices=DEMO_CHOICES, help="write only these (default: all)")
    for action in (status, fetch):
        action.add_argument("--clip-model", default=None, help="hub id of the CLIP model (default the plugin's)")
    for action in (status, fetch, demo):
        settings_module.add_options(action.add_argument, for_cli=True)
        action.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    weights.set_defaults(handler=cmd_weights)


def cmd_import_ref(args) -> int:
    """Store a pytorch-fid / TTUR statistics .npz (mu, sigma) as reference NAME, with its provenance."""
    from ..reference.reference_stats import ReferenceStats
    from ..store import Store

    store = Store(_settings(args).store_dir)
    store.check_new_reference(args.name, overwrite=args.force)
    stats = ReferenceStats.from_pytorch_fid_npz(args.file, name=args.name)
    path = store.save_reference(args.name, stats, overwrite=args.force)
    print(
        f"wrote {path.with_suffix('.npz')} and {path.name}: dim {stats.dim}, extractor {stats.extractor_id}, "
        f"sha256 of {args.file} {stats.imported['sha256'][:12]}"
    )
    print(
        f"no features: FID only (with the official Inception, resize pytorch-fid); KID, precision, recall and "
        f"coverage need `genquality build-ref DIR --name {args.name}`"
    )
    return 0


REFERENCE_EXTRACTORS = ("inception", "clip", "dinov2")


def _reference_extractor(args, device):
    """(extractor, feature key) named by ``build-ref --extractor``: the features the reference keeps.

    inception: FID/KID/precision-recall (``--weights``, ``--resize``, ``--dims``); clip: CLIP
    image embeddings for ``assert_cmmd_below``; dinov2: FD_DINOv2 / KID / precision-recall with
    ``extractor=DINOv2Embedder(...)``. ``--model`` names the CLIP or DINOv2 checkpoint.
    """
    if ":" in args.extractor:
        return _custom_extractor(args.extractor, device), "pool"
    if args.extractor == "clip":
        from ..features.clip import DEFAULT_CLIP_MODEL, CLIPEmbedder

        return CLIPEmbedder(args.model or DEFAULT_CLIP_MODEL, device=device), "clip"
    if args.extractor == "dinov2":
        from ..features.dinov2 import DEFAULT_DINOV2_MODEL, DINOv2Embedder

        return DINOv2Embedder(args.model or DEFAULT_DINOV2_MODEL, device=device), "pool"
    from ..features.inception import InceptionFID

    return InceptionFID(args.weights, device=device, resize=args.resize, dims=args.dims), "pool"


def _check_extractor_options(args) -> str | None:
    """A usage error for options that the chosen extractor does not take, else None."""
    module, _, name = args.extractor.partition(":")
    if args.extractor not in REFERENCE_EXTRACTORS and not (module and name):
        return (
            f"--extractor: expected {', '.join(REFERENCE_EXTRACTORS)} or MODULE:NAME (a domain extractor, e.g. "
            f"my_features:MyExtractor), got {args.extractor!r}"
        )
    if args.extractor == "inception":
        return "--model names a CLIP or DINOv2 checkpoint; Inception takes --weights" if args.model else None
    ignored = [
        flag
        for flag, given in (
            ("--weights", args.weights),
            ("--resize", args.resize != "pytorch-fid"),
            ("--dims", args.dims != 2048),
        )
        if given
    ]
    return f"{', '.join(ignored)} only apply to --extractor inception" if ignored else None


def _custom_extractor(spec: str, device):
    """``MODULE:NAME`` -> ``NAME(device=device)``: a domain extractor (``.id``, ``__call__(images) -> {"pool": rows}``).

    The module is imported from the current directory or ``PYTHONPATH``, as ``python -m`` would.
    """
    import importlib

    module_name, _, attribute = spec.partition(":")
    sys.path.insert(0, str(Path.cwd()))
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"--extractor {spec}: {error} (is its folder on PYTHONPATH?)") from None
    finally:
        sys.path.pop(0)
    extractor = factory(device=device)
    if not isinstance(getattr(extractor, "id", None), str) or not callable(extractor):
        raise ValueError(
            f"--extractor {spec} made {type(extractor).__name__}, which is not an extractor: it needs a "
            "string .id and __call__(images) -> {'pool': [N, d] rows}, images being uint8 [N, 3, H, W] "
            "or an ImageBatch"
        )
    return extractor


def _runs(args):
    from ..store import Store

    store = Store(_settings(args).store_dir)
    return store, store.run_files()


def cmd_history(args) -> int:
    from ..report.history import history_lines, plot, series
    from ..store.files import StoreFileError

    store, files = _runs(args)
    runs = []
    for path in files:  # one damaged run file must not hide the others (as in `genquality report`)
        try:
            runs.append((path.name, store.load_run(path)))
        except StoreFileError as error:
            print(f"genquality history: warning: skipped run file: {error}", file=sys.stderr)
    all_series = series(runs, test=args.test, metric=args.metric)
    print("\n".join(history_lines(all_series)))
    if args.plot:
        print(f"wrote {plot(all_series, Path(args.plot))}")
    return 0


def cmd_diff(args) -> int:
    from ..stats import DRIFT_ALPHA
    from ..errors import RunNotFoundError
    from ..report.history import diff, diff_lines, find_run

    store, files = _runs(args)
    try:
        old_path, new_path = find_run(files, args.rev_a), find_run(files, args.rev_b)
    except RunNotFoundError as error:  # exit status 1 means "worse": a revision that is not there is a usage error
        print(f"genquality diff: {error}", file=sys.stderr)
        return 2
    if old_path == new_path:
        print(
            f"genquality diff: {args.rev_a!r} and {args.rev_b!r} both name the run {old_path.stem}: a run compared "
            "with itself is always 'ok'; name two different runs",
            file=sys.stderr,
        )
        return 2
    changes = diff(
        store.load_run(old_path),
        store.load_run(new_path),
        max_drift=args.max_drift,
        noise_sds=_baseline_noise_sds(store),
    )
    print(f"{old_path.stem} -> {new_path.stem}")
    print("\n".join(diff_lines(changes)))
    worse = [c for c in changes if c.worse]
    failed = [c for c in changes if c.failed]
    if worse:
        rule = f"the margin (p < {DRIFT_ALPHA:g})" if args.max_drift == "auto" else f"max_drift={args.max_drift}"
        print(f"{len(worse)} metric(s) worse beyond {rule}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} metric(s) failed in the new run {new_path.stem}:", file=sys.stderr)
        for change in failed:
            print(f"  {change.test} {change.key}: {change.failed}", file=sys.stderr)
    return 1 if worse or failed else 0


def _baseline_noise_sds(store) -> dict:
    """(node id, metric key, lane) -> the seed-noise SD stored with each baseline (None-free)."""
    found = {}
    for test_file in store.baseline_files():
        for node_id, metrics in store.read_baselines(test_file).items():
            for key, lanes in metrics.items():
                for lane, entry in lanes.items():
                    if isinstance(entry, dict) and entry.get("noise_sd") is not None:
                        found[(node_id, key, lane)] = float(entry["noise_sd"])
    return found


def cmd_thresholds(args) -> int:
    """Suggested absolute thresholds from the baselines' values and their seed-to-seed spread."""
    from .thresholds_command import merged_baselines, thresholds_lines

    store, files = _runs(args)
    runs = []
    for path in files:
        try:
            runs.append((path.name, store.load_run(path)))
        except user_error_types() as error:
            print(f"warning: skipped run file: {error}", file=sys.stderr)
    print("\n".join(thresholds_lines(merged_baselines(store), runs, false_fail=args.false_fail, test=args.test)))
    return 0


def _false_fail(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 0.5, such as 0.005; got {text}")
    return value


def cmd_report(args) -> int:
    """The HTML (or Markdown) report of the last N stored runs, without running any test."""
    from ..report import model as report_model
    from ..report.html import write_page
    from ..report.markdown import write_markdown

    store, files = _runs(args)
    if not files:
        print(f"genquality report: no run files in {store.runs_dir}; run pytest first", file=sys.stderr)
        return 1
    output = Path(args.output)
    if output.suffix.lower() not in (".html", ".htm", ".md"):
        print(f"genquality report: -o must end in .html or .md, got {output}", file=sys.stderr)
        return 2
    model = report_model.from_store(store, runs=args.runs, size=args.thumb)
    if output.suffix.lower() == ".md":
        write_markdown(output, model.results, model.provenance)
    else:
        write_page(output, model, thumb=args.thumb)
    for note in model.notes:
        print(f"warning: {note}", file=sys.stderr)
    older = f" (+{len(model.older_results)} from older runs, marked)" if model.older_results else ""
    print(
        f"wrote {output}: {len(model.tests)} tests, {len(model.current_results)} metrics of the newest run{older}; "
        f"history of the last {len(model.runs)} runs"
    )
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or a positive number, got {text}")
    return value


def _thumb_size(text: str) -> int:
    try:
        return settings_module.parse_thumb_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _max_drift(text: str):
    """--max-drift: auto, an absolute number or a percentage; checked here so a typo is a usage error."""
    from ..stats import parse_max_drift

    try:
        value = float(text)
    except ValueError:
        value = text
    try:
        parse_max_drift(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


STORE_ONLY = ("gen_store",)  # history, diff, report read stored runs: no device, weights or downloads


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genquality", description="pytest-genquality store tools")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser(
        "build-ref",
        help="turn a folder, .zip or .tar of real images into stored reference "
        "statistics (also under torchrun: one rank per GPU)",
    )
    build.add_argument("image_dir", help="folder (searched recursively), .zip or uncompressed .tar of images")
    build.add_argument("--name", required=True, help="reference name, used as gen_refs[NAME]")
    build.add_argument(
        "--extractor",
        default="inception",
        help="features to keep: inception (FID, KID, precision/recall; default), clip (CMMD), "
        "dinov2 (FD_DINOv2, dgm-eval's preprocessing), or MODULE:NAME, a domain extractor "
        "NAME(device=...) imported from MODULE",
    )
    build.add_argument(
        "--model",
        default=None,
        help="CLIP or DINOv2 checkpoint: hub id (from the HF cache) or "
        "directory; defaults openai/clip-vit-large-patch14, "
        "facebook/dinov2-large",
    )
    build.add_argument("--weights", default=None, help="explicit Inception weights file")
    build.add_argument(
        "--resize", default="pytorch-fid", help="Inception preprocessing: pytorch-fid | tf1 | clean | torchmetrics"
    )
    build.add_argument(
        "--dims",
        type=int,
        choices=(64, 192, 768, 2048),
        default=2048,
        help="Inception feature block, as pytorch-fid's --dims (default 2048)",
    )
    build.add_argument("--batch-size", type=_positive_int, default=64)
    build.add_argument(
        "--workers",
        type=_non_negative_int,
        default=None,
        help="image-decoding processes per rank (default: the CPUs of this node shared by its ranks, "
        "at most 8; 0 decodes in the main process)",
    )
    build.add_argument("--force", action="store_true", help="replace an existing reference of that name")
    settings_module.add_options(build.add_argument, for_cli=True)
    build.set_defaults(handler=cmd_build_ref)

    _add_weights_command(sub)

    imported = sub.add_parser(
        "import-ref", help="store a pytorch-fid/TTUR statistics .npz (mu, sigma) as a reference (FID only: no features)"
    )
    imported.add_argument("file", help="the .npz written by pytorch-fid --save-stats or TTUR")
    imported.add_argument("--name", required=True, help="reference name, used as gen_refs[NAME]")
    imported.add_argument("--force", action="store_true", help="replace an existing reference of that name")
    settings_module.add_options(imported.add_argument, for_cli=True)
    imported.set_defaults(handler=cmd_import_ref)

    history = sub.add_parser("history", help="each metric of each test across recorded runs")
    history.add_argument("--test", default=None, help="node id glob or substring")
    history.add_argument("--metric", default=None, help="metric name or key, e.g. fid or fid@coco-val-2k")
    history.add_argument("--plot", default=None, help="also draw a PNG line plot per metric")
    settings_module.add_options(history.add_argument, for_cli=True, only=STORE_ONLY)
    history.set_defaults(handler=cmd_history)

    compare = sub.add_parser(
        "diff",
        help="compare two runs; exit 1 on a worsening beyond --max-drift or a failure "
        "recorded in the newer run (a crossed threshold, a failed test)",
    )
    compare.add_argument("rev_a", help="older run: file name, commit prefix or index (-2)")
    compare.add_argument("rev_b", help="newer run: file name, commit prefix or index (-1)")
    compare.add_argument(
        "--max-drift",
        type=_max_drift,
        default="auto",
        help="auto (default: the drift gate's margin test with each baseline's seed-noise SD), "
        "an absolute number, or a percentage like 5%%",
    )
    settings_module.add_options(compare.add_argument, for_cli=True, only=STORE_ONLY)
    compare.set_defaults(handler=cmd_diff)

    thresholds = sub.add_parser(
        "thresholds",
        help="suggest absolute thresholds from the baselines' values and their "
        "measured seed-to-seed spread (after `pytest --update-refs`)",
    )
    thresholds.add_argument("--test", default=None, help="only node ids containing this")
    thresholds.add_argument(
        "--false-fail",
        type=_false_fail,
        default=0.005,
        help="chance that the unchanged model fails a suggested threshold on a fresh block of "
        "seeds, per check (default 0.005)",
    )
    settings_module.add_options(thresholds.add_argument, for_cli=True)
    thresholds.set_defaults(handler=cmd_thresholds)

    report = sub.add_parser(
        "report", help="HTML dashboard of the last N stored runs: results, history, baseline images"
    )
    report.add_argument("-o", "--output", default="genquality-report.html", help="output file, .html or .md")
    report.add_argument(
        "--runs", type=_positive_int, default=10, help="how many of the newest runs to show (default 10)"
    )
    report.add_argument(
        "--gen-report-thumb",
        dest="thumb",
        type=_thumb_size,
        default=96,
        help="longest side in px of the embedded images (default 96)",
    )
    settings_module.add_options(report.add_argument, for_cli=True, only=STORE_ONLY)
    report.set_defaults(handler=cmd_report)

    parser.add_argument("--debug", action="store_true", default=False, help=DEBUG_HELP)
    for command_parser in sub.choices.values():  # also after the command: `genquality build-ref ... --debug`
        command_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


DEBUG_HELP = "show the full traceback of an error (also GENQUALITY_DEBUG=1)"


def user_error_types() -> tuple[type[BaseException], ...]:
    """Errors that mean "the input or the machine is not as the command needs", not a bug.

    Our errors name the argument, the value and the fix, so their message is the whole story:
    bad values (ValueError, and so WeightsHashMismatchError), missing or unreadable files
    (OSError: WeightsNotFoundError, CLIP/LPIPS not found, a reference that exists, a broken image),
    a device that is not there, a corrupt store file, a run that is not stored, a missing extra:
    every ``GenQualityError``. Anything else is a bug and keeps its traceback.
    """
    from ..errors import GenQualityError

    return ValueError, OSError, GenQualityError


def _one_line_warning(command: str):
    """A warning as one line on stderr, like the command's errors: Python's default adds the file, line
    number and source line of the ``warnings.warn`` call, which is the plugin's code, not the user's."""

    def format_warning(message, category, filename, lineno, line=None) -> str:
        return f"genquality {command}: warning: {message}\n"

    return format_warning


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error is one message on stderr and exit status 2 (a traceback with --debug)."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False) or settings_module.env_flag("GENQUALITY_DEBUG")
    try:
        with warnings.catch_warnings():
            if not debug:  # formatwarning, not showwarning: a caller recording warnings still gets them
                warnings.formatwarning = _one_line_warning(args.command)
            return args.handler(args)
    except KeyboardInterrupt:
        print(f"genquality {args.command}: interrupted", file=sys.stderr)
        return 130
    except user_error_types() as error:
        if debug:
            raise
        print(f"genquality {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
