"""A tiny seeded random CLIP with a real tokenizer, built at test time (no downloads).

The tokenizer's vocabulary is every byte-level character (with and without the end-of-word
marker ``</w>``) plus a few merges, which is enough for CLIP's byte-level BPE to encode any
ASCII caption. The model is ``CLIPModel(CLIPConfig(tiny dims))`` with weights from
``torch.manual_seed(seed)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from pytest_genquality.features.clip_demo import byte_level_alphabet

IMAGE_SIZE = 32
MERGES = ["r e", "e d</w>", "c a", "a t</w>", "d o", "o g</w>", "t h", "th e</w>"]


def write_tokenizer_files(directory: Path) -> None:
    alphabet = byte_level_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet]
    tokens += ["".join(m.split()) for m in MERGES]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n", encoding="utf-8")


def tiny_clip_config(vocab_size: int):
    from transformers import CLIPConfig

    return CLIPConfig(
        text_config=dict(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=40,
            projection_dim=24,
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=IMAGE_SIZE,
            patch_size=8,
            projection_dim=24,
        ),
        projection_dim=24,
    )


def build_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """Save a random tiny CLIPModel and its CLIPProcessor into ``directory``; return it."""
    from transformers import CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    directory = Path(directory)
    write_tokenizer_files(directory)
    tokenizer = CLIPTokenizer.from_pretrained(directory)
    torch.manual_seed(seed)
    model = CLIPModel(tiny_clip_config(len(tokenizer))).eval()
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    model.save_pretrained(directory)
    return directory
