"""InceptionFID against its peers on identical weights and inputs.

- pytorch-fid 0.3.0 ``InceptionV3([3])`` ("pytorch-fid" mode): pool features and FID.
- torch-fidelity ``FeatureExtractorInceptionV3`` ("tf1" mode): pool, ``logits_unbiased`` and FID.
- clean-fid's ``clean`` resizer ("clean" mode): the resized pixels.
- pytorch-fid's ``--dims 64 | 192 | 768`` (``InceptionFID(dims=...)``): block features and FID.
- torchmetrics >= 1.8 ``FrechetInceptionDistance`` (antialiased resize, "torchmetrics" mode): features and FID.

The same seeded random weights are given to every side: pytorch-fid finds them under the
official file name in a temporary torch hub dir (it calls ``load_state_dict_from_url`` without
``check_hash``, so a cached file is loaded as is); torch-fidelity takes the path explicitly.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import torch

from pytest_genquality.features import InceptionFID, build_random_inception_weights
from pytest_genquality.features.inception import FIDInceptionV3
from pytest_genquality.features.resize import clean_bicubic_255
from pytest_genquality.metrics.frechet import frechet_distance
from pytest_genquality.features.weights import REGISTRY

FEATURE_TOLERANCE_299 = 1e-4  # max |Δ| / max |reference|, the parity tolerance at 299 px
FEATURE_TOLERANCE_RESIZED = 1e-3
FID_TOLERANCE = 1e-4  # relative


def random_images(count: int, size: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)


def relative_difference(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual.double() - expected.double()).abs().max() / expected.double().abs().max())


def gaussian_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    rows = features.double().numpy()
    return rows.mean(axis=0), np.cov(rows, rowvar=False)


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory):
    return build_random_inception_weights(tmp_path_factory.mktemp("inception-parity"), seed=0)


@pytest.fixture(scope="module")
def images_299():
    """Two different sets of six 299-px images, for features and an FID between them."""
    return random_images(6, 299, seed=100), random_images(6, 299, seed=101)


@pytest.fixture(scope="module")
def pytorch_fid_hub(weights_path, tmp_path_factory):
    """A torch hub dir holding our random weights under pytorch-fid's official file name."""
    hub = tmp_path_factory.mktemp("torch-hub")
    (hub / "checkpoints").mkdir()
    shutil.copy(weights_path, hub / "checkpoints" / REGISTRY["inception-fid"].filename)
    return hub


@pytest.fixture(scope="module")
def pytorch_fid_model(pytorch_fid_hub):
    inception = pytest.importorskip("pytorch_fid.inception", reason="pytorch-fid is not installed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.hub, "_hub_dir", str(pytorch_fid_hub))
        model = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    return model.eval()


def pytorch_fid_pool(model, images: torch.Tensor) -> torch.Tensor:
    """What pytorch-fid's ``get_activations`` computes: ToTensor (x/255) then the model."""
    with torch.no_grad():
        return model(images.float() / 255)[0].squeeze(-1).squeeze(-1)


@pytest.fixture(scope="module")
def torch_fidelity_model(weights_path):
    extractor_module = pytest.importorskip(
        "torch_fidelity.feature_extractor_inceptionv3", reason="torch-fidelity is not installed"
    )
    return extractor_module.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(weights_path)
    ).eval()


@pytest.fixture(scope="module")
def pytorch_fid_side(pytorch_fid_model, weights_path, images_299):
    """(ours, theirs): pool features of both 299-px image sets, computed once for the module."""
    extractor = InceptionFID(weights_path)
    ours = [extractor(images)["pool"] for images in images_299]
    theirs = [pytorch_fid_pool(pytorch_fid_model, images) for images in images_299]
    return ours, theirs


@pytest.fixture(scope="module")
def torch_fidelity_side(torch_fidelity_model, weights_path, images_299):
    """(ours, theirs): tf1-mode feature dicts of both 299-px image sets."""
    extractor = InceptionFID(weights_path, resize="tf1")
    ours = [extractor(images) for images in images_299]
    with torch.no_grad():
        theirs = [dict(zip(("pool", "logits_unbiased"), torch_fidelity_model(images))) for images in images_299]
    return ours, theirs


# --------------------------------------------------------------------------- pytorch-fid


def test_pytorch_fid_loads_our_file_strictly_into_the_same_keys(pytorch_fid_hub, weights_path, monkeypatch):
    inception = pytest.importorskip("pytorch_fid.inception", reason="pytorch-fid is not installed")
    monkeypatch.setattr(torch.hub, "_hub_dir", str(pytorch_fid_hub))
    theirs = inception.fid_inception_v3().state_dict()  # strict load_state_dict inside
    ours = torch.load(weights_path, weights_only=True)
    assert list(theirs) == list(ours)
    assert all(torch.equal(theirs[key], ours[key]) for key in ours)


