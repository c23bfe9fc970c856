"""The tricks of a step, in order, and their hooks applied in turn (as
`optax.chain` composes transforms)."""

import keras
from keras import ops

from keras_gan_tricks.tricks.base import chain_hooks


class TrickChain:
    """The tricks one training step runs, in order, and their hooks.

    `kgt.GAN` holds one: its `instance_noise` option, then `compile`'s
    tricks, then the tricks of the current fit's callbacks. Each method
    applies one hook of every trick that overrides it, in that order.
    Plain Python: the tricks' variables belong to the GAN (tracked through
    its `tricks`, `instance_noise` and `trick_states`).
    """

    def __init__(self):
        self.tricks = ()
        self.hooks = chain_hooks(())
        self.key = None

    def use(self, tricks):
        """Runs `tricks` from now on; returns whether a compiled step must
        be traced anew (the tricks' trace keys changed)."""
        self.tricks = tuple(tricks)
        key = tuple(t.trace_key() for t in self.tricks)
        if key == self.key:
            return False
        self.key = key
        self.hooks = chain_hooks(self.tricks)
        return True

    @property
    def loss_names(self):
        """The names of the tricks' terms of D's loss, in order."""
        return [n for t in self.hooks["discriminator_loss"] for n in t.loss_names]

    def start_step(self, step):
        for trick in self.hooks["start_step"]:
            trick.start_step(step)

    def discriminator_input(self, samples, training):
        for trick in self.hooks["discriminator_input"]:
            samples = trick.discriminator_input(samples, training)
        return samples

    def discriminator_fakes(self, fake, training):
        for trick in self.hooks["discriminator_fakes"]:
            fake = trick.discriminator_fakes(fake, training)
        return fake

    def discriminator_terms(self, context):
        """Each trick's terms of D's loss, `{name: float32 scalar}`."""
        terms = {}
        for trick in self.hooks["discriminator_loss"]:
            for name, value in (trick.discriminator_loss(context) or {}).items():
                if name not in trick.loss_names or name in terms:
                    raise ValueError(
                        f"The trick {trick.name!r} returned a loss term {name!r} "
                        "that is not among its `loss_names` "
                        f"{tuple(trick.loss_names)}, or that another trick "
                        "also returns. Name each term once, in `loss_names`."
                    )
                terms[name] = ops.cast(value, "float32")
        return terms

    def generator_logits(self, fake_logits):
        for trick in self.hooks["generator_logits"]:
            fake_logits = trick.generator_logits(fake_logits)
        return fake_logits

    def end_step(self, outcome):
        for trick in self.hooks["end_step"]:
            trick.end_step(outcome)

    def logs(self):
        """The tricks' values for the progress bar, `{name: tensor}`."""
        logs = {}
        for trick in self.hooks["logs"]:
            for name, value in trick.logs().items():
                # A variable's value as the step left it (JAX: in its scope).
                logs[name] = value.value if isinstance(value, keras.Variable) else value
        return logs
