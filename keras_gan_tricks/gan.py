"""`kgt.GAN`: adversarial training of any generator and discriminator via `fit`."""

import warnings

import keras
import numpy as np
from keras import ops

from keras_gan_tricks import _backend
from keras_gan_tricks import labels as labels_module
from keras_gan_tricks import losses as losses_module
from keras_gan_tricks import penalties as penalties_module
from keras_gan_tricks._utils import (
    ReplicaSeedGenerator,
    check_int,
    register,
    walk_layers,
)
from keras_gan_tricks.layers import InstanceNoise, MinibatchStdDev

LATENT_DISTRIBUTIONS = ("normal", "uniform")
_SEED_STATE_KEY = "seed_generator_state"
_BATCH_VALUES = ("d_loss", "g_loss", "d_real", "d_fake", "penalty")
EMA_GENERATOR = "ema_generator"

# `Model.compile` arguments that have no meaning for a GAN; the GAN's own
# arguments replace them.
_REJECTED_COMPILE_ARGS = {
    "optimizer": "pass `d_optimizer=` and `g_optimizer=` instead",
    "metrics": "the GAN reports its own metrics",
    "weighted_metrics": "the GAN reports its own metrics",
    "loss_weights": "the GAN has one loss per network",
}


# Layers that treat each sample on its own in training, so the
# discriminator may see real and fake samples in one call.
_PER_SAMPLE_LAYERS = (
    keras.layers.InputLayer,
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Permute,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.LeakyReLU,
    keras.layers.ReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
    keras.layers.Activation,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
    keras.layers.SpectralNormalization,
    keras.layers.ZeroPadding2D,
    keras.layers.AveragePooling2D,
    keras.layers.MaxPooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Embedding,
    keras.layers.Concatenate,
    keras.layers.Add,
    keras.layers.Multiply,
    keras.layers.Identity,
    InstanceNoise,
)
# Layers known to mix the samples of a batch in training.
_BATCH_COUPLED_LAYERS = (keras.layers.BatchNormalization, MinibatchStdDev)


def _is_graph_model(layer):
    """A Sequential or functional model (not subclassed: its `call` is known)."""
    return type(layer) is keras.Sequential or type(layer).__name__ == "Functional"


def _static_shape(tensor_or_spec):
    return tuple(None if d is None else int(d) for d in tensor_or_spec.shape)


def _shapes_compatible(a, b):
    """Whether two shapes (without batch) agree where both are known."""
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=False)
    )


def _ends_in_tanh(model):
    """Whether a Sequential or functional model's last layer applies tanh."""
    if not _is_graph_model(model) or not model.layers:
        return False
    last = model.layers[-1]
    return getattr(last, "activation", None) is keras.activations.tanh


def _is_tensor_dataset(x):
    """A `tf.data.Dataset`, recognised without importing TensorFlow."""
    return hasattr(x, "element_spec") and hasattr(x, "take")


class GANOptimizers:
    """`GAN.optimizer`: the discriminator's and generator's optimizers, as
    Keras's trainers and callbacks see them.

    Keras's JAX trainer carries `model.optimizer.variables` through its train
    state; here they are both optimizers' variables, so neither optimizer's
    slots or step count is lost between steps. Keras callbacks that handle
    several optimizers (`LearningRateScheduler`, `ReduceLROnPlateau`) act on
    each of `optimizers`; `iterations` is the generator's step count, the
    number of GAN steps taken (TensorBoard logs against it).

    Not saved itself: the GAN saves `d_optimizer` and `g_optimizer`.
    """

    def __init__(self, d_optimizer, g_optimizer):
        self.optimizers = [d_optimizer, g_optimizer]
        self.name = "gan_optimizers"

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def iterations(self):
        return self.optimizers[1].iterations

    @property
    def built(self):
        return all(optimizer.built for optimizer in self.optimizers)

    def build(self, variables):
        # Each optimizer is built on its own network by `GAN.compile`.
        del variables

    def scale_loss(self, loss):
        return loss

    def __getattr__(self, name):
        # Only reached for attributes not defined above (`learning_rate`...).
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"A GAN has two optimizers, so `gan.optimizer.{name}` is ambiguous: "
            f"use `gan.d_optimizer.{name}` or `gan.g_optimizer.{name}`."
        )

    def __repr__(self):
        d, g = self.optimizers
        return f"GANOptimizers(d_optimizer={d!r}, g_optimizer={g!r})"


