"""The `keras-gan-tricks` command: `demo`, `train` and `sample`.

    keras-gan-tricks demo [--epochs N] [--out DIR] [--seed S]
    keras-gan-tricks train --data {digits,ring,grid,stacked-digits,mnist,fashion-mnist,cifar10} [tricks...]
    keras-gan-tricks sample MODEL.keras [-n 64] [--out grid.png] [--seed S]

Bad flags and bad paths print one line and exit non-zero (2 for usage, 1 for
bad values or data). `--help` imports no backend, and a run shows only the
library's own output; set KGT_DEBUG=1 for the backends' logs and warnings
and for tracebacks.
"""

import argparse
import contextlib
import json
import os
import re
import sys
import threading

DATA = ("digits", "ring", "grid", "stacked-digits", "mnist", "fashion-mnist", "cifar10")
PENALTIES = ("none", "r1", "r2", "gp")
LOSSES = (
    "non_saturating",
    "minimax",
    "least_squares",
    "hinge",
    "wasserstein",
    "relativistic_pairing",
)
# kgt.recipes.NAMES, named here so that --help imports no backend.
RECIPES = ("small_images", "limited_data", "mixtures_2d", "dcgan_seeds", "r3gan")
# The flags that configure training, which a recipe configures instead.
TRICK_FLAGS = (
    "loss",
    "d_lr",
    "g_lr",
    "d_steps",
    "label_smoothing",
    "noisy_labels",
    "flip",
    "instance_noise",
    "noise_decay_steps",
    "penalty",
    "penalty_weight",
    "balancer",
    "ema",
)
# The mode benchmark's instance noise for each mixture (a tenth of its
# spacing scale), with which `mixtures_2d` was measured.
MIXTURE_NOISE = {"ring": 0.1, "grid": 0.2}
MIXTURES = tuple(MIXTURE_NOISE)  # the 2D point sets


class UsageError(Exception):
    """A bad flag or path: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        # A misspelt flag is an error, not an abbreviation.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 0, got {text!r}"
        ) from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _parser():
    parser = _Parser(
        prog="keras-gan-tricks", description="GAN training with the tricks, on Keras 3."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_demo(sub)
    _add_train(sub)
    _add_sample(sub)
    return parser


def _add_demo(sub):
    demo = sub.add_parser(
        "demo", help="train a DCGAN on the embedded digits and report its quality"
    )
    demo.add_argument("--epochs", type=_positive_int, default=60)
    demo.add_argument(
        "--out", default="kgt-demo", help="output folder (default: kgt-demo)"
    )
    demo.add_argument("--seed", type=int, default=0)


def _add_train(sub):
    train = sub.add_parser("train", help="train a GAN on a dataset with chosen tricks")
    _add_data_flags(train)
    _add_trick_flags(train)
    train.add_argument(
        "--recipe",
        choices=("auto", "none", *RECIPES),
        default="auto",
        help="kgt.recipes: auto = the best measured for the data (r3gan "
        "for ring/grid, small_images for images) unless a trick flag is given; "
        "none = only the trick flags",
    )
    train.add_argument("--minibatch-stddev", action="store_true")
    train.add_argument("--spectral-norm", action="store_true")
    train.add_argument("--out", default="kgt-train")
    train.add_argument("--seed", type=int, default=0)


def _add_data_flags(train):
    """`train`'s data and its size, the run's length and the latent size."""
    train.add_argument("--data", choices=DATA, required=True)
    train.add_argument(
        "--cifar-class", default=None, help="cifar10 only: keep one class, e.g. frog"
    )
    train.add_argument(
        "--limit", type=_positive_int, default=None, help="use the first N samples"
    )
    train.add_argument("--epochs", type=_positive_int, default=20)
    train.add_argument("--batch-size", type=_positive_int, default=64)
    train.add_argument("--latent-dim", type=_positive_int, default=64)


def _add_trick_flags(train):
    """`train`'s flags in `TRICK_FLAGS`: the training a recipe would set."""
    train.add_argument("--loss", choices=LOSSES, default="non_saturating")
    train.add_argument("--d-lr", type=_non_negative_float, default=2e-4)
    train.add_argument("--g-lr", type=_non_negative_float, default=2e-4)
    train.add_argument("--d-steps", type=_positive_int, default=1)
    train.add_argument(
        "--label-smoothing",
        type=_non_negative_float,
        default=0.0,
        help="one-sided, e.g. 0.1",
    )
    train.add_argument(
        "--noisy-labels", action="store_true", help="real U(0.7, 1.2), fake U(0, 0.3)"
    )
    train.add_argument(
        "--flip", type=_non_negative_float, default=0.0, help="label flip probability"
    )
    train.add_argument(
        "--instance-noise", type=_non_negative_float, default=0.0, help="initial stddev"
    )
    train.add_argument("--noise-decay-steps", type=_positive_int, default=None)
    train.add_argument("--penalty", choices=PENALTIES, default="none")
    train.add_argument("--penalty-weight", type=_non_negative_float, default=10.0)
    train.add_argument(
        "--balancer", action="store_true", help="DiscriminatorLRBalancer"
    )
    train.add_argument(
        "--ema",
        type=_non_negative_float,
        default=None,
        help="generator EMA decay, e.g. 0.999",
    )


