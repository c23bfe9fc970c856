"""The checker for known gotchas of a generator and discriminator pair,
and the facts about networks the GAN reads (their output activation,
whether the discriminator may see real and fake samples in one batch)."""

import collections
import warnings

import keras

from keras_gan_tricks._utils import (
    describe_shape,
    shapes_compatible,
    static_shape,
    walk_layers,
)
from keras_gan_tricks.layers import (
    InstanceNoise,
    MinibatchStdDev,
    SpectralNormalization,
)

_CONVOLUTIONS = tuple(
    getattr(keras.layers, f"Conv{rank}D{kind}")
    for kind in ("", "Transpose")
    for rank in (1, 2, 3)
)
_POOLING = tuple(
    getattr(keras.layers, f"{kind}Pooling{rank}D")
    for kind in ("Max", "Average")
    for rank in (1, 2, 3)
)


Finding = collections.namedtuple("Finding", ["code", "network", "layer", "message"])
Finding.__doc__ = """One gotcha found by `check_architecture`.

Fields: `code` (a short identifier), `network` ("generator" or
"discriminator"), `layer` (the layer's name, or None) and `message`.
"""


class ArchitectureWarning(UserWarning):
    """Warned by `check_architecture` for each finding."""


def _activation_name(layer):
    if isinstance(layer, keras.layers.ReLU):
        slope = getattr(layer, "negative_slope", 0.0)
        return "relu" if not slope else "leaky_relu"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def _output_layer(network):
    """The layer producing a functional or Sequential model's output."""
    if not getattr(network, "outputs", None):
        return None
    layer = network.layers[-1] if network.layers else None
    while isinstance(getattr(layer, "layers", None), list) and layer.layers:
        layer = layer.layers[-1]
    if isinstance(getattr(layer, "layer", None), keras.layers.Layer):
        layer = layer.layer
    return layer


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
    SpectralNormalization,
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


def is_graph_model(layer):
    """A Sequential or functional model (not subclassed: its `call` is known)."""
    return type(layer) is keras.Sequential or type(layer).__name__ == "Functional"


def ends_in_tanh(model):
    """Whether a Sequential or functional model's output layer applies tanh."""
    output = _output_layer(model) if is_graph_model(model) else None
    return output is not None and _activation_name(output) == "tanh"


