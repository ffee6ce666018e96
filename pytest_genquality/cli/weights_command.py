"""Every weights file the plugin can need: where it is looked for, is it there and sound, fetch it, or stand in.

Behind ``genquality weights status | fetch | demo DIR``. The files:

- FID Inception-v3 (FID, KID, IS, precision/recall/coverage): torch-hub file, sha256 in its name;
- AlexNet and VGG16 ImageNet backbones (LPIPS ``net="alex"`` / ``"vgg"``): torch-hub files;
- the LPIPS linear layers: shipped inside the ``lpips`` package (sha256 known, ``LIN_SHA256``);
- CLIP ViT-L/14 (CLIP score, CMMD): a Hugging Face hub model, read from the HF cache.

``demo`` writes seeded random stand-ins of the real architectures whose names say
``random-seed-N`` and carry no hash, so they can never pass for the official files; pointed at with
``--gen-weights-dir``, they are found after every official location, with a warning.
"""

from __future__ import annotations

import importlib.util
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

from .. import settings as settings_module
from ..features.weights import (
    REGISTRY,
    WeightsHashMismatchError,
    WeightsNotFoundError,
    download_failure_reason,
    file_sha256,
    find_demo_file,
    hub_checkpoint_dir,
    resolve_weights,
    search_locations,
    verify_file,
)

USED_FOR = {
    "inception-fid": "FID, KID, IS, precision/recall/coverage",
    "alexnet": "LPIPS net='alex' (the default)",
    "vgg16": "LPIPS net='vgg'",
}
BACKBONES = {"alexnet": "alex", "vgg16": "vgg"}  # registry key -> LPIPS net name
DEMO_CHOICES = ("inception-fid", "alexnet", "vgg16", "lpips-lin", "clip")


@dataclass(frozen=True)
class FileStatus:
    """One file the plugin may load: ``state`` is 'ok', 'missing', 'bad hash' or 'demo' (a random stand-in)."""

    name: str
    used_for: str
    looked_in: tuple[str, ...]
    found: str | None
    state: str
    detail: str = ""


def status(
    weights_dir: str | os.PathLike | None = None, *, clip_model: str | None = None, check_hashes: bool = True
) -> list[FileStatus]:
    """Where each file was looked for and what was found, without downloading anything."""
    weights_dir = settings_module.active().weights_dir if weights_dir is None else weights_dir
    rows = [_registry_status(key, weights_dir, check_hashes) for key in REGISTRY]
    rows += [_lin_status(net) for net in ("alex", "vgg")]
    rows.append(_clip_status(clip_model, check_hashes))
    return rows


def _registry_status(key: str, weights_dir, check_hashes: bool) -> FileStatus:
    spec = REGISTRY[key]
    places = search_locations(spec, weights_dir)
    looked = tuple(str(p) for p in places)
    for path in places:
        if path.is_file():
            if not check_hashes:
                return FileStatus(key, USED_FOR.get(key, ""), looked, str(path), "ok", "hash not checked")
            try:
                verify_file(path, spec.sha256_prefix)
            except WeightsHashMismatchError:
                return FileStatus(
                    key,
                    USED_FOR.get(key, ""),
                    looked,
                    str(path),
                    "bad hash",
                    f"sha256 does not start with {spec.sha256_prefix}: delete it and fetch again",
                )
            return FileStatus(key, USED_FOR.get(key, ""), looked, str(path), "ok", f"sha256 {spec.sha256_prefix}…")
    try:
        demo = _quiet(find_demo_file, spec, weights_dir)
    except ValueError as error:
        return FileStatus(key, USED_FOR.get(key, ""), looked, None, "missing", str(error))
    if demo is not None:
        return FileStatus(
            key,
            USED_FOR.get(key, ""),
            looked + (str(demo),),
            str(demo),
            "demo",
            "seeded random stand-in: numbers match no published value",
        )
    return FileStatus(
        key,
        USED_FOR.get(key, ""),
        looked,
        None,
        "missing",
        f"`genquality weights fetch` where there is internet, or download {spec.url}",
    )


