"""Mode coverage on the 2D ring and grid mixtures, trick by trick.

benchmarks/BENCHMARKS.md section 2 (PacGAN's synthetic protocol): 2,500 generated
samples per run; a sample is high quality within 3 std of its nearest
centre; a mode is captured if at least one high-quality sample is nearest to
it; reverse KL of the high-quality samples' mode histogram to uniform.
Networks as PacGAN (`kgt.architectures.mlp_generator` and
`mlp_discriminator` at their defaults): generator MLP 4x400 ReLU with batch
norm, z in R^2 normal; discriminator MLP 3x200 LeakyReLU(0.2) (PacGAN used
maxout); Adam 1e-4, beta_1 0.8, batch 100; `--steps` generator steps per run. Each row is
one setting over `--seeds` seeds: mean +- standard error.

    python benchmarks/modes.py                       # full: 10 seeds
    python benchmarks/modes.py --quick               # 2 seeds, 2 rows, short
    python benchmarks/modes.py --json out.json --plot out.png
    python benchmarks/modes.py --first-seed 3 --seeds 7   # seeds 3..9
    python benchmarks/modes.py --from-json a.json b.json --markdown table.md

`--from-json` pools the runs of one setting and step count across files
(each run records its seed; a seed counted once), so the 10 seeds of the
protocol can be trained in pieces, on several machines or sessions.
"""

import argparse
import time

import numpy as np
from _common import markdown_table, mean_se, parse_args, pool_runs, write_json


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed ... + seeds - 1"
    )
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--datasets", nargs="*", default=["ring", "grid"])
    parser.add_argument("--rows", nargs="*", default=None)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--plot", help="PNG of vanilla vs all tricks (seed 0)")
    parser.add_argument(
        "--from-json",
        nargs="+",
        metavar="FILE",
        help="train nothing: combine these results files into one table",
    )
    parser.add_argument("--markdown", help="write the table here (Markdown)")
    return parse_args(parser, argv)


BATCH = 100
N_EVAL = 2500
PUBLISHED = {
    "GAN (PacGAN Table 1)": {"ring": (6.3, 98.2, 0.45), "grid": (17.3, 94.8, 0.70)},
    "PacGAN4 (PacGAN Table 1)": {"ring": (7.8, 95.9, 0.07), "grid": (24.8, 93.6, 0.04)},
    "VEEGAN (VEEGAN Table 1)": {"ring": (8, 52.9, None), "grid": (24.6, 40, None)},
    "Unrolled GAN (VEEGAN Table 1)": {
        "ring": (7.6, 35.6, None),
        "grid": (23.6, 16, None),
    },
}
# Instance noise starts at about the mixture's spacing scale: a tenth of the
# ring's radius, a tenth of the grid's spacing x 2.
NOISE = {"ring": 0.1, "grid": 0.2}


# Each row: what it adds to vanilla (non-saturating loss, nothing else).
# "all tricks" is every trick at once; "recommended (2D)" the ones that
# helped alone on these data.
ROWS = {
    "vanilla": {},
    "+ one-sided smoothing 0.1": {"policy": "oss"},
    "+ label noise U(0.7,1.2)/U(0,0.3)": {"policy": "noise"},
    "+ label flips 5%": {"policy": "flip"},
    "+ instance noise, decayed": {"noise": True},
    "+ R1 (gamma 0.1)": {"r1": True},
    "+ D lr balancer": {"balancer": True},
    "+ generator EMA 0.999": {"ema": True},
    "+ MinibatchStdDev": {"mbstd": True},
    "all tricks": {
        "policy": "oss",
        "noise": True,
        "r1": True,
        "balancer": True,
        "ema": True,
    },
    "all tricks + MinibatchStdDev": {
        "policy": "oss",
        "noise": True,
        "r1": True,
        "balancer": True,
        "ema": True,
        "mbstd": True,
    },
    # The tricks that helped alone on these mixtures (seeds 0-2 of the
    # single-trick rows, 20,000 steps): label noise balanced the ring's
    # modes, instance noise sharpened the grid, the recalibrated average
    # sharpened both. One-sided smoothing, flips and R1 (gamma 0.1) did not.
    "recommended (2D)": {"policy": "noise", "noise": True, "ema": True},
    # The modern stabilisers, each alone, then with the recommended set.
    # PacGAN4 packs each batch of 100 samples into 25 packs of 4.
    "+ PacGAN4 (pack=4)": {"pack": 4},
    "+ relativistic pairing + R1/R2 (gamma 0.1)": {"loss": "rp", "r1r2": True},
    "+ LeCam 0.3": {"lecam": True},
    "recommended (2D) + PacGAN4": {
        "policy": "noise",
        "noise": True,
        "ema": True,
        "pack": 4,
    },
    # Top-k as the failure atlas runs it (the better half of the fakes);
    # TF-GAN's pool of past fakes at its default odds. bCR has no row here:
    # its augmentations (translation, colour, cutout) are for images.
    "+ top-k 0.5": {"topk": True},
    "+ replay buffer 256": {"replay": True},
    # R3GAN's objective with the recommended set's sharpening (instance
    # noise, the average); label noise left out (the pairing loss has no
    # targets).
    "relativistic pairing + R1/R2 + instance noise + EMA": {
        "loss": "rp",
        "r1r2": True,
        "noise": True,
        "ema": True,
    },
    # kgt.recipes.r3gan: its own Adam(2e-4, 0, 0.99), gamma 0.1 decayed by
    # cosine to a tenth, and the generator's average (EMA 0.999), which the
    # recipe includes since these runs.
    "r3gan recipe + EMA 0.999": {"recipe": "r3gan"},
    # kgt.recipes.auto: on vectors it compiles exactly the r3gan recipe
    # (tests/test_recipes.py), so the row above is its evidence.
    "auto": {"recipe": "auto"},
}


