"""CLIP image and text embeddings (transformers' CLIPModel) for CLIP score and CMMD.

Image preprocessing is CLIPProcessor's, done in torch on the whole uint8 batch: bicubic resize
with antialias of the shorter edge to ``size`` (uint8 in, uint8 out, as the processor's
torchvision backend does), center crop to ``crop_size``, then ``(x / 255 - mean) / std``.
The values are read from the model's processor when there is one, so a checkpoint with a
non-default preprocessing is honoured.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from .. import settings as settings_module
from .hub import download_command, hub_unreachable_reason
from ..errors import CLIPModelNotFoundError, CaptionTruncatedWarning  # noqa: F401  (0.2 import path)

DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14"  # torchmetrics' CLIPScore default
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's published normalisation
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
EMBED_BATCH_SIZE = 32
CAPTION_SHOWN_CHARS = 120  # a long caption is named by its beginning in the truncation warning


@dataclass(frozen=True)
class CLIPImagePreprocessing:
    """What CLIPProcessor does to an image; sizes in pixels, mean/std on the 0..1 scale."""

    shortest_edge: int
    crop_height: int
    crop_width: int
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    std: tuple[float, float, float] = OPENAI_CLIP_STD

    @classmethod
    def from_processor(cls, image_processor: Any, default_size: int) -> "CLIPImagePreprocessing":
        if image_processor is None:
            return cls(default_size, default_size, default_size)
        size, crop = _as_dict(image_processor.size), _as_dict(image_processor.crop_size)
        shortest = size.get("shortest_edge") or size.get("height") or default_size
        return cls(
            shortest_edge=int(shortest),
            crop_height=int(crop.get("height") or shortest),
            crop_width=int(crop.get("width") or shortest),
            mean=tuple(float(v) for v in image_processor.image_mean),
            std=tuple(float(v) for v in image_processor.image_std),
        )

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, 3, H, W] -> float32 [N, 3, crop_height, crop_width] normalised."""
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.v2 import functional as tvF

        height, width = images.shape[-2:]
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = self.shortest_edge, int(self.shortest_edge * long / short)
        new_size = (new_long, new_short) if width <= height else (new_short, new_long)
        resized = tvF.resize(images, list(new_size), interpolation=InterpolationMode.BICUBIC, antialias=True)
        cropped = _center_crop(resized, self.crop_height, self.crop_width)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        return (cropped.to(torch.float32) - mean) / std


