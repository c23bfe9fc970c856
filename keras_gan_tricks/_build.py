"""Building a `kgt.GAN`: its arguments checked, its networks built and
checked against each other, its config and compile config."""

import keras

from keras_gan_tricks import labels, losses, penalties
from keras_gan_tricks._sampling import LATENT_DISTRIBUTIONS
from keras_gan_tricks._utils import check_int, describe_shape, static_shape
from keras_gan_tricks.architectures import shape_mismatch
from keras_gan_tricks.layers import pack_samples
from keras_gan_tricks.losses import logits_shape_error
from keras_gan_tricks.tricks import InstanceNoise, PenaltyTerm, Trick


def _named(obj):
    """`<Adam object at 0x...>`: an object echoed by its class's public
    name (its repr names the backend's private module on some backends)."""
    return f"<{type(obj).__name__} object at {hex(id(obj))}>"


def check_networks(generator, discriminator, latent_distribution):
    """`kgt.GAN`'s networks and latent distribution, checked."""
    for arg, net in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(net, keras.layers.Layer):
            raise TypeError(
                f"`{arg}` must be a keras.Model (or keras.layers.Layer). "
                f"Received: {arg}={net!r} (of type {type(net).__name__})"
            )
    if generator is discriminator:
        raise ValueError(
            "`generator` and `discriminator` must be two different models. "
            f"Received: generator={generator!r}, discriminator={discriminator!r} "
            "(the same object)"
        )
    if latent_distribution not in LATENT_DISTRIBUTIONS:
        raise ValueError(
            f"`latent_distribution` must be one of {LATENT_DISTRIBUTIONS}. "
            f"Received: latent_distribution={latent_distribution!r}"
        )


def check_compile_options(kwargs):
    """Rejects `keras.Model.compile` options that mean nothing for a GAN."""
    for arg, why in REJECTED_COMPILE_ARGS.items():
        if arg in kwargs:
            raise TypeError(
                f"kgt.GAN.compile() does not take `{arg}`: {why}. "
                f"Received: {arg}={kwargs[arg]!r}"
            )


def resolve_instance_noise(instance_noise, seed):
    """The `instance_noise` option as a `kgt.layers.InstanceNoise` or None."""
    if instance_noise is None or isinstance(instance_noise, InstanceNoise):
        return instance_noise
    if isinstance(instance_noise, dict):
        return keras.saving.deserialize_keras_object(instance_noise)
    if isinstance(instance_noise, bool) or not isinstance(instance_noise, (int, float)):
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


def resolve_latent_dim(generator, latent_dim):
    """`latent_dim`, read from the generator's input when None."""
    inputs = getattr(generator, "inputs", None)
    inferred = None
    if inputs:
        shape = static_shape(inputs[0])
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


def check_pack(pack, conditional):
    """PacGAN's packing is for unconditional GANs only."""
    if pack > 1 and conditional:
        raise ValueError(
            "Packing (PacGAN) applies to unconditional GANs: D would judge "
            f"samples of different conditions at once. Received: pack={pack}"
        )


def resolve_condition(generator, condition_shape, condition_dtype):
    """`(condition_shape, condition_dtype)`, read from a two-input
    generator when not given; `(None, None)` for an unconditional GAN."""
    inputs = getattr(generator, "inputs", None)
    if condition_shape is None:
        if inputs and len(inputs) == 2:
            spec = inputs[1]
            return static_shape(spec)[1:], keras.backend.standardize_dtype(spec.dtype)
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


def symbolic_generator_inputs(latent_dim, condition_shape, condition_dtype):
    """Symbolic inputs of the generator: `z`, or `[z, labels]`."""
    z = keras.KerasTensor((None, latent_dim), dtype="float32")
    if condition_shape is None:
        return z
    return [z, keras.KerasTensor((None, *condition_shape), dtype=condition_dtype)]


