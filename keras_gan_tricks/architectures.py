"""GAN builders that follow the tricks, and a checker for known gotchas.

The DCGAN guidelines (Radford et al. 2016) and Chollet's "bag of tricks":
strided (transposed) convolutions instead of pooling, kernel sizes divisible
by the stride (else checkerboard artifacts), LeakyReLU rather than ReLU in
the discriminator (sparse gradients hinder GAN training), batch
normalization in the generator, dropout in the discriminator, and `tanh` at
the generator's output for data scaled to [-1, 1]. For low-dimensional
data (the 2D Gaussian mixtures), the MLPs of PacGAN (Lin et al. 2018).
"""

import collections
import warnings

import keras

from keras_gan_tricks._utils import (
    check_int,
    check_number,
    describe_shape,
    shapes_compatible,
    static_shape,
    walk_layers,
)
from keras_gan_tricks.layers import InstanceNoise, MinibatchStdDev

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


def _check_image_shape(image_shape):
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1
            for d in image_shape
        )
    ):
        raise ValueError(
            "`image_shape` must be (height, width, channels) of positive ints. "
            f"Received: image_shape={image_shape!r}"
        )
    return tuple(image_shape)


def _halvings(height, width):
    """Stride-2 stages between a 4x4-or-larger odd/base grid and the image."""
    stages = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
        height, width, stages = height // 2, width // 2, stages + 1
    return stages, height, width


def _check_kernel(kernel_size):
    kernel_size = check_int("kernel_size", kernel_size, low=2)
    if kernel_size % 2:
        raise ValueError(
            "`kernel_size` must be divisible by the stride, 2, or strided "
            "convolutions leave checkerboard artifacts. "
            f"Received: kernel_size={kernel_size}"
        )
    return kernel_size


def _activation(name):
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(0.2)
    if name == "relu":
        return keras.layers.ReLU()
    raise ValueError(
        f"`activation` must be 'leaky_relu' or 'relu'. Received: activation={name!r}"
    )


def _positive_ints(**values):
    """The values, each checked to be an int >= 1 (the error names it)."""
    return [check_int(name, value, low=1) for name, value in values.items()]


def _maybe_spectral_norm(layer, spectral_norm):
    return keras.layers.SpectralNormalization(layer) if spectral_norm else layer


