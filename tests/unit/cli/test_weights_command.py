"""genquality weights status | fetch | demo: every file the plugin can need, offline set-up and CI pre-caching."""

import hashlib
import json

import numpy as np
import pytest
import torch
import torch.hub
from PIL import Image

from pytest_genquality import settings
from pytest_genquality.cli import weights_command as weights_setup
from pytest_genquality.cli import main
from pytest_genquality.features.weights import REGISTRY, RandomWeightsWarning, WeightsSpec, resolve_weights

PAYLOAD = b"pretend these are weights\n" * 10
PREFIX = hashlib.sha256(PAYLOAD).hexdigest()[:8]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private torch hub dir and HF cache, environment settings, and no network (the hub is refused)."""
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    torch.hub.set_dir(str(tmp_path / "hub"))
    for name in ("GENQUALITY_OFFLINE", "HF_HUB_OFFLINE", "GENQUALITY_WEIGHTS_DIR", "GENQUALITY_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("pytest_genquality.features.hub.hub_endpoint", lambda: "http://127.0.0.1:9")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    previous = settings.configure(None)
    yield tmp_path / "hub"
    settings.configure(previous)


@pytest.fixture
def toy_registry(tmp_path, monkeypatch):
    """The registry holds one toy file served from a local file:// URL (the real download code runs)."""
    served = tmp_path / "server" / f"toy-net-{PREFIX}.pth"
    served.parent.mkdir()
    served.write_bytes(PAYLOAD)
    for key in list(REGISTRY):
        monkeypatch.delitem(REGISTRY, key)
    spec = WeightsSpec("toy-net", served.name, served.as_uri(), "toy network", demo_stem="toy-net")
    monkeypatch.setitem(REGISTRY, spec.key, spec)
    return spec


def by_name(rows):
    return {row.name: row for row in rows}


def test_status_lists_every_file_the_plugin_can_need(isolated, capsys):
    assert main(["weights", "status", "--gen-weights-dir", "/nowhere"]) == 1  # files are MISSING: a red CI step
    out, err = capsys.readouterr()
    assert "file(s) missing or corrupt: inception-fid, alexnet, vgg16" in err
    for name in (
        "inception-fid",
        "alexnet",
        "vgg16",
        "lpips-lin-alex",
        "lpips-lin-vgg",
        "clip:openai/clip-vit-large-patch14",
    ):
        assert name in out, name
    assert f"looked in: /nowhere/{REGISTRY['inception-fid'].filename}" in out
    assert f"looked in: {isolated / 'checkpoints' / REGISTRY['alexnet'].filename}" in out
    assert "MISSING  inception-fid" in out and "fix: `genquality weights fetch`" in out
    assert "fix: hf download openai/clip-vit-large-patch14" in out


def test_status_checks_hashes(isolated, toy_registry, capsys):
    (isolated / "checkpoints").mkdir(parents=True)
    (isolated / "checkpoints" / toy_registry.filename).write_bytes(b"truncated")
    rows = by_name(weights_setup.status())
    assert rows["toy-net"].state == "bad hash" and "delete it" in rows["toy-net"].detail
    assert main(["weights", "status"]) == 1  # a corrupt file is worth a red CI step
    (isolated / "checkpoints" / toy_registry.filename).write_bytes(PAYLOAD)
    rows = by_name(weights_setup.status())
    assert rows["toy-net"].state == "ok" and rows["toy-net"].found == str(
        isolated / "checkpoints" / toy_registry.filename
    )
    assert rows["lpips-lin-alex"].state == "ok"  # the installed lpips package's file, sha256 known


def test_fetch_downloads_into_the_hub_cache(isolated, toy_registry, capsys):
    assert main(["weights", "fetch", "--no-clip"]) == 0
    target = isolated / "checkpoints" / toy_registry.filename
    assert target.read_bytes() == PAYLOAD
    assert "OK       toy-net" in capsys.readouterr().out
    assert resolve_weights("toy-net", offline=True) == target  # the offline run that follows finds it


def test_fetch_reports_what_it_could_not_get(isolated, toy_registry, capsys):
    (toy_registry_path := isolated.parent / "server" / toy_registry.filename).unlink()
    assert main(["weights", "fetch"]) == 1  # the file is gone from the server, and the hub is unreachable
    out = capsys.readouterr().out
    assert "MISSING  toy-net" in out and "MISSING  clip:" in out
    assert "download failed" in out and "http://127.0.0.1:9 is unreachable" in out  # why, per file
    assert not toy_registry_path.exists()


def test_fetch_without_network_says_so_in_one_clean_sentence(isolated, toy_registry, capsys, monkeypatch):
    import socket
    from urllib.error import URLError

    def offline(*args, **kwargs):
        raise URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    assert main(["weights", "fetch", "--no-clip"]) == 1
    out = capsys.readouterr().out
    fix = next(line.strip() for line in out.splitlines() if "fix:" in line and "toy" in line)
    assert fix == (
        f"fix: download failed (no network or the server is unreachable: Name or service not known); run "
        f"`genquality weights fetch` again where there is internet, or put {toy_registry.url} into "
        f"{isolated / 'checkpoints'}/"
    )


