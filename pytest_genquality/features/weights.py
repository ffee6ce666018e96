"""Where pretrained weights come from, and the errors when they cannot be found.

Search order: explicit path -> ``--gen-weights-dir`` -> torch hub cache
(``torch.hub.get_dir()/checkpoints``, where pytorch-fid and torchvision cache the very same
files) -> download through torch hub, unless offline. Official files are verified by the
torch-hub convention: the hex after the last ``-`` in the file name is a prefix of the
file's sha256. Nothing here ever substitutes other weights: a missing file is a
``WeightsNotFoundError`` that lists every place tried and the command that fixes it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import settings as settings_module
from ..store.files import file_sha256
from ..errors import RandomWeightsWarning, WeightsHashMismatchError, WeightsNotFoundError  # noqa: F401  (0.2 import path)


@dataclass(frozen=True)
class WeightsSpec:
    key: str
    filename: str
    url: str
    description: str
    demo_stem: str = ""  # seeded random stand-ins are '<demo_stem>-random-seed-<N>.pth' (see demo_filename)

    @property
    def sha256_prefix(self) -> str | None:
        return hash_prefix_from_name(self.filename)

    def demo_filename(self, seed: int) -> str:
        """Name of a seeded random stand-in: it says ``random-seed-N`` and carries no hash, so it is
        never taken for (or verified as) the official file, and ids made from it say random."""
        return f"{self.demo_stem or self.key}-random-seed-{seed}.pth"


REGISTRY: dict[str, WeightsSpec] = {
    spec.key: spec
    for spec in (
        WeightsSpec(
            "inception-fid",
            "pt_inception-2015-12-05-6726825d.pth",
            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
            "FID Inception-v3 (TF 2015-12-05 graph ported by pytorch-fid)",
            demo_stem="pt_inception",
        ),
        WeightsSpec(
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "torchvision AlexNet ImageNet weights (LPIPS 'alex' backbone)",
            demo_stem="alexnet",
        ),
        WeightsSpec(
            "vgg16",
            "vgg16-397923af.pth",
            "https://download.pytorch.org/models/vgg16-397923af.pth",
            "torchvision VGG16 ImageNet weights (LPIPS 'vgg' backbone)",
            demo_stem="vgg16",
        ),
    )
}

_HASH_SUFFIX = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")
_RANDOM_LABEL = re.compile(r"random-seed-(\d+)")


def hash_prefix_from_name(filename: str) -> str | None:
    """torch-hub convention: 'name-<hex>.pth' carries a prefix of the file's sha256."""
    match = _HASH_SUFFIX.search(os.path.basename(filename))
    return match.group(1) if match else None


def state_dict_sha256(path: str | os.PathLike) -> str:
    """sha256 of a checkpoint's tensors (names, dtypes, shapes, values), not of its file bytes.

    ``torch.save`` writes a fresh serialization id into every file, so two saves of identical
    weights differ byte-wise; their content hash does not.
    """
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().reshape(-1).contiguous()  # 1-D: 0-d tensors cannot be viewed as bytes
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def weights_label(path: str | os.PathLike) -> str:
    """Short label of a weights file for extractor ids.

    Files whose name says ``random-seed-N`` (built by tests and demos) are labelled so, so that
    their numbers can never be mistaken for numbers made with official weights; they are
    fingerprinted by content, so rebuilding the same seed gives the same id. Other files are
    labelled by the sha256 of their bytes, the hash their official names carry.
    """
    random_match = _RANDOM_LABEL.search(os.path.basename(os.fspath(path)))
    if random_match:
        return f"random-seed-{random_match.group(1)}-{state_dict_sha256(path)[:12]}"
    return file_sha256(path)[:12]


def verify_file(path: Path, expected_prefix: str | None) -> None:
    if expected_prefix is None:
        return
    actual = file_sha256(path)
    if not actual.startswith(expected_prefix):
        raise WeightsHashMismatchError(
            f"weights file {path} should have a sha256 starting with {expected_prefix} "
            f"(the hex in its name), but its sha256 is {actual}. The file is corrupt or not the "
            "official checkpoint: delete it and fetch it again."
        )


def hub_checkpoint_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def search_locations(spec: WeightsSpec, weights_dir: str | os.PathLike | None) -> list[Path]:
    places = []
    if weights_dir:
        places.append(Path(weights_dir) / spec.filename)
    places.append(hub_checkpoint_dir() / spec.filename)
    return places


