"""Named scalars kept as one variable: the state of a trick held in the GAN."""

import keras
from keras import ops

from keras_gan_tricks._utils import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class _ScalarState(keras.layers.Layer):
    """Named float scalars in one non-trainable vector (a trick's state).

    Saved in 0.1.0 files (`trick_states["lr_balancer"]`), so kept as is.
    """

    def __init__(self, names, **kwargs):
        super().__init__(**kwargs)
        self.names = list(names)
        self.values = self.add_weight(
            shape=(len(self.names),),
            initializer="zeros",
            trainable=False,
            name="values",
        )
        self.built = True

    def read(self):
        """`{name: float}` (host side: one transfer)."""
        values = ops.convert_to_numpy(self.values)
        return {name: float(v) for name, v in zip(self.names, values, strict=True)}

    def unstack(self):
        """`{name: scalar tensor}` (in-step)."""
        values = ops.unstack(self.values.value)
        return dict(zip(self.names, values, strict=True))

    def assign_from(self, values):
        """Sets every value from `{name: scalar tensor}` (in-step)."""
        self.values.assign(
            ops.stack([ops.cast(values[name], "float32") for name in self.names])
        )

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "names": self.names}


# Files since 0.1.0 hold the class under this name (registered, and as the
# key of its weights in a container): the public name is an alias.
ScalarState = _ScalarState
