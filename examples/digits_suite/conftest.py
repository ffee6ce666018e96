"""The model under test, its sampler and the domain extractor of the digits suite.

In your repository the first fixture is one line, ``DDIMPipeline.from_pretrained("your-org/...")``;
here it loads the small DDPM that ``train.py`` trained on 1 297 real digits (weights/ddim/).

The quality tests measure digits with digits features: ``digit_features`` is a classifier
trained on the same training split (digit_classifier.py), and the ``inception`` fixture is
overridden with it, so every assertion of this folder that is not given ``extractor=`` uses it
too. That is the whole recipe for a team with its own domain: wrap a network that knows your
images in an object with ``.id`` and ``__call__(batch) -> {"pool": rows}``, override
``inception`` in your conftest, and build the reference statistics with it.

``--digits-variant`` (an option of examples/conftest.py) swaps in one of the realistic
regressions of digits_variants.py, so you can watch the suite catch it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from digit_classifier import DigitFeatures  # noqa: E402
from digits_variants import load_variant  # noqa: E402

from pytest_genquality.plugin import ReferenceMapping  # noqa: E402


@pytest.fixture(scope="session")
def digits_variant(pytestconfig) -> str:
    return pytestconfig.getoption("--digits-variant")


@pytest.fixture(scope="session")
def digits_model_and_sampling(digits_variant):
    return load_variant(digits_variant)


@pytest.fixture(scope="session")
def digits_model(digits_model_and_sampling):
    """What ``generate`` drives: the DDIM pipeline (for ``seed-reuse``, a callable around it)."""
    return digits_model_and_sampling[0]


@pytest.fixture(scope="session")
def digits_sampling(digits_model_and_sampling) -> dict:
    """Sampler settings passed to the model: the step count is part of what the suite guards."""
    return digits_model_and_sampling[1]


@pytest.fixture(scope="session")
def digit_features(gen_device) -> DigitFeatures:
    return DigitFeatures(device=gen_device)


@pytest.fixture(scope="session")
def inception(digit_features):
    """The session's default extractor is the domain one (the plugin's fixture of this name is the FID Inception)."""
    return digit_features


@pytest.fixture(scope="session")
def gen_refs(gen_store):
    """The plugin's mapping of the committed references (examples/.genquality/refs/), unchanged."""
    return ReferenceMapping(gen_store)
