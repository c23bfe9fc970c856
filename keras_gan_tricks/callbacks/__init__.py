"""Callbacks that carry the GAN tricks through `fit`.

| callback | does |
|---|---|
| `InstanceNoiseDecay` | decays every `InstanceNoise` stddev over training steps |
| `DiscriminatorLRBalancer` | lowers D's learning rate while D runs ahead, and settles |
| `GeneratorEMA` | keeps a moving average of the generator's weights for sampling |
| `SampleGrid` | writes a PNG grid of samples from a fixed latent batch (and TensorBoard images) |
| `QualityMonitor` | KID, precision/recall, density/coverage every few epochs, with a collapse alarm |
| `Alarms` | says once when a trick's controller sits at its bound (in every `kgt.GAN.fit`) |

The first three are faces of the tricks of the same names in `kgt.tricks`:
in a `kgt.GAN.fit` the GAN runs the trick inside its compiled step (no
per-batch work in the callback, no wait on the step), and the trick's state
lives in the GAN (`GAN.trick_states`), so it is saved with the model and
restored by `keras.callbacks.BackupAndRestore`. With a model of your own,
the callback runs the same trick between batches: see each class for what
it needs from such a model."""

from keras_gan_tricks.callbacks.faces import (
    DiscriminatorLRBalancer,
    GeneratorEMA,
    InstanceNoiseDecay,
    find_instance_noise,
)
from keras_gan_tricks.callbacks.quality import QualityMonitor
from keras_gan_tricks.callbacks.samples import SampleGrid
from keras_gan_tricks.tricks import DECAY_KINDS, ScaledSchedule, update_average
from keras_gan_tricks.tricks.alarms import Alarms

__all__ = [
    "DECAY_KINDS",
    "Alarms",
    "DiscriminatorLRBalancer",
    "GeneratorEMA",
    "InstanceNoiseDecay",
    "QualityMonitor",
    "SampleGrid",
    "ScaledSchedule",
    "find_instance_noise",
    "update_average",
]
