"""The command line's flags: the parser, its checks and the constants the
rest of the command reads. Imports no backend (`--help` stays fast)."""

import argparse
import os

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
RECIPES = (
    "auto",
    "small_images",
    "limited_data",
    "mixtures_2d",
    "dcgan_seeds",
    "r3gan",
)
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


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        # A misspelt flag is an error, not an abbreviation.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(message)


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 0, got {text!r}"
        ) from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def data_source(text):
    """A built-in data set's name, or a folder of images."""
    if text in DATA or os.path.isdir(text):
        return text
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(DATA)} or a folder of images, got {text!r}"
    )


def build_parser():
    from keras_gan_tricks import __version__

    parser = Parser(
        prog="keras-gan-tricks", description="GAN training with the tricks, on Keras 3."
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-gan-tricks {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_demo(sub)
    add_train(sub)
    add_generate(sub)
    return parser


def add_demo(sub):
    demo = sub.add_parser(
        "demo", help="train a DCGAN on the embedded digits and report its quality"
    )
    demo.add_argument("--epochs", type=positive_int, default=60)
    demo.add_argument(
        "--out", default="kgt-demo", help="output folder (default: kgt-demo)"
    )
    demo.add_argument("--seed", type=int, default=0)


def add_train(sub):
    train = sub.add_parser(
        "train", help="train a GAN on a folder of images or a built-in data set"
    )
    add_data_flags(train)
    add_trick_flags(train)
    train.add_argument(
        "--recipe",
        choices=(*RECIPES, "none"),
        default="auto",
        help="kgt.recipes: auto (the default) = kgt.recipes.auto, the set "
        "measured best for the data's kind and size, unless a trick flag is "
        "given; none = only the trick flags",
    )
    train.add_argument(
        "--arch",
        choices=("dcgan", "resnet"),
        default="dcgan",
        help="images' networks: kgt.architectures.dcgan_* (default) or "
        "resnet_* (residual, SNGAN/BigGAN style, spectral norm in D)",
    )
    train.add_argument("--minibatch-stddev", action="store_true")
    train.add_argument("--spectral-norm", action="store_true")
    train.add_argument(
        "--out",
        default="kgt-train",
        help="output folder; a run stopped before its end resumes from the "
        "backup it keeps there when the same command runs again",
    )
    train.add_argument(
        "--restart",
        action="store_true",
        help="start again, ignoring a stopped run's backup under --out",
    )
    train.add_argument("--seed", type=int, default=0)


def add_data_flags(train):
    """`train`'s data and its size, the run's length and the latent size."""
    train.add_argument(
        "--data",
        type=data_source,
        required=True,
        help=f"a folder of images (class subfolders optional) or one of {', '.join(DATA)}",
    )
    train.add_argument(
        "--image-size",
        type=positive_int,
        default=None,
        help="a folder's images resized to N x N (default: their own size)",
    )
    train.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=None,
        help="a folder's images as grey (1) or colour (3); default: as they "
        "are, which a folder mixing grey and colour must choose",
    )
    train.add_argument(
        "--cifar-class", default=None, help="cifar10 only: keep one class, e.g. frog"
    )
    train.add_argument(
        "--limit", type=positive_int, default=None, help="use the first N samples"
    )
    train.add_argument("--epochs", type=positive_int, default=20)
    train.add_argument("--batch-size", type=positive_int, default=64)
    train.add_argument("--latent-dim", type=positive_int, default=64)


def add_trick_flags(train):
    """`train`'s flags in `TRICK_FLAGS`: the training a recipe would set."""
    train.add_argument("--loss", choices=LOSSES, default="non_saturating")
    train.add_argument("--d-lr", type=non_negative_float, default=2e-4)
    train.add_argument("--g-lr", type=non_negative_float, default=2e-4)
    train.add_argument("--d-steps", type=positive_int, default=1)
    train.add_argument(
        "--label-smoothing",
        type=non_negative_float,
        default=0.0,
        help="one-sided, e.g. 0.1",
    )
    train.add_argument(
        "--noisy-labels", action="store_true", help="real U(0.7, 1.2), fake U(0, 0.3)"
    )
    train.add_argument(
        "--flip", type=non_negative_float, default=0.0, help="label flip probability"
    )
    train.add_argument(
        "--instance-noise", type=non_negative_float, default=0.0, help="initial stddev"
    )
    train.add_argument("--noise-decay-steps", type=positive_int, default=None)
    train.add_argument("--penalty", choices=PENALTIES, default="none")
    train.add_argument("--penalty-weight", type=non_negative_float, default=10.0)
    train.add_argument(
        "--balancer", action="store_true", help="DiscriminatorLRBalancer"
    )
    train.add_argument(
        "--ema",
        type=non_negative_float,
        default=None,
        help="generator EMA decay, e.g. 0.999",
    )


def add_generate(sub):
    generate = sub.add_parser(
        "generate",
        aliases=["sample"],
        help="draw samples from a saved GAN or generator into a PNG",
    )
    generate.add_argument(
        "model", help="a .keras file: a kgt.GAN, or a generator it exported"
    )
    generate.add_argument("-n", "--n", type=positive_int, default=64)
    generate.add_argument("--out", default="samples.png")
    generate.add_argument("--seed", type=int, default=0)


def train_defaults():
    """`train`'s flags as they are when not given."""
    return vars(build_parser().parse_args(["train", "--data", "ring"]))
