"""ReferenceStats: the Gaussian (and, when small enough, the features) of a real image set.

Saved as ``<name>.npz`` (arrays) + ``<name>.json`` (provenance: extractor id, n, source,
creation time, sha256 of the npz). The store is meant to be committed, so the npz holds only
what cannot be recomputed cheaply: mu, the float32 features when kept, and sigma unless those
features give it back exactly and are smaller (n < 2·d: a 200-image Inception reference is then
~1.6 MB instead of 66 MB). The matrix square root of sigma (what makes every later FID one eigh
instead of two) lives in the user cache (``settings.user_cache_dir()/sqrt-sigma/<npz sha256>.npy``),
computed once per machine; files of 0.1 that hold ``sqrt_sigma`` still load and use it.

Statistics people already have, pytorch-fid ``--save-stats`` / TTUR ``.npz`` files (``mu``,
``sigma``, nothing else), are read by ``from_pytorch_fid_npz`` (and by ``load`` when such a file
has no ``.json`` beside it): they carry no features and no image count, and their extractor id
says "pytorch-fid Inception, provenance unknown" (``features/extractor_ids.py`` decides what they
may be compared with).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..batch import ImageBatch, images_to_uint8
from .image_files import IMAGE_SUFFIXES
from ..settings import user_cache_dir
from ..store.files import (
    StoreFileError,
    atomic_write_bytes,
    file_sha256,
    atomic_write_json,
    atomic_write_npz,
    lock_for,
    read_json,
    read_npz,
)
from ..metrics.frechet import sqrtm_psd
from ..metrics.validation import to_numpy
from ..stats import RunningMoments

REFERENCE_SCHEMA = 1
MAX_STORED_FEATURES = 50_000  # keep raw features up to this n, for KID / precision-recall / permutation tests


@dataclass(eq=False)
class ReferenceStats:
    """mu [d] and sigma [d, d] in float64 over n images; features float32 [n, d] when n <= 50 000.

    n is None when unknown (statistics imported from a pytorch-fid .npz); ``imported`` then holds
    their provenance: format, source file and its sha256.
    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int | None
    extractor_id: str
    source: str = ""
    created: str = ""
    features: np.ndarray | None = None
    sqrt_sigma: np.ndarray | None = field(default=None, repr=False)
    name: str = ""
    file_sha256: str = field(default="", repr=False)  # of the npz it was saved to / loaded from: the sqrt cache key
    imported: dict | None = None
    # (H, W) in px of the images it was built from when they all share one size; None: mixed or unknown
    # (imported statistics, files of 0.2). Assertions warn when a batch of another size is compared with it.
    image_size: tuple[int, int] | None = None

    def __post_init__(self):
        self.mu = np.asarray(self.mu, dtype=np.float64)
        self.sigma = np.asarray(self.sigma, dtype=np.float64)
        dim = self.mu.shape[0] if self.mu.ndim == 1 else -1
        if self.mu.ndim != 1 or self.sigma.shape != (dim, dim):
            raise ValueError(f"mu, sigma: expected [d] and [d, d], got {self.mu.shape} and {self.sigma.shape}")
        if self.features is not None:
            self.features = np.asarray(self.features, dtype=np.float32)
            if self.features.shape != (self.n, dim):
                raise ValueError(f"features: expected shape ({self.n}, {dim}), got {self.features.shape}")
        if not self.created:
            self.created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        if self.image_size is not None:
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    @property
    def count_label(self) -> str:
        """'n=2000', or 'n unknown' for imported statistics, for messages."""
        return "n unknown" if self.n is None else f"n={self.n}"

    def require_features(self, metric: str) -> np.ndarray:
        """The feature rows, or a ValueError saying why there are none and how to get them."""
        if self.features is not None:
            return self.features
        name = self.name or "NAME"
        if self.imported is not None:
            raise ValueError(
                f"ref: reference {self.name or 'in-memory'} has no features: it holds the mean and covariance "
                f"imported from {self.imported.get('format', 'a statistics file')} {self.imported.get('file', '')}, "
                f"which FID can use but {metric} cannot ({metric} needs the feature rows of the real images). "
                f"Rebuild it from the images with `genquality build-ref DIR --name {name}`."
            )
        raise ValueError(
            f"ref: reference statistics {self.name or ''} ({self.count_label}) keep no feature rows, which "
            f"{metric} needs; rebuild them with n <= 50 000 (features are kept automatically) or keep_features=True"
        )

    def matrix_sqrt(self) -> np.ndarray:
        """sigma^½, computed once: at build time, or read from the user cache for a saved file."""
        if self.sqrt_sigma is None:
            cached = _read_cached_sqrt(self.file_sha256, self.dim)
            self.sqrt_sigma = cached if cached is not None else sqrtm_psd(self.sigma)
            if cached is None:
                _write_cached_sqrt(self.file_sha256, self.sqrt_sigma)
        return self.sqrt_sigma

    @classmethod
    def from_features(
        cls, features, *, extractor_id: str, source: str = "", keep_features: bool | None = None, name: str = ""
    ) -> "ReferenceStats":
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(f"features: expected [n >= 2, d], got shape {features.shape}")
        moments = RunningMoments(features.shape[1])
        moments.update(features)
        keep = features.shape[0] <= MAX_STORED_FEATURES if keep_features is None else keep_features
        return cls.from_moments(
            moments, extractor_id, source, features=features.astype(np.float32) if keep else None, name=name
        )

    @classmethod
    def from_moments(
        cls,
        moments: RunningMoments | None,
        extractor_id: str,
        source: str = "",
        *,
        features: np.ndarray | None = None,
        name: str = "",
    ) -> "ReferenceStats":
        """The statistics of accumulated ``moments`` (and the kept float32 ``features``), with sigma^½
        computed now, so the first test run does not pay for it. The one constructor the builders share
        (``from_features``, ``from_images`` and ``reference.builder.build_reference``)."""
        if moments is None or moments.count < 2:
            raise ValueError(
                f"images: need at least 2 images for reference statistics, got "
                f"{0 if moments is None else moments.count}"
            )
        stats = cls(moments.mean, moments.covariance, moments.count, extractor_id, source, features=features, name=name)
        stats.matrix_sqrt()
        return stats

    @classmethod
    def from_images(
        cls,
        images: Any,
        extractor: Callable,
        *,
        batch_size: int = 64,
        feature: str = "pool",
        keep_features: bool | None = None,
        progress: Callable[[int], None] | None = None,
        name: str = "",
    ) -> "ReferenceStats":
        """Stream images through ``extractor`` with constant memory in N (features aside).

        images: an ImageBatch, a uint8 tensor/array, a list of PIL images, or a folder of image
        files (read in sorted order, ``batch_size`` at a time). ``progress(k)`` is called with
        the number of images done after each batch.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        source, chunks = _image_chunks(images, batch_size)
        moments: RunningMoments | None = None
        kept: list[np.ndarray] = []
        keep_all = keep_features is not False
        sizes: set[tuple[int, int]] = set()
        for chunk in chunks:
            sizes.add(tuple(getattr(chunk, "images", chunk).shape[-2:]))
            rows = to_numpy(extractor(chunk)[feature])
            if moments is None:
                moments = RunningMoments(rows.shape[1])
            moments.update(rows)
            if keep_all:
                kept.append(rows.astype(np.float32))
                if keep_features is None and moments.count > MAX_STORED_FEATURES:
                    keep_all, kept = False, []
            if progress is not None:
                progress(moments.count)
        stats = cls.from_moments(
            moments,
            extractor_id_of(extractor),
            source,
            features=np.concatenate(kept) if keep_all and kept else None,
            name=name,
        )
        stats.image_size = one_size(sizes)
        return stats

    # ---- files -------------------------------------------------------------------------
    @staticmethod
    def paths(path: str | os.PathLike) -> tuple[Path, Path]:
        base = Path(path)
        if base.suffix in (".npz", ".json"):
            base = base.with_suffix("")
        return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")

    def save(self, path: str | os.PathLike, *, with_sqrt: bool = False) -> Path:
        """Write ``<path>.npz`` and ``<path>.json`` atomically under a lock; returns the json path.

        sigma is left out when the stored features give it back (see the module docstring);
        ``with_sqrt=True`` also stores sigma^½ (0.1's format, twice the size).
        """
        npz_path, json_path = self.paths(path)
        arrays = {"mu": self.mu}
        if not self._sigma_follows_from_features():
            arrays["sigma"] = self.sigma
        if with_sqrt:
            arrays["sqrt_sigma"] = self.matrix_sqrt()
        if self.features is not None:
            arrays["features"] = self.features
        with lock_for(json_path):
            atomic_write_npz(npz_path, arrays)
            self.file_sha256 = file_sha256(npz_path)
            atomic_write_json(
                json_path,
                {
                    "schema": REFERENCE_SCHEMA,
                    "kind": "reference-stats",
                    "name": self.name or npz_path.stem,
                    "n": self.n,
                    "dim": self.dim,
                    "extractor_id": self.extractor_id,
                    "source": self.source,
                    "created": self.created,
                    "has_features": self.features is not None,
                    "sigma_stored": "sigma" in arrays,
                    "npz_sha256": self.file_sha256,
                    **({"imported": self.imported} if self.imported else {}),
                    **({"image_size": list(self.image_size)} if self.image_size else {}),
                },
            )
        if self.sqrt_sigma is not None:  # computed at build time: the first test run reuses it
            _write_cached_sqrt(self.file_sha256, self.sqrt_sigma)
        return json_path

    def _sigma_follows_from_features(self) -> bool:
        """True when the kept float32 features are smaller than sigma and give it back to round-off.

        Not so when the moments came from float64 rows (``from_features`` of float64 input): then
        the float32 copy would change sigma in its 8th digit, and sigma is stored.
        """
        if self.features is None or self.n >= 2 * self.dim:
            return False
        mu, sigma = _moments(self.features)
        scale = max(float(np.abs(self.sigma).max()), 1e-300)
        return bool(
            np.abs(sigma - self.sigma).max() <= 1e-9 * scale
            and np.abs(mu - self.mu).max() <= 1e-9 * (float(np.abs(self.mu).max()) + 1e-300)
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ReferenceStats":
        npz_path, json_path = cls.paths(path)
        if npz_path.is_file() and not json_path.is_file() and _is_pytorch_fid_npz(npz_path):
            return cls.from_pytorch_fid_npz(npz_path)
        for required in (json_path, npz_path):
            if not required.is_file():
                raise FileNotFoundError(
                    f"reference statistics file {required} does not exist; build it with "
                    f"`genquality build-ref IMAGE_DIR --name {npz_path.stem}`"
                )
        meta = read_json(json_path, kind="reference statistics", schema=REFERENCE_SCHEMA)
        if meta.get("npz_sha256") and meta["npz_sha256"] != file_sha256(npz_path):
            raise StoreFileError(
                f"reference statistics {npz_path} do not match the sha256 recorded in {json_path}: the pair is "
                "out of sync or corrupt. Rebuild it with `genquality build-ref`."
            )
        arrays = read_npz(npz_path, kind="reference statistics")
        if "sigma" not in arrays and "features" in arrays:  # left out because the features give it back
            arrays["sigma"] = _moments(arrays["features"])[1]
        try:
            return cls(
                arrays["mu"],
                arrays["sigma"],
                None if meta["n"] is None else int(meta["n"]),
                meta["extractor_id"],
                meta.get("source", ""),
                meta.get("created", ""),
                features=arrays.get("features"),
                sqrt_sigma=arrays.get("sqrt_sigma"),
                name=meta.get("name", npz_path.stem),
                file_sha256=meta.get("npz_sha256") or file_sha256(npz_path),
                imported=meta.get("imported"),
                image_size=meta.get("image_size"),
            )
        except KeyError as missing:
            raise StoreFileError(f"reference statistics {npz_path} / {json_path} lack the field {missing}") from None

    @classmethod
    def from_pytorch_fid_npz(cls, path: str | os.PathLike, *, name: str = "") -> "ReferenceStats":
        """Statistics from a pytorch-fid ``--save-stats`` or TTUR ``.npz`` (arrays ``mu`` [d], ``sigma`` [d, d]).

        No features and no image count (n is None); the extractor id says "pytorch-fid Inception,
        provenance unknown", so FID against them needs the official Inception weights with
        resize="pytorch-fid", and KID / precision / recall / coverage refuse with the fix.
        """
        from ..features.extractor_ids import imported_pytorch_fid_id

        npz_path = Path(path)
        if not npz_path.is_file():
            raise FileNotFoundError(f"path: {npz_path} does not exist; expected a pytorch-fid/TTUR statistics .npz")
        arrays = _read_statistics_npz(npz_path)
        missing = [key for key in PYTORCH_FID_NPZ_KEYS if key not in arrays]
        if missing:
            raise StoreFileError(
                f"{npz_path} lacks the arrays {missing} (it holds {sorted(arrays)}); expected a pytorch-fid/TTUR "
                "statistics file with 'mu' [d] and 'sigma' [d, d] (pytorch-fid --save-stats)"
            )
        mu, sigma = _checked_gaussian(npz_path, arrays["mu"], arrays["sigma"])
        digest = file_sha256(npz_path)
        imported = {
            "format": "pytorch-fid statistics (.npz: mu, sigma)",
            "file": str(npz_path.resolve()),
            "sha256": digest,
            "features": "none",
        }
        return cls(
            mu,
            sigma,
            None,
            imported_pytorch_fid_id(len(mu)),
            source=str(npz_path.resolve()),
            name=name or npz_path.stem,
            imported=imported,
        )

    def __repr__(self) -> str:
        return (
            f"ReferenceStats(name={self.name!r}, n={self.n}, dim={self.dim}, extractor_id={self.extractor_id!r}, "
            f"features={'yes' if self.features is not None else 'no'})"
        )


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an .npz is a zip archive (the second: an empty one)
NPY_MAGIC = b"\x93NUMPY"


def _read_statistics_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a user's statistics file, or an error that says what the file is instead.

    The file is the user's input, not a store file: "restore it from version control" (the store's
    advice for a damaged file) would not help them.
    """
    expected = "expected the statistics .npz written by pytorch-fid --save-stats or TTUR (arrays mu and sigma)"
    with open(path, "rb") as handle:
        head = handle.read(6)
    if head.startswith(NPY_MAGIC):
        raise ValueError(f"{path} is a .npy file (one numpy array), not an .npz file; {expected}")
    if not head.startswith(ZIP_MAGIC):
        raise ValueError(f"{path} is not an .npz file (an .npz is a zip archive of numpy arrays); {expected}")
    try:
        return read_npz(path, kind="pytorch-fid statistics")
    except StoreFileError:
        raise ValueError(
            f"{path} is a damaged or truncated .npz file (its zip archive cannot be read); {expected}"
        ) from None


def _moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    moments = RunningMoments(features.shape[1])
    moments.update(features)
    return moments.mean, moments.covariance


def _sqrt_cache_path(file_sha256: str) -> Path:
    return user_cache_dir() / "sqrt-sigma" / f"{file_sha256}.npy"


def _read_cached_sqrt(file_sha256: str, dim: int) -> np.ndarray | None:
    """sigma^½ cached for the npz of that sha256, or None (no key, absent, unreadable or the wrong shape)."""
    if not file_sha256:
        return None
    try:
        cached = np.load(_sqrt_cache_path(file_sha256), allow_pickle=False)
    except (OSError, ValueError):
        return None
    return cached if cached.shape == (dim, dim) and cached.dtype == np.float64 else None


def _write_cached_sqrt(file_sha256: str, sqrt_sigma: np.ndarray) -> None:
    """Best effort: a read-only or full cache only costs the eigh again next time."""
    if not file_sha256:
        return
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(sqrt_sigma, dtype=np.float64))
    with contextlib.suppress(OSError):
        atomic_write_bytes(_sqrt_cache_path(file_sha256), buffer.getvalue())