@register
class GAN(keras.Model):
    """A generative adversarial network trained with `fit`.

    Wraps any generator (latent vector to sample) and any discriminator
    (sample to one logit per sample, no sigmoid): Sequential, functional or
    subclassed. Each `fit` step updates the discriminator `d_steps` times on
    the batch's real samples and fresh generated ones, then the generator
    once, each network with its own optimizer. The step is written once in
    `keras.ops`; only taking and applying gradients is per backend.

    A conditional GAN feeds the data's labels to both networks: the generator
    is called on `[z, labels]` and the discriminator on `[samples, labels]`.
    It is conditional when the generator is a functional model with two
    inputs, or when `condition_shape` is given; train it with
    `fit(images, labels)` or a dataset of `(images, labels)`.

    Args:
        generator: `keras.Model`. Maps `(batch, latent_dim)` latent vectors
            (and labels, if conditional) to samples.
        discriminator: `keras.Model`. Maps samples (and labels) to logits of
            shape `(batch,)` or `(batch, 1)`.
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
            training, without editing the discriminator. Decay it with
            `kgt.callbacks.InstanceNoiseDecay`.
        seed: int or None. Seeds the GAN's own random stream (latent
            vectors, label policies, penalties) for reproducible training.
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
        **kwargs,
    ):
        super().__init__(**kwargs)
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
        self.seed_generator = ReplicaSeedGenerator(seed, name="gan_seed_generator")
        self.instance_noise = self._resolve_instance_noise(instance_noise, seed)
        # Each batch's own values, for callbacks: Keras hands callbacks the
        # epoch's running means instead.
        # One vector, so that reading them costs one transfer.
        self._batch_values = self.add_weight(
            shape=(len(_BATCH_VALUES),),
            initializer="zeros",
            trainable=False,
            name="batch_values",
        )
        # [steps of this `fit`, the first of them with a non-finite loss or 0].
        # Once a step is non-finite, the later steps of the `fit` apply
        # nothing, so `fit` may dispatch steps ahead of the callback that
        # stops it (no per-batch sync) and still keep the last finite state.
        self._non_finite = self.add_weight(
            shape=(2,),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            name="non_finite",
        )
        # Layers holding the state of callbacks (EMA weights, balancer), so
        # that it is saved, restored and reloaded with the GAN.
        self.trick_states = {}
        # (decay, warmup) of the in-step generator average, or None; the
        # GeneratorEMA callbacks of a `fit` request it.
        self._generator_ema = None
        self._generator_ema_requested = None
        # (key, value of the step, layers) of the in-step instance noise
        # decay, or None; an InstanceNoiseDecay of a `fit` requests it.
        self._noise_decay = None
        self._noise_decay_requested = None

        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.penalty_tracker = keras.metrics.Mean(name="penalty")

        self._build_networks()
        self.d_optimizer = None
        self.g_optimizer = None
        self.loss = None
        self.label_policy = None
        self.penalty = None
        self.d_steps = 1
        self.d_batch = "auto"
        self.joint_discriminator_batch = False
        self._warned_ignored_labels = False
        # The step of the last `fit` (1 for its first) whose loss was
        # non-finite, where that `fit` stopped, or None.
        self.non_finite_step = None

    # Construction-time checks and building.

    @staticmethod
    def _resolve_instance_noise(instance_noise, seed):
        if instance_noise is None or isinstance(instance_noise, InstanceNoise):
            return instance_noise
        if isinstance(instance_noise, dict):
            return keras.saving.deserialize_keras_object(instance_noise)
        if isinstance(instance_noise, bool) or not isinstance(
            instance_noise, (int, float)
        ):
            raise TypeError(
                "`instance_noise` must be a stddev (float >= 0), a "
                "kgt.layers.InstanceNoise or None. "
                f"Received: instance_noise={instance_noise!r}"
            )
        try:
            return InstanceNoise(instance_noise, seed=seed, name="instance_noise")
        except ValueError as error:
            raise ValueError(
                "`instance_noise` must be a stddev >= 0. "
                f"Received: instance_noise={instance_noise!r}"
            ) from error

    def _resolve_latent_dim(self, latent_dim):
        inputs = getattr(self.generator, "inputs", None)
        inferred = None
        if inputs:
            shape = _static_shape(inputs[0])
            if len(shape) == 2 and shape[1] is not None:
                inferred = shape[1]
        if latent_dim is None:
            if inferred is None:
                raise ValueError(
                    "Could not read `latent_dim` from the generator (it has no "
                    "known `(batch, latent_dim)` input). Pass it: "
                    "kgt.GAN(generator, discriminator, latent_dim=...). "
                    "Received: latent_dim=None"
                )
            return inferred
        latent_dim = check_int("latent_dim", latent_dim, low=1)
        if inferred is not None and inferred != latent_dim:
            raise ValueError(
                f"`latent_dim` does not match the generator's input, which takes "
                f"vectors of size {inferred}. Received: latent_dim={latent_dim}"
            )
        return latent_dim

    def _resolve_condition(self, condition_shape, condition_dtype):
        inputs = getattr(self.generator, "inputs", None)
        if condition_shape is None:
            if inputs and len(inputs) == 2:
                spec = inputs[1]
                return _static_shape(spec)[1:], keras.backend.standardize_dtype(
                    spec.dtype
                )
            if inputs and len(inputs) > 2:
                raise ValueError(
                    "The generator must take a latent vector and, if "
                    f"conditional, one label input; it has {len(inputs)} inputs."
                )
            return None, None
        if isinstance(condition_shape, int) and not isinstance(condition_shape, bool):
            condition_shape = (condition_shape,)
        if not isinstance(condition_shape, (tuple, list)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1
            for d in condition_shape
        ):
            raise TypeError(
                "`condition_shape` must be a tuple of positive ints (one label's "
                f"shape, no batch axis). Received: condition_shape={condition_shape!r}"
            )
        try:
            condition_dtype = keras.backend.standardize_dtype(condition_dtype)
        except ValueError as error:
            raise ValueError(
                f"`condition_dtype` is not a dtype. Received: "
                f"condition_dtype={condition_dtype!r}"
            ) from error
        return tuple(condition_shape), condition_dtype

    @property
    def conditional(self):
        """Whether labels are fed to both networks."""
        return self.condition_shape is not None

    def _g_inputs(self, z, condition):
        return [z, condition] if self.conditional else z

    def _d_inputs(self, samples, condition):
        return [samples, condition] if self.conditional else samples

    def symbolic_generator_inputs(self):
        """Symbolic inputs of the generator: `z`, or `[z, labels]`."""
        z = keras.KerasTensor((None, self.latent_dim), dtype="float32")
        if not self.conditional:
            return z
        condition = keras.KerasTensor(
            (None, *self.condition_shape), dtype=self.condition_dtype
        )
        return [z, condition]

    def _build_networks(self):
        """Builds both networks symbolically and checks that they fit together."""
        inputs = self.symbolic_generator_inputs()
        z, condition = inputs if self.conditional else (inputs, None)
        try:
            fake = self.generator(self._g_inputs(z, condition))
        except Exception as error:
            raise ValueError(
                "Could not call the generator on latent vectors of shape "
                f"(batch, {self.latent_dim})"
                + (
                    f" with labels of shape (batch, *{self.condition_shape})"
                    if self.conditional
                    else ""
                )
                + f": {error}"
            ) from error
        if isinstance(fake, (list, tuple)):
            raise ValueError(
                f"The generator must return one tensor. It returned {len(fake)} outputs."
            )
        self.sample_shape = _static_shape(fake)[1:]

        d_inputs = getattr(self.discriminator, "inputs", None)
        if d_inputs:
            expected = _static_shape(d_inputs[0])[1:]
            if not _shapes_compatible(expected, self.sample_shape):
                raise ValueError(
                    "The generator's output shape does not match the "
                    f"discriminator's input shape. Generator output: "
                    f"(batch, {', '.join(map(str, self.sample_shape))}); "
                    f"discriminator input: (batch, {', '.join(map(str, expected))})."
                )
        try:
            logits = self.discriminator(self._d_inputs(fake, condition))
        except Exception as error:
            raise ValueError(
                "The discriminator cannot take the generator's output of shape "
                f"(batch, {', '.join(map(str, self.sample_shape))}): {error}"
            ) from error
        if isinstance(logits, (list, tuple)) or _static_shape(logits)[1:] not in (
            (),
            (1,),
        ):
            shape = (
                [_static_shape(t) for t in logits]
                if isinstance(logits, (list, tuple))
                else _static_shape(logits)
            )
            raise ValueError(
                "The discriminator must emit one logit per sample, of shape "
                f"(batch,) or (batch, 1). It emits shape {shape}."
            )
        self.built = True

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
            penalty: `kgt.penalties.Penalty` or None. Added to the
                discriminator's loss.
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
        joint = self._resolve_d_batch(d_batch)
        loss = losses_module.get(loss)
        label_policy = labels_module.get(label_policy)
        penalty = penalties_module.get(penalty)
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
        self._check_backend_limits(penalty, kwargs)
        self._glue = _backend.get()
        # No Keras-level optimizer: the default would be an unused RMSprop
        # whose slots for every variable get built and saved.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # What Keras's trainers and callbacks see as `model.optimizer`.
        self.optimizer = GANOptimizers(d_optimizer, g_optimizer)
        self.loss = loss
        self.label_policy = label_policy
        self.penalty = penalty
        self.d_steps = d_steps
        self.d_batch = d_batch
        self.joint_discriminator_batch = joint
        self._keras_compile_args = dict(kwargs)
        # Create the slots now, outside any compiled function, so that they
        # exist before weights are loaded into them.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _uses_float16(self):
        return any(
            net.dtype_policy.compute_dtype == "float16"
            for net in (self, self.generator, self.discriminator)
        )

    def _resolve_d_batch(self, d_batch):
        if d_batch not in ("auto", "joint", "separate"):
            raise ValueError(
                "`d_batch` must be 'auto', 'joint' or 'separate'. "
                f"Received: d_batch={d_batch!r}"
            )
        coupled = [
            layer
            for layer in walk_layers(self.discriminator)
            if not isinstance(layer, _PER_SAMPLE_LAYERS)
        ]
        if d_batch == "joint":
            mixing = [
                layer for layer in coupled if isinstance(layer, _BATCH_COUPLED_LAYERS)
            ]
            if mixing:
                raise ValueError(
                    "`d_batch='joint'` would let the discriminator's "
                    f"{type(mixing[0]).__name__} layer {mixing[0].name!r} mix the "
                    "real and fake batches' statistics. Use d_batch='separate' "
                    "(or 'auto'). Received: d_batch='joint'"
                )
            return True
        if d_batch == "separate":
            return False
        # Sequential and functional models are graphs of their layers; a
        # subclassed model's `call`, or a layer of unknown kind, may couple
        # the samples of a batch, so "auto" keeps the batches apart then.
        return all(_is_graph_model(layer) for layer in coupled)

    def _check_backend_limits(self, penalty, kwargs):
        """Rejects, before training, what the active backend cannot run."""
        if keras.backend.backend() != "torch":
            return
        steps = kwargs.get("steps_per_execution", 1)
        if steps != 1:
            raise ValueError(
                "`steps_per_execution` must be 1 on the PyTorch backend (a Keras "
                f"limit). Received: steps_per_execution={steps!r}"
            )
        if kwargs.get("jit_compile") is True and penalty is not None:
            raise ValueError(
                "On the PyTorch backend, `jit_compile=True` (torch.compile) cannot "
                "differentiate twice, which a gradient penalty needs. Drop one of "
                f"them. Received: jit_compile=True, penalty={penalty!r}"
            )
        for layer in walk_layers(self.discriminator):
            if isinstance(layer, keras.layers.SpectralNormalization):
                raise ValueError(
                    "keras.layers.SpectralNormalization rewrites its kernel in place "
                    "on every training call, which breaks PyTorch's autograd when "
                    "the discriminator sees the real and the fake batch before one "
                    "backward pass. Use the TensorFlow or JAX backend for spectral "
                    "normalization, or a gradient penalty (kgt.penalties.R1) "
                    f"instead. Received a discriminator with layer {layer.name!r}."
                )

    @staticmethod
    def _get_optimizer(arg, optimizer):
        if optimizer is None:
            return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)
        try:
            return keras.optimizers.get(optimizer)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"`{arg}` must be a keras optimizer, its name or its config. "
                f"Received: {arg}={optimizer!r}"
            ) from error

    def get_compile_config(self):
        if not self.compiled:
            return {}
        serialize = keras.saving.serialize_keras_object
        return {
            "d_optimizer": serialize(self.d_optimizer),
            "g_optimizer": serialize(self.g_optimizer),
            "loss": serialize(self.loss),
            "label_policy": None
            if self.label_policy is None
            else serialize(self.label_policy),
            "penalty": None if self.penalty is None else serialize(self.penalty),
            "d_steps": self.d_steps,
            "d_batch": self.d_batch,
            **self._keras_compile_args,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        self.compile(**config)

    # Metrics.

    @property
    def metrics(self):
        trackers = [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_real_tracker,
            self.d_fake_tracker,
        ]
        if self.penalty is not None:
            trackers.append(self.penalty_tracker)
        return trackers

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

    def _discriminate(self, samples, condition, training):
        if self.instance_noise is not None:
            samples = self.instance_noise(samples, training=training)
        return self.discriminator(self._d_inputs(samples, condition), training=training)

    def discriminator_objective(self, real, condition=None, training=True):
        """The discriminator's loss on a real batch and a fresh fake batch.

        Returns `(loss, aux)`, `loss` including the penalty, `aux` a dict with
        `real_logits`, `fake_logits` and `penalty`. Label policies act only
        when `training` is True.
        """
        batch_size = ops.shape(real)[0]
        fake = ops.stop_gradient(self._fake(batch_size, condition, training))
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
        loss = self.loss.discriminator_loss(
            real_logits, fake_logits, real_labels, fake_labels
        )
        penalty = ops.zeros((), dtype="float32")
        if self.penalty is not None:

            def compute():
                return self.penalty(
                    lambda x: self._discriminate(x, condition, training),
                    real,
                    fake,
                    seed=self.seed_generator,
                )

            every = self.penalty.every
            if every == 1 or not training:
                penalty = compute()
            else:  # lazy: on every `every`-th step, `every` times as strong
                due = ops.equal(ops.mod(self.d_optimizer.iterations, every), 0)
                penalty = self._glue.run_if(
                    due, lambda: compute() * float(every), penalty
                )
            loss = loss + penalty
        return loss, {
            "real_logits": real_logits,
            "fake_logits": fake_logits,
            "penalty": penalty,
        }

    def generator_objective(self, batch_size, condition=None, training=True):
        """The generator's loss on a fresh fake batch; returns `(loss, aux)`."""
        fake_logits = self._discriminate(
            self._fake(batch_size, condition, training), condition, training
        )
        return self.loss.generator_loss(fake_logits), {"fake_logits": fake_logits}

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
        shape = _static_shape(x)[1:]
        if not _shapes_compatible(shape, self.sample_shape):
            raise ValueError(
                "The data's sample shape does not match the generator's output. "
                f"Data batch shape: {_static_shape(x)}; generator output: "
                f"(batch, {', '.join(map(str, self.sample_shape))})."
            )
        if self.conditional:
            if y is None:
                raise ValueError(
                    "This GAN is conditional: pass labels with the images, "
                    "`fit(images, labels)` or a dataset of (images, labels)."
                )
        elif y is not None:
            if not self._warned_ignored_labels:
                warnings.warn(
                    "kgt.GAN is unconditional, so the labels in the data are "
                    "ignored. Build a conditional GAN to use them.",
                    stacklevel=3,
                )
                self._warned_ignored_labels = True
            y = None
        x = ops.cast(x, self.generator.compute_dtype)
        return x, y

    def _record(self, d_loss, g_loss, d_aux, training):
        d_real = ops.mean(self.loss.score(d_aux["real_logits"]))
        d_fake = ops.mean(self.loss.score(d_aux["fake_logits"]))
        if training:
            values = (d_loss, g_loss, d_real, d_fake, d_aux["penalty"])
            self._batch_values.assign(
                ops.stack([ops.cast(value, "float32") for value in values])
            )
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(d_real)
        self.d_fake_tracker.update_state(d_fake)
        if self.penalty is not None:
            self.penalty_tracker.update_state(d_aux["penalty"])
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, *args):
        """One step of `fit`: `d_steps` discriminator updates, then one
        generator update. Keras calls it with `(data,)`, or with
        `(state, data)` on JAX, where it also returns the new state."""
        return self._glue.run_step(self, self._train_step, args, with_optimizer=True)

    def test_step(self, *args):
        """One step of `evaluate`: both losses on a batch, no update."""
        return self._glue.run_step(self, self._test_step, args, with_optimizer=False)

    def _train_step(self, data):
        real, condition = self._unpack(data)
        noise_stddev = None
        if self._noise_decay is not None:
            # Before the snapshot below: a non-finite step keeps the new
            # stddev, which follows the step count (such a step does not
            # advance it).
            _, value, layers = self._noise_decay
            noise_stddev = value(self.g_optimizer.iterations)
            for layer in layers:
                layer.stddev.assign(noise_stddev)
        # Running statistics (batch norm, spectral norm's vector) as they were
        # before the step: a step that turns non-finite leaves them as well
        # as the weights and optimizers (the glue skips those updates).
        statistics = [
            variable
            for net in (self.generator, self.discriminator)
            for variable in net.non_trainable_variables
        ]
        saved = [ops.copy(variable.value) for variable in statistics]
        steps, first_non_finite = ops.unstack(self._non_finite.value)
        allowed = ops.equal(first_non_finite, 0)  # no non-finite step yet
        finite = allowed
        for _ in range(self.d_steps):
            d_loss, d_aux, finite = self._glue.minimize(
                lambda: self.discriminator_objective(real, condition),
                self.discriminator.trainable_variables,
                self.d_optimizer,
                allow=finite,
            )
        batch_size = ops.shape(real)[0]
        g_loss, _, finite = self._glue.minimize(
            lambda: self.generator_objective(batch_size, condition),
            self.generator.trainable_variables,
            self.g_optimizer,
            allow=finite,
        )
        for variable, value in zip(statistics, saved, strict=True):
            variable.assign(ops.where(finite, variable.value, value))
        steps = steps + 1
        first_non_finite = ops.where(
            ops.logical_and(allowed, ops.logical_not(finite)), steps, first_non_finite
        )
        self._non_finite.assign(ops.cast(ops.stack([steps, first_non_finite]), "int32"))
        if self._generator_ema is not None:
            self._update_generator_ema(finite)
        logs = self._record(d_loss, g_loss, d_aux, training=True)
        if noise_stddev is not None:
            logs["noise_stddev"] = noise_stddev
        return logs

    def _reset_non_finite(self):
        self._non_finite.assign(ops.zeros((2,), "int32"))

    def train_on_batch(self, *args, **kwargs):
        # Each call stands alone: a non-finite batch skips its own update only.
        self._reset_non_finite()
        return super().train_on_batch(*args, **kwargs)

    def set_generator_ema(self, decay, warmup=True):
        """Updates the averaged generator (`trick_states["ema_generator"]`)
        inside each training step of the current `fit`, or not with
        `decay=None`.

        `kgt.callbacks.GeneratorEMA` calls this when `fit` hands it the GAN;
        see it for the update. A `fit` without the callback does not
        average."""
        if decay is not None and EMA_GENERATOR not in self.trick_states:
            raise ValueError(
                "No averaged generator is attached: use "
                "kgt.callbacks.GeneratorEMA, which makes one."
            )
        # Applied when the step is next made (`make_train_function`).
        self._generator_ema_requested = (
            None if decay is None else (float(decay), bool(warmup))
        )

    def set_instance_noise_decay(self, value, layers, key=None):
        """Sets the stddev of each `kgt.layers.InstanceNoise` in `layers` to
        `value(step)` at the start of each training step of the current
        `fit` (step: the generator optimizer's iteration count, a tensor), and
        logs it as `noise_stddev`; `value=None` stops it.

        `kgt.callbacks.InstanceNoiseDecay` calls this when `fit` hands it the
        GAN, so the decay costs no per-batch work outside the step. `key`:
        requests with equal keys share the compiled step (default: `value`
        itself)."""
        if value is None:
            config = None
        else:
            if not callable(value):
                raise TypeError(
                    "`value` must be a callable of the step count. "
                    f"Received: value={value!r}"
                )
            layers = tuple(layers)
            for layer in layers:
                if not isinstance(layer, InstanceNoise):
                    raise TypeError(
                        "`layers` must hold kgt.layers.InstanceNoise layers. "
                        f"Received: layers={list(layers)!r}"
                    )
            config = (value if key is None else key, value, layers)
        # Applied when the step is next made (`make_train_function`).
        self._noise_decay_requested = config

    def _use_step_tricks(self, ema, noise_decay):
        def key(config):
            return None if config is None else (config[0], config[2])

        if ema != self._generator_ema or key(noise_decay) != key(self._noise_decay):
            # The step is compiled with or without them.
            self.train_function = None
        self._generator_ema = ema
        self._noise_decay = noise_decay

    def make_train_function(self, force=False):
        # Keras calls this in `fit` after the callbacks' `set_model`: the
        # average is updated, and the noise decayed, in this `fit` only if a
        # GeneratorEMA or an InstanceNoiseDecay asked.
        self._use_step_tricks(
            self._generator_ema_requested, self._noise_decay_requested
        )
        return super().make_train_function(force=force)

    def _update_generator_ema(self, finite):
        from keras_gan_tricks.callbacks import update_average

        decay, warmup = self._generator_ema
        average = self.trick_states[EMA_GENERATOR]
        pairs = zip(
            average.trainable_weights, self.generator.trainable_weights, strict=True
        )
        copies = zip(
            average.non_trainable_weights,
            self.generator.non_trainable_weights,
            strict=True,
        )
        step = self.g_optimizer.iterations if warmup else None
        update_average(pairs, copies, decay, step, where=finite)

    def _test_step(self, data):
        real, condition = self._unpack(data)
        d_loss, d_aux = self.discriminator_objective(real, condition, training=False)
        g_loss, _ = self.generator_objective(
            ops.shape(real)[0], condition, training=False
        )
        return self._record(d_loss, g_loss, d_aux, training=False)

    def batch_values(self):
        """The last training batch's own `d_loss`, `g_loss`, `d_real`, `d_fake`
        and `penalty` (0 without one; `d_loss` includes it).

        Keras gives batch-level callbacks the epoch's running means; this
        gives the values of the latest batch alone, as Python floats.
        """
        self._sync_state()
        values = ops.convert_to_numpy(self._batch_values)
        return {
            name: float(value)
            for name, value in zip(_BATCH_VALUES, values, strict=True)
        }

    def call(self, inputs, training=False):
        """Runs the generator: `gan(z)` (or `gan([z, labels])`) gives samples."""
        return self.generator(inputs, training=training)

    # Data checks before training.

    def _check_data(self, x, y, arg="x"):
        if x is None:
            return
        if _is_tensor_dataset(x):
            spec = x.element_spec
            if isinstance(spec, tuple):
                spec = spec[0]
            if isinstance(spec, tuple):
                spec = spec[0]
            if hasattr(spec, "shape") and spec.shape.rank is not None:
                shape = tuple(spec.shape.as_list())[1:]
                if not _shapes_compatible(shape, self.sample_shape):
                    raise ValueError(
                        f"The dataset's samples do not match the generator's output. "
                        f"Dataset element shape: {tuple(spec.shape.as_list())}; "
                        f"generator output: (batch, {', '.join(map(str, self.sample_shape))})."
                    )
            return
        if isinstance(x, (list, tuple)) and len(x) == 2 and y is None:
            x, y = x
        if not isinstance(x, np.ndarray) and not (
            hasattr(x, "shape") and hasattr(x, "dtype")
        ):
            return
        array = np.asarray(x)
        if array.ndim < 1 or not _shapes_compatible(array.shape[1:], self.sample_shape):
            raise ValueError(
                f"`{arg}` has shape {array.shape}, but the generator makes samples of "
                f"shape (batch, {', '.join(map(str, self.sample_shape))})."
            )
        if np.issubdtype(array.dtype, np.floating):
            finite = np.isfinite(array)
            if not finite.all():
                bad = int(array.size - np.count_nonzero(finite))
                first = tuple(int(i) for i in np.argwhere(~finite)[0])
                raise ValueError(
                    f"`{arg}` holds {bad} NaN or infinite value(s) (the first at index "
                    f"{first}: {array[first]}). Clean or drop those samples before training."
                )
        elif not np.issubdtype(array.dtype, np.integer):
            raise TypeError(
                f"`{arg}` must hold numbers. Received: {arg} of dtype {array.dtype}"
            )
        if array.size and _ends_in_tanh(self.generator):
            low, high = float(array.min()), float(array.max())
            if low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
                warnings.warn(
                    f"`{arg}` holds values in [{low:g}, {high:g}], but the "
                    "generator ends in tanh, so its samples are in [-1, 1] and "
                    "the discriminator can tell them from the data by range "
                    "alone. Scale the data to [-1, 1] (images in [0, 255]: "
                    "x / 127.5 - 1).",
                    UserWarning,
                    stacklevel=3,
                )
        if self.conditional and y is None:
            raise ValueError(
                "This GAN is conditional: pass labels with the images, "
                "`fit(images, labels)`. Received: y=None"
            )
        if y is not None and hasattr(y, "shape") and len(y) != len(array):
            raise ValueError(
                f"`y` must hold one label per sample: {len(array)} samples but "
                f"{len(y)} labels."
            )

    def fit(self, x=None, y=None, *args, **kwargs):
        from keras_gan_tricks.callbacks import _InStepCallback

        self._check_data(x, y)
        # GeneratorEMA's and InstanceNoiseDecay's set_model ask for these.
        self._generator_ema_requested = None
        self._noise_decay_requested = None
        self.non_finite_step = None
        callbacks = kwargs.get("callbacks")
        if callbacks is None and len(args) >= 4:  # batch_size, epochs, verbose
            args = list(args)
            args[3] = callbacks = [*(args[3] or []), _StopOnNonFinite()]
        else:
            kwargs["callbacks"] = callbacks = [*(callbacks or []), _StopOnNonFinite()]
        # kgt's callbacks whose batch work this GAN does in its step learn it
        # now, before Keras reads their `async_safe` (it calls set_model
        # later, again).
        in_step = [cb for cb in callbacks if isinstance(cb, _InStepCallback)]
        for callback in in_step:
            callback.set_model(self)
        try:
            return super().fit(x, y, *args, **kwargs)
        finally:
            for callback in in_step:
                callback._in_step = False
            # Keras does this for `model.optimizer` only: an optimizer with
            # `use_ema=True` swaps in its moving averages when training ends.
            if self.compiled:
                for optimizer, net in (
                    (self.d_optimizer, self.discriminator),
                    (self.g_optimizer, self.generator),
                ):
                    optimizer.finalize_variable_values(net.trainable_variables)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_data(x, y)
        return super().evaluate(x, y, *args, **kwargs)

    # Sampling.

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
        rng = np.random.default_rng(seed)
        shape = (n, self.latent_dim)
        if self.latent_distribution == "uniform":
            return rng.uniform(-1.0, 1.0, size=shape).astype("float32")
        return rng.standard_normal(shape).astype("float32")

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
        batch_size = check_int("batch_size", batch_size, low=1)
        z = self.sample_latent(n, seed)
        labels = self._check_labels(labels, n)
        self._sync_state()
        generator = self._sampling_generator(use_ema)
        chunks = []
        for start in range(0, n, batch_size):
            chunk = z[start : start + batch_size]
            if self.conditional:
                chunk = [chunk, labels[start : start + batch_size]]
            samples = generator(chunk, training=False)
            # float32 even under mixed precision: NumPy has no bfloat16.
            chunks.append(ops.convert_to_numpy(ops.cast(samples, "float32")))
        return np.concatenate(chunks, axis=0)

    def recalibrate_batch_norm(
        self, batches=16, batch_size=256, labels=None, seed=0, use_ema=True
    ):
        """Recomputes the generator's batch-norm statistics from its own
        samples ("standing statistics", BigGAN).

        A batch-norm layer samples with moving averages of its training
        batches' statistics, which lag a generator whose weights keep moving,
        and do not belong to the weights of an averaged generator at all
        (`GeneratorEMA` copies the raw generator's). This runs the generator
        in training mode on `batches` batches of latents and sets each
        batch-norm layer's moving mean and variance to the average of its
        batch statistics over them; `generate()` then samples with the new
        statistics. The weights do not change, but the calls run in training
        mode, so dropout is active during them and a spectral-normalised
        layer takes its usual power-iteration step per call.
        `kgt.callbacks.GeneratorEMA` does this for the averaged generator
        when `fit` ends. Call it outside `fit` (or from `on_train_end`).

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
        batches = check_int("batches", batches, low=1)
        batch_size = check_int("batch_size", batch_size, low=2)
        seed = check_int("seed", seed, low=0)
        labels = self._check_labels(labels)
        self._sync_state()
        generator = self._sampling_generator(use_ema)
        # A layer shared in two places is one layer: keyed by identity.
        norms = list(
            {
                id(layer): layer
                for layer in walk_layers(generator)
                if isinstance(layer, keras.layers.BatchNormalization)
            }.values()
        )
        if not norms:
            return 0
        rng = np.random.default_rng(seed)
        momenta = [layer.momentum for layer in norms]
        try:
            for k in range(batches):
                # Batch k enters with weight 1/(k+1): a plain average of all.
                for layer in norms:
                    layer.momentum = k / (k + 1)
                inputs = self.sample_latent(batch_size, seed=seed + k)
                if self.conditional:
                    chosen = rng.integers(0, len(labels), batch_size)
                    inputs = [inputs, labels[chosen]]
                generator(inputs, training=True)
        finally:
            for layer, momentum in zip(norms, momenta, strict=True):
                layer.momentum = momentum
        return len(norms)

    def _sampling_generator(self, use_ema):
        generator = self.trick_states.get(EMA_GENERATOR) if use_ema else None
        return self.generator if generator is None else generator

    def _check_labels(self, labels, n=None):
        """`labels` for the generator as an array of shape `(n, *condition)`
        (any length when `n` is None), or None for an unconditional GAN."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(
                    "This GAN is unconditional, so it takes no labels. "
                    f"Received: labels of shape {np.shape(labels)}"
                )
            return None
        if labels is None:
            what = "one per sample" if n is not None else "the conditions to draw from"
            raise ValueError(
                f"This GAN is conditional: pass `labels`, {what}. Received: labels=None"
            )
        labels = np.asarray(labels)
        if (
            labels.ndim == 1
            and len(self.condition_shape) == 1
            and self.condition_shape[0] == 1
        ):
            labels = labels[:, None]
        expected = (n, *self.condition_shape)
        if (n is None and labels.shape[1:] != expected[1:]) or (
            n is not None and labels.shape != expected
        ):
            shape = ("any", *self.condition_shape) if n is None else expected
            raise ValueError(
                f"`labels` must have shape {shape}. "
                f"Received: labels of shape {labels.shape}"
            )
        if len(labels) == 0:
            raise ValueError(
                f"`labels` must hold at least one label. Received: labels of shape "
                f"{labels.shape}"
            )
        return labels

    # State kept for callbacks.

    def _sync_state(self):
        # During `fit` on JAX the variables' values live in Keras's train
        # state; this puts them back (Keras does it when a callback reads
        # `self.model`), so reading the GAN from any code sees the latest.
        sync = getattr(self, "jax_state_sync", None)
        if sync is not None:
            sync()

    def attach_trick_state(self, name, layer):
        """Keeps `layer` (a callback's state) in the GAN, saved with it.

        Returns the layer already attached under `name` if there is one (for
        example after loading), else `layer`.
        """
        if name in self.trick_states:
            return self.trick_states[name]
        self.trick_states[name] = layer
        # A compiled step would not see state added after it was traced.
        self.train_function = None
        return layer

    # Serialization.

    def _random_streams(self):
        """The GAN's seed generator, then those of the layers it trains
        (instance noise, dropout, ...), in a fixed order."""
        streams, seen = [self.seed_generator], {id(self.seed_generator)}
        for root in (self.generator, self.discriminator, self.instance_noise):
            if root is None:
                continue
            for layer in walk_layers(root):
                for value in vars(layer).values():
                    if (
                        isinstance(value, keras.random.SeedGenerator)
                        and id(value) not in seen
                    ):
                        seen.add(id(value))
                        streams.append(value)
        return streams

    def save_own_variables(self, store):
        super().save_own_variables(store)
        # Keras does not save seed generators; the random streams are part of
        # the training state, so a resumed run draws what the original would
        # have drawn (latents, label noise, instance noise, dropout masks).
        for i, stream in enumerate(self._random_streams()):
            key = _SEED_STATE_KEY if i == 0 else f"{_SEED_STATE_KEY}_{i}"
            store[key] = ops.convert_to_numpy(stream.state)

    def load_own_variables(self, store):
        keys = list(store.keys())
        streams = self._random_streams()
        ours = {_SEED_STATE_KEY: streams[0]}
        ours.update({f"{_SEED_STATE_KEY}_{i}": s for i, s in enumerate(streams)})
        saved = [key for key in keys if key.startswith(_SEED_STATE_KEY)]
        # Files from before every stream was saved hold the GAN's alone.
        if len(saved) in (1, len(streams)):
            for key in saved:
                ours[key].state.assign(store[key])
        super().load_own_variables({k: store[k] for k in keys if k not in saved})

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "latent_distribution": self.latent_distribution,
            "condition_shape": None
            if self.condition_shape is None
            else list(self.condition_shape),
            "condition_dtype": self.condition_dtype or "int32",
            "instance_noise": None
            if self.instance_noise is None
            else keras.saving.serialize_keras_object(self.instance_noise),
            "seed": self.seed,
            "trick_states": {
                name: keras.saving.serialize_keras_object(layer)
                for name, layer in self.trick_states.items()
            },
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        if config.get("condition_shape") is not None:
            config["condition_shape"] = tuple(config["condition_shape"])
        trick_states = config.pop("trick_states", None) or {}
        gan = cls(**config)
        for name, layer_config in trick_states.items():
            layer = keras.saving.deserialize_keras_object(layer_config)
            if isinstance(layer, keras.Model) and not layer.built:
                layer.build_from_config(layer_config.get("build_config", {}))
            gan.attach_trick_state(name, layer)
        return gan


