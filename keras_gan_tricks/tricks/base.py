"""The trick protocol: the base class, what its hooks see, and their order."""

from inspect import signature

import keras

from keras_gan_tricks.tricks.signals import discriminator_signal

HOOKS = (
    "start_step",
    "discriminator_input",
    "discriminator_fakes",
    "discriminator_loss",
    "generator_logits",
    "end_step",
    "logs",
)


class Trick(keras.layers.Layer):
    """Base class of the tricks that act inside `kgt.GAN`'s training step.

    Subclass it and override only the hooks your trick needs; the GAN calls
    a hook only on the tricks that override it. Every hook but `setup` and
    `fit_end` runs inside the compiled step: write it in `keras.ops`, create
    variables in `__init__` or `setup` (never in a hook), and change them
    with `assign`.

    Example: a consistency penalty, and noise on D's inputs.

    ```python
    class Consistency(kgt.tricks.Trick):
        loss_names = ("consistency",)

        def __init__(self, weight=1.0, **kwargs):
            super().__init__(**kwargs)
            self.weight = weight

        def discriminator_loss(self, context):
            shifted = context.real + 0.05
            gap = context.discriminate(shifted) - context.real_logits
            return {"consistency": self.weight * keras.ops.mean(gap**2)}

        def get_config(self):
            return {**super().get_config(), "weight": self.weight}

    gan.compile(tricks=[Consistency(10.0), kgt.layers.InstanceNoise(0.1)])
    ```
    """

    #: Names of the terms `discriminator_loss` returns (each a metric).
    loss_names = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # A trick has no input shape to build on: its variables are made in
        # `__init__` or `setup`.
        self.built = True

    def setup(self, gan):
        """Called (host side) when `gan` takes the trick: at `compile`, or at
        the start of a `fit` for a callback's trick. Create state that
        depends on the GAN here; `gan.attach_trick_state` keeps a layer in
        the GAN (saved with it) whether or not the trick is active later."""
        del gan

    def start_step(self, step):
        """Before the step's updates. `step`: the GAN's step count (an int
        tensor: steps taken before this one)."""

    def discriminator_input(self, samples, training):
        """Returns the samples D sees: every batch, real and fake, in the D
        and the G update (and in `evaluate`, with `training=False`)."""
        return samples

    def discriminator_fakes(self, fake, training):
        """Returns the fakes one D update trains on (`fake`: fresh ones)."""
        return fake

    def discriminator_loss(self, context):
        """Returns extra terms of D's loss, `{name: scalar}` (names in
        `loss_names`), or None. See `DiscriminatorContext`."""

    def generator_logits(self, fake_logits):
        """Returns the fake logits G's loss is computed on."""
        return fake_logits

    def end_step(self, outcome):
        """After the step. See `StepOutcome`: `outcome.finite` is False when
        the step applied nothing (non-finite loss), so state should then
        usually be kept."""

    def logs(self):
        """Values to show in the progress bar and history, `{name: tensor}`."""
        return {}

    def alarm(self, step, logs):
        """Host side, every few steps of a `fit` (`kgt.callbacks.Alarms`):
        a `kgt.tricks.Alarm` when the trick's controller sits at its bound
        now (its knob at the end of its range while its signal still says D
        is ahead), else None. `step`: the fit's step (from 1); `logs`: the
        step's logs as Python floats (the tricks' `logs()` among them). A
        condition that lasts the callback's `patience` becomes one warning
        and a history entry.
        """
        del step, logs

    def fit_begin(self, gan, steps):
        """Called (host side) when a `fit` with this trick starts, after the
        callbacks' `on_train_begin` (so after `BackupAndRestore` restored
        the GAN). `steps`: the steps the fit plans (its epochs from
        `initial_epoch` times its batches per epoch), or None when Keras
        does not know them."""
        del gan, steps

    def fit_end(self, gan):
        """Called (host side) when a `fit` with this trick ends."""
        del gan

    def trace_key(self):
        """Tricks with equal keys may share a compiled step (default: the
        trick itself)."""
        return id(self)

    def hooks(self):
        """The names of the in-step hooks this trick overrides."""
        return tuple(
            name
            for name in HOOKS
            if getattr(type(self), name) is not getattr(Trick, name)
        )

    def call(self, inputs, training=False):
        return self.discriminator_input(inputs, training)

    def load_own_variables(self, store):
        # A trick that a file saved before its variables existed keeps its
        # initial values (its state starts afresh).
        if not len(store.keys()) and self.weights:
            return
        super().load_own_variables(store)


class Refs:
    """References a trick uses but does not own (layers, variables,
    optimizers of the GAN). Keras tracks the layers and variables a layer
    holds in its attributes, lists and tuples as its own; held here, they are
    not saved with the trick, nor counted among its weights."""

    def __init__(self, **items):
        self.__dict__.update(items)


