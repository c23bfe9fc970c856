"""Shared fixtures: tiny networks, and settings that keep the suite fast."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Tensor code is slow to trace; hypothesis's per-example deadline would flake.
settings.register_profile("kgt", deadline=None, max_examples=30, derandomize=True)
settings.load_profile("kgt")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def points():
    """A 2D toy dataset: 256 points from two Gaussians."""
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 1.0], [-1.0, -1.0]], dtype="float32")
    return (
        centres[rng.integers(0, 2, 256)] + 0.1 * rng.standard_normal((256, 2))
    ).astype("float32")


@pytest.fixture(scope="session", autouse=True)
def _classifier_cache(tmp_path_factory):
    """One digits classifier per test session, trained in a temporary cache."""
    os.environ["KGT_CACHE_DIR"] = str(tmp_path_factory.mktemp("kgt-cache"))
    yield
