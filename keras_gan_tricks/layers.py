"""Layers for discriminators: instance noise (fixed or adaptive) and the minibatch
standard deviation."""

import keras
from keras import ops

from keras_gan_tricks import _backend
from keras_gan_tricks._utils import check_int, check_number, register, walk_layers
from keras_gan_tricks.tricks import Trick, adapt_knob, check_signal


@register
class InstanceNoise(Trick):
    """Gaussian noise on the discriminator's inputs, in training only.

    Sønderby et al. 2017 ("Amortised MAP Inference for Image
    Super-resolution", sec. 3.2) and Arjovsky & Bottou 2017: adding the same
    noise to real and generated samples makes their distributions overlap,
    so the discriminator cannot separate them perfectly and its gradients
    stay informative. The noise is usually decayed to zero over training
    (`kgt.callbacks.InstanceNoiseDecay`).

    Put it first in any discriminator, pass `instance_noise=` to `kgt.GAN`,
    or list it in `GAN.compile(tricks=[...])` (it is a `kgt.tricks.Trick`):
    the GAN then applies this same layer to everything its discriminator
    sees. At inference (`training=False`) it is the identity.

    The standard deviation lives in a non-trainable variable, `.stddev`, so
    it is saved and restored with the model and can be changed while
    training (`layer.stddev.assign(0.05)`; `float(layer.stddev)` reads it).

    Args:
        stddev: float >= 0. The noise's standard deviation, in the units of
            the inputs (images in [-1, 1]: 0.1 to 0.3 is typical to start).
        seed: int or None. Seeds the layer's own random stream.

    Call arguments:
        inputs: Tensor of any shape.
        training: bool. Adds noise only when True.

    Example:

    >>> layer = kgt.layers.InstanceNoise(0.2)
    >>> x = keras.ops.zeros((2, 3))
    >>> bool(keras.ops.all(layer(x, training=False) == x))
    True
    """

    def __init__(self, stddev=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        stddev = check_number("stddev", stddev, low=0.0)
        if seed is not None:
            seed = check_int("seed", seed)
        self.seed = seed
        # On TensorFlow its draws differ between tf.distribute replicas.
        self.seed_generator = _backend.seed_generator(seed)
        self.stddev = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(stddev),
            trainable=False,
            name="stddev",
        )
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        noise = keras.random.normal(
            ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator
        )
        return inputs + ops.cast(self.stddev, inputs.dtype) * noise

    def discriminator_input(self, samples, training):
        return self(samples, training=training)

    def trace_key(self):
        return id(self)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "stddev": float(ops.convert_to_numpy(self.stddev)),
            "seed": self.seed,
        }


