"""Per-backend glue: the only code that takes and applies gradients.

Each backend module provides:

- `run_step(model, step, args, with_optimizer)`: runs `step(data)` for the
  trainer's `train_step(*args)`/`test_step(*args)`: `args` is `(data,)` on
  TensorFlow and PyTorch, `(state, data)` on JAX (which also returns the new
  state);
- `minimize(loss_fn, variables, optimizer)`: calls `loss_fn()`, which returns
  `(loss, aux)`, differentiates `loss` with respect to `variables`, applies
  `optimizer` to them and returns `(loss, aux)`;
- `input_gradient(fn, x)`: the gradient of `sum(fn(x))` with respect to the
  tensor `x`, differentiable itself (for gradient penalties).

Everything else (losses, label policies, penalties, the GAN's steps) is
written once in `keras.ops`.
"""

import keras

SUPPORTED = ("tensorflow", "jax", "torch")


def get():
    """Returns the glue module for the active Keras backend."""
    name = keras.backend.backend()
    if name == "tensorflow":
        from keras_gan_tricks._backend import tensorflow

        return tensorflow
    if name == "jax":
        from keras_gan_tricks._backend import jax

        return jax
    if name == "torch":
        from keras_gan_tricks._backend import torch

        return torch
    raise NotImplementedError(
        f"keras-gan-tricks does not support the {name!r} Keras backend "
        f"(supported: {', '.join(SUPPORTED)}). Set KERAS_BACKEND to one of those."
    )
