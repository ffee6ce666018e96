"""The session's fixtures are the assertions' defaults; --update-refs loads what later runs need."""

from toy import project_conftest

OVERRIDE = project_conftest(
    extra="""
LOADED = []

@pytest.fixture(scope="session")
def inception():
    LOADED.append("inception")
    return ToyExtractor()

@pytest.fixture(scope="session")
def clip():
    LOADED.append("clip")
    raise RuntimeError("the clip fixture must not be loaded by a suite that never uses CLIP")

def pytest_sessionfinish(session):
    print(f"\\nloaded fixtures: {LOADED}")
"""
)

TESTS = """
from toy import toy_images
from pytest_genquality import assert_fid_below, assert_recall_above

def test_default_extractor_is_the_fixture(ref):
    batch = toy_images(range(64))
    assert_fid_below(batch, ref, 100.0)
    assert_recall_above(batch, ref, 0.0)

def test_without_any_metric():
    pass
"""


def test_an_overridden_inception_fixture_is_every_assertions_default(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no official weights to fall back on
    pytester.makeconftest(OVERRIDE)
    pytester.makepyfile(test_quality=TESTS)
    result = pytester.runpytest("--update-refs", "--gen-offline", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["loaded fixtures: ['inception']"])  # clip never loaded: nothing used it
    assert "toy:proj32-seed0" in (pytester.path / ".genquality" / "baselines" / "test_quality.py.json").read_text()


PAIRED = """
from toy import toy_images
from pytest_genquality import assert_no_regression

def test_paired_lpips():
    assert_no_regression(toy_images(range(4), size=32), "lpips", max_value=0.05)
"""


def test_update_refs_fails_when_a_paired_check_lacks_its_weights(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    pytester.makeconftest(project_conftest())
    pytester.makepyfile(test_paired=PAIRED)
    result = pytester.runpytest("--update-refs", "--gen-offline", f"--gen-weights-dir={tmp_path / 'none'}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*WeightsNotFoundError*alexnet*"])
    assert not (pytester.path / ".genquality" / "baselines" / "images").exists()
