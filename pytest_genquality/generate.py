"""Former home of the generation engine, kept so that `pytest_genquality.generate.seed_generators`
(documented in README) and other imports of this path keep working. The code lives in
`pytest_genquality.generation.engine`."""

from .generation.engine import expand_prompts, make_generate, seed_generators

__all__ = ["expand_prompts", "make_generate", "seed_generators"]
