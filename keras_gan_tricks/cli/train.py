"""`keras-gan-tricks train`: the data (a folder of images or a built-in
set), the networks for it, the recipe or the trick flags, and the run."""

import math
import os
import types
import warnings

from keras_gan_tricks.cli.flags import (
    DATA,
    MIXTURE_NOISE,
    MIXTURES,
    TRICK_FLAGS,
    UsageError,
    train_defaults,
)

# A folder's decoded images are kept in memory after the first epoch when
# they take at most this (float32): later epochs read and decode no file.
CACHE_BYTES = 1 << 30
_NO_LABELS = (
    "no figures: they are measured with a classifier trained on the images' "
    "labels, and the folder has no class subfolders (put each class's images "
    "in a subfolder of its own)"
)


def train(args):
    import keras

    import keras_gan_tricks as kgt
    from keras_gan_tricks.cli.output import report
    from keras_gan_tricks.cli.progress import RunClock, fit_verbosity
    from keras_gan_tricks.cli.resume import resume_callbacks
    from keras_gan_tricks.demo import TrainingRecord

    recipe = choose_recipe(args)
    keras.utils.set_random_seed(args.seed)
    data = load_data(args)
    if data.streamed:
        print(data.description, flush=True)
    gan = kgt.GAN(
        *networks(args, data),
        instance_noise=None if recipe else args.instance_noise or None,
        seed=args.seed,
    )
    record = TrainingRecord()
    callbacks = [*resume_callbacks(args, record), record, RunClock(args.epochs)]
    if recipe:
        apply_recipe(gan, recipe, args, data)
    else:
        compile_from_flags(gan, args, callbacks)
    if data.images:
        grids = os.path.join(args.out, "grids")
        callbacks.append(kgt.callbacks.SampleGrid(grids, n=64, scale=4))
    os.makedirs(args.out, exist_ok=True)
    gan.fit(
        data.train,
        batch_size=None if data.streamed else args.batch_size,
        epochs=args.epochs,
        verbose=fit_verbosity(),
        callbacks=callbacks,
    )
    return report(gan, args, data, record)


def load_data(args):
    """The run's data: `train` (what `fit` takes), `real` (arrays for the
    figures), `labels` (or None, with the `reason`), `size`, `shape`."""
    builtin = args.data in DATA
    if args.image_size is not None and builtin:
        raise UsageError("--image-size applies to a folder given to --data")
    if args.channels is not None and builtin:
        raise UsageError("--channels applies to a folder given to --data")
    if args.cifar_class is not None and args.data != "cifar10":
        raise UsageError("--cifar-class applies to --data cifar10 only")
    if builtin:
        return _builtin(args)
    if args.limit is not None:
        raise UsageError("--limit applies to the built-in data sets, not a folder")
    return _folder(args)


def _builtin(args):
    from keras_gan_tricks import datasets

    labels = None
    if args.data == "digits":
        real, labels = datasets.digits()
    elif args.data == "ring":
        real = datasets.gaussian_ring(n=args.limit or 100_000, seed=args.seed)[0]
    elif args.data == "grid":
        real = datasets.gaussian_grid(n=args.limit or 100_000, seed=args.seed)[0]
    elif args.data == "stacked-digits":
        real = datasets.stacked_digits(n=args.limit or 60_000, seed=args.seed)[0]
    elif args.data == "mnist":
        real, labels = datasets.mnist()
    elif args.data == "fashion-mnist":
        real, labels = datasets.fashion_mnist()
    else:
        real, labels = datasets.cifar10(args.cifar_class)
    if args.limit is not None:
        real = real[: args.limit]
        labels = None if labels is None else labels[: args.limit]
    return types.SimpleNamespace(
        train=real,
        real=real,
        labels=labels,
        reason=None,
        size=len(real),
        shape=real.shape[1:],
        images=real.ndim == 4,
        streamed=False,
    )


