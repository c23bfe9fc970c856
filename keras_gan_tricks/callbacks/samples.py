"""`SampleGrid`: pictures of a fixed latent batch as training goes."""

import os

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._utils import check_int
from keras_gan_tricks.gan import GAN
from keras_gan_tricks.images import check_images, image_grid, save_image_grid


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG grid of generated images every `every` epochs.

    The samples come from the same latent vectors each time (`seed`), so the
    pictures show how the generator's output for fixed inputs evolves. Files
    are `directory/epoch_0001.png`, ... (images in [-1, 1] mapped to black
    to white; 1, 3 or 4 channels). With `tensorboard=` (a
    `keras.callbacks.TensorBoard` or its log directory) the grid is also
    written as an image summary under the run's `train` folder.

    Works with a `kgt.GAN` (via `generate`, from the EMA generator when one
    is kept) and with any model that has a `generator` with a
    `(batch, latent_dim)` input (latent vectors drawn from a standard normal).

    Args:
        directory: str or path-like. Where to write the PNGs.
        every: int >= 1. Epochs between grids.
        n: int >= 1. Images per grid.
        seed: int >= 0. Seeds the fixed latent batch.
        labels: array or None. For a conditional GAN, the `n` labels.
        columns: int or None. Images per row (about sqrt(n) when None).
        scale: int >= 1. Pixel enlargement in the PNG.
        tensorboard: `keras.callbacks.TensorBoard`, str or None.
    """

    def __init__(
        self,
        directory,
        every=1,
        n=64,
        seed=0,
        labels=None,
        columns=None,
        scale=4,
        tensorboard=None,
    ):
        super().__init__()
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(
                f"`directory` must be a path. Received: directory={directory!r}"
            )
        self.directory = os.fspath(directory)
        self.every = check_int("every", every, low=1)
        self.n = check_int("n", n, low=1)
        self.seed = check_int("seed", seed, low=0)
        self.labels = None if labels is None else np.asarray(labels)
        self.columns = None if columns is None else check_int("columns", columns, low=1)
        self.scale = check_int("scale", scale, low=1)
        if isinstance(tensorboard, keras.callbacks.TensorBoard):
            tensorboard = tensorboard.log_dir
        if tensorboard is not None and not isinstance(tensorboard, (str, os.PathLike)):
            raise TypeError(
                "`tensorboard` must be a keras.callbacks.TensorBoard, a log directory "
                f"or None. Received: tensorboard={tensorboard!r}"
            )
        self.tensorboard = None if tensorboard is None else os.fspath(tensorboard)
        self.paths = []
        self._writer = None

    def sample(self):
        """The grid's images, from the fixed latent batch, as a NumPy array."""
        if isinstance(self.model, GAN):
            return self.model.generate(self.n, seed=self.seed, labels=self.labels)
        generator = getattr(self.model, "generator", None)
        if generator is None:
            raise ValueError(
                "`model` must be a kgt.GAN or have a `generator` attribute for "
                f"SampleGrid. Received: model of type {type(self.model).__name__}"
            )
        latent_dim = generator.inputs[0].shape[-1]
        z = (
            np.random.default_rng(self.seed)
            .standard_normal((self.n, latent_dim))
            .astype("float32")
        )
        return ops.convert_to_numpy(generator(z, training=False))

    def on_train_begin(self, logs=None):
        check_images(self.sample()[:1], arg="generated samples")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images = self.sample()
        path = os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png")
        self.paths.append(
            save_image_grid(images, path, columns=self.columns, scale=self.scale)
        )
        if self.tensorboard is not None:
            self._write_summary(images, epoch)

    def _write_summary(self, images, epoch):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.tensorboard, "train")
            )
        grid = image_grid(images, columns=self.columns)
        with self._writer.as_default():
            tf.summary.image("generated_samples", grid[None], step=epoch)
        self._writer.flush()

    def get_config(self):
        return {
            "directory": self.directory,
            "every": self.every,
            "n": self.n,
            "seed": self.seed,
            "labels": None if self.labels is None else self.labels.tolist(),
            "columns": self.columns,
            "scale": self.scale,
            "tensorboard": self.tensorboard,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
