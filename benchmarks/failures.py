"""A failure atlas: known GAN failures as reproducible scenarios, each
trained vanilla and with each remedy, on embedded data.

benchmarks/BENCHMARKS.md section 4. Scenarios:

    balanced      the demo's digits DCGAN, both Adam(2e-4, 0.5): the reference
    d_lr_10x      D's learning rate 10x G's (2e-3 vs 2e-4)
    d_lr_100x     D's learning rate 100x G's (2e-3 vs 2e-5)
    both_2e-5     both at G's rate in d_lr_100x (2e-5): the best a D-rate
                  controller can reach there
    wide_d        a discriminator twice as wide (128 base filters)
    small_10pct   10% of the digits (180 images), the same number of steps
    small_20pct   20% of the digits (359 images), likewise
    small_10pct_long  10% of the digits, three times as many steps (where
                  D memorises the 180 images)
    grid          the 25-mode grid (benchmarks/modes.py's networks): collapse
    dirac         the Dirac-GAN (Mescheder et al. 2018): oscillation

Digits scenarios: no instance noise, hard labels, Adam, batch 64, the
number of steps of `--epochs` epochs of all 1,797 digits (40: 1,120 steps),
whatever the data's size. Figures: Frechet distance in the bundled digits
classifier's features (5,000 samples against all real digits), classes
covered and the class histogram's KL to uniform, and time to quality: the
training wall-clock (evaluations excluded) until the FD of 2,000 samples,
measured every `--eval-every` steps, first falls to `--target-fd`. Grid:
modes captured, high-quality samples, reverse KL. Dirac: distance of
(theta, psi) to the equilibrium (0, 0) after the run, and its mean over
the last half (oscillation keeps it up).

Remedies (not every one applies to every scenario):

    vanilla         nothing
    balancer        kgt.callbacks.DiscriminatorLRBalancer() at its defaults (D's
                    ranking accuracy above 0.85 lowers D's rate)
    instance_noise  instance noise (digits 0.2, grid 0.2, dirac 0.5) decayed
                    linearly to 0 over the first half
    adaptive_noise  kgt.layers.AdaptiveInstanceNoise() at its defaults (the
                    stddev follows D's ranking accuracy, target 0.85)
    diffaugment     kgt.augment.DiffAugment() (color, translation, cutout)
    ada             kgt.augment.AdaptiveAugment(speed=20_000) (p from 0)
    ema             kgt.tricks.GeneratorEMA(0.99): samples from the average
    demo_recipe     the 0.1.0 demo's settings: one-sided smoothing 0.1,
                    instance noise 0.2 decayed over the first half, the
                    balancer, EMA
    adaptive_recipe the demo's settings now: one-sided smoothing 0.1, the
                    adaptive instance noise, the balancer, EMA (no schedule
                    to size by hand)
    r1              R1 (gamma 1; the Dirac-GAN's converging remedy)
    lecam           kgt.penalties.LeCam(0.3) (Tseng et al. 2021, for limited data)
    bcr             kgt.augment.ConsistencyRegularization() (bCR, translation)
    topk            kgt.tricks.TopK(0.5): G learns from the better half of its fakes
    replay          kgt.tricks.ReplayBuffer(256): past fakes for D
    r3gan           kgt.recipes.r3gan: the relativistic pairing loss, R1 and R2
                    (gamma 0.1, cosine to a tenth)
    pack4           PacGAN's packing, kgt.GAN(pack=4) (D on 4 stacked digits)
    r3gan_ema       r3gan with the generator's average (EMA 0.99), as R3GAN
                    itself samples
    bcr_ema         bCR with the generator's average (EMA 0.99)
    bcr_recipe      the adaptive recipe (kgt.recipes.small_images) with bCR
    quiet_recipe    one-sided smoothing 0.1, the balancer (defaults), EMA 0.99
    auto            kgt.recipes.auto at the scenario's learning rates, told
                    the data's size and the planned steps
    auto_unsized    auto not told the steps (the balancer at its defaults)
    auto_no_noise   auto without kgt.layers.AdaptiveInstanceNoise (auto had
                    it while being chosen: the same as auto now)
    auto_low_noise  auto with the adaptive noise at maximum 0.25

    python benchmarks/failures.py                   # full: 3 seeds
    python benchmarks/failures.py --quick           # under three minutes
    python benchmarks/failures.py --scenarios d_lr_10x --remedies vanilla balancer
    python benchmarks/failures.py --json out.json
    python benchmarks/failures.py --first-seed 3 --pick 1   # other seeds, another subset
    python benchmarks/failures.py --from-json a.json b.json   # pool and print
"""

