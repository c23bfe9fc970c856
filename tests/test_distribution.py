"""Distributed training with the engines users already know: one step on two
devices matches one step on one device on the same global batch."""

import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_step(backend, out, **env):
    result = subprocess.run(
        [sys.executable, "-m", "tests.distributed_step", os.fspath(out)],
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": backend, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return np.load(out)


def assert_runs_match(arrays):
    single = sorted(k for k in arrays.files if k.startswith("single/"))
    assert len(single) > 10
    for key in single:
        other = "distributed/" + key.removeprefix("single/")
        # atol: sums in another order round differently, and Adam's
        # normalisation scales that up in weights with tiny gradients.
        # A wrong reduction (summed, not averaged, gradients; one replica's
        # loss) moves weights by ~1e-2, the learning rate.
        np.testing.assert_allclose(
            arrays[other], arrays[key], rtol=1e-5, atol=2e-5, err_msg=key
        )
    # The step trained (the comparison is not of two untouched models): the
    # discriminator's output bias starts at zero.
    last = max(int(k.rsplit("/", 1)[1]) for k in single if "/var/" in k)
    assert np.abs(arrays[f"single/var/{last}"]).max() > 1e-3


@pytest.mark.slow
def test_mirrored_strategy_step_matches_one_device(tmp_path):
    """tf.distribute.MirroredStrategy over two logical CPUs: losses averaged
    over the global batch, R1 and one-sided smoothing per replica; logs and
    weights match one device given the same latents."""
    pytest.importorskip("tensorflow")
    arrays = run_step("tensorflow", tmp_path / "tf.npz")
    assert_runs_match(arrays)
    # Left to draw, the replicas draw different latent vectors.
    latents = np.load(tmp_path / "tf_replica_latents.npy")
    assert latents.shape == (2, 16, 4)
    assert not np.allclose(latents[0], latents[1])


@pytest.mark.slow
def test_jax_data_parallel_step_matches_one_device(tmp_path):
    """keras.distribution.DataParallel over two host devices: batch norm,
    label noise and R1 included, the sharded step is the single-device one."""
    pytest.importorskip("jax")
    arrays = run_step(
        "jax",
        tmp_path / "jax.npz",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    assert_runs_match(arrays)