def _lin_status(net: str) -> FileStatus:
    from ..features.lpips_net import LIN_SHA256, LPIPSWeightsNotFoundError, default_lin_weights, resolve_lin_weights

    name, used_for = f"lpips-lin-{net}", f"LPIPS net={net!r} linear layers"
    try:
        path = default_lin_weights(net)
    except LPIPSWeightsNotFoundError:
        try:
            demo = _quiet(resolve_lin_weights, net)
        except LPIPSWeightsNotFoundError:
            return FileStatus(name, used_for, ("the lpips package",), None, "missing", "pip install lpips")
        return FileStatus(
            name,
            used_for,
            ("the lpips package", str(demo)),
            str(demo),
            "demo",
            "seeded random stand-in (the lpips package is not installed)",
        )
    ok = file_sha256(path) == LIN_SHA256[net]
    return FileStatus(
        name,
        used_for,
        (str(path),),
        str(path),
        "ok" if ok else "bad hash",
        f"sha256 {LIN_SHA256[net][:8]}…" if ok else "not lpips 0.1.4's file: pip install --force-reinstall lpips",
    )


def _clip_status(clip_model: str | None, check_hashes: bool) -> FileStatus:
    from ..features.clip import DEFAULT_CLIP_MODEL
    from ..features.hub import download_command

    model_id = clip_model or DEFAULT_CLIP_MODEL
    name, used_for = f"clip:{model_id}", "CLIP score, CMMD"
    try:
        from huggingface_hub import constants, snapshot_download
    except ImportError:
        return FileStatus(name, used_for, (), None, "missing", "pip install 'pytest-genquality[clip]'")
    looked = (str(constants.HF_HUB_CACHE),)
    try:
        folder = Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # the hub client raises several types for "not cached"
        from ..features.clip import find_demo_clip

        demo = _quiet(find_demo_clip) if model_id == DEFAULT_CLIP_MODEL else None
        if demo is not None:
            return FileStatus(
                name,
                used_for,
                looked + (str(demo),),
                str(demo),
                "demo",
                "tiny seeded random stand-in: CLIP scores match no published value",
            )
        return FileStatus(name, used_for, looked, None, "missing", download_command(model_id))
    weights = [p for p in (folder / "model.safetensors", folder / "pytorch_model.bin") if p.exists()]
    if not (folder / "config.json").exists() or not weights:
        return FileStatus(
            name,
            used_for,
            looked,
            str(folder),
            "missing",
            f"config.json or the weights are not cached: {download_command(model_id)}",
        )
    if not check_hashes:
        return FileStatus(name, used_for, looked, str(weights[0]), "ok", "hash not checked")
    blob = weights[0].resolve()  # the HF cache names large-file blobs by their sha256
    if len(blob.name) == 64 and all(c in "0123456789abcdef" for c in blob.name):
        if file_sha256(blob) != blob.name:
            return FileStatus(
                name,
                used_for,
                looked,
                str(weights[0]),
                "bad hash",
                f"blob {blob.name[:8]}… is corrupt: delete it and fetch again",
            )
        return FileStatus(name, used_for, looked, str(weights[0]), "ok", f"sha256 {blob.name[:8]}…")
    return FileStatus(name, used_for, looked, str(weights[0]), "ok", "no hash in the cache to check")


def _quiet(function, *args):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args)


def status_lines(rows: list[FileStatus]) -> list[str]:
    lines = []
    for row in rows:
        lines.append(f"{row.state.upper():8s} {row.name}  ({row.used_for})")
        lines.append(f"         found: {row.found or '-'}")
        for place in row.looked_in:
            lines.append(f"         looked in: {place}")
        if row.detail:
            lines.append(f"         {'fix' if row.state in ('missing', 'bad hash') else 'note'}: {row.detail}")
    return lines


def fetch(
    weights_dir: str | os.PathLike | None = None, *, clip_model: str | None = None, include_clip: bool = True
) -> list[FileStatus]:
    """Download every missing file into the caches (torch hub checkpoints, HF cache); returns the new status.

    For CI runners to pre-cache: one online ``genquality weights fetch``, then ``--gen-offline``.
    Files already present are checked, not downloaded again. Failures are reported per file.
    """
    weights_dir = settings_module.active().weights_dir if weights_dir is None else weights_dir
    failures = {}
    for key, spec in REGISTRY.items():
        if any(path.is_file() for path in search_locations(spec, weights_dir)):
            continue  # present: the status below checks its hash
        try:  # weights_dir="": the official file from the hub cache or a download, never a demo stand-in
            resolve_weights(key, weights_dir="", offline=False)
        except (WeightsNotFoundError, WeightsHashMismatchError) as error:
            failures[key] = getattr(error, "download_failure", None) or str(error).splitlines()[0]
    if include_clip:
        failure = _fetch_clip(clip_model)
        if failure:
            failures[f"clip:{clip_model or _default_clip()}"] = failure
    rows = [
        replace(row, detail=_fetch_failure_detail(row, failures[row.name]))
        if row.name in failures and row.state != "ok"
        else row
        for row in status(weights_dir, clip_model=clip_model)
    ]
    return rows if include_clip else [row for row in rows if not row.name.startswith("clip:")]


