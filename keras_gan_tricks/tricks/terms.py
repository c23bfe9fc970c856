"""Extra terms of D's loss: the penalties, run as tricks."""

import keras
from keras import ops

from keras_gan_tricks._utils import (
    check_number,
    check_scheduled,
    register,
    scheduled_config,
    scheduled_value,
)
from keras_gan_tricks.losses import per_sample
from keras_gan_tricks.tricks.base import Trick


@register
class PenaltyTerm(Trick):
    """Adds a `kgt.penalties` penalty to D's loss, reported as `penalty`.

    `kgt.GAN.compile(penalty=...)` makes one. With the penalty's `every=k`
    it is computed on every k-th D update only, times k (StyleGAN2's lazy
    regularisation); the updates in between add 0.

    With several penalties (`compile(penalty=[...])`) each has its own
    term, named after it (`penalty_r1`, `penalty_r2`, ...). A weight that
    follows a schedule is evaluated at the GAN's step count.

    Args:
        penalty: `kgt.penalties.Penalty`.
        term: str. The name of its term in D's loss and the logs.
    """

    def __init__(self, penalty, term="penalty", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(term, str) or not term:
            raise TypeError(f"`term` must be a name. Received: term={term!r}")
        self.term = term
        self.loss_names = (term,)
        if isinstance(penalty, dict):
            penalty = keras.saving.deserialize_keras_object(penalty)
        if not callable(penalty) or not hasattr(penalty, "every"):
            raise TypeError(
                "`penalty` must be a kgt.penalties.Penalty. "
                f"Received: penalty={penalty!r}"
            )
        self.penalty = penalty

    def discriminator_loss(self, context):
        def compute():
            return self.penalty(
                context.discriminate,
                context.real,
                context.fake,
                seed=context.seed,
                input_gradient=context.input_gradient,
                step=context.step,
            )

        every = self.penalty.every
        if every == 1 or not context.training:
            return {self.term: compute()}
        due = ops.equal(ops.mod(context.d_step, every), 0)
        zero = ops.zeros((), dtype="float32")
        return {self.term: context.run_if(due, lambda: compute() * float(every), zero)}

    def trace_key(self):
        return (type(self), self.penalty, self.term)

    def get_config(self):
        config = {
            **super().get_config(),
            "penalty": keras.saving.serialize_keras_object(self.penalty),
        }
        if self.term != "penalty":
            config["term"] = self.term
        return config


@register
class LeCam(Trick):
    """LeCam regularisation: D's outputs held near moving anchors.

    Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
    Limited Data", eq. 3:

        weight * (mean((D(x_real) - α_fake)²) + mean((D(x_fake) - α_real)²))

    with `α_real`, `α_fake` exponential moving averages (decay `decay`) of
    D's mean output on real and on generated samples, updated after each
    step from D's last update (the first step sets them), not
    differentiated. It keeps D's outputs on real and fake from drifting
    apart, which is how D overfits a small dataset; for any loss. A map of
    logits counts by its mean per sample. The anchors are the trick's
    state: saved, resumed by `BackupAndRestore`.

    Args:
        weight: float >= 0, or a `keras.optimizers.schedules` schedule of
            the step. λ (the paper uses 0.3 on CIFAR-10 with 10% of the data).
        decay: float in [0, 1). The anchors' moving-average decay (0.99).

    Example:

    ```python
    gan.compile(loss="hinge", penalty=[kgt.penalties.LeCam(0.3)])
    ```
    """

    loss_names = ("lecam",)

    def __init__(self, weight=0.3, decay=0.99, **kwargs):
        super().__init__(**kwargs)
        self.weight = check_scheduled("weight", weight, low=0.0)
        self.decay = check_number("decay", decay, low=0.0, high=1.0, high_open=True)
        # [α_real, α_fake, updates so far]
        self.anchors = self.add_weight(
            shape=(3,), initializer="zeros", trainable=False, name="anchors"
        )

    def anchor_values(self):
        """`{"real": α_real, "fake": α_fake, "updates": n}` (host side)."""
        values = ops.convert_to_numpy(self.anchors)
        return {
            "real": float(values[0]),
            "fake": float(values[1]),
            "updates": int(values[2]),
        }

    def discriminator_loss(self, context):
        alpha_real, alpha_fake, _ = ops.unstack(ops.stop_gradient(self.anchors.value))
        real = per_sample(context.real_logits)
        fake = per_sample(context.fake_logits)
        weight = scheduled_value("weight", self.weight, context.step)
        term = ops.mean(ops.square(real - alpha_fake)) + ops.mean(
            ops.square(fake - alpha_real)
        )
        return {"lecam": weight * term}

    def end_step(self, outcome):
        alpha_real, alpha_fake, updates = ops.unstack(self.anchors.value)
        decay = ops.where(updates > 0, self.decay, 0.0)
        real = ops.mean(per_sample(outcome.real_logits))
        fake = ops.mean(per_sample(outcome.fake_logits))
        new = ops.stack(
            [
                decay * alpha_real + (1.0 - decay) * real,
                decay * alpha_fake + (1.0 - decay) * fake,
                updates + 1.0,
            ]
        )
        finite = ops.cast(outcome.finite, "bool")
        self.anchors.assign(ops.where(finite, new, self.anchors.value))

    def get_config(self):
        return {
            **super().get_config(),
            "weight": scheduled_config(self.weight),
            "decay": self.decay,
        }
