"""Shared by the benchmark scripts. Imports no Keras: `parse_args` must set
the backend before the scripts import it."""

import os

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")


def parse_args(parser, argv):
    """Adds `--backend`, parses `argv` and sets `KERAS_BACKEND` from it."""
    parser.add_argument(
        "--backend", default=None, choices=BACKENDS, help="Keras backend to use"
    )
    args = parser.parse_args(argv)
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    return args


def mean_se(values):
    """Mean and standard error (0 for a single value), as floats."""
    values = np.asarray(values, "float64")
    se = values.std(ddof=1) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return float(values.mean()), float(se)
