"""DINOv2 image embeddings (transformers' Dinov2Model) for FD_DINOv2, KID and precision/recall.

Stein et al. 2023 ("Exposing flaws of generative model evaluation metrics and their unfair
treatment of diffusion models") found Inception features blind to much of what people see in
modern generated images, and recommend the Frechet distance in the space of DINOv2 ViT-L/14
(FD_DINOv2). Their code, layer6ai-labs/dgm-eval, defines the features; this module reproduces
``dgm_eval/models/dinov2.py`` (``DINOv2Encoder.transform``, default ``clean_resize=False``):

- resize every image to 224 x 224 with torchvision's ``Resize((224, 224), BICUBIC)`` on a PIL RGB
  image, i.e. PIL's bicubic (antialiased when downsampling, uint8 in and out); aspect ratio is
  not kept and nothing is cropped;
- ``ToTensor`` (x / 255) and ``Normalize`` with the ImageNet mean and std;
- the embedding is the model's output: the CLS token after the final layer norm (the torch hub
  model's ``x_norm_clstoken``, transformers' ``pooler_output``), 1024-d for ViT-L/14.

This is not the Hugging Face processor of facebook/dinov2-large (shortest edge 256, centre crop
224), whose features would be a different quantity. The resize runs on the CPU through PIL, as
in dgm-eval, so the pixels equal theirs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .. import settings as settings_module
from .clip import weights_fingerprint
from ..errors import DINOv2ModelNotFoundError  # noqa: F401  (0.2 import path)

DEFAULT_DINOV2_MODEL = "facebook/dinov2-large"  # ViT-L/14, dgm-eval's default ("vitl14")
DINOV2_INPUT_SIZE = 224  # dgm-eval's Resize((224, 224))
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # dgm-eval's normalisation (torchvision's ImageNet values)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSING = "dgm-eval"  # part of the id: features under another preprocessing are another quantity
EMBED_BATCH_SIZE = 32


def dgm_eval_pixels(images: torch.Tensor, size: int = DINOV2_INPUT_SIZE) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> float32 [N, 3, size, size], dgm-eval's DINOv2 input (see module docstring)."""
    from PIL import Image

    from .resize import check_uint8_images

    pixels = check_uint8_images(images).cpu().permute(0, 2, 3, 1).numpy()
    resized = np.stack(
        [
            np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((size, size), Image.Resampling.BICUBIC))
            for image in pixels
        ]
    )
    unit = torch.from_numpy(resized).permute(0, 3, 1, 2).to(torch.float32) / 255
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (unit - mean) / std


class DINOv2Embedder:
    """DINOv2 CLS embeddings of uint8 images: ``{"pool": [N, hidden_size]}`` float32 on the CPU.

    The key is ``"pool"``, the protocol's name for the features FID, KID and precision/recall
    read, so ``assert_fid_below(batch, ref, t, extractor=DINOv2Embedder())`` and
    ``ReferenceStats.from_images(dir, DINOv2Embedder())`` work as with ``InceptionFID``.

    model: a hub id (loaded from the local Hugging Face cache; ``local_files_only`` when offline:
    ``--gen-offline``, GENQUALITY_OFFLINE or HF_HUB_OFFLINE), a directory saved with
    ``save_pretrained``, or a transformers ``Dinov2Model``.
    ``.id`` is ``dinov2:<name>:<sha256 prefix of the weights>/dgm-eval``.
    """

    def __init__(
        self,
        model: Any = DEFAULT_DINOV2_MODEL,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = EMBED_BATCH_SIZE,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.name, network = _load(model)
        self.model = network.to(self.device).eval()
        self.model.requires_grad_(False)
        self.feature_dims = {"pool": int(self.model.config.hidden_size)}
        self._id: str | None = None

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = f"dinov2:{self.name}:{weights_fingerprint(self.model)}/{PREPROCESSING}"
        return self._id

    def __repr__(self) -> str:
        return f"DINOv2Embedder({self.name!r}, device={str(self.device)!r})"

    def __call__(self, images: Any) -> dict[str, torch.Tensor]:
        """ImageBatch or uint8 [N, 3, H, W] -> {"pool": float32 [N, hidden_size]} on the CPU."""
        from ..metrics.validation import as_image_tensor

        images = as_image_tensor(images, "images")
        return {"pool": torch.cat(list(self._embed_batches(images)))}

    @torch.inference_mode()
    def _embed_batches(self, images: torch.Tensor) -> Iterator[torch.Tensor]:
        for start in range(0, len(images), self.batch_size):
            pixels = dgm_eval_pixels(images[start : start + self.batch_size]).to(self.device)
            output = self.model(pixel_values=pixels)
            yield output.pooler_output.to("cpu", torch.float32)


def _load(model: Any) -> tuple[str, Any]:
    """(name, Dinov2Model) from a model object, a directory or a hub id."""
    if isinstance(model, torch.nn.Module):
        if getattr(getattr(model, "config", None), "model_type", None) != "dinov2":
            raise TypeError(f"model: expected a transformers Dinov2Model, got {type(model).__name__}")
        name = getattr(model.config, "_name_or_path", "") or type(model).__name__
        return Path(name).name if os.path.isdir(name) else name, model
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model: expected a hub id, a directory or a Dinov2Model, got {type(model).__name__}")

    from transformers import Dinov2Model

    path = Path(model).expanduser()
    if path.is_dir():
        return path.name, Dinov2Model.from_pretrained(path)
    model_id = os.fspath(model)
    offline = settings_module.active().offline or settings_module.env_flag("HF_HUB_OFFLINE")
    try:
        return model_id, Dinov2Model.from_pretrained(model_id, local_files_only=offline)
    except OSError as error:
        raise DINOv2ModelNotFoundError(_not_found_message(model_id, offline, error)) from error


def _not_found_message(model_id: str, offline: bool, error: Exception) -> str:
    from huggingface_hub import constants

    reason = "offline mode forbids downloads" if offline else f"loading failed: {type(error).__name__}"
    return (
        f"model: DINOv2 model {model_id!r} is not a local directory and is not in the Hugging Face cache "
        f"({reason}).\n"
        f"  cache searched: {constants.HF_HUB_CACHE}\n"
        f"  fix: on a machine with internet run\n"
        f"    huggingface-cli download {model_id}\n"
        f"  (with HF_HOME / HF_HUB_CACHE pointing at the cache this machine reads), or pass a directory "
        f"saved with save_pretrained, or a Dinov2Model."
    )
