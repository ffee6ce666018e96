"""The model under test for the unconditional (DDPM) example suite.

In your repository this fixture loads your own checkpoint, e.g.

    pipe = DDPMPipeline.from_pretrained("your-org/your-ddpm-celeba-64", torch_dtype=torch.float16)

Here a tiny randomly initialised DDPM of the real architecture stands in for it, so the suite
runs offline on a CPU in seconds. Its images are noise-like, but every line of
``test_ddpm_quality.py`` runs exactly as it would against a real model.
"""

import pytest
import torch
from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel


@pytest.fixture(scope="session")
def ddpm_pipeline():
    torch.manual_seed(0)  # the stand-in's weights; a real checkpoint needs no seed
    unet = UNet2DModel(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    )
    return DDPMPipeline(unet=unet.eval(), scheduler=DDPMScheduler(num_train_timesteps=1000))
