"""The `genquality` command: build-ref, history, diff, report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import settings as settings_module


def _progress(total: int | None, label: str):
    """A callable taking the number of images done; tqdm when installed, else a plain line."""
    try:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="img", desc=label, file=sys.stderr, disable=None)  # None: off when not a TTY

        def update(done: int) -> None:
            bar.update(done - bar.n)

        update.close = bar.close  # type: ignore[attr-defined]
        return update
    except ImportError:
        def update(done: int) -> None:
            print(f"\r{label}: {done}/{total or '?'} images", end="", file=sys.stderr, flush=True)

        update.close = lambda: print(file=sys.stderr)  # type: ignore[attr-defined]
        return update


def _settings(args) -> settings_module.RunSettings:
    values = {spec.dest: getattr(args, spec.dest, None) for spec in settings_module.OPTIONS}
    return settings_module.resolve(values, root=Path.cwd())


def cmd_build_ref(args) -> int:
    run_settings = _settings(args)
    folder = Path(args.image_dir)
    if not folder.is_dir():
        print(f"genquality build-ref: {folder} is not a directory", file=sys.stderr)
        return 2
    previous = settings_module.configure(run_settings)  # weights search reads them; restored below
    try:
        return _build_ref(args, run_settings, folder)
    finally:
        settings_module.configure(previous)


def _build_ref(args, run_settings, folder: Path) -> int:
    from .generation.device import resolve_device
    from .features.inception import InceptionFID
    from .reference import IMAGE_SUFFIXES, ReferenceStats
    from .store import Store

    total = sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    device = resolve_device(run_settings.device)
    if args.extractor:
        extractor = _custom_extractor(args.extractor, device)
    else:
        extractor = InceptionFID(args.weights, device=device, resize=args.resize)
    progress = _progress(total, f"build-ref {args.name}")
    try:
        stats = ReferenceStats.from_images(folder, extractor, batch_size=args.batch_size, progress=progress,
                                           name=args.name)
    finally:
        progress.close()
    path = Store(run_settings.store_dir).save_reference(args.name, stats)
    print(f"wrote {path.with_suffix('.npz')} and {path.name}: n={stats.n}, extractor {stats.extractor_id}")
    return 0


def _custom_extractor(spec: str, device):
    """``MODULE:NAME`` -> ``NAME(device=device)``: a domain extractor (``.id``, ``__call__(images) -> {"pool": rows}``).

    The module is imported from the current directory or ``PYTHONPATH``, as ``python -m`` would.
    """
    import importlib

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"genquality build-ref: --extractor expects MODULE:NAME (e.g. my_features:MyExtractor), got {spec!r}")
    sys.path.insert(0, str(Path.cwd()))
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise SystemExit(f"genquality build-ref: --extractor {spec}: {error} (is its folder on PYTHONPATH?)") from None
    finally:
        sys.path.pop(0)
    extractor = factory(device=device)
    if not isinstance(getattr(extractor, "id", None), str) or not callable(extractor):
        raise SystemExit(f"genquality build-ref: --extractor {spec} made {type(extractor).__name__}, which is not an "
                         "extractor: it needs a string .id and __call__(images) -> {'pool': [N, d] rows}, images being "
                         "uint8 [N, 3, H, W] or an ImageBatch")
    return extractor


def _runs(args):
    from .store import Store

    store = Store(_settings(args).store_dir)
    return store, store.run_files()


def cmd_history(args) -> int:
    from .store.history import history_lines, plot, series

    store, files = _runs(args)
    runs = [(path.name, store.load_run(path)) for path in files]
    all_series = series(runs, test=args.test, metric=args.metric)
    print("\n".join(history_lines(all_series)))
    if args.plot:
        print(f"wrote {plot(all_series, Path(args.plot))}")
    return 0


def cmd_diff(args) -> int:
    from .store.history import diff, diff_lines, find_run

    store, files = _runs(args)
    try:
        old_path, new_path = find_run(files, args.rev_a), find_run(files, args.rev_b)
    except SystemExit as error:  # exit status 1 means "worse": a revision that is not there is a usage error
        print(f"genquality diff: {error}", file=sys.stderr)
        return 2
    changes = diff(store.load_run(old_path), store.load_run(new_path), max_drift=args.max_drift)
    print(f"{old_path.stem} -> {new_path.stem}")
    print("\n".join(diff_lines(changes)))
    worse = [c for c in changes if c.worse]
    if worse:
        print(f"{len(worse)} metric(s) worse beyond max_drift={args.max_drift}", file=sys.stderr)
        return 1
    return 0


def cmd_report(args) -> int:
    """The HTML (or Markdown) report of the last N stored runs, without running any test."""
    from .report import model as report_model
    from .report.html import write_page
    from .report.markdown import write_markdown

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
    print(f"wrote {output}: {len(model.tests)} tests, {len(model.results)} metrics from the last {len(model.runs)} runs")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _thumb_size(text: str) -> int:
    try:
        return settings_module.parse_thumb_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _max_drift(text: str):
    """--max-drift: an absolute number or a percentage; checked here so a typo is a usage error."""
    from .verdict import parse_max_drift

    try:
        value = float(text)
    except ValueError:
        value = text
    if value == "auto":
        raise argparse.ArgumentTypeError("'auto' needs stored features; `genquality diff` takes a number or a "
                                         "percentage like 5%")
    try:
        parse_max_drift(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genquality", description="pytest-genquality store tools")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build-ref", help="turn a folder of real images into stored reference statistics")
    build.add_argument("image_dir")
    build.add_argument("--name", required=True, help="reference name, used as gen_refs[NAME]")
    build.add_argument("--weights", default=None, help="explicit Inception weights file")
    build.add_argument("--extractor", default=None, metavar="MODULE:NAME",
                       help="a domain feature extractor instead of the FID Inception: NAME(device=...) from MODULE")
    build.add_argument("--resize", default="pytorch-fid", help="preprocessing: pytorch-fid | tf1 | clean")
    build.add_argument("--batch-size", type=int, default=64)
    settings_module.add_options(build.add_argument, for_cli=True)
    build.set_defaults(handler=cmd_build_ref)

    history = sub.add_parser("history", help="each metric of each test across recorded runs")
    history.add_argument("--test", default=None, help="node id glob or substring")
    history.add_argument("--metric", default=None, help="metric name or key, e.g. fid or fid@coco-val-2k")
    history.add_argument("--plot", default=None, help="also draw a PNG line plot per metric")
    settings_module.add_options(history.add_argument, for_cli=True)
    history.set_defaults(handler=cmd_history)

    compare = sub.add_parser("diff", help="compare two runs; exit 1 on a worsening beyond --max-drift")
    compare.add_argument("rev_a", help="older run: file name, commit prefix or index (-2)")
    compare.add_argument("rev_b", help="newer run: file name, commit prefix or index (-1)")
    compare.add_argument("--max-drift", type=_max_drift, default="5%", help="absolute number or percentage (default 5%%)")
    settings_module.add_options(compare.add_argument, for_cli=True)
    compare.set_defaults(handler=cmd_diff)

    report = sub.add_parser("report", help="HTML dashboard of the last N stored runs: results, history, baseline images")
    report.add_argument("-o", "--output", default="genquality-report.html", help="output file, .html or .md")
    report.add_argument("--runs", type=_positive_int, default=10, help="how many of the newest runs to show (default 10)")
    report.add_argument("--gen-report-thumb", dest="thumb", type=_thumb_size, default=96,
                        help="longest side in px of the embedded images (default 96)")
    settings_module.add_options(report.add_argument, for_cli=True)
    report.set_defaults(handler=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
