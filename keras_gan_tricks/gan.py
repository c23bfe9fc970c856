"""`kgt.GAN`: adversarial training of any generator and discriminator via `fit`.

The class and its step. Building and checking it (`_build`), sampling from
it (`_sampling`) and what every `fit` adds (`_fit`) are plain functions and
small objects beside it.
"""

import keras
from keras import ops

from keras_gan_tricks import _backend, _build, _fit, _objective, _sampling
from keras_gan_tricks._backend import primitives
from keras_gan_tricks._utils import check_int, register
from keras_gan_tricks.architectures import joint_batch
from keras_gan_tricks.tricks import (
    EMA_GENERATOR,
    AdaptiveInstanceNoise,
    NonFiniteGuard,
    Refs,
    StepOutcome,
    Trick,
    TrickChain,
    instance_noise_in,
)

BATCH_VALUES = ("d_loss", "g_loss", "d_real", "d_fake", "penalty")


@register
class GAN(keras.Model):
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

    `gan.generator` is the network the optimizer trains; with
    `kgt.callbacks.GeneratorEMA` the samples come from the average of its
    weights, `gan.sampling_generator()`. `gan.export_generator(path)` saves
    the one that samples alone, for `keras.saving.load_model`.

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
            samples at once, concatenated on the last axis (real with real,
            fake with fake); build D for `pack` times the channels. Each
            batch is packed in the step (`kgt.layers.pack_samples`), and so
            is all D sees: input tricks, penalties, label policies (one
            target per pack), metrics. Unconditional GANs only.
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
        _build.check_networks(generator, discriminator, latent_distribution)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_distribution = latent_distribution
        self.seed = None if seed is None else check_int("seed", seed)
        self.latent_dim = _build.resolve_latent_dim(generator, latent_dim)
        self.condition_shape, self.condition_dtype = _build.resolve_condition(
            generator, condition_shape, condition_dtype
        )
        _build.check_pack(self.pack, self.conditional)
        self.seed_generator = primitives.seed_generator(seed, name="gan_seed_generator")
        self.instance_noise = _build.resolve_instance_noise(instance_noise, seed)
        # Each batch's own values, for callbacks (Keras hands them the
        # epoch's running means), in one vector: one transfer to read.
        self._batch_values = self.add_weight(
            shape=(len(BATCH_VALUES),),
            initializer="zeros",
            trainable=False,
            name="batch_values",
        )
        self.non_finite_guard = NonFiniteGuard(name="non_finite_guard")
        # Layers holding tricks' state (EMA weights, balancer), saved,
        # restored and reloaded with the GAN.
        self.trick_states = {}
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("d_loss", "g_loss", "d_real", "d_fake")
        }
        self.sample_shape = _build.build_networks(self)
        self.built = True
        self.d_optimizer = self.g_optimizer = self.loss = None
        self.label_policy = self.penalty = None
        self.tricks = []
        self.d_steps, self.d_batch, self.joint_discriminator_batch = 1, "auto", False
        # The tricks of the current fit's callbacks: their state lives in
        # `trick_states`, so they are held, not tracked as the GAN's layers.
        self._fit = Refs(tricks=())
        self._chain = TrickChain()
        self._chain.use(self.active_tricks())
        self.compile_options = {}
        # The step of the last `fit` (1 for its first) whose loss was
        # non-finite, where that `fit` stopped, or None.
        self.non_finite_step = None

    @property
    def conditional(self):
        """Whether labels are fed to both networks."""
        return self.condition_shape is not None

    def symbolic_generator_inputs(self):
        """Symbolic inputs of the generator: `z`, or `[z, labels]`."""
        return _build.symbolic_generator_inputs(
            self.latent_dim, self.condition_shape, self.condition_dtype
        )

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
        _build.check_compile_options(kwargs)
        d_steps = check_int("d_steps", d_steps, low=1)
        joint = joint_batch(self.discriminator, d_batch)
        optimizers, loss, label_policy, (plain, extra), tricks = _build.compile_parts(
            self, d_optimizer, g_optimizer, loss, label_policy, penalty, tricks
        )
        nets = (self, self.generator, self.discriminator)
        if kwargs.pop("auto_scale_loss", True) and _build.uses_float16(*nets):
            optimizers = _build.loss_scaled(optimizers)
        self._glue = _backend.get()
        self._glue.check_limits(self, plain or None, kwargs)
        # No Keras-level optimizer: the default would be an unused RMSprop
        # whose slots for every variable get built and saved.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer, self.g_optimizer = optimizers
        # What Keras's trainers and callbacks see as `model.optimizer`.
        self.optimizer = _fit.GANOptimizers(*optimizers)
        self.loss, self.label_policy = loss, label_policy
        self.penalty = _build.penalty_attribute(penalty, plain, extra)
        self.d_steps, self.d_batch = d_steps, d_batch
        self.joint_discriminator_batch = joint
        self.compile_options = dict(kwargs)
        self.tricks = tricks
        for trick in tricks:
            trick.setup(self)
        self._use_tricks([])
        # Create the slots now, outside any compiled function, so that they
        # exist before weights are loaded into them.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        return _build.compile_config(self) if self.compiled else {}

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        self.compile(**config)

    def get_config(self):
        return _build.gan_config(self)

    @classmethod
    def from_config(cls, config):
        return _build.gan_from_config(cls, config)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        _sampling.save_streams(self, store)

    def load_own_variables(self, store):
        keys = _sampling.load_streams(self, store)
        # The GAN's own variable is its batch values ("0"). 0.1.0 kept the
        # non-finite latch after it ("1"); the latch restarts with every
        # fit (now the `NonFiniteGuard`'s), so it is not carried over.
        super().load_own_variables({k: store[k] for k in keys if k != "1"})

    # The tricks of a step.

    def active_tricks(self):
        """The tricks the step runs, in order: the `instance_noise` option,
        `compile`'s tricks, then those of the current fit's callbacks."""
        noise = [] if self.instance_noise is None else [self.instance_noise]
        return [*noise, *self.tricks, *self._fit.tricks]

    def _use_tricks(self, fit_tricks):
        """Runs the compile tricks and `fit_tricks` in the steps from now on
        (a new compiled step only when the set changes)."""
        self._fit.tricks = tuple(fit_tricks)
        if self._chain.use(self.active_tricks()):
            for name in self._chain.loss_names:
                if name not in self._trackers:
                    self._trackers[name] = keras.metrics.Mean(name=name)
            self.train_function = None
            self.test_function = None

    def discriminator_input_tricks(self):
        """The GAN's tricks that transform D's inputs, then the discriminator."""
        tricks = self.active_tricks()
        return [t for t in tricks if "discriminator_input" in t.hooks()] + [
            self.discriminator
        ]

    def add_instance_noise(self, stddev):
        """Gives the GAN its own instance noise (the `instance_noise`
        option) at `stddev` if it has none, saved with it; returns it."""
        if self.instance_noise is None:
            self.instance_noise = _build.resolve_instance_noise(stddev, self.seed)
            self._use_tricks(self._fit.tricks)
        return self.instance_noise

    def adaptive_instance_noise(self):
        """The `kgt.layers.AdaptiveInstanceNoise` tricks applied to D's
        inputs (they set their own stddev)."""
        return [t for t in self.active_tricks() if isinstance(t, AdaptiveInstanceNoise)]

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
        names = ["d_loss", "g_loss", "d_real", "d_fake", *self._chain.loss_names]
        return [self._trackers[name] for name in names]

    # The step, written once in keras.ops.

    def sample_latent_tensor(self, batch_size):
        """Latent vectors drawn from the GAN's own seed generator (in-step)."""
        return _sampling.sample_latent(
            (batch_size, self.latent_dim), self.latent_distribution, self.seed_generator
        )

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
        return _objective.discriminator_objective(
            self, self._chain, real, condition, training, step_ops
        )

    def generator_objective(self, batch_size, condition=None, training=True, real=None):
        """The generator's loss on a fresh fake batch; returns `(loss, aux)`.

        `real`: the batch's real samples, for a loss whose generator term
        reads D's outputs on them (`loss.needs_real_logits`, the
        relativistic pairing loss)."""
        return _objective.generator_objective(
            self, self._chain, batch_size, condition, training, real
        )

    def _record(self, d_loss, g_loss, d_aux, training):
        d_real = ops.mean(self.loss.score(d_aux["real_logits"]))
        d_fake = ops.mean(self.loss.score(d_aux["fake_logits"]))
        if training:
            values = (d_loss, g_loss, d_real, d_fake, d_aux["penalty"])
            self._batch_values.assign(
                ops.stack([ops.cast(value, "float32") for value in values])
            )
        values = {"d_loss": d_loss, "g_loss": g_loss, "d_real": d_real}
        values.update(d_fake=d_fake, **d_aux["terms"])
        for name, value in values.items():
            self._trackers[name].update_state(value)
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
        real, condition = _fit.unpack(self, data)
        self._chain.start_step(self.g_optimizer.iterations)
        statistics = [
            v
            for net in (self.generator, self.discriminator)
            for v in net.non_trainable_variables
        ]
        token = self.non_finite_guard.begin(statistics)
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
        outcome = StepOutcome(
            step=self.g_optimizer.iterations,
            finite=finite,
            d_loss=d_aux["game_loss"],
            g_loss=g_loss,
            terms=d_aux["terms"],
            real_logits=d_aux["real_logits"],
            fake_logits=d_aux["fake_logits"],
        )
        self._chain.end_step(outcome)
        logs = self._record(d_loss, g_loss, d_aux, training=True)
        return {**logs, **self._chain.logs()}

    def _test_step(self, data, step_ops):
        real, condition = _fit.unpack(self, data)
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
            name: float(value) for name, value in zip(BATCH_VALUES, values, strict=True)
        }

    def call(self, inputs, training=False):
        """Runs the generator: `gan(z)` (or `gan([z, labels])`) gives samples."""
        return self.generator(inputs, training=training)

    # Training and sampling.

    def fit(self, x=None, y=None, *args, **kwargs):
        _fit.check_fit_data(self, x, y)
        self.non_finite_step = None
        bound = _fit.fit_arguments(keras.Model.fit, self, (x, y, *args), kwargs)
        faces = _fit.add_fit_callbacks(bound)
        # Callback faces of tricks hand theirs to the step now, before Keras
        # reads their `async_safe`.
        fit_tricks = [t for t in (cb.bind(self) for cb in faces) if t is not None]
        for trick in fit_tricks:
            trick.setup(self)
        self._use_tricks(fit_tricks)
        try:
            history = super().fit(*bound.args[1:], **bound.kwargs)
            for trick in self.active_tricks():
                trick.fit_end(self)
            return history
        finally:
            for callback in faces:
                callback.unbind()
            _fit.finalize_optimizers(self)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        _fit.check_fit_data(self, x, y)
        return super().evaluate(x, y, *args, **kwargs)

    def sample_latent(self, n, seed=None):
        """Returns `n` latent vectors as a NumPy array.

        Drawn with NumPy from `seed`, so the same seed gives the same vectors
        on every backend and after saving and loading.

        Args:
            n: int >= 1. How many vectors.
            seed: int or None. None draws fresh entropy.
        """
        n = check_int("n", n, low=1)
        if seed is not None:
            seed = check_int("seed", seed, low=0)
        return _sampling.sample_latent(
            (n, self.latent_dim), self.latent_distribution, seed
        )

    def generate(self, n, seed=None, labels=None, batch_size=256, use_ema=True):
        """Returns `n` generated samples as a float32 NumPy array (inference mode).

        Args:
            n: int >= 1. How many samples.
            seed: int or None. Seeds the latent vectors (see `sample_latent`):
                the same seed gives the same samples from the same weights.
            labels: array of `n` labels, for a conditional GAN (required
                there, rejected otherwise).
            batch_size: int >= 1. Samples per generator call.
            use_ema: bool. Sample from the moving average of the generator's
                weights when `kgt.callbacks.GeneratorEMA` keeps one.
        """
        self.sync_state()
        generator = self.sampling_generator(use_ema)
        return _sampling.generate(self, generator, n, seed, labels, batch_size)

    def recalibrate_batch_norm(
        self, batches=16, batch_size=256, labels=None, seed=0, use_ema=True
    ):
        """Recomputes the generator's batch-norm statistics from its own
        samples ("standing statistics", BigGAN).

        Batch norm's moving statistics lag a moving generator and are not
        an averaged generator's at all. This runs the generator in training
        mode on `batches` batches of latents and sets each batch-norm
        layer's moving mean and variance to their batch statistics' average
        (weights unchanged; dropout and spectral normalization act as in
        training). `GeneratorEMA` does it when `fit` ends. Not inside `fit`.

        Args:
            batches: int >= 1. Generator calls to average over.
            batch_size: int >= 2. Latents per call.
            labels: for a conditional GAN, an array of conditions (any
                number, shaped like `generate`'s labels); each call draws
                `batch_size` of them. Rejected for an unconditional GAN.
            seed: int >= 0. Seeds the latents (and the labels drawn), so a
                recalibration is repeatable.
            use_ema: bool. Recalibrate the averaged generator when
                `GeneratorEMA` keeps one, else the generator itself.

        Returns:
            The number of batch-norm layers recalibrated (0 when the
            generator has none: then nothing runs).
        """
        self.sync_state()
        return _sampling.recalibrate_batch_norm(
            self, self.sampling_generator(use_ema), batches, batch_size, labels, seed
        )

    def sampling_generator(self, use_ema=True):
        """The generator `generate` samples from: the moving average of the
        generator's weights when a `GeneratorEMA` keeps one and `use_ema`,
        else the generator itself."""
        generator = self.trick_states.get(EMA_GENERATOR) if use_ema else None
        return self.generator if generator is None else generator

    def export_generator(self, filepath, use_ema=True):
        """Saves the generator that samples alone, as a `.keras` file that
        `keras.saving.load_model` reads without kgt's GAN: the average of
        the generator's weights when `GeneratorEMA` keeps one (and
        `use_ema`), else the generator itself (`gan.generator.save()`
        saves the raw weights). Its `predict(gan.sample_latent(n, seed))`
        gives `gan.generate(n, seed)`. Returns the model saved."""
        self.sync_state()
        return _sampling.export_generator(self.sampling_generator(use_ema), filepath)

    # State kept for tricks.

    def sync_state(self):
        """Brings the variables up to date during `fit` (on JAX they live in
        Keras's train state; Keras does this when a callback reads
        `self.model`), so reading the GAN from any code sees the latest."""
        (getattr(self, "_glue", None) or _backend.get()).sync_state(self)

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
