"""What a per-batch wait costs `fit`: kgt.GAN's stop-at-non-finite check on
Keras's callback thread against the same check run in line.

benchmarks/BENCHMARKS.md section 1 (speed), one question of it. Every
`kgt.GAN.fit` carries a callback that stops training at a non-finite loss.
It reads each batch's logs; a callback Keras runs in line makes the training
loop wait for each step's losses before it dispatches the next step. Keras
runs callbacks that declare `async_safe` on a thread instead (on JAX and
PyTorch; its TensorFlow backend runs every callback in line and converts
each batch's logs itself), and the GAN's step stops applying updates after a
non-finite one, so the steps dispatched before the flag lands change
nothing. The check declares `async_safe` on JAX only: on PyTorch the step
waits for its own finiteness check anyway, and this benchmark measured the
thread's hand-offs as a loss there.

Two GANs on the 2D ring, batch 100: `pacgan`, the networks of `modes.py`
(`kgt.architectures`' MLPs at their defaults: generator 4x400 with batch
norm, discriminator 3x200), and `mlp128`, two hidden layers of 128 units
each (ReLU fused into the Dense layers, in both networks), where a step
takes under a millisecond and per-step overhead shows. Contenders, same
GAN, in one process:

    thread   the check declares `async_safe` (as shipped on JAX)
    inline   the same check with `async_safe = False` (as shipped elsewhere)

The contenders alternate (rotating the order each round), each timing one
`fit` of `--steps` steps; `inline_over_thread` is the median over rounds of
the two times in the same round, `inline_over_thread_fast` the ratio of the
two fastest rounds.

`--tricks` asks the same of two of kgt's callbacks instead, on a GAN with
instance noise (two GANs, same networks and seed, each with its compiled
step): `InstanceNoiseDecay` and `GeneratorEMA`, whose per-batch work a
kgt.GAN does inside its compiled step (as shipped), against the same two
doing it in batch hooks (the stddev set before each batch from the step
count, read from the device; the average's hook reading `self.model`, which
on JAX pulls the train state back into the model), as kgt's earlier code
did. Key `hooks_over_in_step`, and `_fast` likewise.

    python benchmarks/dispatch.py --backend jax
    python benchmarks/dispatch.py --backend jax --tricks
    python benchmarks/dispatch.py --models mlp128 --rounds 7
    python benchmarks/dispatch.py --quick --backend torch --json out.json
"""

import argparse
import time

import numpy as np
from _common import parse_args, per_step_ms, round_ratios, write_json

MODELS = ("pacgan", "mlp128")


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument(
        "--rounds", type=int, default=None, help="default: 15, or 3 with --quick"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="default: 1000, or 100 with --quick"
    )
    parser.add_argument(
        "--models", nargs="*", default=["pacgan", "mlp128"], choices=MODELS
    )
    parser.add_argument(
        "--tricks",
        action="store_true",
        help="time InstanceNoiseDecay + GeneratorEMA in the step vs in batch hooks",
    )
    return parse_args(parser, argv)


BATCH = 100


def mlp(inputs, outputs):
    import keras

    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(outputs),
        ]
    )


def build(model, instance_noise=None):
    """The GAN `model` (no tricks but `instance_noise`), compiled."""
    import keras

    import keras_gan_tricks as kgt

    if model == "pacgan":
        g = kgt.architectures.mlp_generator(2)
        d = kgt.architectures.mlp_discriminator()
    else:
        g, d = mlp(2, 2), mlp(2, 1)
    gan = kgt.GAN(g, d, latent_dim=2, instance_noise=instance_noise, seed=0)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.8),
        g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.8),
    )
    return gan