def build_networks(gan):
    """Builds both networks symbolically, checks that they fit together,
    and returns the shape of one sample."""
    inputs = gan.symbolic_generator_inputs()
    condition = inputs[1] if gan.conditional else None
    try:
        fake = gan.generator(inputs)
    except Exception as error:
        labels = (
            f" with labels of shape (batch, *{gan.condition_shape})"
            if gan.conditional
            else ""
        )
        raise ValueError(
            "Could not call the generator on latent vectors of shape "
            f"(batch, {gan.latent_dim}){labels}: {error}"
        ) from error
    if isinstance(fake, (list, tuple)):
        raise ValueError(
            f"The generator must return one tensor. It returned {len(fake)} outputs."
        )
    sample_shape = static_shape(fake)[1:]
    packed = pack_samples(fake, gan.pack, fill=False)
    d_inputs = getattr(gan.discriminator, "inputs", None)
    if d_inputs:
        mismatch = shape_mismatch(
            static_shape(packed)[1:], static_shape(d_inputs[0])[1:], gan.pack
        )
        if mismatch:
            raise ValueError(mismatch)
    try:
        logits = gan.discriminator(packed if condition is None else [packed, condition])
    except Exception as error:
        raise ValueError(
            "The discriminator cannot take the generator's output of shape "
            f"{describe_shape(sample_shape)}: {error}"
        ) from error
    if isinstance(logits, (list, tuple)) or logits_shape_error(static_shape(logits)):
        shape = (
            [static_shape(t) for t in logits]
            if isinstance(logits, (list, tuple))
            else static_shape(logits)
        )
        raise ValueError(
            "`discriminator` must emit one logit per sample, of shape "
            "(batch,) or (batch, 1), or a map of logits with one channel, "
            "(batch, ..., 1) (PatchGAN). Received: discriminator with output "
            f"shape {shape}"
        )
    return sample_shape


def check_tricks(tricks):
    """`compile`'s `tricks` as a list of `kgt.tricks.Trick`."""
    if tricks is None:
        return []
    if isinstance(tricks, Trick) or not isinstance(tricks, (list, tuple)):
        raise TypeError(
            f"`tricks` must be a list of kgt.tricks.Trick. Received: tricks={tricks!r}"
        )
    tricks = [
        keras.saving.deserialize_keras_object(t) if isinstance(t, dict) else t
        for t in tricks
    ]
    for trick in tricks:
        if not isinstance(trick, Trick):
            raise TypeError(
                "`tricks` must hold kgt.tricks.Trick objects. Received: "
                f"tricks={tricks!r} (holding {trick!r}, of type "
                f"{type(trick).__name__})"
            )
    if len({id(t) for t in tricks}) != len(tricks):
        raise ValueError(
            f"`tricks` holds the same trick twice. Received: tricks={tricks!r}"
        )
    return tricks


def uses_float16(*models):
    """Whether any of `models` computes in float16."""
    return any(model.dtype_policy.compute_dtype == "float16" for model in models)


