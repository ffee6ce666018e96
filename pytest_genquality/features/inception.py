"""The FID Inception-v3: the network every published FID number is measured with.

FID is defined by one network: the Inception-v3 of TensorFlow's 2015-12-05 graph, as used by
the original TTUR code. pytorch-fid ported it to ``pt_inception-2015-12-05-6726825d.pth``, a
torchvision ``Inception3`` state dict (1008 classes, no aux classifier) run with three
TF-specific patches: the average pools of the A, C and first E blocks ignore padding
(``count_include_pad=False``), the last E block pools with max instead of average, and
batch norm uses TF's epsilon 1e-3. This module rebuilds that architecture with the same
module names, so the file users already cache for pytorch-fid (or torch-fidelity, whose file
has the same keys) loads here unchanged with a strict ``load_state_dict``.

For speed on CPU the loaded network is turned into inference form once: every batch norm is
folded into the convolution before it (exact up to float32 round-off), and activations run in
channels-last layout, which oneDNN's convolutions are fastest with. The modes whose peer runs
torch-fidelity's network (``"tf1"``, ``"torchmetrics"``) skip both and run the very ops that
network runs: folding alone moved features by 5e-7 to 5e-5 relative after 94 layers (input-
dependent; torch-fidelity's own test allows 1e-5), while unfolded channels-first features are
bit-identical.

``dims`` picks the feature block, as pytorch-fid's ``--dims``: 64 (after the first max pool),
192 (after the second), 768 (after Mixed_6e, the aux-classifier input) or 2048 (the final
pool), each spatially averaged. The network stops at the block it needs.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Iterable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..store.files import atomic_write_bytes
from .weights import resolve_weights, weights_label
from .resize import RESIZE_MODES, TORCH_FIDELITY_NETWORK_MODES, check_uint8_images, get_resize, resize_pytorch_fid

WEIGHTS_KEY = "inception-fid"
NUM_CLASSES = 1008  # the 2015-12-05 graph's classifier: 1000 ImageNet classes + 8 unused
POOL_DIM = 2048
BATCHNORM_EPS = 0.001  # TensorFlow's default, kept by pytorch-fid and torch-fidelity
FEATURE_DIMS = {"pool": POOL_DIM, "logits_unbiased": NUM_CLASSES}
BLOCK_DIMS = (64, 192, 768, 2048)  # pytorch-fid's InceptionV3.BLOCK_INDEX_BY_DIM keys, in network order
# precision= -> autocast dtype (None: plain float32, the parity path)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


# --------------------------------------------------------------------------- architecture


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU: torchvision's ``BasicConv2d``.

    State-dict keys ``conv.weight`` and ``bn.{weight,bias,running_mean,running_var,
    num_batches_tracked}``. ``fold_batchnorm()`` turns it into a biased convolution + ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BATCHNORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True)

    @torch.no_grad()
    def fold_batchnorm(self) -> None:
        """Replace conv+BN by one conv with bias: w' = w·γ/√(var+ε), b' = β - mean·γ/√(var+ε).

        Computed in float64 and rounded once, so the folded layer differs from the two-step one
        only by float32 round-off.
        """
        if self.bn is None:
            return
        conv, bn = self.conv, self.bn
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        weight = conv.weight.double() * scale.view(-1, 1, 1, 1)
        bias = bn.bias.double() - bn.running_mean.double() * scale
        conv.weight = nn.Parameter(weight.to(conv.weight.dtype), requires_grad=False)
        conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=False)
        self.bn = None


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """TF's 3x3 'SAME' average pool: padding is not counted in the mean."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class MixedA(nn.Module):
    """Mixed_5b/5c/5d (35x35): 1x1 | 1x1→5x5 | 1x1→3x3→3x3 | avgpool→1x1."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvBN(in_channels, 64, 1)
        self.branch5x5_1 = ConvBN(in_channels, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(in_channels, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg_pool_3x3(x)),
            ],
            1,
        )


class MixedB(nn.Module):
    """Mixed_6a (35→17): 3x3/2 | 1x1→3x3→3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = ConvBN(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(in_channels, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            1,
        )


class MixedC(nn.Module):
    """Mixed_6b..6e (17x17): 1x1 | 1x1→1x7→7x1 | 1x1→7x1→1x7→7x1→1x7 | avgpool→1x1."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = ConvBN(in_channels, 192, 1)
        self.branch7x7_1 = ConvBN(in_channels, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(in_channels, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        long_branch = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            long_branch = layer(long_branch)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                long_branch,
                self.branch_pool(_avg_pool_3x3(x)),
            ],
            1,
        )


class MixedD(nn.Module):
    """Mixed_7a (17→8): 1x1→3x3/2 | 1x1→1x7→7x1→3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = ConvBN(in_channels, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(in_channels, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch7x7x3 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            branch7x7x3 = layer(branch7x7x3)
        return torch.cat(
            [
                self.branch3x3_2(self.branch3x3_1(x)),
                branch7x7x3,
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            1,
        )


class MixedE(nn.Module):
    """Mixed_7b/7c (8x8): 1x1 | 1x1→(1x3, 3x1) | 1x1→3x3→(1x3, 3x1) | pool→1x1.

    ``pool="avg"`` for Mixed_7b; ``pool="max"`` for Mixed_7c, the FID graph's quirk (the paper
    and torchvision use average pooling there).
    """

    def __init__(self, in_channels: int, pool: str):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool: expected 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = ConvBN(in_channels, 320, 1)
        self.branch3x3_1 = ConvBN(in_channels, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(in_channels, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        if self.pool == "avg":
            pooled = _avg_pool_3x3(x)
        else:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(short),
                self.branch3x3_2b(short),
                self.branch3x3dbl_3a(double),
                self.branch3x3dbl_3b(double),
                self.branch_pool(pooled),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3 up to its 2048-d pool and 1008-way classifier.

    Module names equal torchvision's ``Inception3`` (as patched by pytorch-fid), so its state
    dict has exactly the keys of ``pt_inception-2015-12-05-6726825d.pth``.
    Input: float [N, 3, 299, 299] in [-1, 1]. Output: pool [N, 2048] (after ReLU, so >= 0).
    """

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = MixedA(192, pool_features=32)
        self.Mixed_5c = MixedA(256, pool_features=64)
        self.Mixed_5d = MixedA(288, pool_features=64)
        self.Mixed_6a = MixedB(288)
        self.Mixed_6b = MixedC(768, channels_7x7=128)
        self.Mixed_6c = MixedC(768, channels_7x7=160)
        self.Mixed_6d = MixedC(768, channels_7x7=160)
        self.Mixed_6e = MixedC(768, channels_7x7=192)
        self.Mixed_7a = MixedD(768)
        self.Mixed_7b = MixedE(1280, pool="avg")
        self.Mixed_7c = MixedE(2048, pool="max")
        self.fc = nn.Linear(POOL_DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor, dims: int = POOL_DIM) -> torch.Tensor:
        """Spatial mean of the block of width ``dims`` (pytorch-fid's blocks 0..3); stops there."""
        if dims not in BLOCK_DIMS:
            raise ValueError(f"dims: expected one of {BLOCK_DIMS}, got {dims!r}")
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        if dims == 64:
            return _spatial_mean(x)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        if dims == 192:
            return _spatial_mean(x)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
        ):
            x = block(x)
        if dims == 768:
            return _spatial_mean(x)
        for block in (self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return _spatial_mean(x)

    def logits_unbiased(self, pool: torch.Tensor) -> torch.Tensor:
        """Classifier logits without the fc bias (torch-fidelity's Inception Score input)."""
        return pool @ self.fc.weight.T

    def fold_batchnorm(self) -> "FIDInceptionV3":
        for module in self.modules():
            if isinstance(module, ConvBN):
                module.fold_batchnorm()
        return self


def _spatial_mean(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C]: the peers' ``adaptive_avg_pool2d(x, 1)``, the same arithmetic."""
    return F.adaptive_avg_pool2d(x, output_size=(1, 1)).flatten(1)


def load_fid_inception(path: str | os.PathLike) -> FIDInceptionV3:
    """Load a pytorch-fid format state dict strictly; errors name the file and the bad keys."""
    path = Path(path)
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch errors all mean "not a state dict file"
        raise ValueError(
            f"weights: could not read {path} as a PyTorch state dict ({type(error).__name__}: {error}); "
            "expected pytorch-fid's pt_inception-2015-12-05-6726825d.pth or a file of the same format"
        ) from error
    if not isinstance(state_dict, dict):
        raise ValueError(f"weights: {path} holds a {type(state_dict).__name__}, expected a state dict")
    with torch.device("meta"):  # no throw-away random init: every tensor comes from the file
        network = FIDInceptionV3()
    missing, unexpected = _key_mismatch(network, state_dict)
    if missing or unexpected:
        raise ValueError(
            f"weights: {path} is not an FID Inception-v3 state dict (pytorch-fid layout): "
            f"{len(missing)} keys missing (e.g. {missing[:3]}), {len(unexpected)} unexpected "
            f"(e.g. {unexpected[:3]})"
        )
    network.load_state_dict(state_dict, strict=True, assign=True)
    return network.eval()


def _key_mismatch(network: nn.Module, state_dict: dict) -> tuple[list[str], list[str]]:
    expected = set(network.state_dict())
    given = set(state_dict)
    # Old checkpoints (like the official one may be) lack num_batches_tracked; BatchNorm accepts that.
    missing = sorted(k for k in expected - given if not k.endswith("num_batches_tracked"))
    return missing, sorted(given - expected)


# --------------------------------------------------------------------------- random weights


def _calibration_images(count: int, generator: torch.Generator) -> torch.Tensor:
    """Smooth random uint8 images [count, 3, 299, 299]: blurry colour fields plus fine noise.

    Natural-ish spatial structure, so batch-norm statistics measured on them are not those of
    pure white noise.
    """
    coarse = torch.rand(count, 3, 8, 8, generator=generator)
    smooth = F.interpolate(coarse, size=(299, 299), mode="bicubic", align_corners=False)
    fine = torch.rand(count, 3, 299, 299, generator=generator)
    return ((0.8 * smooth + 0.2 * fine).clamp(0, 1) * 255).round().to(torch.uint8)


@torch.no_grad()
def random_fid_inception(seed: int = 0, *, calibration_images: int = 8) -> FIDInceptionV3:
    """An FID Inception-v3 with seeded random weights whose activations stay in a sane range.

    Convolutions get He-normal weights; batch-norm scale and shift are drawn near (1, 0); the
    running statistics are then measured on seeded random images, layer by layer in one
    train-mode pass (cumulative average), so every pre-ReLU activation is roughly standardised
    through all 94 convolutions and the 2048-d pool features neither explode nor vanish.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # every tensor is drawn below, from the seeded generator
        network = FIDInceptionV3()
    network.to_empty(device="cpu")
    for module in network.modules():
        if isinstance(module, ConvBN):
            weight = module.conv.weight
            fan_in = weight[0].numel()
            weight.copy_(torch.randn(weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
            channels = module.bn.num_features
            module.bn.weight.copy_(1 + 0.2 * (torch.rand(channels, generator=generator) - 0.5))
            module.bn.bias.copy_(0.1 * torch.randn(channels, generator=generator))
            module.bn.momentum = None  # cumulative average over the calibration pass
            module.bn.reset_running_stats()
    network.fc.weight.copy_(torch.randn(network.fc.weight.shape, generator=generator) / POOL_DIM**0.5)
    network.fc.bias.copy_(0.1 * torch.randn(NUM_CLASSES, generator=generator))

    network.train()
    calibration = resize_pytorch_fid(_calibration_images(calibration_images, generator))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread, one summation order: the same running statistics on every run
    # The statistics are measured in float64 and then rounded to float32: float32 kernels of
    # different CPUs (AVX2 vs AVX-512 blocking) disagree in the last bits, which changed the
    # file's content hash, so the committed example baselines' extractor id did not reproduce on
    # another machine; float64 differences of ~1e-16 vanish in the rounding.
    network.double()
    try:
        network(calibration.double())
    finally:
        torch.set_num_threads(threads)
        network.float()
    for module in network.modules():
        if isinstance(module, ConvBN):
            module.bn.momentum = 0.1  # torch's default, so the saved module state is ordinary
            module.bn.num_batches_tracked.zero_()
    return network.eval()


def build_random_inception_weights(path_or_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Save seeded random FID-Inception weights in pytorch-fid's state-dict format; return the path.

    ``path_or_dir``: a directory (the file is ``pt_inception-random-seed-{seed}.pth`` in it) or a
    ``.pth`` path whose name contains ``random-seed-{seed}``, so that every extractor id made
    from it says so and its numbers are never mixed with official ones. The file is (re)written
    atomically. Its tensors are reproducible on one torch build whatever the CPU and thread count
    (the committed example baselines rely on it): the drawn parameters are bit-identical for a
    seed and the batch-norm statistics are measured single-threaded in float64, then rounded to
    float32. Ids carry a content hash, so a file that still came out different stays apart.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    target = Path(path_or_dir).expanduser()
    if target.is_dir() or target.suffix == "":
        target = target / f"pt_inception-random-seed-{seed}.pth"
    elif f"random-seed-{seed}" not in target.name:
        raise ValueError(
            f"path_or_dir: the file name {target.name!r} must contain 'random-seed-{seed}' so that "
            "ids made from it mark it as random weights; pass a directory or e.g. "
            f"'pt_inception-random-seed-{seed}.pth'"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    state_dict = random_fid_inception(seed).state_dict()
    # Serialise to memory first: torch.save names the zip records after the file, so saving
    # to a per-process temp name would make every file's bytes (and sha256) different.
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    atomic_write_bytes(target, buffer.getvalue())
    return target


# --------------------------------------------------------------------------- extractor


class InceptionFID:
    """FID Inception-v3 features of uint8 images: ``{"pool": [N, 2048], "logits_unbiased": [N, 1008]}``.

    weights: None searches for the official file (explicit → ``--gen-weights-dir`` → torch hub
    cache → download unless offline); a path loads that file (strictly, pytorch-fid layout).
    device: where the network runs; features always come back as float32 CPU tensors.
    resize: preprocessing mode, one of ``"pytorch-fid"`` (default), ``"tf1"``, ``"clean"``,
    ``"torchmetrics"``.
    dims: feature width, pytorch-fid's ``--dims``: 2048 (default) or 64 / 192 / 768, the
    spatially averaged outputs of earlier blocks (used at small N, where 2048-d covariances are
    rank-deficient). Below 2048 only ``"pool"`` [N, dims] is returned (no classifier logits),
    and ``.id`` ends in ``/dims-{dims}``.
    batch_size: images per forward pass; features do not depend on it beyond float round-off.
    precision: ``"fp32"`` (default: the parity path, unchanged), ``"bf16"`` or ``"fp16"``: the
    network runs under ``torch.autocast`` of that dtype on its device (resizing stays float32,
    features come back float32). The features differ from fp32 ones (bf16 on CPU with random
    weights: 3 % relative; see tests/test_inception_fast_path.py and benchmarks/gpu_check.sh for
    the FID deviation), so ``.id`` ends in ``/bf16`` or ``/fp16`` and such features compare only
    with references built at the same precision.
    compile: run the network through ``torch.compile`` (compiled on the first call; minutes on
    CPU, where it buys little). Only float round-off changes, so ``.id`` does not name it.
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        *,
        device: str | torch.device = "cpu",
        resize: str = "pytorch-fid",
        dims: int = POOL_DIM,
        batch_size: int = 64,
        precision: str = "fp32",
        compile: bool = False,
    ):
        self._autocast_dtype = _check_precision(precision)
        if not isinstance(compile, bool):
            raise TypeError(f"compile: expected True or False, got {compile!r}")
        self.precision, self.compile = precision, compile
        self._resize_images = get_resize(resize)
        self.resize = resize
        self.dims = _check_dims(dims)
        self.batch_size = _check_batch_size(batch_size)
        self.device = _check_device(device)
        self.weights_path = resolve_weights(WEIGHTS_KEY, explicit=weights)
        # 2048 keeps the 0.1 id, so references built before dims existed still match.
        dims_part = "" if self.dims == POOL_DIM else f"/dims-{self.dims}"
        precision_part = "" if precision == "fp32" else f"/{precision}"
        self.id = f"inception-fid:{weights_label(self.weights_path)}/{resize}{dims_part}{precision_part}"
        self.feature_dims = dict(FEATURE_DIMS) if self.dims == POOL_DIM else {"pool": self.dims}

        network = load_fid_inception(self.weights_path)
        # Peers on torch-fidelity's network: its exact ops (module docstring); others: the fast form.
        self._memory_format = torch.contiguous_format
        if resize not in TORCH_FIDELITY_NETWORK_MODES:
            network.fold_batchnorm()
            self._memory_format = _memory_format(self.device, precision)
        self._network = network.to(self.device, memory_format=self._memory_format).eval()
        self._network.requires_grad_(False)
        self._forward = torch.compile(self._network) if compile else self._network

    def __repr__(self) -> str:
        fast = f", precision={self.precision!r}" if self.precision != "fp32" else ""
        fast += ", compile=True" if self.compile else ""
        return f"InceptionFID(id={self.id!r}, device={str(self.device)!r}, batch_size={self.batch_size}{fast})"

    def __call__(self, images) -> dict[str, torch.Tensor]:
        """Features of an ImageBatch or uint8 tensor [N, 3, H, W], all N rows at once."""
        parts = list(self.iter_features(images))
        if not parts:
            raise ValueError("images: got an empty iterable; expected at least one image")
        return {name: torch.cat([part[name] for part in parts]) for name in self.feature_dims}

    def iter_features(self, images, batch_size: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """Yield feature dicts batch by batch, holding one batch in memory at a time.

        images: an ImageBatch, a uint8 tensor [N, 3, H, W], or an iterable of those (e.g. a
        generator reading a folder chunk by chunk); chunks are regrouped into ``batch_size`` rows.
        """
        batch_size = self.batch_size if batch_size is None else _check_batch_size(batch_size)
        for chunk in _regroup(_image_chunks(images), batch_size):
            yield self._extract(chunk)

    @torch.inference_mode()
    def _extract(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        inputs = self._resize_images(images.to(self.device))
        inputs = inputs.contiguous(memory_format=self._memory_format)
        with _autocast(self.device, self._autocast_dtype):
            pool = self._forward(inputs, dims=self.dims)
            if self.dims != POOL_DIM:
                return {"pool": pool.float().cpu()}
            logits = self._network.logits_unbiased(pool)
        return {"pool": pool.float().cpu(), "logits_unbiased": logits.float().cpu()}


def _memory_format(device: torch.device, precision: str = "fp32") -> torch.memory_format:
    """channels-last on CPUs, where oneDNN's NHWC kernels gave 1.3-2x over NCHW; NCHW on CUDA in fp32, where
    fp32 cuDNN (TF32 off) ran channels-last at 0.80x of NCHW on an H200 (1746 vs 2183 img/s at 299 px).
    bf16/fp16 on CUDA: channels-last, the layout cuDNN's tensor-core convolutions work in (NVIDIA's
    guidance for mixed precision; not yet measured here: benchmarks/bench_inception_fast.py)."""
    if device.type == "cpu" or precision != "fp32":
        return torch.channels_last
    return torch.contiguous_format


def _check_dims(dims) -> int:
    if isinstance(dims, bool) or not isinstance(dims, int) or dims not in BLOCK_DIMS:
        raise ValueError(
            f"dims: expected one of {', '.join(map(str, BLOCK_DIMS))} (pytorch-fid's --dims), got {dims!r}"
        )
    return dims


def _autocast(device: torch.device, dtype: torch.dtype | None):
    """torch.autocast of ``dtype`` on ``device``; for fp32 no context at all (the parity path stays as it was)."""
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def _check_precision(precision) -> torch.dtype | None:
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    return PRECISIONS[precision]


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    return batch_size


def _check_device(device) -> torch.device:
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device: expected a torch device such as 'cpu' or 'cuda:0', got {device!r}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} requested but CUDA is not available on this machine")
    return resolved


def _as_uint8_tensor(images, name: str) -> torch.Tensor:
    return check_uint8_images(images, name)


def _image_chunks(images) -> Iterator[torch.Tensor]:
    """One tensor, one ImageBatch, or an iterable of them, as a stream of uint8 tensors."""
    from ..batch import ImageBatch

    if isinstance(images, (torch.Tensor, ImageBatch)):
        yield _as_uint8_tensor(images, "images")
        return
    is_array = hasattr(images, "__array__")  # numpy arrays iterate, but row by row
    if is_array or isinstance(images, (str, bytes, os.PathLike)) or not isinstance(images, Iterable):
        raise TypeError(
            f"images: expected an ImageBatch, a uint8 tensor [N, 3, H, W] or an iterable of them, "
            f"got {type(images).__name__}; convert arrays and PIL images with ImageBatch.from_any(...)"
        )
    for index, chunk in enumerate(images):
        yield _as_uint8_tensor(chunk, f"images[{index}]")


def _regroup(chunks: Iterable[torch.Tensor], batch_size: int) -> Iterator[torch.Tensor]:
    """Re-cut a stream of [n_i, 3, H, W] chunks into batches of ``batch_size`` rows.

    Chunks of a different image size never share a batch (they cannot be stacked).
    """
    pending: list[torch.Tensor] = []
    pending_rows = 0
    for chunk in chunks:
        if pending and pending[0].shape[1:] != chunk.shape[1:]:
            yield torch.cat(pending)
            pending, pending_rows = [], 0
        while len(chunk):
            take = batch_size - pending_rows
            pending.append(chunk[:take])
            pending_rows += len(pending[-1])
            chunk = chunk[take:]
            if pending_rows == batch_size:
                yield torch.cat(pending)
                pending, pending_rows = [], 0
    if pending:
        yield torch.cat(pending)


__all__ = [
    "BLOCK_DIMS",
    "FEATURE_DIMS",
    "FIDInceptionV3",
    "InceptionFID",
    "RESIZE_MODES",
    "build_random_inception_weights",
    "load_fid_inception",
    "random_fid_inception",
]
