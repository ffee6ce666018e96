"""pytorch-fid / TTUR statistics files: ReferenceStats.from_pytorch_fid_npz, `genquality import-ref`,
what they may be compared with, and the assertions that use (or refuse) them in a user's project."""

import hashlib
import json

import numpy as np
import pytest

from pytest_genquality.cli import main
from pytest_genquality.features.extractor_ids import comparable, imported_pytorch_fid_id
from pytest_genquality.reference import ReferenceStats
from pytest_genquality.store import Store
from pytest_genquality.store.files import StoreFileError

OFFICIAL = "inception-fid:6726825d0af5/pytorch-fid"
IMPORTED = "inception-fid:pytorch-fid-stats-provenance-unknown/pytorch-fid"


def write_pytorch_fid_npz(path, dim=32, seed=0, **extra):
    """As pytorch-fid's save_fid_stats writes it: np.savez_compressed(path, mu=..., sigma=...)."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(3 * dim, dim))
    mu, sigma = rows.mean(axis=0), np.cov(rows, rowvar=False)
    np.savez_compressed(path, mu=mu, sigma=sigma, **extra)
    return mu, sigma


@pytest.mark.parametrize(
    "reference_id, extractor_id, expected",
    [
        (IMPORTED, OFFICIAL, True),
        (IMPORTED, "inception-fid:6726825d99aa/pytorch-fid", True),  # any file with the official sha256 prefix
        (IMPORTED, "inception-fid:random-seed-0-0123456789ab/pytorch-fid", False),
        (IMPORTED, "inception-fid:0123456789ab/pytorch-fid", False),  # other weights
        (IMPORTED, "inception-fid:6726825d0af5/tf1", False),  # official weights, other preprocessing
        (IMPORTED, "inception-fid:6726825d0af5/clean", False),
        (IMPORTED, "inception-fid:6726825d0af5/pytorch-fid/dims-768", False),
        (IMPORTED + "/dims-768", "inception-fid:6726825d0af5/pytorch-fid/dims-768", True),
        (IMPORTED, "clip:openai/clip-vit-large-patch14:0123456789ab", False),
        (OFFICIAL, IMPORTED, True),  # symmetric
        (OFFICIAL, OFFICIAL, True),
        (OFFICIAL, "inception-fid:6726825d0af5/tf1", False),
        (IMPORTED, IMPORTED, True),
    ],
)
def test_what_imported_statistics_are_comparable_with(reference_id, extractor_id, expected):
    assert comparable(reference_id, extractor_id) is expected


def test_imported_id_names_the_width_when_not_2048():
    assert imported_pytorch_fid_id(2048) == IMPORTED
    assert imported_pytorch_fid_id(768) == IMPORTED + "/dims-768"


def test_from_pytorch_fid_npz_keeps_the_arrays_and_the_provenance(tmp_path):
    path = tmp_path / "fid_stats_cifar10_train.npz"
    mu, sigma = write_pytorch_fid_npz(path)
    stats = ReferenceStats.from_pytorch_fid_npz(path)
    np.testing.assert_array_equal(stats.mu, mu)
    np.testing.assert_array_equal(stats.sigma, sigma)
    assert stats.n is None and stats.features is None and stats.name == "fid_stats_cifar10_train"
    assert stats.extractor_id == IMPORTED + "/dims-32"
    assert stats.imported["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert stats.imported["features"] == "none" and stats.imported["file"] == str(path.resolve())
    assert ReferenceStats.load(path).imported == stats.imported  # load() reads a lone peer npz too


def test_float32_ttur_statistics_are_upcast(tmp_path):
    path = tmp_path / "ttur.npz"
    mu, sigma = write_pytorch_fid_npz(path)
    np.savez(path, mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
    stats = ReferenceStats.from_pytorch_fid_npz(path)
    assert stats.mu.dtype == stats.sigma.dtype == np.float64
    np.testing.assert_allclose(stats.sigma, sigma, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"m": np.zeros(3), "s": np.eye(3)}, r"lacks the arrays \['mu', 'sigma'\]"),
        ({"mu": np.zeros(3), "sigma": np.eye(4)}, r"expected mu \[d\] and sigma \[d, d\], got \(3,\) and \(4, 4\)"),
        ({"mu": np.full(3, np.nan), "sigma": np.eye(3)}, "NaN or inf"),
        ({"mu": np.zeros(2), "sigma": np.array([[1.0, 0.5], [0.0, 1.0]])}, "sigma is not symmetric"),
    ],
)
def test_bad_statistics_files_name_the_file_and_the_problem(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(StoreFileError, match=match) as error:
        ReferenceStats.from_pytorch_fid_npz(path)
    assert str(path) in str(error.value)


def test_our_npz_without_its_json_is_still_an_error(tmp_path):
    """Only a file holding exactly mu and sigma is a peer's; ours without its .json is out of sync."""
    write_pytorch_fid_npz(tmp_path / "ours.npz", sqrt_sigma=np.eye(32))
    with pytest.raises(FileNotFoundError, match="ours.json does not exist"):
        ReferenceStats.load(tmp_path / "ours.npz")