def get_optimizer(arg, optimizer):
    """An optimizer from `compile`'s argument; Adam(2e-4, 0.5) for None."""
    if optimizer is None:
        return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)
    try:
        return keras.optimizers.get(optimizer)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{arg}` must be a keras optimizer, its name or its config. "
            f"Received: {arg}={optimizer!r}"
        ) from error


def gan_config(gan):
    """`kgt.GAN.get_config`."""
    return {
        "name": gan.name,
        "trainable": gan.trainable,
        "dtype": keras.dtype_policies.serialize(gan.dtype_policy),
        "generator": keras.saving.serialize_keras_object(gan.generator),
        "discriminator": keras.saving.serialize_keras_object(gan.discriminator),
        "latent_dim": gan.latent_dim,
        "latent_distribution": gan.latent_distribution,
        "condition_shape": None
        if gan.condition_shape is None
        else list(gan.condition_shape),
        "condition_dtype": gan.condition_dtype or "int32",
        "instance_noise": None
        if gan.instance_noise is None
        else keras.saving.serialize_keras_object(gan.instance_noise),
        "seed": gan.seed,
        **({"pack": gan.pack} if gan.pack > 1 else {}),
        "trick_states": {
            name: keras.saving.serialize_keras_object(layer)
            for name, layer in gan.trick_states.items()
        },
    }


def gan_from_config(cls, config):
    """`kgt.GAN.from_config`."""
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


def compile_config(gan):
    """`kgt.GAN.get_compile_config`."""
    if not gan.compiled:
        return {}
    serialize = keras.saving.serialize_keras_object
    config = {
        "d_optimizer": serialize(gan.d_optimizer),
        "g_optimizer": serialize(gan.g_optimizer),
        "loss": serialize(gan.loss),
        "label_policy": None
        if gan.label_policy is None
        else serialize(gan.label_policy),
        "penalty": None
        if gan.penalty is None
        else [serialize(p) for p in gan.penalty]
        if isinstance(gan.penalty, list)
        else serialize(gan.penalty),
        "d_steps": gan.d_steps,
        "d_batch": gan.d_batch,
        **gan.compile_options,
    }
    given = gan.penalty if isinstance(gan.penalty, list) else [gan.penalty]
    # The terms `compile` made of `penalty` are made again from it; a
    # `PenaltyTerm` given in `tricks` is saved with them.
    tricks = [
        t
        for t in gan.tricks
        if all(t is not p for p in given)
        and not (isinstance(t, PenaltyTerm) and any(t.penalty is p for p in given))
    ]
    if tricks:
        config["tricks"] = [serialize(t) for t in tricks]
    return config


# `Model.compile` arguments that have no meaning for a GAN; the GAN's own
# arguments replace them.
REJECTED_COMPILE_ARGS = {
    "optimizer": "pass `d_optimizer=` and `g_optimizer=` instead",
    "metrics": "the GAN reports its own metrics",
    "weighted_metrics": "the GAN reports its own metrics",
    "loss_weights": "the GAN has one loss per network",
}


def compile_parts(gan, d_optimizer, g_optimizer, loss, label_policy, penalty, tricks):
    """`compile`'s arguments checked and resolved: `(optimizers, loss,
    label_policy, penalties, tricks)`, the tricks with the penalties' terms
    (each a `PenaltyTerm`) and the penalty tricks (`LeCam`) after the
    given ones."""
    loss = losses.get(loss)
    label_policy = labels.get(label_policy)
    plain, penalty_tricks = penalties.get_many(penalty)
    tricks = check_tricks(tricks)
    if label_policy is not None and not loss.uses_labels:
        raise ValueError(
            f"`label_policy` would have no effect: the {type(loss).__name__} "
            "loss has fixed targets. Use a cross-entropy or least-squares loss, "
            f"or drop it. Received: label_policy={label_policy!r}"
        )
    optimizers = (
        get_optimizer("d_optimizer", d_optimizer),
        get_optimizer("g_optimizer", g_optimizer),
    )
    if optimizers[0] is optimizers[1]:
        raise ValueError(
            "`d_optimizer` and `g_optimizer` must be two different optimizer "
            "objects: each holds its own network's slots. "
            f"Received: d_optimizer={_named(optimizers[0])}, "
            f"g_optimizer={_named(optimizers[1])} (the same object)"
        )
    for arg, net in (
        ("discriminator", gan.discriminator),
        ("generator", gan.generator),
    ):
        if not net.trainable_variables:
            raise ValueError(
                f"The {arg} has no trainable variables (is `{arg}.trainable` "
                "False?), so it cannot be trained."
            )
    names = penalties.term_names(plain)
    for term, one in zip(names, plain, strict=True):
        layer = "penalty_term" if term == "penalty" else f"{term}_term"
        tricks.append(PenaltyTerm(one, term=term, name=layer))
    tricks.extend(penalty_tricks)
    return optimizers, loss, label_policy, (plain, penalty_tricks), tricks


def penalty_attribute(penalty, plain, penalty_tricks):
    """`GAN.penalty` as given: one penalty (0.1.0's attribute), a list, or
    None."""
    if isinstance(penalty, (list, tuple)):
        return [*plain, *penalty_tricks] or None
    if penalty_tricks:  # a LeCam given alone
        return penalty_tricks
    return plain[0] if plain else None


def loss_scaled(optimizers):
    """As Keras's own compile does for `model.optimizer`: under float16
    mixed precision each optimizer scales its loss (dynamically), so small
    gradients do not flush to zero."""
    return tuple(
        optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        else keras.optimizers.LossScaleOptimizer(optimizer)
        for optimizer in optimizers
    )
