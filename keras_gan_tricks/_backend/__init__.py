"""Per-backend glue: the only code that takes and applies gradients.

Each backend module provides:

- `run_step(model, step, args, with_optimizer)`: runs `step(data)` for the
  trainer's `train_step(*args)`/`test_step(*args)`: `args` is `(data,)` on
  TensorFlow and PyTorch, `(state, data)` on JAX (which also returns the new
  state);
- `minimize(loss_fn, variables, optimizer, allow=None)`: calls `loss_fn()`,
  which returns `(loss, aux)`, differentiates `loss` with respect to
  `variables` and applies `optimizer` to them, but only when the step is
  finite (see `step_is_finite`); returns `(loss, aux, finite)`. Variables the
  forward pass assigned (batch-norm statistics) are the caller's to restore;
- `run_if(pred, fn, otherwise)`: `fn()` if the boolean tensor `pred` holds,
  else `otherwise` (a tensor of `fn()`'s dtype and shape), differentiably
  and keeping the variable updates `fn` makes only when it runs;
- `input_gradient(fn, x)`: the gradient of `sum(fn(x))` with respect to the
  tensor `x`, differentiable itself (for gradient penalties);
- `StepOps`: `minimize`, `run_if` and `input_gradient` as one step uses
  them (`run_step` passes them to the step: `step(data, step_ops)`);
- `seed_generator(seed, name)`: the random stream a GAN draws from (on
  TensorFlow, one that differs between `tf.distribute` replicas; see
  `primitives`, through which code outside the step reaches it and
  `input_gradient`);
- `check_limits(gan, penalty, compile_kwargs)`: rejects what the backend
  cannot run, at `compile`;
- `sync_state(model)`: brings the model's variables up to date during
  `fit` (JAX keeps them in the trainer's state);
- `attribute_values(layer)`: the values of a layer's attributes, the
  layers set on it included (on PyTorch a Keras layer is a
  `torch.nn.Module`, which keeps those out of its `__dict__`).

Everything else (losses, label policies, penalties, the GAN's steps) is
written once in `keras.ops`.
"""

import keras
from keras import ops

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


def step_is_finite(loss, gradients, optimizer, allow=None):
    """Whether an update may be applied: `loss` is finite, so are the
    gradients (a `LossScaleOptimizer` checks those itself: an overflow under
    mixed precision only skips its step and lowers the scale) and `allow`
    (the earlier updates of the same step) holds. A boolean tensor."""
    finite = ops.all(ops.isfinite(loss))
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        for gradient in gradients:
            if gradient is not None:
                finite = ops.logical_and(finite, ops.all(ops.isfinite(gradient)))
    if allow is not None:
        finite = ops.logical_and(finite, allow)
    return finite
