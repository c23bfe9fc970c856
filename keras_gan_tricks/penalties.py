"""Gradient penalties on the discriminator.

A penalty is called `penalty(critic, real, fake, seed=..., input_gradient=...)`,
where `critic` maps a batch of samples to D's logits (conditioning inputs
already bound; a PatchGAN map of logits counts by its mean per sample, so
`D(x)` below is the map's mean; by its sum with `reduction="sum"`, as in
TF-GAN and the usual PyTorch code), and returns a scalar that `kgt.GAN` adds to the
discriminator's loss (and reports as the `penalty` metric). `kgt.GAN`'s step
passes its backend's `input_gradient`; called on its own (in a `train_step`
of your own) a penalty takes the active backend's, so every penalty works
wherever `kgt.GAN` does.

| class | penalises | paper |
|---|---|---|
| `GradientPenalty` | `(‖∇D(x̂)‖ - 1)²` on real/fake interpolates | Gulrajani et al. 2017 (WGAN-GP) |
| `R1` | `‖∇D(x)‖²` on real samples | Mescheder et al. 2018 |
| `R2` | `‖∇D(x)‖²` on generated samples | Mescheder et al. 2018 |
| `LeCam` | D's outputs' distance to moving anchors | Tseng et al. 2021 |

`kgt.GAN.compile(penalty=...)` takes one penalty or a list (R3GAN's
`[R1(g), R2(g)]`, each its own term in the logs); a weight may follow a
`keras.optimizers.schedules` schedule of the step. `LeCam` keeps state (its
anchors), so it is a `kgt.tricks.Trick`; it may stand in that list or in
`compile(tricks=[...])`.
"""

import inspect
import re

import keras
from keras import ops

from keras_gan_tricks._backend import primitives
from keras_gan_tricks._utils import (
    Configurable,
    as_seed_generator,
    check_int,
    check_number,
    check_scheduled,
    get_optional,
    register,
    scheduled_config,
    scheduled_value,
)
from keras_gan_tricks.losses import per_sample
from keras_gan_tricks.tricks.base import Trick
from keras_gan_tricks.tricks.terms import LeCam

__all__ = [
    "GradientPenalty",
    "LeCam",
    "Penalty",
    "R1",
    "R2",
    "get",
    "get_many",
    "term_names",
]


_REDUCTIONS = ("mean", "sum")


def _check_reduction(reduction):
    """Returns `reduction` after checking it is one of `_REDUCTIONS`."""
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(
            f"`reduction` must be one of {_REDUCTIONS}. "
            f"Received: reduction={reduction!r}"
        )
    return str(reduction)


def _per_sample_sum(logits):
    """float32 `(batch,)`: each sample's logits summed over its map (what
    differentiating a map, as TF-GAN and `autograd.grad(..., grad_outputs=
    ones)` do, amounts to; one logit per sample is itself)."""
    logits = ops.cast(logits, "float32")
    if len(logits.shape) == 1:
        return logits
    return ops.sum(ops.reshape(logits, (ops.shape(logits)[0], -1)), axis=1)


def _squared_norms(gradients):
    """Per-sample squared L2 norms of a batch of gradients, in float32."""
    gradients = ops.cast(gradients, "float32")
    flat = ops.reshape(gradients, (ops.shape(gradients)[0], -1))
    return ops.sum(ops.square(flat), axis=1)


