"""Private helpers shared by the package's modules."""

import math
import numbers

import keras
from keras import ops

PACKAGE = "keras_gan_tricks"


def register(cls):
    """Registers `cls` with Keras serialization under this package's name."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


def check_number(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """Returns `value` as a float after checking its type and range.

    Raises `TypeError` for a non-number (booleans included) and `ValueError`
    for a non-finite number or one outside the range; both messages name the
    argument and echo the value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a real number. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite. Received: {name}={value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(
            f"`{name}` must be in {left}{lo}, {hi}{right}. Received: {name}={value}"
        )
    return value


def check_int(name, value, *, low=None):
    """Returns `value` as an int after checking its type and lower bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be an integer. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"`{name}` must be >= {low}. Received: {name}={value}")
    return value


def as_seed_generator(seed, name="seed"):
    """Returns a `keras.random.SeedGenerator` for `seed`.

    A `SeedGenerator` is returned unchanged, so successive draws from it
    differ. An integer or `None` makes a new generator, which creates a
    variable: inside a compiled step pass a `SeedGenerator` you own.
    """
    if isinstance(seed, keras.random.SeedGenerator):
        return seed
    if seed is None or (
        isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
    ):
        return keras.random.SeedGenerator(seed)
    raise TypeError(
        f"`{name}` must be an int, a keras.random.SeedGenerator or None. "
        f"Received: {name}={seed!r} (of type {type(seed).__name__})"
    )


class Configurable:
    """Config round trip, equality by config and a readable repr.

    For the package's hyperparameter-only objects (losses, label policies,
    penalties): `get_config` returns the constructor's arguments.
    """

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def get_optional(identifier, base, arg, kind):
    """Returns `identifier` as a `base` instance: as is, from a config, or None.

    Raises `TypeError` naming `arg` for anything else; `kind` names the
    expected type in the message.
    """
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, dict):
        instance = keras.saving.deserialize_keras_object(identifier)
        if isinstance(instance, base):
            return instance
    raise TypeError(
        f"`{arg}` must be a {kind} or None. "
        f"Received: {arg}={identifier!r} (of type {type(identifier).__name__})"
    )


def walk_layers(layer):
    """Yields `layer` and every layer inside it, depth first.

    Goes into nested models (`.layers`) and into wrappers that hold one layer
    (`.layer`, e.g. `keras.layers.SpectralNormalization`).
    """
    yield layer
    for child in getattr(layer, "layers", None) or []:
        if child is not layer:
            yield from walk_layers(child)
    inner = getattr(layer, "layer", None)
    if isinstance(inner, keras.layers.Layer):
        yield from walk_layers(inner)


def static_shape(tensor_or_spec):
    """A tensor's (or spec's) shape as a tuple of ints and None."""
    return tuple(None if d is None else int(d) for d in tensor_or_spec.shape)


def shapes_compatible(a, b):
    """Whether two shapes (without batch) agree where both are known."""
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=False)
    )


def describe_shape(shape):
    """`(batch, 8, 8, 1)` for a sample shape `(8, 8, 1)`."""
    return f"(batch, {', '.join(map(str, shape))})"


def check_scheduled(name, value, **number_range):
    """A number (checked by `check_number` with `number_range`) or a
    `keras.optimizers.schedules` schedule of the step (a serialized one is
    deserialized): penalty weights, top-k's fraction."""
    if isinstance(value, dict):
        value = keras.saving.deserialize_keras_object(value)
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a number or a keras.optimizers.schedules "
            f"schedule of the step. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    return check_number(name, value, **number_range)


def scheduled_value(name, value, step):
    """`value` at `step`: the number itself, or the schedule's value."""
    if not isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return value
    if step is None:
        raise ValueError(
            f"`{name}` follows a schedule of the step: call with `step=` "
            "(kgt.GAN passes its step count). Received: step=None"
        )
    return ops.cast(value(step), "float32")


def scheduled_config(value):
    """`value` for a config: a schedule serialized, a number as is."""
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return keras.saving.serialize_keras_object(value)
    return value
