"""A tiny seeded random CLIP, saved like a hub model, for offline demos (``genquality weights demo``).

The real CLIPModel/CLIPProcessor classes with tiny dimensions (2 layers, width 32, 32 px images)
and a real byte-level BPE tokenizer with a minimal vocabulary (every byte, with and without the
end-of-word marker, plus a few merges), so any caption encodes. Its folder name says
``random-seed-N`` and CLIP ids made from it carry it: CLIP scores from it match no published value.
"""

from __future__ import annotations

import json
from pathlib import Path

IMAGE_SIZE = 32  # px
MERGES = ("t h", "th e</w>", "r e", "o n", "i n", "a n")


def demo_clip_dirname(seed: int) -> str:
    return f"clip-tiny-random-seed-{seed}"


def byte_level_alphabet() -> list[str]:
    """CLIP's (GPT-2's) reversible byte -> printable character table, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    characters, extra = [], 0
    for byte in range(256):
        if byte in printable:
            characters.append(chr(byte))
        else:
            characters.append(chr(256 + extra))
            extra += 1
    return characters


def write_demo_clip(directory: str | Path, seed: int = 0) -> Path:
    """Save the tiny CLIP (model, processor, tokenizer) into ``directory/clip-tiny-random-seed-{seed}``."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    target = Path(directory) / demo_clip_dirname(seed)
    target.mkdir(parents=True, exist_ok=True)
    alphabet = byte_level_alphabet()
    tokens = [
        *alphabet,
        *(c + "</w>" for c in alphabet),
        *("".join(m.split()) for m in MERGES),
        "<|startoftext|>",
        "<|endoftext|>",
    ]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    (target / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (target / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n", encoding="utf-8")
    tokenizer = CLIPTokenizer.from_pretrained(target, model_max_length=77)
    size = len(tokenizer)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            projection_dim=32,
            bos_token_id=size - 2,
            eos_token_id=size - 1,
            pad_token_id=size - 1,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=IMAGE_SIZE,
            patch_size=8,
            projection_dim=32,
        ),
        projection_dim=32,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config).eval()
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(target)
    model.save_pretrained(target)
    return target
