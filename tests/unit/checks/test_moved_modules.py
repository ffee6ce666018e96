"""The 0.2 module paths still work in 0.3, with a warning that names the new path."""

import importlib

import pytest

MOVED = {
    "pytest_genquality.assertions": ("pytest_genquality.checks.assertions", "assert_fid_below"),
    "pytest_genquality.quality": ("pytest_genquality.checks.quality", "assert_quality"),
    "pytest_genquality.verdict": ("pytest_genquality.checks.workflow", "MetricCheckFailed"),
    "pytest_genquality.store.session": ("pytest_genquality.checks.run_state", "current_test"),
    "pytest_genquality.store.history": ("pytest_genquality.report.history", "diff"),
    "pytest_genquality.build_ref": ("pytest_genquality.reference.builder", "build_reference"),
    "pytest_genquality.image_files": ("pytest_genquality.reference.image_files", "IMAGE_SUFFIXES"),
    "pytest_genquality.hub": ("pytest_genquality.features.hub", "hub_unreachable_reason"),
    "pytest_genquality.weights": ("pytest_genquality.features.weights", "file_sha256"),
    "pytest_genquality.weights_setup": ("pytest_genquality.cli.weights_command", "write_demo"),
    "pytest_genquality.rootdir": ("pytest_genquality.cli.rootdir", "find_rootdir"),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_forwards_to_the_new_module_with_a_warning(old):
    new, name = MOVED[old]
    shim = importlib.import_module(old)
    expected = getattr(importlib.import_module(new), name)
    with pytest.warns(DeprecationWarning, match=rf"{old} moved to {new}.*import {name} from {new}"):
        assert getattr(shim, name) is expected


@pytest.mark.parametrize("old", sorted(MOVED))
def test_private_names_are_not_forwarded(old):
    shim = importlib.import_module(old)
    with pytest.raises(AttributeError):
        shim._mock_name  # what pytest's collection and unittest.mock probe for
