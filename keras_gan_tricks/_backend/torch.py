"""PyTorch glue: `torch.autograd.grad`, then the optimizer under `no_grad`.

Gradients are taken with `torch.autograd.grad` for the given variables only,
so nothing accumulates in `.grad` and one network's update never sees the
other's gradients.
"""

import torch

from keras_gan_tricks._backend import step_is_finite


def run_step(model, step, args, with_optimizer):
    (data,) = args
    return step(data)


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
