"""The Hugging Face hub, as the CLIP loader and `genquality weights` meet it.

Two facts a user needs when a model is missing: whether the hub can be reached at all, and the
command that fetches the model with the *installed* huggingface_hub. Unreachable hubs are found
with one short TCP connect: transformers' own retries spend about 23 s before giving up on a
machine without network, on every test session.
"""

from __future__ import annotations

import os
import socket
from importlib import metadata
from urllib.parse import urlsplit

HUB_PROBE_TIMEOUT = 3.0  # s; a reachable hub answers a TCP connect in well under a second
# The files CLIPModel + CLIPProcessor read; the hub repos also hold TF/Flax/bin copies (GBs we do not need).
CLIP_FILE_PATTERNS = ("*.json", "*.txt", "model.safetensors")


def hub_endpoint() -> str:
    """The hub URL huggingface_hub uses (``HF_ENDPOINT`` for mirrors)."""
    try:
        from huggingface_hub import constants

        return constants.ENDPOINT
    except ImportError:
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_unreachable_reason(endpoint: str | None = None, timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """None when a TCP connection to the hub opens within ``timeout`` seconds, else why not."""
    endpoint = endpoint or hub_endpoint()
    parts = urlsplit(endpoint)
    host = parts.hostname
    if not host:
        return f"the hub endpoint {endpoint!r} has no host name"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:  # DNS failure, refused, unreachable network, timeout
        return f"{endpoint} is unreachable ({type(error).__name__}: {error or 'timed out'})"


def hf_cli_command() -> str:
    """``hf`` (huggingface_hub >= 0.34) or the older ``huggingface-cli``."""
    try:
        version = metadata.version("huggingface_hub")
    except metadata.PackageNotFoundError:
        return "hf"
    numbers = []
    for part in version.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits) if digits else 0)
    return "hf" if tuple(numbers) >= (0, 34) else "huggingface-cli"


def download_command(model_id: str) -> str:
    """The shell command that puts ``model_id``'s CLIP files in the HF cache, for the installed hub client."""
    command = hf_cli_command()
    if command == "hf":  # typer: the option repeats
        includes = " ".join(f"--include '{pattern}'" for pattern in CLIP_FILE_PATTERNS)
    else:  # argparse, nargs="*"
        includes = "--include " + " ".join(f"'{pattern}'" for pattern in CLIP_FILE_PATTERNS)
    return f"{command} download {model_id} {includes}"
