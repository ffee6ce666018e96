"""The LPIPS network (Zhang et al. 2018, v0.1), rebuilt on torchvision's AlexNet / VGG16.

Architecture and weights are those of the ``lpips`` package: the ImageNet backbone's feature
slices (taps after each ReLU block), a ScalingLayer that maps [-1, 1] inputs to the backbone's
normalisation, unit-normalisation of each tap over channels, squared differences, and one
learned 1x1 linear layer per tap whose spatial mean is summed. The backbone comes from
torchvision's checkpoint file (found by ``resolve_weights``); the five linear layers from the
``lpips`` package's ``weights/v0.1/{alex,vgg}.pth``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

from .. import settings as settings_module
from .weights import RandomWeightsWarning, resolve_weights, weights_label
from ..errors import LPIPSWeightsNotFoundError  # noqa: F401  (0.2 import path)

NETS = {
    # net: (weights registry key, torchvision builder, slice bounds in .features, channels per tap)
    "alex": ("alexnet", "alexnet", (0, 2, 5, 8, 10, 12), (64, 192, 384, 256, 256)),
    "vgg": ("vgg16", "vgg16", (0, 4, 9, 16, 23, 30), (64, 128, 256, 512, 512)),
}
# ScalingLayer of lpips v0.1: ImageNet mean/std expressed on the [-1, 1] scale
SCALING_SHIFT = (-0.030, -0.088, -0.188)
SCALING_SCALE = (0.458, 0.448, 0.450)
NORMALIZE_EPS = 1e-10  # lpips.normalize_tensor
# sha256 of weights/v0.1/{net}.pth as shipped by the lpips package 0.1.4 (PerceptualSimilarity v0.1)
LIN_SHA256 = {
    "alex": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    "vgg": "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
}


def default_lin_weights(net: str) -> Path:
    """The ``lpips`` package's calibrated linear layers for ``net`` (v0.1)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise LPIPSWeightsNotFoundError(
            f"lin_weights: the LPIPS linear-layer weights for net={net!r} ship with the lpips package, "
            "which is not installed. Fix: pip install lpips, or pass lin_weights=PATH to a "
            f"weights/v0.1/{net}.pth file."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "v0.1" / f"{net}.pth"
    if not path.is_file():
        raise LPIPSWeightsNotFoundError(
            f"lin_weights: {path} is missing from the installed lpips package; reinstall it "
            "(pip install --force-reinstall lpips) or pass lin_weights=PATH."
        )
    return path


def demo_lin_filename(net: str, seed: int) -> str:
    """Seeded random stand-in for the linear layers (``genquality weights demo``); ids say random-seed-N."""
    return f"lpips-lin-{net}-random-seed-{seed}.pth"


def resolve_lin_weights(net: str) -> Path:
    """The lpips package's linear layers; without the package, the one demo stand-in in ``--gen-weights-dir``."""
    try:
        return default_lin_weights(net)
    except LPIPSWeightsNotFoundError:
        weights_dir = settings_module.active().weights_dir
        demos = (
            sorted(Path(weights_dir).glob(demo_lin_filename(net, 0).replace("seed-0", "seed-*"))) if weights_dir else []
        )
        if len(demos) != 1:
            raise
        import warnings

        warnings.warn(
            f"LPIPS linear layers: the lpips package is not installed, using the seeded random stand-in {demos[0]}",
            RandomWeightsWarning,
            stacklevel=3,
        )
        return demos[0]


class LPIPSNet(nn.Module):
    """LPIPS distance between image pairs; inputs uint8 [N, 3, H, W], output float32 [N]."""

    def __init__(
        self,
        net: str = "alex",
        *,
        weights: str | os.PathLike | None = None,
        lin_weights: str | os.PathLike | None = None,
    ):
        super().__init__()
        if net not in NETS:
            raise ValueError(f"net: expected one of {sorted(NETS)}, got {net!r}")
        registry_key, builder, bounds, channels = NETS[net]
        self.net = net
        backbone_path = resolve_weights(registry_key, weights)
        lin_path = Path(lin_weights) if lin_weights is not None else resolve_lin_weights(net)
        if not lin_path.is_file():
            raise LPIPSWeightsNotFoundError(f"lin_weights: the file {lin_path} does not exist")

        features = _load_backbone_features(builder, backbone_path)
        self.slices = nn.ModuleList(features[start:stop] for start, stop in zip(bounds[:-1], bounds[1:]))
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in channels)
        _load_lin_layers(self.lins, lin_path)
        self.register_buffer("shift", torch.tensor(SCALING_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALING_SCALE).view(1, 3, 1, 1))
        self.id = f"lpips-{net}-v0.1:{weights_label(backbone_path)}:lin-{weights_label(lin_path)}"
        self.requires_grad_(False)
        self.eval()

    def taps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised (over channels) activations after each backbone slice."""
        device = self.shift.device
        x = images.to(device, torch.float32) / 127.5 - 1.0
        h = (x - self.shift) / self.scale
        outputs = []
        for block in self.slices:
            h = block(h)
            outputs.append(h / (h.pow(2).sum(dim=1, keepdim=True).sqrt() + NORMALIZE_EPS))
        return outputs

    @torch.no_grad()
    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor) -> torch.Tensor:
        distance = 0.0
        for lin, tap_a, tap_b in zip(self.lins, self.taps(images_a), self.taps(images_b)):
            distance = distance + lin((tap_a - tap_b) ** 2).mean(dim=(2, 3))
        return distance[:, 0]


def _load_backbone_features(builder: str, path: Path) -> nn.Sequential:
    """torchvision's ``features`` Sequential with the file's ``features.*`` tensors (strict)."""
    import torchvision

    model = getattr(torchvision.models, builder)(weights=None)
    state = torch.load(path, map_location="cpu", weights_only=True)
    prefix = "features."
    features_state = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
    if not features_state:
        raise ValueError(f"weights: {path} holds no 'features.*' tensors; expected a torchvision {builder} state dict")
    model.features.load_state_dict(features_state, strict=True)
    return model.features


def _load_lin_layers(lins: nn.ModuleList, path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)
    for index, lin in enumerate(lins):
        key = f"lin{index}.model.1.weight"
        if key not in state:
            raise ValueError(f"lin_weights: {path} has no {key!r}; expected an lpips v0.1 weights file")
        with torch.no_grad():
            lin.weight.copy_(state[key])
