"""PSNR and SSIM per pair: closed forms, bounds, symmetry, validation."""

import numpy as np
import pytest
import torch

from pytest_genquality import batch as batch_module
from pytest_genquality.metrics import psnr, ssim


def images(n=4, size=24, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_psnr_of_a_constant_offset_has_its_closed_form():
    a = torch.full((2, 3, 16, 16), 100, dtype=torch.uint8)
    b = a.clone()
    b[1] += 5
    values = psnr(a, b)
    assert values.shape == (2,)
    assert values[0] == np.inf
    assert values[1] == pytest.approx(10 * np.log10(255**2 / 25), rel=1e-12)
    assert psnr(a, b, data_range=1.0)[1] == pytest.approx(10 * np.log10(1 / 25), rel=1e-12)


def test_ssim_is_one_for_identical_images_and_below_one_otherwise():
    a, b = images(seed=1), images(seed=2)
    assert ssim(a, a) == pytest.approx(np.ones(4), abs=1e-12)
    values = ssim(a, b)
    assert values.shape == (4,) and np.all(values < 0.2) and np.all(values >= -1)


def test_metrics_are_symmetric_and_per_pair():
    a, b = images(seed=3), images(seed=4)
    assert ssim(a, b) == pytest.approx(ssim(b, a), rel=1e-12)
    assert psnr(a, b) == pytest.approx(psnr(b, a), rel=1e-12)
    assert ssim(a[1:3], b[1:3]) == pytest.approx(ssim(a, b)[1:3], rel=1e-12)


def test_more_noise_means_lower_ssim_and_psnr():
    clean = images(n=1, size=32, seed=5)
    generator = torch.Generator().manual_seed(6)
    noisy = [
        (clean.double() + torch.randn(clean.shape, generator=generator, dtype=torch.float64) * s)
        .round()
        .clamp(0, 255)
        .to(torch.uint8)
        for s in (2, 8, 32)
    ]
    ssims = [ssim(clean, n)[0] for n in noisy]
    psnrs = [psnr(clean, n)[0] for n in noisy]
    assert ssims == sorted(ssims, reverse=True) and psnrs == sorted(psnrs, reverse=True)


def test_image_batches_are_accepted():
    a, b = images(seed=7), images(seed=8)
    assert ssim(batch_module.ImageBatch(a), batch_module.ImageBatch(b)) == pytest.approx(ssim(a, b))


@pytest.mark.parametrize("function", [psnr, ssim])
@pytest.mark.parametrize(
    "a, b, error, match",
    [
        (images(n=3), images(n=4), ValueError, "b: has 4 images but a has 3"),
        (images(size=24), images(size=16), ValueError, "b: images are"),
        (images().float(), images(), ValueError, "data_range: a holds float pixels .* pass data_range=1.0"),
        (images(), images().double() / 255, ValueError, "data_range: b holds float pixels"),
        (
            images()[:, :1],
            images(),
            ValueError,
            r"b: images are \(3, 24, 24\) \(CxHxW\) but a images are \(1, 24, 24\)",
        ),
        (images()[0], images()[0], ValueError, r"a: expected images \[N, C, H, W\] \(C = 1 for grayscale\)"),
        (images().long() * 2, images(), ValueError, r"a: integer pixels span \[0, 5\d\d\]"),
        (images().bool(), images(), TypeError, "a: expected real pixel values"),
        (images().double().fill_(float("nan")), images().double(), ValueError, "a: contains NaN"),
        (np.zeros((4, 3, 8, 8), dtype=np.uint8), images(), TypeError, "a: expected an ImageBatch or a torch tensor"),
    ],
)
def test_invalid_inputs_are_named(function, a, b, error, match):
    data_range = 1.0 if "NaN" in match else None
    with pytest.raises(error, match=match):
        function(a, b, data_range=data_range)


@pytest.mark.parametrize("function", [psnr, ssim])
def test_float_pixels_with_their_data_range_equal_the_uint8_levels(function):
    """The same images as 0..1 floats (data_range=1) or int64 levels: a change of unit only.
    (-1..1 is also a shift, which PSNR ignores and SSIM's luminance term does not.)"""
    a, b = images(seed=9), images(seed=10)
    expected = function(a, b)
    assert function(a.double() / 255, b.double() / 255, data_range=1.0) == pytest.approx(expected, rel=1e-10)
    if function is psnr:
        assert function(a.double() / 127.5 - 1, b.double() / 127.5 - 1, data_range=2.0) == pytest.approx(
            expected, rel=1e-10
        )
    assert function(a.float() / 255, b.float() / 255, data_range=1.0) == pytest.approx(expected, rel=1e-5)
    assert np.array_equal(function(a.long(), b.long()), expected)
    assert function(a.long() * 4, b.long() * 4, data_range=1020) == pytest.approx(expected, rel=1e-12)  # 10-bit levels


@pytest.mark.parametrize("function", [psnr, ssim])
def test_grayscale_is_its_own_channel(function):
    """[N, 1, H, W]: one channel computed alone; RGB copies of it give the same value."""
    a, b = images(seed=11)[:, :1], images(seed=12)[:, :1]
    gray = function(a, b)
    assert gray.shape == (4,) and np.isfinite(gray).all()
    assert gray == pytest.approx(function(a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1)), rel=1e-12)
    assert function(a, b) != pytest.approx(function(images(seed=11), images(seed=12)), rel=1e-3)


def test_ssim_rejects_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="too small for SSIM"):
        ssim(images(size=4), images(size=4))
