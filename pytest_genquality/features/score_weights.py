"""Weights files of the learned image scores (LAION aesthetic head, HPSv2), found in the search order of features/weights.py.

Search order: explicit path -> ``--gen-weights-dir`` (``GENQUALITY_WEIGHTS_DIR``) -> the torch hub
checkpoint folder, the same places and the same ``WeightsNotFoundError`` message as ``weights.py``.
Unlike the torch-hub files there, these are never downloaded: their publishers give no sha256 (the
names carry no hash prefix), so a download could not be verified, and the weights policy (features/weights.py) forbids unverified
or substituted weights. The error names the file, its URL and the command that puts it in place.
Ids made from these files carry the sha256 prefix of the bytes actually loaded (``weights_label``).

Kept apart from ``weights.REGISTRY`` until the 0.3 reorganisation settles where the registry lives;
the specs are ordinary ``WeightsSpec`` rows and can move there unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import settings as settings_module
from .weights import WeightsNotFoundError, WeightsSpec, explicit_hint, search_locations

LAION_AESTHETIC = WeightsSpec(
    "laion-aesthetic",
    "sac+logos+ava1-l14-linearMSE.pth",
    "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/sac%2Blogos%2Bava1-l14-linearMSE.pth",
    "LAION aesthetic predictor head (improved-aesthetic-predictor, MLP on CLIP ViT-L/14)",
    demo_stem="laion-aesthetic",
)
HPS_V2 = WeightsSpec(
    "hpsv2",
    "HPS_v2_compressed.pt",
    "https://huggingface.co/xswu/HPSv2/resolve/main/HPS_v2_compressed.pt",
    "HPSv2 (Human Preference Score v2, open_clip ViT-H-14 fine-tune)",
    demo_stem="hpsv2",
)
HPS_V2_1 = WeightsSpec(
    "hpsv2.1",
    "HPS_v2.1_compressed.pt",
    "https://huggingface.co/xswu/HPSv2/resolve/main/HPS_v2.1_compressed.pt",
    "HPSv2.1 (Human Preference Score v2.1, open_clip ViT-H-14 fine-tune)",
    demo_stem="hpsv2.1",
)
SCORE_WEIGHTS = {spec.key: spec for spec in (LAION_AESTHETIC, HPS_V2, HPS_V2_1)}


def resolve_score_weights(
    spec: WeightsSpec, explicit: str | os.PathLike | None = None, *, weights_dir: str | os.PathLike | None = None
) -> Path:
    """Path of ``spec``'s file: ``explicit`` if given (must exist), else the first search location holding it."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"weights: the file {path} given explicitly for {spec.description} does not exist; "
                f"check the path given as {explicit_hint().split()[0]}"
            )
        return path
    weights_dir = settings_module.active().weights_dir if weights_dir is None else weights_dir
    tried = search_locations(spec, weights_dir)
    for path in tried:
        if path.is_file():
            return path
    raise WeightsNotFoundError(_not_found_message(spec, tried))


def _not_found_message(spec: WeightsSpec, tried: list[Path]) -> str:
    places = "\n".join(f"    {path}" for path in tried)
    fix_dir = tried[0].parent
    return (
        f"{spec.description}: weights file {spec.filename} not found (not downloaded automatically: its "
        f"publisher gives no sha256 to verify a download against).\n"
        f"  looked in:\n{places}\n"
        f"  url: {spec.url}\n"
        f"  fix: on a machine with internet run\n"
        f"    mkdir -p {fix_dir} && curl -L -o '{fix_dir / spec.filename}' '{spec.url}'\n"
        f"  or pass the file explicitly ({explicit_hint()}) or point --gen-weights-dir / "
        f"GENQUALITY_WEIGHTS_DIR at a folder holding it."
    )
