"""Which Keras backend trains a kgt.GAN fastest on this machine?

Times `kgt.GAN.fit` steps for the same models on TensorFlow (Keras's default,
`jit_compile="auto"`, and XLA forced with `jit_compile=True`), JAX (jit) and
PyTorch (eager, Keras's default there). On TensorFlow, "auto" means a
compiled graph *without* XLA on a machine with no GPU (Keras turns XLA off on
CPU-only machines) and XLA where there is one; the JSON records which
devices TensorFlow saw. Each measurement runs in its own process; the
contenders alternate within each round, and the reported ratio is the median
over rounds of (contender's time per step / TensorFlow's default in the same
round), so machine-wide slowdowns cancel out.

    python benchmarks/backends.py            # 3 rounds
    python benchmarks/backends.py --quick    # 1 round, 2 timed epochs (not 3)
    python benchmarks/backends.py --json out.json

Models:
    dcgan28  kgt.architectures.dcgan_generator/discriminator, 28x28x1, batch 64
    digits8  the demo's DCGAN on 8x8 digits, batch 64
    mlp2d    a 3x128 MLP GAN on 2D points, batch 256
"""

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from _common import dump_json, round_ratios

CONTENDERS = {
    # Keras's default ("auto"): no XLA on a CPU-only machine, XLA with a GPU.
    "tensorflow": ("tensorflow", "auto"),
    "tensorflow-xla": ("tensorflow", "true"),
    "jax": ("jax", "auto"),
    "torch": ("torch", "auto"),
}
REFERENCE = "tensorflow"
MODELS = ("dcgan28", "digits8", "mlp2d")


def _build(model):
    import keras_gan_tricks as kgt

    if model == "dcgan28":
        shape, batch = (28, 28, 1), 64
        g = kgt.architectures.dcgan_generator(100, shape)
        d = kgt.architectures.dcgan_discriminator(shape)
    elif model == "digits8":
        from keras_gan_tricks.demo import build_digits_gan

        gan = build_digits_gan(seed=0)
        return gan, (8, 8, 1), 64
    else:
        shape, batch = (2,), 256
        g = kgt.architectures.mlp_generator(8, width=128, depth=3, batch_norm=False)
        d = kgt.architectures.mlp_discriminator(width=128, depth=3)
    return kgt.GAN(g, d, seed=0), shape, batch


def worker(model, jit, steps, epochs):
    """Runs in the child process: prints the median seconds per step."""
    import numpy as np

    gan, shape, batch = _build(model)
    compile_args = {} if jit == "auto" else {"jit_compile": jit == "true"}
    gan.compile(**compile_args)
    rng = np.random.default_rng(0)
    data = np.tanh(rng.standard_normal((steps * batch, *shape))).astype("float32")
    gan.fit(data, batch_size=batch, epochs=1, verbose=0)  # compile, warm up
    per_step = []
    for _ in range(epochs):
        start = time.perf_counter()
        gan.fit(data, batch_size=batch, epochs=1, verbose=0)
        per_step.append((time.perf_counter() - start) / steps)
    # What Keras resolved "auto" to (on TensorFlow: XLA or not).
    print(
        json.dumps(
            {
                "seconds_per_step": statistics.median(per_step),
                "jit_compile": bool(gan.jit_compile),
            }
        )
    )


def measure(contender, model, steps, epochs):
    backend, jit = CONTENDERS[contender]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, __file__, "--worker", model, jit, str(steps), str(epochs)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{contender} on {model} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def versions():
    out = {"python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        import tensorflow as tf

        out["tensorflow_devices"] = sorted(
            {d.device_type for d in tf.config.list_physical_devices()}
        )
    except ImportError:
        out["tensorflow_devices"] = None
    for name in ("keras", "tensorflow", "jax", "torch"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 2 timed epochs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        model, jit, steps, epochs = args.worker
        worker(model, jit, int(steps), int(epochs))
        return 0

    rounds = 1 if args.quick else args.rounds
    steps = {"dcgan28": 10, "digits8": 29, "mlp2d": 40}
    epochs = 2 if args.quick else 3
    results = {}
    for model in args.models:
        times = {name: [] for name in CONTENDERS}
        jit = {}
        for r in range(rounds):
            order = list(CONTENDERS)
            order = order[r % len(order) :] + order[: r % len(order)]
            for name in order:
                measured = measure(name, model, steps[model], epochs)
                times[name].append(measured["seconds_per_step"])
                jit[name] = measured["jit_compile"]
                print(
                    f"{model} round {r + 1}: {name} "
                    f"{1000 * times[name][-1]:.1f} ms/step",
                    flush=True,
                )
        results[model] = {
            name: {
                "ms_per_step": 1000 * statistics.median(values),
                f"over_{REFERENCE}": round_ratios(values, times[REFERENCE])[0],
                "jit_compile": jit[name],
            }
            for name, values in times.items()
        }
    print()
    header = f"{'model':<9} " + " ".join(f"{name:>22}" for name in CONTENDERS)
    print(header)
    for model, row in results.items():
        cells = [
            f"{v['ms_per_step']:8.1f} ms ({v[f'over_{REFERENCE}']:.2f}x)"
            + ("*" if v["jit_compile"] else " ")
            for v in row.values()
        ]
        print(f"{model:<9} " + " ".join(f"{c:>22}" for c in cells))
    print(f"(ratio: time per step over {REFERENCE}'s in the same round, median;")
    print(" * = compiled with jit_compile on: XLA, torch.compile on PyTorch)")
    if args.json:
        payload = {"rounds": rounds, "versions": versions(), "results": results}
        dump_json(args.json, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
