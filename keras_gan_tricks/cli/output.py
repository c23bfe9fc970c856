"""What a run leaves behind: the GAN, the generator alone, pictures, a
training plot and `metrics.json`; and `generate`, which samples a saved
model."""

import json
import os

from keras_gan_tricks.cli.flags import MIXTURES, UsageError

# Figures are measured on at most this many real images (and as many
# generated ones): the classifier and the distances stay minutes, not hours.
FIGURE_IMAGES = 10_000
# InceptionV3 sees 299x299 images: a few dozen a second on a CPU.
INCEPTION_IMAGES = 2_000


def report(gan, args, data, record):
    """Writes the run's files and prints where they are."""
    from keras_gan_tricks.demo import plot_training

    paths = {
        "model": os.path.join(args.out, "gan.keras"),
        "generator": os.path.join(args.out, "generator.keras"),
        "samples": os.path.join(args.out, "samples.png"),
        "plot": os.path.join(args.out, "training.png"),
        "metrics": os.path.join(args.out, "metrics.json"),
    }
    gan.save(paths["model"])
    gan.export_generator(paths["generator"])
    print("measuring the figures (metrics.json)...", flush=True)
    metrics = quality(gan, args, data)
    draw(
        gan,
        64 if data.images else 2500,
        args.seed,
        paths["samples"],
        real=None if data.images else data.real[:2500],
        centers=centers(args.data),
        title=None if data.images else json.dumps(metrics),
    )
    plot_training(record, paths["plot"], title=f"Training on {args.data}")
    with open(paths["metrics"], "w") as f:
        json.dump(metrics, f, indent=2)
    print()
    for name, path in paths.items():
        print(f"{name + ':':<10} {path}")
    print(json.dumps(metrics))
    return 0


def centers(data):
    """The modes of the 2D mixtures, or None."""
    from keras_gan_tricks import datasets

    if data == "ring":
        return datasets.gaussian_ring(n=1)[1]
    if data == "grid":
        return datasets.gaussian_grid(n=1)[1]
    return None


def quality(gan, args, data):
    """The figures the data allows, or the reason there are none."""
    from keras_gan_tricks import datasets, evaluation

    seed = args.seed + 1
    if args.data in MIXTURES:
        std = datasets.RING_STD if args.data == "ring" else datasets.GRID_STD
        return evaluation.mode_coverage(
            gan.generate(2500, seed=seed), centers(args.data), std
        )
    if args.data == "digits":
        return evaluation.summary(gan.generate(10_000, seed=seed), data.real)
    if args.data == "stacked-digits":
        return evaluation.stacked_mode_count(gan.generate(26_000, seed=seed))
    if data.labels is None:
        return inception_figures(gan, data.real, seed, data.reason)
    return classifier_figures(gan, data.real, data.labels, seed)


