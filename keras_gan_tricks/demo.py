"""The main job: a DCGAN with the tricks on the embedded digits, with figures.

`keras-gan-tricks demo` calls `run_demo`. Nothing is downloaded: the data
are scikit-learn's 1,797 8x8 digits.
"""

import json
import os
import time

import keras
import numpy as np

from keras_gan_tricks import (
    architectures,
    callbacks,
    datasets,
    evaluation,
    images,
    layers,
    recipes,
    tricks,
)
from keras_gan_tricks.gan import GAN

LATENT_DIM = 64
IMAGE_SHAPE = (8, 8, 1)


class TrainingRecord(keras.callbacks.Callback):
    """Keeps each batch's own losses (and the tricks' values) for plotting."""

    KEYS = ("d_loss", "g_loss", "d_real", "d_fake")
    #: The tricks' values worth a panel: the controllers' knobs and signals.
    TRICK_KEYS = ("d_rank", "d_lr", "noise_signal", "noise_stddev", "augment_p")
    SIGNALS = ("d_rank", "noise_signal")

    def __init__(self):
        super().__init__()
        self.rows = []

    def on_train_batch_end(self, batch, logs=None):
        row = self.model.batch_values() if isinstance(self.model, GAN) else {}
        logs = logs or {}
        for key in self.TRICK_KEYS:
            if key in logs:
                row[key] = float(logs[key])
        self.rows.append(row)

    def series(self, key):
        values = np.array([row.get(key, np.nan) for row in self.rows], "float64")
        if key in self.SIGNALS:
            # A feedback loop logs 0 until its first window is measured.
            measured = np.flatnonzero(np.nan_to_num(values) != 0)
            values[: measured[0] if len(measured) else len(values)] = np.nan
        return values


LABELS = {
    "d_rank": "D's ranking\naccuracy",
    "d_lr": "D's learning\nrate",
    "noise_signal": "noise's\nsignal",
    "noise_stddev": "instance\nnoise",
    "augment_p": "augment p",
}


def plot_training(record, path, title="Training", lines=None):
    """Writes a PNG of the losses and, one panel each, the tricks' values
    that were logged (the controllers' signals and knobs). `lines`: `{key:
    {label: value}}`, horizontal lines to draw on a panel (thresholds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = lines or {}
    extra = [k for k in record.TRICK_KEYS if np.isfinite(record.series(k)).any()]
    fig, axes = plt.subplots(
        1 + len(extra), 1, figsize=(8, 3 + 1.6 * len(extra)), sharex=True
    )
    axes = np.atleast_1d(axes)
    steps = np.arange(1, len(record.rows) + 1)
    window = max(1, len(steps) // 50)
    kernel = np.ones(window) / window
    for key, colour in (("d_loss", "tab:red"), ("g_loss", "tab:blue")):
        values = record.series(key)
        axes[0].plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
        if len(values) >= window:
            smooth = np.convolve(values, kernel, mode="valid")
            axes[0].plot(
                steps[window - 1 :], smooth, color=colour, label=f"{key} (smoothed)"
            )
    axes[0].set_ylabel("loss")
    axes[0].legend(loc="upper right")
    axes[0].set_title(title)
    for axis, key in zip(axes[1:], extra, strict=True):
        axis.plot(steps, record.series(key), color="tab:green")
        for (label, value), style in zip(
            lines.get(key, {}).items(), ("--", ":"), strict=False
        ):
            axis.axhline(value, color="grey", linestyle=style, label=label)
            axis.legend(loc="lower right", fontsize="small")
        axis.set_ylabel(LABELS.get(key, key))
    axes[-1].set_xlabel("training step")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def build_digits_gan(seed=0):
    """The demo's DCGAN for 8x8 digits, built from `kgt.architectures`."""
    generator = architectures.dcgan_generator(LATENT_DIM, IMAGE_SHAPE, base_filters=64)
    discriminator = architectures.dcgan_discriminator(
        IMAGE_SHAPE, base_filters=64, stages=2, dropout=0.3
    )
    architectures.check_architecture(generator, discriminator)
    return GAN(generator, discriminator, latent_dim=LATENT_DIM, seed=seed)


