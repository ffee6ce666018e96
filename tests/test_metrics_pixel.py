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
    assert values[1] == pytest.approx(10 * np.log10(255 ** 2 / 25), rel=1e-12)
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
    noisy = [(clean.double() + torch.randn(clean.shape, generator=generator, dtype=torch.float64) * s)
             .round().clamp(0, 255).to(torch.uint8) for s in (2, 8, 32)]
    ssims = [ssim(clean, n)[0] for n in noisy]
    psnrs = [psnr(clean, n)[0] for n in noisy]
    assert ssims == sorted(ssims, reverse=True) and psnrs == sorted(psnrs, reverse=True)


def test_image_batches_are_accepted():
    a, b = images(seed=7), images(seed=8)
    assert ssim(batch_module.ImageBatch(a), batch_module.ImageBatch(b)) == pytest.approx(ssim(a, b))


@pytest.mark.parametrize("function", [psnr, ssim])
@pytest.mark.parametrize("a, b, error, match", [
    (images(n=3), images(n=4), ValueError, "b: has 4 images but a has 3"),
    (images(size=24), images(size=16), ValueError, "b: images are"),
    (images().float(), images(), TypeError, "a: expected uint8 pixels"),
    (images()[:, :1], images()[:, :1], ValueError, r"a: expected shape \[N, 3, H, W\]"),
    (np.zeros((4, 3, 8, 8), dtype=np.uint8), images(), TypeError, "a: expected an ImageBatch or a uint8"),
])
def test_invalid_inputs_are_named(function, a, b, error, match):
    with pytest.raises(error, match=match):
        function(a, b)


def test_ssim_rejects_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="too small for SSIM"):
        ssim(images(size=4), images(size=4))
