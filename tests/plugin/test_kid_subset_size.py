"""KID with a subset_size larger than the batch: clipped, and the size used is in the recorded
result and in the message, not only in a warning (torch-fidelity and torchmetrics raise)."""

import json

from toy import project_conftest

KID_TESTS = """
from pytest_genquality import assert_kid_below
from toy import toy_images

def test_clipped(ref, extractor):
    result = assert_kid_below(toy_images(range(24)), ref, 1.0, extractor=extractor, subsets=5)
    assert result.details == {"subsets": 5, "subset_size": 24, "subset_size_requested": 1000}

def test_not_clipped(ref, extractor):
    result = assert_kid_below(toy_images(range(24)), ref, 1.0, extractor=extractor, subsets=5, subset_size=16)
    assert result.details["subset_size"] == 16 == result.details["subset_size_requested"]

def test_failing(ref, extractor):
    assert_kid_below(toy_images(range(24)), ref, -1.0, extractor=extractor, subsets=5)
"""


def test_clipped_subset_size_is_recorded_and_shown(pytester):
    pytester.makeconftest(project_conftest("range(10000, 10100)"))
    pytester.makepyfile(test_kid=KID_TESTS)
    # no:benchmark: pytest-benchmark, where installed, warns (a UserWarning) when xdist is active
    result = pytester.runpytest(
        "--update-refs", "-p", "no:cacheprovider", "-p", "no:benchmark", "-W", "error::UserWarning"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*KID * is above the threshold -1*",
            "*KID std over 5 subsets of 24: * (subset_size=1000 clipped to the smaller set: 24 generated, "
            "100 reference rows)*",
        ]
    )
    (run_file,) = (pytester.path / ".genquality" / "runs").glob("*.json")
    recorded = {row["test"].split("::")[-1]: row for row in json.loads(run_file.read_text())["results"]}
    assert recorded["test_clipped"]["details"]["subset_size"] == 24
    assert recorded["test_clipped"]["details"]["subset_size_requested"] == 1000
    assert recorded["test_not_clipped"]["details"]["subset_size"] == 16
