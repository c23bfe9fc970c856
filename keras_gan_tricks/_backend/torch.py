"""PyTorch glue: `torch.autograd.grad`, then the optimizer under `no_grad`.

Gradients are taken with `torch.autograd.grad` for the given variables only,
so nothing accumulates in `.grad` and one network's update never sees the
other's gradients.
"""

import keras
import torch

from keras_gan_tricks._backend import step_is_finite
from keras_gan_tricks._utils import walk_layers


def run_step(model, step, args, with_optimizer):
    (data,) = args
    return step(data, StepOps)


def minimize(loss_fn, variables, optimizer, allow=None):
    loss, aux = loss_fn()
    scaled_loss = optimizer.scale_loss(loss)
    gradients = torch.autograd.grad(scaled_loss, [v.value for v in variables])
    with torch.no_grad():
        finite = step_is_finite(loss.detach(), gradients, optimizer, allow)
        if bool(finite):
            optimizer.apply(list(gradients), variables)
    aux = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in aux.items()}
    return loss.detach(), aux, finite


def run_if(pred, fn, otherwise):
    return fn() if bool(pred) else otherwise


def input_gradient(fn, x):
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        total = fn(x).float().sum()
        (gradient,) = torch.autograd.grad(total, x, create_graph=True)
    return gradient


class StepOps:
    """The operations a step uses: this backend's, stateless."""

    minimize = staticmethod(minimize)
    run_if = staticmethod(run_if)
    input_gradient = staticmethod(input_gradient)


def seed_generator(seed=None, name=None):
    return keras.random.SeedGenerator(seed, name=name)


def check_limits(gan, penalty, compile_kwargs):
    """Rejects, before training, what PyTorch cannot run."""
    steps = compile_kwargs.get("steps_per_execution", 1)
    if steps != 1:
        raise ValueError(
            "`steps_per_execution` must be 1 on the PyTorch backend (a Keras "
            f"limit). Received: steps_per_execution={steps!r}"
        )
    if compile_kwargs.get("jit_compile") is True and penalty is not None:
        raise ValueError(
            "On the PyTorch backend, `jit_compile=True` (torch.compile) cannot "
            "differentiate twice, which a gradient penalty needs. Drop one of "
            f"them. Received: jit_compile=True, penalty={penalty!r}"
        )
    for layer in walk_layers(gan.discriminator):
        if isinstance(layer, keras.layers.SpectralNormalization):
            raise ValueError(
                "keras.layers.SpectralNormalization rewrites its kernel in place "
                "on every training call, which breaks PyTorch's autograd when "
                "the discriminator sees the real and the fake batch before one "
                "backward pass. Use the TensorFlow or JAX backend for spectral "
                "normalization, or a gradient penalty (kgt.penalties.R1) "
                f"instead. Received a discriminator with layer {layer.name!r}."
            )


def sync_state(model):
    del model


def attribute_values(layer):
    """`vars(layer)` misses the layers set on it: a Keras layer is a
    `torch.nn.Module` here, which keeps its submodules in `_modules`."""
    return [*vars(layer).values(), *(module for _, module in layer.named_children())]
