"""Label policies: perturbations of the discriminator's targets.

A policy is called `policy(real_labels, fake_labels, seed=...)` and returns new
`(real_labels, fake_labels)`. It acts on the discriminator's targets only,
never on the generator's (`kgt.GAN` applies it in the discriminator step
alone). Policies hold only hyperparameters; all randomness comes from `seed`:

- a `keras.random.SeedGenerator`: each draw advances it, so repeated calls
  differ and the same generator state gives the same labels. `kgt.GAN` passes
  its own, and so should a user's compiled `train_step`;
- an int: a new `SeedGenerator(seed)`, so the same int gives the same labels;
- `None`: a new, randomly seeded generator.

The int and `None` forms create a variable, so use them eagerly only.

Policies from the GAN folklore (Salimans et al. 2016, "Improved Techniques for
Training GANs", sec. 3.4; Chollet, "Deep Learning with Python", ch. 8; the
"GAN hacks" list):

- `OneSidedSmoothing(0.1)`: real targets 0.9, fake stay 0;
- `UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3))`: noisy targets;
- `RandomFlip(0.05)`: swap a fraction of real and fake targets;
- `compose(...)`: apply several in order.
"""

import keras
from keras import ops

from keras_gan_tricks._utils import (
    Configurable,
    as_seed_generator,
    check_number,
    get_optional,
    register,
)


class LabelPolicy(Configurable):
    """Base class of label policies; subclasses implement `call`."""

    def __call__(self, real_labels, fake_labels, seed=None):
        """Returns `(real_labels, fake_labels)` after the policy.

        Args:
            real_labels: Tensor. The discriminator's targets for real samples
                (usually ones).
            fake_labels: Tensor. Its targets for generated samples (usually
                zeros).
            seed: `keras.random.SeedGenerator`, int or None. See the module.
        """
        real_labels = ops.cast(real_labels, "float32")
        fake_labels = ops.cast(fake_labels, "float32")
        return self.call(real_labels, fake_labels, as_seed_generator(seed))

    def call(self, real_labels, fake_labels, seed_generator):
        raise NotImplementedError


@register
class OneSidedSmoothing(LabelPolicy):
    """One-sided label smoothing: real targets become `1 - smoothing`.

    Salimans et al. 2016, sec. 3.4: smoothing only the real side keeps D from
    growing over-confident without rewarding the generator for samples D
    already calls fake. Fake targets are left as they are. Multiplies, so
    targets already below 1 (noisy labels) shrink by the same factor.

    Args:
        smoothing: float in [0, 1). How much to take off the real targets.

    Example:

    >>> real, fake = kgt.labels.OneSidedSmoothing(0.1)(
    ...     keras.ops.ones((2,)), keras.ops.zeros((2,)), seed=0)
    >>> [round(float(v), 2) for v in real]
    [0.9, 0.9]
    """

    def __init__(self, smoothing=0.1):
        self.smoothing = check_number(
            "smoothing", smoothing, low=0.0, high=1.0, high_open=True
        )

    def call(self, real_labels, fake_labels, seed_generator):
        return real_labels * (1.0 - self.smoothing), fake_labels

    def get_config(self):
        return {"smoothing": self.smoothing}


def _check_range(name, value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(
            f"`{name}` must be a pair (low, high). Received: {name}={value!r}"
        )
    low = check_number(f"{name}[0]", value[0])
    high = check_number(f"{name}[1]", value[1])
    if low > high:
        raise ValueError(
            f"`{name}` must have low <= high. Received: {name}={tuple(value)!r}"
        )
    return (low, high)


@register
class UniformNoise(LabelPolicy):
    """Noisy labels: targets drawn uniformly from a range per side.

    Replaces each real target with a draw from `U(real)` and each fake target
    with a draw from `U(fake)`; the defaults are the seeds' `U(0.7, 1.2)` and
    `U(0.0, 0.3)`. The given labels only fix the shapes, so put this policy
    first in a `compose`. A real target above 1 is harmless: the noise is
    drawn independently of the samples and cross-entropy is linear in the
    target, so in expectation D is pulled towards the mean target (0.95 and
    0.15 for the defaults), a form of smoothing.

    Args:
        real: pair of floats `(low, high)`. Range of the real targets.
        fake: pair of floats `(low, high)`. Range of the fake targets.
    """

    def __init__(self, real=(0.7, 1.2), fake=(0.0, 0.3)):
        self.real = _check_range("real", real)
        self.fake = _check_range("fake", fake)

    def call(self, real_labels, fake_labels, seed_generator):
        real = keras.random.uniform(
            ops.shape(real_labels), self.real[0], self.real[1], seed=seed_generator
        )
        fake = keras.random.uniform(
            ops.shape(fake_labels), self.fake[0], self.fake[1], seed=seed_generator
        )
        return real, fake

    def get_config(self):
        return {"real": list(self.real), "fake": list(self.fake)}


@register
class RandomFlip(LabelPolicy):
    """Occasional label flips: each real/fake target pair swapped with prob. p.

    From the "GAN hacks" list (Chintala et al. 2016): with probability
    `probability`, independently per position, the real target and the fake
    target at that position trade places, so a fraction of real samples is
    labelled fake and the same fraction of fakes labelled real.

    Args:
        probability: float in [0, 1]. Chance of a flip at each position.
    """

    def __init__(self, probability=0.05):
        self.probability = check_number("probability", probability, low=0.0, high=1.0)

    def call(self, real_labels, fake_labels, seed_generator):
        draw = keras.random.uniform(ops.shape(real_labels), seed=seed_generator)
        flip = draw < self.probability
        return (
            ops.where(flip, fake_labels, real_labels),
            ops.where(flip, real_labels, fake_labels),
        )

    def get_config(self):
        return {"probability": self.probability}


@register
class Compose(LabelPolicy):
    """Several label policies applied in order, sharing one seed generator.

    `Compose(a, b)(r, f, seed=g)` equals `b(*a(r, f, seed=g), seed=g)` for a
    `SeedGenerator` `g`: each policy draws from the same stream in turn.

    Args:
        *policies: `LabelPolicy` objects, applied first to last.
    """

    def __init__(self, *policies):
        for i, policy in enumerate(policies):
            if not isinstance(policy, LabelPolicy):
                raise TypeError(
                    "Every policy must be a kgt.labels.LabelPolicy. "
                    f"Received: policies[{i}]={policy!r} "
                    f"(of type {type(policy).__name__})"
                )
        self.policies = tuple(policies)

    def call(self, real_labels, fake_labels, seed_generator):
        for policy in self.policies:
            real_labels, fake_labels = policy(
                real_labels, fake_labels, seed=seed_generator
            )
        return real_labels, fake_labels

    def get_config(self):
        return {
            "policies": [keras.saving.serialize_keras_object(p) for p in self.policies]
        }

    def __repr__(self):
        return f"Compose({', '.join(map(repr, self.policies))})"

    @classmethod
    def from_config(cls, config):
        return cls(
            *[keras.saving.deserialize_keras_object(p) for p in config["policies"]]
        )


def compose(*policies):
    """Returns a policy applying `policies` in order (see `Compose`).

    Example:

    ```python
    policy = kgt.labels.compose(
        kgt.labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3)),
        kgt.labels.RandomFlip(0.05),
    )
    ```
    """
    return Compose(*policies)


def get(identifier):
    """Returns a `LabelPolicy` from a policy, a serialized config or None."""
    return get_optional(
        identifier, LabelPolicy, "label_policy", "kgt.labels.LabelPolicy"
    )
