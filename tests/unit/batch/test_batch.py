"""ImageBatch: every accepted input and every rejection of bad input."""

import numpy as np
import pytest
import torch
from PIL import Image

from pytest_genquality import ImageBatch


def rgb_uint8(n=2, h=5, w=7, seed=0):
    return torch.randint(0, 256, (n, 3, h, w), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


class TestAccepts:
    def test_torch_uint8_nchw_kept_exactly(self):
        images = rgb_uint8()
        batch = ImageBatch(images)
        assert batch.images.dtype == torch.uint8 and batch.images.shape == (2, 3, 5, 7)
        assert torch.equal(batch.images, images)

    def test_numpy_nhwc_and_hwc(self):
        images = rgb_uint8()
        nhwc = images.permute(0, 2, 3, 1).numpy()
        assert torch.equal(ImageBatch.from_any(nhwc).images, images)
        assert torch.equal(ImageBatch.from_any(nhwc[0]).images, images[:1])

    def test_pil_single_and_list(self):
        images = rgb_uint8()
        pil = [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in images]
        assert torch.equal(ImageBatch.from_any(pil).images, images)
        assert torch.equal(ImageBatch.from_any(pil[1]).images, images[1:])

    def test_grayscale_expanded_to_rgb(self):
        gray = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
        batch = ImageBatch(gray)
        assert batch.images.shape == (2, 3, 4, 4)
        assert torch.equal(batch.images[:, 0], batch.images[:, 2])
        pil = Image.fromarray(gray[0, 0].numpy(), mode="L")
        assert ImageBatch.from_any(pil).images.shape == (1, 3, 4, 4)

    def test_rgba_drops_alpha(self):
        rgba = rgb_uint8(h=3, w=3)
        rgba = torch.cat([rgba, torch.zeros(2, 1, 3, 3, dtype=torch.uint8)], dim=1)
        assert torch.equal(ImageBatch(rgba).images, rgba[:, :3])
        pil = Image.fromarray(rgba[0].permute(1, 2, 0).numpy(), mode="RGBA")
        assert torch.equal(ImageBatch.from_any(pil).images[0], rgba[0, :3])

    @pytest.mark.parametrize("value_range,low,high", [((0, 1), 0.0, 1.0), ((-1, 1), -1.0, 1.0)])
    def test_float_with_explicit_range(self, value_range, low, high):
        floats = torch.tensor([low, (low + high) / 2, high]).reshape(1, 1, 1, 3).expand(1, 3, 1, 3)
        batch = ImageBatch.from_any(floats, value_range=value_range)
        assert batch.images[0, 0, 0].tolist() == [0, 128, 255]

    def test_float_numpy_nhwc(self):
        floats = np.full((2, 4, 4, 3), 0.5, dtype=np.float32)
        assert ImageBatch.from_any(floats, value_range=(0, 1)).images.unique().tolist() == [128]

    def test_seeds_prompts_slicing_len(self):
        batch = ImageBatch(rgb_uint8(n=4), seeds=range(10, 14), prompts=list("abcd"), meta={"lane": "x"})
        assert len(batch) == 4
        part = batch[1:3]
        assert part.seeds == [11, 12] and part.prompts == ["b", "c"] and part.meta == {"lane": "x"}
        assert batch[-1].seeds == [13]
        assert batch.seed_range() == "10..13"

    def test_to_pil_and_grid(self):
        batch = ImageBatch(rgb_uint8(n=5, h=4, w=6))
        assert [im.size for im in batch.to_pil()] == [(6, 4)] * 5
        grid = batch.grid(cols=2, pad=1)
        assert grid.size == (2 * 7 + 1, 3 * 5 + 1)
        assert np.array_equal(np.asarray(grid)[1:5, 1:7], batch.images[0].permute(1, 2, 0).numpy())


class TestRejects:
    def test_float_without_range(self):
        with pytest.raises(ValueError, match=r"images: float images need an explicit value_range"):
            ImageBatch(torch.rand(1, 3, 2, 2))

    @pytest.mark.parametrize("bad", [float("nan"), float("inf")])
    def test_nan_and_inf(self, bad):
        images = torch.zeros(1, 3, 2, 2)
        images[0, 0, 0, 0] = bad
        with pytest.raises(ValueError, match="images: contains 1 NaN or infinite"):
            ImageBatch(images, value_range=(0, 1))

    def test_values_outside_range(self):
        with pytest.raises(ValueError, match=r"values span \[0, 1.5\], outside value_range=\(0, 1\)"):
            ImageBatch(torch.tensor([0.0, 1.5]).reshape(1, 1, 1, 2), value_range=(0, 1))

    def test_unknown_value_range(self):
        with pytest.raises(ValueError, match="value_range: expected one of"):
            ImageBatch(torch.rand(1, 3, 2, 2), value_range=(0, 2))

    @pytest.mark.parametrize("shape", [(2,), (1, 1, 3, 2, 2)])
    def test_wrong_rank(self, shape):
        with pytest.raises(ValueError, match="images: expected a 3-D or 4-D"):
            ImageBatch(torch.zeros(shape, dtype=torch.uint8))

    def test_wrong_channel_count(self):
        with pytest.raises(ValueError, match="expected 1 \\(grayscale\\), 3 \\(RGB\\) or 4 \\(RGBA\\) channels, got 2"):
            ImageBatch(torch.zeros(1, 2, 4, 4, dtype=torch.uint8))

    def test_a_3d_tensor_with_wrong_channels_is_reported_in_the_shape_given(self):
        with pytest.raises(
            ValueError,
            match=r"got 8 in a tensor of shape \(8, 16, 16\) \(a 3-D tensor is one CHW "
            r"image; for 8 grayscale 16x16 images add a channel axis: x\[:, None\]\)",
        ):
            ImageBatch(torch.zeros(8, 16, 16, dtype=torch.uint8))

    def test_a_numpy_hwc_image_with_wrong_channels_is_reported_in_the_shape_given(self):
        with pytest.raises(ValueError, match=r"channels last, got shape \(16, 16, 8\)"):
            ImageBatch.from_any(np.zeros((16, 16, 8), dtype=np.uint8))

    def test_numpy_channels_first_is_rejected_with_hint(self):
        with pytest.raises(ValueError, match="numpy array must be HWC/NHWC"):
            ImageBatch.from_any(np.zeros((2, 3, 8, 8), dtype=np.uint8))

    def test_empty(self):
        with pytest.raises(ValueError, match="got 0 images"):
            ImageBatch(torch.zeros(0, 3, 4, 4, dtype=torch.uint8))
        with pytest.raises(ValueError, match="empty sequence"):
            ImageBatch.from_any([])

    def test_seed_and_prompt_length_mismatch(self):
        with pytest.raises(ValueError, match="seeds: got 3 seeds for 2 images"):
            ImageBatch(rgb_uint8(), seeds=[1, 2, 3])
        with pytest.raises(ValueError, match="prompts: got 1 prompts for 2 images"):
            ImageBatch(rgb_uint8(), prompts=["a"])

    def test_seed_and_prompt_types(self):
        with pytest.raises(TypeError, match="seeds: expected ints"):
            ImageBatch(rgb_uint8(), seeds=[1, 2.5])
        with pytest.raises(TypeError, match="prompts: expected a list of strings, got a single string"):
            ImageBatch(rgb_uint8(), prompts="ab")

    def test_unsupported_types(self):
        with pytest.raises(TypeError, match="images: expected a tensor, an array or PIL images, got str"):
            ImageBatch("image.png")
        with pytest.raises(TypeError, match="expected uint8 or float pixels, got dtype torch.bool"):
            ImageBatch(torch.zeros(1, 3, 2, 2, dtype=torch.bool))

    def test_integer_pixels_out_of_range(self):
        with pytest.raises(ValueError, match=r"images: integer pixels span \[0, 300\]; expected 0..255 .*torch.int64"):
            ImageBatch(torch.tensor([0, 300]).reshape(1, 1, 1, 2))
        with pytest.raises(ValueError, match=r"images: integer pixels span \[-1, 7\]; .*value_range"):
            ImageBatch.from_any(np.array([-1, 7], dtype=np.int32).reshape(1, 1, 2, 1))


class TestIntegerPixels:
    """int64 tensors of 0..255 levels (torchmetrics' tests make images with torch.randint)."""

    def test_int64_tensor_equals_its_uint8_twin(self):
        levels = torch.randint(255, (2, 3, 5, 7), generator=torch.Generator().manual_seed(0))
        assert levels.dtype == torch.int64
        batch = ImageBatch.from_any(levels)
        assert batch.images.dtype == torch.uint8
        assert torch.equal(batch.images, levels.to(torch.uint8))

    @pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64, np.uint16])
    def test_numpy_integer_nhwc(self, dtype):
        levels = np.random.default_rng(1).integers(0, 256, size=(2, 4, 6, 3)).astype(dtype)
        batch = ImageBatch.from_any(levels)
        assert torch.equal(batch.images, torch.from_numpy(levels.astype(np.uint8)).permute(0, 3, 1, 2))

    def test_integer_mask_with_a_value_range_is_scaled(self):
        mask = torch.tensor([[0, 1], [1, 0]]).reshape(1, 1, 2, 2)
        batch = ImageBatch.from_any(mask, value_range=(0, 1))
        assert batch.images[0, :, 0, 1].tolist() == [255, 255, 255] and int(batch.images[0, 0, 0, 0]) == 0
        with pytest.raises(ValueError, match=r"values span \[0, 2\], outside value_range=\(0, 1\)"):
            ImageBatch.from_any(mask * 2, value_range=(0, 1))

    def test_metric_functions_take_int64_levels(self):
        from pytest_genquality.metrics._validate import as_image_tensor

        levels = torch.randint(256, (2, 3, 4, 4), generator=torch.Generator().manual_seed(2))
        assert torch.equal(as_image_tensor(levels, "batch"), levels.to(torch.uint8))
        with pytest.raises(ValueError, match=r"batch: integer pixels span \[0, 256\]"):
            as_image_tensor(levels.clone().fill_(256).index_fill_(0, torch.tensor([0]), 0), "batch")
        with pytest.raises(TypeError, match="batch: expected uint8 pixels 0..255, got dtype torch.float32"):
            as_image_tensor(levels.float(), "batch")

    def test_mixed_sizes(self):
        with pytest.raises(ValueError, match="PIL images have different sizes"):
            ImageBatch.from_any([Image.new("RGB", (4, 4)), Image.new("RGB", (5, 4))])

    def test_16_bit_pil(self):
        with pytest.raises(ValueError, match="images\\[0\\]: PIL image mode 'I;16' is not an 8-bit image"):
            ImageBatch.from_any([Image.new("I;16", (4, 4))])

    def test_slicing_out_of_range(self):
        batch = ImageBatch(rgb_uint8())
        with pytest.raises(IndexError):
            batch[5]
        with pytest.raises(IndexError, match="selects no images"):
            batch[3:]