def resolve_weights(
    key: str,
    explicit: str | os.PathLike | None = None,
    *,
    weights_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
) -> Path:
    """Return the path of the weights file for ``key``, verified when named officially.

    ``weights_dir`` and ``offline`` default to the active settings (``--gen-weights-dir``,
    ``GENQUALITY_WEIGHTS_DIR``; ``--gen-offline``, ``GENQUALITY_OFFLINE``, ``HF_HUB_OFFLINE``).
    """
    if key not in REGISTRY:
        raise KeyError(f"key: unknown weights {key!r}; known: {sorted(REGISTRY)}")
    spec = REGISTRY[key]
    active = settings_module.active()
    weights_dir = active.weights_dir if weights_dir is None else weights_dir
    offline = active.offline if offline is None else offline

    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"weights: the file {path} given explicitly for {spec.description} does not exist; "
                f"check the path given as {explicit_hint().split()[0]}"
            )
        verify_file(path, hash_prefix_from_name(path.name))
        return path

    tried = search_locations(spec, weights_dir)
    for path in tried:
        if path.is_file():
            verify_file(path, spec.sha256_prefix)
            return path
    demo = find_demo_file(spec, weights_dir)
    if demo is not None:
        return demo

    if offline:
        raise WeightsNotFoundError(_not_found_message(spec, tried, reason="offline mode forbids downloads"))
    target = hub_checkpoint_dir() / spec.filename
    try:
        import torch.hub

        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(spec.url, str(target), hash_prefix=spec.sha256_prefix, progress=True)
    except Exception as error:  # network errors come in many types; all mean "not here"
        # from None: the message holds the reason; urllib's chained frames are 60 lines of noise
        failure = WeightsNotFoundError(
            _not_found_message(spec, tried, reason=f"download failed: {download_failure_reason(error)}")
        )
        failure.download_failure = download_failure_reason(error)
        raise failure from None
    verify_file(target, spec.sha256_prefix)
    return target


def find_demo_file(spec: WeightsSpec, weights_dir: str | os.PathLike | None) -> Path | None:
    """The one seeded random stand-in for ``spec`` in ``weights_dir`` (``genquality weights demo DIR``).

    Only a folder the user named is searched, and only after every official location: a demo
    file never shadows the official one. Using it warns (``RandomWeightsWarning``) and the
    extractor id says ``random-seed-N``. Two seeds in one folder are ambiguous: a ValueError.
    """
    if not weights_dir:
        return None
    found = sorted(Path(weights_dir).glob(spec.demo_filename(seed=0).replace("random-seed-0", "random-seed-*")))
    found = [path for path in found if _RANDOM_LABEL.search(path.name)]
    if len(found) > 1:
        names = ", ".join(path.name for path in found)
        raise ValueError(
            f"--gen-weights-dir: {weights_dir} holds several stand-ins for {spec.description} ({names}); keep one, "
            f"or pass the file explicitly ({explicit_hint()})"
        )
    if not found:
        return None
    import warnings

    warnings.warn(
        f"{spec.description}: official file not found, using the seeded random stand-in {found[0]}; "
        "its numbers match no published value (ids say random-seed-N)",
        RandomWeightsWarning,
        stacklevel=3,
    )
    return found[0]


def download_failure_reason(error: BaseException) -> str:
    """Why a download failed, in words: urllib's ``<urlopen error [Errno -2] ...>`` says "no network"."""
    from urllib.error import HTTPError, URLError

    if isinstance(error, HTTPError):
        return f"the server answered HTTP {error.code} {error.reason}"
    if isinstance(error, URLError):
        reason = error.reason
        detail = getattr(reason, "strerror", None) or str(reason)
        return f"no network or the server is unreachable: {detail}"
    return f"{type(error).__name__}: {error}"


def _not_found_message(spec: WeightsSpec, tried: list[Path], *, reason: str) -> str:
    places = "\n".join(f"    {path}" for path in tried)
    fix_dir = tried[0].parent
    return (
        f"{spec.description}: weights file {spec.filename} not found ({reason}).\n"
        f"  looked in:\n{places}\n"
        f"  url: {spec.url}\n"
        f"  fix: on a machine with internet run\n"
        f"    mkdir -p {fix_dir} && curl -L -o {fix_dir / spec.filename} {spec.url}\n"
        f"  or pass the file explicitly ({explicit_hint()}) or point --gen-weights-dir / "
        f"GENQUALITY_WEIGHTS_DIR at a folder holding it.\n"
        f"  offline demo: `genquality weights demo DIR` writes seeded random stand-ins (ids say random-seed-N)."
    )


def explicit_hint() -> str:
    """How the caller passes a weights file: a flag in the genquality command, a keyword in Python."""
    return "--weights PATH" if settings_module.active().interface == "cli" else "weights=PATH"
