"""`kgt.GAN`: adversarial training of any generator and discriminator via `fit`."""

import warnings

import keras
from keras import ops

from keras_gan_tricks import _backend
from keras_gan_tricks import labels as labels_module
from keras_gan_tricks import losses as losses_module
from keras_gan_tricks import penalties as penalties_module
from keras_gan_tricks._support import (
    BeginFitTricks,
    ConfigMixin,
    GANOptimizers,
    SamplingMixin,
    StopOnNonFinite,
    check_batch_shape,
    check_fit_data,
)
from keras_gan_tricks._utils import (
    check_int,
    register,
)
from keras_gan_tricks.architectures import joint_batch
from keras_gan_tricks.layers import (
    AdaptiveInstanceNoise,
    instance_noise_in,
    pack_samples,
)
from keras_gan_tricks.tricks import (
    DiscriminatorContext,
    NonFiniteGuard,
    PenaltyTerm,
    Refs,
    StepOutcome,
    Trick,
    TrickCallback,
    chain_hooks,
)

LATENT_DISTRIBUTIONS = ("normal", "uniform")
_BATCH_VALUES = ("d_loss", "g_loss", "d_real", "d_fake", "penalty")

# `Model.compile` arguments that have no meaning for a GAN; the GAN's own
# arguments replace them.
_REJECTED_COMPILE_ARGS = {
    "optimizer": "pass `d_optimizer=` and `g_optimizer=` instead",
    "metrics": "the GAN reports its own metrics",
    "weighted_metrics": "the GAN reports its own metrics",
    "loss_weights": "the GAN has one loss per network",
}


class _OutsideStep:
    """The step operations for objectives evaluated outside a training step
    (by a user, or `evaluate` on a fresh model): nothing to apply."""

    input_gradient = staticmethod(_backend.input_gradient)

    @staticmethod
    def run_if(pred, fn, otherwise):
        return ops.cond(pred, fn, lambda: otherwise)