def _folder(args):
    """A folder: trained on as it streams from disk, its decoded images kept
    in memory after the first epoch when they take at most `CACHE_BYTES`;
    a random `FIGURE_IMAGES` of them read as arrays (with the class
    subfolders' labels, if any) for the figures."""
    from keras_gan_tricks import datasets

    options = {"image_size": args.image_size, "channels": args.channels}
    stream = datasets.image_folder(
        args.data, batch_size=args.batch_size, seed=args.seed, **options
    )
    count, shape = len(stream.file_paths), tuple(stream.element_spec.shape[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each was said once, above
        cache = count * math.prod(shape) * 4 <= CACHE_BYTES
        if cache:
            stream = datasets.image_folder(
                args.data,
                batch_size=args.batch_size,
                seed=args.seed,
                cache=True,
                **options,
            )
        real, labels, reason, classes = _figure_images(args.data, options)
    memory = cache and "kept in memory after the first epoch"
    return types.SimpleNamespace(
        description=(
            f"data: {count} images of {'x'.join(map(str, shape))} under "
            f"{args.data}, "
            + (f"{len(classes)} classes" if classes else "no class subfolders")
            + f"; {memory or 'read from disk each epoch (over 1 GiB decoded)'}"
        ),
        train=stream,
        real=real,
        labels=labels,
        reason=reason,
        size=count,
        shape=shape,
        images=True,
        streamed=True,
    )


def _figure_images(path, options):
    """`(images, labels, reason, class names)`: the folder's images in the
    sorted order of their files, or `FIGURE_IMAGES` of them drawn with seed
    0 when there are more, streamed (a folder larger than memory is never
    read whole); with their class subfolders' labels and names, or None,
    the reason there are none and None. (The same images as arrays of the
    whole folder gave: a classifier cached for them is found again.)"""
    import numpy as np

    from keras_gan_tricks import datasets
    from keras_gan_tricks.cli.output import FIGURE_IMAGES

    read = {"batch_size": 256, "shuffle": False, **options}
    try:
        data = datasets.image_folder(path, labels="inferred", **read)
        reason = None
    except ValueError:  # no class subfolders
        data = datasets.image_folder(path, **read)
        reason = _NO_LABELS
    count = len(data.file_paths)
    keep = np.arange(count)
    if count > FIGURE_IMAGES:
        keep = np.sort(np.random.default_rng(0).choice(count, FIGURE_IMAGES, False))
    kept, start = [], 0
    for batch in data.as_numpy_iterator():
        images = batch if reason else batch[0]
        chosen = keep[(keep >= start) & (keep < start + len(images))] - start
        kept.append((images[chosen], None if reason else batch[1][chosen]))
        start += len(images)
    images = np.concatenate([images for images, _ in kept])
    if reason is not None:
        return images, None, reason, None
    labels = np.concatenate([labels for _, labels in kept])
    return images, labels, None, data.class_names


def networks(args, data):
    """For images, the DCGAN pair or the residual pair (`--arch`); for
    points, PacGAN's MLPs (G 4x400 ReLU with batch norm, D 3x200
    LeakyReLU)."""
    import keras_gan_tricks as kgt

    options = {
        "spectral_norm": args.spectral_norm,
        "minibatch_stddev": args.minibatch_stddev,
    }
    if args.arch != "dcgan" and not data.images:
        raise UsageError(
            f"--arch {args.arch} is for images; --data {args.data} is 2D points"
        )
    if args.arch == "resnet":
        options["spectral_norm"] = True  # SNGAN's discriminator
        return (
            kgt.architectures.resnet_generator(args.latent_dim, data.shape),
            kgt.architectures.resnet_discriminator(data.shape, **options),
        )
    if data.images:
        return (
            kgt.architectures.dcgan_generator(args.latent_dim, data.shape),
            kgt.architectures.dcgan_discriminator(data.shape, **options),
        )
    return (
        kgt.architectures.mlp_generator(args.latent_dim),
        kgt.architectures.mlp_discriminator(**options),
    )


def choose_recipe(args):
    """The recipe to train with, or None for the trick flags alone."""
    defaults = train_defaults()
    given = [
        "--" + flag.replace("_", "-")
        for flag in TRICK_FLAGS
        if getattr(args, flag) != defaults[flag]
    ]
    if args.recipe == "none":
        return None
    if args.recipe == "auto":
        return None if given else "auto"
    if given:
        raise UsageError(
            f"--recipe {args.recipe} sets the training itself; drop "
            f"{', '.join(given)} or use --recipe none"
        )
    if args.recipe == "limited_data" and args.data in MIXTURES:
        raise UsageError(
            "--recipe limited_data translates images; --data "
            f"{args.data} is 2D points (try --recipe mixtures_2d or r3gan)"
        )
    return args.recipe


def apply_recipe(gan, recipe, args, data):
    import keras_gan_tricks as kgt

    steps = args.epochs * -(-data.size // args.batch_size)
    options = {"mixtures_2d": {"steps": steps}, "dcgan_seeds": {"steps": steps}}
    options["r3gan"] = {"steps": steps}
    options["auto"] = {"data": data.size, "steps": steps}
    if recipe == "mixtures_2d" and args.data in MIXTURE_NOISE:
        options[recipe]["noise"] = MIXTURE_NOISE[args.data]
    kgt.recipes.get(recipe)(gan, **options.get(recipe, {}))
    if recipe == "auto":
        print(f"recipe: {kgt.recipes.choose(gan, **options['auto'])}")
    else:
        print(f"recipe: {recipe} (kgt.recipes.{recipe})")


def compile_from_flags(gan, args, callbacks):
    import keras

    import keras_gan_tricks as kgt

    policies = []
    if args.noisy_labels:
        policies.append(kgt.labels.UniformNoise())
    if args.label_smoothing:
        policies.append(kgt.labels.OneSidedSmoothing(args.label_smoothing))
    if args.flip:
        policies.append(kgt.labels.RandomFlip(args.flip))
    penalty = {
        "none": None,
        "r1": kgt.penalties.R1,
        "r2": kgt.penalties.R2,
        "gp": kgt.penalties.GradientPenalty,
    }[args.penalty]
    gan.compile(
        d_optimizer=keras.optimizers.Adam(args.d_lr, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(args.g_lr, beta_1=0.5),
        loss=args.loss,
        label_policy=kgt.labels.compose(*policies) if policies else None,
        penalty=penalty(args.penalty_weight) if penalty else None,
        d_steps=args.d_steps,
    )
    if args.instance_noise:
        callbacks.append(
            kgt.callbacks.InstanceNoiseDecay(
                initial=args.instance_noise,
                final=0.0,
                steps=args.noise_decay_steps,  # None: over the whole fit
            )
        )
    if args.balancer:
        callbacks.append(kgt.callbacks.DiscriminatorLRBalancer())
    if args.ema is not None:
        callbacks.append(kgt.callbacks.GeneratorEMA(decay=args.ema))