PYTORCH_FID_NPZ_KEYS = ("mu", "sigma")  # pytorch_fid/fid_score.py save_fid_stats / compute_statistics_of_path


def _is_pytorch_fid_npz(path: Path) -> bool:
    """An npz holding exactly mu and sigma: a peer's statistics file, not one of ours without its .json."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return sorted(data.files) == sorted(PYTORCH_FID_NPZ_KEYS)
    except Exception:  # a damaged file is reported by the regular path, naming it
        return False


def _checked_gaussian(path: Path, mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mu [d] and a symmetric sigma [d, d], finite, as float64; errors name the file."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise StoreFileError(f"{path}: expected mu [d] and sigma [d, d], got {mu.shape} and {sigma.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise StoreFileError(f"{path}: mu or sigma holds NaN or inf; expected finite statistics")
    asymmetry = float(np.abs(sigma - sigma.T).max())
    if asymmetry > 1e-6 * max(float(np.abs(sigma).max()), 1e-300):
        raise StoreFileError(
            f"{path}: sigma is not symmetric (max |sigma - sigma.T| = {asymmetry:.3g}); expected a covariance matrix"
        )
    return mu, sigma


def extractor_id_of(extractor: Callable) -> str:
    """The id recorded with statistics: the extractor's ``id``, or its class name for a plain callable."""
    return getattr(extractor, "id", type(extractor).__name__)


