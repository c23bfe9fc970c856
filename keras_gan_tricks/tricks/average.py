"""The generator's exponential moving average."""

import keras
from keras import ops

from keras_gan_tricks._utils import check_number, register
from keras_gan_tricks.tricks.base import Refs, Trick

EMA_GENERATOR = "ema_generator"


def update_average(pairs, copies, decay, step=None, where=None):
    """One EMA update: `average = d * average + (1 - d) * weight` for each
    `(average, weight)` pair, with `d = min(decay, (1 + step) / (10 + step))`
    when `step` (a number or a tensor) is given; `copy = weight` for each pair
    of `copies`. With `where` (a boolean tensor), only where it holds: else
    every average (of a finite weight) and copy keeps its value. Written in
    `keras.ops`, so it runs inside a compiled step."""
    if step is not None:
        step = ops.cast(step, "float32")
        decay = ops.minimum(decay, (1.0 + step) / (10.0 + step))
    if where is not None:
        # One scalar select, not one per weight: d = 1 keeps each average
        # exactly (1 * average + 0 * weight).
        decay = ops.where(where, decay, 1.0)
    for average, weight in pairs:
        average.assign(
            ops.cast(decay * average + (1.0 - decay) * weight, average.dtype)
        )
    for copy, weight in copies:
        # A copy, not the same buffer: JAX donates each state buffer once.
        value = ops.copy(weight)
        if where is not None:
            value = ops.where(where, value, copy.value)
        copy.assign(value)


def clone_generator(model):
    """A built structural copy of `model.generator`, with the same weights."""
    generator = model.generator
    clone = keras.models.clone_model(generator)
    if not clone.built:
        if hasattr(model, "symbolic_generator_inputs"):
            clone(model.symbolic_generator_inputs())
        elif getattr(generator, "inputs", None):
            clone(generator.inputs)
        else:
            raise ValueError(
                "GeneratorEMA cannot build a copy of this generator: use a kgt.GAN "
                "or a functional generator."
            )
    clone.set_weights(generator.get_weights())
    return clone


@register
class GeneratorEMA(Trick):
    """An exponential moving average of the generator's weights.

    Yazıcı et al. 2019 ("The Unusual Effectiveness of Averaging in GAN
    Training"); ProGAN, StyleGAN and BigGAN sample from such an average.
    After every finite step each averaged weight becomes
    `d * average + (1 - d) * weight`, with `d = min(decay, (1 + t) / (10 + t))`
    at step `t` when `warmup` is on. Non-trainable weights (batch-norm
    statistics) are copied; when `fit` ends the averaged generator's
    batch-norm statistics are recomputed from its own samples
    (`kgt.GAN.recalibrate_batch_norm`). The average is kept in the GAN
    (`gan.trick_states["ema_generator"]`, saved with it), and `generate()`
    samples from it.

    Args:
        decay: float in [0, 1). Weight of the old average per step.
        warmup: bool. Use the smaller decay early on (see above).
        recalibrate_batch_norm: bool or None. Recompute the averaged
            generator's batch-norm statistics when `fit` ends. None: for an
            unconditional GAN, not for a conditional one (True there is an
            error: it needs labels).
    """

    def __init__(self, decay=0.999, warmup=True, recalibrate_batch_norm=None, **kw):
        super().__init__(**kw)
        self.decay = check_number("decay", decay, low=0.0, high=1.0, high_open=True)
        self.warmup = bool(warmup)
        if not (
            recalibrate_batch_norm is None or isinstance(recalibrate_batch_norm, bool)
        ):
            raise TypeError(
                "`recalibrate_batch_norm` must be True, False or None. Received: "
                f"recalibrate_batch_norm={recalibrate_batch_norm!r}"
            )
        self.recalibrate_batch_norm = recalibrate_batch_norm
        self.refs = Refs(pairs=(), copies=(), average=None)

    def setup(self, gan):
        if self.recalibrate_batch_norm is True and gan.conditional:
            raise ValueError(
                "`recalibrate_batch_norm` must be False or None for a conditional "
                "GAN: GeneratorEMA cannot recompute a conditional generator's "
                "batch-norm statistics without labels (call "
                "gan.recalibrate_batch_norm(labels=...) after fit). Received: "
                "recalibrate_batch_norm=True"
            )
        average = gan.trick_states.get(EMA_GENERATOR)
        if average is None:
            average = gan.attach_trick_state(EMA_GENERATOR, clone_generator(gan))
        self.follow(average, gan.generator)

    @property
    def average(self):
        """The averaged generator (a `keras.Model`), or None before the
        trick is set up (`setup` with a GAN, or `follow`)."""
        return self.refs.average

    def follow(self, average, generator):
        """Averages `generator`'s weights into `average` (a copy of it)."""
        self.refs.average = average
        self.refs.pairs = tuple(
            zip(average.trainable_weights, generator.trainable_weights, strict=True)
        )
        self.refs.copies = tuple(
            zip(
                average.non_trainable_weights,
                generator.non_trainable_weights,
                strict=True,
            )
        )

    def end_step(self, outcome):
        self.update(outcome.step, outcome.finite)

    def update(self, step, finite=None):
        """One update of the average (at step `step`, where `finite`)."""
        update_average(
            self.refs.pairs,
            self.refs.copies,
            self.decay,
            step if self.warmup else None,
            where=finite,
        )

    def fit_end(self, gan):
        if self.recalibrate_batch_norm is not False and not gan.conditional:
            gan.recalibrate_batch_norm(use_ema=True)

    def trace_key(self):
        return (
            type(self),
            self.decay,
            self.warmup,
            tuple(id(a) for a, _ in self.refs.pairs),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "decay": self.decay,
            "warmup": self.warmup,
            "recalibrate_batch_norm": self.recalibrate_batch_norm,
        }
