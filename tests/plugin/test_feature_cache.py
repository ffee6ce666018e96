"""--gen-cache also caches features: an unchanged batch's rerun skips extraction."""

import numpy as np

from pytest_genquality.generation.cache import FeatureCache, feature_cache_key, images_sha256
from toy import counting_extractor_conftest, toy_images

CONFTEST = counting_extractor_conftest(reference_batch_size=400)

TESTS = """
from toy import toy_images
from pytest_genquality import assert_quality

def test_quality(ref):
    assert_quality(toy_images(range(64)), ref, fid_below=100.0, recall_above=0.0)
"""


def test_a_rerun_reads_the_features_and_a_new_extractor_misses(pytester, monkeypatch):
    monkeypatch.delenv("TOY_EXTRACTOR_ID", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=TESTS)
    first = pytester.runpytest("--update-refs", "--gen-cache", "-s")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["extractor calls: [400, 64]"])
    assert len(list((pytester.path / ".genquality" / "cache" / "features").glob("*.npz"))) == 1

    rerun = pytester.runpytest("--gen-cache", "-s")
    rerun.assert_outcomes(passed=1)
    rerun.stdout.fnmatch_lines(["extractor calls: [400]"])  # only the reference, built by the fixture

    without = pytester.runpytest("-s")  # no --gen-cache: extracted again
    without.stdout.fnmatch_lines(["extractor calls: [400, 64]"])

    monkeypatch.setenv("TOY_EXTRACTOR_ID", "toy:other-weights")
    other = pytester.runpytest("--update-refs", "--gen-cache", "-s")
    other.assert_outcomes(passed=1)
    other.stdout.fnmatch_lines(["extractor calls: [400, 64]"])


def test_the_key_follows_pixels_and_extractor_and_a_damaged_entry_is_a_miss(tmp_path):
    images = toy_images(range(4)).images
    changed = images.clone()
    changed[0, 0, 0, 0] ^= 1
    assert images_sha256(images) == images_sha256(images.clone())
    assert images_sha256(images) != images_sha256(changed)
    assert images_sha256(images) != images_sha256(images.reshape(2, 2, *images.shape[1:]))
    key = feature_cache_key(images_sha256(images), "toy:a")
    assert key != feature_cache_key(images_sha256(images), "toy:b")

    cache = FeatureCache(tmp_path)
    assert cache.get(key) is None
    pool = np.arange(8, dtype=np.float32).reshape(4, 2)
    cache.put(key, {"pool": pool}, "toy:a")
    np.testing.assert_array_equal(cache.get(key)["pool"], pool)
    cache.path(key).write_bytes(cache.path(key).read_bytes()[:40])
    assert cache.get(key) is None


def test_a_pipeline_fingerprint_is_the_same_in_every_process():
    """diffusers' config bookkeeping (``_use_default_values``) follows the hash seed; the key must not."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; sys.path.insert(0, %r); from tiny_models import tiny_ddpm_pipeline; "
        "from pytest_genquality.generation.cache import model_fingerprint; "
        "print(model_fingerprint(tiny_ddpm_pipeline()))"
    ) % str(Path(__file__).resolve().parents[1])
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1, digests