import argparse
import re
import time

import modes
import numpy as np
from _common import markdown_table, mean_se, parse_args, pool_runs, write_json

SCENARIOS = {
    "balanced": {"kind": "digits"},
    "d_lr_10x": {"kind": "digits", "d_lr": 2e-3},
    "d_lr_100x": {"kind": "digits", "d_lr": 2e-3, "g_lr": 2e-5},
    "both_2e-5": {"kind": "digits", "d_lr": 2e-5, "g_lr": 2e-5},
    "wide_d": {"kind": "digits", "d_filters": 128},
    "small_10pct": {"kind": "digits", "fraction": 0.1},
    "small_20pct": {"kind": "digits", "fraction": 0.2},
    "small_10pct_long": {"kind": "digits", "fraction": 0.1, "length": 3},
    "grid": {"kind": "grid"},
    "dirac": {"kind": "dirac"},
}
DIGITS_REMEDIES = (
    "vanilla",
    "balancer",
    "instance_noise",
    "adaptive_noise",
    "diffaugment",
    "ada",
    "ema",
    "demo_recipe",
    "adaptive_recipe",
    "lecam",
    "bcr",
    "topk",
    "replay",
    "r3gan",
    "pack4",
    "r3gan_ema",
    "bcr_ema",
    "bcr_recipe",
    "quiet_recipe",
    "auto",
    "auto_unsized",
    "auto_no_noise",
    "auto_low_noise",
)
REMEDIES = {
    "digits": DIGITS_REMEDIES,
    "grid": ("vanilla", "balancer", "instance_noise"),
    "dirac": ("vanilla", "balancer", "instance_noise", "r1", "auto"),
}
ALL_REMEDIES = (*DIGITS_REMEDIES, "r1")


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40, help="digits epochs")
    parser.add_argument("--grid-steps", type=int, default=20_000)
    parser.add_argument("--dirac-steps", type=int, default=2_000)
    parser.add_argument(
        "--pick",
        type=int,
        default=None,
        help="the small scenarios' subset: pick K for every seed (default: each seed's own)",
    )
    parser.add_argument("--eval-every", type=int, default=112, help="steps")
    parser.add_argument("--target-fd", type=float, default=20.0)
    parser.add_argument(
        "--scenarios", nargs="+", choices=tuple(SCENARIOS), default=list(SCENARIOS)
    )
    parser.add_argument(
        "--remedies", nargs="+", choices=ALL_REMEDIES, default=list(ALL_REMEDIES)
    )
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--from-json", nargs="+", help="pool these files and print")
    return parse_args(parser, argv)


BATCH = 64
DIGITS = 1797