class Penalty(Configurable):
    """Base class of the gradient penalties; subclasses implement `call`.

    Every penalty takes `every`: with `every=k > 1` a `kgt.GAN` computes it
    only on every k-th discriminator step, multiplied by k (StyleGAN2's
    "lazy regularisation", Karras et al. 2020, sec. 3.1), which keeps its
    average strength and saves most of its double backward pass. The
    steps in between add 0 (the `penalty` metric averages both).

    `GradientPenalty`, `R1` and `R2` also take `reduction`: how a
    discriminator's map of logits (PatchGAN) becomes the one value per
    sample that is differentiated. `"mean"` (the default) counts the map by
    its mean, as the losses do; `"sum"` by its sum, as TF-GAN and the usual
    PyTorch code do (they differentiate the map itself, which sums it). For
    a map of `N = H·W` logits the sum's gradient is `N` times the mean's;
    for one logit per sample both are the same.
    """

    every = 1
    reduction = "mean"

    def __call__(self, critic, real, fake, seed=None, input_gradient=None, step=None):
        """Returns the penalty, a float32 scalar.

        Args:
            critic: callable. Maps a batch of samples to D's logits.
            real: Tensor. A batch of real samples.
            fake: Tensor. A batch of generated samples, same shape.
            seed: `keras.random.SeedGenerator`, int or None. Randomness for
                penalties that sample (interpolates); see `kgt.labels`.
            input_gradient: callable `(fn, x) -> d sum(fn(x)) / dx`,
                differentiable, or None for the active backend's.
            step: int or integer tensor, or None. The training step, for a
                weight that follows a schedule (`kgt.GAN` passes its step
                count).
        """
        if input_gradient is None:
            input_gradient = primitives.input_gradient
        discriminate = critic
        reduce = _per_sample_sum if self.reduction == "sum" else per_sample

        def critic(x):  # a map of logits counts by its mean (or sum) per sample
            return reduce(discriminate(x))

        parameters = inspect.signature(self.call).parameters
        if "input_gradient" not in parameters:  # a subclass from 0.1.0
            return self.call(critic, real, fake, seed)
        if "step" in parameters:
            return self.call(
                critic, real, fake, seed, input_gradient=input_gradient, step=step
            )
        return self.call(critic, real, fake, seed, input_gradient=input_gradient)

    def call(self, critic, real, fake, seed, input_gradient=None):
        """The penalty; `input_gradient(fn, x)` gives `d sum(fn(x)) / dx`."""
        raise NotImplementedError

    def _with_reduction(self, config):
        """`config`, plus `reduction` where it is not the default (so the
        default's config is the one earlier versions saved)."""
        if self.reduction != "mean":
            config["reduction"] = self.reduction
        return config


@register
class GradientPenalty(Penalty):
    """The WGAN-GP gradient penalty.

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", eq. 3:

        weight * mean((‖∇D(x̂)‖₂ - target)²),  x̂ = ε x_real + (1 - ε) x_fake,

    with `ε ~ U(0, 1)` drawn per sample. Zero for a critic whose gradient has
    norm `target` everywhere (a 1-Lipschitz linear critic with unit-norm
    weights, for `target=1`).

    Args:
        weight: float >= 0, or a `keras.optimizers.schedules` schedule of
            the step. The penalty coefficient λ (10 in the paper).
        target: float > 0. The gradient norm aimed at (1 in the paper).
        every: int >= 1. Lazy regularisation: apply it (times `every`)
            on every `every`-th discriminator step only.
        reduction: `"mean"` or `"sum"`. How a map of logits (PatchGAN)
            becomes the value per sample that is differentiated: its mean
            (the default) or its sum (TF-GAN's `wasserstein_gradient_penalty`
            and the usual PyTorch WGAN-GP code). For a map of `N = H·W`
            logits the sum's gradient norm is `N` times the mean's, so the
            target is met at a different point: `"sum"` with `weight=w,
            target=t` is `"mean"` with `weight=N²·w, target=t / N`. For one
            logit per sample both are the same.
    """

    def __init__(self, weight=10.0, target=1.0, every=1, reduction="mean"):
        self.weight = check_scheduled("weight", weight, low=0.0)
        self.target = check_number("target", target, low=0.0, low_open=True)
        self.every = check_int("every", every, low=1)
        self.reduction = _check_reduction(reduction)

    def call(self, critic, real, fake, seed, input_gradient=None, step=None):
        weight = scheduled_value("weight", self.weight, step)
        real = ops.convert_to_tensor(real)
        fake = ops.cast(fake, real.dtype)
        batch = ops.shape(real)[0]
        eps_shape = (batch,) + (1,) * (len(real.shape) - 1)
        eps = keras.random.uniform(
            eps_shape, dtype=real.dtype, seed=as_seed_generator(seed)
        )
        interpolates = eps * real + (1.0 - eps) * fake
        gradients = input_gradient(critic, interpolates)
        # The epsilon keeps sqrt differentiable at a zero gradient.
        norms = ops.sqrt(_squared_norms(gradients) + 1e-12)
        return weight * ops.mean(ops.square(norms - self.target))

    def get_config(self):
        return self._with_reduction(
            {
                "weight": scheduled_config(self.weight),
                "target": self.target,
                "every": self.every,
            }
        )


