"""Files the plugin writes get the mode open() would give them (0666 minus the umask), not 0600."""

import os
import stat

import numpy as np
import pytest
import torch

from pytest_genquality.generation.cache import ImageCache
from pytest_genquality.report.writer import write_report
from pytest_genquality.store import Store
from pytest_genquality.store.files import atomic_write_bytes, current_umask

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file mode bits are POSIX")


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_atomic_writes_respect_the_umask(tmp_path, umask):
    target = tmp_path / "x.json"
    atomic_write_bytes(target, b"{}")
    assert mode(target) == 0o666 & ~umask
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert mode(target) == mode(plain)


def test_store_reference_run_and_report_files_respect_the_umask(tmp_path, umask):
    from pytest_genquality.reference import ReferenceStats

    store = Store(tmp_path / "store")
    rng = np.random.default_rng(0)
    stats = ReferenceStats.from_features(rng.normal(size=(5, 3)), extractor_id="toy")
    json_path = store.save_reference("toy", stats)
    run = store.write_run([], {"commit": "abc1234", "dirty": False})
    images = store.save_images("t::a", torch.zeros(1, 3, 4, 4, dtype=torch.uint8), [0])
    report = write_report(tmp_path / "report.json", [], {"commit": "abc1234"})
    expected = 0o666 & ~umask
    for path in (json_path, json_path.with_suffix(".npz"), run, images / "0.png", report, store.root / ".gitignore"):
        assert mode(path) == expected, path


def test_image_cache_entries_respect_the_umask(tmp_path, umask):
    cache = ImageCache(tmp_path / "cache")
    path = cache.put("k" * 64, torch.zeros(1, 3, 2, 2, dtype=torch.uint8), {})
    assert mode(path) == 0o666 & ~umask
