"""HPSv2 (Wu et al. 2023, "Human Preference Score v2: A Solid Benchmark for Evaluating Human Preferences
of Text-to-Image Synthesis"): an open_clip ViT-H-14 fine-tuned on 798k human choices (HPD v2).

    HPS(image, prompt) = 100 · cos(E_img(image), E_txt(prompt))

the scale of the authors' benchmark (``hpsv2/evaluation.py``: ``image_features @ text_features.T * 100``,
features L2-normalised by ``encode_*(normalize=True)``), where their published model rankings
read ~25-29; ``hpsv2.score()`` returns the same cosine without the factor 100 (0.25-0.29). The
logit scale is not applied. It predicts which image people prefer for a prompt, so it rewards
appeal and prompt fidelity together; v2.0 and v2.1 checkpoints give different numbers and are
never comparable (the version is in ``.id``).

Preprocessing is the package's ``preprocess_val`` (``light_augmentation=True``): pixels to 0..1
float, ``ResizeMaxSize``: bicubic resize of the *longest* side to 224 (sizes rounded), zero padding
to 224 × 224 (no crop: the whole image is seen), then CLIP's mean/std. The resize is torchvision's
tensor ``resize`` with antialias, which is what ``pip install hpsv2`` runs with torchvision >= 0.17
(older torchvision did not antialias tensors, a difference of ~1e-3 in a score on large images).
The model runs in float32 (the package uses CUDA autocast, fp16).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Sequence

import torch

from ..metrics.validation import as_image_tensor
from .clip import _check_texts
from .prompts import prompts_for
from .score_weights import HPS_V2, HPS_V2_1, resolve_score_weights

HPS_ARCHITECTURE = "ViT-H-14"  # open_clip name, as hpsv2.img_score.initialize_model builds it
HPS_SCALE = 100.0  # hpsv2/evaluation.py's benchmark scale
HPS_VERSIONS = {"v2.0": HPS_V2, "v2.1": HPS_V2_1}
HPS_RESIZE_ANTIALIAS = True  # torchvision >= 0.17 tensor default, as hpsv2 runs today
EMBED_BATCH_SIZE = 16
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # open_clip's OPENAI_DATASET_MEAN
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class HPSv2:
    """Per (image, prompt) Human Preference Score v2, 100 × cosine, higher is better.

    weights: the authors' checkpoint (``HPS_v2_compressed.pt`` or ``HPS_v2.1_compressed.pt``, a dict
    with ``state_dict``, or a plain state dict); None searches ``--gen-weights-dir`` and the torch hub
    checkpoint folder for the file of ``version`` (never downloaded: no published sha256).
    version: "v2.0" (``hpsv2.score``'s default) or "v2.1". architecture: an open_clip model name
    (``ViT-H-14``) or an open_clip model config dict (``embed_dim``, ``vision_cfg``, ``text_cfg``;
    tests use tiny ones). Needs the ``open-clip-torch`` package (``pip install
    pytest-genquality[hps]``); the ``hpsv2`` package itself is not needed.
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        *,
        version: str = "v2.0",
        architecture: str | dict = HPS_ARCHITECTURE,
        device: str | torch.device = "cpu",
    ):
        if version not in HPS_VERSIONS:
            raise ValueError(f"version: expected one of {sorted(HPS_VERSIONS)}, got {version!r}")
        open_clip = _import_open_clip()
        self.device = torch.device(device)
        self.version = version
        self.weights_path = resolve_score_weights(HPS_VERSIONS[version], weights)
        config, architecture_name = _model_config(open_clip, architecture)
        model = open_clip.CLIP(**config)
        try:
            model.load_state_dict(_state_dict(self.weights_path), strict=True)
        except RuntimeError as error:
            raise ValueError(
                f"weights: {self.weights_path} does not fit the open_clip {architecture_name} "
                f"architecture: {str(error)[:600]}"
            ) from None
        self.model = model.to(self.device).eval()
        self.image_size = _square_size(self.model.visual.image_size)
        context_length = int(config.get("text_cfg", {}).get("context_length", 77))
        self.tokenizer = (
            open_clip.get_tokenizer(architecture)
            if isinstance(architecture, str)
            else open_clip.SimpleTokenizer(context_length=context_length)
        )
        self.id = f"hps{version}:{_weights_label(self.weights_path, self.model)}:{architecture_name}"

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, 3, H, W] -> float32 [N, 3, S, S]: hpsv2's ToTensor, ResizeMaxSize(S, fill 0), Normalize."""
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.v2 import functional as tvF

        pixels = images.to(torch.float32) / 255.0
        height, width = pixels.shape[-2:]
        scale = self.image_size / float(max(height, width))
        if scale != 1.0:
            new_height, new_width = round(height * scale), round(width * scale)
            pixels = tvF.resize(
                pixels, [new_height, new_width], interpolation=InterpolationMode.BICUBIC, antialias=HPS_RESIZE_ANTIALIAS
            )
            pad_height, pad_width = self.image_size - new_height, self.image_size - new_width
            pixels = torch.nn.functional.pad(
                pixels, (pad_width // 2, pad_width - pad_width // 2, pad_height // 2, pad_height - pad_height // 2)
            )
        mean = torch.tensor(OPENAI_CLIP_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(OPENAI_CLIP_STD, dtype=torch.float32).view(1, 3, 1, 1)
        return (pixels - mean) / std

    @torch.no_grad()
    def score(self, images: Any, prompts: Sequence[str] | None = None) -> torch.Tensor:
        """ImageBatch or uint8 [N, 3, H, W] and N prompts -> float32 [N] HPS (100 × cosine), on CPU.

        prompts: one per image; None takes ``images.prompts`` from an ImageBatch. Prompts longer than
        the 77-token context are cut as hpsv2's tokenizer cuts them.
        """
        prompts = _check_texts(prompts_for(images, prompts))
        pixels = as_image_tensor(images, "images")
        if len(prompts) != len(pixels):
            raise ValueError(f"prompts: got {len(prompts)} prompts for {len(pixels)} images; expected one per image")
        scores = []
        for start in range(0, len(pixels), EMBED_BATCH_SIZE):
            image_rows = self.model.encode_image(
                self.preprocess(pixels[start : start + EMBED_BATCH_SIZE]).to(self.device), normalize=True
            )
            text_rows = self.model.encode_text(
                self.tokenizer(prompts[start : start + EMBED_BATCH_SIZE]).to(self.device), normalize=True
            )
            scores.append(HPS_SCALE * (image_rows.float() * text_rows.float()).sum(dim=1))
        return torch.cat(scores).to("cpu", torch.float32)

    def __repr__(self) -> str:
        return f"HPSv2(id={self.id!r}, device={str(self.device)!r})"


def _weights_label(path: os.PathLike, model: torch.nn.Module) -> str:
    """``weights_label``'s convention for a nested checkpoint: file sha256 prefix, or random-seed-N + content hash."""
    from .weights import file_sha256
    from .clip import weights_fingerprint

    random_match = re.search(r"random-seed-(\d+)", os.path.basename(os.fspath(path)))
    if random_match:
        return f"random-seed-{random_match.group(1)}-{weights_fingerprint(model)}"
    return file_sha256(path)[:12]


def _import_open_clip():
    try:
        import open_clip
    except ImportError:
        raise ImportError(
            "HPSv2 needs the open-clip-torch package: pip install open-clip-torch (or pytest-genquality[hps])"
        ) from None
    return open_clip


def _model_config(open_clip: Any, architecture: Any) -> tuple[dict, str]:
    """(open_clip CLIP kwargs, a name for the id): a registered name, or a dict named by its hash."""
    if isinstance(architecture, str):
        config = open_clip.get_model_config(architecture)
        if config is None:
            raise ValueError(
                f"architecture: {architecture!r} is not an open_clip model name "
                f"(expected e.g. {HPS_ARCHITECTURE!r}, or a config dict)"
            )
        return dict(config), architecture
    if isinstance(architecture, dict) and {"embed_dim", "vision_cfg", "text_cfg"} <= set(architecture):
        digest = hashlib.sha256(json.dumps(architecture, sort_keys=True).encode()).hexdigest()[:12]
        return dict(architecture), f"open_clip-config-{digest}"
    raise TypeError(
        f"architecture: expected an open_clip model name or a config dict with embed_dim, "
        f"vision_cfg and text_cfg, got {architecture!r}"
    )


def _state_dict(path: os.PathLike) -> dict:
    """The model's tensors from an HPS checkpoint ({'state_dict': ...}, DDP 'module.' prefixes dropped)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(
            f"weights: {path} holds no state dict (expected the HPSv2 checkpoint, a dict with 'state_dict')"
        )
    return {name[len("module.") :] if name.startswith("module.") else name: tensor for name, tensor in state.items()}


def _square_size(image_size: Any) -> int:
    if isinstance(image_size, (tuple, list)):
        if image_size[0] != image_size[1]:
            raise ValueError(f"architecture: HPSv2 preprocessing pads to a square; got image size {tuple(image_size)}")
        return int(image_size[0])
    return int(image_size)