class _StopOnNonFinite(keras.callbacks.Callback):
    """Stops `fit` at the first non-finite loss (every `kgt.GAN.fit` has it).

    The step that produced it applied nothing (the backend glue skips
    non-finite updates and the step restores its running statistics), and
    neither do the later steps of the same `fit` (the GAN's step checks
    `_non_finite`). So the GAN keeps the weights, optimizer state and
    statistics of its last finite step, and callbacks that save at the end of
    the epoch (`ModelCheckpoint`, `BackupAndRestore`) write that finite state.

    It reads only each batch's logs, so on JAX it lets Keras run it on its
    callback thread (`async_safe`): `fit` then never waits on a step's
    losses, and the steps dispatched before the flag lands are no-ops. The
    step number comes from the GAN's own counter at the end of the epoch,
    not from counting batches on that thread. Keras's TensorFlow backend
    runs every callback in line; on PyTorch, whose step waits for its
    finiteness check anyway, the thread only added its hand-offs
    (`benchmarks/dispatch.py`), so it runs in line there too.
    """

    @property
    def async_safe(self):
        return keras.backend.backend() == "jax"

    def set_model(self, model):
        super().set_model(model)
        # Not `self.model`: on JAX that property syncs the train state, which
        # must not happen on the callback thread.
        self._gan = model

    def on_train_begin(self, logs=None):
        # After the user's callbacks' (this one is last): a state that
        # `BackupAndRestore` or a checkpoint brought back starts clean.
        self._gan._reset_non_finite()

    def on_train_batch_end(self, batch, logs=None):
        if logs and any(
            name in logs and not np.isfinite(logs[name])
            for name in ("d_loss", "g_loss")
        ):
            self._gan.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self._report(logs, f" (epoch {epoch + 1})")

    def on_train_end(self, logs=None):
        self._report(logs, "")

    def _report(self, logs, where):
        gan = self._gan
        if gan.non_finite_step is not None:
            return
        gan._sync_state()
        step = int(ops.convert_to_numpy(gan._non_finite)[1])
        if not step:
            return
        gan.non_finite_step = step
        gan.stop_training = True
        bad = {
            name: logs[name]
            for name in ("d_loss", "g_loss")
            if logs and name in logs and not np.isfinite(logs[name])
        }
        found = ", ".join(f"{name}={value}" for name, value in bad.items())
        found = f" ({found})" if found else ""
        warnings.warn(
            f"kgt.GAN: a non-finite loss{found} at step {step} of this fit"
            f"{where}; training stopped. The update of that step was not "
            "applied: the GAN keeps the weights of its last finite step. Common "
            "causes: NaN or infinite values in the data, a learning rate too "
            "high, a penalty weight too large, or float16 without loss scaling.",
            RuntimeWarning,
            stacklevel=2,
        )
