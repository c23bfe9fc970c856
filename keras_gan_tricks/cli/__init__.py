"""The `keras-gan-tricks` command: `demo`, `train` and `generate`.

    keras-gan-tricks demo [--epochs N] [--out DIR] [--seed S]
    keras-gan-tricks train --data FOLDER [--image-size N] [--epochs N] [--out DIR]
    keras-gan-tricks train --data {digits,ring,grid,stacked-digits,mnist,fashion-mnist,cifar10} [tricks...]
    keras-gan-tricks generate MODEL.keras [--n 64] [--out grid.png] [--seed S]
    keras-gan-tricks --version

Bad flags and bad paths print one line and exit non-zero (2 for usage, 1 for
bad values or data). `--help` imports no backend, and a run shows only the
library's own output; set KGT_DEBUG=1 for the backends' logs and warnings
and for tracebacks. A bare `keras-gan-tricks` prints the help.
"""

import os
import sys

from keras_gan_tricks.cli.flags import (
    DATA,
    RECIPES,
    TRICK_FLAGS,
    UsageError,
    build_parser,
)
from keras_gan_tricks.cli.silence import quiet


def main(argv=None):
    """Entry point of the `keras-gan-tricks` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser()
        if not argv:
            parser.print_help()
            return 0
        args = parser.parse_args(argv)
        with quiet():
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
        from keras_gan_tricks.cli.train import train

        return train(args)
    from keras_gan_tricks.cli.output import generate

    return generate(args)


__all__ = ["DATA", "RECIPES", "TRICK_FLAGS", "UsageError", "main"]
