"""Input checks shared by every metric function, and by the extractors above (a public, low-level module).

Every metric receives features or images from user code, and a wrong shape or a NaN would
otherwise surface as a meaningless number or a numpy broadcasting error far from the cause.
Each check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, wrong
content) naming the argument, the value seen and what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def to_numpy(x: Any) -> np.ndarray:
    """A torch tensor (any device, with or without grad) or array-like as a numpy array."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def describe(x: Any) -> str:
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


def as_float_array(x: Any, name: str) -> np.ndarray:
    """A float numpy view of ``x`` (numpy array or torch tensor), without copying when possible.

    float32 and float64 are kept as they are (callers upcast chunk by chunk, so large float32
    feature sets are not duplicated in memory); integers become float64; half precision
    becomes float32.
    """
    if isinstance(x, torch.Tensor):
        tensor = x.detach().to("cpu")
        if tensor.dtype in (torch.float16, torch.bfloat16):
            tensor = tensor.float()
        if tensor.dtype == torch.bool or tensor.is_complex():
            raise TypeError(f"{name}: expected real numbers, got a tensor of dtype {tensor.dtype}")
        array = tensor.numpy()
    elif isinstance(x, np.ndarray):
        array = x
    else:
        raise TypeError(f"{name}: expected a numpy array or a torch tensor, got {describe(x)}")
    if array.dtype == np.bool_ or array.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real numbers, got an array of dtype {array.dtype}")
    if array.dtype == np.float16:
        array = array.astype(np.float32)
    elif array.dtype.kind in "iu":
        array = array.astype(np.float64)
    return array


def check_finite(array: np.ndarray, name: str, *, rows_per_check: int = 4096) -> None:
    """Reject NaN/inf, checking a few thousand rows at a time (no full-size boolean copy)."""
    for start in range(0, max(len(array), 1), rows_per_check):
        part = array[start : start + rows_per_check]
        if not np.isfinite(part).all():
            bad = int(np.size(part) - np.isfinite(part).sum())
            row = start + int(np.argwhere(~np.isfinite(part))[0][0])
            raise ValueError(
                f"{name}: contains non-finite values (NaN or inf; {bad} in rows {start}.."
                f"{start + len(part) - 1}, the first at row {row}); expected finite numbers"
            )


def as_features(x: Any, name: str, *, min_rows: int = 1, why: str = "") -> np.ndarray:
    """Validate a feature matrix [N, D] and return it as a float numpy array (see as_float_array)."""
    array = as_float_array(x, name)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D feature matrix [N, D], got {describe(x)}")
    if array.shape[1] == 0:
        raise ValueError(f"{name}: features have 0 dimensions (shape {tuple(array.shape)}); expected D >= 1")
    if array.shape[0] < min_rows:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name}: got {array.shape[0]} rows; expected at least {min_rows}{reason}")
    check_finite(array, name)
    return array


def check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_b}: has {b.shape[1]} feature dimensions but {name_a} has {a.shape[1]}; "
            "expected features from the same extractor"
        )


def check_same_rows(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_b}: has {b.shape[0]} rows but {name_a} has {a.shape[0]}; expected one row per pair")


def check_int(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def _require_tensor(x: Any, name: str, expected: str) -> None:
    """Images come as an ImageBatch (handled by the caller) or a torch tensor; anything else is named."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name}: expected an ImageBatch or {expected}, got {describe(x)}; "
            "wrap other images with ImageBatch.from_any(x, value_range=...)"
        )


def as_image_tensor(x: Any, name: str) -> torch.Tensor:
    """uint8 images [N, 3, H, W] on the CPU, checked by ``batch.as_uint8_images`` (the one image check)."""
    from ..batch import as_uint8_images

    return as_uint8_images(x, name).to("cpu")


def as_image_pairs(a: Any, b: Any, name_a: str = "a", name_b: str = "b") -> tuple[torch.Tensor, torch.Tensor]:
    """Two image tensors of identical shape, image i of ``a`` paired with image i of ``b``."""
    images_a = as_image_tensor(a, name_a)
    images_b = as_image_tensor(b, name_b)
    _check_pairs(images_a, images_b, name_a, name_b, first_dim=2, what="size", label="HxW")
    return images_a, images_b


def _check_pairs(
    images_a: torch.Tensor, images_b: torch.Tensor, name_a: str, name_b: str, *, first_dim: int, what: str, label: str
) -> None:
    """One image of ``b`` per image of ``a``, of the same shape from ``first_dim`` on."""
    if images_a.shape[0] != images_b.shape[0]:
        raise ValueError(
            f"{name_b}: has {images_b.shape[0]} images but {name_a} has {images_a.shape[0]}; "
            "expected one image per pair"
        )
    if images_a.shape != images_b.shape:
        raise ValueError(
            f"{name_b}: images are {tuple(images_b.shape[first_dim:])} ({label}) but {name_a} images are "
            f"{tuple(images_a.shape[first_dim:])}; expected the same {what} for a paired comparison"
        )


def _pixel_tensor(x: Any, name: str) -> torch.Tensor:
    """Images [N, C, H, W] of any channel count from an ImageBatch or a real-valued tensor."""
    from ..batch import ImageBatch

    if isinstance(x, ImageBatch):
        return x.images
    _require_tensor(x, name, "a torch tensor [N, C, H, W]")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name}: expected real pixel values, got dtype {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"{name}: expected images [N, C, H, W] (C = 1 for grayscale), got {describe(x)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name}: got shape {tuple(x.shape)}; expected N >= 1 images of C >= 1 channels")
    return x.detach().to("cpu")


def as_pixel_pairs(
    a: Any, b: Any, data_range: Any, name_a: str = "a", name_b: str = "b"
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Two float64 image tensors of one shape [N, C, H, W] (any C: grayscale, RGB, ...) and their range.

    Integer pixels (ImageBatch, uint8, int64 levels) have ``data_range`` 255 unless one is given,
    and without one must be 0..255 levels. Float pixels need an explicit ``data_range`` (the width
    of their value scale: 1.0 for 0..1 images, 2.0 for -1..1), as torchmetrics takes it: inferring
    it from the data, torchmetrics' fallback, would make PSNR depend on each image's content.
    """
    from ..batch import integer_pixels_to_uint8

    images = {name_a: _pixel_tensor(a, name_a), name_b: _pixel_tensor(b, name_b)}
    images_a, images_b = images[name_a], images[name_b]
    _check_pairs(images_a, images_b, name_a, name_b, first_dim=1, what="channels and size", label="CxHxW")
    floats = [name for name, x in images.items() if x.is_floating_point()]
    if floats and data_range is None:
        raise ValueError(
            f"data_range: {floats[0]} holds float pixels ({images[floats[0]].dtype}), whose scale cannot be "
            "known; pass data_range=1.0 for 0..1 images, 2.0 for -1..1, 255.0 for 0..255 floats"
        )
    if data_range is None:
        images = {name: integer_pixels_to_uint8(x, name) if x.dtype != torch.uint8 else x for name, x in images.items()}
        data_range = 255.0
    data_range = check_positive_float(data_range, "data_range")
    as_float = {}
    for name, x in images.items():
        x = x.to(torch.float64)
        if not torch.isfinite(x).all():
            raise ValueError(f"{name}: contains NaN or infinite pixel values; expected finite numbers")
        as_float[name] = x
    return as_float[name_a], as_float[name_b], data_range
