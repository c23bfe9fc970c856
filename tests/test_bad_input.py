"""Every row of docs/errors.md: a bad input and the error it gets.

Each row is `(id, what, make, error, message)`: `make()` does the bad thing
and must raise `error` with `message` (a regular expression naming the
argument and echoing the value) before any training step runs. The docs
table is checked against this list, so the two cannot drift apart: it lists
exactly these rows, in this order, each with its `what`, and each row's
error cell is `f"{type(e).__name__}: {e}"` of the error `make()` raises,
written as `table_cell` writes it (memory addresses as `0x…`; `|` as `\\|`
and line breaks as `<br>`, the table's escapes).
"""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_gan_tricks as kgt
from tests.folders import folder_here
from tests.nets import mlp_discriminator, mlp_generator

DOCS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "errors.md")

# A memory address (`<... object at 0x7f3a...>`) differs from run to run.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def table_cell(message):
    """`message` as the docs table's error cell writes it: addresses as
    `0x…`, then `|` escaped as `\\|` and each line break as `<br>` (the
    table's one-line Markdown rows)."""
    message = _ADDRESS.sub("0x…", message)
    return message.replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def docs_rows(table="errors"):
    """`{id: (what, error)}` for each row of the docs table of errors (or
    of `table="warnings"`, the one under "## Warnings"), cells as written
    (split on unescaped `|`)."""
    rows = {}
    with open(DOCS, encoding="utf-8") as f:
        errors, _, warned = f.read().partition("\n## Warnings\n")
        for line in (errors if table == "errors" else warned).splitlines(True):
            match = re.match(r"^\| `([a-z0-9-]+)` \|", line)
            if match:
                cells = re.split(r"(?<!\\)\|", line.rstrip("\n"))[1:-1]
                assert len(cells) == 3, line
                rows[match.group(1)] = tuple(c.strip() for c in cells[1:])
    return rows


def gan(**kwargs):
    kwargs.setdefault("seed", 0)
    return kgt.GAN(mlp_generator(), mlp_discriminator(), **kwargs)


def compiled(**kwargs):
    model = gan()
    model.compile(**kwargs)
    return model


def conditional_gan():
    z, y = keras.Input((4,)), keras.Input((1,), dtype="int32")
    e = keras.layers.Flatten()(keras.layers.Embedding(3, 4)(y))
    g = keras.Model(
        [z, y], keras.layers.Dense(2)(keras.layers.Concatenate()([z, e])), name="g"
    )
    x, y2 = keras.Input((2,)), keras.Input((1,), dtype="int32")
    e2 = keras.layers.Flatten()(keras.layers.Embedding(3, 4)(y2))
    d = keras.Model(
        [x, y2], keras.layers.Dense(1)(keras.layers.Concatenate()([x, e2])), name="d"
    )
    model = kgt.GAN(g, d, seed=0)
    model.compile()
    return model


POINTS = np.zeros((64, 2), "float32")
FEATURES = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")


def with_nan():
    x = POINTS.copy()
    x[17, 1] = np.nan
    return x


def endless_batches():
    while True:
        yield (POINTS[:16],)


def tf_dataset_of_wrong_shape():
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(np.zeros((64, 3), "float32")).batch(8)


def tf_dataset_with_nan():
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(with_nan()).batch(32)


def tf_dataset_of_0_255_images():
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(np.linspace(0, 255, 128).reshape(64, 2))


