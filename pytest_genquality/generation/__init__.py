"""Fixed-seed generation: the `generate` engine and its adapters (`engine`), the image cache
(`cache`), device resolution and determinism (`device`), and the progress bar (`progress`)."""