def test_pool_features_match_pytorch_fid_at_299(pytorch_fid_side):
    ours, theirs = pytorch_fid_side
    for our_pool, their_pool in zip(ours, theirs):
        assert relative_difference(our_pool, their_pool) <= FEATURE_TOLERANCE_299


def test_pool_features_match_pytorch_fid_with_resize_from_64(pytorch_fid_model, weights_path):
    images = random_images(6, 64, seed=102)
    ours = InceptionFID(weights_path, batch_size=4)(images)["pool"]
    theirs = pytorch_fid_pool(pytorch_fid_model, images)
    assert relative_difference(ours, theirs) <= FEATURE_TOLERANCE_RESIZED


def test_fid_matches_pytorch_fid(pytorch_fid_side):
    from pytorch_fid.fid_score import calculate_frechet_distance

    ours, theirs = pytorch_fid_side
    our_fid = frechet_distance(*gaussian_stats(ours[0]), *gaussian_stats(ours[1]))
    with warnings.catch_warnings():  # scipy: singular product (6 samples in 2048-d), `disp` deprecated
        warnings.simplefilter("ignore")
        their_fid = calculate_frechet_distance(*gaussian_stats(theirs[0]), *gaussian_stats(theirs[1]))
    assert our_fid > 0
    assert abs(our_fid - their_fid) <= FID_TOLERANCE * abs(their_fid)


# --------------------------------------------------------------------------- torch-fidelity


def test_torch_fidelity_weights_format_is_the_pytorch_fid_state_dict(torch_fidelity_model):
    # torch-fidelity loads our file strictly (in the fixture): its module names are pytorch-fid's,
    # and its MaxPool_1/MaxPool_2/AvgPool hold no tensors, so no conversion is needed.
    assert set(torch_fidelity_model.state_dict()) == set(FIDInceptionV3().state_dict())


def test_tf1_features_match_torch_fidelity_at_299(torch_fidelity_side):
    ours, theirs = torch_fidelity_side
    for name in ("pool", "logits_unbiased"):
        assert relative_difference(ours[0][name], theirs[0][name]) <= FEATURE_TOLERANCE_299


def test_tf1_features_match_torch_fidelity_with_resize_from_40(torch_fidelity_model, weights_path):
    images = random_images(4, 40, seed=103)
    ours = InceptionFID(weights_path, resize="tf1")(images)
    with torch.no_grad():
        pool, logits = torch_fidelity_model(images)
    assert relative_difference(ours["pool"], pool) <= FEATURE_TOLERANCE_299
    assert relative_difference(ours["logits_unbiased"], logits) <= FEATURE_TOLERANCE_299


def test_tf1_fid_matches_torch_fidelity(torch_fidelity_side):
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    ours, theirs = torch_fidelity_side
    our_fid = frechet_distance(*gaussian_stats(ours[0]["pool"]), *gaussian_stats(ours[1]["pool"]))
    their_stats = [fid_features_to_statistics(features["pool"]) for features in theirs]
    their_fid = fid_statistics_to_metric(*their_stats, verbose=False)["frechet_inception_distance"]
    assert our_fid > 0
    assert abs(our_fid - their_fid) <= FID_TOLERANCE * abs(their_fid)


def test_tf1_features_are_bit_identical_to_torch_fidelity_at_every_layer(torch_fidelity_model, weights_path):
    """Mirrors torch-fidelity's tests/torch_pure/fe_inceptionv3/test_feature_layer.py (every feature
    layer of the extractor) and tests/tf1/primitives/test_inception.py, whose bound against TF is
    1e-4 absolute / 1e-5 relative: tf1 mode runs torch-fidelity's unfolded channels-first ops, so
    here the features are equal, not merely close (folded batch norm moved them by up to 5e-5)."""
    extractor_module = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    layers = ["64", "192", "768", "2048", "logits_unbiased"]
    peer = extractor_module.FeatureExtractorInceptionV3(
        "inception-v3-compat", layers, feature_extractor_weights_path=str(weights_path)
    ).eval()
    images = random_images(3, 40, seed=104)
    with torch.no_grad():
        theirs = dict(zip(layers, peer(images)))
    for dims in (64, 192, 768, 2048):
        ours = InceptionFID(weights_path, resize="tf1", dims=dims)(images)
        assert torch.equal(ours["pool"], theirs[str(dims)]), dims
    assert torch.equal(ours["logits_unbiased"], theirs["logits_unbiased"])


# --------------------------------------------------------------------------- pytorch-fid --dims