@register
class GAN(SamplingMixin, ConfigMixin, keras.Model):
    """A generative adversarial network trained with `fit`.

    Wraps any generator (latent vector to sample) and any discriminator
    (sample to one logit per sample, no sigmoid, or to a map of logits as
    PatchGAN's): Sequential, functional or subclassed. Each `fit` step
    updates the discriminator `d_steps` times on the batch's real samples
    and fresh generated ones, then the generator once, each network with
    its own optimizer. The step is written once in `keras.ops`; only taking
    and applying gradients is per backend. Tricks (`kgt.tricks`) act
    inside it through their hooks: `compile(tricks=...)` for the whole life
    of the GAN, and the tricks of `kgt.callbacks` faces for one `fit`.

    A conditional GAN feeds the data's labels to both networks: the generator
    is called on `[z, labels]` and the discriminator on `[samples, labels]`.
    It is conditional when the generator is a functional model with two
    inputs, or when `condition_shape` is given; train it with
    `fit(images, labels)` or a dataset of `(images, labels)`.

    Args:
        generator: `keras.Model`. Maps `(batch, latent_dim)` latent vectors
            (and labels, if conditional) to samples.
        discriminator: `keras.Model`. Maps samples (and labels) to logits of
            shape `(batch,)` or `(batch, 1)`, or to a map of logits with
            one channel, `(batch, ..., 1)` (PatchGAN, Isola et al. 2017):
            the losses, penalties and metrics average each sample's map.
        latent_dim: int >= 1, or None to read it from the generator's input.
        latent_distribution: `"normal"` (standard normal, the default) or
            `"uniform"` (uniform in [-1, 1]).
        condition_shape: tuple of ints, or None. The shape of one label
            without the batch axis (e.g. `(1,)` for class ids or
            `(10,)` for one-hot), for a conditional GAN whose generator is
            not functional.
        condition_dtype: str. The labels' dtype when `condition_shape` is
            given.
        instance_noise: float >= 0, `kgt.layers.InstanceNoise` or None.
            Gaussian noise of this stddev added to every sample the
            discriminator sees (real and fake, in both updates) during
            training, without editing the discriminator (the first of the
            GAN's tricks). Decay it with `kgt.callbacks.InstanceNoiseDecay`.
        seed: int or None. Seeds the GAN's own random stream (latent
            vectors, label policies, penalties) for reproducible training.
        pack: int >= 1. PacGAN's packing (Lin et al. 2018): D judges `pack`
            samples at once, concatenated on the last axis, real with real
            and fake with fake, each fake from its own latent vector; build
            D for inputs of `pack` times the channels (`(h, w, c * pack)`,
            or `(d * pack,)` for vectors). The data need not change: each
            batch is packed in the step (`kgt.layers.pack_samples`).
            Everything D's side sees is packed: its input tricks (noise,
            augmentation), penalties, label policies (one target per pack)
            and metrics. Unconditional GANs only.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:

    ```python
    generator = keras.Sequential([
        keras.Input((16,)), keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(2)])
    discriminator = keras.Sequential([
        keras.Input((2,)), keras.layers.Dense(64),
        keras.layers.LeakyReLU(0.2), keras.layers.Dense(1)])
    gan = kgt.GAN(generator, discriminator, latent_dim=16)
    gan.compile(label_policy=kgt.labels.OneSidedSmoothing(0.1))
    gan.fit(np.random.normal(size=(512, 2)), batch_size=64, epochs=2)
    points = gan.generate(100, seed=0)
    ```
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=None,
        latent_distribution="normal",
        condition_shape=None,
        condition_dtype="int32",
        instance_noise=None,
        seed=None,
        pack=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pack = check_int("pack", pack, low=1)
        for arg, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, keras.layers.Layer):
                raise TypeError(
                    f"`{arg}` must be a keras.Model (or keras.layers.Layer). "
                    f"Received: {arg}={net!r} (of type {type(net).__name__})"
                )
        if generator is discriminator:
            raise ValueError(
                "`generator` and `discriminator` must be two different models. "
                f"Received the same object twice: {generator!r}"
            )
        if latent_distribution not in LATENT_DISTRIBUTIONS:
            raise ValueError(
                f"`latent_distribution` must be one of {LATENT_DISTRIBUTIONS}. "
                f"Received: latent_distribution={latent_distribution!r}"
            )
        if seed is not None:
            seed = check_int("seed", seed)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_distribution = latent_distribution
        self.seed = seed
        self.latent_dim = self._resolve_latent_dim(latent_dim)
        self.condition_shape, self.condition_dtype = self._resolve_condition(
            condition_shape, condition_dtype
        )
        if self.pack > 1 and self.conditional:
            raise ValueError(
                "Packing (PacGAN) applies to unconditional GANs: D would judge "
                f"samples of different conditions at once. Received: pack={pack}"
            )
        self.seed_generator = _backend.seed_generator(seed, name="gan_seed_generator")
        self.instance_noise = self._resolve_instance_noise(instance_noise, seed)
        # Each batch's own values, for callbacks (Keras hands them the
        # epoch's running means), in one vector: one transfer to read.
        self._batch_values = self.add_weight(
            shape=(len(_BATCH_VALUES),),
            initializer="zeros",
            trainable=False,
            name="batch_values",
        )
        self.non_finite_guard = NonFiniteGuard(name="non_finite_guard")
        # Layers holding tricks' state (EMA weights, balancer), saved,
        # restored and reloaded with the GAN.
        self.trick_states = {}
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self._term_trackers = {}
        self._build_networks()
        self.d_optimizer = None
        self.g_optimizer = None
        self.loss = None
        self.label_policy = None
        self.penalty = None
        self.tricks = []
        # The tricks of the current fit's callbacks: their state lives in
        # `trick_states`, so they are held, not tracked as the GAN's layers.
        self._fit = Refs(tricks=())
        self._hooks = chain_hooks(self._active_tricks())
        self._step_key = None
        self.d_steps = 1
        self.d_batch = "auto"
        self.joint_discriminator_batch = False
        self._warned_ignored_labels = False
        # The step of the last `fit` (1 for its first) whose loss was
        # non-finite, where that `fit` stopped, or None.
        self.non_finite_step = None

    @property
    def conditional(self):
        """Whether labels are fed to both networks."""
        return self.condition_shape is not None

    def _g_inputs(self, z, condition):
        return [z, condition] if self.conditional else z

    def _d_inputs(self, samples, condition):
        return [samples, condition] if self.conditional else samples

    # Compilation.

    def compile(
        self,
        d_optimizer=None,
        g_optimizer=None,
        loss="non_saturating",
        label_policy=None,
        penalty=None,
        d_steps=1,
        d_batch="auto",
        tricks=None,
        **kwargs,
    ):
        """Configures the GAN for training.

        Args:
            d_optimizer: `keras.optimizers.Optimizer`, name or config. The
                discriminator's optimizer; `Adam(2e-4, beta_1=0.5)` (Radford
                et al. 2016) when None.
            g_optimizer: Same, for the generator. Must be a different object.
            loss: str or `kgt.losses.GANLoss`. See `kgt.losses`.
            label_policy: `kgt.labels.LabelPolicy` or None. Perturbs the
                discriminator's targets (never the generator's).
            penalty: `kgt.penalties.Penalty`, a list of them, or None.
                Added to the discriminator's loss (each a
                `kgt.tricks.PenaltyTerm`, after `tricks`): one is logged as
                `penalty`, several each under its own name (`penalty_r1`,
                `penalty_r2`). A `kgt.penalties.LeCam` in the list joins
                the tricks.
            d_steps: int >= 1. Discriminator updates per generator update,
                each on the batch's real samples and fresh latent vectors.
            d_batch: `"joint"`, `"separate"` or `"auto"`. How the
                discriminator sees a step's real and fake batches: in one
                call on both concatenated (faster: half the calls, as in
                Keras's DCGAN guide) or in two calls. Joint is only right
                when the discriminator treats each sample on its own; batch
                normalization or `MinibatchStdDev` would mix real and fake
                statistics. `"auto"` is joint when every layer of the
                discriminator is a known per-sample Keras or kgt layer
                (`GAN.joint_discriminator_batch` says which was chosen).
            tricks: list of `kgt.tricks.Trick`, or None. Run inside every
                training step, in this order (see `kgt.tricks`); saved with
                the GAN.
            **kwargs: `keras.Model.compile` options that apply to a GAN:
                `run_eagerly`, `jit_compile`, `steps_per_execution`.
        """
        for arg, why in _REJECTED_COMPILE_ARGS.items():
            if arg in kwargs:
                raise TypeError(
                    f"kgt.GAN.compile() does not take `{arg}`: {why}. "
                    f"Received: {arg}={kwargs[arg]!r}"
                )
        d_steps = check_int("d_steps", d_steps, low=1)
        joint = joint_batch(self.discriminator, d_batch)
        loss = losses_module.get(loss)
        label_policy = labels_module.get(label_policy)
        penalties, penalty_tricks = penalties_module.get_many(penalty)
        tricks = self._check_tricks(tricks)
        if label_policy is not None and not loss.uses_labels:
            raise ValueError(
                f"The {type(loss).__name__} loss has fixed targets, so a label "
                "policy would have no effect. Use a cross-entropy or least-squares "
                f"loss, or drop it. Received: label_policy={label_policy!r}"
            )
        d_optimizer = self._get_optimizer("d_optimizer", d_optimizer)
        g_optimizer = self._get_optimizer("g_optimizer", g_optimizer)
        if d_optimizer is g_optimizer:
            raise ValueError(
                "`d_optimizer` and `g_optimizer` must be two different optimizer "
                "objects: each holds its own network's slots. "
                f"Received the same object twice: {d_optimizer!r}"
            )
        # As Keras's own compile does for `model.optimizer`: under float16
        # mixed precision each optimizer scales its loss (dynamically), so
        # small gradients do not flush to zero.
        if kwargs.pop("auto_scale_loss", True) and self._uses_float16():
            d_optimizer, g_optimizer = (
                optimizer
                if isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
                else keras.optimizers.LossScaleOptimizer(optimizer)
                for optimizer in (d_optimizer, g_optimizer)
            )
        for arg, net in (
            ("discriminator", self.discriminator),
            ("generator", self.generator),
        ):
            if not net.trainable_variables:
                raise ValueError(
                    f"The {arg} has no trainable variables (is `{arg}.trainable` "
                    "False?), so it cannot be trained."
                )
        self._glue = _backend.get()
        self._glue.check_limits(self, penalties or None, kwargs)
        # No Keras-level optimizer: the default would be an unused RMSprop
        # whose slots for every variable get built and saved.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # What Keras's trainers and callbacks see as `model.optimizer`.
        self.optimizer = GANOptimizers(d_optimizer, g_optimizer)
        self.loss = loss
        self.label_policy = label_policy
        # As given: one penalty (0.1.0's attribute), a list, or None.
        if isinstance(penalty, (list, tuple)):
            self.penalty = [*penalties, *penalty_tricks] or None
        elif penalty_tricks:  # a LeCam given alone
            self.penalty = penalty_tricks
        else:
            self.penalty = penalties[0] if penalties else None
        self.d_steps = d_steps
        self.d_batch = d_batch
        self.joint_discriminator_batch = joint
        self._keras_compile_args = dict(kwargs)
        names = penalties_module.term_names(penalties)
        for term, one in zip(names, penalties, strict=True):
            layer = "penalty_term" if term == "penalty" else f"{term}_term"
            tricks.append(PenaltyTerm(one, term=term, name=layer))
        tricks.extend(penalty_tricks)
        self.tricks = tricks
        for trick in tricks:
            trick.setup(self)
        self._use_tricks([])
        # Create the slots now, outside any compiled function, so that they
        # exist before weights are loaded into them.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    # The tricks of a step.

    def _active_tricks(self):
        noise = [] if self.instance_noise is None else [self.instance_noise]
        return [*noise, *self.tricks, *self._fit.tricks]

    def _use_tricks(self, fit_tricks):
        """Runs the compile tricks and `fit_tricks` in the steps from now on
        (a new compiled step only when the set changes)."""
        self._fit.tricks = tuple(fit_tricks)
        active = self._active_tricks()
        key = tuple(t.trace_key() for t in active)
        if key != self._step_key:
            self._step_key = key
            self._hooks = chain_hooks(active)
            for name in (n for t in active for n in t.loss_names):
                if name not in self._term_trackers:
                    self._term_trackers[name] = keras.metrics.Mean(name=name)
            self.train_function = None
            self.test_function = None

    def discriminator_input_tricks(self):
        """The GAN's tricks that transform D's inputs, then the discriminator."""
        tricks = self._active_tricks()
        return [t for t in tricks if "discriminator_input" in t.hooks()] + [
            self.discriminator
        ]

    def add_instance_noise(self, stddev):
        """Gives the GAN its own instance noise (the `instance_noise`
        option) at `stddev` if it has none, saved with it; returns it."""
        if self.instance_noise is None:
            self.instance_noise = self._resolve_instance_noise(stddev, self.seed)
            self._use_tricks(self._fit.tricks)
        return self.instance_noise

    def adaptive_instance_noise(self):
        """The `kgt.layers.AdaptiveInstanceNoise` tricks applied to D's
        inputs (they set their own stddev)."""
        return [
            t for t in self._active_tricks() if isinstance(t, AdaptiveInstanceNoise)
        ]

    def instance_noise_layers(self):
        """Every `kgt.layers.InstanceNoise` applied to D's inputs: the
        `instance_noise` option, such tricks, and those inside D."""
        return instance_noise_in(*self.discriminator_input_tricks())

    @property
    def layers(self):
        # Keras keeps every layer ever assigned to the GAN; the tricks of an
        # earlier `compile` are no part of it any more (nor of its file).
        current = {id(t) for t in self.tricks}
        return [
            layer
            for layer in super().layers
            if not isinstance(layer, Trick)
            or id(layer) in current
            or layer is self.instance_noise
        ]

    @property
    def metrics(self):
        trackers = [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_real_tracker,
            self.d_fake_tracker,
        ]
        names = [n for t in self._hooks["discriminator_loss"] for n in t.loss_names]
        return trackers + [self._term_trackers[n] for n in names]

    # The step, written once in keras.ops.

    def sample_latent_tensor(self, batch_size):
        """Latent vectors drawn from the GAN's own seed generator (in-step)."""
        shape = (batch_size, self.latent_dim)
        if self.latent_distribution == "uniform":
            return keras.random.uniform(shape, -1.0, 1.0, seed=self.seed_generator)
        return keras.random.normal(shape, seed=self.seed_generator)

    def _fake(self, batch_size, condition, training):
        z = self.sample_latent_tensor(batch_size)
        return self.generator(self._g_inputs(z, condition), training=training)

    def _packed(self, samples):
        """A batch as D sees it: packed when `pack > 1`."""
        return pack_samples(samples, self.pack)

    def _discriminate(self, samples, condition, training):
        for trick in self._hooks["discriminator_input"]:
            samples = trick.discriminator_input(samples, training)
        return self.discriminator(self._d_inputs(samples, condition), training=training)

    def discriminator_objective(
        self, real, condition=None, training=True, step_ops=None
    ):
        """The discriminator's loss on a real batch and a fresh fake batch.

        Returns `(loss, aux)`: `loss` includes the tricks' terms (the
        penalty among them); `aux` holds `real_logits`, `fake_logits`,
        `terms` (each term), `penalty` (their sum, 0 without any) and
        `game_loss` (the loss without them). Label policies act only when
        `training` is True. `step_ops`: the backend's operations of the
        step calling it (the tricks' terms take input gradients and
        conditions from it); None outside a step.
        """
        step_ops = step_ops or _OutsideStep
        fake = ops.stop_gradient(self._fake(ops.shape(real)[0], condition, training))
        for trick in self._hooks["discriminator_fakes"]:
            fake = trick.discriminator_fakes(fake, training)
        real, fake = self._packed(real), self._packed(fake)
        batch_size = ops.shape(real)[0]
        if self.joint_discriminator_batch:
            both = None
            if self.conditional:
                both = ops.concatenate([condition, condition], axis=0)
            logits = self._discriminate(
                ops.concatenate([real, fake], axis=0), both, training
            )
            real_logits, fake_logits = ops.split(logits, 2, axis=0)
        else:
            real_logits = self._discriminate(real, condition, training)
            fake_logits = self._discriminate(fake, condition, training)
        real_labels = ops.ones((batch_size,), dtype="float32")
        fake_labels = ops.zeros((batch_size,), dtype="float32")
        if training and self.label_policy is not None:
            real_labels, fake_labels = self.label_policy(
                real_labels, fake_labels, seed=self.seed_generator
            )
        game = self.loss.discriminator_loss(
            real_logits, fake_logits, real_labels, fake_labels
        )
        terms = {}
        if self._hooks["discriminator_loss"]:
            context = DiscriminatorContext(
                discriminate=lambda x: self._discriminate(x, condition, training),
                real=real,
                fake=fake,
                real_logits=real_logits,
                fake_logits=fake_logits,
                step=self.g_optimizer.iterations,
                d_step=self.d_optimizer.iterations,
                training=training,
                seed=self.seed_generator,
                input_gradient=step_ops.input_gradient,
                run_if=step_ops.run_if,
            )
            for trick in self._hooks["discriminator_loss"]:
                for name, value in (trick.discriminator_loss(context) or {}).items():
                    if name not in trick.loss_names or name in terms:
                        raise ValueError(
                            f"The trick {trick.name!r} returned a loss term {name!r} "
                            "that is not among its `loss_names` "
                            f"{tuple(trick.loss_names)}, or that another trick "
                            "also returns. Name each term once, in `loss_names`."
                        )
                    terms[name] = ops.cast(value, "float32")
        extra = sum(terms.values()) if terms else ops.zeros((), "float32")
        return game + extra, {
            "real_logits": real_logits,
            "fake_logits": fake_logits,
            "penalty": extra,
            "game_loss": game,
            "terms": terms,
        }

    def generator_objective(self, batch_size, condition=None, training=True, real=None):
        """The generator's loss on a fresh fake batch; returns `(loss, aux)`.

        `real`: the batch's real samples, for a loss whose generator term
        reads D's outputs on them (`loss.needs_real_logits`, the
        relativistic pairing loss)."""
        fake_logits = self._discriminate(
            self._packed(self._fake(batch_size, condition, training)),
            condition,
            training,
        )
        for trick in self._hooks["generator_logits"]:
            fake_logits = trick.generator_logits(fake_logits)
        aux = {"fake_logits": fake_logits}
        if not self.loss.needs_real_logits:
            return self.loss.generator_loss(fake_logits), aux
        if real is None:
            raise ValueError(
                f"The {type(self.loss).__name__} loss's generator term needs the "
                "real batch: pass `real=` to generator_objective."
            )
        real_logits = ops.stop_gradient(
            self._discriminate(self._packed(real), condition, training)
        )
        aux["real_logits"] = real_logits
        return self.loss.generator_loss(fake_logits, real_logits), aux

    def _unpack(self, data):
        """Splits a batch into samples and labels, checking it against the GAN."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError(
                "kgt.GAN does not use sample weights; the data gave a third "
                "element (sample_weight). Pass (images,) or (images, labels)."
            )
        if isinstance(x, (list, tuple)):
            if len(x) == 2 and y is None:
                x, y = x
            else:
                raise ValueError(
                    "Each batch must be images or (images, labels). "
                    f"Received a batch x of {len(x)} tensors."
                )
        check_batch_shape(self, x)
        if self.conditional and y is None:
            raise ValueError(
                "This GAN is conditional: pass labels with the images, "
                "`fit(images, labels)` or a dataset of (images, labels)."
            )
        if not self.conditional and y is not None:
            if not self._warned_ignored_labels:
                warnings.warn(
                    "kgt.GAN is unconditional, so the labels in the data are "
                    "ignored. Build a conditional GAN to use them.",
                    stacklevel=3,
                )
                self._warned_ignored_labels = True
            y = None
        return ops.cast(x, self.generator.compute_dtype), y

    def _record(self, d_loss, g_loss, d_aux, training):
        d_real = ops.mean(self.loss.score(d_aux["real_logits"]))
        d_fake = ops.mean(self.loss.score(d_aux["fake_logits"]))
        terms = d_aux["terms"]
        if training:
            values = (d_loss, g_loss, d_real, d_fake, d_aux["penalty"])
            self._batch_values.assign(
                ops.stack([ops.cast(value, "float32") for value in values])
            )
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(d_real)
        self.d_fake_tracker.update_state(d_fake)
        for name, value in terms.items():
            self._term_trackers[name].update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, *args):
        """One step of `fit`: `d_steps` discriminator updates, then one
        generator update. Keras calls it with `(data,)`, or with
        `(state, data)` on JAX, where it also returns the new state."""
        return self._glue.run_step(self, self._train_step, args, with_optimizer=True)

    def test_step(self, *args):
        """One step of `evaluate`: both losses on a batch, no update."""
        return self._glue.run_step(self, self._test_step, args, with_optimizer=False)

    def _train_step(self, data, step_ops):
        real, condition = self._unpack(data)
        hooks = self._hooks
        for trick in hooks["start_step"]:
            trick.start_step(self.g_optimizer.iterations)
        token = self.non_finite_guard.begin(
            [
                v
                for net in (self.generator, self.discriminator)
                for v in net.non_trainable_variables
            ]
        )
        finite = token["allowed"]
        for _ in range(self.d_steps):
            d_loss, d_aux, finite = step_ops.minimize(
                lambda: self.discriminator_objective(
                    real, condition, step_ops=step_ops
                ),
                self.discriminator.trainable_variables,
                self.d_optimizer,
                allow=finite,
            )
        g_loss, _, finite = step_ops.minimize(
            lambda: self.generator_objective(ops.shape(real)[0], condition, real=real),
            self.generator.trainable_variables,
            self.g_optimizer,
            allow=finite,
        )
        self.non_finite_guard.end(token, finite)
        if hooks["end_step"]:
            outcome = StepOutcome(
                step=self.g_optimizer.iterations,
                finite=finite,
                d_loss=d_aux["game_loss"],
                g_loss=g_loss,
                terms=d_aux["terms"],
                real_logits=d_aux["real_logits"],
                fake_logits=d_aux["fake_logits"],
            )
            for trick in hooks["end_step"]:
                trick.end_step(outcome)
        logs = self._record(d_loss, g_loss, d_aux, training=True)
        for trick in hooks["logs"]:
            for name, value in trick.logs().items():
                # A variable's value as the step left it (JAX: in its scope).
                logs[name] = value.value if isinstance(value, keras.Variable) else value
        return logs

    def _test_step(self, data, step_ops):
        real, condition = self._unpack(data)
        d_loss, d_aux = self.discriminator_objective(
            real, condition, training=False, step_ops=step_ops
        )
        g_loss, _ = self.generator_objective(
            ops.shape(real)[0], condition, training=False, real=real
        )
        return self._record(d_loss, g_loss, d_aux, training=False)

    def train_on_batch(self, *args, **kwargs):
        # Each call stands alone: a non-finite batch skips its own update only.
        self.non_finite_guard.reset()
        return super().train_on_batch(*args, **kwargs)

    def batch_values(self):
        """The last training batch's own `d_loss`, `g_loss`, `d_real`, `d_fake`
        and `penalty` (the tricks' terms of D's loss, 0 without any;
        `d_loss` includes them), as Python floats.

        Keras gives batch-level callbacks the epoch's running means; this
        gives the values of the latest batch alone.
        """
        self.sync_state()
        values = ops.convert_to_numpy(self._batch_values)
        return {
            name: float(value)
            for name, value in zip(_BATCH_VALUES, values, strict=True)
        }

    def call(self, inputs, training=False):
        """Runs the generator: `gan(z)` (or `gan([z, labels])`) gives samples."""
        return self.generator(inputs, training=training)

    def fit(self, x=None, y=None, *args, **kwargs):
        check_fit_data(self, x, y)
        self.non_finite_step = None
        args = list(args)
        if len(args) >= 4:  # batch_size, epochs, verbose, callbacks, ...
            callbacks = args[3] = [*(args[3] or []), StopOnNonFinite()]
        else:
            callbacks = [*(kwargs.get("callbacks") or []), StopOnNonFinite()]
            kwargs["callbacks"] = callbacks
        # Callback faces of tricks hand theirs to the step now, before Keras
        # reads their `async_safe`.
        initial_epoch = kwargs.get("initial_epoch", args[9] if len(args) > 9 else 0)
        callbacks.insert(-1, BeginFitTricks(initial_epoch))
        faces = [cb for cb in callbacks if isinstance(cb, TrickCallback)]
        fit_tricks = [cb.bind(self) for cb in faces]
        fit_tricks = [t for t in fit_tricks if t is not None]
        for trick in fit_tricks:
            trick.setup(self)
        self._use_tricks(fit_tricks)
        try:
            history = super().fit(x, y, *args, **kwargs)
            for trick in self._active_tricks():
                trick.fit_end(self)
            return history
        finally:
            for callback in faces:
                callback.unbind()
            # Keras does this for `model.optimizer` only: an optimizer with
            # `use_ema=True` swaps in its moving averages when training ends.
            if self.compiled:
                for optimizer, net in (
                    (self.d_optimizer, self.discriminator),
                    (self.g_optimizer, self.generator),
                ):
                    optimizer.finalize_variable_values(net.trainable_variables)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        check_fit_data(self, x, y)
        return super().evaluate(x, y, *args, **kwargs)

    # State kept for tricks.

    def sync_state(self):
        """Brings the variables up to date during `fit` (on JAX they live in
        Keras's train state; Keras does this when a callback reads
        `self.model`), so reading the GAN from any code sees the latest."""
        self._backend_glue().sync_state(self)

    def _backend_glue(self):
        return getattr(self, "_glue", None) or _backend.get()

    def attach_trick_state(self, name, layer):
        """Keeps `layer` (a trick's state) in the GAN, saved with it.

        Returns the layer already attached under `name` if there is one (for
        example after loading), else `layer`.
        """
        if name in self.trick_states:
            return self.trick_states[name]
        self.trick_states[name] = layer
        # A compiled step would not see state added after it was traced.
        self.train_function = None
        return layer
