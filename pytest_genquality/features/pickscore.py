"""PickScore (Kirstain et al. 2023, "Pick-a-Pic: An Open Dataset of User Preferences for Text-to-Image
Generation"): a CLIP ViT-H/14 fine-tuned on human choices between images for one prompt.

    score(image, prompt) = exp(logit_scale) · cos(E_img(image), E_txt(prompt))

exactly the authors' README (``model.logit_scale.exp() * (text_embs @ image_embs.T)``, embeddings
L2-normalised), with ``yuvalkirstain/PickScore_v1`` as a transformers ``CLIPModel`` and the
processor of ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K`` as they load it. Units: CLIP logits; with the
released model's logit scale (about 100) a score is about 100 × a cosine, typically ~18-24 for
Pick-a-Pic images. It predicts which image of a prompt people prefer, so unlike CLIP score it rewards
appeal as well as prompt fidelity; a difference of scores is a log-odds of preference
(softmax over candidates gives the preference probabilities the authors show).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch

from .. import settings as settings_module
from .hub import hub_unreachable_reason
from .clip import CLIPEmbedder, CLIPModelNotFoundError, _not_found_message
from .prompts import prompts_for

PICKSCORE_MODEL = "yuvalkirstain/PickScore_v1"  # Kirstain et al. 2023, the released checkpoint
PICKSCORE_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"  # the processor their README loads with it
AUTO = "auto"


class PickScore:
    """Per (image, prompt) PickScore, higher is better.

    model: a hub id (from the local Hugging Face cache; offline honoured, as ``CLIPEmbedder``), a
    directory saved with ``save_pretrained``, a ``(CLIPModel, processor_or_tokenizer)`` pair, or a
    ``CLIPEmbedder``. processor: where the image/text processing comes from when ``model`` is a hub
    id or a directory: ``"auto"`` (default) takes the laion ViT-H/14 processor for the released
    PickScore_v1, as the authors do, and the model's own otherwise; a hub id, a directory or a
    ``CLIPProcessor`` names one; None takes the model's own.
    ``.id`` is the embedder's (model name and weights sha256 prefix) under ``pickscore:``.
    """

    def __init__(self, model: Any = PICKSCORE_MODEL, *, processor: Any = AUTO, device: str | torch.device = "cpu"):
        if processor not in (AUTO, None) and not isinstance(model, (str, os.PathLike)):
            raise TypeError(
                f"processor: only used with a hub id or a directory as model; a {type(model).__name__} "
                "brings its own (pass a (CLIPModel, processor) pair instead)"
            )
        if isinstance(model, CLIPEmbedder):
            self.embedder = model
        else:
            if processor == AUTO:
                processor = PICKSCORE_PROCESSOR if model == PICKSCORE_MODEL else None
            if processor is not None and isinstance(model, (str, os.PathLike)):
                from transformers import CLIPModel, CLIPProcessor

                clip_model = _from_cache_or_dir(CLIPModel, model)
                if isinstance(processor, (str, os.PathLike)):
                    processor = _from_cache_or_dir(CLIPProcessor, processor, argument="processor")
                model = (clip_model, processor)
            self.embedder = CLIPEmbedder(model, device=device)
        self.id = f"pickscore:{self.embedder.id}"

    @torch.no_grad()
    def score(self, images: Any, prompts: Sequence[str] | None = None) -> torch.Tensor:
        """ImageBatch or uint8 [N, 3, H, W] and N prompts -> float32 [N] PickScores, on CPU.

        prompts: one per image; None takes ``images.prompts`` from an ImageBatch.
        """
        prompts = prompts_for(images, prompts)
        image_rows = self.embedder.embed_images(images)
        if len(prompts) != len(image_rows):
            raise ValueError(
                f"prompts: got {len(prompts)} prompts for {len(image_rows)} images; expected one per image"
            )
        text_rows = self.embedder.embed_texts(prompts)
        scale = self.embedder.model.logit_scale.detach().to("cpu", torch.float32).exp()
        return scale * (image_rows * text_rows).sum(dim=1)

    def __repr__(self) -> str:
        return f"PickScore(id={self.id!r})"


def _from_cache_or_dir(cls: Any, name: Any, *, argument: str = "model") -> Any:
    """``cls.from_pretrained`` on a directory, else the HF cache first, downloading only when allowed."""
    path = Path(name).expanduser()
    if path.is_dir():
        return cls.from_pretrained(path)
    model_id = os.fspath(name)
    try:
        return cls.from_pretrained(model_id, local_files_only=True)
    except OSError:
        pass

    def not_found(reason: str) -> CLIPModelNotFoundError:
        message = _not_found_message(model_id, reason)
        if argument != "model":  # clip.py's message speaks of the model argument
            message = message.replace("model: CLIP model", f"{argument}: CLIP processor", 1)
        return CLIPModelNotFoundError(message)

    offline = settings_module.active().offline or settings_module.env_flag("HF_HUB_OFFLINE")
    if offline:
        raise not_found("offline mode forbids downloads") from None
    unreachable = hub_unreachable_reason()
    if unreachable:
        raise not_found(unreachable) from None
    try:
        return cls.from_pretrained(model_id, local_files_only=False)
    except OSError as error:
        raise not_found(f"download failed: {error}") from None
