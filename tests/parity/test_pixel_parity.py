"""PSNR and SSIM per pair against torchmetrics' functional implementations."""

import pytest
import torch

from pytest_genquality.metrics import psnr, ssim

functional = pytest.importorskip("torchmetrics.functional.image", reason="torchmetrics is the PSNR/SSIM peer")


def pair_of_batches(n=5, size=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 256, (n, 3, size, size + 8), generator=generator, dtype=torch.uint8)
    noise = torch.randn(a.shape, generator=generator) * torch.linspace(3, 60, n).view(n, 1, 1, 1)
    b = (a.float() + noise).round().clamp(0, 255).to(torch.uint8)
    return a, b


def test_psnr_matches_torchmetrics_per_pair():
    a, b = pair_of_batches()
    ours = psnr(a, b)
    for i in range(len(a)):
        theirs = functional.peak_signal_noise_ratio(b[i : i + 1].double(), a[i : i + 1].double(), data_range=255.0)
        assert ours[i] == pytest.approx(float(theirs), rel=1e-5)


def test_ssim_matches_torchmetrics_per_pair():
    a, b = pair_of_batches(seed=1)
    ours = ssim(a, b)
    assert len(set(ours.round(3))) == len(a)  # distinct values: the comparison is per pair
    for i in range(len(a)):
        theirs = functional.structural_similarity_index_measure(
            b[i : i + 1].double(), a[i : i + 1].double(), data_range=255.0
        )
        assert ours[i] == pytest.approx(float(theirs), rel=1e-5)


# ---- grayscale and float inputs, as torchmetrics takes them -----------------------------------
# Mirrors torchmetrics tests/unittests/image/test_psnr.py and test_ssim.py, whose inputs include
# single-channel images and float images in 0..1 with an explicit data_range.


def gray_pair(n=4, seed=2):
    generator = torch.Generator().manual_seed(seed)
    a = torch.rand((n, 1, 36, 44), generator=generator, dtype=torch.float64)
    noise = torch.randn(a.shape, generator=generator, dtype=torch.float64) * torch.linspace(0.02, 0.3, n).view(
        n, 1, 1, 1
    )
    return a, (a + noise).clamp(0, 1)


def test_grayscale_uint8_matches_torchmetrics():
    a, b = gray_pair()
    a8, b8 = (a * 255).round().to(torch.uint8), (b * 255).round().to(torch.uint8)
    theirs_psnr = functional.peak_signal_noise_ratio(
        b8.double(), a8.double(), data_range=255.0, reduction="none", dim=(1, 2, 3)
    )
    theirs_ssim = functional.structural_similarity_index_measure(
        b8.double(), a8.double(), data_range=255.0, reduction="none"
    )
    assert psnr(a8, b8) == pytest.approx(theirs_psnr.numpy(), rel=1e-6)  # torchmetrics keeps data_range in float32
    assert ssim(a8, b8) == pytest.approx(theirs_ssim.numpy(), rel=1e-6)


@pytest.mark.parametrize("low, data_range", [(0.0, 1.0), (-1.0, 2.0)])
@pytest.mark.parametrize("channels", [1, 3])
def test_float_images_with_data_range_match_torchmetrics_modules(low, data_range, channels):
    """The modular metrics as torchmetrics users write them, float32 in as their tests feed them."""
    from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

    a, b = gray_pair(seed=3 + channels)
    a, b = (a.expand(-1, channels, -1, -1) * data_range + low), (b.expand(-1, channels, -1, -1) * data_range + low)
    a, b = a.float(), b.float()
    theirs_psnr = PeakSignalNoiseRatio(data_range=data_range, reduction="none", dim=(1, 2, 3))(b, a)
    theirs_ssim = StructuralSimilarityIndexMeasure(data_range=data_range, reduction="none")(b, a)
    assert psnr(a, b, data_range=data_range) == pytest.approx(theirs_psnr.double().numpy(), rel=1e-5)
    assert ssim(a, b, data_range=data_range) == pytest.approx(theirs_ssim.double().numpy(), rel=1e-5)


def test_grayscale_float_psnr_and_ssim_against_skimage():
    """skimage.metrics on each [H, W] image. PSNR is the same formula. SSIM differs only in the
    border convention: skimage averages the map's interior (5 px in), we and torchmetrics pad
    with torch's 'reflect' and average the whole map; so skimage is given our padded images,
    whose interior is exactly our map (at 36 x 44 px the conventions differ by up to 1.2e-2)."""
    metrics = pytest.importorskip("skimage.metrics", reason="scikit-image is an optional PSNR/SSIM peer")
    a, b = gray_pair(seed=7)
    ours_psnr, ours_ssim = psnr(a, b, data_range=1.0), ssim(a, b, data_range=1.0)
    padded_a, padded_b = (torch.nn.functional.pad(x, (5, 5, 5, 5), mode="reflect") for x in (a, b))
    for i in range(len(a)):
        assert ours_psnr[i] == pytest.approx(
            metrics.peak_signal_noise_ratio(a[i, 0].numpy(), b[i, 0].numpy(), data_range=1.0), rel=1e-12
        )
        theirs = metrics.structural_similarity(
            padded_a[i, 0].numpy(),
            padded_b[i, 0].numpy(),
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        assert ours_ssim[i] == pytest.approx(theirs, rel=1e-10)