def one_size(sizes: Iterable[tuple[int, int]]) -> tuple[int, int] | None:
    """The (H, W) shared by every image, or None when they differ (no single size to compare with)."""
    sizes = set(sizes)
    return next(iter(sizes)) if len(sizes) == 1 else None


def _image_chunks(images: Any, batch_size: int) -> tuple[str, Iterator]:
    if isinstance(images, (str, os.PathLike)):
        folder = Path(images)
        if not folder.is_dir():
            raise ValueError(f"images: {folder} is not a directory of images")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"images: no image files ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
        return str(folder), _folder_chunks(files, batch_size)
    if not isinstance(images, ImageBatch):
        images = ImageBatch(images_to_uint8(images, name="images"))
    return "in-memory images", (images.images[i : i + batch_size] for i in range(0, len(images), batch_size))


def _folder_chunks(files: list[Path], batch_size: int) -> Iterator:
    """Batches of decoded files; images of different sizes go in separate batches."""
    from PIL import Image, UnidentifiedImageError

    pending: list = []
    for file in files:
        try:
            with Image.open(file) as image:
                tensor = images_to_uint8(image, name=str(file))
        except (UnidentifiedImageError, OSError) as error:  # not an image, or truncated: name the file
            raise ValueError(f"images: {file} is not a readable image ({error}); remove or replace it") from None
        if pending and (tensor.shape[1:] != pending[0].shape[1:] or len(pending) == batch_size):
            yield _stack(pending)
            pending = []
        pending.append(tensor)
    if pending:
        yield _stack(pending)


def _stack(tensors: Iterable) -> Any:
    import torch

    return torch.cat(list(tensors))
