"""Thumbnails: bounded size and count, kept only for an HTML report; heat maps on a fixed scale."""

import base64

import numpy as np
import pytest
import torch

from pytest_genquality import ImageBatch
from pytest_genquality.checks.run_state import Recorder
from pytest_genquality.settings import RunSettings, parse_thumb_size
from pytest_genquality.store import Store
from pytest_genquality.report.thumbnails import (
    HEAT_FULL_SCALE,
    MAX_THUMBNAILS,
    batch_thumbnails,
    decode_png,
    difference_heatmap,
    downscale,
)


def test_downscale_keeps_aspect_and_never_upscales():
    wide = np.zeros((200, 300, 3), dtype=np.uint8)
    assert downscale(wide, 96).shape == (64, 96, 3)
    tall = np.zeros((300, 30, 3), dtype=np.uint8)
    assert downscale(tall, 96).shape == (96, 10, 3)
    small = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    assert np.array_equal(downscale(small, 96), small)


def test_downscale_averages_areas():
    checker = np.zeros((64, 64, 3), dtype=np.uint8)
    checker[::2, ::2] = checker[1::2, 1::2] = 255
    assert np.all(np.abs(downscale(checker, 32).astype(int) - 128) <= 1), "box filter: each 2x2 block averages"


def test_heat_map_is_black_for_identical_images_and_on_a_fixed_scale():
    image = np.random.default_rng(0).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    heat, mean = difference_heatmap(image, image)
    assert mean == 0 and heat.max() == 0
    brighter = np.clip(image.astype(int) + 8, 0, 255).astype(np.uint8)
    small, _ = difference_heatmap(image, brighter)
    far = np.clip(image.astype(int) + int(HEAT_FULL_SCALE) * 2, 0, 255).astype(np.uint8)
    large, _ = difference_heatmap(np.zeros_like(image), np.full_like(image, 255))
    assert 0 < small.max() < large.min(), "a small difference stays dim: no per-image normalisation"
    assert (large == 255).all(), "beyond the full scale is white"
    assert difference_heatmap(image, far)[1] > difference_heatmap(image, brighter)[1]


def recorder(tmp_path, report: str | None, thumb: int = 96) -> Recorder:
    settings = RunSettings(
        store_dir=tmp_path / "store", report_path=tmp_path / report if report else None, report_thumb=thumb
    )
    return Recorder(settings, Store(settings.store_dir), "cpu", tmp_path)


def noise_batch(count: int, size: int) -> ImageBatch:
    """Random pixels: the worst case for PNG compression."""
    images = torch.randint(
        0, 256, (count, 3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    return ImageBatch(images, seeds=range(count), prompts=[f"prompt {i}" for i in range(count)])


def test_a_256_image_batch_keeps_64_small_images_of_a_few_mb(tmp_path):
    kept_by = recorder(tmp_path, "report.html")
    context = kept_by.start_test("t.py::test", "t.py")
    batch = noise_batch(256, 256)
    kept_by.keep_thumbnails(context, batch)
    kept_by.keep_thumbnails(context, batch)  # a second assertion on the same batch keeps nothing more
    kept_by.finish_test(passed=False)  # failing tests keep their images: they are the ones to look at
    kept = kept_by.thumbnails["t.py::test"]
    assert kept["total"] == 256 and len(kept["images"]) == MAX_THUMBNAILS
    assert [i["seed"] for i in kept["images"]] == list(range(64))
    assert kept["images"][3]["prompt"] == "prompt 3"
    assert all(max(decode_png(i["png"]).shape[:2]) == 96 for i in kept["images"])
    total_bytes = sum(len(i["png"]) for i in kept["images"])
    assert total_bytes < 3_000_000, f"{total_bytes} bytes of base64 PNG"


def test_more_batches_in_one_test_share_the_cap(tmp_path):
    kept_by = recorder(tmp_path, "report.html", thumb=8)
    context = kept_by.start_test("t.py::test", "t.py")
    kept_by.keep_thumbnails(context, noise_batch(40, 16))
    kept_by.keep_thumbnails(context, noise_batch(40, 16))
    kept_by.finish_test(passed=True)
    assert kept_by.thumbnails["t.py::test"]["total"] == 80
    assert len(kept_by.thumbnails["t.py::test"]["images"]) == MAX_THUMBNAILS


@pytest.mark.parametrize("report", [None, "report.json", "report.md"])
def test_no_images_are_kept_without_an_html_report(tmp_path, report):
    kept_by = recorder(tmp_path, report)
    context = kept_by.start_test("t.py::test", "t.py")
    kept_by.keep_thumbnails(context, noise_batch(4, 16))
    kept_by.finish_test(passed=True)
    assert kept_by.thumbnails == {} and "images" not in str(kept_by.worker_payload()["thumbnails"])


def test_batch_thumbnails_are_png_text():
    thumbnails = batch_thumbnails(noise_batch(3, 20).images, size=10)
    assert [t["seed"] for t in thumbnails] == [None] * 3
    assert base64.b64decode(thumbnails[0]["png"])[:4] == b"\x89PNG"


@pytest.mark.parametrize("value", ["0", "7", "2000", "big", None])
def test_thumbnail_size_must_be_a_sane_pixel_count(value):
    with pytest.raises(ValueError, match="--gen-report-thumb: expected a size in pixels from 8 to 1024"):
        parse_thumb_size(value)
    assert parse_thumb_size("128") == 128