@register
class AdaptiveInstanceNoise(InstanceNoise):
    """Instance noise whose stddev follows how far D has run ahead.

    Instance noise (see `InstanceNoise`) with ADA's feedback rule (Karras
    et al. 2020, sec. 3) driving its stddev instead of a fixed decay: every
    `interval` steps, with D's signal averaged over them, the stddev moves
    by `sign(signal - target) * maximum * images / speed`, clipped to
    [0, `maximum`]: up while D separates real from fake better than
    `target`, down otherwise. A D that memorises a small dataset gets more
    noise; once G catches up the noise fades on its own.

    The signal is D's ranking accuracy (`kgt.tricks.ranking_accuracy`: how
    often D ranks a real sample above a fake one; the same under every loss
    and label policy), or ADA's `r_t = E[sign(D(x_real))]` with
    `signal="sign"`. The stddev and the feedback window are variables of
    the trick: saved, restored by `BackupAndRestore`; the stddev is logged
    as `noise_stddev`, the signal as `noise_signal`.

    Use it in `GAN.compile(tricks=[kgt.layers.AdaptiveInstanceNoise()])`
    (it needs the step's logits; as a plain layer it is `InstanceNoise`
    with a fixed stddev).

    Args:
        target: float in (0, 1). The signal aimed at.
        interval: int >= 1. Steps between adjustments.
        speed: int >= 1. Samples over which the stddev can go from 0 to
            `maximum`.
        maximum: float > 0. The largest stddev (in the units of the inputs).
        initial: float in [0, maximum]. The stddev at the start.
        signal: `"ranking"` or `"sign"`.
        seed: int or None. Seeds the noise.
    """

    def __init__(
        self,
        target=0.85,
        interval=4,
        speed=20_000,
        maximum=0.5,
        initial=0.0,
        signal="ranking",
        seed=None,
        **kwargs,
    ):
        kwargs.pop("stddev", None)
        self.maximum = check_number("maximum", maximum, low=0.0, low_open=True)
        self.initial = check_number("initial", initial, low=0.0, high=self.maximum)
        super().__init__(stddev=initial, seed=seed, **kwargs)
        self.target = check_number(
            "target", target, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.interval = check_int("interval", interval, low=1)
        self.speed = check_int("speed", speed, low=1)
        self.signal = check_signal(signal)
        # The feedback window: [weighted sum of the signal, samples, last mean]
        self.feedback = self.add_weight(
            shape=(3,), initializer="zeros", trainable=False, name="feedback"
        )

    def end_step(self, outcome):
        adapt_knob(
            self.stddev,
            self.feedback,
            outcome,
            self.signal,
            self.target,
            self.interval,
            self.speed,
            self.maximum,
        )

    def logs(self):
        return {"noise_stddev": self.stddev.value, "noise_signal": self.feedback[2]}

    def get_config(self):
        config = super().get_config()
        config.pop("stddev")
        return {
            **config,
            "target": self.target,
            "interval": self.interval,
            "speed": self.speed,
            "maximum": self.maximum,
            "initial": self.initial,
            "signal": self.signal,
        }


def instance_noise_in(*roots):
    """Every `InstanceNoise` layer in `roots` and the layers inside them,
    each once, in the order found (not the adaptive ones: they set their
    own stddev)."""
    found = []
    for root in roots:
        for layer in walk_layers(root):
            fixed = not isinstance(layer, AdaptiveInstanceNoise)
            if (
                isinstance(layer, InstanceNoise)
                and fixed
                and all(layer is not f for f in found)
            ):
                found.append(layer)
    return found


def pack_samples(samples, m, fill=True):
    """PacGAN's packing (Lin et al. 2018, "PacGAN: The power of two samples
    in generative adversarial networks"): each group of `m` consecutive
    samples becomes one, concatenated on the last (channel or feature)
    axis, `(B, ..., c) -> (B / m, ..., m * c)`, so the discriminator judges
    `m` samples at once and a collapsed generator's look-alike groups
    stand out.

    Args:
        samples: Tensor `(B, ..., c)`.
        m: int >= 1. Samples per pack (1: unchanged).
        fill: bool. Let any batch size through: a remainder beyond a
            multiple of `m` is dropped, and a batch smaller than `m` repeats
            its samples to fill one pack. False: `B` must be a multiple.
    """
    if m == 1:
        return samples
    if fill:
        batch = ops.shape(samples)[0]  # an int where static (JAX, eager)
        packs = (
            max(batch // m, 1) if isinstance(batch, int) else ops.maximum(batch // m, 1)
        )
        samples = ops.take(samples, ops.mod(ops.arange(packs * m), batch), axis=0)
    shape = ops.shape(samples)
    inner, channels = tuple(shape[1:-1]), shape[-1]
    grouped = ops.reshape(samples, (-1, m, *inner, channels))
    order = (0, *range(2, 2 + len(inner)), 1, 2 + len(inner))
    return ops.reshape(ops.transpose(grouped, order), (-1, *inner, m * channels))


@register
class MinibatchStdDev(keras.layers.Layer):
    """ProGAN's minibatch standard deviation, appended as one more feature.

    Karras et al. 2018 ("Progressive Growing of GANs", sec. 3): the batch is
    split into groups of about `group_size` samples; for each group the
    standard deviation of every feature across the group's samples is
    averaged into one number, which is appended to each sample of the group
    as an extra channel (images) or feature (vectors). A generator that
    collapses to a few modes makes this number small, which the
    discriminator can see, so collapse stops paying off.

    Any batch size works: sample `i` joins group `i mod ceil(n / group_size)`,
    which is ProGAN's grouping when `group_size` divides the batch.

    Args:
        group_size: int >= 2. Samples per group (4 in ProGAN and StyleGAN).
        epsilon: float > 0. Added to the variance before the square root.

    Call arguments:
        inputs: Tensor `(batch, ..., channels)`.

    Returns:
        `inputs` with one more channel, the group statistic.
    """

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size = check_int("group_size", group_size, low=2)
        self.epsilon = check_number("epsilon", epsilon, low=0.0, low_open=True)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        batch = ops.shape(x)[0]
        num_groups = (batch + self.group_size - 1) // self.group_size
        index = ops.arange(batch)
        group = index % num_groups
        # same[i, j] = 1 where samples i and j share a group: group means
        # and variances become matrix products, for any batch size.
        same = ops.cast(ops.equal(group[:, None], group[None, :]), "float32")
        counts = ops.sum(same, axis=1, keepdims=True)
        flat = ops.reshape(x, (batch, -1))
        mean = ops.matmul(same, flat) / counts
        variance = ops.matmul(same, ops.square(flat - mean)) / counts
        stat = ops.mean(ops.sqrt(variance + self.epsilon), axis=1)
        feature_shape = (batch, *inputs.shape[1:-1], 1)
        stat = ops.broadcast_to(
            ops.reshape(stat, (batch,) + (1,) * (len(inputs.shape) - 1)),
            feature_shape,
        )
        return ops.concatenate([inputs, ops.cast(stat, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels + 1)

    def get_config(self):
        return {
            **super().get_config(),
            "group_size": self.group_size,
            "epsilon": self.epsilon,
        }