GREY = np.full((8, 8), 100, "uint8")
COLOUR = np.stack([GREY, GREY // 2, GREY], -1)
PNG = b"\x89PNG\r\n\x1a\n"  # a PNG's signature and nothing more: corrupt


def image_folder(files, path="photos", **kwargs):
    """`kgt.datasets.image_folder(path, **kwargs)` in a fresh working folder
    holding `photos/` with `files`."""
    with folder_here(files):
        return kgt.datasets.image_folder(path, **kwargs)


ROWS = [
    # kgt.GAN
    (
        "gan-generator-type",
        "`generator` not a model",
        lambda: kgt.GAN("my_generator", mlp_discriminator()),
        TypeError,
        r"generator='my_generator'",
    ),
    (
        "gan-same-model",
        "the same model as generator and discriminator",
        lambda: (lambda m: kgt.GAN(m, m))(mlp_generator()),
        ValueError,
        r"two different models",
    ),
    (
        "gan-latent-distribution",
        "unknown `latent_distribution`",
        lambda: gan(latent_distribution="gauss"),
        ValueError,
        r"latent_distribution='gauss'",
    ),
    (
        "gan-latent-dim",
        "`latent_dim` that does not match the generator",
        lambda: gan(latent_dim=3),
        ValueError,
        r"latent_dim=3",
    ),
    (
        "gan-instance-noise-negative",
        "negative `instance_noise`",
        lambda: gan(instance_noise=-0.1),
        ValueError,
        r"instance_noise=-0.1",
    ),
    (
        "gan-instance-noise-type",
        "`instance_noise` of the wrong type",
        lambda: gan(instance_noise="strong"),
        TypeError,
        r"instance_noise='strong'",
    ),
    ("gan-seed", "non-integer `seed`", lambda: gan(seed=1.5), TypeError, r"seed=1.5"),
    ("gan-pack", "`pack=0`", lambda: gan(pack=0), ValueError, r"pack=0"),
    (
        "gan-pack-input",
        "a packed GAN whose discriminator takes single samples",
        lambda: gan(pack=4),
        ValueError,
        r"pack=4.*\(batch, 8\)\. Received: discriminator with input shape \(batch, 2\)",
    ),
    (
        "gan-output-mismatch",
        "generator output the discriminator cannot take",
        lambda: kgt.GAN(mlp_generator(out_dim=3), mlp_discriminator(in_dim=2)),
        ValueError,
        r"output, of shape \(batch, 3\)\. Received: discriminator with input shape",
    ),
    (
        "gan-logits",
        "discriminator that emits neither one logit per sample nor a one-channel map",
        lambda: kgt.GAN(mlp_generator(), mlp_discriminator(out_units=2)),
        ValueError,
        r"one logit per sample",
    ),
    # compile
    (
        "compile-loss",
        "unknown loss name",
        lambda: compiled(loss="hinged"),
        ValueError,
        r"loss='hinged'",
    ),
    (
        "compile-d-steps",
        "`d_steps=0`",
        lambda: compiled(d_steps=0),
        ValueError,
        r"d_steps=0",
    ),
    (
        "compile-shared-optimizer",
        "one optimizer object for both networks",
        lambda: (lambda o: compiled(d_optimizer=o, g_optimizer=o))(
            keras.optimizers.Adam()
        ),
        ValueError,
        r"Received: d_optimizer=.*\(the same object\)",
    ),
    (
        "compile-optimizer-type",
        "an optimizer that is not one",
        lambda: compiled(d_optimizer=0.001),
        ValueError,
        r"d_optimizer=0.001",
    ),
    (
        "compile-d-batch",
        "unknown `d_batch`",
        lambda: compiled(d_batch="both"),
        ValueError,
        r"d_batch='both'",
    ),
    (
        "compile-policy-with-wasserstein",
        "a label policy with a loss that ignores labels",
        lambda: compiled(
            loss="wasserstein", label_policy=kgt.labels.OneSidedSmoothing(0.1)
        ),
        ValueError,
        r"label_policy=OneSidedSmoothing",
    ),
    (
        "compile-penalty",
        "a penalty given by name",
        lambda: compiled(penalty="r3"),
        TypeError,
        r"penalty='r3'",
    ),
    # fit data
    (
        "fit-shape",
        "data of the wrong sample shape",
        lambda: compiled().fit(np.zeros((64, 3), "float32"), epochs=1, verbose=0),
        ValueError,
        r"Received: x of shape \(64, 3\)",
    ),
    (
        "fit-nan",
        "data holding NaN or inf",
        lambda: compiled().fit(with_nan(), epochs=1, verbose=0),
        ValueError,
        r"1 NaN or infinite value\(s\) \(the first at index \(17, 1\)",
    ),
    (
        "fit-dtype",
        "data that is not numbers",
        lambda: compiled().fit(np.full((64, 2), "a"), epochs=1, verbose=0),
        TypeError,
        r"dtype <U1",
    ),
    (
        "fit-empty",
        "an array of zero samples",
        lambda: compiled().fit(POINTS[:0], verbose=0),
        ValueError,
        r"`x` holds no samples.*shape \(0, 2\)",
    ),
    (
        "fit-conditional-labels",
        "a conditional GAN fitted without labels",
        lambda: conditional_gan().fit(POINTS, epochs=1, verbose=0),
        ValueError,
        r"y=None",
    ),
    (
        "fit-label-count",
        "labels and samples of different lengths",
        lambda: conditional_gan().fit(POINTS, np.zeros((10, 1), "int32"), verbose=0),
        ValueError,
        r"per sample of `x` \(64\)\. Received: y of shape \(10, 1\)",
    ),
    (
        "fit-dataset-shape",
        "a tf.data dataset of the wrong element shape",
        lambda: compiled().fit(tf_dataset_of_wrong_shape(), epochs=1, verbose=0),
        ValueError,
        r"\(None, 3\)",
    ),
    (
        "fit-dataset-nan",
        "a tf.data dataset whose first batch holds NaN",
        lambda: compiled().fit(tf_dataset_with_nan(), epochs=1, verbose=0),
        ValueError,
        r"`x's first batch` must hold finite numbers",
    ),
    (
        "generate-n",
        "`generate(n=0)`",
        lambda: compiled().generate(0),
        ValueError,
        r"n=0",
    ),
    (
        "export-path",
        "`export_generator` to a file that is not .keras",
        lambda: compiled().export_generator("generator.h5"),
        ValueError,
        r"filepath='generator.h5'",
    ),
    (
        "recalibrate-batches",
        "`recalibrate_batch_norm(batches=0)`",
        lambda: compiled().recalibrate_batch_norm(batches=0),
        ValueError,
        r"batches=0",
    ),
    (
        "recalibrate-labels",
        "a conditional generator recalibrated without labels",
        lambda: conditional_gan().recalibrate_batch_norm(),
        ValueError,
        r"conditions to draw from\. Received: labels=None",
    ),
    # tricks
    (
        "label-smoothing",
        "smoothing of 1",
        lambda: kgt.labels.OneSidedSmoothing(1.0),
        ValueError,
        r"smoothing=1.0",
    ),
    (
        "label-noise-range",
        "a label range with low > high",
        lambda: kgt.labels.UniformNoise(real=(1.2, 0.7)),
        ValueError,
        r"real=\(1.2, 0.7\)",
    ),
    (
        "label-flip",
        "a flip probability outside [0, 1]",
        lambda: kgt.labels.RandomFlip(1.5),
        ValueError,
        r"probability=1.5",
    ),
    (
        "penalty-r1",
        "negative R1 weight",
        lambda: kgt.penalties.R1(-1.0),
        ValueError,
        r"gamma=-1.0",
    ),
    (
        "penalty-gp",
        "negative gradient-penalty weight",
        lambda: kgt.penalties.GradientPenalty(weight=-10.0),
        ValueError,
        r"weight=-10.0",
    ),
    (
        "loss-logits-shape",
        "a standalone loss given two logits per sample",
        lambda: kgt.losses.NonSaturating().generator_loss(np.zeros((4, 2), "float32")),
        ValueError,
        r"fake_logits of shape \(4, 2\)",
    ),
    (
        "loss-labels-shape",
        "targets neither per sample nor per logit of a map",
        lambda: kgt.losses.NonSaturating().discriminator_loss(
            np.zeros((4, 3, 3, 1), "float32"),
            np.zeros(4, "float32"),
            np.zeros((4, 2), "float32"),
        ),
        ValueError,
        r"real_labels of shape \(4, 2\)",
    ),
    (
        "penalty-gamma-type",
        "an R1 weight that is neither a number nor a schedule",
        lambda: kgt.penalties.R1(gamma="big"),
        TypeError,
        r"gamma='big'",
    ),
    (
        "penalty-schedule-step",
        "a scheduled weight outside a GAN without `step`",
        lambda: kgt.penalties.R1(
            keras.optimizers.schedules.ExponentialDecay(1.0, 10, 0.5)
        )(lambda x: x[:, 0], POINTS, POINTS),
        ValueError,
        r"step=None",
    ),
    (
        "penalty-lecam-decay",
        "`LeCam(decay=1.0)`",
        lambda: kgt.penalties.LeCam(decay=1.0),
        ValueError,
        r"decay=1.0",
    ),
    (
        "compile-penalty-list",
        "a penalty list holding a name",
        lambda: compiled(penalty=[kgt.penalties.R1(), "r2"]),
        TypeError,
        r"holding 'r2'",
    ),
    (
        "loss-relativistic-pairs",
        "real and fake batches of different sizes for the pairing loss",
        lambda: kgt.losses.RelativisticPairing().discriminator_loss(
            np.zeros(8, "float32"), np.zeros(6, "float32")
        ),
        ValueError,
        r"real_logits of shape \(8, 1\) and fake_logits of shape \(6, 1\)",
    ),
    (
        "trick-topk-fraction",
        "`TopK(fraction=0)`",
        lambda: kgt.tricks.TopK(0.0),
        ValueError,
        r"fraction=0.0",
    ),
    (
        "trick-replay-size",
        "`ReplayBuffer(size=0)`",
        lambda: kgt.tricks.ReplayBuffer(size=0),
        ValueError,
        r"size=0",
    ),
    (
        "layer-instance-noise",
        "negative `InstanceNoise` stddev",
        lambda: kgt.layers.InstanceNoise(-0.2),
        ValueError,
        r"stddev=-0.2",
    ),
    (
        "layer-minibatch-stddev",
        "`MinibatchStdDev(group_size=0)`",
        lambda: kgt.layers.MinibatchStdDev(group_size=0),
        ValueError,
        r"group_size=0",
    ),
    (
        "layer-spectral-norm-iterations",
        "`SpectralNormalization(power_iterations=0)`",
        lambda: kgt.layers.SpectralNormalization(
            keras.layers.Dense(1), power_iterations=0
        ),
        ValueError,
        r"power_iterations=0",
    ),
    (
        "layer-spectral-norm-kernel",
        "`SpectralNormalization` of a layer without a kernel",
        lambda: kgt.layers.SpectralNormalization(keras.layers.Flatten(name="flat"))(
            np.zeros((2, 3), "float32")
        ),
        ValueError,
        r"layer='flat' of type Flatten",
    ),
    # callbacks
    (
        "noise-decay-initial",
        "`InstanceNoiseDecay` without `initial`",
        lambda: kgt.callbacks.InstanceNoiseDecay(steps=100),
        ValueError,
        r"initial=None",
    ),
    (
        "noise-decay-steps",
        "`InstanceNoiseDecay(steps=0)`",
        lambda: kgt.callbacks.InstanceNoiseDecay(0.3, steps=0),
        ValueError,
        r"steps=0",
    ),
    (
        "noise-decay-fit-length",
        "`InstanceNoiseDecay()` over a fit of unknown length",
        lambda: compiled().fit(
            endless_batches(),
            verbose=0,
            callbacks=[kgt.callbacks.InstanceNoiseDecay(0.3)],
        ),
        ValueError,
        r"steps_per_epoch.*Received: steps=None",
    ),
    (
        "noise-decay-kind",
        "unknown decay kind",
        lambda: kgt.callbacks.InstanceNoiseDecay(0.3, 0.0, 10, kind="quadratic"),
        ValueError,
        r"kind='quadratic'",
    ),
    (
        "balancer-factor",
        "balancer factor of 1.5 (it must shrink the rate)",
        lambda: kgt.callbacks.DiscriminatorLRBalancer(factor=1.5),
        ValueError,
        r"factor=1.5",
    ),
    (
        "ema-decay",
        "`GeneratorEMA(decay=1.0)`",
        lambda: kgt.callbacks.GeneratorEMA(1.0),
        ValueError,
        r"decay=1.0",
    ),
    (
        "ema-model",
        "`GeneratorEMA` on a model without a generator",
        lambda: kgt.callbacks.GeneratorEMA().set_model(keras.Sequential()),
        ValueError,
        r"Sequential",
    ),
    (
        "ema-recalibrate",
        "`GeneratorEMA(recalibrate_batch_norm=True)` on a conditional GAN",
        lambda: kgt.callbacks.GeneratorEMA(recalibrate_batch_norm=True).set_model(
            conditional_gan()
        ),
        ValueError,
        r"Received: recalibrate_batch_norm=True",
    ),
    (
        "compile-tricks",
        "`compile(tricks=...)` with one trick, not a list",
        # Named: Keras numbers auto-named layers by how many came before.
        lambda: gan().compile(
            tricks=kgt.layers.InstanceNoise(0.1, name="instance_noise")
        ),
        TypeError,
        r"`tricks` must be a list of kgt.tricks.Trick. Received: tricks=<InstanceNoise",
    ),
    (
        "compile-trick-type",
        "`compile(tricks=[...])` holding something that is not a trick",
        lambda: gan().compile(tricks=[kgt.penalties.R1()]),
        TypeError,
        r"`tricks` must hold kgt.tricks.Trick objects. Received: tricks=\[R1\(gamma=10.0, every=1\)\] \(holding R1",
    ),
    (
        "sample-grid-n",
        "`SampleGrid(n=0)`",
        lambda: kgt.callbacks.SampleGrid("grids", n=0),
        ValueError,
        r"n=0",
    ),
    # datasets and evaluation
    (
        "dataset-ring-modes",
        "`gaussian_ring(modes=0)`",
        lambda: kgt.datasets.gaussian_ring(modes=0),
        ValueError,
        r"modes=0",
    ),
    (
        "dataset-grid-n",
        "`gaussian_grid(n=0)`",
        lambda: kgt.datasets.gaussian_grid(n=0),
        ValueError,
        r"n=0",
    ),
    (
        "dataset-path",
        "`mnist(path=...)` of a file that does not exist",
        lambda: kgt.datasets.mnist(path="/nonexistent/mnist.npz"),
        ValueError,
        r"path='/nonexistent/mnist.npz'",
    ),
    (
        "folder-path-type",
        "`image_folder` of a path that is not one",
        lambda: kgt.datasets.image_folder(3),
        TypeError,
        r"path=3 of type int",
    ),
    (
        "folder-missing",
        "`image_folder` of a folder that does not exist",
        lambda: image_folder({}, path="holiday"),
        ValueError,
        r"path='holiday', which does not exist",
    ),
    (
        "folder-file",
        "`image_folder` of a file",
        lambda: image_folder({"a.png": GREY}, path="photos/a.png"),
        ValueError,
        r"path='photos/a.png', which is a file",
    ),
    (
        "folder-empty",
        "an empty folder",
        lambda: image_folder({}),
        ValueError,
        r"path='photos', which is empty",
    ),
    (
        "folder-no-images",
        "a folder without image files",
        lambda: image_folder({"notes.txt": b"", "more/notes.txt": b"", "x.csv": b""}),
        ValueError,
        r"holds none \(found: 1 \.csv, 2 \.txt\)",
    ),
    (
        "folder-unreadable",
        "a folder whose images are all corrupt",
        lambda: image_folder({"a.png": PNG, "b.jpg": b"text"}),
        ValueError,
        r"all 2 file\(s\) are unreadable",
    ),
    (
        "folder-strict",
        "a corrupt image with `strict=True`",
        lambda: image_folder({"a.png": GREY, "b.png": PNG}, strict=True),
        ValueError,
        r"1 unreadable or corrupt image file\(s\) of 2: 'b.png'",
    ),
    (
        "folder-mixed-channels",
        "grey and colour images mixed, `channels=None`",
        lambda: image_folder({"a.png": GREY, "b.png": COLOUR, "c.jpg": GREY}),
        ValueError,
        r"2 grey: 'a.png', 'c.jpg'; 1 colour: 'b.png'.*channels=None",
    ),
    (
        "folder-sizes",
        "images of different sizes, `image_size=None`",
        lambda: image_folder({"a.png": GREY, "b.png": GREY, "c.png": GREY[:4]}),
        ValueError,
        r"8x8: 2 \('a.png'\); 4x8: 1 \('c.png'\).*image_size=None",
    ),
    (
        "folder-labels",
        "`image_folder(labels=...)` not None or 'inferred'",
        lambda: image_folder({"a.png": GREY}, labels=True),
        ValueError,
        r"labels=True",
    ),
    (
        "folder-flat-labels",
        "`labels='inferred'` of a folder without class subfolders",
        lambda: image_folder({"a.png": GREY, "b.png": GREY}, labels="inferred"),
        ValueError,
        r"has no subfolders with images \(2 image\(s\)",
    ),
    (
        "folder-loose-images",
        "`labels='inferred'` with images outside the class subfolders",
        lambda: image_folder(
            {"cat/a.png": GREY, "dog/b.png": GREY, "c.png": GREY}, labels="inferred"
        ),
        ValueError,
        r"1 image\(s\) lie directly in path='photos' \('c.png'\)",
    ),
    (
        "folder-class-names",
        "`class_names` that are not the class subfolders",
        lambda: image_folder(
            {"cat/a.png": GREY, "dog/b.png": GREY},
            labels="inferred",
            class_names=["cat", "bird"],
        ),
        ValueError,
        r"permutation of \['cat', 'dog'\]\. Received: class_names=\['cat', 'bird'\]",
    ),
    (
        "folder-class-names-unlabelled",
        "`class_names` without `labels='inferred'`",
        lambda: image_folder({"cat/a.png": GREY}, class_names=["cat"]),
        ValueError,
        r"class_names=\['cat'\] with labels=None",
    ),
    (
        "folder-image-size",
        "`image_folder(image_size=0)`",
        lambda: image_folder({"a.png": GREY}, image_size=0),
        ValueError,
        r"image_size=0",
    ),
    (
        "folder-channels",
        "`image_folder(channels=4)`",
        lambda: image_folder({"a.png": GREY}, channels=4),
        ValueError,
        r"channels=4",
    ),
    (
        "folder-aspect",
        "`image_folder(aspect='fit')`",
        lambda: image_folder({"a.png": GREY}, aspect="fit"),
        ValueError,
        r"aspect='fit'",
    ),
    (
        "folder-interpolation",
        "`image_folder(interpolation='area')`",
        lambda: image_folder({"a.png": GREY}, interpolation="area"),
        ValueError,
        r"interpolation='area'",
    ),
    (
        "folder-batch-size",
        "`image_folder(batch_size=0)`",
        lambda: image_folder({"a.png": GREY}, batch_size=0),
        ValueError,
        r"batch_size=0",
    ),
    (
        "evaluation-extractor",
        "a feature extractor that is not one",
        lambda: kgt.evaluation.features(FEATURES, extractor=3),
        TypeError,
        r"extractor=3",
    ),
    (
        "evaluation-kid-subsets",
        "`kernel_distance(subsets=0)`",
        lambda: kgt.evaluation.kernel_distance(FEATURES, FEATURES, subsets=0),
        ValueError,
        r"subsets=0",
    ),
    (
        "evaluation-kid-subset-size",
        "`kernel_distance(subset_size=1)`",
        lambda: kgt.evaluation.kernel_distance(FEATURES, FEATURES, subset_size=1),
        ValueError,
        r"subset_size=1",
    ),
    (
        "evaluation-k",
        "`precision_recall(k=0)`",
        lambda: kgt.evaluation.precision_recall(FEATURES, FEATURES, k=0),
        ValueError,
        r"k=0",
    ),
    (
        "evaluation-tiny",
        "fewer real samples than k + 1",
        lambda: kgt.evaluation.density_coverage(FEATURES[:3], FEATURES, k=5),
        ValueError,
        r"shape \(3, 4\)",
    ),
    (
        "evaluation-features-mismatch",
        "real and fake features of different widths",
        lambda: kgt.evaluation.kernel_distance(FEATURES, FEATURES[:, :3]),
        ValueError,
        r"real_features of shape \(50, 4\) and fake_features of shape \(50, 3\)",
    ),
    (
        "evaluation-test-fraction",
        "`classifier_two_sample_test(test_fraction=1.5)`",
        lambda: kgt.evaluation.classifier_two_sample_test(
            FEATURES, FEATURES, test_fraction=1.5
        ),
        ValueError,
        r"test_fraction=1.5",
    ),
    (
        "evaluation-kl-counts",
        "negative counts given to `kl_to_uniform`",
        lambda: kgt.evaluation.kl_to_uniform([3, -1]),
        ValueError,
        r"counts=\[3.0, -1.0\]",
    ),
    (
        "quality-every",
        "`QualityMonitor(every=0)`",
        lambda: kgt.callbacks.QualityMonitor(FEATURES, lambda x: x, every=0),
        ValueError,
        r"every=0",
    ),
    (
        "quality-alarm-drop",
        "`QualityMonitor(alarm_drop=1.5)`",
        lambda: kgt.callbacks.QualityMonitor(FEATURES, lambda x: x, alarm_drop=1.5),
        ValueError,
        r"alarm_drop=1.5",
    ),
    (
        "alarms-every",
        "`Alarms(every=0)`",
        lambda: kgt.callbacks.Alarms(every=0),
        ValueError,
        r"every=0",
    ),
    (
        "alarms-patience",
        "`Alarms(patience=1.5)`",
        lambda: kgt.callbacks.Alarms(patience=1.5),
        TypeError,
        r"patience=1.5",
    ),
    (
        "alarms-warn",
        "`Alarms(warn='yes')`",
        lambda: kgt.callbacks.Alarms(warn="yes"),
        TypeError,
        r"warn='yes'",
    ),
    (
        "quality-alarm-floor",
        "`QualityMonitor(alarm_floor=1.0)`",
        lambda: kgt.callbacks.QualityMonitor(FEATURES, lambda x: x, alarm_floor=1.0),
        ValueError,
        r"alarm_floor=1.0",
    ),
    (
        "evaluation-nan",
        "NaN samples given to `mode_coverage`",
        lambda: kgt.evaluation.mode_coverage(
            np.full((4, 2), np.nan), np.zeros((1, 2)), 0.1
        ),
        ValueError,
        r"`samples` holds NaN",
    ),
    (
        "evaluation-classifier-labels",
        "`image_classifier` given labels of another length",
        lambda: kgt.evaluation.image_classifier(
            np.zeros((20, 8, 8, 1), "float32"), np.zeros(12, "int32")
        ),
        ValueError,
        r"labels of shape \(12,\)",
    ),
    (
        "evaluation-classifier-classes",
        "`image_classifier` given one class, or classes of under 5 images",
        lambda: kgt.evaluation.image_classifier(
            np.zeros((12, 8, 8, 1), "float32"), np.array([0] * 9 + [1] * 3)
        ),
        ValueError,
        r"counts per class \[9, 3\]",
    ),
    (
        "evaluation-inception-weights",
        "`inception_v3(weights=PATH)` with no file at `PATH`",
        lambda: kgt.evaluation.inception_v3(weights="nowhere.h5"),
        ValueError,
        r"weights='nowhere.h5'",
    ),
    (
        "evaluation-inception-images",
        "images of 2 channels given to `inception_v3()`'s extractor",
        lambda: kgt.evaluation.InceptionFeatures.prepare(np.zeros((2, 8, 8, 2))),
        ValueError,
        r"images of shape \(2, 8, 8, 2\)",
    ),
]

# CLI rows: (id, what, argv, message); each exits with status 2 and one line.
CLI_ROWS = [
    ("cli-epochs", "`--epochs 0`", ["demo", "--epochs", "0"], r"--epochs.*0"),
    (
        "cli-data",
        "unknown `--data`",
        ["train", "--data", "faces"],
        r"folder of images, got .faces.",
    ),
    (
        "cli-penalty-weight",
        "negative `--penalty-weight`",
        ["train", "--data", "ring", "--penalty-weight", "-1"],
        r"-1",
    ),
    (
        "cli-sample-path",
        "`sample` of a file that does not exist",
        ["sample", "missing.keras"],
        r"missing.keras",
    ),
]


@pytest.mark.parametrize(
    "row, make, error, message",
    [(r[0], *r[2:]) for r in ROWS],
    ids=[r[0] for r in ROWS],
)
def test_bad_input_raises_the_documented_error(row, make, error, message):
    with pytest.raises(error, match=message) as caught:
        make()
    raised = table_cell(f"{caught.type.__name__}: {caught.value}")
    documented = docs_rows().get(row, (None, None))[1]
    assert documented == raised, f"docs/errors.md, row `{row}`"


@pytest.mark.parametrize(
    "row, argv, message",
    [(r[0], *r[2:]) for r in CLI_ROWS],
    ids=[r[0] for r in CLI_ROWS],
)
def test_bad_cli_flag_exits_with_one_line(row, argv, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "keras_gan_tricks.cli", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KGT_DEBUG": ""},
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert re.search(message, last), last
    assert "Traceback" not in result.stderr
    documented = docs_rows().get(row, (None, None))[1]
    assert documented == table_cell(f"exit 2: {last}"), f"docs/errors.md, row `{row}`"


def test_docs_table_lists_every_row():
    documented = list(docs_rows())
    expected = [r[0] for r in ROWS] + [r[0] for r in CLI_ROWS]
    assert documented == expected
    assert len(expected) >= 25
    rows = docs_rows()
    for row, what, *_ in ROWS + CLI_ROWS:
        assert rows[row][0] == what, f"docs/errors.md, row `{row}`"


def test_table_cell_escapes():
    assert table_cell("a | b\nc") == "a \\| b<br>c"
    assert table_cell("<Adam object at 0x7f3a1c2b4e50>") == "<Adam object at 0x…>"
    # Short hexadecimal numbers are values, not addresses.
    assert table_cell("Received: mask=0xff") == "Received: mask=0xff"


def test_images_outside_tanh_range_warn(points):
    def tanh_generator():
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(2, activation="tanh")]
        )

    model = kgt.GAN(tanh_generator(), mlp_discriminator(), seed=0)
    model.compile()
    with pytest.warns(UserWarning, match=r"values in \[0, 255\].*tanh"):
        model.fit(np.linspace(0, 255, 128).reshape(64, 2), epochs=1, verbose=0)
    # In range, or a generator without tanh: no warning.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(np.clip(points, -1, 1), epochs=1, verbose=0)
        plain = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
        plain.compile()
        plain.fit(points * 10, epochs=1, verbose=0)


# Warnings: (id, what, make, message); `make()` must warn `message` once
# (a UserWarning; a regular expression) and the docs' warnings table must
# hold that warning's text.
WARN_ROWS = [
    (
        "warn-fit-dataset-range",
        "a tf.data dataset of images in [0, 255] for a tanh generator",
        lambda: tanh_gan().fit(tf_dataset_of_0_255_images().batch(64), verbose=0),
        r"values in \[0, 255\].*tanh",
    ),
    (
        "warn-folder-corrupt",
        "`image_folder` of a folder with corrupt files",
        lambda: image_folder(
            {"a.png": GREY, "b.png": PNG, "c.gif": b"GIF89a", "d.png": GREY}
        ),
        r"skipped 2 unreadable or corrupt image file\(s\) of 4",
    ),
    (
        "warn-folder-paletted-bmp",
        "`image_folder` of a paletted BMP",
        lambda: image_folder({"a.png": COLOUR, "b.bmp": (COLOUR, "P")}),
        r"'b.bmp' \(a paletted BMP",
    ),
    (
        "warn-folder-transparent",
        "`image_folder` of images with transparent pixels",
        lambda: image_folder(
            {"a.png": (GREY, "LA"), "b.png": (np.dstack([COLOUR, GREY]), "RGBA")},
            channels=3,
        ),
        r"1 image\(s\) .* have transparent pixels \('b.png'\)",
    ),
    (
        "warn-folder-smaller",
        "`image_folder` of images smaller than `image_size`",
        lambda: image_folder({"a.png": GREY, "b.png": GREY[:4]}, image_size=6),
        r"1 image\(s\) .* smaller than image_size=\(6, 6\) \(the smallest 4x8",
    ),
    (
        "warn-folder-other-files",
        "`image_folder` of a folder holding other image formats",
        lambda: image_folder({"a.png": GREY, "b.heic": b"", "c/d.tif": b""}),
        r"2 other image file\(s\) .* are not read \(\.heic, \.tif",
    ),
]


def tanh_gan():
    generator = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(2, activation="tanh")]
    )
    model = kgt.GAN(generator, mlp_discriminator(), seed=0)
    model.compile()
    return model


