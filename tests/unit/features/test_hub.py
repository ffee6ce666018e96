"""A missing CLIP fails in seconds when the hub is unreachable, and names a command that exists."""

import shutil
import sys
import time
from pathlib import Path

import pytest

from pytest_genquality import settings
from pytest_genquality.features import hub


@pytest.fixture
def dead_hub(monkeypatch):
    """An endpoint that refuses connections at once (port 9 on the loopback: nothing listens there)."""
    monkeypatch.setattr(hub, "hub_endpoint", lambda: "http://127.0.0.1:9")
    for name in ("HF_HUB_OFFLINE", "GENQUALITY_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    previous = settings.configure(None)
    yield
    settings.configure(previous)


def test_a_refused_endpoint_is_unreachable():
    reason = hub.hub_unreachable_reason("http://127.0.0.1:9", timeout=2)
    assert reason and reason.startswith("http://127.0.0.1:9 is unreachable (ConnectionRefusedError")
    assert "has no host name" in hub.hub_unreachable_reason("not a url")


def test_missing_clip_with_a_dead_hub_fails_fast_without_a_download_attempt(dead_hub, monkeypatch):
    pytest.importorskip("transformers", reason="CLIPEmbedder needs transformers")
    from pytest_genquality.features import CLIPEmbedder, clip as clip_module

    calls = []
    real = clip_module._from_pretrained

    def recording(model_id, *, local_files_only):
        calls.append(local_files_only)
        return real(model_id, local_files_only=local_files_only)

    monkeypatch.setattr(clip_module, "_from_pretrained", recording)
    started = time.perf_counter()
    with pytest.raises(clip_module.CLIPModelNotFoundError) as raised:
        CLIPEmbedder("genquality-test/no-such-clip")
    assert calls == [True]  # the cache was read; the hub was not tried once it was found unreachable
    assert time.perf_counter() - started < hub.HUB_PROBE_TIMEOUT + 10  # not the hub client's ~23 s of retries
    message = str(raised.value)
    assert "http://127.0.0.1:9 is unreachable" in message
    assert "hf download genquality-test/no-such-clip --include '*.json'" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_the_suggested_command_exists_in_the_installed_client(monkeypatch):
    command = hub.download_command("openai/clip-vit-large-patch14").split()[0]
    pytest.importorskip("huggingface_hub")
    assert shutil.which(command, path=str(Path(sys.executable).parent)) or shutil.which(command), command
    monkeypatch.setattr(hub.metadata, "version", lambda name: "0.33.1")
    assert hub.download_command("x/y") == "huggingface-cli download x/y --include '*.json' '*.txt' 'model.safetensors'"
    monkeypatch.setattr(hub.metadata, "version", lambda name: "1.0.0rc1")
    assert hub.download_command("x/y").startswith("hf download x/y --include '*.json' --include")
