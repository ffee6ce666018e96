"""ImageBatch: the one image container every fixture, extractor and assertion speaks.

Images are kept as a CPU ``torch.uint8`` tensor ``[N, 3, H, W]``: that is what the FID
Inception of pytorch-fid and torch-fidelity consumes, what PNG files hold, and the only
representation in which "the same image" is unambiguous (floats invite silent range bugs).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

VALUE_RANGES = ((0, 1), (-1, 1), (0, 255))


def _describe(x: Any) -> str:
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


def _is_pil(x: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(x, Image.Image)


def _pil_to_chw(image: Any, name: str) -> torch.Tensor:
    if image.mode in ("RGBA", "LA", "P", "L", "I;16", "I", "F", "CMYK", "YCbCr", "1"):
        if image.mode in ("I;16", "I", "F"):
            raise ValueError(
                f"{name}: PIL image mode {image.mode!r} is not an 8-bit image; expected mode RGB, RGBA, L or P"
            )
        image = image.convert("RGB")
    elif image.mode != "RGB":
        image = image.convert("RGB")
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def _to_nchw_tensor(x: Any, name: str) -> tuple[torch.Tensor, str]:
    """Return (tensor, layout) where layout is "NCHW" or "NHWC"; numpy defaults to NHWC."""
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"{name}: expected a numeric array, got an object array")
        return torch.from_numpy(np.ascontiguousarray(x)), "NHWC"
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu"), "NCHW"
    raise TypeError(f"{name}: expected a tensor, an array or PIL images, got {_describe(x)}")


def _channels_to_rgb(images: torch.Tensor, name: str, given_shape: tuple[int, ...]) -> torch.Tensor:
    """``given_shape``: the shape the caller passed (before a single image got its N axis), for the message."""
    channels = images.shape[1]
    if channels == 3:
        return images
    if channels == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    if channels == 4:
        return images[:, :3].contiguous()
    hint = ""
    if len(given_shape) == 3:
        count, height, width = given_shape
        hint = (
            f" (a 3-D tensor is one CHW image; for {count} grayscale {height}x{width} images add a channel "
            f"axis: x[:, None])"
        )
    raise ValueError(
        f"{name}: expected 1 (grayscale), 3 (RGB) or 4 (RGBA) channels, got {channels} "
        f"in a tensor of shape {given_shape}{hint}"
    )


def _float_to_uint8(images: torch.Tensor, value_range: tuple[float, float] | None, name: str) -> torch.Tensor:
    if value_range is None:
        raise ValueError(
            f"{name}: float images need an explicit value_range=(0, 1) or (-1, 1); got {_describe(images)} without one"
        )
    value_range = tuple(value_range)
    if value_range not in VALUE_RANGES:
        raise ValueError(f"value_range: expected one of {VALUE_RANGES}, got {value_range!r}")
    images = images.to(torch.float64)
    if not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).sum())
        raise ValueError(f"{name}: contains {bad} NaN or infinite values; expected finite pixel values")
    low, high = value_range
    tolerance = 1e-6 * (high - low)
    seen_min, seen_max = float(images.min()), float(images.max())
    if seen_min < low - tolerance or seen_max > high + tolerance:
        raise ValueError(f"{name}: values span [{seen_min:.4g}, {seen_max:.4g}], outside value_range={value_range}")
    scaled = (images - low) / (high - low) * 255.0
    return scaled.round().clamp(0, 255).to(torch.uint8)


def as_uint8_images(x: Any, name: str = "images") -> torch.Tensor:
    """The one check of images handed to a network or a metric: uint8 [N, 3, H, W], N, H, W >= 1.

    Takes an ImageBatch, or a tensor of uint8 pixels or of integer 0..255 levels (int64 as
    ``torch.randint`` makes, which torchmetrics' tests use), on any device; no rescaling, no
    copy to the CPU. Everything else (floats, other shapes, other containers) is an error that
    names ``name`` and the fix (``ImageBatch.from_any``).
    """
    if isinstance(x, ImageBatch):
        return x.images
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name}: expected an ImageBatch or a uint8 torch tensor [N, 3, H, W], got {_describe(x)}; "
            "wrap other images with ImageBatch.from_any(x, value_range=...)"
        )
    if x.dtype == torch.bool or x.is_floating_point() or x.is_complex():
        raise TypeError(
            f"{name}: expected uint8 pixels 0..255, got dtype {x.dtype}; convert float images with "
            "ImageBatch.from_any(x, value_range=(0, 1)) or (-1, 1)"
        )
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name}: expected shape [N, 3, H, W], got {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"{name}: expected at least one non-empty image, got shape {tuple(x.shape)}")
    x = x.detach()
    return x if x.dtype == torch.uint8 else integer_pixels_to_uint8(x, name)


def integer_pixels_to_uint8(
    images: torch.Tensor, name: str = "images", value_range: tuple[float, float] | None = None
) -> torch.Tensor:
    """Integer pixels other than uint8 (int64 from ``torch.randint``, int32, uint16...) as uint8.

    Accepted as they are when every value is already a 0..255 level; with ``value_range=(0, 1)``
    or ``(-1, 1)`` (a 0/1 mask, say) they are scaled like floats. Anything else is an error
    naming the range seen: silently wrapping or clipping 300 would change the image.
    """
    if value_range is not None and tuple(value_range) != (0, 255):
        return _float_to_uint8(images.to(torch.float64), value_range, name)
    if images.numel() == 0:
        return images.to(torch.uint8)
    if images.dtype in (torch.uint16, torch.uint32, torch.uint64):  # torch has no min/max kernels for these
        images = images.to(torch.int64)
    low, high = int(images.min()), int(images.max())
    if low < 0 or high > 255:
        raise ValueError(
            f"{name}: integer pixels span [{low}, {high}]; expected 0..255 (uint8 levels) for dtype {images.dtype}. "
            "Convert them to uint8 yourself, or pass floats with value_range=(0, 1) or (-1, 1)"
        )
    return images.to(torch.uint8)


def images_to_uint8(x: Any, *, value_range: tuple[float, float] | None = None, name: str = "images") -> torch.Tensor:
    """Convert any supported image container to a CPU uint8 tensor [N, 3, H, W].

    Accepts a PIL image or a sequence of them, numpy HWC/NHWC arrays, torch CHW/NCHW
    tensors (uint8, or float with ``value_range``). Integer arrays other than uint8 (int64 from
    ``torch.randint``, as torchmetrics' tests make) must lie in 0..255, or be scaled by ``value_range``.
    """
    if _is_pil(x):
        x = [x]
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError(f"{name}: got an empty sequence; expected at least one image")
        if all(_is_pil(item) for item in x):
            tensors = [_pil_to_chw(item, f"{name}[{i}]") for i, item in enumerate(x)]
            sizes = {tuple(t.shape) for t in tensors}
            if len(sizes) > 1:
                raise ValueError(f"{name}: PIL images have different sizes {sorted(sizes)}; expected one size")
            return torch.stack(tensors)
        if all(isinstance(item, (torch.Tensor, np.ndarray)) for item in x):
            parts = [images_to_uint8(item, value_range=value_range, name=f"{name}[{i}]") for i, item in enumerate(x)]
            sizes = {tuple(p.shape[1:]) for p in parts}
            if len(sizes) > 1:
                raise ValueError(f"{name}: images have different shapes {sorted(sizes)}; expected one shape")
            return torch.cat(parts)
        raise TypeError(
            f"{name}: expected a sequence of PIL images, arrays or tensors, got a "
            f"{type(x).__name__} holding {sorted({type(i).__name__ for i in x})}"
        )

    images, layout = _to_nchw_tensor(x, name)
    given_shape = tuple(images.shape)
    if images.dtype == torch.bool or images.is_complex():
        raise TypeError(f"{name}: expected uint8 or float pixels, got dtype {images.dtype}")
    if images.ndim == 2:
        images = images[None, None] if layout == "NCHW" else images[None, :, :, None]
    elif images.ndim == 3:
        images = images[None]
    elif images.ndim != 4:
        expected = "NCHW (torch)" if layout == "NCHW" else "NHWC (numpy)"
        raise ValueError(f"{name}: expected a 3-D or 4-D {expected} image array, got {_describe(x)}")
    if layout == "NHWC":
        if images.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"{name}: a numpy array must be HWC/NHWC with 1, 3 or 4 channels last, got shape {given_shape}"
            )
        images = images.permute(0, 3, 1, 2)
    if images.shape[0] == 0:
        raise ValueError(f"{name}: got 0 images (shape {tuple(images.shape)}); expected N >= 1")
    if images.shape[2] == 0 or images.shape[3] == 0:
        raise ValueError(f"{name}: images have zero height or width (shape {tuple(images.shape)})")
    images = _channels_to_rgb(images, name, given_shape)

    if images.dtype == torch.uint8:
        if value_range not in (None, (0, 255)):
            raise ValueError(f"value_range: uint8 images are 0..255; got value_range={value_range!r}")
        return images.contiguous()
    if images.is_floating_point():
        return _float_to_uint8(images, value_range, name).contiguous()
    return integer_pixels_to_uint8(images, name, value_range).contiguous()


def seed_range_text(seeds: list[int] | None) -> str:
    """Seeds as a short human string: '0..255', '3, 9, 12', or 'unseeded' (what the store records)."""
    if not seeds:
        return "unseeded"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    shown = ", ".join(str(s) for s in seeds[:6])
    return shown + (f", ... ({len(seeds)} seeds)" if len(seeds) > 6 else "")


class SeedGrowth:
    """How a batch from ``generate(..., max_seeds=M)`` gets more seeds: the same call on the next block.

    ``seeds``: all M seeds in order (the batch holds the first N); ``make_block(seeds)`` generates
    the images of those seeds exactly as the first call did. Blocks are N seeds (the last one may
    be shorter) and are generated once, then kept, so every check on the batch shares them.
    """

    def __init__(self, seeds: Sequence[int], block_size: int, make_block: Callable[[list[int]], "ImageBatch"]):
        if block_size < 1 or len(seeds) < block_size:
            raise ValueError(f"block_size: expected 1..{len(seeds)}, got {block_size}")
        self.seeds = [int(seed) for seed in seeds]
        self.block_size = int(block_size)
        self._make_block = make_block
        self._blocks: list[ImageBatch] = []

    @property
    def max_seeds(self) -> int:
        return len(self.seeds)

    def blocks_after_first(self, count: int) -> list["ImageBatch"]:
        """The generated blocks after the first N seeds that cover the first ``count`` seeds."""
        if not self.block_size <= count <= self.max_seeds:
            raise ValueError(f"count: expected {self.block_size}..{self.max_seeds} seeds, got {count}")
        covered = self.block_size + sum(len(block) for block in self._blocks)
        while covered < count:
            block_seeds = self.seeds[covered : covered + self.block_size]
            block = self._make_block(block_seeds)
            if len(block) != len(block_seeds) or block.seeds != block_seeds:
                raise ValueError(
                    f"max_seeds: the block of seeds {block_seeds[0]}..{block_seeds[-1]} came back with "
                    f"{len(block)} images; expected one per seed"
                )
            self._blocks.append(block)
            covered += len(block)
        needed, taken = [], self.block_size
        for block in self._blocks:
            if taken >= count:
                break
            needed.append(block)
            taken += len(block)
        return needed


@dataclass(eq=False)
class ImageBatch:
    """A batch of generated or real images with the seeds and prompts that made them.

    images: uint8 [N, 3, H, W] on CPU. seeds: one int per image, or None. prompts: one str
    per image, or None. meta: free-form provenance (model fingerprint, kwargs, lane).
    growth: set by ``generate(..., max_seeds=M)``: the batch can grow to M seeds (``blocks``,
    ``grown``); the drift gate asks for more only while its verdict is undecided.
    """

    images: torch.Tensor
    seeds: list[int] | None = None
    prompts: list[str] | None = None
    meta: dict = field(default_factory=dict)
    growth: SeedGrowth | None = None

    def __init__(
        self,
        images: Any,
        *,
        seeds: Iterable[int] | None = None,
        prompts: Sequence[str] | None = None,
        meta: dict | None = None,
        value_range: tuple[float, float] | None = None,
        growth: SeedGrowth | None = None,
    ):
        self.images = images_to_uint8(images, value_range=value_range, name="images")
        count = self.images.shape[0]
        self.seeds = self._check_seeds(seeds, count)
        self.prompts = self._check_prompts(prompts, count)
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta: expected a dict, got {type(meta).__name__}")
        self.meta = dict(meta or {})
        if growth is not None and (self.seeds is None or growth.seeds[:count] != self.seeds):
            raise ValueError("growth: the batch's seeds must be the first seeds of its growth")
        self.growth = growth

    @property
    def max_seeds(self) -> int:
        """How many seeds this batch can grow to (its own length when it cannot grow)."""
        return self.growth.max_seeds if self.growth is not None else len(self)

    def blocks(self, count: int) -> list["ImageBatch"]:
        """This batch and the generated blocks after it that hold the first ``count`` seeds."""
        if count <= len(self):
            return [self]
        if self.growth is None:
            raise ValueError(
                f"count: this batch has {len(self)} images and cannot grow; "
                "generate it with max_seeds=... to allow more"
            )
        return [self, *self.growth.blocks_after_first(count)]

    def grown(self, count: int) -> "ImageBatch":
        """A batch of the first ``count`` seeds, generating the blocks it lacks (one per N seeds)."""
        if count == len(self):
            return self
        parts = self.blocks(count)
        images = torch.cat([part.images for part in parts])[:count]
        seeds = [seed for part in parts for seed in part.seeds][:count]
        prompts = None if self.prompts is None else [p for part in parts for p in part.prompts][:count]
        return ImageBatch(images, seeds=seeds, prompts=prompts, meta=self.meta)

    @staticmethod
    def _check_seeds(seeds: Iterable[int] | None, count: int) -> list[int] | None:
        if seeds is None:
            return None
        if isinstance(seeds, (str, bytes)):
            raise TypeError("seeds: expected an iterable of ints, got a string")
        seeds = list(seeds)
        for seed in seeds:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
                raise TypeError(f"seeds: expected ints, got {seed!r} ({type(seed).__name__})")
        if len(seeds) != count:
            raise ValueError(f"seeds: got {len(seeds)} seeds for {count} images; expected one seed per image")
        return [int(s) for s in seeds]

    @staticmethod
    def _check_prompts(prompts: Sequence[str] | None, count: int) -> list[str] | None:
        if prompts is None:
            return None
        if isinstance(prompts, str):
            raise TypeError("prompts: expected a list of strings, got a single string")
        prompts = list(prompts)
        for prompt in prompts:
            if not isinstance(prompt, str):
                raise TypeError(f"prompts: expected strings, got {prompt!r} ({type(prompt).__name__})")
        if len(prompts) != count:
            raise ValueError(f"prompts: got {len(prompts)} prompts for {count} images; expected one per image")
        return prompts

    @classmethod
    def from_any(
        cls,
        x: Any,
        value_range: tuple[float, float] | None = None,
        *,
        seeds: Iterable[int] | None = None,
        prompts: Sequence[str] | None = None,
        meta: dict | None = None,
    ) -> "ImageBatch":
        """Build a batch from PIL images, numpy HWC/NHWC, torch NCHW, or another ImageBatch."""
        if isinstance(x, ImageBatch):
            return cls(
                x.images,
                seeds=seeds if seeds is not None else x.seeds,
                prompts=prompts if prompts is not None else x.prompts,
                meta={**x.meta, **(meta or {})},
                growth=x.growth if seeds is None else None,
            )
        return cls(x, seeds=seeds, prompts=prompts, meta=meta, value_range=value_range)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int | slice) -> "ImageBatch":
        if isinstance(index, (int, np.integer)):
            position = int(index)
            if not -len(self) <= position < len(self):
                raise IndexError(f"index {position} out of range for a batch of {len(self)} images")
            index = slice(position, position + 1 if position != -1 else None)
        if not isinstance(index, slice):
            raise TypeError(f"index: expected an int or a slice, got {type(index).__name__}")
        images = self.images[index]
        if images.shape[0] == 0:
            raise IndexError(f"slice {index} selects no images from a batch of {len(self)}")
        return ImageBatch(
            images,
            seeds=self.seeds[index] if self.seeds is not None else None,
            prompts=self.prompts[index] if self.prompts is not None else None,
            meta=self.meta,
        )

    def __repr__(self) -> str:
        n, _, h, w = self.images.shape
        seeds = ""
        if self.seeds:
            seeds = f", seeds {self.seeds[0]}..{self.seeds[-1]}" if len(self.seeds) > 1 else f", seed {self.seeds[0]}"
        return f"ImageBatch(n={n}, {h}x{w}{seeds}{', with prompts' if self.prompts else ''})"

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    def seed_range(self) -> str:
        """Seeds as a short human string: '0..255', '3, 9, 12', or 'unseeded'."""
        return seed_range_text(self.seeds)

    def repeated_seeds(self) -> list[int]:
        """Seeds that make the same image more than once: the same seed with the same prompt (or none).

        One seed under two prompts is two different images and is not a repeat.
        """
        if not self.seeds:
            return []
        prompts = self.prompts if self.prompts is not None else [None] * len(self.seeds)
        counts = Counter(zip(self.seeds, prompts))
        return sorted({seed for (seed, _), count in counts.items() if count > 1})

    def require_distinct_images(self, what: str = "a metric over the set of images") -> None:
        """Refuse repeated (seed, prompt) pairs: copies of one image bias every set metric.

        Duplicates shrink the sample's spread, so FID and KID move and precision/recall/coverage
        count one image several times, while the drift tests take N for more samples than exist.
        """
        repeated = self.repeated_seeds()
        if repeated:
            shown = ", ".join(str(seed) for seed in repeated[:8]) + (", ..." if len(repeated) > 8 else "")
            raise ValueError(
                f"batch: seeds {shown} appear more than once with the same prompt, so the batch holds copies of "
                f"the same image; {what} over copies is biased. Pass distinct seeds (e.g. seeds=range({len(self)})) "
                "or, for many images per prompt, cycle fewer prompts over distinct seeds."
            )

    def to_pil(self) -> list:
        from PIL import Image

        return [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in self.images]

    def grid(self, cols: int = 8, *, pad: int = 2, background: int = 255):
        """All images tiled in a grid, row-major, as one PIL image."""
        from PIL import Image

        if not isinstance(cols, int) or cols < 1:
            raise ValueError(f"cols: expected a positive int, got {cols!r}")
        n, _, h, w = self.images.shape
        cols = min(cols, n)
        rows = (n + cols - 1) // cols
        canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), background, dtype=np.uint8)
        for i, image in enumerate(self.images):
            r, c = divmod(i, cols)
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            canvas[top : top + h, left : left + w] = image.permute(1, 2, 0).numpy()
        return Image.fromarray(canvas)