@pytest.mark.parametrize(
    "row, make, message",
    [(r[0], *r[2:]) for r in WARN_ROWS],
    ids=[r[0] for r in WARN_ROWS],
)
def test_bad_input_warns_the_documented_warning(row, make, message):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
    matching = [w for w in caught if re.search(message, str(w.message))]
    assert len(matching) == 1, [str(w.message) for w in caught]
    assert matching[0].category is UserWarning
    documented = docs_rows("warnings").get(row, (None, None))[1]
    assert documented == table_cell(str(matching[0].message)), f"row `{row}`"


def test_docs_warnings_table_lists_every_row():
    rows = docs_rows("warnings")
    assert list(rows) == [r[0] for r in WARN_ROWS]
    for row, what, *_ in WARN_ROWS:
        assert rows[row][0] == what, f"docs/errors.md, row `{row}`"


# Hypothesis: constructors reject out-of-range values with ValueError (never
# another exception, never accepted).

_out_of_unit = st.one_of(
    st.floats(max_value=-1e-6, allow_nan=False),
    st.floats(min_value=1.0 + 1e-6, allow_nan=False),
    st.just(float("nan")),
)


@given(_out_of_unit)
def test_fuzz_flip_probability(p):
    with pytest.raises(ValueError, match="probability"):
        kgt.labels.RandomFlip(p)


@given(st.one_of(st.floats(max_value=-1e-9), st.just(float("nan"))))
def test_fuzz_penalty_weights(w):
    for make in (kgt.penalties.R1, kgt.penalties.R2, kgt.penalties.GradientPenalty):
        with pytest.raises(ValueError):
            make(w)


@given(st.one_of(st.floats(max_value=-1e-9), st.just(float("nan"))))
def test_fuzz_instance_noise(stddev):
    with pytest.raises(ValueError, match="stddev"):
        kgt.layers.InstanceNoise(stddev)
    with pytest.raises(ValueError, match="instance_noise"):
        gan(instance_noise=stddev)


@given(st.integers(max_value=0))
def test_fuzz_counts(n):
    with pytest.raises(ValueError, match=f"={n}"):
        compiled(d_steps=n)
    with pytest.raises(ValueError, match=f"={n}"):
        kgt.layers.MinibatchStdDev(group_size=n)


@given(st.one_of(st.floats(min_value=1.0), st.floats(max_value=-1e-9)))
def test_fuzz_ema_decay(decay):
    with pytest.raises(ValueError, match="decay"):
        kgt.callbacks.GeneratorEMA(decay)
