"""The package layout: the subpackages exist and public import paths keep working (layers and cycles:
test_layers.py)."""

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "module",
    [
        "pytest_genquality.generation.engine",
        "pytest_genquality.generation.cache",
        "pytest_genquality.generation.device",
        "pytest_genquality.generation.progress",
        "pytest_genquality.store.files",
        "pytest_genquality.store.layout",
        "pytest_genquality.checks.run_state",
        "pytest_genquality.store.provenance",
        "pytest_genquality.report.history",
        "pytest_genquality.report.table",
        "pytest_genquality.report.model",
        "pytest_genquality.report.html",
        "pytest_genquality.report.markdown",
        "pytest_genquality.report.thumbnails",
        "pytest_genquality.report.svg_chart",
        "pytest_genquality.report.writer",
    ],
)
def test_subpackage_modules_import(module):
    importlib.import_module(module)


def test_documented_paths_keep_working():
    from pytest_genquality.generate import seed_generators
    from pytest_genquality.generation.engine import seed_generators as engine_seed_generators
    from pytest_genquality.store import Store
    from pytest_genquality.store.layout import Store as LayoutStore

    assert seed_generators is engine_seed_generators and Store is LayoutStore
    assert [g.initial_seed() for g in seed_generators([3, 7])] == [3, 7]


def test_report_table_imports_no_writer():
    """table.py is the low module the report writers share: it imports nothing from report/ (lower layers are fine)."""
    import ast

    tree = ast.parse((ROOT / "pytest_genquality" / "report" / "table.py").read_text())
    same_package = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1]
    absolute = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    absolute += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0]
    assert not same_package and not [m for m in absolute if m and m.startswith("pytest_genquality.report")]


def test_metrics_functions_are_never_shadowed_by_their_0_2_module_paths():
    import pytest_genquality.metrics as metrics

    kid_module = importlib.import_module("pytest_genquality.metrics.kid")  # 0.2 path of kernel_distance
    assert kid_module is importlib.import_module("pytest_genquality.metrics.kernel_distance")
    for name in ("kid", "cmmd", "clip_score", "inception_score"):
        importlib.import_module(f"pytest_genquality.metrics.{name}")
        assert callable(getattr(metrics, name)) and not isinstance(getattr(metrics, name), type(metrics)), name


def test_fid_and_lpips_moved_to_features_with_a_warning():
    import pytest_genquality.metrics as metrics
    from pytest_genquality.features import image_metrics

    with pytest.warns(DeprecationWarning, match="features.image_metrics"):
        assert metrics.fid is image_metrics.fid
    with pytest.warns(DeprecationWarning, match="features.image_metrics"):
        assert importlib.import_module("pytest_genquality.metrics.lpips").lpips is image_metrics.lpips
    from pytest_genquality.metrics.fid import ExtractorMismatchError
    from pytest_genquality import ExtractorMismatchError as exported

    assert ExtractorMismatchError is exported