def _add_sample(sub):
    sample = sub.add_parser("sample", help="draw samples from a saved GAN into a PNG")
    sample.add_argument("model", help="a .keras file saved from a kgt.GAN")
    sample.add_argument("-n", type=_positive_int, default=64)
    sample.add_argument("--out", default="samples.png")
    sample.add_argument("--seed", type=int, default=0)


_TRAIN_DEFAULTS = vars(_parser().parse_args(["train", "--data", "ring"]))


def _load_data(args):
    from keras_gan_tricks import datasets

    if args.cifar_class is not None and args.data != "cifar10":
        raise UsageError("--cifar-class applies to --data cifar10 only")
    if args.data == "digits":
        data = datasets.digits()[0]
    elif args.data == "ring":
        data = datasets.gaussian_ring(n=args.limit or 100_000, seed=args.seed)[0]
    elif args.data == "grid":
        data = datasets.gaussian_grid(n=args.limit or 100_000, seed=args.seed)[0]
    elif args.data == "stacked-digits":
        data = datasets.stacked_digits(n=args.limit or 60_000, seed=args.seed)[0]
    elif args.data == "mnist":
        data = datasets.mnist()[0]
    elif args.data == "fashion-mnist":
        data = datasets.fashion_mnist()[0]
    else:
        data = datasets.cifar10(args.cifar_class)[0]
    return data if args.limit is None else data[: args.limit]


def _train(args):
    import keras

    import keras_gan_tricks as kgt

    recipe = _recipe(args)
    keras.utils.set_random_seed(args.seed)
    data = _load_data(args)
    images = data.ndim == 4
    if images:
        generator = kgt.architectures.dcgan_generator(args.latent_dim, data.shape[1:])
        discriminator = kgt.architectures.dcgan_discriminator(
            data.shape[1:],
            spectral_norm=args.spectral_norm,
            minibatch_stddev=args.minibatch_stddev,
        )
    else:
        # PacGAN's 2D networks: G 4x400 ReLU with batch norm, D 3x200 LeakyReLU.
        generator = kgt.architectures.mlp_generator(args.latent_dim)
        discriminator = kgt.architectures.mlp_discriminator(
            spectral_norm=args.spectral_norm, minibatch_stddev=args.minibatch_stddev
        )
    gan = kgt.GAN(
        generator,
        discriminator,
        instance_noise=None if recipe else args.instance_noise or None,
        seed=args.seed,
    )
    callbacks = []
    if recipe:
        steps = args.epochs * -(-len(data) // args.batch_size)
        options = {
            "small_images": {},
            "limited_data": {},
            "mixtures_2d": {"steps": steps},
        }
        options.update(dcgan_seeds={"steps": steps}, r3gan={"steps": steps})
        if recipe == "mixtures_2d" and args.data in MIXTURE_NOISE:
            options[recipe]["noise"] = MIXTURE_NOISE[args.data]
        kgt.recipes.get(recipe)(gan, **options[recipe])
        print(f"recipe: {recipe} (kgt.recipes.{recipe})")
    else:
        _compile_from_flags(kgt, gan, args, callbacks)
    if images:
        callbacks.append(
            kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), n=64, scale=4)
        )
    os.makedirs(args.out, exist_ok=True)
    gan.fit(
        data,
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=2,
        callbacks=callbacks,
    )
    return _report(gan, args, data, images)


def _recipe(args):
    """The recipe to train with, or None for the trick flags alone."""
    given = [
        "--" + flag.replace("_", "-")
        for flag in TRICK_FLAGS
        if getattr(args, flag) != _TRAIN_DEFAULTS[flag]
    ]
    if args.recipe == "none":
        return None
    if args.recipe == "auto":
        if given:
            return None
        return "r3gan" if args.data in MIXTURES else "small_images"
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


def _compile_from_flags(kgt, gan, args, callbacks):
    import keras

    policies = []
    if args.noisy_labels:
        policies.append(kgt.labels.UniformNoise())
    if args.label_smoothing:
        policies.append(kgt.labels.OneSidedSmoothing(args.label_smoothing))
    if args.flip:
        policies.append(kgt.labels.RandomFlip(args.flip))
    penalty = {
        "none": None,
        "r1": lambda w: kgt.penalties.R1(w),
        "r2": lambda w: kgt.penalties.R2(w),
        "gp": lambda w: kgt.penalties.GradientPenalty(w),
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


def _report(gan, args, data, images):
    model_path = os.path.join(args.out, "gan.keras")
    picture = os.path.join(args.out, "samples.png")
    gan.save(model_path)
    metrics = _quality(gan, args, data)
    _draw(
        gan,
        64 if images else 2500,
        args.seed,
        picture,
        real=None if images else data[:2500],
        centers=_centers(args),
        title=None if images else json.dumps(metrics),
    )
    metrics_path = os.path.join(args.out, "metrics.json")
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=2)
    print(
        f"\nmodel:   {model_path}\nsamples: {picture}\nmetrics: {metrics_path} {json.dumps(metrics)}"
    )
    return 0


