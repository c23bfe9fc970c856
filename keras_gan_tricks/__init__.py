"""keras-gan-tricks: reusable, tested GAN training tricks for Keras 3.

```python
import keras_gan_tricks as kgt

gan = kgt.GAN(generator, discriminator, latent_dim=128)
gan.compile(label_policy=kgt.labels.OneSidedSmoothing(0.1))
gan.fit(images, epochs=20)
```
"""

from keras_gan_tricks import (
    architectures,
    augment,
    callbacks,
    datasets,
    evaluation,
    images,
    labels,
    layers,
    losses,
    penalties,
    tricks,
)
from keras_gan_tricks.gan import GAN

__version__ = "0.1.0"

__all__ = [
    "GAN",
    "architectures",
    "augment",
    "callbacks",
    "datasets",
    "evaluation",
    "images",
    "labels",
    "layers",
    "losses",
    "penalties",
    "tricks",
    "__version__",
]
