"""Tiny, seeded, random-weight diffusers pipelines for tests: no download, seconds on a CPU.

The architectures are the real ones (UNet2DModel, UNet2DConditionModel, AutoencoderKL,
CLIPTextModel) shrunk to a few thousand parameters, so every code path of the generation
adapters runs exactly as it would with a production checkpoint. The CLIP tokenizer is a real
byte-level BPE tokenizer whose vocab.json / merges.txt are written at test time: a byte
alphabet plus a handful of merges, enough to tokenize any prompt.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

TINY_IMAGE_SIZE = 32
TINY_TEXT_WIDTH = 32
TINY_MAX_TOKENS = 77  # CLIP's context length, as in Stable Diffusion: no prompt is truncated
TINY_VOCAB_SIZE = 1000  # >= the 514 byte tokens + merges + 2 specials written below
TINY_MERGES = ("t h", "th e</w>", "r e", "o n", "i n", "a n")


def _byte_alphabet() -> list[str]:
    """GPT-2/CLIP's reversible byte→unicode table (Radford et al. 2019, openai/CLIP simple_tokenizer)."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def write_clip_tokenizer_files(directory: Path) -> Path:
    """Write vocab.json and merges.txt of a small CLIP BPE tokenizer into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    alphabet = _byte_alphabet()
    tokens += alphabet + [char + "</w>" for char in alphabet]
    tokens += [merge.replace(" ", "") for merge in TINY_MERGES]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(TINY_MERGES) + "\n", encoding="utf-8")
    return directory


def tiny_clip_tokenizer(directory: Path):
    from transformers import CLIPTokenizer

    write_clip_tokenizer_files(directory)
    return CLIPTokenizer.from_pretrained(str(directory), model_max_length=TINY_MAX_TOKENS)


def tiny_unet2d(seed: int = 0):
    """An unconditional UNet2DModel, 32×32 RGB, ~0.4 M parameters."""
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=TINY_IMAGE_SIZE,
        in_channels=3,
        out_channels=3,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    ).eval()


def tiny_ddpm_pipeline(seed: int = 0):
    from diffusers import DDPMPipeline, DDPMScheduler

    return DDPMPipeline(unet=tiny_unet2d(seed), scheduler=DDPMScheduler(num_train_timesteps=1000))


def tiny_ddim_pipeline(seed: int = 0):
    from diffusers import DDIMPipeline, DDIMScheduler

    return DDIMPipeline(unet=tiny_unet2d(seed), scheduler=DDIMScheduler(num_train_timesteps=1000))


def tiny_stable_diffusion_pipeline(tokenizer_dir: Path, seed: int = 0):
    """A StableDiffusionPipeline making 32×32 images from 16×16×4 latents."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=TINY_IMAGE_SIZE // 2,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        norm_num_groups=32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TINY_TEXT_WIDTH,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=TINY_IMAGE_SIZE,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=TINY_VOCAB_SIZE,
            hidden_size=TINY_TEXT_WIDTH,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=TINY_MAX_TOKENS,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tiny_clip_tokenizer(tokenizer_dir),
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return pipe