def classifier_figures(gan, real, labels, seed):
    """FD, KID, class coverage and the rest in the features of a classifier
    trained on the data's own labels; the reason instead when it cannot be
    trusted (or trained)."""
    import numpy as np

    from keras_gan_tricks import evaluation

    if len(real) > FIGURE_IMAGES:
        keep = np.random.default_rng(0).choice(len(real), FIGURE_IMAGES, replace=False)
        real, labels = real[np.sort(keep)], labels[np.sort(keep)]
    try:
        classifier = evaluation.image_classifier(real, labels)
    except ValueError as error:  # too few labels, or an untrusted classifier
        return inception_figures(
            gan, real, seed, f"no classifier of the labels to measure with: {error}"
        )
    fake = gan.generate(len(real), seed=seed)
    figures = evaluation.summary(fake, real, classifier)
    kid = evaluation.kernel_distance(
        evaluation.features(real, classifier),
        evaluation.features(fake, classifier),
        subset_size=min(1000, len(real) // 2),
    )
    return {
        **figures,
        "kernel_distance": kid["mean"],
        "kernel_distance_std": kid["std"],
        "extractor": (
            f"a classifier trained on {len(real)} of the data's labelled images "
            f"(kgt.evaluation.image_classifier; {classifier.classes} classes, "
            f"held-out accuracy {classifier.accuracy:.3f}, chance "
            f"{classifier.chance:.3f}): figures comparable between runs on this "
            "data, not with published FIDs"
        ),
    }


def inception_figures(gan, real, seed, why):
    """FD, KID, precision/recall and density/coverage in InceptionV3's
    features (Keras's, ImageNet weights) when no classifier of the data's
    labels can measure (`why`); where its weights are neither cached nor
    downloadable, no figures and both reasons."""
    import numpy as np

    from keras_gan_tricks import evaluation

    try:
        extractor = evaluation.inception_v3()
    except evaluation.WeightsUnavailableError as error:
        return {"figures": None, "reason": f"{why}; and {error}"}
    if len(real) > INCEPTION_IMAGES:
        keep = np.random.default_rng(0).choice(
            len(real), INCEPTION_IMAGES, replace=False
        )
        real = real[np.sort(keep)]
    real_features = evaluation.features(real, extractor)
    fake_features = evaluation.features(gan.generate(len(real), seed=seed), extractor)
    kid = evaluation.kernel_distance(
        real_features, fake_features, subset_size=min(1000, len(real) // 2)
    )
    return {
        "frechet_distance": evaluation.frechet_distance_from_features(
            real_features, fake_features
        ),
        "kernel_distance": kid["mean"],
        "kernel_distance_std": kid["std"],
        **evaluation.precision_recall(real_features, fake_features),
        **evaluation.density_coverage(real_features, fake_features),
        "generated_samples": int(len(real)),
        "extractor": extractor.description,
        "why_this_extractor": why,
    }


def draw(gan, n, seed, path, real=None, centers=None, title=None):
    """A grid for images; for 2D points a scatter plot of the samples over
    the real data (grey) and the mixture's modes (red crosses), if given.
    `gan`: a `kgt.GAN`, or a function `(n, seed) -> samples`."""
    from keras_gan_tricks import images

    samples = gan.generate(n, seed=seed) if hasattr(gan, "generate") else gan(n, seed)
    if samples.ndim == 2 and samples.shape[1] == 2:
        return _scatter(samples, path, real, centers, title)
    return images.save_image_grid(samples, path, scale=4)


def _scatter(samples, path, real, centers, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(5.5, 5.5))
    axis.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", label="generated")
    if real is not None:  # over the samples: a blob of them hides nothing
        axis.scatter(real[:, 0], real[:, 1], s=1, c="0.75", label="real")
    if centers is not None:
        axis.scatter(
            centers[:, 0], centers[:, 1], s=60, c="tab:red", marker="x", label="modes"
        )
    if real is not None or centers is not None:
        axis.legend(loc="upper right", markerscale=3, fontsize=8)
    if title:
        axis.set_title(title, fontsize=7)
    axis.set_aspect("equal")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def generate(args):
    """`generate MODEL`: samples of a saved kgt.GAN, or of a generator it
    exported (latents drawn as the GAN draws them: standard normal)."""
    import keras

    from keras_gan_tricks import _sampling
    from keras_gan_tricks.gan import GAN

    if not os.path.isfile(args.model):
        raise UsageError(f"no such model file: {args.model}")
    try:
        model = keras.saving.load_model(args.model)
    except Exception as error:
        raise UsageError(
            f"cannot load {args.model} as a Keras model ({type(error).__name__})"
        ) from None
    if isinstance(model, GAN):
        if model.conditional:
            raise UsageError(
                f"{args.model} is a conditional GAN: sample it from Python with labels"
            )
        sample = model
    elif isinstance(model, keras.Model) and len(model.inputs) == 1:
        latent_dim = model.inputs[0].shape[-1]

        def sample(n, seed):
            latents = _sampling.sample_latent((n, latent_dim), "normal", seed)
            return model.predict(latents, batch_size=256, verbose=0)

    else:
        raise UsageError(
            f"{args.model} holds a {type(model).__name__}, not a kgt.GAN or a "
            "generator of one input (latents)"
        )
    path = draw(sample, args.n, args.seed, args.out)
    print(f"wrote {args.n} samples to {path}")
    return 0
