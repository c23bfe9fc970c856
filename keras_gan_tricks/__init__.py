"""keras-gan-tricks: reusable, tested GAN training tricks for Keras 3.

```python
import keras_gan_tricks as kgt

gan = kgt.GAN(generator, discriminator, latent_dim=128)
gan.compile(label_policy=kgt.labels.OneSidedSmoothing(0.1))
gan.fit(images, epochs=20)
```
"""

import os as _os
import sys as _sys

_SUBMODULES = (
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
    "recipes",
    "tricks",
)


def load_modules():
    """Imports the package's modules (and so Keras and its backend), which
    registers every serialisable class with `keras.saving`."""
    import importlib

    for name in _SUBMODULES:
        importlib.import_module(f"{__name__}.{name}")
    from keras_gan_tricks.gan import GAN

    globals()["GAN"] = GAN


def __getattr__(name):
    # Only before `load_modules` (the command line): import what is asked for.
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "GAN":
        return importlib.import_module(f"{__name__}.gan").GAN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _command_line():
    """Whether the package is being imported by its command line: the
    `keras-gan-tricks` script, or `python -m keras_gan_tricks.cli` (while
    `-m` locates a module, `sys.argv[0]` is "-m")."""
    program = _os.path.basename(_sys.argv[0]) if _sys.argv else ""
    return program.startswith("keras-gan-tricks") or program == "-m"


# A library import loads everything at once, so that `keras.saving` knows
# the package's classes before any `load_model`. The command line loads
# what it needs itself: `--help` then imports no backend, and a run first
# quiets the backend's logs.
if not _command_line():
    load_modules()

__version__ = "0.2.0"

__all__ = ["GAN", *_SUBMODULES, "__version__"]