def label_policy(name):
    """A row's label policy: "oss", "noise" or "flip"."""
    import keras_gan_tricks as kgt

    if name == "oss":
        return kgt.labels.OneSidedSmoothing(0.1)
    if name == "noise":
        return kgt.labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3))
    return kgt.labels.RandomFlip(0.05)


def data(name):
    import keras_gan_tricks as kgt

    if name == "ring":
        points, centers = kgt.datasets.gaussian_ring(n=100_000)
        return points, centers, kgt.datasets.RING_STD
    points, centers = kgt.datasets.gaussian_grid(n=100_000)
    return points, centers, kgt.datasets.GRID_STD


def train(dataset, row, seed, steps):
    """One run; returns the metrics and the evaluation samples."""
    import keras

    import keras_gan_tricks as kgt

    keras.utils.set_random_seed(seed)
    points, centers, std = data(dataset)
    options = ROWS[row]
    pack = options.get("pack", 1)
    gan = kgt.GAN(
        kgt.architectures.mlp_generator(2),
        kgt.architectures.mlp_discriminator(
            pack=pack, minibatch_stddev=options.get("mbstd", False)
        ),
        latent_dim=2,
        instance_noise=NOISE[dataset] if options.get("noise") else None,
        seed=seed,
        pack=pack,
    )
    penalty = []
    if options.get("r1"):
        penalty.append(kgt.penalties.R1(0.1))
    if options.get("r1r2"):
        penalty += [kgt.penalties.R1(0.1), kgt.penalties.R2(0.1)]
    if options.get("lecam"):
        penalty.append(kgt.penalties.LeCam(0.3))
    tricks = []
    if options.get("topk"):
        tricks.append(kgt.tricks.TopK(0.5))
    if options.get("replay"):
        tricks.append(kgt.tricks.ReplayBuffer(256, seed=seed))
    if "recipe" in options:
        kgt.recipes.get(options["recipe"])(gan, steps=steps)
    else:
        gan.compile(
            d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.8),
            g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.8),
            loss="relativistic_pairing"
            if options.get("loss") == "rp"
            else "non_saturating",
            label_policy=label_policy(options["policy"])
            if "policy" in options
            else None,
            penalty=penalty or None,
            tricks=tricks or None,
        )
    callbacks = []
    if options.get("noise"):
        callbacks.append(
            kgt.callbacks.InstanceNoiseDecay(
                initial=NOISE[dataset], final=0.0, steps=max(1, steps // 2)
            )
        )
    if options.get("balancer"):
        callbacks.append(kgt.callbacks.DiscriminatorLRBalancer())
    if options.get("ema"):
        callbacks.append(kgt.callbacks.GeneratorEMA(0.999))
    rng = np.random.default_rng(seed)
    x = points[rng.integers(0, len(points), steps * BATCH)]
    gan.fit(
        x, batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=callbacks
    )
    samples = gan.generate(N_EVAL, seed=10_000 + seed)
    metrics = kgt.evaluation.mode_coverage(samples, centers, std)
    return {"seed": seed, **metrics}, samples, centers


def plot(path, samples_by_row, centers_by_dataset):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(centers_by_dataset)
    rows = list(next(iter(samples_by_row.values())))
    fig, axes = plt.subplots(
        len(datasets), len(rows), figsize=(4 * len(rows), 4 * len(datasets))
    )
    axes = np.atleast_2d(axes)
    for i, dataset in enumerate(datasets):
        for j, row in enumerate(rows):
            ax = axes[i, j]
            points = samples_by_row[dataset][row]
            centers = centers_by_dataset[dataset]
            ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="generated")
            ax.scatter(centers[:, 0], centers[:, 1], s=30, c="red", marker="x")
            ax.set_title(f"{dataset}: {row}")
            ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _cell(summary, key, scale=1.0, digits=2):
    mean, se = summary[key]
    return f"{scale * mean:.{digits}f} ± {scale * se:.{digits}f}"


