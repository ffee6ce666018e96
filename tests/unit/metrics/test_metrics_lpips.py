"""LPIPS: properties, weights errors and input validation on a seeded random AlexNet."""

import numpy as np
import pytest
import torch

from pytest_genquality.batch import ImageBatch
from pytest_genquality.metrics import lpips
from pytest_genquality.features.weights import WeightsNotFoundError

torchvision = pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def alexnet_file(tmp_path_factory):
    torch.manual_seed(0)
    features = torchvision.models.alexnet(weights=None).features
    path = tmp_path_factory.mktemp("weights") / "alexnet-random-seed-0.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return path


def images(n=3, size=48, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8)


def test_identical_pairs_are_zero_and_different_pairs_positive(alexnet_file):
    a, b = images(seed=1), images(seed=2)
    assert lpips(a, a, weights=alexnet_file) == pytest.approx(np.zeros(3), abs=1e-7)
    distances = lpips(a, b, weights=alexnet_file)
    assert distances.shape == (3,) and distances.dtype == np.float64 and np.all(distances > 0)


def test_symmetric_and_per_pair(alexnet_file):
    a, b = images(n=5, seed=3), images(n=5, seed=4)
    forward = lpips(ImageBatch(a), ImageBatch(b), weights=alexnet_file)
    assert lpips(b, a, weights=alexnet_file) == pytest.approx(forward, rel=1e-5)
    assert lpips(a[2:4], b[2:4], weights=alexnet_file) == pytest.approx(forward[2:4], rel=1e-5)


def test_more_noise_is_farther(alexnet_file):
    clean = images(n=1, size=64, seed=5)
    generator = torch.Generator().manual_seed(6)
    values = [
        lpips(
            clean,
            (clean.float() + torch.randn(clean.shape, generator=generator) * s).round().clamp(0, 255).to(torch.uint8),
            weights=alexnet_file,
        )[0]
        for s in (3, 15, 60)
    ]
    assert values == sorted(values)


def test_missing_backbone_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        lpips(images(), images(), weights=tmp_path / "alexnet-missing.pth")


def test_missing_lpips_package_says_how_to_fix(alexnet_file, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "lpips" else real_find_spec(name, *a)
    )
    with pytest.raises(FileNotFoundError, match="pip install lpips, or pass lin_weights=PATH"):
        lpips(images(), images(), weights=alexnet_file)


def test_wrong_files_are_named(alexnet_file, tmp_path):
    wrong = tmp_path / "not-lpips.pth"
    torch.save({"something": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match="lin_weights: .* has no 'lin0.model.1.weight'"):
        lpips(images(), images(), weights=alexnet_file, lin_weights=wrong)
    with pytest.raises(ValueError, match="weights: .* holds no 'features"):
        lpips(images(), images(), weights=wrong)


@pytest.mark.parametrize(
    "a, b, kwargs, error, match",
    [
        (images(n=2), images(n=3), {}, ValueError, "b: has 3 images but a has 2"),
        (images().float(), images(), {}, TypeError, "a: expected uint8 pixels"),
        (images(), images(), {"net": "squeeze"}, ValueError, "net: expected one of"),
    ],
)
def test_invalid_inputs_are_named(alexnet_file, a, b, kwargs, error, match):
    with pytest.raises(error, match=match):
        lpips(a, b, weights=alexnet_file, **kwargs)


@pytest.mark.parametrize("size", [16, 24, 30])
def test_images_below_the_alexnet_minimum_name_the_size_and_the_alternatives(alexnet_file, size):
    small = images(n=2, size=size)
    with pytest.raises(ValueError, match=rf"at least 31 x 31 pixels, got {size} x {size}.*'psnr' or 'ssim'"):
        lpips(small, small, weights=alexnet_file)


def test_the_smallest_accepted_size_works(alexnet_file):
    assert lpips(images(n=1, size=31), images(n=1, size=31, seed=1), weights=alexnet_file).shape == (1,)
