"""Layers for discriminators: instance noise (fixed or adaptive; it lives
with its decay in `kgt.tricks`), the minibatch standard deviation and
spectral normalization that works on every backend."""

import keras
from keras import ops

from keras_gan_tricks._utils import check_int, check_number, register
from keras_gan_tricks.tricks.noise import (
    AdaptiveInstanceNoise,
    InstanceNoise,
    instance_noise_in,
)


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


@register
class SpectralNormalization(keras.layers.Wrapper):
    """Spectral normalization of a layer's kernel, on every backend.

    Miyato et al. 2018 ("Spectral Normalization for Generative Adversarial
    Networks"): the wrapped layer computes with `W / sigma(W)`, `sigma(W)`
    the largest singular value of its kernel (reshaped to `(-1, out)`),
    estimated by power iteration with a vector `u` kept between calls, so
    each layer is about 1-Lipschitz and the discriminator cannot sharpen
    without bound.

    A drop-in for `keras.layers.SpectralNormalization` (same arguments,
    same `vector_u`, the same outputs from the same weights, checked on
    TensorFlow), written once in `keras.ops`, which also trains on PyTorch:
    the kernel is never rewritten; the normalized kernel is handed to the
    wrapped layer for its call (`keras.StatelessScope`). Gradients flow
    through `sigma` as in the paper and in PyTorch's
    `torch.nn.utils.parametrizations.spectral_norm`; Keras's layer instead
    stores the normalized kernel in place, so its gradient skips `sigma`
    and its optimizer updates the normalized kernel. In training, `u` takes
    `power_iterations` steps per call; at inference it is only read.

    Args:
        layer: `keras.layers.Layer` with a `kernel` (`Dense`, `Conv2D`, ...)
            or `embeddings` (`Embedding`).
        power_iterations: int >= 1. Power-iteration steps per training call.

    Example:

    ```python
    logit = kgt.layers.SpectralNormalization(keras.layers.Dense(1))(features)
    ```
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        self.power_iterations = check_int("power_iterations", power_iterations, low=1)

    def _weight(self):
        for name in ("kernel", "embeddings"):
            weight = getattr(self.layer, name, None)
            if weight is not None:
                return weight
        raise ValueError(
            "`layer` must have a `kernel` or `embeddings` weight. Received: "
            f"layer={self.layer.name!r} of type {type(self.layer).__name__}"
        )

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        weight = self._weight()
        self.vector_u = self.add_weight(
            shape=(1, weight.shape[-1]),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            trainable=False,
            name="vector_u",
            dtype=weight.dtype,
        )
        self.built = True

    def normalized_weight(self, training=False):
        """The kernel divided by its estimated largest singular value (in
        training, after `power_iterations` steps of `u`, which is stored)."""
        weight = self._weight()
        matrix = ops.reshape(weight.value, (-1, weight.shape[-1]))
        fixed = ops.stop_gradient(matrix)
        u = self.vector_u.value
        v = ops.normalize(ops.matmul(u, ops.transpose(fixed)), axis=-1)
        if training:
            for step in range(self.power_iterations):
                if step:
                    v = ops.normalize(ops.matmul(u, ops.transpose(fixed)), axis=-1)
                u = ops.normalize(ops.matmul(v, fixed), axis=-1)
            self.vector_u.assign(u)
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.sum(ops.matmul(v, matrix) * u)
        return ops.divide(weight.value, ops.maximum(sigma, 1e-12))

    def call(self, inputs, training=False):
        weight = self._weight()
        normalized = self.normalized_weight(training=bool(training))
        # The wrapped layer computes with the normalized kernel; its other
        # weights keep their current values (those of an enclosing
        # stateless call included).
        mapping = [(w, w.value) for w in self.layer.weights if w is not weight]
        with keras.StatelessScope(state_mapping=[*mapping, (weight, normalized)]):
            outputs = self.layer(inputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


__all__ = [
    "AdaptiveInstanceNoise",
    "InstanceNoise",
    "MinibatchStdDev",
    "SpectralNormalization",
    "instance_noise_in",
    "pack_samples",
]