class CLIPEmbedder:
    """L2-normalised CLIP embeddings of images and texts.

    model: a hub id (loaded from the local Hugging Face cache; ``local_files_only`` when
    offline: ``--gen-offline``, GENQUALITY_OFFLINE or HF_HUB_OFFLINE), a local directory saved
    with ``save_pretrained``, or a ``(CLIPModel, processor_or_tokenizer)`` pair.
    ``.id`` names the model and a sha256 prefix of its weights, so embeddings of different
    checkpoints are never compared.
    """

    def __init__(self, model: Any = DEFAULT_CLIP_MODEL, *, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.name, clip_model, processor = _load(model)
        self.model = clip_model.to(self.device).eval()
        self.tokenizer = getattr(processor, "tokenizer", processor)
        if self.tokenizer is None or not callable(self.tokenizer):
            raise TypeError(
                f"model: expected a (CLIPModel, CLIPProcessor or CLIPTokenizer) pair, got a "
                f"{type(processor).__name__} as the second item"
            )
        image_processor = getattr(processor, "image_processor", None)
        self.preprocess = CLIPImagePreprocessing.from_processor(
            image_processor, int(self.model.config.vision_config.image_size)
        )
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings)
        self._id: str | None = None
        self._truncated_captions: set[str] = set()  # warned about once each

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = f"clip:{self.name}:{weights_fingerprint(self.model)}"
        return self._id

    def __call__(self, images: Any) -> dict[str, torch.Tensor]:
        """The extractor protocol: ``{"clip": embed_images(images)}``, so ``ReferenceStats.from_images(
        dir, embedder, feature="clip")`` (``genquality build-ref --extractor clip``) builds CMMD references."""
        return {"clip": self.embed_images(images)}

    @torch.no_grad()
    def embed_images(self, batch: Any) -> torch.Tensor:
        """ImageBatch or uint8 [N, 3, H, W] -> float32 [N, projection_dim], unit rows, on CPU."""
        from ..metrics.validation import as_image_tensor

        images = as_image_tensor(batch, "batch")
        rows = []
        for start in range(0, len(images), EMBED_BATCH_SIZE):
            pixels = self.preprocess(images[start : start + EMBED_BATCH_SIZE]).to(self.device)
            rows.append(_projected(self.model.get_image_features(pixel_values=pixels)))
        return _unit_rows(torch.cat(rows))

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """list of N captions -> float32 [N, projection_dim], unit rows, on CPU.

        Captions longer than the model's context (77 tokens for OpenAI CLIP) are truncated by the
        tokenizer, which keeps the end-of-text token the text embedding is pooled at (torchmetrics
        cuts it off); a ``CaptionTruncatedWarning`` names each such caption once per embedder.
        """
        texts = _check_texts(texts)
        self._warn_about_long_captions(texts)
        rows = []
        for start in range(0, len(texts), EMBED_BATCH_SIZE):
            tokens = self.tokenizer(
                list(texts[start : start + EMBED_BATCH_SIZE]),
                padding=True,
                truncation=True,
                max_length=self.max_text_tokens,
                return_tensors="pt",
            )
            rows.append(
                _projected(
                    self.model.get_text_features(
                        input_ids=tokens["input_ids"].to(self.device),
                        attention_mask=tokens["attention_mask"].to(self.device),
                    )
                )
            )
        return _unit_rows(torch.cat(rows))

    def _warn_about_long_captions(self, texts: list[str]) -> None:
        """One warning per caption that does not fit, naming it: its score ignores the end of it."""
        fresh = [text for text in dict.fromkeys(texts) if text not in self._truncated_captions]
        if not fresh:
            return
        token_ids = self.tokenizer(fresh, padding=False, truncation=False, verbose=False)["input_ids"]
        for text, ids in zip(fresh, token_ids):
            if len(ids) <= self.max_text_tokens:
                continue
            self._truncated_captions.add(text)
            shown = text if len(text) <= CAPTION_SHOWN_CHARS else text[:CAPTION_SHOWN_CHARS] + "…"
            kept = self.max_text_tokens - 2  # start- and end-of-text tokens take two places
            warnings.warn(
                f"caption {shown!r} is {len(ids) - 2} tokens long, more than the {kept} that fit in the "
                f"{self.max_text_tokens}-token context of CLIP {self.name}: only its first {kept} tokens are "
                "embedded (with the end-of-text token); shorten it so its CLIP score reflects all of it",
                CaptionTruncatedWarning,
                stacklevel=3,
            )

    def __repr__(self) -> str:
        return f"CLIPEmbedder({self.name!r}, device={str(self.device)!r})"