def run_demo(
    epochs=60,
    out="kgt-demo",
    seed=0,
    batch_size=64,
    samples=10_000,
    verbose=2,
    limit=None,
):
    """Trains the digits DCGAN with the tricks and writes its figures.

    Args:
        epochs: int >= 1. Passes over the 1,797 digits.
        out: str or path-like. Output folder.
        seed: int. Seeds weights, data order and the GAN's random stream.
        batch_size: int >= 1.
        samples: int >= 2. Generated digits for the quality figures.
        verbose: int. `fit`'s verbosity (2: one line per epoch).
        limit: int or None. Train on the first `limit` digits only (tests).

    Returns:
        A dict: `metrics` (as in `metrics.json`) and the paths written.
    """
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(seed)
    real, _ = datasets.digits()
    train = real if limit is None else real[:limit]
    steps = epochs * int(np.ceil(len(train) / batch_size))

    # The failure atlas's best on the digits (`kgt.recipes.small_images`;
    # benchmarks/results/failures.md, "adaptive_recipe"): the averaged
    # generator does most for quality; the adaptive instance noise and the
    # balancer stay nearly idle in this balanced game and rescue it when D
    # runs ahead (D's rate 10x G's).
    gan = recipes.small_images(build_digits_gan(seed))
    grids = callbacks.SampleGrid(os.path.join(out, "grids"), n=64, columns=8, scale=4)
    record = TrainingRecord()
    start = time.time()
    gan.fit(
        train,
        batch_size=batch_size,
        epochs=epochs,
        verbose=verbose,
        callbacks=[grids, record],
    )
    seconds = time.time() - start

    paths = _demo_paths(out, grids.directory)
    _draw_demo(gan, record, real, paths, seed)
    gan.save(paths["model"])
    metrics = evaluation.summary(gan.generate(samples, seed=seed + 1), real)
    metrics.update(
        {"epochs": epochs, "steps": steps, "train_seconds": round(seconds, 1)}
    )
    with open(paths["metrics"], "w") as f:
        json.dump(metrics, f, indent=2)
    return {"metrics": metrics, "paths": paths}


def _demo_paths(out, grids):
    """The files the demo writes in folder `out`, and its `grids` folder."""
    return {
        "samples": os.path.join(out, "samples.png"),
        "real": os.path.join(out, "real.png"),
        "training_plot": os.path.join(out, "training.png"),
        "model": os.path.join(out, "gan.keras"),
        "metrics": os.path.join(out, "metrics.json"),
        "grids": grids,
    }


def _draw_demo(gan, record, real, paths, seed):
    """64 generated digits (drawn with `seed`), 64 `real` ones, and the
    training plot with the balancer's and the noise's targets."""
    noise = next(t for t in gan.tricks if isinstance(t, layers.AdaptiveInstanceNoise))
    balancer = next(
        t for t in gan.tricks if isinstance(t, tricks.DiscriminatorLRBalancer)
    )
    images.save_image_grid(
        gan.generate(64, seed=seed), paths["samples"], columns=8, scale=4
    )
    images.save_image_grid(real[:64], paths["real"], columns=8, scale=4)
    plot_training(
        record,
        paths["training_plot"],
        title="keras-gan-tricks demo: digits DCGAN",
        lines={
            "d_rank": {
                "balancer's target": balancer.target,
                "calm below": balancer.recover_below,
            },
            "noise_signal": {"noise's target": noise.target},
        },
    )


def describe(result):
    """The summary the CLI prints at the end of the demo."""
    m, p = result["metrics"], result["paths"]
    return "\n".join(
        [
            "",
            f"Trained {m['epochs']} epochs ({m['steps']} steps) in {m['train_seconds']:.0f} s.",
            f"Quality of {m['generated_samples']} generated digits, judged by a digits "
            f"classifier ({100 * m['classifier_accuracy']:.1f}% held-out accuracy):",
            f"  Frechet distance     {m['frechet_distance']:.2f}  (all generated vs all real; "
            "lower is better)",
            f"  at equal sizes       {m['frechet_distance_matched']:.2f}  generated vs real, "
            f"{m['frechet_distance_real_vs_real']:.2f} real vs real ({m['matched_samples']} each)",
            f"  classes covered      {m['classes_covered']}/10",
            f"  class KL to uniform  {m['class_kl_to_uniform']:.3f}  (0 = balanced, 2.30 = one class)",
            "Files:",
            f"  {p['samples']:<40} 64 generated digits (EMA generator)",
            f"  {p['real']:<40} 64 real digits, for comparison",
            f"  {p['grids']:<40} one sample grid per epoch",
            f"  {p['training_plot']:<40} losses; the balancer's and the noise's "
            "signals and knobs",
            f"  {p['model']:<40} the trained GAN (keras.saving.load_model)",
            f"  {p['metrics']:<40} the figures above",
        ]
    )
