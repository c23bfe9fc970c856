"""What the examples share: their command line, their smoke-run data, and
the 2D examples' report.

Every example runs as `python examples/NAME.py [--epochs N] [--out DIR]
[--smoke]`; `--smoke` trains one epoch on tiny data, as the tests do. The
examples import this file from their own folder.
"""

import argparse
import os

import keras
import numpy as np

import keras_gan_tricks as kgt


def parse_args(argv, doc, epochs, out, backend=None, extra=None):
    """The example's arguments, with its output folder made.

    Args:
        argv: list of str, or None for the command line.
        doc: str. The example's docstring; its first line describes it.
        epochs: int. The default number of epochs (a smoke run trains one).
        out: str. The default output folder.
        backend: None, or `(name, api)`: the Keras backend the example's own
            `train_step` is written for and the API it calls there; on
            another backend the example exits, saying so.
        extra: None, or a function that adds the example's own arguments
            to the `argparse.ArgumentParser`.

    Returns:
        An `argparse.Namespace` with `epochs`, `out`, `smoke` and the
        example's own arguments.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--out", default=out)
    parser.add_argument(
        "--smoke", action="store_true", help="one epoch on tiny data, for tests"
    )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if backend is not None and keras.backend.backend() != backend[0]:
        raise SystemExit(
            f"This example's train_step uses {backend[1]}: run it with "
            f"KERAS_BACKEND={backend[0]} (kgt.GAN itself runs on every backend)."
        )
    if args.smoke:
        args.epochs = 1
    os.makedirs(args.out, exist_ok=True)
    return args


def smoke_images(n, shape):
    """`n` random images of `shape` in (-1, 1), float32: a smoke run's data
    for the examples whose dataset is a download."""
    rng = np.random.default_rng(0)
    return np.tanh(rng.standard_normal((n, *shape))).astype("float32")


def digits(args):
    """The embedded digits and their labels; the first 64 in a smoke run."""
    images, labels = kgt.datasets.digits()
    if args.smoke:
        return images[:64], labels[:64]
    return images, labels


def ring(args):
    """Points of the 8-Gaussian ring and its modes; 512 in a smoke run."""
    return kgt.datasets.gaussian_ring(n=512 if args.smoke else 50_000)


def report_mode_coverage(generator, centers, out):
    """Prints PacGAN's mode coverage of 2,500 samples of `generator` on the
    ring of `centers`, and saves the generator in `out`."""
    z = keras.random.normal((2500, generator.input_shape[-1]), seed=1)
    samples = keras.ops.convert_to_numpy(keras.ops.stop_gradient(generator(z)))
    print(
        "mode coverage:",
        kgt.evaluation.mode_coverage(samples, centers, kgt.datasets.RING_STD),
    )
    generator.save(os.path.join(out, "generator.keras"))
