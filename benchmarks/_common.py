"""Shared by the benchmark scripts: the `--backend` flag, figures over
seeds and rounds, pooled results files, Markdown tables and JSON writing.

Imports no Keras: each script's `main` parses its arguments with
`parse_args`, which sets the backend, before anything imports Keras (the
scripts import it inside their functions).
"""

import json
import os
import platform
import statistics
import sys

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")


def parse_args(parser, argv):
    """Adds `--backend`, parses `argv` (None: the command line) and sets
    `KERAS_BACKEND` from it."""
    parser.add_argument(
        "--backend", default=None, choices=BACKENDS, help="Keras backend to use"
    )
    args = parser.parse_args(argv)
    if args.backend:
        keras = sys.modules.get("keras")
        if keras is not None and keras.backend.backend() != args.backend:
            parser.error(
                f"Keras is already loaded with the {keras.backend.backend()} "
                f"backend. Received: --backend {args.backend}"
            )
        os.environ["KERAS_BACKEND"] = args.backend
    return args


def mean_se(values):
    """Mean and standard error (0 for a single value), as floats."""
    values = np.asarray(values, "float64")
    se = values.std(ddof=1) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return float(values.mean()), float(se)


def round_ratios(slow, fast):
    """Two contenders' per-round times, `slow` over `fast`: the median over
    rounds of the ratio in the same round, and the ratio of the two
    fastest rounds."""
    pairs = zip(slow, fast, strict=True)
    return statistics.median(a / b for a, b in pairs), min(slow) / min(fast)


def per_step_ms(times):
    """From per-round seconds per step `{contender: [t, ...]}`: each
    contender's median in milliseconds (`ms_per_step`) and every round's
    (`round_ms`)."""
    return {
        "ms_per_step": {n: 1000 * statistics.median(t) for n, t in times.items()},
        "round_ms": {n: [1000 * t for t in ts] for n, ts in times.items()},
    }


def pool_runs(files, groups, later_wins=False):
    """The runs of several results files, pooled by group and seed.

    Args:
        files: paths of JSON results files.
        groups: function of one file's contents, yielding `(table, row,
            runs)` for each list of runs in it.
        later_wins: bool. For a seed that two files ran in the same row,
            keep the later file's run (else the first's).

    Returns:
        `{table: {row: [run, ...]}}`, tables and rows in first-seen order,
        each row's runs by seed. A run without a `seed` counts as its
        position in its list (files written before runs recorded their
        seed ran 0, 1, ...).
    """
    pooled = {}
    for path in files:
        with open(path) as f:
            contents = json.load(f)
        for table, row, runs in groups(contents):
            seen = pooled.setdefault(table, {}).setdefault(row, {})
            for i, run in enumerate(runs):
                seed = run.get("seed", i)
                if later_wins or seed not in seen:
                    seen[seed] = run
    return {
        table: {row: [runs[s] for s in sorted(runs)] for row, runs in rows.items()}
        for table, rows in pooled.items()
    }


def markdown_table(header, rows):
    """The lines of a Markdown table: `header` (column titles) and `rows`
    (lists of cells)."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def dump_json(path, payload):
    """Writes `payload` to `path` as indented JSON."""
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)


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
    dump_json(path, {**payload, **environment})