class DiscriminatorContext:
    """What `Trick.discriminator_loss` sees of one discriminator update.

    Attributes:
        discriminate: callable. D as a function of a batch of samples (its
            inputs passed through every `discriminator_input` hook, the
            batch's conditions bound): D's logits.
        real, fake: the batch's real samples and the fakes D trains on.
        real_logits, fake_logits: D's logits on them.
        step: int tensor. The GAN's step count.
        d_step: int tensor. D's update count (its optimizer's iterations).
        training: bool.
        seed: `keras.random.SeedGenerator`. The GAN's random stream.
        input_gradient: callable `(fn, x) -> d sum(fn(x)) / dx`,
            differentiable (the backend's).
        run_if: callable `(pred, fn, otherwise)`: `fn()` where the boolean
            tensor `pred` holds, else `otherwise` (the backend's).
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)


class StepOutcome:
    """What `Trick.end_step` sees of a finished step.

    Attributes:
        step: int tensor. The GAN's step count after the step.
        finite: bool tensor. Whether the step was applied.
        d_loss: D's loss without the tricks' terms (the game's own).
        g_loss: G's loss.
        terms: dict of D's extra loss terms.
        real_logits, fake_logits: D's logits in its last update.

    `signal(name)` gives D's signals on those logits (`ranking_accuracy`,
    `sign_of_real`), computed once per step however many tricks read them.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)
        self.signals = {}

    def signal(self, name):
        """D's signal `name` (`"ranking"` or `"sign"`, see
        `kgt.tricks.discriminator_signal`) on this step's logits, computed
        on the first call and shared by every later one."""
        if name not in self.signals:
            self.signals[name] = discriminator_signal(
                name, self.real_logits, self.fake_logits
            )
        return self.signals[name]


class TrickCallback(keras.callbacks.Callback):
    """The callback face of a trick: `kgt.callbacks.X` for trick
    `kgt.tricks.X`, with the trick's arguments and documentation.

    In a `kgt.GAN.fit` the GAN runs `trick` inside its step (`GAN.fit`
    calls `bind`, then `unbind`), so the callback's own batch hooks do
    nothing and Keras may run them on its callback thread (`async_safe`).
    With another model, a face's hooks do the trick's work between batches.
    The trick's arguments read through the face (`face.decay` is
    `face.trick.decay`), and its config is the trick's.

    The GAN holds such a trick for one fit without tracking it as one of
    its layers, so the trick must keep its state in layers it attaches
    with `gan.attach_trick_state` in `setup` (saved with the GAN, carried in
    JAX's train state), not in variables of its own: on JAX those would be
    outside the train state (the glue says so). A trick that owns its
    variables belongs in `compile(tricks=[...])`.

    Args:
        trick: `kgt.tricks.Trick`. The trick the face carries.
    """

    #: Config keys of the face itself (not the trick's).
    face_config = ()
    _bound = False

    def __init__(self, trick):
        super().__init__()
        if not isinstance(trick, Trick):
            raise TypeError(
                f"`trick` must be a kgt.tricks.Trick. Received: trick={trick!r}"
            )
        self.trick = trick

    def __getattr__(self, name):
        # Only reached for names the face lacks: the trick's arguments.
        trick = self.__dict__.get("trick")
        arguments = () if trick is None else signature(type(trick)).parameters
        if name.startswith("_") or name not in arguments:
            raise AttributeError(name)
        return getattr(trick, name)

    @property
    def async_safe(self):
        return self._bound

    def bind(self, gan):
        """The GAN takes the callback's trick for this fit: returns it."""
        self._bound = True
        return self.trick

    def unbind(self):
        self._bound = False

    def get_config(self):
        config = self.trick.get_config()
        for key in ("name", "trainable", "dtype"):
            config.pop(key, None)
        return {**config, **{key: getattr(self, key) for key in self.face_config}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def planned_steps(params, first_epoch=0):
    """The steps a `fit` plans: its epochs from `first_epoch` (the fit's
    `initial_epoch`) times its batches per epoch, from a callback's
    `params`; None when Keras does not know them. The one rule for a fit's
    length, used by the GAN's `fit_begin` hooks and the callback faces."""
    epochs, per_epoch = params.get("epochs"), params.get("steps")
    if epochs is None or per_epoch is None:
        return None
    return max(epochs - first_epoch, 0) * per_epoch


def chain_hooks(tricks):
    """`{hook: [tricks overriding it]}`, in the tricks' order."""
    table = {name: [] for name in HOOKS}
    for trick in tricks:
        for name in trick.hooks():
            table[name].append(trick)
    return table
