"""Which fakes each network learns from: top-k for G, a replay buffer for D."""

import keras
from keras import ops

from keras_gan_tricks._utils import (
    check_int,
    check_number,
    check_scheduled,
    register,
    scheduled_config,
    scheduled_value,
)
from keras_gan_tricks.losses import per_sample
from keras_gan_tricks.tricks.base import Trick


@register
class TopK(Trick):
    """Top-k generator updates: G learns from its most realistic samples.

    Sinha et al. 2020, "Top-k Training of GANs: Improving GAN Performance
    by Throwing Away Bad Samples": in each generator update only the `k`
    fakes D rates highest (a map of logits by its mean) contribute to G's
    gradient, `k = max(1, floor(max(fraction, minimum) * batch))`; the
    paper starts at the whole batch and multiplies the fraction by 0.99
    every epoch, down to `minimum` (0.5 to 0.75).

    The fakes outside the top `k` pass forward unchanged but carry no
    gradient, and the top `k` carry `batch / k` times theirs, so G's
    gradient is exactly that of the top `k`'s mean loss; the logged
    `g_loss` stays the whole batch's. Logged: `topk_fraction`.

    Args:
        fraction: float in (0, 1], or a `keras.optimizers.schedules`
            schedule of the step (the paper's decay:
            `ExponentialDecay(1.0, steps_per_epoch, 0.99)`).
        minimum: float in (0, 1]. The fraction never goes below it.
    """

    def __init__(self, fraction=1.0, minimum=0.5, **kwargs):
        super().__init__(**kwargs)
        self.fraction = check_scheduled(
            "fraction", fraction, low=0.0, high=1.0, low_open=True
        )
        self.minimum = check_number(
            "minimum", minimum, low=0.0, high=1.0, low_open=True
        )
        self._current = None

    def start_step(self, step):
        self._current = ops.maximum(
            ops.cast(scheduled_value("fraction", self.fraction, step), "float32"),
            self.minimum,
        )

    def generator_logits(self, fake_logits):
        fake_logits = ops.convert_to_tensor(fake_logits)
        fraction = self._current
        if fraction is None:  # outside a step
            fraction = ops.maximum(
                scheduled_value("fraction", self.fraction, 0), self.minimum
            )
        scores = per_sample(fake_logits)
        batch = ops.cast(ops.shape(scores)[0], "float32")
        k = ops.maximum(ops.floor(fraction * batch), 1.0)
        # Each fake's rank by D's score, 0 for the most realistic.
        ranks = ops.cast(ops.argsort(ops.argsort(-scores)), "float32")
        keep = ops.cast(ranks < k, fake_logits.dtype) * ops.cast(
            batch / k, fake_logits.dtype
        )
        keep = ops.reshape(keep, (-1,) + (1,) * (len(fake_logits.shape) - 1))
        frozen = ops.stop_gradient(fake_logits)
        return frozen + keep * (fake_logits - frozen)

    def logs(self):
        return {} if self._current is None else {"topk_fraction": self._current}

    def get_config(self):
        return {
            **super().get_config(),
            "fraction": scheduled_config(self.fraction),
            "minimum": self.minimum,
        }


@register
class ReplayBuffer(Trick):
    """A replay buffer of past fakes for the discriminator.

    ganhacks #8 ("experience replay"); TF-GAN's `tensor_pool`
    (Shrivastava et al. 2017's history of refined images): D is shown old
    fakes among the new, so it cannot forget the modes G left and G cannot
    cycle back to them. The buffer holds `size` fakes. While it fills, each
    D update's fakes go in and pass through; once full, each fake is
    swapped, with probability `probability`, for a random stored one, which
    it replaces. The buffer is the trick's state (saved, resumed), made
    when the GAN takes the trick (its sample shape). `size` must be at
    least the batch size.

    Args:
        size: int >= 1. Fakes kept (TF-GAN's default pool size is 50).
        probability: float in [0, 1]. The chance that a fake is swapped.
        seed: int or None.
    """

    def __init__(self, size=256, probability=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.size = check_int("size", size, low=1)
        self.probability = check_number("probability", probability, low=0.0, high=1.0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.stored = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="stored"
        )
        self.buffer = None

    def setup(self, gan):
        self.build_buffer(gan.sample_shape)

    def build_buffer(self, sample_shape):
        """Makes the buffer for samples of `sample_shape` (outside a GAN)."""
        if self.buffer is None:
            self.buffer = self.add_weight(
                shape=(self.size, *sample_shape),
                initializer="zeros",
                trainable=False,
                name="buffer",
            )

    def discriminator_fakes(self, fake, training):
        if not training:
            return fake
        batch = ops.shape(fake)[0]
        if isinstance(batch, int) and batch > self.size:
            raise ValueError(
                f"ReplayBuffer(size={self.size}) is smaller than the batch of "
                f"{batch} fakes: give it `size` >= the batch size."
            )
        fake = ops.stop_gradient(fake)
        pool = self.buffer.value
        stored = self.stored.value
        filling = stored < self.size
        slots = ops.arange(batch)
        fill_slots = ops.cast(
            ops.mod(ops.cast(stored, "int32") + slots, self.size), "int32"
        )
        shuffled = keras.random.shuffle(ops.arange(self.size), seed=self.seed_generator)
        swap_slots = ops.cast(shuffled[:batch], "int32")
        draw = keras.random.uniform((batch,), seed=self.seed_generator)
        swap = ops.logical_and(ops.logical_not(filling), draw < self.probability)
        index = ops.where(filling, fill_slots, swap_slots)
        old = ops.take(pool, index, axis=0)
        wide = (-1,) + (1,) * (len(fake.shape) - 1)
        swap_wide = ops.reshape(swap, wide)
        out = ops.where(swap_wide, ops.cast(old, fake.dtype), fake)
        written = ops.where(ops.reshape(ops.logical_or(filling, swap), wide), fake, old)
        self.buffer.assign(
            ops.scatter_update(
                pool, ops.expand_dims(index, 1), ops.cast(written, pool.dtype)
            )
        )
        self.stored.assign(
            ops.minimum(stored + ops.cast(batch, "float32"), float(self.size))
        )
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "probability": self.probability,
            "seed": self.seed,
        }