def weights_fingerprint(model: torch.nn.Module) -> str:
    """sha256 prefix (12 hex) over the names, shapes, dtypes and bytes of the state dict."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:12]


def _load(model: Any) -> tuple[str, Any, Any]:
    """(name, CLIPModel, processor or tokenizer) from a pair, a directory or a hub id."""
    if isinstance(model, (tuple, list)):
        if len(model) != 2:
            raise TypeError(f"model: expected a (CLIPModel, processor_or_tokenizer) pair, got {len(model)} items")
        clip_model, processor = model
        if not hasattr(clip_model, "get_image_features") or not hasattr(clip_model, "get_text_features"):
            raise TypeError(
                f"model: the first item should be a transformers CLIPModel, got {type(clip_model).__name__}"
            )
        name = getattr(clip_model.config, "_name_or_path", "") or type(clip_model).__name__
        return Path(name).name if os.path.isdir(name) else name, clip_model, processor
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            f"model: expected a hub id, a directory or a (CLIPModel, processor) pair, got {type(model).__name__}"
        )

    from transformers import CLIPModel, CLIPProcessor

    path = Path(model).expanduser()
    if path.is_dir():
        return path.name, CLIPModel.from_pretrained(path), CLIPProcessor.from_pretrained(path)
    model_id = os.fspath(model)
    offline = settings_module.active().offline or settings_module.env_flag("HF_HUB_OFFLINE")
    try:  # the local cache first: no network at all when the model is there
        return model_id, *_from_pretrained(model_id, local_files_only=True)
    except OSError:
        pass
    demo = find_demo_clip() if model_id == DEFAULT_CLIP_MODEL else None
    if demo is not None:
        return demo.name, CLIPModel.from_pretrained(demo), CLIPProcessor.from_pretrained(demo)
    if offline:
        raise CLIPModelNotFoundError(_not_found_message(model_id, "offline mode forbids downloads")) from None
    unreachable = hub_unreachable_reason()  # seconds, where the hub client's retries take ~23 s
    if unreachable:
        raise CLIPModelNotFoundError(_not_found_message(model_id, unreachable)) from None
    try:  # one download attempt
        return model_id, *_from_pretrained(model_id, local_files_only=False)
    except OSError as error:
        # from None: the reason is in the message, the hub client's chained frames are noise
        raise CLIPModelNotFoundError(_not_found_message(model_id, f"download failed: {error}")) from None


def find_demo_clip() -> Path | None:
    """The one tiny random CLIP (``genquality weights demo``) in ``--gen-weights-dir``, or None.

    Stands in for the default model only, only when that is not in the HF cache, and warns.
    """
    import warnings

    from .weights import RandomWeightsWarning

    weights_dir = settings_module.active().weights_dir
    found = sorted(p for p in Path(weights_dir).glob("clip-tiny-random-seed-*") if p.is_dir()) if weights_dir else []
    if len(found) != 1:
        return None
    warnings.warn(
        f"CLIP {DEFAULT_CLIP_MODEL} is not in the Hugging Face cache; using the tiny random stand-in "
        f"{found[0]}: its CLIP scores match no published value",
        RandomWeightsWarning,
        stacklevel=4,
    )
    return found[0]


def _from_pretrained(model_id: str, *, local_files_only: bool) -> tuple[Any, Any]:
    from transformers import CLIPModel, CLIPProcessor

    return (
        CLIPModel.from_pretrained(model_id, local_files_only=local_files_only),
        CLIPProcessor.from_pretrained(model_id, local_files_only=local_files_only),
    )


def _not_found_message(model_id: str, reason: str) -> str:
    from huggingface_hub import constants

    return (
        f"model: CLIP model {model_id!r} is not a local directory and is not in the Hugging Face cache "
        f"({reason}).\n"
        f"  cache searched: {constants.HF_HUB_CACHE}\n"
        f"  fix: on a machine with internet run\n"
        f"    {download_command(model_id)}\n"
        f"  (with HF_HOME / HF_HUB_CACHE pointing at the cache this machine reads; `genquality weights fetch` "
        f"does the same for every file), or pass a directory saved with save_pretrained, or a "
        f"(CLIPModel, CLIPProcessor) pair."
    )


def _as_dict(size: Any) -> dict:
    if size is None:
        return {}
    if isinstance(size, dict):
        return size
    return {key: getattr(size, key, None) for key in ("shortest_edge", "height", "width")}


def _center_crop(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """CLIPProcessor's center crop (zero padding first when the image is smaller than the crop)."""
    image_height, image_width = images.shape[-2:]
    if height > image_height or width > image_width:
        pad_left = (width - image_width) // 2 if width > image_width else 0
        pad_top = (height - image_height) // 2 if height > image_height else 0
        pad_right = (width - image_width + 1) // 2 if width > image_width else 0
        pad_bottom = (height - image_height + 1) // 2 if height > image_height else 0
        images = torch.nn.functional.pad(images, (pad_left, pad_right, pad_top, pad_bottom))
        image_height, image_width = images.shape[-2:]
    top = int((image_height - height) / 2.0)
    left = int((image_width - width) / 2.0)
    return images[..., top : top + height, left : left + width]


def _projected(output: Any) -> torch.Tensor:
    """transformers < 5 returns the projected tensor; 5.x a ModelOutput holding it as pooler_output."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _unit_rows(embeddings: torch.Tensor) -> torch.Tensor:
    embeddings = embeddings.to("cpu", torch.float32)
    return embeddings / embeddings.norm(dim=-1, keepdim=True)


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of strings, got a single string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts: got an empty list; expected at least one caption")
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"texts: expected strings, got {text!r} ({type(text).__name__})")
    return texts
