"""Skipping a non-finite step: the GAN keeps its last finite state."""

import keras
from keras import ops

from keras_gan_tricks._utils import register


@register
class NonFiniteGuard(keras.layers.Layer):
    """Keeps a GAN's last finite state when a step turns non-finite.

    Owns the latch `[steps of this fit, first non-finite step or 0]`: once a
    step is non-finite, the later steps of the same `fit` apply nothing, so
    `fit` may dispatch steps ahead of the callback that stops it and still
    keep the last finite state. `begin` snapshots the running statistics
    (batch norm, spectral norm's vector) that a forward pass assigns; `end`
    puts them back after a non-finite step (the glue skips the weights' and
    optimizers' updates itself).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.latch = self.add_weight(
            shape=(2,),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            name="non_finite",
        )
        self.built = True

    def begin(self, statistics):
        """Snapshots `statistics` (variables); returns a token for `end`
        whose `allowed` says whether this step may apply anything."""
        saved = [ops.copy(variable.value) for variable in statistics]
        steps, first = ops.unstack(self.latch.value)
        return {
            "statistics": list(statistics),
            "saved": saved,
            "steps": steps,
            "first": first,
            "allowed": ops.equal(first, 0),
        }

    def end(self, token, finite):
        for variable, value in zip(token["statistics"], token["saved"], strict=True):
            variable.assign(ops.where(finite, variable.value, value))
        steps = token["steps"] + 1
        first = ops.where(
            ops.logical_and(token["allowed"], ops.logical_not(finite)),
            steps,
            token["first"],
        )
        self.latch.assign(ops.cast(ops.stack([steps, first]), "int32"))

    def reset(self):
        self.latch.assign(ops.zeros((2,), "int32"))

    def first_non_finite(self):
        """The first non-finite step of this fit, or 0 (host side)."""
        return int(ops.convert_to_numpy(self.latch)[1])

    def load_own_variables(self, store):
        if len(store.keys()):  # 0.1.0 files kept the latch in the GAN
            super().load_own_variables(store)
