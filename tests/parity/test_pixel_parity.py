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
        theirs = functional.peak_signal_noise_ratio(b[i:i + 1].double(), a[i:i + 1].double(), data_range=255.0)
        assert ours[i] == pytest.approx(float(theirs), rel=1e-5)


def test_ssim_matches_torchmetrics_per_pair():
    a, b = pair_of_batches(seed=1)
    ours = ssim(a, b)
    assert len(set(ours.round(3))) == len(a)  # distinct values: the comparison is per pair
    for i in range(len(a)):
        theirs = functional.structural_similarity_index_measure(
            b[i:i + 1].double(), a[i:i + 1].double(), data_range=255.0)
        assert ours[i] == pytest.approx(float(theirs), rel=1e-5)