def _check_flag(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


def dcgan_generator(
    latent_dim,
    image_shape,
    base_filters=64,
    kernel_size=4,
    batch_norm=True,
    activation="leaky_relu",
    output_kernel_size=3,
    name="dcgan_generator",
):
    """A DCGAN generator: Dense, then stride-2 transposed convolutions, tanh.

    The latent vector is projected to a small grid (4x4 up to 7x7, whatever
    the image size halves down to) with `base_filters * 2**(stages - 1)`
    channels, then doubled in size by `stages` transposed convolutions
    (kernel divisible by the stride, channels halving each time), each
    followed by batch normalization and the activation; a final convolution
    maps to the image's channels with `tanh`. For 28x28x1: Dense to
    7x7x128, two transposed convolutions to 14x14x128 and 28x28x64, and a
    3x3 convolution to 28x28x1.

    Args:
        latent_dim: int >= 1. Size of the latent vector.
        image_shape: tuple `(height, width, channels)`.
        base_filters: int >= 1. Channels of the last upsampling stage.
        kernel_size: int, even. Kernel of the transposed convolutions.
        batch_norm: bool. Batch normalization after each stage.
        activation: `"leaky_relu"` (slope 0.2, Chollet) or `"relu"` (Radford).
        output_kernel_size: int >= 1. Kernel of the output convolution.
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to images in
        [-1, 1].
    """
    latent_dim = check_int("latent_dim", latent_dim, low=1)
    height, width, channels = _check_image_shape(image_shape)
    base_filters = check_int("base_filters", base_filters, low=1)
    kernel_size = _check_kernel(kernel_size)
    output_kernel_size = check_int("output_kernel_size", output_kernel_size, low=1)
    _activation(activation)
    stages, h, w = _halvings(height, width)

    z = keras.Input((latent_dim,), name="latent")
    filters = base_filters * 2 ** max(stages - 1, 0)
    x = keras.layers.Dense(h * w * filters, use_bias=not batch_norm)(z)
    if batch_norm:
        x = keras.layers.BatchNormalization()(x)
    x = _activation(activation)(x)
    x = keras.layers.Reshape((h, w, filters))(x)
    for stage in range(stages):
        x = keras.layers.Conv2DTranspose(
            base_filters * 2 ** (stages - 1 - stage),
            kernel_size,
            strides=2,
            padding="same",
            use_bias=not batch_norm,
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = _activation(activation)(x)
    image = keras.layers.Conv2D(
        channels, output_kernel_size, padding="same", activation="tanh", name="image"
    )(x)
    return keras.Model(z, image, name=name)


def dcgan_discriminator(
    image_shape,
    base_filters=64,
    kernel_size=4,
    stages=None,
    dropout=0.3,
    spectral_norm=False,
    batch_norm=False,
    instance_noise=None,
    minibatch_stddev=False,
    name="dcgan_discriminator",
):
    """A DCGAN discriminator: stride-2 convolutions with LeakyReLU, one logit.

    `stages` stride-2 convolutions (kernel divisible by the stride,
    `base_filters` channels doubling each time), each followed by
    LeakyReLU(0.2), then optionally the minibatch standard deviation, a
    flatten, dropout and a Dense layer with one output and no activation
    (the losses take logits). No pooling and no ReLU (sparse gradients).

    Args:
        image_shape: tuple `(height, width, channels)`.
        base_filters: int >= 1. Channels of the first convolution.
        kernel_size: int, even. Kernel of the strided convolutions.
        stages: int >= 1 or None. Stride-2 convolutions; None halves the
            image down to 4x4-7x7 (at least one).
        dropout: float in [0, 1). Dropout before the output layer.
        spectral_norm: bool. Wrap every convolution and the output layer in
            `keras.layers.SpectralNormalization` (Miyato et al. 2018).
        batch_norm: bool. Batch normalization after each convolution but the
            first (Radford et al.).
        instance_noise: float >= 0 or None. Put a `kgt.layers.InstanceNoise`
            of this stddev at the input.
        minibatch_stddev: bool. Add `kgt.layers.MinibatchStdDev` before the
            output (ProGAN).
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from images to logits `(batch, 1)`.
    """
    height, width, _ = image_shape = _check_image_shape(image_shape)
    base_filters = check_int("base_filters", base_filters, low=1)
    kernel_size = _check_kernel(kernel_size)
    if stages is None:
        stages = max(_halvings(height, width)[0], 1)
    stages = check_int("stages", stages, low=1)
    dropout = check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)

    image = keras.Input(image_shape, name="image")
    x = image
    if instance_noise is not None:
        x = InstanceNoise(instance_noise, name="instance_noise")(x)
    for stage in range(stages):
        x = _maybe_spectral_norm(
            keras.layers.Conv2D(
                base_filters * 2**stage, kernel_size, strides=2, padding="same"
            ),
            spectral_norm,
        )(x)
        if batch_norm and stage > 0:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    if minibatch_stddev:
        x = MinibatchStdDev()(x)
    x = keras.layers.Flatten()(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    logit = _maybe_spectral_norm(keras.layers.Dense(1, name="logit"), spectral_norm)(x)
    return keras.Model(image, logit, name=name)


def mlp_generator(
    latent_dim,
    output_dim=2,
    width=400,
    depth=4,
    batch_norm=True,
    activation="relu",
    name="mlp_generator",
):
    """An MLP generator for low-dimensional data such as the 2D mixtures.

    `depth` hidden layers, each a Dense layer of `width` units followed by
    batch normalization (if `batch_norm`) and the activation, then a linear
    Dense layer to `output_dim`. The defaults are PacGAN's generator for the
    ring and the grid: four hidden layers of 400 ReLU units, batch norm.

    Args:
        latent_dim: int >= 1. Size of the latent vector.
        output_dim: int >= 1. Size of a sample (2 for points in the plane).
        width: int >= 1. Units of each hidden layer.
        depth: int >= 1. Hidden layers.
        batch_norm: bool. Batch normalization after each hidden Dense layer.
        activation: `"relu"` or `"leaky_relu"` (slope 0.2).
        name: str. The model's name.

    Returns:
        A `keras.Sequential` from latents to samples, with no output activation.

    Example:

    >>> generator = kgt.architectures.mlp_generator(2)
    >>> generator.output_shape
    (None, 2)
    """
    latent_dim, output_dim, width, depth = _positive_ints(
        latent_dim=latent_dim, output_dim=output_dim, width=width, depth=depth
    )
    batch_norm = _check_flag("batch_norm", batch_norm)
    _activation(activation)
    layers = [keras.Input((latent_dim,))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        layers.append(_activation(activation))
    return keras.Sequential([*layers, keras.layers.Dense(output_dim)], name=name)


def mlp_discriminator(
    input_dim=2,
    width=200,
    depth=3,
    pack=1,
    spectral_norm=False,
    instance_noise=None,
    minibatch_stddev=False,
    name="mlp_discriminator",
):
    """An MLP discriminator for low-dimensional data such as the 2D mixtures.

    Optionally instance noise at the input, then `depth` hidden layers, each
    a Dense layer of `width` units followed by LeakyReLU(0.2), optionally
    the minibatch standard deviation, and a Dense layer to one logit. The
    defaults are PacGAN's discriminator for the ring and the grid: three
    hidden layers of 200 units (PacGAN's maxout made LeakyReLU).

    Args:
        input_dim: int >= 1. Size of one sample (2 for points in the plane).
        width: int >= 1. Units of each hidden layer.
        depth: int >= 1. Hidden layers.
        pack: int >= 1. Samples judged together (PacGAN), side by side in
            the input; pass the same `pack` to `kgt.GAN`.
        spectral_norm: bool. Wrap every Dense layer in
            `keras.layers.SpectralNormalization` (Miyato et al. 2018).
        instance_noise: float >= 0 or None. Put a `kgt.layers.InstanceNoise`
            of this stddev at the input.
        minibatch_stddev: bool. Add `kgt.layers.MinibatchStdDev` before the
            output (ProGAN).
        name: str. The model's name.

    Returns:
        A `keras.Sequential` from `(batch, input_dim * pack)` to `(batch, 1)`.

    Example:

    >>> discriminator = kgt.architectures.mlp_discriminator(pack=4)
    >>> discriminator.input_shape
    (None, 8)
    """
    input_dim, width, depth, pack = _positive_ints(
        input_dim=input_dim, width=width, depth=depth, pack=pack
    )
    spectral_norm = _check_flag("spectral_norm", spectral_norm)
    minibatch_stddev = _check_flag("minibatch_stddev", minibatch_stddev)
    layers = [keras.Input((input_dim * pack,))]
    if instance_noise is not None:
        instance_noise = check_number("instance_noise", instance_noise, low=0.0)
        layers.append(InstanceNoise(instance_noise, name="instance_noise"))
    for _ in range(depth):
        dense = _maybe_spectral_norm(keras.layers.Dense(width), spectral_norm)
        layers += [dense, keras.layers.LeakyReLU(0.2)]
    if minibatch_stddev:
        layers.append(MinibatchStdDev())
    logit = _maybe_spectral_norm(keras.layers.Dense(1), spectral_norm)
    return keras.Sequential([*layers, logit], name=name)


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