def timed_fit(gan, x, on_thread):
    """Seconds per step of one `fit` over `x`, the stop check on Keras's
    callback thread or in line."""
    from keras_gan_tricks._fit import StopOnNonFinite as stop

    shipped = stop.async_safe
    stop.async_safe = on_thread
    try:
        start = time.perf_counter()
        gan.fit(x, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        return (time.perf_counter() - start) / (len(x) // BATCH)
    finally:
        stop.async_safe = shipped


def alternate(model, runs, rounds):
    """Times each of `runs` ({name: callable returning seconds per step})
    once per round, rotating the order; {name: [seconds, ...]}."""
    times = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(runs[name]())
        print(
            f"  {model} round {r + 1}: "
            + ", ".join(f"{n} {1000 * t[-1]:.3f} ms/step" for n, t in times.items()),
            flush=True,
        )
    return times


def summary(times, slow, fast, key):
    """Median per-step ms, `key` (median over rounds of slow / fast in the
    same round), `key_fast` (ratio of the two fastest rounds), every round."""
    median, fastest = round_ratios(times[slow], times[fast])
    return {**per_step_ms(times), key: median, f"{key}_fast": fastest}


def bench_model(model, x, rounds):
    gan = build(model)
    timed_fit(gan, x[: 10 * BATCH], True)  # warm up: trace and compile
    timed_fit(gan, x[: 10 * BATCH], False)
    times = alternate(
        model,
        {
            "thread": lambda: timed_fit(gan, x, True),
            "inline": lambda: timed_fit(gan, x, False),
        },
        rounds,
    )
    return summary(times, "inline", "thread", "inline_over_thread")


def hook_callbacks():
    """InstanceNoiseDecay and GeneratorEMA doing their per-batch work in
    batch hooks, as kgt's earlier code did."""
    import keras_gan_tricks as kgt

    class NoiseDecayInHooks(kgt.callbacks.InstanceNoiseDecay):
        """The decay done in batch hooks, as for a model that is not a kgt.GAN."""

        def bind(self, gan):
            return None  # the GAN does not take the trick: the hooks do the work

    class EMAWithHook(kgt.callbacks.GeneratorEMA):
        """The average updated in the step, plus the batch hook of kgt's earlier
        code (it read `self.model`, then returned)."""

        @property
        def async_safe(self):
            return False

        def on_train_batch_end(self, batch, logs=None):
            self.model  # noqa: B018 (on JAX: syncs the train state)

    return NoiseDecayInHooks, EMAWithHook


def timed_tricks(gan, x, in_step, decay_steps):
    import keras_gan_tricks as kgt

    steps = len(x) // BATCH
    if in_step:
        callbacks = [
            kgt.callbacks.InstanceNoiseDecay(0.1, 0.0, decay_steps),
            kgt.callbacks.GeneratorEMA(0.999, recalibrate_batch_norm=False),
        ]
    else:
        noise_decay, ema = hook_callbacks()
        callbacks = [
            noise_decay(0.1, 0.0, decay_steps),
            ema(0.999, recalibrate_batch_norm=False),
        ]
    start = time.perf_counter()
    gan.fit(
        x, batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=callbacks
    )
    return (time.perf_counter() - start) / steps


def bench_tricks(model, x, rounds):
    gans = {"in_step": build(model, 0.1), "hooks": build(model, 0.1)}
    decay_steps = rounds * len(x) // BATCH  # decays over the whole run
    for name, gan in gans.items():  # warm up: trace and compile
        timed_tricks(gan, x[: 10 * BATCH], name == "in_step", decay_steps)
    times = alternate(
        model,
        {
            name: (
                lambda g=gan, n=name: timed_tricks(g, x, n == "in_step", decay_steps)
            )
            for name, gan in gans.items()
        },
        rounds,
    )
    return summary(times, "hooks", "in_step", "hooks_over_in_step")


def main(argv=None):
    args = _parse(argv)  # sets the backend: Keras is imported after
    import keras

    import keras_gan_tricks as kgt

    rounds = args.rounds or (3 if args.quick else 15)
    steps = args.steps or (100 if args.quick else 1000)
    if rounds < 1 or steps < 1:
        raise SystemExit(
            f"--rounds and --steps must be at least 1. Received: {rounds}, {steps}"
        )
    points, _ = kgt.datasets.gaussian_ring(n=steps * BATCH, seed=0)
    x = np.asarray(points, "float32")
    results = {}
    for model in args.models:
        if args.tricks:
            results[model] = row = bench_tricks(model, x, rounds)
            print(
                f"{keras.backend.backend()} {model}: in step "
                f"{row['ms_per_step']['in_step']:.3f} ms/step, hooks "
                f"{row['ms_per_step']['hooks']:.3f} ms/step; hooks/in step "
                f"{row['hooks_over_in_step']:.3f} (median), "
                f"{row['hooks_over_in_step_fast']:.3f} (fastest rounds)",
                flush=True,
            )
            continue
        results[model] = row = bench_model(model, x, rounds)
        print(
            f"{keras.backend.backend()} {model}: thread "
            f"{row['ms_per_step']['thread']:.3f} ms/step, inline "
            f"{row['ms_per_step']['inline']:.3f} ms/step; inline/thread "
            f"{row['inline_over_thread']:.3f} (median), "
            f"{row['inline_over_thread_fast']:.3f} (fastest rounds)",
            flush=True,
        )
    if args.json:
        key = "tricks" if args.tricks else "models"
        write_json(args.json, {key: results, "steps": steps, "rounds": rounds})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
