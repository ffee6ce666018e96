"""InceptionFID: behaviour, properties, preprocessing modes, weights search and input errors.

Pretrained weights cannot be downloaded here, so every test runs the real architecture with
seeded random weights (``build_random_inception_weights``). Peer-library parity lives in
``tests/parity/test_inception_parity.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_genquality import settings
from pytest_genquality.batch import ImageBatch
from pytest_genquality.features import InceptionFID, build_random_inception_weights
from pytest_genquality.features.inception import FIDInceptionV3, load_fid_inception
from pytest_genquality.features.resize import INCEPTION_SIZE, RESIZE_MODES, get_resize
from pytest_genquality.metrics.frechet import frechet_distance_to_samples
from pytest_genquality.features.weights import REGISTRY, WeightsHashMismatchError, WeightsNotFoundError

OFFICIAL_NAME = REGISTRY["inception-fid"].filename


def random_images(count: int, size: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)


def smooth_images(count: int, size: int, seed: int) -> torch.Tensor:
    """Blurry colour fields: a distribution clearly unlike uniform pixel noise."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 4, 4, generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return (smooth * 255).round().to(torch.uint8)


def relative_difference(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual - expected).abs().max() / expected.abs().max())


def gaussian_stats(features: torch.Tensor):
    rows = features.double().numpy()
    return rows.mean(axis=0), np.cov(rows, rowvar=False)


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory):
    return build_random_inception_weights(tmp_path_factory.mktemp("inception-weights"), seed=0)


@pytest.fixture(scope="module")
def other_weights_path(tmp_path_factory):
    return build_random_inception_weights(tmp_path_factory.mktemp("inception-weights-1"), seed=1)


@pytest.fixture(scope="module")
def extractors_by_mode(weights_path):
    return {mode: InceptionFID(weights_path, resize=mode, batch_size=8) for mode in RESIZE_MODES}


@pytest.fixture(scope="module")
def extractor(extractors_by_mode):
    return extractors_by_mode["pytorch-fid"]