def joint_batch(discriminator, d_batch):
    """Whether the discriminator may see real and fake samples in one call
    under `d_batch` (`"joint"`, `"separate"` or `"auto"`); see
    `kgt.GAN.compile`."""
    if d_batch not in ("auto", "joint", "separate"):
        raise ValueError(
            "`d_batch` must be 'auto', 'joint' or 'separate'. "
            f"Received: d_batch={d_batch!r}"
        )
    coupled = [
        layer
        for layer in walk_layers(discriminator)
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
    # subclassed model's `call`, or a layer of unknown kind, may couple the
    # samples of a batch, so "auto" keeps the batches apart then.
    return all(is_graph_model(layer) for layer in coupled)


def shape_mismatch(generator_shape, discriminator_shape, pack=1):
    """The message for a generator output (packed `pack` samples at once)
    that the discriminator's input does not fit (shapes without batch), or
    None when they fit."""
    if shapes_compatible(generator_shape, discriminator_shape):
        return None
    packed = f" packed (pack={pack}: {pack} samples concatenated on the last axis)"
    return (
        f"`discriminator` must take the generator's output{packed if pack > 1 else ''}"
        f", of shape {describe_shape(generator_shape)}. Received: discriminator "
        f"with input shape {describe_shape(discriminator_shape)}"
    )


def check_architecture(generator, discriminator, data_range=(-1.0, 1.0), warn=True):
    """Finds known GAN gotchas in a generator and discriminator.

    Checks, for the layers it can see (functional, Sequential and nested
    models; subclassed models expose their layers too):

    - `kernel_stride`: a strided (transposed) convolution whose kernel size
      is not divisible by its stride: uneven overlap, checkerboard artifacts
      (Odena et al. 2016), in either network;
    - `pooling`: max or average pooling in the discriminator (use strided
      convolutions; pooling gives sparse gradients);
    - `relu`: ReLU in the discriminator (use LeakyReLU; sparse gradients);
    - `output_activation`: a generator output activation that does not match
      the data's range (`tanh` for [-1, 1], `sigmoid` for [0, 1]);
    - `sigmoid_output`: a sigmoid at the discriminator's output, while every
      `kgt.losses` loss takes logits;
    - `shape_mismatch`: the generator's output shape differs from the
      discriminator's input shape.

    Args:
        generator: `keras.Model`.
        discriminator: `keras.Model`.
        data_range: pair of floats, or None. The data's range, to check the
            generator's output activation against; None skips that check.
        warn: bool. Also warn (`ArchitectureWarning`) for each finding.

    Returns:
        A list of `Finding`s, empty for a clean pair.
    """
    for arg, net in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(net, keras.layers.Layer):
            raise TypeError(
                f"`{arg}` must be a keras.Model. Received: {arg}={net!r} "
                f"(of type {type(net).__name__})"
            )
    findings = [
        *_layer_findings("generator", generator),
        *_layer_findings("discriminator", discriminator),
        *_output_findings(generator, discriminator, data_range),
        *_shape_findings(generator, discriminator),
    ]
    if warn:
        for finding in findings:
            warnings.warn(finding.message, ArchitectureWarning, stacklevel=2)
    return findings


def _layer_findings(network_name, network):
    """Yields `kernel_stride` in either network, `pooling` and `relu` in
    the discriminator, in the order of the network's layers."""
    for layer in walk_layers(network):
        if isinstance(layer, _CONVOLUTIONS):
            strides, kernel = tuple(layer.strides), tuple(layer.kernel_size)
            if any(s > 1 and k % s for k, s in zip(kernel, strides, strict=True)):
                yield Finding(
                    "kernel_stride",
                    network_name,
                    layer.name,
                    f"{network_name} layer {layer.name!r} has kernel size {kernel} "
                    f"not divisible by its strides {strides}: expect checkerboard "
                    "artifacts. Use a kernel divisible by the stride (e.g. 4 with stride 2).",
                )
        if network_name == "discriminator" and isinstance(layer, _POOLING):
            yield Finding(
                "pooling",
                network_name,
                layer.name,
                f"discriminator layer {layer.name!r} is a {type(layer).__name__}: "
                "pooling gives sparse gradients; downsample with strided convolutions.",
            )
        if network_name == "discriminator" and _activation_name(layer) == "relu":
            yield Finding(
                "relu",
                network_name,
                layer.name,
                f"discriminator layer {layer.name!r} uses ReLU: its sparse gradients "
                "hinder GAN training; use LeakyReLU(0.2).",
            )


def _output_findings(generator, discriminator, data_range):
    """Yields `output_activation` (against `data_range`, unless None) and
    `sigmoid_output`."""
    if data_range is not None:
        expected = {(-1.0, 1.0): "tanh", (0.0, 1.0): "sigmoid"}.get(
            tuple(float(v) for v in data_range)
        )
        output = _output_layer(generator)
        if expected and output is not None and _activation_name(output) != expected:
            yield Finding(
                "output_activation",
                "generator",
                output.name,
                f"the generator's output layer {output.name!r} has activation "
                f"{_activation_name(output)!r}, but data in {tuple(data_range)} "
                f"calls for {expected!r}.",
            )
    output = _output_layer(discriminator)
    if output is not None and _activation_name(output) == "sigmoid":
        yield Finding(
            "sigmoid_output",
            "discriminator",
            output.name,
            f"the discriminator's output layer {output.name!r} applies a sigmoid, "
            "but the kgt losses take logits: remove it (from_logits is built in).",
        )


def _shape_findings(generator, discriminator):
    """Yields `shape_mismatch`, where both networks' shapes are known."""
    g_outputs = getattr(generator, "outputs", None)
    d_inputs = getattr(discriminator, "inputs", None)
    if g_outputs and d_inputs:
        g_shape = static_shape(g_outputs[0])[1:]
        d_shape = static_shape(d_inputs[0])[1:]
        if shape_mismatch(g_shape, d_shape):
            yield Finding(
                "shape_mismatch",
                "generator",
                None,
                f"the generator makes samples of shape {g_shape} but the "
                f"discriminator takes {d_shape}.",
            )