def test_import_ref_stores_the_statistics_with_their_provenance(tmp_path, capsys):
    source = tmp_path / "stats.npz"
    mu, sigma = write_pytorch_fid_npz(source)
    store_dir = tmp_path / "store"
    assert main(["import-ref", str(source), "--name", "cifar10-train", "--gen-store", str(store_dir)]) == 0
    out = capsys.readouterr().out
    assert "no features" in out and "genquality build-ref DIR --name cifar10-train" in out
    meta = json.loads((store_dir / "refs" / "cifar10-train.json").read_text())
    assert meta["n"] is None and meta["has_features"] is False and meta["extractor_id"] == IMPORTED + "/dims-32"
    assert meta["imported"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert meta["imported"]["file"] == str(source.resolve()) and meta["imported"]["features"] == "none"
    stats = Store(store_dir).load_reference("cifar10-train")
    np.testing.assert_array_equal(stats.mu, mu)
    np.testing.assert_array_equal(stats.sigma, sigma)
    assert stats.features is None and stats.imported == meta["imported"] and stats.name == "cifar10-train"


def test_import_ref_refuses_to_replace_a_reference_without_force(tmp_path, capsys):
    source = tmp_path / "stats.npz"
    write_pytorch_fid_npz(source)
    argv = ["import-ref", str(source), "--name", "x", "--gen-store", str(tmp_path / "store")]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    write_pytorch_fid_npz(source, seed=1)
    assert main(argv + ["--force"]) == 0
    assert (
        Store(tmp_path / "store").load_reference("x").imported["sha256"]
        == hashlib.sha256(source.read_bytes()).hexdigest()
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda path: None, "does not exist"),
        (lambda path: np.savez(path, activations=np.zeros((4, 3))), "lacks the arrays"),
        (lambda path: path.write_bytes(b"not an npz"), "stats.npz is not an .npz file (an .npz is a zip archive"),
        (
            lambda path: np.save(path.with_suffix(".npy"), np.zeros(3)) or path.with_suffix(".npy").rename(path),
            "stats.npz is a .npy file (one numpy array), not an .npz file",
        ),
        (
            lambda path: (np.savez(path, mu=np.zeros(3), sigma=np.eye(3)), path.write_bytes(path.read_bytes()[:-40])),
            "is a damaged or truncated .npz file",
        ),
    ],
)
def test_import_ref_errors_exit_2_with_the_reason(tmp_path, capsys, make, message):
    source = tmp_path / "stats.npz"
    make(source)
    assert main(["import-ref", str(source), "--name", "x", "--gen-store", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "version control" not in err and "pickle" not in err
    assert not (tmp_path / "store" / "refs" / "x.json").exists()


PROJECT_CONFTEST = """
import sys
import pytest
sys.path.insert(0, {tests_dir!r})
from toy import ToyExtractor, toy_images

class OfficialLookingToy(ToyExtractor):
    '''Toy features under the id official weights would give at width 32 (no official file offline).'''
    def __init__(self, resize="pytorch-fid"):
        super().__init__(dim=32, seed=0)
        self.id = "inception-fid:6726825d0af5/" + resize + "/dims-32"

@pytest.fixture
def batch():
    return toy_images(range(40), size=16)
"""

PROJECT_TESTS = """
import numpy as np
import pytest
from conftest import OfficialLookingToy
from pytest_genquality import (assert_fid_below, assert_kid_below, assert_precision_above, assert_recall_above,
                               assert_coverage_above)
from pytest_genquality.metrics import frechet_distance
from pytest_genquality.metrics.fid import ExtractorMismatchError

def test_fid(batch, gen_refs):
    ref = gen_refs["real"]
    result = assert_fid_below(batch, "real", 1e6, extractor=OfficialLookingToy())
    rows = OfficialLookingToy()(batch)["pool"].numpy().astype(np.float64)
    expected = frechet_distance(ref.mu, ref.sigma, rows.mean(axis=0), np.cov(rows, rowvar=False))
    assert result.value == pytest.approx(expected, rel=1e-9)

def test_fid_other_resize(batch):
    with pytest.raises(ExtractorMismatchError, match="resize='pytorch-fid'"):
        assert_fid_below(batch, "real", 1e6, extractor=OfficialLookingToy("tf1"))

@pytest.mark.parametrize("check", [assert_kid_below, assert_precision_above, assert_recall_above,
                                   assert_coverage_above])
def test_needs_features(batch, check):
    with pytest.raises(ValueError) as error:
        check(batch, "real", 0.5, extractor=OfficialLookingToy())
    text = str(error.value)
    assert "reference real has no features" in text and "genquality build-ref DIR --name real" in text
"""


def test_assertions_against_an_imported_reference(pytester, tmp_path):
    """A user's project: import-ref into the store, then gen_refs / names in the assertions."""
    from pathlib import Path

    source = tmp_path / "stats.npz"
    rng = np.random.default_rng(5)
    rows = np.tanh(rng.normal(size=(200, 32)))
    np.savez_compressed(source, mu=rows.mean(axis=0), sigma=np.cov(rows, rowvar=False))
    store = pytester.path / ".genquality"
    assert main(["import-ref", str(source), "--name", "real", "--gen-store", str(store)]) == 0
    pytester.makeconftest(PROJECT_CONFTEST.format(tests_dir=str(Path(__file__).resolve().parents[1])))
    pytester.makepyfile(test_imported=PROJECT_TESTS)
    pytester.runpytest("--update-refs", "-p", "no:cacheprovider").assert_outcomes(passed=6)
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=6)
    outcome.stdout.fnmatch_lines(["*fid@real*pass*"])