@register
class R1(Penalty):
    """The R1 regulariser: the gradient's squared norm on real data.

    Mescheder et al. 2018, "Which Training Methods for GANs do actually
    Converge?", eq. 9:

        (gamma / 2) * mean(‖∇D(x_real)‖₂²)

    It makes GAN training locally convergent (see the Dirac-GAN test) and is
    StyleGAN's default regulariser. For a linear `D(x) = wᵀx` it equals
    `gamma / 2 * ‖w‖²`.

    Args:
        gamma: float >= 0, or a `keras.optimizers.schedules` schedule of the
            step (R3GAN decays γ by cosine to a tenth). The regularisation
            weight γ (10 is common; the paper's examples use 0.1 to 10).
        every: int >= 1. Lazy regularisation: apply it (times `every`)
            on every `every`-th discriminator step only (StyleGAN2 uses 16).
        reduction: `"mean"` or `"sum"`. How a map of logits (PatchGAN)
            becomes the value per sample that is differentiated: its mean
            (the default) or its sum (TF-GAN and the usual PyTorch code,
            which differentiate the map). For a map of `N = H·W` logits the
            sum's gradient is `N` times the mean's, so the penalty on its
            squared norm is `N²` times larger (`"sum"` with `gamma=g` is
            `"mean"` with `gamma=N²·g`). For one logit per sample both are
            the same.
    """

    def __init__(self, gamma=10.0, every=1, reduction="mean"):
        self.gamma = check_scheduled("gamma", gamma, low=0.0)
        self.every = check_int("every", every, low=1)
        self.reduction = _check_reduction(reduction)

    def call(self, critic, real, fake, seed, input_gradient=None, step=None):
        return self._penalise(critic, real, input_gradient, step)

    def _penalise(self, critic, samples, input_gradient, step):
        gamma = scheduled_value("gamma", self.gamma, step)
        gradients = input_gradient(critic, ops.convert_to_tensor(samples))
        return 0.5 * gamma * ops.mean(_squared_norms(gradients))

    def get_config(self):
        return self._with_reduction(
            {"gamma": scheduled_config(self.gamma), "every": self.every}
        )


@register
class R2(R1):
    """The R2 regulariser: R1's penalty on generated samples instead.

    Mescheder et al. 2018, eq. 10: `(gamma / 2) * mean(‖∇D(x_fake)‖₂²)`.

    Args:
        gamma: float >= 0. The regularisation weight γ.
        every: int >= 1. Lazy regularisation, as in `R1`.
        reduction: `"mean"` or `"sum"`, as in `R1`: for a map of `N = H·W`
            logits `"sum"` gives `N²` times `"mean"`'s penalty.
    """

    def call(self, critic, real, fake, seed, input_gradient=None, step=None):
        return self._penalise(critic, fake, input_gradient, step)


def get(identifier):
    """Returns a `Penalty` from a penalty, a serialized config or None."""
    return get_optional(identifier, Penalty, "penalty", "kgt.penalties.Penalty")


def get_many(identifier):
    """`compile(penalty=...)`'s argument as `(penalties, tricks)`: a penalty,
    a config, None, or a list of them (a `LeCam` or another trick among
    them goes to `tricks`)."""
    items = identifier if isinstance(identifier, (list, tuple)) else [identifier]
    penalties, tricks = [], []
    for item in items:
        if isinstance(item, dict):
            item = keras.saving.deserialize_keras_object(item)
        if isinstance(item, Trick):
            tricks.append(item)
        elif item is not None or not isinstance(identifier, (list, tuple)):
            try:
                found = get(item)
            except TypeError:
                held = f"holding {item!r}, " if item is not identifier else ""
                raise TypeError(
                    "`penalty` must be a kgt.penalties.Penalty, a kgt.penalties."
                    "LeCam, a list of them, or None. Received: "
                    f"penalty={identifier!r} ({held}of type {type(item).__name__})"
                ) from None
            if found is not None:
                penalties.append(found)
        else:
            raise TypeError(
                f"`penalty` must not hold None. Received: penalty={identifier!r}"
            )
    return penalties, tricks


def term_names(penalties):
    """The terms' names: `penalty` for one penalty (the name files keep); else
    `penalty_<class>` (`penalty_r1`, `penalty_r2`), numbered if repeated."""
    if len(penalties) == 1:
        return ["penalty"]
    names, seen = [], {}
    for penalty in penalties:
        base = (
            "penalty_" + re.sub(r"(?<!^)(?=[A-Z])", "_", type(penalty).__name__).lower()
        )
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return names