@pytest.fixture(scope="module")
def pytorch_fid_block_features(pytorch_fid_hub, images_299):
    """{dims: [features of each 299-px set]} from pytorch-fid's InceptionV3 returning all four
    blocks in one pass, pooled as its fid_score.get_activations pools them at ``--dims``
    (adaptive average to 1x1 when the block output is not already)."""
    inception = pytest.importorskip("pytorch_fid.inception", reason="pytorch-fid is not installed")
    all_dims = (64, 192, 768, 2048)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.hub, "_hub_dir", str(pytorch_fid_hub))
        model = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[dims] for dims in all_dims]).eval()
    features = {dims: [] for dims in all_dims}
    for images in images_299:
        with torch.no_grad():
            maps = model(images.float() / 255)
        for dims, block_output in zip(all_dims, maps):
            features[dims].append(torch.nn.functional.adaptive_avg_pool2d(block_output, output_size=(1, 1)).flatten(1))
    return features


@pytest.mark.parametrize("dims", [64, 192, 768])
def test_dims_features_and_fid_match_pytorch_fid(pytorch_fid_block_features, weights_path, images_299, dims):
    """Mirrors pytorch-fid's ``--dims`` (fid_score.calculate_fid_given_paths with BLOCK_INDEX_BY_DIM)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    extractor = InceptionFID(weights_path, dims=dims)
    ours = [extractor(images)["pool"] for images in images_299]
    theirs = pytorch_fid_block_features[dims]
    for our_rows, their_rows in zip(ours, theirs):
        assert our_rows.shape == their_rows.shape == (len(images_299[0]), dims)
        assert relative_difference(our_rows, their_rows) <= FEATURE_TOLERANCE_299
    our_fid = frechet_distance(*gaussian_stats(ours[0]), *gaussian_stats(ours[1]))
    with warnings.catch_warnings():  # scipy: singular product (6 samples), `disp` deprecated
        warnings.simplefilter("ignore")
        their_fid = calculate_frechet_distance(*gaussian_stats(theirs[0]), *gaussian_stats(theirs[1]))
    assert our_fid > 0
    assert abs(our_fid - their_fid) <= FID_TOLERANCE * abs(their_fid)


# --------------------------------------------------------------------------- torchmetrics


@pytest.fixture(scope="module")
def torchmetrics_fid_module():
    return pytest.importorskip("torchmetrics.image.fid", reason="torchmetrics is not installed")


@pytest.mark.parametrize("dims", [64, 2048])
def test_torchmetrics_mode_features_equal_torchmetrics_default(torchmetrics_fid_module, weights_path, dims):
    """torchmetrics' NoTrainInceptionV3 with its default ``antialias=True`` (torchmetrics >= 1.8)."""
    peer = torchmetrics_fid_module.NoTrainInceptionV3(
        "inception-v3-compat", [str(dims)], feature_extractor_weights_path=str(weights_path)
    )
    images = random_images(3, 64, seed=105)
    with torch.no_grad():
        theirs = peer(images)
    assert torch.equal(InceptionFID(weights_path, resize="torchmetrics", dims=dims)(images)["pool"], theirs)


def test_torchmetrics_mode_fid_matches_frechet_inception_distance(torchmetrics_fid_module, weights_path):
    """Mirrors torchmetrics' tests/unittests/image/test_fid.py::test_compare_fid (uint8 real and fake
    updates, then compute), on the same seeded weights, with its default antialiased resize; at
    feature=64, which keeps the network and torchmetrics' 2048-d eigvals out of CI time (the
    2048-d features are checked equal above)."""
    peer = torchmetrics_fid_module.FrechetInceptionDistance(
        feature=64, feature_extractor_weights_path=str(weights_path)
    )
    real, fake = random_images(8, 80, seed=106), random_images(8, 80, seed=107)
    peer.update(real, real=True)
    peer.update(fake, real=False)
    their_fid = float(peer.compute())
    extractor = InceptionFID(weights_path, resize="torchmetrics", dims=64)
    our_fid = frechet_distance(*gaussian_stats(extractor(real)["pool"]), *gaussian_stats(extractor(fake)["pool"]))
    assert our_fid > 0
    assert abs(our_fid - their_fid) <= FID_TOLERANCE * abs(their_fid)


# --------------------------------------------------------------------------- clean-fid


@pytest.mark.parametrize("height, width", [(17, 31), (63, 64), (301, 299), (500, 357)])
def test_clean_resize_matches_clean_fid(height, width):
    resize_module = pytest.importorskip("cleanfid.resize", reason="clean-fid is not installed")
    clean_fid_resize = resize_module.make_resizer("PIL", False, "bicubic", (299, 299))
    images = torch.randint(
        0, 256, (2, 3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(height * width)
    )
    ours = clean_bicubic_255(images).numpy()
    theirs = np.stack([clean_fid_resize(image.permute(1, 2, 0).numpy()).transpose(2, 0, 1) for image in images])
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-5
