"""The Dirac-GAN of Mescheder et al. 2018 ("Which Training Methods for GANs do
actually Converge?", sec. 2.1), built from `kgt.GAN` with one-weight networks.

Data is a point mass at 0, the generator a point mass at theta, the
discriminator D(x) = psi * x; both start at 1. The equilibrium is (0, 0).
Unregularised gradient descent does not converge to it (it circles, or for
the non-saturating loss crawls in far too slowly); with R1 it does.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_gan_tricks as kgt
from tests.nets import EachBatch


class PointMass(keras.layers.Layer):
    """A generator that ignores z and outputs its single weight theta."""

    def build(self, input_shape):
        self.theta = self.add_weight(shape=(1,), initializer="ones", name="theta")

    def call(self, z):
        return ops.ones_like(z[:, :1]) * self.theta


def train_dirac_gan(
    loss="non_saturating",
    penalty=None,
    steps=500,
    lr=0.1,
    batch_size=1,
    instance_noise=None,
    noise_layer=None,
):
    """Returns the (theta, psi) trajectory, one row per step."""
    generator = PointMass()
    psi = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    discriminator = psi if noise_layer is None else keras.Sequential([noise_layer, psi])
    gan = kgt.GAN(
        generator, discriminator, latent_dim=1, seed=0, instance_noise=instance_noise
    )
    gan.compile(
        d_optimizer=keras.optimizers.SGD(lr),
        g_optimizer=keras.optimizers.SGD(lr),
        loss=loss,
        penalty=penalty,
    )
    trajectory = []
    record = EachBatch(
        lambda batch, logs: trajectory.append(
            (float(generator.theta[0]), float(psi.kernel[0, 0]))
        )
    )
    gan.fit(
        np.zeros((steps * batch_size, 1), "float32"),
        batch_size=batch_size,
        shuffle=False,
        verbose=0,
        callbacks=[record],
    )
    return np.array(trajectory)


def radius(trajectory):
    return np.hypot(trajectory[:, 0], trajectory[:, 1])


@pytest.mark.parametrize("loss", ["minimax", "wasserstein"])
def test_unregularised_training_circles(loss):
    trajectory = train_dirac_gan(loss=loss)
    # It goes round the equilibrium (theta changes sign) at a radius that
    # stays near its starting value sqrt(2).
    assert np.any(trajectory[:, 0] < -0.5) and np.any(trajectory[:, 0] > 0.5)
    assert radius(trajectory)[-100:].min() > 1.0


def test_unregularised_non_saturating_does_not_converge():
    trajectory = train_dirac_gan()
    assert np.any(trajectory[:, 0] < 0)
    assert radius(trajectory)[-1] > 0.2


@pytest.mark.parametrize("loss", ["non_saturating", "minimax"])
def test_r1_converges_to_the_equilibrium(loss):
    trajectory = train_dirac_gan(loss=loss, penalty=kgt.penalties.R1(gamma=1.0))
    assert radius(trajectory)[-1] < 1e-3
    assert radius(trajectory)[-50:].max() < 1e-2


@pytest.mark.parametrize("form", ["gan_option", "layer"])
@pytest.mark.parametrize("loss", ["non_saturating", "minimax"])
def test_instance_noise_converges(loss, form):
    # Noise on D's inputs (sigma 0.7, averaged over a batch of 256) makes the
    # game locally convergent: the iterates settle near (0, 0), within the
    # wobble of the batch's noise, where unregularised training does not.
    kwargs = (
        {"instance_noise": 0.7}
        if form == "gan_option"
        else {"noise_layer": kgt.layers.InstanceNoise(0.7, seed=0)}
    )
    trajectory = train_dirac_gan(loss=loss, batch_size=256, **kwargs)
    assert radius(trajectory)[-100:].max() < 0.1
    without = train_dirac_gan(loss=loss, batch_size=256)
    assert radius(without)[-100:].min() > 0.2