def test_demo_files_can_never_pass_for_official_ones(tmp_path):
    written = weights_setup.write_demo(tmp_path / "demo", seed=3, only=("alexnet", "lpips-lin"))
    names = sorted(path.name for path in written)
    assert names == ["alexnet-random-seed-3.pth", "lpips-lin-alex-random-seed-3.pth", "lpips-lin-vgg-random-seed-3.pth"]
    for path in written:
        assert "random-seed-3" in path.name and REGISTRY["alexnet"].filename not in path.name
    again = weights_setup.write_demo(tmp_path / "again", seed=3, only=("alexnet",))
    state_a, state_b = (torch.load(p, weights_only=True) for p in (written[0], again[0]))
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)  # seeded: reproducible


def test_lpips_runs_on_demo_files_from_the_weights_dir(tmp_path):
    from pytest_genquality.features.lpips_net import LPIPSNet

    weights_setup.write_demo(tmp_path / "demo", only=("alexnet",))
    settings.configure(settings.RunSettings(weights_dir=tmp_path / "demo", offline=True))
    with pytest.warns(RandomWeightsWarning, match="alexnet-random-seed-0.pth"):
        net = LPIPSNet("alex")
    assert "random-seed-0" in net.id
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert net(images, images).abs().max() < 1e-6 and (net(images, images.flip(0)) > 0).all()


def test_an_official_file_wins_over_a_demo(isolated, toy_registry, tmp_path):
    demo = tmp_path / "demo" / toy_registry.demo_filename(0)
    demo.parent.mkdir()
    demo.write_bytes(b"random")
    with pytest.warns(RandomWeightsWarning):
        assert resolve_weights("toy-net", weights_dir=demo.parent, offline=True) == demo
    official = isolated / "checkpoints" / toy_registry.filename
    official.parent.mkdir(parents=True)
    official.write_bytes(PAYLOAD)
    assert resolve_weights("toy-net", weights_dir=demo.parent, offline=True) == official
    (demo.parent / toy_registry.demo_filename(1)).write_bytes(b"random too")
    official.unlink()
    with pytest.raises(ValueError, match="several stand-ins"):
        resolve_weights("toy-net", weights_dir=demo.parent, offline=True)


def test_build_ref_finds_a_demo_inception_in_the_weights_dir(tmp_path, capsys, monkeypatch):
    """The offline path of the README: demo weights, then build-ref with --gen-weights-dir only.

    The stand-in is torch's default init instead of the calibrated one (seconds saved; the file's
    name, format and search are what this test is about; test_inception covers the calibration).
    """
    from pytest_genquality.features import inception

    def quick_random_inception(seed, **kwargs):
        torch.manual_seed(seed)
        return inception.FIDInceptionV3().eval()

    monkeypatch.setattr(inception, "random_fid_inception", quick_random_inception)
    assert main(["weights", "demo", str(tmp_path / "demo"), "--only", "inception-fid"]) == 0
    assert "pt_inception-random-seed-0.pth" in capsys.readouterr().out
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(images / f"{i}.png")
    with pytest.warns(RandomWeightsWarning):
        code = main(
            [
                "build-ref",
                str(images),
                "--name",
                "demo",
                "--gen-weights-dir",
                str(tmp_path / "demo"),
                "--gen-store",
                str(tmp_path / "store"),
                "--gen-offline",
                "--gen-device",
                "cpu",
            ]
        )
    assert code == 0
    meta = json.loads((tmp_path / "store" / "refs" / "demo.json").read_text())
    assert meta["n"] == 3 and meta["extractor_id"].startswith("inception-fid:random-seed-0-")


def test_build_random_inception_weights_is_public():
    import pytest_genquality

    assert "build_random_inception_weights" in pytest_genquality.__all__
    from pytest_genquality import build_random_inception_weights
    from pytest_genquality.features.inception import build_random_inception_weights as original

    assert build_random_inception_weights is original


def test_the_default_clip_falls_back_to_a_demo_in_the_weights_dir_with_a_warning(tmp_path):
    pytest.importorskip("transformers", reason="CLIP needs transformers")
    from pytest_genquality.features import CLIPEmbedder

    (folder,) = weights_setup.write_demo(tmp_path / "demo", seed=2, only=("clip",))
    assert folder.name == "clip-tiny-random-seed-2"
    settings.configure(settings.RunSettings(weights_dir=tmp_path / "demo", offline=True))
    assert by_name(weights_setup.status())["clip:openai/clip-vit-large-patch14"].state == "demo"
    with pytest.warns(RandomWeightsWarning, match="clip-tiny-random-seed-2"):
        embedder = CLIPEmbedder()
    assert "random-seed-2" in embedder.id
    rows = embedder.embed_images(torch.zeros(2, 3, 40, 40, dtype=torch.uint8))
    texts = embedder.embed_texts(["a red bicycle", "the cat"])
    assert rows.shape == texts.shape == (2, 32) and torch.allclose(texts.norm(dim=1), torch.ones(2))
    with pytest.raises(FileNotFoundError, match="offline"):  # a model the user names is never stood in for
        CLIPEmbedder("someone/other-clip")