def _summary(runs):
    return {
        key: mean_se([r[key] for r in runs])
        for key in ("modes", "high_quality", "reverse_kl")
    }


def pool(files):
    """{dataset: {(row, steps): [run, ...]}} from results files, rows in
    first-seen order; a seed is counted once per row and step count (the
    first file's run)."""

    def groups(contents):
        for dataset, rows in contents["results"].items():
            for row, result in rows.items():
                yield dataset, (row, contents["steps"]), result["runs"]

    return pool_runs(files, groups)


def markdown(files):
    """One Markdown table per dataset from results files (runs pooled by
    `pool`), published rows last."""
    pooled = pool(files)
    lines = []
    datasets = [d for d in ("ring", "grid") if d in pooled]
    for dataset in datasets:
        table_rows = []
        # Rows in ROWS's order, then rows this version of the script does
        # not define (kept from older files), as first seen.
        order = list(ROWS)
        keys = sorted(
            pooled[dataset],
            key=lambda k: (order.index(k[0]) if k[0] in order else len(order), k[1]),
        )
        for row, steps in keys:
            runs = pooled[dataset][(row, steps)]
            summary = _summary(runs)
            table_rows.append(
                [
                    row,
                    f"{steps:,}",
                    len(runs),
                    _cell(summary, "modes"),
                    _cell(summary, "high_quality", 100, 1),
                    _cell(summary, "reverse_kl", digits=3),
                ]
            )
        for name, published in PUBLISHED.items():
            m, hq, kl = published[dataset]
            kl = "—" if kl is None else kl
            # PacGAN's code: 400 epochs of 100,000 samples in batches of 100.
            steps, seeds = ("400,000", "10") if "PacGAN" in name else ("—", "—")
            table_rows.append([f"*{name}*", steps, seeds, m, hq, kl])
        lines += [
            f"**{dataset}** ({'8' if dataset == 'ring' else '25'} modes)",
            "",
            *markdown_table(
                ["setting", "steps", "seeds", "modes", "% high quality", "reverse KL"],
                table_rows,
            ),
            "",
        ]
    return "\n".join(lines)


def main(argv=None):
    args = _parse(argv)
    if args.from_json:
        table = markdown(args.from_json)
        print(table)
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(table)
        return 0
    seeds = 2 if args.quick else args.seeds
    steps = 300 if args.quick else args.steps
    rows = args.rows or (["vanilla", "all tricks"] if args.quick else list(ROWS))
    for row in rows:
        if row not in ROWS:
            raise SystemExit(f"unknown row {row!r}; rows: {', '.join(ROWS)}")
    results, samples_by_row, centers_by_dataset = {}, {}, {}
    start = time.perf_counter()
    for dataset in args.datasets:
        results[dataset], samples_by_row[dataset] = {}, {}
        for row in rows:
            runs = []
            for seed in range(args.first_seed, args.first_seed + seeds):
                metrics, samples, centers = train(dataset, row, seed, steps)
                runs.append(metrics)
                print(
                    f"  {dataset} {row}, seed {seed}: modes {metrics['modes']}, "
                    f"HQ {100 * metrics['high_quality']:.1f}%, "
                    f"KL {metrics['reverse_kl']:.3f}",
                    flush=True,
                )
                if seed == args.first_seed:
                    samples_by_row[dataset][row] = samples
                    centers_by_dataset[dataset] = centers
                results[dataset][row] = {"runs": runs, **_summary(runs)}
                if args.json:  # after every run: a stopped job keeps its seeds
                    _write(args.json, seeds, steps, results)
            summary = results[dataset][row]
            m, hq, kl = (summary[k] for k in ("modes", "high_quality", "reverse_kl"))
            print(
                f"{dataset:5} {row:36} modes {m[0]:5.2f} +- {m[1]:.2f}  "
                f"HQ {100 * hq[0]:5.1f} +- {100 * hq[1]:.1f}%  "
                f"KL {kl[0]:.3f} +- {kl[1]:.3f}   ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    print()
    for dataset in args.datasets:
        print(f"{dataset}: modes / % high quality / reverse KL")
        for name, published in PUBLISHED.items():
            m, hq, kl = published[dataset]
            print(f"  {name:36} {m} / {hq} / {'-' if kl is None else kl}")
    if args.plot:
        plot(
            args.plot,
            {
                d: {r: s for r, s in by_row.items() if r in ("vanilla", "all tricks")}
                for d, by_row in samples_by_row.items()
            },
            centers_by_dataset,
        )
    if args.json:
        _write(args.json, seeds, steps, results)
    return 0


def _write(path, seeds, steps, results):
    write_json(
        path,
        {
            "seeds": seeds,
            "steps": steps,
            "batch_size": BATCH,
            "results": results,
            "published": PUBLISHED,
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
