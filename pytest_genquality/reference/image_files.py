"""Image files to decode: a folder (recursive), a ``.zip`` or an uncompressed ``.tar``, read in parallel.

``ImageFiles.open(path)`` lists the images in sorted order, the same set and order for a folder
as ``sorted(folder.rglob(...))`` always gave, and for an archive its members sorted by name,
read from the archive without unpacking to disk. ``image_batches`` decodes them with a
``torch.utils.data.DataLoader`` whose worker processes each open their own handle of the
archive, so decoding (PNG/JPEG inflate, the usual bottleneck of a reference build) runs on
``workers`` CPU cores while the main process extracts features.

A file that cannot be decoded is an ``ImageReadError`` naming it: decoding errors travel back
from the workers as values, not as a worker crash, so the message is the file and the cause.

Knows nothing about features, references or pytest.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence
from ..errors import ImageReadError  # noqa: F401  (0.2 import path)

# Every extension pytorch-fid reads (pytorch_fid/fid_score.py IMAGE_EXTENSIONS), matched case-insensitively.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")
MAX_DEFAULT_WORKERS = 8  # beyond this, decoding 299 px-bound images outpaces one GPU's Inception anyway


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def default_workers(local_ranks: int | None = None) -> int:
    """Decoding processes per rank: this process's CPUs shared by the ranks of this node, at most 8.

    0 (decode in the main process) when a rank would get fewer than 2 CPUs: a lone worker
    only adds the cost of sending images between processes.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    if local_ranks is None:
        local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    per_rank = cpus // max(local_ranks, 1)
    return min(MAX_DEFAULT_WORKERS, per_rank) if per_rank >= 2 else 0


@dataclass
class ImageFiles:
    """The sorted image entries of a folder or archive; ``read(i)`` gives entry i's bytes.

    ``names[i]`` is what an error shows: the file path, or ``archive.zip:member``.
    """

    source: str
    kind: str  # "folder" | "zip" | "tar"
    names: list[str]
    _members: list = field(default_factory=list, repr=False)  # folder: Paths; zip: names; tar: (offset, size)
    _handle: tuple | None = field(default=None, repr=False)  # (pid, open archive): one per process

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ImageFiles":
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            found = cls(str(path), "folder", [str(p) for p in files], list(files))
        elif path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                members = sorted(
                    info.filename for info in archive.infolist() if not info.is_dir() and _is_image(info.filename)
                )
            found = cls(str(path), "zip", [f"{path}:{name}" for name in members], members)
        elif path.is_file() and path.name.lower().endswith(".tar"):
            found = cls._open_tar(path)
        elif path.is_file():
            raise ValueError(f"images: {path} is neither a folder, a .zip nor an uncompressed .tar of images")
        else:
            raise ValueError(f"images: {path} does not exist; expected a folder, .zip or .tar of images")
        if not found.names:
            raise ValueError(f"images: no image files ({', '.join(IMAGE_SUFFIXES)}) in {path}")
        return found

    @classmethod
    def _open_tar(cls, path: Path) -> "ImageFiles":
        try:
            with tarfile.open(path, "r:") as archive:  # "r:" refuses compression: members must be seekable
                members = sorted(
                    (info.name, info.offset_data, info.size)
                    for info in archive.getmembers()
                    if info.isfile() and _is_image(info.name)
                )
        except tarfile.ReadError as error:
            raise ValueError(
                f"images: {path} is not an uncompressed tar archive ({error}); a compressed tar cannot "
                "be read at random positions: unpack it, or repack it with `tar cf` or as a .zip"
            ) from None
        return cls(
            str(path),
            "tar",
            [f"{path}:{name}" for name, _, _ in members],
            [(offset, size) for _, offset, size in members],
        )

    def read(self, index: int) -> bytes:
        """The raw bytes of entry ``index``; archives are opened once per process (DataLoader workers fork)."""
        if self.kind == "folder":
            return Path(self._members[index]).read_bytes()
        if self._handle is None or self._handle[0] != os.getpid():
            handle = zipfile.ZipFile(self.source) if self.kind == "zip" else open(self.source, "rb")
            self._handle = (os.getpid(), handle)
        handle = self._handle[1]
        if self.kind == "zip":
            return handle.read(self._members[index])
        offset, size = self._members[index]
        handle.seek(offset)
        return handle.read(size)

    def __getstate__(self):
        return {**self.__dict__, "_handle": None}  # open files do not travel to worker processes

    def decode(self, index: int):
        """uint8 tensor [1, 3, H, W] of entry ``index``, or an ``ImageReadError`` naming the file."""
        from PIL import Image

        from ..batch import images_to_uint8

        name = self.names[index]
        try:
            with Image.open(io.BytesIO(self.read(index))) as image:
                image.load()
                return images_to_uint8(image, name=name)
        except Exception as error:  # PIL raises OSError, SyntaxError, ValueError... for a damaged file
            return ImageReadError(
                f"{name}: cannot be read as an image ({type(error).__name__}: {error}); remove or replace the file"
            )


class _DecodedImages:
    """Map-style dataset: index -> (index, tensor or error), for a DataLoader."""

    def __init__(self, files: ImageFiles):
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return index, self.files.decode(index)


def _stack_runs(items: list) -> list | ImageReadError:
    """DataLoader collate, run in the worker: consecutive images of one size stacked, or the first error.

    Stacking in the worker lets the DataLoader pin the stacked tensor itself (``pin_memory``).
    """
    import torch

    runs: list = []
    for index, image in items:
        if isinstance(image, ImageReadError):
            return image
        if runs and runs[-1][1][-1].shape[1:] == image.shape[1:]:
            runs[-1][0].append(index)
            runs[-1][1].append(image)
        else:
            runs.append(([index], [image]))
    return [(indices, torch.cat(images)) for indices, images in runs]


def image_batches(
    files: ImageFiles, blocks: Sequence[Sequence[int]], *, workers: int = 0, pin_memory: bool = False
) -> Iterator[list]:
    """Yield, for each block in order, ``[(indices, uint8 [n, 3, H, W]), ...]``.

    Each block (a list of entry indices, e.g. one batch) is decoded by one worker and split
    into runs of images of one size, which are stacked. Raises ``ImageReadError`` naming the
    first file of the block that cannot be decoded.
    """
    from torch.utils.data import DataLoader

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(
            f"workers: expected 0 (decode in this process) or a number of worker processes, got {workers!r}"
        )
    loader = DataLoader(
        _DecodedImages(files),
        batch_sampler=[list(block) for block in blocks],
        num_workers=workers,
        collate_fn=_stack_runs,
        pin_memory=pin_memory,
        prefetch_factor=4 if workers else None,
    )
    for runs in loader:
        if isinstance(runs, ImageReadError):
            raise runs
        yield runs
