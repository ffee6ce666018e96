"""Small PNG copies of generated and baseline images, and per-seed difference heat maps.

The HTML report shows what a test generated, but a session may generate thousands of images
at 1024 px: keeping them until the end of the session would cost gigabytes. So each test keeps
at most ``MAX_THUMBNAILS`` images, each downscaled so its longest side is ``size`` pixels,
as base64 PNG text — which is also what xdist workers can send to the controller as JSON.
A 64-image grid at 96 px is about 1-2 MB of HTML.
"""

from __future__ import annotations

import base64
import io

import numpy as np

DEFAULT_SIZE = 96  # px, longest side: large enough to recognise content, small enough to embed 64
MAX_THUMBNAILS = 64  # per test: the first 64 images of the batch, in batch order
HEAT_FULL_SCALE = 64.0  # |difference| in 8-bit levels that maps to the brightest heat colour

# Heat map colours from black (no difference) through red to yellow and white (>= HEAT_FULL_SCALE).
_HEAT_STOPS = np.array([0.0, 0.35, 0.7, 1.0])
_HEAT_COLOURS = np.array([[0, 0, 0], [180, 20, 30], [250, 200, 40], [255, 255, 255]], dtype=np.float64)


def downscale(image_hwc: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [h, w, 3] with max(h, w) <= size, aspect kept; never upscaled.

    Box filtering (area average) is used: it has no ringing, and applying it to the
    generated image and its baseline alike keeps "identical" images identical.
    """
    from PIL import Image

    height, width = image_hwc.shape[:2]
    scale = size / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(image_hwc)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image_hwc).resize(target, Image.Resampling.BOX))


def png_base64(image_hwc: np.ndarray) -> str:
    """uint8 [H, W, 3] -> base64 text of a PNG file (what a data: URI carries)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image_hwc).save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_png(text: str) -> np.ndarray:
    """base64 PNG text -> uint8 [H, W, 3]."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(text))) as image:
        return np.asarray(image.convert("RGB"))


def batch_thumbnails(
    images, seeds=None, prompts=None, *, size: int = DEFAULT_SIZE, limit: int = MAX_THUMBNAILS
) -> list[dict]:
    """The first ``limit`` images of a batch as ``{"seed", "prompt", "png"}`` dicts.

    images: uint8 [N, 3, H, W] tensor or array. seeds / prompts: per-image lists or None.
    """
    array = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    thumbnails = []
    for index in range(min(limit, array.shape[0])):
        hwc = np.ascontiguousarray(array[index].transpose(1, 2, 0))
        thumbnails.append(
            {
                "seed": seeds[index] if seeds is not None else None,
                "prompt": prompts[index] if prompts is not None else None,
                "png": png_base64(downscale(hwc, size)),
            }
        )
    return thumbnails


def file_thumbnail(path, size: int = DEFAULT_SIZE) -> np.ndarray:
    """A stored image file, as RGB, downscaled like the generated thumbnails."""
    from PIL import Image

    with Image.open(path) as image:
        return downscale(np.asarray(image.convert("RGB")), size)


def match_size(image_hwc: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``image_hwc`` to exactly (height, width) (box filter), so two images can be diffed."""
    from PIL import Image

    if image_hwc.shape[:2] == (height, width):
        return image_hwc
    return np.asarray(Image.fromarray(image_hwc).resize((width, height), Image.Resampling.BOX))


def difference_heatmap(generated_hwc: np.ndarray, baseline_hwc: np.ndarray) -> tuple[np.ndarray, float]:
    """(heat map uint8 [H, W, 3], mean |difference| in 8-bit levels) of two same-size images.

    The difference is the per-pixel mean over channels of |generated - baseline|, on a fixed
    scale (0 .. HEAT_FULL_SCALE levels) rather than normalised per image: an unchanged image
    stays black instead of having its rounding noise blown up to full brightness.
    """
    difference = np.abs(generated_hwc.astype(np.int16) - baseline_hwc.astype(np.int16)).mean(axis=2)
    level = np.clip(difference / HEAT_FULL_SCALE, 0.0, 1.0)
    heat = np.stack([np.interp(level, _HEAT_STOPS, _HEAT_COLOURS[:, channel]) for channel in range(3)], axis=2)
    return heat.round().astype(np.uint8), float(difference.mean())
