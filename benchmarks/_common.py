"""Shared by the benchmark scripts. Imports no Keras: `parse_args` must set
the backend before the scripts import it."""

import json
import os
import platform

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


def write_json(path, payload):
    """Writes a benchmark's results with the run's environment (backend,
    Keras and Python versions, CPU count) beside them."""
    import keras  # the backend is set by now

    environment = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with open(path, "w") as f:
        json.dump({**payload, **environment}, f, indent=2)
