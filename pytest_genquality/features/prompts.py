"""The prompts a per-(image, prompt) score reads: given explicitly, or carried by the ImageBatch."""

from __future__ import annotations

from typing import Any, Sequence


def prompts_for(images: Any, prompts: Sequence[str] | None) -> list[str]:
    """``prompts`` as a list, or ``images.prompts`` when None; a clear error when there are none."""
    if prompts is not None:
        if isinstance(prompts, str):
            raise TypeError("prompts: expected a list of strings (one per image), got a single string")
        return list(prompts)
    batch_prompts = getattr(images, "prompts", None)
    if batch_prompts is None:
        raise ValueError(
            "prompts: none given and the images carry none; pass prompts=[...] (one per image) "
            "or an ImageBatch made with prompts"
        )
    return list(batch_prompts)
