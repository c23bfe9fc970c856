"""The custom `train_step` examples, each on its own backend (CI runs this
module on TensorFlow, JAX and PyTorch): kgt's pieces composed by hand train,
the penalty's input gradient reaches D's update, the callbacks act."""

import importlib.util
import pathlib

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
NAME = {
    "tensorflow": "custom_train_step",
    "jax": "custom_train_step_jax",
    "torch": "custom_train_step_torch",
}[keras.backend.backend()]


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location(NAME, EXAMPLES / f"{NAME}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_trains_end_to_end(example, tmp_path, capsys):
    assert example.main(["--smoke", "--out", str(tmp_path)]) == 0
    assert "mode coverage:" in capsys.readouterr().out
    generator = keras.saving.load_model(tmp_path / "generator.keras")
    assert generator.output_shape == (None, 2)


def _train(example, gamma, callbacks=()):
    keras.utils.set_random_seed(0)
    model = example.MyGAN(*example.build_networks(16))
    model.penalty = kgt.penalties.R1(gamma=gamma)
    model.compile(
        d_optimizer=keras.optimizers.SGD(0.1),
        g_optimizer=keras.optimizers.SGD(0.1),
    )
    points, _ = kgt.datasets.gaussian_ring(n=200, seed=0)
    history = model.fit(
        points, batch_size=100, epochs=2, shuffle=False, verbose=0, callbacks=callbacks
    )
    return model, history.history


def test_the_penalty_reaches_the_discriminators_update(example):
    plain, logs = _train(example, gamma=0.0)
    penalised, logs_r1 = _train(example, gamma=5.0)
    assert logs["penalty"][-1] == 0.0 and logs_r1["penalty"][-1] > 0.0
    # Same draws, same data: only R1's gradient tells the two D apart.
    moved = [
        not np.allclose(a, b)
        for a, b in zip(
            plain.discriminator.get_weights(),
            penalised.discriminator.get_weights(),
            strict=True,
        )
    ]
    assert any(moved)
    # The gradient's own norm shrinks under a strong R1.
    x = kgt.datasets.gaussian_ring(n=200, seed=0)[0]  # the training data

    def r1(model):
        return float(
            keras.ops.convert_to_numpy(
                keras.ops.stop_gradient(
                    kgt.penalties.R1(gamma=2.0)(lambda s: model.discriminator(s), x, x)
                )
            )
        )

    assert r1(penalised) < r1(plain)


def test_kgts_callbacks_act_on_the_hand_written_step(example):
    decay = kgt.callbacks.InstanceNoiseDecay(initial=0.2, final=0.0)
    model, logs = _train(example, gamma=0.1, callbacks=[decay])
    # 4 steps over the fit: the last one ran at 0.2 * (1 - 3/4).
    assert logs["noise_stddev"] == pytest.approx([0.15, 0.05], abs=1e-6)
    (layer,) = kgt.callbacks.find_instance_noise(model)
    assert float(keras.ops.convert_to_numpy(layer.stddev)) == pytest.approx(0.05)
