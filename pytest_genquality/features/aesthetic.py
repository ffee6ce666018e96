"""LAION aesthetic predictor ("improved-aesthetic-predictor", C. Schuhmann, LAION 2022).

    score(image) = MLP( e / |e| ),   e = CLIP ViT-L/14 image embedding (768-d)

The MLP is the authors' head, trained by MSE on the AVA, SAC (Simulacra Aesthetic Captions) and
LAION-Logos ratings: Linear(768, 1024) -> Dropout(0.2) -> Linear(1024, 128) -> Dropout(0.2) ->
Linear(128, 64) -> Dropout(0.1) -> Linear(64, 16) -> Linear(16, 1), no activations (so, in eval
mode, an affine map of the unit embedding), with the state-dict keys ``layers.0.weight`` ...
``layers.7.bias`` of their ``sac+logos+ava1-l14-linearMSE.pth``. Units: the ratings' 1..10 scale
(LAION-Aesthetics V2 kept images scoring >= 5, ">= 6.5" is their high-aesthetics subset); it is a
learned per-image judgement of photographic/artistic appeal, blind to the prompt, so it gates what
FID and CLIP score miss: a model that follows prompts with dull or ugly images.

The embedding is ``CLIPEmbedder``'s (transformers CLIP, ``openai/clip-vit-large-patch14``: the same
weights as the authors' OpenAI ``clip`` ViT-L/14), with its torch preprocessing: bicubic antialias
resize on uint8 where the authors' ``clip.load`` preprocess resizes a PIL image, a difference of a
few 1e-3 in the score on natural images.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from .clip import DEFAULT_CLIP_MODEL, CLIPEmbedder
from .score_weights import LAION_AESTHETIC, resolve_score_weights

AESTHETIC_EMBEDDING_DIM = 768  # CLIP ViT-L/14 projection
AESTHETIC_HIDDEN = (1024, 128, 64, 16)  # Schuhmann's MLP widths
AESTHETIC_DROPOUT = (0.2, 0.2, 0.1)  # inactive in eval mode; kept so the state-dict indices match


class AestheticHead(torch.nn.Module):
    """The authors' MLP; ``layers`` indices 0, 2, 4, 6, 7 are the Linear layers of their checkpoint."""

    def __init__(self, embedding_dim: int = AESTHETIC_EMBEDDING_DIM):
        super().__init__()
        widths = (embedding_dim, *AESTHETIC_HIDDEN)
        modules: list[torch.nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            modules.append(torch.nn.Linear(width_in, width_out))
            if index < len(AESTHETIC_DROPOUT):
                modules.append(torch.nn.Dropout(AESTHETIC_DROPOUT[index]))
        modules.append(torch.nn.Linear(widths[-1], 1))
        self.layers = torch.nn.Sequential(*modules)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """[N, embedding_dim] unit rows -> [N] scores."""
        return self.layers(embeddings).squeeze(-1)


class AestheticPredictor:
    """Per-image LAION aesthetic scores (1..10 scale), higher is better.

    weights: the head's ``sac+logos+ava1-l14-linearMSE.pth``; None searches ``--gen-weights-dir``
    and the torch hub checkpoint folder (never downloaded: no published sha256), a path loads
    that file. clip: what ``CLIPEmbedder`` takes (hub id, directory, (CLIPModel, processor) pair)
    or a ``CLIPEmbedder`` to share (the session's ``clip`` fixture when it is ViT-L/14). Its
    projection width must be the head's input width (768 for the official pair).
    ``.id`` names the head file's sha256 prefix (or random-seed-N) and the CLIP embedder's id.
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        *,
        clip: Any = DEFAULT_CLIP_MODEL,
        device: str | torch.device = "cpu",
    ):
        from .weights import weights_label

        self.weights_path = resolve_score_weights(LAION_AESTHETIC, weights)
        self.head = load_aesthetic_head(self.weights_path)
        self.embedder = clip if isinstance(clip, CLIPEmbedder) else CLIPEmbedder(clip, device=device)
        projection_dim = int(self.embedder.model.config.projection_dim)
        if projection_dim != self.head.layers[0].in_features:
            raise ValueError(
                f"clip: CLIP {self.embedder.name} embeds into {projection_dim} dimensions but the aesthetic head "
                f"{self.weights_path.name} expects {self.head.layers[0].in_features}; the official head goes with "
                f"{DEFAULT_CLIP_MODEL}"
            )
        self.id = f"laion-aesthetic:{weights_label(self.weights_path)}:{self.embedder.id}"

    @torch.no_grad()
    def score(self, images: Any) -> torch.Tensor:
        """ImageBatch or uint8 [N, 3, H, W] -> float32 [N] aesthetic scores, on CPU."""
        embeddings = self.embedder.embed_images(images)  # unit rows, as the authors' normalized()
        return self.head(embeddings).to(torch.float32)

    def __call__(self, images: Any) -> dict[str, torch.Tensor]:
        """The extractor protocol: ``{"aesthetic": score(images)}``."""
        return {"aesthetic": self.score(images)}

    def __repr__(self) -> str:
        return f"AestheticPredictor(id={self.id!r})"


def load_aesthetic_head(path: str | os.PathLike) -> AestheticHead:
    """The head of a checkpoint holding the authors' state dict (``layers.0.weight`` ... ``layers.7.bias``)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a Lightning checkpoint of the same MLP
    first = state.get("layers.0.weight") if isinstance(state, dict) else None
    if not isinstance(first, torch.Tensor) or first.ndim != 2:
        keys = sorted(state)[:4] if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"weights: {path} is not an improved-aesthetic-predictor head: expected a state dict with "
            f"'layers.0.weight' ... 'layers.7.bias', found {keys}"
        )
    head = AestheticHead(int(first.shape[1]))
    try:
        head.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"weights: {path} does not fit the aesthetic MLP (Linear {first.shape[1]}-1024-128-64-16-1): {error}"
        ) from None
    return head.eval()
