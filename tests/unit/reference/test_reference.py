"""reference.py: ReferenceStats from folders and batches, streaming invariance, files on disk."""

import json

import numpy as np
import pytest
from PIL import Image

from pytest_genquality.reference import reference_stats as reference_module
from pytest_genquality.batch import images_to_uint8
from pytest_genquality.store.files import StoreFileError
from pytest_genquality.metrics.frechet import sqrtm_psd
from pytest_genquality.reference import ReferenceStats
from toy import ToyExtractor, toy_images


def numpy_moments(rows):
    rows = np.asarray(rows, dtype=np.float64)
    return rows.mean(axis=0), np.cov(rows, rowvar=False)


def write_mixed_folder(folder, count=11):
    """PNG files of several sizes and modes (RGB, L, RGBA, P), some in a subfolder."""
    rng = np.random.default_rng(0)
    shapes = [(16, 16), (20, 12), (16, 16), (9, 31)]
    modes = ["RGB", "L", "RGBA", "P"]
    for i in range(count):
        height, width = shapes[i % len(shapes)]
        mode = modes[(i // 2) % len(modes)]
        channels = {"RGB": 3, "L": 1, "RGBA": 4, "P": 1}[mode]
        pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
        image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode="L" if mode == "P" else mode)
        if mode == "P":
            image = image.convert("P")
        target = folder / ("sub" if i % 3 == 0 else "") / f"img_{i:02d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
    (folder / "notes.txt").write_text("not an image")


def test_folder_of_mixed_images_matches_per_image_features(tmp_path):
    write_mixed_folder(tmp_path)
    extractor = ToyExtractor()
    stats = ReferenceStats.from_images(tmp_path, extractor, batch_size=4)
    files = sorted(p for p in tmp_path.rglob("*.png"))
    rows = []
    for file in files:
        with Image.open(file) as image:
            rows.append(extractor(images_to_uint8(image.convert("RGB")))["pool"].numpy())
    expected = np.concatenate(rows)
    mu, sigma = numpy_moments(expected)
    assert stats.n == len(files) == 11 and stats.extractor_id == extractor.id and stats.source == str(tmp_path)
    np.testing.assert_allclose(stats.mu, mu, rtol=0, atol=1e-12)
    np.testing.assert_allclose(stats.sigma, sigma, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(stats.features, expected.astype(np.float32))
    assert stats.mu.dtype == np.float64 and stats.sigma.dtype == np.float64


def test_folder_equals_the_in_memory_batch(tmp_path):
    batch = toy_images(range(10))
    for seed, image in zip(range(10), batch.images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / f"{seed:03d}.png")
    extractor = ToyExtractor()
    from_folder = ReferenceStats.from_images(tmp_path, extractor, batch_size=3)
    from_memory = ReferenceStats.from_images(batch, extractor, batch_size=64)
    from_tensor = ReferenceStats.from_images(batch.images, extractor, batch_size=4)
    for other in (from_memory, from_tensor):
        np.testing.assert_allclose(from_folder.mu, other.mu, rtol=0, atol=1e-12)
        np.testing.assert_allclose(from_folder.sigma, other.sigma, rtol=0, atol=1e-12)
        assert other.n == 10
    mu, sigma = numpy_moments(extractor(batch)["pool"].numpy())
    np.testing.assert_allclose(from_memory.sigma, sigma, rtol=0, atol=1e-12)


def test_streaming_does_not_depend_on_the_batch_size():
    batch = toy_images(range(70), shift=0.1)
    extractor = ToyExtractor(dim=16, seed=3)
    runs = {size: ReferenceStats.from_images(batch, extractor, batch_size=size) for size in (1, 3, 64)}
    for size in (3, 64):
        assert np.abs(runs[size].mu - runs[1].mu).max() <= 1e-12
        assert np.abs(runs[size].sigma - runs[1].sigma).max() <= 1e-12
        np.testing.assert_array_equal(runs[size].features, runs[1].features)


def test_progress_reports_images_done():
    done = []
    ReferenceStats.from_images(toy_images(range(7)), ToyExtractor(), batch_size=3, progress=done.append)
    assert done == [3, 6, 7]


def test_features_kept_up_to_the_limit(monkeypatch):
    batch = toy_images(range(9))
    extractor = ToyExtractor()
    assert ReferenceStats.from_images(batch, extractor).features.shape == (9, 32)
    assert ReferenceStats.from_images(batch, extractor, keep_features=False).features is None
    monkeypatch.setattr(reference_module, "MAX_STORED_FEATURES", 6)
    over = ReferenceStats.from_images(batch, extractor, batch_size=2)
    assert over.features is None and over.n == 9
    assert ReferenceStats.from_images(batch, extractor, keep_features=True).features.shape == (9, 32)
    rows = extractor(batch)["pool"].numpy()
    assert ReferenceStats.from_features(rows[:6], extractor_id="t").features.shape == (6, 32)
    assert ReferenceStats.from_features(rows, extractor_id="t").features is None
    assert ReferenceStats.from_features(rows, extractor_id="t", keep_features=False).features is None


def test_default_limit_is_50k():
    assert reference_module.MAX_STORED_FEATURES == 50_000


def test_save_load_round_trip(tmp_path):
    rows = np.random.default_rng(1).standard_normal((30, 5))
    stats = ReferenceStats.from_features(rows, extractor_id="inception-fid:abc/pytorch-fid-resize", source="here")
    json_path = stats.save(tmp_path / "refs" / "mine")
    assert json_path == tmp_path / "refs" / "mine.json" and (tmp_path / "refs" / "mine.npz").is_file()
    meta = json.loads(json_path.read_text())
    assert meta["n"] == 30 and meta["dim"] == 5 and meta["has_features"] and meta["schema"] == 1
    for path in (tmp_path / "refs" / "mine", tmp_path / "refs" / "mine.npz", tmp_path / "refs" / "mine.json"):
        loaded = ReferenceStats.load(path)
        np.testing.assert_array_equal(loaded.mu, stats.mu)
        np.testing.assert_array_equal(loaded.sigma, stats.sigma)
        np.testing.assert_array_equal(loaded.matrix_sqrt(), stats.matrix_sqrt())  # from the user cache
        np.testing.assert_array_equal(loaded.features, rows.astype(np.float32))
        assert (loaded.extractor_id, loaded.n, loaded.source, loaded.created, loaded.name) == (
            stats.extractor_id,
            30,
            "here",
            stats.created,
            "mine",
        )
    np.testing.assert_allclose(stats.matrix_sqrt() @ stats.matrix_sqrt(), stats.sigma, atol=1e-12)


def test_save_without_features_or_sqrt(tmp_path):
    rows = np.random.default_rng(2).standard_normal((10, 3))
    stats = ReferenceStats.from_features(rows, extractor_id="x", keep_features=False)
    stats.save(tmp_path / "r", with_sqrt=False)
    loaded = ReferenceStats.load(tmp_path / "r")
    assert loaded.features is None and loaded.sqrt_sigma is None
    np.testing.assert_allclose(loaded.matrix_sqrt(), sqrtm_psd(stats.sigma), atol=1e-14)


def test_npz_out_of_sync_with_its_json(tmp_path):
    rows = np.random.default_rng(3).standard_normal((10, 3))
    ReferenceStats.from_features(rows, extractor_id="x").save(tmp_path / "a")
    ReferenceStats.from_features(rows + 1, extractor_id="x").save(tmp_path / "b")
    (tmp_path / "a.npz").write_bytes((tmp_path / "b.npz").read_bytes())
    with pytest.raises(StoreFileError, match=r"a\.npz do not match the sha256 recorded in .*a\.json.*build-ref"):
        ReferenceStats.load(tmp_path / "a")


def test_truncated_npz_with_no_recorded_sha_is_still_an_error(tmp_path):
    rows = np.random.default_rng(3).standard_normal((10, 3))
    ReferenceStats.from_features(rows, extractor_id="x").save(tmp_path / "a")
    meta = json.loads((tmp_path / "a.json").read_text())
    del meta["npz_sha256"]
    (tmp_path / "a.json").write_text(json.dumps(meta))
    (tmp_path / "a.npz").write_bytes((tmp_path / "a.npz").read_bytes()[:100])
    with pytest.raises(StoreFileError, match="corrupt or truncated"):
        ReferenceStats.load(tmp_path / "a")


@pytest.mark.parametrize("missing", ["npz", "json"])
def test_missing_file_names_build_ref(tmp_path, missing):
    rows = np.random.default_rng(3).standard_normal((10, 3))
    ReferenceStats.from_features(rows, extractor_id="x").save(tmp_path / "coco")
    (tmp_path / f"coco.{missing}").unlink()
    with pytest.raises(
        FileNotFoundError, match=rf"coco\.{missing} does not exist.*genquality build-ref IMAGE_DIR --name coco"
    ):
        ReferenceStats.load(tmp_path / "coco")


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"no image files \(.png.*under"):
        ReferenceStats.from_images(tmp_path, ToyExtractor())
    with pytest.raises(ValueError, match="is not a directory"):
        ReferenceStats.from_images(tmp_path / "absent", ToyExtractor())


def test_too_few_images_and_bad_arguments(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "one.png")
    with pytest.raises(ValueError, match="need at least 2 images.*got 1"):
        ReferenceStats.from_images(tmp_path, ToyExtractor())
    with pytest.raises(ValueError, match="batch_size"):
        ReferenceStats.from_images(toy_images(range(3)), ToyExtractor(), batch_size=0)
    with pytest.raises(ValueError, match="features: expected"):
        ReferenceStats.from_features(np.zeros((1, 4)), extractor_id="x")
    with pytest.raises(ValueError, match="mu, sigma"):
        ReferenceStats(np.zeros(3), np.zeros((2, 2)), 5, "x")


@pytest.fixture
def sqrt_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENQUALITY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "sqrt-sigma"


def test_a_200_image_inception_reference_is_small(tmp_path, sqrt_cache):
    """0.1 wrote sigma and sigma^½ (2048² float64 each): 66 MB for 200 images. Now the features carry sigma."""
    rows = np.random.default_rng(4).standard_normal((200, 2048)).astype(np.float32)  # as an extractor returns
    stats = ReferenceStats.from_features(rows, extractor_id="x")
    json_path = stats.save(tmp_path / "refs" / "coco")
    npz = tmp_path / "refs" / "coco.npz"
    assert npz.stat().st_size < 2_000_000  # features 1.6 MB + mu
    assert json.loads(json_path.read_text())["sigma_stored"] is False
    with np.load(npz) as stored:
        assert sorted(stored.files) == ["features", "mu"]
    loaded = ReferenceStats.load(tmp_path / "refs" / "coco")
    np.testing.assert_allclose(loaded.sigma, stats.sigma, rtol=0, atol=1e-12 * np.abs(stats.sigma).max())
    np.testing.assert_array_equal(loaded.mu, stats.mu)


def test_sigma_is_kept_when_the_features_cannot_give_it_back(tmp_path, sqrt_cache):
    rows64 = np.random.default_rng(5).standard_normal((20, 8))  # float64 rows: the float32 copy is not exact
    ReferenceStats.from_features(rows64, extractor_id="x").save(tmp_path / "a")
    many = np.random.default_rng(6).standard_normal((20, 4)).astype(np.float32)  # n >= 2d: sigma is smaller
    ReferenceStats.from_features(many, extractor_id="x").save(tmp_path / "b")
    for name in ("a", "b"):
        with np.load(tmp_path / f"{name}.npz") as stored:
            assert "sigma" in stored.files and "sqrt_sigma" not in stored.files


def test_the_matrix_square_root_is_cached_outside_the_store_by_sha256(tmp_path, sqrt_cache, monkeypatch):
    rows = np.random.default_rng(7).standard_normal((12, 6)).astype(np.float32)
    stats = ReferenceStats.from_features(rows, extractor_id="x")
    stats.save(tmp_path / "store" / "refs" / "r")
    meta = json.loads((tmp_path / "store" / "refs" / "r.json").read_text())
    cached = sqrt_cache / f"{meta['npz_sha256']}.npy"
    assert cached.is_file() and not any((tmp_path / "store").rglob("*.npy"))
    monkeypatch.setattr(reference_module, "sqrtm_psd", lambda sigma: pytest.fail("recomputed despite the cache"))
    np.testing.assert_array_equal(
        ReferenceStats.load(tmp_path / "store" / "refs" / "r").matrix_sqrt(), stats.matrix_sqrt()
    )
    cached.write_bytes(b"garbage")  # a damaged cache entry is recomputed, never trusted
    monkeypatch.setattr(reference_module, "sqrtm_psd", sqrtm_psd)
    np.testing.assert_allclose(
        ReferenceStats.load(tmp_path / "store" / "refs" / "r").matrix_sqrt(), stats.matrix_sqrt(), atol=1e-12
    )
    assert np.load(cached).shape == (6, 6)  # and rewritten


def test_files_of_0_1_with_a_stored_square_root_still_load(tmp_path, sqrt_cache):
    rows = np.random.default_rng(8).standard_normal((12, 6))
    stats = ReferenceStats.from_features(rows, extractor_id="x")
    stats.save(tmp_path / "old", with_sqrt=True)
    with np.load(tmp_path / "old.npz") as stored:
        assert {"mu", "sigma", "sqrt_sigma", "features"} <= set(stored.files)
    loaded = ReferenceStats.load(tmp_path / "old")
    np.testing.assert_array_equal(loaded.sqrt_sigma, stats.matrix_sqrt())


# ---- the image size a reference was built from (issue 22 item 9) ----------------------------------
def test_the_image_size_is_recorded_saved_and_loaded(tmp_path):
    from pytest_genquality.reference.builder import build_reference

    stats = ReferenceStats.from_images(toy_images(range(40), size=16), ToyExtractor(), name="r")
    assert stats.image_size == (16, 16)
    stats.save(tmp_path / "r")
    assert ReferenceStats.load(tmp_path / "r").image_size == (16, 16)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for seed, image in enumerate(toy_images(range(6), size=24).to_pil()):
        image.save(folder / f"{seed}.png")
    assert build_reference(folder, ToyExtractor(), batch_size=4).image_size == (24, 24)
    Image.new("RGB", (20, 24)).save(folder / "odd.png")
    assert build_reference(folder, ToyExtractor(), batch_size=4).image_size is None  # mixed sizes: none to compare


@pytest.fixture
def outside_pytest_sessions():
    """Assertions as in a notebook: no recorder, so no store and no baseline, only the threshold."""
    from pytest_genquality.checks import run_state

    previous = run_state.install(None)
    yield
    run_state.install(previous)


def test_a_batch_of_another_size_than_the_reference_warns(recwarn, outside_pytest_sessions):
    from pytest_genquality import assert_fid_below
    from pytest_genquality.checks.assertions import ImageSizeMismatchWarning

    reference = ReferenceStats.from_images(toy_images(range(64), size=16), ToyExtractor(), name="real")
    assert_fid_below(toy_images(range(100, 164), size=16), reference, 1e9, extractor=ToyExtractor())
    assert not [w for w in recwarn if issubclass(w.category, ImageSizeMismatchWarning)]
    with pytest.warns(
        ImageSizeMismatchWarning,
        match=r"batch: images are 32x32 px but reference real was built "
        r"from 16x16 px images",
    ):
        assert_fid_below(toy_images(range(100, 164), size=32), reference, 1e9, extractor=ToyExtractor())
    unknown = ReferenceStats(reference.mu, reference.sigma, reference.n, reference.extractor_id, name="old")
    assert unknown.image_size is None  # files of 0.2 and imported statistics: nothing recorded, no warning
    assert_fid_below(toy_images(range(100, 164), size=32), unknown, 1e9, extractor=ToyExtractor())
    assert not [w for w in recwarn if issubclass(w.category, ImageSizeMismatchWarning)]
