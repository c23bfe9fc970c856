"""The same GAN step on TensorFlow, JAX and PyTorch.

Each backend runs in its own process (`tests/parity_step.py`): from the same
initial weights, real batch and latent vectors, one `train_on_batch` (d_steps
discriminator updates, one generator update) must give TensorFlow's losses,
weights, batch-norm statistics and step counts to float tolerance, and a
.keras file saved on one backend must load on another and give the same
samples.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.parity_step import CONFIGS

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")
OTHERS = ("jax", "torch")


def _run(backend, inputs, out, *args):
    out.mkdir(exist_ok=True)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "tests.parity_step", str(inputs), str(out), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{backend} failed:\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Trains on each backend; each loads the files saved on the others."""
    from tests.parity_step import make_inputs

    root = tmp_path_factory.mktemp("parity")
    inputs = root / "inputs.npz"
    make_inputs(inputs)
    saved = {b: root / b / f"{next(iter(CONFIGS))}.keras" for b in BACKENDS}
    _run("tensorflow", inputs, root / "tensorflow")
    _run("jax", inputs, root / "jax", "--load", str(saved["tensorflow"]))
    _run("torch", inputs, root / "torch", "--load", str(saved["jax"]))
    _run(
        "tensorflow",
        inputs,
        root / "tf_loads",
        "--no-train",
        "--load",
        str(saved["torch"]),
    )
    return root


def _result(root, backend, config):
    return dict(np.load(root / backend / f"{config}.npz"))


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("backend", OTHERS)
def test_one_step_matches_tensorflow(runs, backend, config):
    reference = _result(runs, "tensorflow", config)
    result = _result(runs, backend, config)
    assert sorted(result) == sorted(reference)
    logs = [k for k in reference if k.startswith("log_")]
    expected = {"log_d_loss", "log_g_loss", "log_d_real", "log_d_fake"}
    if CONFIGS[config]["penalty"]() is not None:
        expected.add("log_penalty")
    assert set(logs) == expected
    for key in logs:
        np.testing.assert_allclose(result[key], reference[key], rtol=1e-5, err_msg=key)
    for key in reference:
        np.testing.assert_allclose(
            result[key], reference[key], rtol=1e-4, atol=1e-6, err_msg=key
        )
    assert int(result["d_iterations"]) == CONFIGS[config]["d_steps"]
    assert int(result["g_iterations"]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
def test_the_step_moved_every_network(runs, config):
    # Parity of weights that did not change would prove nothing.
    initial = dict(np.load(runs / "inputs.npz"))
    result = _result(runs, "tensorflow", config)
    d_inputs = "d" if CONFIGS[config].get("minibatch_stddev", True) else "e"
    for prefix, saved in (("g", "g"), ("d", d_inputs)):
        before = [
            initial[k] for k in sorted(initial) if k[0] == saved and k[1:].isdigit()
        ]
        after = [result[k] for k in result if k.startswith(f"{prefix}:")]
        moved = [
            not np.allclose(a, b, atol=1e-7) for a, b in zip(after, before, strict=True)
        ]
        # Every weight of both networks moves except the discriminator's
        # MinibatchStdDev (it has none) and nothing else is frozen.
        assert all(moved), (prefix, moved)


@pytest.mark.slow
def test_keras_files_load_across_backends(runs):
    config = next(iter(CONFIGS))
    for saved_on, loaded_on in (
        ("tensorflow", "jax"),
        ("jax", "torch"),
        ("torch", "tf_loads"),
    ):
        expected = np.load(runs / saved_on / f"{config}_samples.npy")
        got = np.load(runs / loaded_on / "loaded_0.npy")
        np.testing.assert_allclose(
            got, expected, atol=1e-5, err_msg=f"{saved_on} -> {loaded_on}"
        )
