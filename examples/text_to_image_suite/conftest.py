"""The model under test for the text-to-image example suite.

In your repository this fixture loads your own pipeline, e.g.

    pipe = StableDiffusionPipeline.from_pretrained("your-org/your-sd-finetune", torch_dtype=torch.float16)

Here a tiny randomly initialised Stable Diffusion of the real architecture (UNet, VAE, CLIP text
encoder, a real byte-level BPE tokenizer with a small vocabulary written at session start)
stands in for it, so the suite runs offline on a CPU in seconds.
"""

import pytest
import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from demo_tokenizer import small_clip_tokenizer


@pytest.fixture(scope="session")
def t2i_pipeline(tmp_path_factory):
    torch.manual_seed(0)  # the stand-in's weights; a real checkpoint needs no seed
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        latent_channels=4,
        layers_per_block=1,
        sample_size=32,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=1000,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
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
    return StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        unet=unet.eval(),
        scheduler=scheduler,
        tokenizer=small_clip_tokenizer(tmp_path_factory.mktemp("tokenizer")),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