@pytest.fixture
def isolated_weights_search(tmp_path, monkeypatch):
    """An empty torch hub dir, no weights dir, offline: the search path holds nothing."""
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(torch.hub, "_hub_dir", str(hub))
    monkeypatch.delenv("GENQUALITY_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("GENQUALITY_OFFLINE", "1")
    settings.configure(None)
    yield hub / "checkpoints"
    settings.configure(None)


# --------------------------------------------------------------------------- outputs


def test_features_have_documented_shapes_dtypes_and_device(extractor):
    features = extractor(random_images(3, 32, seed=1))
    assert set(features) == {"pool", "logits_unbiased"}
    assert features["pool"].shape == (3, 2048)
    assert features["logits_unbiased"].shape == (3, 1008)
    assert extractor.feature_dims == {"pool": 2048, "logits_unbiased": 1008}
    for values in features.values():
        assert values.dtype == torch.float32
        assert values.device.type == "cpu"
        assert torch.isfinite(values).all()
    assert (features["pool"] >= 0).all(), "pool features follow a ReLU"


def test_logits_unbiased_are_pool_times_fc_weight_without_bias(extractor, weights_path):
    features = extractor(random_images(2, 32, seed=2))
    state = torch.load(weights_path, weights_only=True)
    expected = features["pool"].double() @ state["fc.weight"].double().T
    assert relative_difference(features["logits_unbiased"].double(), expected) < 1e-5
    with_bias = expected + state["fc.bias"].double()
    assert relative_difference(features["logits_unbiased"].double(), with_bias) > 1e-3


def test_folded_network_matches_batchnorm_network(extractor, weights_path):
    images = random_images(2, 299, seed=3)
    reference = load_fid_inception(weights_path)
    with torch.inference_mode():
        expected = reference(get_resize("pytorch-fid")(images))
    assert relative_difference(extractor(images)["pool"], expected) < 1e-5


def test_same_image_twice_gives_identical_rows(extractor):
    image = random_images(1, 48, seed=4)
    features = extractor(torch.cat([image, random_images(1, 48, seed=5), image]))
    assert torch.equal(features["pool"][0], features["pool"][2])
    assert not torch.allclose(features["pool"][0], features["pool"][1])


def test_features_do_not_depend_on_batch_size(extractor):
    images = random_images(7, 40, seed=6)
    assert extractor.batch_size >= 7
    all_at_once = extractor(images)
    one_by_one = list(extractor.iter_features(images, batch_size=1))
    assert len(one_by_one) == 7
    for name in ("pool", "logits_unbiased"):
        joined = torch.cat([part[name] for part in one_by_one])
        assert relative_difference(joined, all_at_once[name]) <= 1e-5


def test_image_batch_and_uint8_tensor_give_the_same_features(extractor):
    images = random_images(2, 32, seed=7)
    from_tensor = extractor(images)["pool"]
    from_batch = extractor(ImageBatch(images, seeds=[0, 1]))["pool"]
    assert torch.equal(from_tensor, from_batch)


def test_iter_features_regroups_a_stream_of_chunks(extractor):
    chunks = [random_images(n, 32, seed=10 + n) for n in (3, 5, 2)]
    streamed = list(extractor.iter_features(iter(chunks), batch_size=4))
    assert [len(part["pool"]) for part in streamed] == [4, 4, 2]
    joined = torch.cat([part["pool"] for part in streamed])
    direct = extractor(torch.cat(chunks))["pool"]
    assert relative_difference(joined, direct) <= 1e-5


def test_iter_features_keeps_different_image_sizes_apart(extractor):
    chunks = [random_images(2, 32, seed=20), ImageBatch(random_images(3, 48, seed=21))]
    sizes = [len(part["pool"]) for part in extractor.iter_features(chunks, batch_size=4)]
    assert sizes == [2, 3]


# --------------------------------------------------------------------------- random weights


def test_random_weights_file_is_named_and_loads_strictly(weights_path):
    assert weights_path.name == "pt_inception-random-seed-0.pth"
    state = torch.load(weights_path, weights_only=True)
    assert set(state) == set(FIDInceptionV3().state_dict())
    assert state["fc.weight"].shape == (1008, 2048)
    assert sum(key.endswith(".conv.weight") for key in state) == 94


def test_random_weights_are_seeded(weights_path, other_weights_path, tmp_path):
    again = torch.load(build_random_inception_weights(tmp_path, seed=0), weights_only=True)
    other = torch.load(other_weights_path, weights_only=True)
    first = torch.load(weights_path, weights_only=True)
    key = "Mixed_6b.branch7x7_2.conv.weight"
    assert torch.equal(first[key], again[key])
    assert torch.allclose(
        first["Mixed_7c.branch_pool.bn.running_var"], again["Mixed_7c.branch_pool.bn.running_var"], rtol=1e-5
    )
    assert not torch.equal(first[key], other[key])


def test_random_weights_refuse_a_name_without_random_seed(tmp_path):
    with pytest.raises(ValueError, match="path_or_dir.*random-seed-3"):
        build_random_inception_weights(tmp_path / "pt_inception-mine.pth", seed=3)
    with pytest.raises(ValueError, match="seed"):
        build_random_inception_weights(tmp_path, seed=-1)


def test_random_weights_give_non_degenerate_features(extractor):
    noise = extractor(random_images(8, 32, seed=30))["pool"]
    smooth = extractor(smooth_images(8, 32, seed=31))["pool"]
    noise_again = extractor(random_images(8, 32, seed=32))["pool"]

    scale = float(noise.mean())
    assert 1e-2 < scale < 1e2, f"pool features should be O(1), mean is {scale}"
    assert float(noise.std(dim=0).mean()) > 1e-3 * scale, "features should vary between images"

    centred = noise.double() - noise.double().mean(dim=0)
    spectrum = torch.linalg.eigvalsh(centred @ centred.T).flip(0)  # the N-1 non-zero ones
    share_of_top = float(spectrum[0] / spectrum.sum())
    assert share_of_top < 0.9, f"one direction holds {share_of_top:.0%} of the variance"
    assert float(spectrum[6] / spectrum[0]) > 1e-3, "covariance rank collapsed"

    mu, sigma = gaussian_stats(noise)
    between = frechet_distance_to_samples(mu, sigma, smooth.double().numpy())
    within = frechet_distance_to_samples(mu, sigma, noise_again.double().numpy())
    assert within > 0
    assert between > 5 * within, "noise vs smooth images must be farther apart than two noise sets"


# --------------------------------------------------------------------------- ids and modes


def test_id_names_architecture_weights_and_resize(extractors_by_mode, other_weights_path):
    ids = {mode: extractor.id for mode, extractor in extractors_by_mode.items()}
    assert len(set(ids.values())) == len(RESIZE_MODES)
    for mode, extractor_id in ids.items():
        assert extractor_id.startswith("inception-fid:random-seed-0-")
        assert extractor_id.endswith(f"/{mode}")
    other_id = InceptionFID(other_weights_path).id
    assert other_id.startswith("inception-fid:random-seed-1-")
    assert other_id != ids["pytorch-fid"]


def test_resize_modes_give_different_features(extractors_by_mode):
    images = random_images(2, 64, seed=40)
    pools = {mode: extractor(images)["pool"] for mode, extractor in extractors_by_mode.items()}
    assert relative_difference(pools["tf1"], pools["pytorch-fid"]) > 1e-3
    assert relative_difference(pools["clean"], pools["pytorch-fid"]) > 1e-3
    assert relative_difference(pools["torchmetrics"], pools["tf1"]) > 1e-3


@pytest.mark.parametrize("mode", sorted(RESIZE_MODES))
@pytest.mark.parametrize("size", [(17, 33), (299, 299), (320, 301)])
def test_resize_modes_output_299_floats_in_range(mode, size):
    images = torch.randint(0, 256, (2, 3, *size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = get_resize(mode)(images)
    assert out.shape == (2, 3, INCEPTION_SIZE, INCEPTION_SIZE)
    assert out.dtype == torch.float32
    assert float(out.min()) >= -1 and float(out.max()) <= 1


@pytest.mark.parametrize(
    "mode, white", [("pytorch-fid", 1.0), ("tf1", 127 / 128), ("clean", 127 / 128), ("torchmetrics", 127 / 128)]
)
def test_resize_modes_normalise_black_and_white_like_their_peer(mode, white):
    images = torch.zeros(2, 3, 20, 24, dtype=torch.uint8)
    images[1] = 255
    out = get_resize(mode)(images)
    assert torch.allclose(out[0], torch.full_like(out[0], -1.0), atol=1e-6)
    assert torch.allclose(out[1], torch.full_like(out[1], white), atol=1e-6)


def test_pytorch_fid_resize_at_299_is_identity_up_to_scaling():
    images = torch.randint(0, 256, (1, 3, 299, 299), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    expected = images.float() / 255 * 2 - 1
    assert torch.allclose(get_resize("pytorch-fid")(images), expected, atol=1e-6)


def test_torchmetrics_resize_is_antialiased():
    """A 3x downscale of a one-pixel checkerboard: the antialiased filter averages it to near grey,
    while unfiltered bilinear (tf1) samples every third pixel and keeps it at full contrast.
    (Equality with torchmetrics itself is in tests/parity.)"""
    board = (torch.arange(897).view(1, -1) + torch.arange(897).view(-1, 1)) % 2 * 255
    images = board.to(torch.uint8).expand(1, 3, 897, 897).contiguous()
    antialiased = get_resize("torchmetrics")(images)
    assert abs(float(antialiased.mean()) - (127.5 - 128) / 128) < 0.02
    assert float(antialiased.std()) < 0.1
    assert float(get_resize("tf1")(images).std()) > 0.9


# --------------------------------------------------------------------------- dims (pytorch-fid --dims)


@pytest.fixture(scope="module")
def extractors_by_dims(weights_path):
    return {dims: InceptionFID(weights_path, dims=dims, batch_size=8) for dims in (64, 192, 768)}


@pytest.mark.parametrize("dims", [64, 192, 768])
def test_smaller_dims_give_pool_only_and_name_it_in_the_id(extractors_by_dims, extractor, dims):
    lower = extractors_by_dims[dims]
    features = lower(random_images(3, 40, seed=50))
    assert set(features) == {"pool"} and lower.feature_dims == {"pool": dims}
    assert features["pool"].shape == (3, dims) and features["pool"].dtype == torch.float32
    assert float(features["pool"].min()) >= 0 and float(features["pool"].std()) > 0  # after ReLU / max pool
    assert lower.id == extractor.id + f"/dims-{dims}"


def test_dims_2048_keeps_the_0_1_id(extractor, weights_path):
    assert InceptionFID(weights_path, dims=2048).id == extractor.id
    assert not extractor.id.endswith("dims-2048")


def test_dims_features_are_spatial_means_of_the_block_outputs(extractors_by_dims, weights_path):
    """dims=64 is the mean over the 73x73 map after the first max pool (pytorch-fid's block 0)."""
    images = random_images(2, 40, seed=51)
    network = load_fid_inception(weights_path)
    with torch.inference_mode():
        x = get_resize("pytorch-fid")(images)
        x = network.Conv2d_2b_3x3(network.Conv2d_2a_3x3(network.Conv2d_1a_3x3(x)))
        x = torch.nn.functional.max_pool2d(x, kernel_size=3, stride=2)
    assert x.shape[-2:] == (73, 73)
    assert relative_difference(extractors_by_dims[64](images)["pool"], x.mean(dim=(2, 3))) < 1e-5


# --------------------------------------------------------------------------- input errors


def test_unknown_resize_mode_is_a_value_error_naming_the_argument(weights_path):
    with pytest.raises(ValueError, match=r"resize: unknown preprocessing mode 'bicubic'.*pytorch-fid"):
        InceptionFID(weights_path, resize="bicubic")


@pytest.mark.parametrize(
    "bad, error, pattern",
    [
        (torch.rand(2, 3, 32, 32), TypeError, r"images: expected uint8 pixels 0..255, got dtype torch.float32"),
        (
            torch.zeros(2, 1, 32, 32, dtype=torch.uint8),
            ValueError,
            r"images: expected shape \[N, 3, H, W\].*\(2, 1, 32, 32\)",
        ),
        (torch.zeros(3, 32, 32, dtype=torch.uint8), ValueError, r"images: expected shape"),
        (torch.zeros(0, 3, 32, 32, dtype=torch.uint8), ValueError, r"images: expected at least one"),
        (np.zeros((2, 32, 32, 3), dtype=np.uint8), TypeError, r"images: .*ImageBatch.from_any"),
        ("folder/of/images", TypeError, r"images: expected an ImageBatch.*str"),
        ([], ValueError, r"images: got an empty iterable"),
        (
            [torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.rand(1, 3, 8, 8)],
            TypeError,
            r"images\[1\]: expected uint8 pixels",
        ),
    ],
)
def test_bad_images_are_rejected_with_the_argument_named(extractor, bad, error, pattern):
    with pytest.raises(error, match=pattern):
        extractor(bad)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"batch_size": 0}, r"batch_size: expected a positive int, got 0"),
        ({"batch_size": 2.5}, r"batch_size: expected a positive int, got 2.5"),
        ({"device": "gpu-please"}, r"device: expected a torch device.*'gpu-please'"),
        ({"dims": 1000}, r"dims: expected one of 64, 192, 768, 2048 \(pytorch-fid's --dims\), got 1000"),
        ({"dims": "64"}, r"dims: expected one of .*got '64'"),
    ],
)
def test_bad_options_are_value_errors_naming_the_argument(weights_path, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        InceptionFID(weights_path, **kwargs)


def test_a_file_that_is_not_an_inception_state_dict_is_refused(tmp_path):
    wrong = tmp_path / "not-inception.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(ValueError, match=r"weights: .*not-inception.pth is not an FID Inception-v3 state dict"):
        InceptionFID(wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(ValueError, match=r"weights: could not read .*garbage.pth"):
        InceptionFID(garbage)


# --------------------------------------------------------------------------- weights search


def test_missing_weights_offline_name_the_file_and_url(isolated_weights_search):
    with pytest.raises(WeightsNotFoundError) as raised:
        InceptionFID(weights=None)
    message = str(raised.value)
    assert OFFICIAL_NAME in message
    assert REGISTRY["inception-fid"].url in message
    assert str(isolated_weights_search) in message
    assert "offline" in message


def test_official_name_in_hub_dir_is_found_and_hash_checked(isolated_weights_search, weights_path):
    impostor = isolated_weights_search / OFFICIAL_NAME
    impostor.write_bytes(weights_path.read_bytes())
    with pytest.raises(WeightsHashMismatchError, match=r"6726825d"):
        InceptionFID(weights=None)


def test_official_name_in_weights_dir_is_found_first(isolated_weights_search, weights_path, tmp_path, monkeypatch):
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    (weights_dir / OFFICIAL_NAME).write_bytes(weights_path.read_bytes())
    monkeypatch.setenv("GENQUALITY_WEIGHTS_DIR", str(weights_dir))
    with pytest.raises(WeightsHashMismatchError, match=str(weights_dir)):
        InceptionFID(weights=None)


def test_explicit_weights_path_is_used(isolated_weights_search, weights_path):
    extractor = InceptionFID(str(weights_path))
    assert extractor.weights_path == weights_path
    assert extractor.device == torch.device("cpu")
    assert extractor.resize == "pytorch-fid"


def test_explicit_missing_path_is_not_found(isolated_weights_search, tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nowhere.pth"):
        InceptionFID(tmp_path / "nowhere.pth")


def test_int64_levels_give_the_features_of_their_uint8_twin(extractor):
    """One image check for every network and metric: int64 0..255 levels (torch.randint) work here as with CLIP."""
    levels = torch.randint(256, (2, 3, 32, 32), generator=torch.Generator().manual_seed(4))
    assert torch.equal(extractor(levels)["pool"], extractor(levels.to(torch.uint8))["pool"])