def quality_callback(every, n, real, classifier, target):
    """A callback measuring, every `every` steps, the FD of `n` samples
    with the training time so far (its own time excluded): `curve` holds
    (step, seconds, FD), `reached` the seconds until the FD first fell to
    `target` (or None), `train_seconds` the training time."""
    import keras

    import keras_gan_tricks as kgt

    class Quality(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.curve, self.reached, self.train_seconds = [], None, 0.0

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.train_seconds += time.perf_counter() - self.start
            if (batch + 1) % every:
                return
            samples = self.model.generate(n, seed=batch)
            fd = kgt.evaluation.frechet_distance(samples, real, classifier)
            self.curve.append((batch + 1, self.train_seconds, fd))
            if self.reached is None and fd <= target:
                self.reached = self.train_seconds

    return Quality()


def digits_gan(options, remedy, seed, steps, images=DIGITS):
    import keras

    import keras_gan_tricks as kgt
    from keras_gan_tricks.demo import LATENT_DIM

    shape = (8, 8, 1)
    pack = 4 if remedy == "pack4" else 1
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(LATENT_DIM, shape, base_filters=64),
        kgt.architectures.dcgan_discriminator(
            (8, 8, pack),
            base_filters=options.get("d_filters", 64),
            stages=2,
            dropout=0.3,
        ),
        latent_dim=LATENT_DIM,
        instance_noise=0.2 if remedy in ("instance_noise", "demo_recipe") else None,
        seed=seed,
        pack=pack,
    )
    if remedy.startswith("auto"):
        # kgt.recipes.auto at the scenario's learning rates; the ablations:
        # without its planned steps (the balancer at its defaults), or
        # without the adaptive noise.
        kgt.recipes.auto(
            gan,
            data=images,
            steps=None if remedy == "auto_unsized" else steps,
            d_optimizer=keras.optimizers.Adam(options.get("d_lr", 2e-4), beta_1=0.5),
            g_optimizer=keras.optimizers.Adam(options.get("g_lr", 2e-4), beta_1=0.5),
        )
        if remedy in ("auto_no_noise", "auto_low_noise"):
            noise = kgt.layers.AdaptiveInstanceNoise
            kept = [t for t in gan.tricks if not isinstance(t, noise)]
            if remedy == "auto_low_noise":  # its maximum halved, 0.25
                kept.insert(0, noise(maximum=0.25, seed=seed))
            gan.compile(
                d_optimizer=gan.d_optimizer,
                g_optimizer=gan.g_optimizer,
                label_policy=gan.label_policy,
                tricks=kept,
            )
        return gan, []
    if remedy in ("r3gan", "r3gan_ema"):
        # kgt.recipes.r3gan's objective at the scenario's learning rates.
        gamma = keras.optimizers.schedules.CosineDecay(0.1, max(1, steps), alpha=0.1)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(
                options.get("d_lr", 2e-4), beta_1=0.0, beta_2=0.99
            ),
            g_optimizer=keras.optimizers.Adam(
                options.get("g_lr", 2e-4), beta_1=0.0, beta_2=0.99
            ),
            loss="relativistic_pairing",
            penalty=[kgt.penalties.R1(gamma), kgt.penalties.R2(gamma)],
            tricks=[kgt.tricks.GeneratorEMA(0.99)] if remedy == "r3gan_ema" else None,
        )
        return gan, []
    tricks = {
        "lecam": [kgt.penalties.LeCam(0.3)],
        "bcr": [kgt.augment.ConsistencyRegularization(seed=seed)],
        "topk": [kgt.tricks.TopK(0.5)],
        "replay": [kgt.tricks.ReplayBuffer(256, seed=seed)],
    }.get(remedy, [])
    if remedy in ("bcr_ema", "bcr_recipe"):
        tricks.append(kgt.augment.ConsistencyRegularization(seed=seed))
    if remedy in (
        "ema",
        "demo_recipe",
        "adaptive_recipe",
        "bcr_ema",
        "bcr_recipe",
        "quiet_recipe",
    ):
        tricks.append(kgt.tricks.GeneratorEMA(0.99))
    if remedy == "diffaugment":
        tricks.append(kgt.augment.DiffAugment(seed=seed))
    if remedy == "ada":
        tricks.append(kgt.augment.AdaptiveAugment(speed=20_000, seed=seed))
    if remedy in ("adaptive_noise", "adaptive_recipe", "bcr_recipe"):
        tricks.append(kgt.layers.AdaptiveInstanceNoise(seed=seed))
    gan.compile(
        d_optimizer=keras.optimizers.Adam(options.get("d_lr", 2e-4), beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(options.get("g_lr", 2e-4), beta_1=0.5),
        label_policy=(
            kgt.labels.OneSidedSmoothing(0.1)
            if remedy
            in ("demo_recipe", "adaptive_recipe", "bcr_recipe", "quiet_recipe")
            else None
        ),
        tricks=tricks,
    )
    callbacks = []
    if remedy in ("instance_noise", "demo_recipe"):
        callbacks.append(kgt.callbacks.InstanceNoiseDecay(0.2, 0.0, max(1, steps // 2)))
    if remedy in (
        "balancer",
        "demo_recipe",
        "adaptive_recipe",
        "bcr_recipe",
        "quiet_recipe",
    ):
        callbacks.append(kgt.callbacks.DiscriminatorLRBalancer(verbose=0))
    return gan, callbacks


def run_digits(options, remedy, seed, args, real, classifier):
    import keras

    import keras_gan_tricks as kgt

    keras.utils.set_random_seed(seed)
    steps = options.get("length", 1) * args.epochs * int(np.ceil(DIGITS / BATCH))
    rng = np.random.default_rng(seed)
    n = max(BATCH, int(round(options.get("fraction", 1.0) * len(real))))
    # The subset: each seed's own (rng(seed), the atlas's rows), or with
    # --pick K one other pick, the same for every seed.
    picker = rng if args.pick is None else np.random.default_rng([1000, args.pick])
    subset = real[picker.permutation(len(real))[:n]]
    x = subset[rng.integers(0, n, steps * BATCH)]
    gan, callbacks = digits_gan(options, remedy, seed, steps, images=n)
    quality = quality_callback(args.eval_every, 2000, real, classifier, args.target_fd)
    history = gan.fit(
        x,
        batch_size=BATCH,
        epochs=1,
        verbose=0,
        shuffle=False,
        callbacks=[*callbacks, quality],
    )
    summary = kgt.evaluation.summary(gan.generate(5000, seed=10_000 + seed), real)
    balancer = [c for c in callbacks if hasattr(c, "changes")]
    return {
        "seed": seed,
        "images": int(n),
        "steps": steps,
        "frechet_distance": summary["frechet_distance"],
        "classes_covered": summary["classes_covered"],
        "class_kl_to_uniform": summary["class_kl_to_uniform"],
        "train_seconds": quality.train_seconds,
        "seconds_to_target": quality.reached,
        "curve": quality.curve,
        "lr_changes": len(balancer[0].changes) if balancer else None,
        "final_d_lr": balancer[0].current_lr() if balancer else None,
        "final_noise_stddev": _adaptive_stddev(gan),
        "alarms": [a for a in history.history.get("alarms", ()) if a],
        "first_alarm_step": _first_alarm_step(history),
        "pick": args.pick,
    }


def _first_alarm_step(history):
    """The step of the fit's first alarm (kgt.callbacks.Alarms), or None."""
    steps = [
        int(found)
        for entry in history.history.get("alarms", ())
        for found in re.findall(r"\(\w+, step (\d+)", entry or "")
    ]
    return min(steps) if steps else None


def _adaptive_stddev(gan):
    import keras

    import keras_gan_tricks as kgt

    for trick in gan.tricks:
        if isinstance(trick, kgt.layers.AdaptiveInstanceNoise):
            return float(keras.ops.convert_to_numpy(trick.stddev))
    return None


def run_grid(remedy, seed, args):
    row = {
        "vanilla": "vanilla",
        "balancer": "+ D lr balancer",
        "instance_noise": "+ instance noise, decayed",
    }[remedy]
    steps = 1000 if args.quick else args.grid_steps
    start = time.perf_counter()
    metrics, _, _ = modes.train("grid", row, seed, steps)
    return {
        **metrics,
        "steps": steps,
        "train_seconds": time.perf_counter() - start,
    }


def run_dirac(remedy, seed, args):
    import keras

    import keras_gan_tricks as kgt

    class PointMass(keras.layers.Layer):
        """The Dirac-GAN's generator: its single weight theta, whatever z."""

        def build(self, input_shape):
            self.theta = self.add_weight(shape=(1,), initializer="ones", name="theta")

        def call(self, z):
            return keras.ops.ones_like(z[:, :1]) * self.theta

    keras.utils.set_random_seed(seed)
    steps = 300 if args.quick else args.dirac_steps
    generator = PointMass(name="point_mass")
    psi = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    gan = kgt.GAN(
        generator,
        psi,
        latent_dim=1,
        seed=seed,
        instance_noise=0.5 if remedy == "instance_noise" else None,
    )
    optimizers = {
        "d_optimizer": keras.optimizers.SGD(0.1),
        "g_optimizer": keras.optimizers.SGD(0.1),
    }
    if remedy == "auto":  # kgt.recipes.auto with the game's optimizers
        kgt.recipes.auto(gan, data=steps, steps=steps, **optimizers)
    else:
        gan.compile(
            **optimizers,
            penalty=kgt.penalties.R1(1.0) if remedy == "r1" else None,
        )
    trajectory = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model  # noqa: B018 (syncs the JAX train state)
            theta = float(keras.ops.convert_to_numpy(generator.theta)[0])
            trajectory.append(
                (theta, float(keras.ops.convert_to_numpy(psi.kernel)[0, 0]))
            )

    callbacks = [Record()]
    if remedy == "instance_noise":
        callbacks.append(kgt.callbacks.InstanceNoiseDecay(0.5, 0.0, steps // 2))
    if remedy == "balancer":
        callbacks.append(kgt.callbacks.DiscriminatorLRBalancer(verbose=0))
    start = time.perf_counter()
    gan.fit(
        np.zeros((steps, 1), "float32"),
        batch_size=1,
        verbose=0,
        shuffle=False,
        callbacks=callbacks,
    )
    distance = np.hypot(*np.asarray(trajectory).T)
    return {
        "seed": seed,
        "steps": steps,
        "final_distance": float(distance[-1]),
        "late_mean_distance": float(distance[len(distance) // 2 :].mean()),
        "train_seconds": time.perf_counter() - start,
    }


METRICS = {
    "digits": (
        ("frechet_distance", "FD"),
        ("classes_covered", "classes"),
        ("class_kl_to_uniform", "class KL"),
        ("seconds_to_target", "s to target FD"),
        ("train_seconds", "train s"),
    ),
    "grid": (
        ("modes", "modes"),
        ("high_quality", "high quality"),
        ("reverse_kl", "reverse KL"),
        ("train_seconds", "train s"),
    ),
    "dirac": (
        ("final_distance", "final distance"),
        ("late_mean_distance", "mean distance, 2nd half"),
    ),
}


def _cell(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return "not reached"
    mean, se = mean_se(values)
    reached = "" if len(values) == len(runs) else f" ({len(values)}/{len(runs)})"
    return f"{mean:.3g} ± {se:.2g}{reached}"


def table(results):
    """The results as Markdown tables, one per scenario."""
    lines = []
    for scenario, by_remedy in results.items():
        kind = SCENARIOS[scenario]["kind"]
        columns = METRICS[kind]
        header = ["remedy", "seeds", *(label for _, label in columns)]
        reference = _vanilla_final(by_remedy) if kind == "digits" else None
        if reference is not None:
            header.append(f"s to vanilla's final FD ({reference:.3g})")
        rows = []
        for remedy, runs in by_remedy.items():
            cells = [_cell(runs, key) for key, _ in columns]
            if reference is not None:
                cells.append(_time_to(runs, reference))
            rows.append([remedy, len(runs), *cells])
        lines += [f"### {scenario}", "", *markdown_table(header, rows), ""]
    return "\n".join(lines)


def _vanilla_final(by_remedy):
    """Vanilla's final FD as the curve measures it (2,000 samples), averaged
    over its seeds: the level for time to quality."""
    runs = [r for r in by_remedy.get("vanilla", ()) if r.get("curve")]
    if not runs:
        return None
    return float(np.mean([r["curve"][-1][2] for r in runs]))


def _time_to(runs, level):
    """Mean training seconds until each run's curve first reaches `level`."""
    times = []
    for run in runs:
        reached = [t for _, t, fd in run.get("curve") or () if fd <= level]
        times.append(reached[0] if reached else None)
    return _cell([{"t": t} for t in times], "t")


def pool(files):
    """Runs of the same scenario and remedy across files, by seed (a later
    file's run replacing an earlier one's)."""

    def groups(contents):
        for scenario, by_remedy in contents["results"].items():
            for remedy, runs in by_remedy.items():
                yield scenario, remedy, runs

    return pool_runs(files, groups, later_wins=True)


def main(argv=None):
    args = _parse(argv)  # sets the backend: Keras is imported after
    import keras_gan_tricks as kgt

    if args.from_json:
        print(table(pool(args.from_json)))
        return 0
    if args.quick:
        args.epochs, args.eval_every, args.seeds = 2, 28, 1
        args.scenarios = [
            s for s in args.scenarios if s in ("d_lr_10x", "small_10pct", "dirac")
        ]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    real, _ = kgt.datasets.digits()
    classifier = kgt.evaluation.digits_classifier()
    results = {}
    start = time.perf_counter()
    for scenario in args.scenarios:
        options = SCENARIOS[scenario]
        kind = options["kind"]
        for remedy in [r for r in args.remedies if r in REMEDIES[kind]]:
            quick = ("vanilla", "balancer", "adaptive_noise", "ada", "r1")
            if args.quick and remedy not in quick:
                continue
            runs = results.setdefault(scenario, {}).setdefault(remedy, [])
            for seed in seeds:
                if kind == "digits":
                    run = run_digits(options, remedy, seed, args, real, classifier)
                elif kind == "grid":
                    run = run_grid(remedy, seed, args)
                else:
                    run = run_dirac(remedy, seed, args)
                runs.append(run)
                shown = {k: v for k, v in run.items() if k != "curve"}
                print(
                    f"{scenario:12} {remedy:15} {shown} "
                    f"({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
                if args.json:  # after every run: a stopped job keeps its seeds
                    _write(args, results)
    print()
    print(table(results))
    return 0


def _write(args, results):
    write_json(
        args.json,
        {
            "epochs": args.epochs,
            "target_fd": args.target_fd,
            "eval_every": args.eval_every,
            "results": results,
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
