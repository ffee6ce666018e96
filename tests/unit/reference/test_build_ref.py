"""build-ref's input pipeline in one process: folder, .zip and .tar give one reference; bad files are named."""

import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from pytest_genquality import ReferenceStats, distributed
from pytest_genquality.reference.builder import build_reference
from pytest_genquality.reference.image_files import ImageFiles, ImageReadError, default_workers, image_batches
from pytest_genquality.stats import RunningMoments
from toy import ToyExtractor


def write_images(folder, count, *, size=16, seed=0):
    """PNG files in two sub-folders, names chosen so that sorted order differs from creation order."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / ("b" if i % 2 else "a") / f"{count - i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return sorted(paths)


def archive(folder, target):
    files = sorted(p for p in folder.rglob("*.png"))
    if target.suffix == ".zip":
        with zipfile.ZipFile(target, "w") as handle:
            for path in reversed(files):  # stored out of order: reading must sort
                handle.write(path, path.relative_to(folder).as_posix())
    else:
        with tarfile.open(target, "w") as handle:
            for path in reversed(files):
                handle.add(path, path.relative_to(folder).as_posix())
    return target


def test_folder_zip_and_tar_give_the_reference_of_the_in_memory_images(tmp_path):
    files = write_images(tmp_path / "imgs", 11)
    extractor = ToyExtractor()
    images = np.stack([np.asarray(Image.open(path)) for path in files])
    expected = ReferenceStats.from_images(images, extractor)  # the long-standing in-memory path
    for source, workers in (
        (tmp_path / "imgs", 0),
        (archive(tmp_path / "imgs", tmp_path / "a.zip"), 2),
        (archive(tmp_path / "imgs", tmp_path / "a.tar"), 1),
    ):
        stats = build_reference(source, extractor, batch_size=4, workers=workers, name="r")
        assert stats.n == 11 and stats.source == str(source)
        np.testing.assert_array_equal(stats.features, expected.features)
        np.testing.assert_allclose(stats.mu, expected.mu, rtol=1e-12)
        np.testing.assert_allclose(stats.sigma, expected.sigma, rtol=1e-10, atol=1e-14)


def test_mixed_sizes_are_batched_apart(tmp_path):
    write_images(tmp_path / "imgs", 3, size=16)
    write_images(tmp_path / "imgs" / "c", 2, size=24, seed=1)
    files = ImageFiles.open(tmp_path / "imgs")
    (runs,) = list(image_batches(files, [range(len(files))]))
    assert [(indices, tuple(images.shape)) for indices, images in runs] == [
        ([0, 1, 2], (3, 3, 16, 16)),
        ([3, 4], (2, 3, 24, 24)),
    ]


def test_a_corrupt_file_is_named_and_nothing_is_returned(tmp_path):
    files = write_images(tmp_path / "imgs", 6)
    files[4].write_bytes(files[4].read_bytes()[:60])  # a truncated PNG
    with pytest.raises(ImageReadError, match=f"{files[4]}: cannot be read as an image"):
        build_reference(tmp_path / "imgs", ToyExtractor(), batch_size=2, workers=2)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "absent", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no image files"),
        (lambda p: (p / "x.tar.gz").write_bytes(b"\x1f\x8b" + bytes(100)) and p / "x.tar.gz", "neither a folder"),
    ],
)
def test_sources_that_are_not_image_sets(tmp_path, make, message):
    with pytest.raises(ValueError, match=message):
        ImageFiles.open(make(tmp_path))


def test_compressed_tar_is_refused_with_the_fix(tmp_path):
    write_images(tmp_path / "imgs", 2)
    with tarfile.open(tmp_path / "a.tar", "w:gz") as handle:  # gzip under a .tar name
        handle.add(tmp_path / "imgs", "imgs")
    with pytest.raises(ValueError, match="not an uncompressed tar.*tar cf"):
        ImageFiles.open(tmp_path / "a.tar")


def test_default_workers_share_the_cpus_of_the_node():
    assert default_workers(local_ranks=10_000) == 0
    assert 0 <= default_workers(local_ranks=1) <= 8


def test_running_moments_merge_equals_one_pass():
    rows = np.random.default_rng(0).normal(3.0, 2.0, size=(101, 5))
    whole = RunningMoments(5)
    whole.update(rows)
    parts = [RunningMoments(5) for _ in range(3)]
    for part, share in zip(parts, (rows[:7], rows[7:60], rows[60:])):
        part.update(share)
    merged = RunningMoments.from_state(parts[0].state()).merge(parts[1]).merge(RunningMoments(5)).merge(parts[2])
    assert merged.count == 101
    np.testing.assert_allclose(merged.mean, rows.mean(0), rtol=1e-13)
    np.testing.assert_allclose(merged.covariance, np.cov(rows, rowvar=False), rtol=1e-12)
    np.testing.assert_allclose(merged.covariance, whole.covariance, rtol=1e-13)
    with pytest.raises(ValueError, match="dim 5"):
        merged.merge(RunningMoments(4))


def test_shards_deal_whole_batches_and_come_back_in_order():
    worlds = [distributed.World(rank, 3) for rank in range(3)]
    shares = [distributed.shard_indices(10, world, block=2) for world in worlds]
    assert shares == [[0, 1, 6, 7], [2, 3, 8, 9], [4, 5]]
    assert distributed.in_original_order([[(i, f"x{i}") for i in share] for share in shares]) == [
        f"x{i}" for i in range(10)
    ]


def test_world_from_the_environment():
    assert distributed.World.from_env({}) == distributed.World(0, 1, 0)
    assert distributed.World.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == distributed.World(3, 4, 1)
    with pytest.raises(ValueError, match="RANK=4, WORLD_SIZE=4"):
        distributed.World.from_env({"RANK": "4", "WORLD_SIZE": "4"})


@pytest.mark.parametrize("option, value", [("--workers", "-1"), ("--workers", "two"), ("--batch-size", "0")])
def test_build_ref_rejects_bad_numbers_as_usage_errors(tmp_path, capsys, option, value):
    from pytest_genquality.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["build-ref", str(tmp_path), "--name", "x", option, value])
    assert exit.value.code == 2 and option in capsys.readouterr().err