def _centers(args):
    """The modes of the 2D mixtures, or None."""
    from keras_gan_tricks import datasets

    if args.data == "ring":
        return datasets.gaussian_ring(n=1)[1]
    if args.data == "grid":
        return datasets.gaussian_grid(n=1)[1]
    return None


def _quality(gan, args, data):
    from keras_gan_tricks import datasets, evaluation

    if args.data in MIXTURES:
        std = datasets.RING_STD if args.data == "ring" else datasets.GRID_STD
        return evaluation.mode_coverage(
            gan.generate(2500, seed=args.seed + 1), _centers(args), std
        )
    if args.data == "digits":
        return evaluation.summary(gan.generate(10_000, seed=args.seed + 1), data)
    if args.data == "stacked-digits":
        return evaluation.stacked_mode_count(gan.generate(26_000, seed=args.seed + 1))
    return {}


def _draw(gan, n, seed, path, real=None, centers=None, title=None):
    """A grid for images; for 2D points a scatter plot of the samples over
    the real data (grey) and the mixture's modes (red crosses), if given."""
    from keras_gan_tricks import images

    samples = gan.generate(n, seed=seed)
    if samples.ndim == 2 and samples.shape[1] == 2:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axis = plt.subplots(figsize=(5.5, 5.5))
        axis.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", label="generated")
        if real is not None:  # over the samples: a blob of them hides nothing
            axis.scatter(real[:, 0], real[:, 1], s=1, c="0.75", label="real")
        if centers is not None:
            axis.scatter(
                centers[:, 0],
                centers[:, 1],
                s=60,
                c="tab:red",
                marker="x",
                label="modes",
            )
        if real is not None or centers is not None:
            axis.legend(loc="upper right", markerscale=3, fontsize=8)
        if title:
            axis.set_title(title, fontsize=7)
        axis.set_aspect("equal")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path
    return images.save_image_grid(samples, path, scale=4)


def _sample(args):
    import keras

    from keras_gan_tricks.gan import GAN

    if not os.path.isfile(args.model):
        raise UsageError(f"no such model file: {args.model}")
    try:
        gan = keras.saving.load_model(args.model)
    except Exception as error:
        raise UsageError(
            f"cannot load {args.model} as a Keras model ({type(error).__name__})"
        ) from None
    if not isinstance(gan, GAN):
        raise UsageError(f"{args.model} holds a {type(gan).__name__}, not a kgt.GAN")
    if gan.conditional:
        raise UsageError(
            f"{args.model} is a conditional GAN: sample it from Python with labels"
        )
    path = _draw(gan, args.n, args.seed, args.out)
    print(f"wrote {args.n} samples to {path}")
    return 0


# The backends' own log lines: absl/glog records (`I0000 00:00:17.53 123
# port.cc:153] ...`), absl's note that precedes them, and the second line of
# TensorFlow's CPU-feature message. TensorFlow 2.21 writes them to stderr
# before its log level (`TF_CPP_MIN_LOG_LEVEL`) takes effect, so they are
# filtered out of the process's stderr instead.
_BACKEND_LOG = re.compile(
    r"^(?:[IWEF]\d{4} \d+:\d+:\d+\.\d+ +\d+ [\w.-]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|To enable the following instructions: )"
)


@contextlib.contextmanager
def _quiet():
    """Shows only the library's own output unless `KGT_DEBUG` is set: the
    backends' log lines are dropped from stderr (file descriptor 2, where
    their C++ code writes; everything else passes through), and the Python
    warnings and logs of Keras and the backends are silenced."""
    if os.environ.get("KGT_DEBUG"):
        yield
        return
    import logging
    import warnings

    for module in ("keras", "tensorflow", "jax", "torch", "absl"):
        warnings.filterwarnings("ignore", module=module)
    for logger in ("absl", "tensorflow", "jax"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    sys.stderr.flush()
    stderr = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)

    def pump():
        with os.fdopen(read, "rb") as pipe:
            for line in pipe:
                if not _BACKEND_LOG.match(line.decode("utf-8", "replace")):
                    os.write(stderr, line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(stderr, 2)  # the pipe's last writer closes: the pump ends
        thread.join(timeout=10)
        os.close(stderr)


def main(argv=None):
    """Entry point of the `keras-gan-tricks` console script."""
    try:
        args = _parser().parse_args(argv)
        with _quiet():
            return _run(args)
    except UsageError as error:
        print(f"keras-gan-tricks: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as error:
        if os.environ.get("KGT_DEBUG"):
            raise
        print(f"keras-gan-tricks: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keras-gan-tricks: interrupted", file=sys.stderr)
        return 130


def _run(args):
    import keras_gan_tricks

    keras_gan_tricks.load_modules()  # every class registered before any load_model
    if args.command == "demo":
        from keras_gan_tricks.demo import describe, run_demo

        print(describe(run_demo(epochs=args.epochs, out=args.out, seed=args.seed)))
        return 0
    if args.command == "train":
        return _train(args)
    return _sample(args)


if __name__ == "__main__":
    sys.exit(main())
