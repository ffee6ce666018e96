"""The files pytorch-fid users already have: image folders and ``--save-stats`` statistics.

- Image extensions: mirrors pytorch-fid tests/test_fid_score.py ``test_image_types`` (one image
  per extension in ``IMAGE_EXTENSIONS``, decoded to the same pixels).
- Statistics files: mirrors ``test_compute_statistics_of_path_from_file`` (an ``np.savez`` of
  ``mu``/``sigma`` is read back as is), then FID against statistics computed by pytorch-fid's
  ``compute_statistics_of_path`` and saved as its ``save_fid_stats`` saves them, with the same
  (random) weights on both sides: the official-weights path
  is taken by giving the extractor the official weights label (no official file offline), and
  the random-weights id must be refused. ``assert_fid_below`` on such a reference, through the
  plugin and the store, is in tests/plugin/test_import_ref.py.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from pytest_genquality import assert_fid_below
from pytest_genquality.features import InceptionFID, build_random_inception_weights
from pytest_genquality.features import inception as inception_module
from pytest_genquality.metrics import fid
from pytest_genquality.metrics.fid import ExtractorMismatchError
from pytest_genquality.reference import ReferenceStats
from pytest_genquality.reference.image_files import IMAGE_SUFFIXES
from pytest_genquality.features.weights import REGISTRY

fid_score = pytest.importorskip("pytorch_fid.fid_score", reason="pytorch-fid is the peer for its own files")

OFFICIAL_LABEL = "6726825d0af5"  # what weights_label gives the official file: its sha256 prefix


class RecordingExtractor:
    """Keeps every chunk of images it is given; 3 features per image (channel means)."""

    id = "recording"

    def __init__(self):
        self.images = []

    def __call__(self, images):
        self.images.append(images)
        return {"pool": images.double().mean(dim=(2, 3)).float()}


def test_every_pytorch_fid_extension_is_read_with_the_same_pixels(tmp_path):
    white = Image.fromarray(np.full((24, 24, 3), 255, dtype=np.uint8), mode="RGB")
    gray = Image.fromarray(np.arange(24 * 24, dtype=np.uint8).reshape(24, 24) % 200, mode="L")
    paths = []
    for ext in sorted(fid_score.IMAGE_EXTENSIONS):
        for tag, image in (("white", white), ("gray", gray)):
            paths.append(tmp_path / f"{tag}.{ext}")
            image.save(paths[-1])
    assert {f".{ext}" for ext in fid_score.IMAGE_EXTENSIONS} <= set(IMAGE_SUFFIXES)

    recorder = RecordingExtractor()
    stats = ReferenceStats.from_images(tmp_path, recorder, batch_size=64)
    ours = torch.cat(recorder.images)
    theirs = torch.stack(
        [torch.from_numpy(np.array(image)).permute(2, 0, 1) for image in fid_score.ImagePathDataset(sorted(paths))]
    )
    assert stats.n == len(paths) == 2 * len(fid_score.IMAGE_EXTENSIONS)
    lossless = [i for i, path in enumerate(sorted(paths)) if path.suffix not in (".jpg", ".jpeg", ".webp")]
    assert torch.equal(ours[lossless], theirs[lossless])
    assert (ours.int() - theirs.int()).abs().max() <= 8  # lossy formats: same decoder, so close


def test_npz_written_as_pytorch_fid_writes_it_loads_as_is(tmp_path):
    rng = np.random.default_rng(0)
    mu = rng.normal(size=5)
    root = rng.normal(size=(5, 5))
    sigma = root @ root.T
    path = tmp_path / "stats.npz"
    with path.open("wb") as handle:
        np.savez(handle, mu=mu, sigma=sigma)
    theirs = fid_score.compute_statistics_of_path(str(path), None, batch_size=1, dims=5, device="cpu", num_workers=0)
    ours = ReferenceStats.load(path)
    np.testing.assert_array_equal(ours.mu, theirs[0])
    np.testing.assert_array_equal(ours.sigma, theirs[1])
    assert ours.features is None and ours.n is None
    assert ours.extractor_id == "inception-fid:pytorch-fid-stats-provenance-unknown/pytorch-fid/dims-5"


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    return build_random_inception_weights(tmp_path_factory.mktemp("inception-npz"), seed=0)


@pytest.fixture(scope="module")
def pytorch_fid_statistics(random_weights, tmp_path_factory):
    """Statistics of a real-images folder written as pytorch-fid's save_fid_stats writes them
    (its model on our random weights, under the official file name), a folder of 'generated'
    images, and pytorch-fid's FID between the two."""
    root = tmp_path_factory.mktemp("pytorch-fid-files")
    hub = root / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    shutil.copy(random_weights, hub / "checkpoints" / REGISTRY["inception-fid"].filename)
    real, generated = root / "real", root / "generated"
    for folder, seed, count in ((real, 0, 4), (generated, 1, 3)):
        folder.mkdir()
        pixels = np.random.default_rng(seed).integers(0, 256, size=(count, 64, 64, 3), dtype=np.uint8)
        for i, image in enumerate(pixels):
            Image.fromarray(image).save(folder / f"{i}.png")
    npz = root / "real_stats.npz"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.hub, "_hub_dir", str(hub))
        model = fid_score.InceptionV3([fid_score.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    real_mu, real_sigma = fid_score.compute_statistics_of_path(str(real), model, 4, 2048, "cpu", 0)
    np.savez_compressed(npz, mu=real_mu, sigma=real_sigma)  # save_fid_stats' own line
    generated_stats = fid_score.compute_statistics_of_path(str(generated), model, 4, 2048, "cpu", 0)
    with warnings.catch_warnings():  # scipy: singular product (a few samples in 2048-d), `disp` deprecated
        warnings.simplefilter("ignore")
        their_fid = fid_score.calculate_frechet_distance(
            *generated_stats, *fid_score.compute_statistics_of_path(str(npz), None, 8, 2048, "cpu", 0)
        )
    return npz, generated, their_fid


def generated_batch(folder):
    from pytest_genquality import ImageBatch

    files = sorted(folder.glob("*.png"), key=lambda p: int(p.stem))
    return ImageBatch([Image.open(p).convert("RGB") for p in files], seeds=range(len(files)))


def test_fid_against_pytorch_fid_statistics_with_the_official_extractor(
    pytorch_fid_statistics, random_weights, monkeypatch
):
    npz, generated, their_fid = pytorch_fid_statistics
    monkeypatch.setattr(inception_module, "weights_label", lambda path: OFFICIAL_LABEL)
    official = InceptionFID(random_weights)
    assert official.id == f"inception-fid:{OFFICIAL_LABEL}/pytorch-fid"
    reference = ReferenceStats.load(npz)
    ours = fid(generated_batch(generated), reference, extractor=official)
    assert their_fid > 0
    assert ours == pytest.approx(their_fid, rel=1e-3)  # parity tolerance with resize (64 -> 299 px): 1e-3


def test_random_weights_are_refused(pytorch_fid_statistics, random_weights):
    """Same weights as pytorch-fid used, but labelled random-seed-0: numbers from demo weights
    must never be set against published statistics (another resize mode: tests/plugin/test_import_ref.py)."""
    npz, generated, _ = pytorch_fid_statistics
    extractor = InceptionFID(random_weights)
    assert "random-seed-0" in extractor.id
    reference = ReferenceStats.load(npz)
    batch = generated_batch(generated)[:1]
    with pytest.raises(ExtractorMismatchError, match="official FID Inception weights"):
        assert_fid_below(batch, reference, threshold=1e9, extractor=extractor)
    with pytest.raises(ExtractorMismatchError, match="provenance-unknown"):
        fid(batch, reference, extractor=extractor)
