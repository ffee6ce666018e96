"""LPIPS against the lpips package, both given the same seeded random torchvision backbone."""

import pytest
import torch

from pytest_genquality.metrics import lpips

lpips_package = pytest.importorskip("lpips", reason="the lpips package is the LPIPS peer")
torchvision = pytest.importorskip("torchvision")


def save_random_backbone(directory, builder, seed=0):
    """A torchvision model's features with seeded random weights, saved as its state dict."""
    torch.manual_seed(seed)
    features = getattr(torchvision.models, builder)(weights=None).features
    path = directory / f"{builder}-random-seed-{seed}.pth"
    torch.save({f"features.{key}": value for key, value in features.state_dict().items()}, path)
    return path


def peer_with_backbone(net, path):
    peer = lpips_package.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key, parameter in peer.net.state_dict().items():  # slice1.0.weight <- features.0.weight
        parameter.copy_(state["features." + key.split(".", 1)[1]])
    return peer.eval()


def image_pairs(n, size, seed=0):
    generator = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8)
    noise = torch.randn(a.shape, generator=generator) * torch.linspace(4, 80, n).view(n, 1, 1, 1)
    return a, (a.float() + noise).round().clamp(0, 255).to(torch.uint8)


@pytest.mark.parametrize(
    "net, builder, size",
    [
        ("alex", "alexnet", 64),
        pytest.param("vgg", "vgg16", 48, marks=pytest.mark.slow),
    ],
)
def test_lpips_matches_the_lpips_package(tmp_path, net, builder, size):
    path = save_random_backbone(tmp_path, builder)
    a, b = image_pairs(4, size)
    ours = lpips(a, b, net=net, weights=path)
    with torch.no_grad():
        theirs = peer_with_backbone(net, path)(a.float() / 127.5 - 1, b.float() / 127.5 - 1).flatten().double()
    assert len(set(ours.round(6))) == len(ours)  # distinct per-pair values
    assert torch.from_numpy(ours) == pytest.approx(theirs, rel=1e-5, abs=1e-7)