def _fetch_failure_detail(row: FileStatus, reason: str) -> str:
    """One sentence: why the download failed, then what to do (the status's own advice says "fetch")."""
    spec = REGISTRY.get(row.name)
    if spec is None:
        return f"download failed ({reason}); run `genquality weights fetch` again where there is internet"
    return (
        f"download failed ({reason}); run `genquality weights fetch` again where there is internet, or put "
        f"{spec.url} into {hub_checkpoint_dir()}/"
    )


def _default_clip() -> str:
    from ..features.clip import DEFAULT_CLIP_MODEL

    return DEFAULT_CLIP_MODEL


def _fetch_clip(clip_model: str | None) -> str | None:
    """Download the CLIP files into the HF cache; the reason when that failed, else None."""
    from ..features.hub import CLIP_FILE_PATTERNS, hub_unreachable_reason

    unreachable = hub_unreachable_reason()
    if unreachable:
        return unreachable
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(clip_model or _default_clip(), allow_patterns=list(CLIP_FILE_PATTERNS))
    except Exception as error:  # the hub client raises many types; the status that follows says what is missing
        return download_failure_reason(error).splitlines()[0]
    return None


def write_demo(directory: str | os.PathLike, *, seed: int = 0, only: tuple[str, ...] = DEMO_CHOICES) -> list[Path]:
    """Write seeded random stand-ins of the real architectures into ``directory``; returns the files.

    inception-fid: ``pt_inception-random-seed-N.pth``; alexnet / vgg16: the backbones' ``features.*``
    tensors (all LPIPS reads); lpips-lin: ``lpips-lin-{alex,vgg}-random-seed-N.pth``, non-negative
    like the calibrated ones; clip: a tiny CLIP folder ``clip-tiny-random-seed-N/`` (not ViT-L/14's
    size: 1.7 GB of random numbers would demonstrate nothing more). Point ``--gen-weights-dir`` at the folder (or pass a file with
    ``--weights`` / ``weights=``). Each file is reproducible for a seed on one torch build.
    """
    unknown = sorted(set(only) - set(DEMO_CHOICES))
    if unknown:
        raise ValueError(f"only: unknown weights {unknown}; expected some of {list(DEMO_CHOICES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    directory = Path(directory).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if "inception-fid" in only:
        from ..features.inception import build_random_inception_weights

        written.append(build_random_inception_weights(directory / REGISTRY["inception-fid"].demo_filename(seed), seed))
    for key in ("alexnet", "vgg16"):
        if key in only:
            written.append(_write_backbone(directory / REGISTRY[key].demo_filename(seed), key, seed))
    if "lpips-lin" in only:
        written += [_write_lin(directory, net, seed) for net in ("alex", "vgg")]
    if "clip" in only and importlib.util.find_spec("transformers") is not None:  # else: no CLIP to stand in for
        from ..features.clip_demo import write_demo_clip

        written.append(write_demo_clip(directory, seed))
    return written


def _save_state(path: Path, state: dict) -> Path:
    """torch.save to memory first (its zip records are named after the file), then one atomic write."""
    import torch

    from ..store.files import atomic_write_bytes

    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _write_backbone(path: Path, key: str, seed: int) -> Path:
    import torch
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        features = getattr(torchvision.models, key)(weights=None).features  # torchvision's own init, seeded
    return _save_state(path, {f"features.{name}": tensor for name, tensor in features.state_dict().items()})


def _write_lin(directory: Path, net: str, seed: int) -> Path:
    import torch

    from ..features.lpips_net import NETS, demo_lin_filename

    generator = torch.Generator().manual_seed(seed)
    channels = NETS[net][3]
    state = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=generator) / c for i, c in enumerate(channels)}
    return _save_state(directory / demo_lin_filename(net, seed), state)
