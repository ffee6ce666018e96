"""weights.py: search order, verification, offline refusal and the error text."""

import hashlib
from pathlib import Path

import pytest
import torch.hub

from pytest_genquality import settings
from pytest_genquality.features import weights
from pytest_genquality.features.weights import (
    REGISTRY,
    WeightsHashMismatchError,
    WeightsNotFoundError,
    WeightsSpec,
    resolve_weights,
    weights_label,
)

PAYLOAD = b"pretend these are weights\n" * 10
PREFIX = hashlib.sha256(PAYLOAD).hexdigest()[:8]
URL = "https://example.invalid/toy-net.pth"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private torch hub dir, no downloads by accident, environment settings."""
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # restored after the test
    torch.hub.set_dir(str(hub))
    assert torch.hub.get_dir() == str(hub)
    for name in ("GENQUALITY_OFFLINE", "HF_HUB_OFFLINE", "GENQUALITY_WEIGHTS_DIR"):
        monkeypatch.delenv(name, raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    previous = settings.configure(None)
    yield hub
    settings.configure(previous)


@pytest.fixture
def toy_spec(monkeypatch):
    spec = WeightsSpec("toy-net", f"toy-net-{PREFIX}.pth", URL, "toy network weights")
    monkeypatch.setitem(REGISTRY, spec.key, spec)
    return spec


def write(path: Path, data: bytes = PAYLOAD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_registry_names_carry_the_sha_prefix():
    for spec in REGISTRY.values():
        assert spec.sha256_prefix and len(spec.sha256_prefix) >= 8, spec.filename


def test_found_in_the_hub_checkpoint_dir(isolated, toy_spec):
    path = write(isolated / "checkpoints" / toy_spec.filename)
    assert resolve_weights("toy-net", offline=True) == path


def test_weights_dir_comes_before_the_hub_cache(isolated, toy_spec, tmp_path):
    hub_copy = write(isolated / "checkpoints" / toy_spec.filename)
    dir_copy = write(tmp_path / "mine" / toy_spec.filename)
    assert resolve_weights("toy-net", weights_dir=tmp_path / "mine", offline=True) == dir_copy
    dir_copy.unlink()
    assert resolve_weights("toy-net", weights_dir=tmp_path / "mine", offline=True) == hub_copy


def test_weights_dir_from_the_environment(monkeypatch, toy_spec, tmp_path):
    dir_copy = write(tmp_path / "envdir" / toy_spec.filename)
    monkeypatch.setenv("GENQUALITY_WEIGHTS_DIR", str(tmp_path / "envdir"))
    settings.configure(None)
    assert resolve_weights("toy-net", offline=True) == dir_copy


def test_explicit_path_comes_first(isolated, toy_spec, tmp_path):
    write(isolated / "checkpoints" / toy_spec.filename)
    write(tmp_path / "mine" / toy_spec.filename)
    explicit = write(tmp_path / "elsewhere" / "my-weights.pth", b"anything: no hash in this name")
    assert resolve_weights("toy-net", explicit, weights_dir=tmp_path / "mine", offline=True) == explicit


def test_explicit_path_with_a_hash_in_its_name_is_verified(tmp_path, toy_spec):
    good = write(tmp_path / toy_spec.filename)
    assert resolve_weights("toy-net", good, offline=True) == good
    bad = write(tmp_path / "x" / toy_spec.filename, b"not the weights")
    with pytest.raises(WeightsHashMismatchError, match=PREFIX):
        resolve_weights("toy-net", bad, offline=True)


def test_explicit_missing_path_names_it(tmp_path, toy_spec):
    missing = tmp_path / "nope.pth"
    with pytest.raises(WeightsNotFoundError, match="nope.pth.*does not exist"):
        resolve_weights("toy-net", missing)


def test_wrong_hash_under_an_official_name_is_refused(isolated, toy_spec, tmp_path):
    write(tmp_path / "mine" / toy_spec.filename, b"truncated download")
    with pytest.raises(WeightsHashMismatchError) as info:
        resolve_weights("toy-net", weights_dir=tmp_path / "mine", offline=True)
    text = str(info.value)
    assert PREFIX in text and hashlib.sha256(b"truncated download").hexdigest() in text
    assert "delete it" in text
    # never falls through to another copy silently
    write(isolated / "checkpoints" / toy_spec.filename)
    with pytest.raises(WeightsHashMismatchError):
        resolve_weights("toy-net", weights_dir=tmp_path / "mine", offline=True)


def test_wrong_hash_for_the_real_inception_name(isolated):
    write(isolated / "checkpoints" / REGISTRY["inception-fid"].filename, b"not inception")
    with pytest.raises(WeightsHashMismatchError, match="6726825d"):
        resolve_weights("inception-fid", offline=True)


def test_not_found_offline_lists_every_place_the_url_and_the_fix(isolated, toy_spec, tmp_path):
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights("toy-net", weights_dir=tmp_path / "mine", offline=True)
    text = str(info.value)
    assert "offline mode forbids downloads" in text
    assert str(tmp_path / "mine" / toy_spec.filename) in text
    assert str(isolated / "checkpoints" / toy_spec.filename) in text
    assert f"url: {URL}" in text
    assert f"curl -L -o {tmp_path / 'mine' / toy_spec.filename} {URL}" in text
    assert "--gen-weights-dir" in text and "GENQUALITY_WEIGHTS_DIR" in text


@pytest.mark.parametrize("variable", ["GENQUALITY_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_from_the_environment(monkeypatch, toy_spec, variable):
    monkeypatch.setenv(variable, "1")
    settings.configure(None)
    with pytest.raises(WeightsNotFoundError, match="offline mode forbids downloads"):
        resolve_weights("toy-net")


def test_offline_argument_overrides_settings(monkeypatch, toy_spec):
    monkeypatch.setenv("GENQUALITY_OFFLINE", "1")
    settings.configure(None)
    monkeypatch.setattr(torch.hub, "download_url_to_file", _raise(OSError("no route to host")))
    with pytest.raises(WeightsNotFoundError, match="download failed"):
        resolve_weights("toy-net", offline=False)


def _raise(error):
    def download(*args, **kwargs):
        raise error

    return download


def test_download_failure_is_weights_not_found(monkeypatch, isolated, toy_spec):
    monkeypatch.setattr(torch.hub, "download_url_to_file", _raise(ConnectionError("Name or service not known")))
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights("toy-net", offline=False)
    text = str(info.value)
    assert "download failed: ConnectionError: Name or service not known" in text
    assert str(isolated / "checkpoints" / toy_spec.filename) in text and URL in text
    assert info.value.__cause__ is None and info.value.__suppress_context__  # the reason is in the message


def test_download_writes_into_the_hub_cache(monkeypatch, isolated, toy_spec):
    calls = []

    def download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix))
        Path(dst).write_bytes(PAYLOAD)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    path = resolve_weights("toy-net", offline=False)
    assert path == isolated / "checkpoints" / toy_spec.filename and path.read_bytes() == PAYLOAD
    assert calls == [(URL, str(path), PREFIX)]
    # second call finds it without downloading
    monkeypatch.setattr(torch.hub, "download_url_to_file", _raise(AssertionError("downloaded twice")))
    assert resolve_weights("toy-net", offline=True) == path


def test_downloaded_file_with_the_wrong_hash_is_refused(monkeypatch, toy_spec):
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, dst, **kw: Path(dst).write_bytes(b"evil"))
    with pytest.raises(WeightsHashMismatchError):
        resolve_weights("toy-net", offline=False)


def test_unknown_key():
    with pytest.raises(KeyError, match="unknown weights 'nope'.*inception-fid"):
        resolve_weights("nope")


def test_weights_label(tmp_path):
    import torch

    # Random-seed files are labelled by content: two saves of the same tensors (torch.save
    # writes a fresh serialization id each time, so their bytes differ) get one label.
    state = {"layer.weight": torch.arange(6.0).reshape(2, 3), "layer.count": torch.tensor(3)}
    first, second = tmp_path / "a" / "net-random-seed-7.pth", tmp_path / "b" / "net-random-seed-7.pth"
    for path in (first, second):
        path.parent.mkdir()
        torch.save(state, path)
    assert weights_label(first) == weights_label(second)
    assert weights_label(first).startswith("random-seed-7-") and len(weights_label(first)) == len("random-seed-7-") + 12
    torch.save({**state, "layer.count": torch.tensor(4)}, second)
    assert weights_label(first) != weights_label(second)
    sha12 = hashlib.sha256(PAYLOAD).hexdigest()[:12]
    official = write(tmp_path / f"toy-net-{PREFIX}.pth")
    assert weights_label(official) == sha12
    other = write(tmp_path / "other.pth", b"other bytes")
    assert weights_label(other) == hashlib.sha256(b"other bytes").hexdigest()[:12]


def test_hash_prefix_from_name():
    assert weights.hash_prefix_from_name("pt_inception-2015-12-05-6726825d.pth") == "6726825d"
    assert weights.hash_prefix_from_name("/x/y/vgg16-397923af.pth") == "397923af"
    assert weights.hash_prefix_from_name("pt_inception-random-seed-0.pth") is None
    assert weights.hash_prefix_from_name("model.pth") is None
