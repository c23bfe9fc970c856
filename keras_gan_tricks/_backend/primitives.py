"""Per-backend primitives for components used on their own, outside a GAN
step: the step's glue (`run_step`, `minimize`, `sync_state`) stays out of
their reach.

- `input_gradient(fn, x)`: the gradient of `sum(fn(x))` with respect to
  `x`, for a penalty a user evaluates in their own `train_step` (inside a
  `kgt.GAN` step the step hands its own to the penalty);
- `seed_generator(seed, name)`: a `keras.random.SeedGenerator` whose draws
  differ between `tf.distribute` replicas on TensorFlow (plain elsewhere),
  for the GAN's stream and an instance-noise layer inside a replicated
  discriminator;
- `attribute_values(layer)`: the values of a layer's attributes, the layers
  set on it included, for saving the random streams of layers a trick holds.
"""

from keras_gan_tricks._backend import get


def seed_generator(seed=None, name=None):
    """A `keras.random.SeedGenerator` for the active backend (on TensorFlow,
    its draws differ between `tf.distribute` replicas)."""
    return get().seed_generator(seed, name=name)


def input_gradient(fn, x):
    """The gradient of `sum(fn(x))` with respect to `x`, outside a GAN step."""
    return get().input_gradient(fn, x)


def attribute_values(layer):
    """The values of `layer`'s attributes, the layers set on it included (on
    PyTorch a Keras layer is a `torch.nn.Module`, which keeps those out of
    its `__dict__`)."""
    return get().attribute_values(layer)
