"""One error hierarchy: every public error is a GenQualityError, exported from the package,
keeps its 0.2 builtin base and its 0.2 import path."""

import importlib

import pytest

import pytest_genquality
from pytest_genquality import errors

OLD_HOMES = {
    "pytest_genquality.generation.cache": ["UnhashableModelError", "CorruptCacheEntryError"],
    "pytest_genquality.generation.device": ["DeviceUnavailableError"],
    "pytest_genquality.checks.workflow": ["MetricCheckFailed", "BaselineMismatchError"],
    "pytest_genquality.checks.quality": ["QualityChecksFailed"],
    "pytest_genquality.features.lpips_net": ["LPIPSWeightsNotFoundError"],
    "pytest_genquality.features.dinov2": ["DINOv2ModelNotFoundError"],
    "pytest_genquality.features.weights": ["WeightsNotFoundError", "WeightsHashMismatchError", "RandomWeightsWarning"],
    "pytest_genquality.features.clip": ["CaptionTruncatedWarning", "CLIPModelNotFoundError"],
    "pytest_genquality.reference.image_files": ["ImageReadError"],
    "pytest_genquality.store.files": ["StoreFileError"],
    "pytest_genquality.store.layout": ["ReferenceExistsError"],
    "pytest_genquality.distributed": ["DistributedError"],
    "pytest_genquality.checks.efficiency": ["PeakMemoryNotMeasuredWarning"],
}
BUILTIN_BASES = {
    "MetricCheckFailed": AssertionError,
    "QualityChecksFailed": AssertionError,
    "ExtractorMismatchError": ValueError,
    "WeightsNotFoundError": FileNotFoundError,
    "CLIPModelNotFoundError": FileNotFoundError,
    "DINOv2ModelNotFoundError": FileNotFoundError,
    "LPIPSWeightsNotFoundError": FileNotFoundError,
    "WeightsHashMismatchError": ValueError,
    "StoreFileError": RuntimeError,
    "ReferenceExistsError": FileExistsError,
    "ImageReadError": ValueError,
    "CorruptCacheEntryError": ValueError,
    "UnhashableModelError": ValueError,
    "DeviceUnavailableError": RuntimeError,
    "DistributedError": RuntimeError,
}


def test_every_public_error_is_exported_from_the_package():
    for name in errors.__all__:
        assert getattr(pytest_genquality, name) is getattr(errors, name)
        assert name in pytest_genquality.__all__


@pytest.mark.parametrize("name,base", sorted(BUILTIN_BASES.items()))
def test_errors_keep_their_builtin_base(name, base):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.GenQualityError) and issubclass(cls, base)


@pytest.mark.parametrize("name", ["CLIPModelNotFoundError", "DINOv2ModelNotFoundError", "LPIPSWeightsNotFoundError"])
def test_model_not_found_errors_are_weights_not_found(name):
    assert issubclass(getattr(errors, name), errors.WeightsNotFoundError)


@pytest.mark.parametrize("module,names", sorted(OLD_HOMES.items()))
def test_old_import_paths_give_the_same_class(module, names):
    for name in names:
        assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_metric_check_failed_carries_its_result():
    error = errors.MetricCheckFailed("FID 31.4 is above the threshold 28.0", result="r")
    assert error.result == "r" and str(error) == "FID 31.4 is above the threshold 28.0"


def test_test_helpers_live_in_testing():
    from pytest_genquality import build_random_inception_weights, testing

    assert testing.build_random_inception_weights is build_random_inception_weights
    assert callable(testing.write_demo_clip)
