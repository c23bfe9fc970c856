"""Quality on real images: the 8x8 digits and the 1,000-mode stacked digits.

benchmarks/BENCHMARKS.md section 3. Settings on the same DCGAN (the demo's
networks):

    vanilla  non-saturating loss, Adam(2e-4, 0.5), nothing else
    tricks   the first demo's: one-sided label smoothing 0.1, instance
             noise 0.2 decayed to 0 over the first half, the discriminator
             learning-rate balancer, generator EMA (0.99)
    auto, small_images, dcgan_seeds, r3gan
             the kgt.recipes of these names (--settings; not by default;
             auto is told the data and the planned steps)

Digits: Frechet distance in the digits classifier's features (10,000
generated vs all real, and at matched sizes with the real-vs-real floor),
classes covered and the class histogram's KL to uniform. Stacked digits
(three digits as the channels of an 8x8x3 image, 1,000 modes): modes among
26,000 samples and KL to uniform. Mean +- standard error over seeds; a PNG of
samples side by side.

    python benchmarks/digits.py                    # full
    python benchmarks/digits.py --quick            # 1 seed, few epochs
    python benchmarks/digits.py --json out.json --plot out.png
    python benchmarks/digits.py --settings small_images r3gan
"""

import argparse
import time

import numpy as np
from _common import mean_se, parse_args, write_json

# vanilla, the 0.1.0 demo's tricks, and kgt.recipes' image recipes.
SETTINGS = ("vanilla", "tricks", "auto", "small_images", "dcgan_seeds", "r3gan")


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=60, help="digits epochs")
    parser.add_argument(
        "--stacked-epochs",
        type=int,
        default=10,
        help="stacked digits epochs (0: skip the stacked digits)",
    )
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--plot", help="PNG of samples, vanilla vs tricks")
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=SETTINGS,
        default=["vanilla", "tricks"],
        help="train these settings (the plot needs vanilla and tricks); the "
        "others are kgt.recipes of the same name",
    )
    args = parse_args(parser, argv)
    if args.plot and not {"vanilla", "tricks"} <= set(args.settings):
        parser.error(
            f"--plot needs both settings. Received: --settings {args.settings}"
        )
    return args


BATCH = 64
PUBLISHED_STACKED = {
    "DCGAN on Stacked MNIST (VEEGAN Table 2)": (99, 3.4),
    "PacDCGAN2 on Stacked MNIST (PacGAN Table 2)": (1000, 0.06),
}


def train(setting, images, seed, epochs):
    import keras

    import keras_gan_tricks as kgt
    from keras_gan_tricks.demo import LATENT_DIM

    keras.utils.set_random_seed(seed)
    shape = images.shape[1:]
    tricks = setting == "tricks"
    steps = epochs * int(np.ceil(len(images) / BATCH))
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(LATENT_DIM, shape, base_filters=64),
        kgt.architectures.dcgan_discriminator(
            shape, base_filters=64, stages=2, dropout=0.3
        ),
        latent_dim=LATENT_DIM,
        instance_noise=0.2 if tricks else None,
        seed=seed,
    )
    if setting in kgt.recipes.NAMES:
        options = {} if setting == "small_images" else {"steps": steps}
        if setting == "auto":
            options["data"] = images
        kgt.recipes.get(setting)(gan, **options)
    else:
        gan.compile(label_policy=kgt.labels.OneSidedSmoothing(0.1) if tricks else None)
    callbacks = []
    if tricks:
        callbacks = [
            kgt.callbacks.InstanceNoiseDecay(
                initial=0.2, final=0.0, steps=max(1, steps // 2)
            ),
            kgt.callbacks.DiscriminatorLRBalancer(),
            kgt.callbacks.GeneratorEMA(decay=0.99),
        ]
    gan.fit(images, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=callbacks)
    return gan


def main(argv=None):
    args = _parse(argv)  # sets the backend: Keras is imported after
    import keras_gan_tricks as kgt

    seeds = 1 if args.quick else args.seeds
    epochs = 3 if args.quick else args.epochs
    stacked_epochs = 1 if args.quick else args.stacked_epochs
    n_generated = 2000 if args.quick else 10_000
    n_stacked = 6400 if args.quick else 60_000
    n_stacked_eval = 2600 if args.quick else 26_000

    classifier = kgt.evaluation.digits_classifier()
    real, _ = kgt.datasets.digits()
    stacked, _ = kgt.datasets.stacked_digits(n_stacked)
    results, grids = {}, {}
    start = time.perf_counter()
    for setting in [s for s in SETTINGS if s in args.settings]:
        runs = []
        for seed in range(seeds):
            gan = train(setting, real, seed, epochs)
            samples = gan.generate(n_generated, seed=1000 + seed)
            digits = kgt.evaluation.summary(samples, real, classifier)
            if seed == 0:
                grids[setting] = samples[:64]
            modes = {"modes": np.nan, "kl_to_uniform": np.nan}
            if stacked_epochs > 0:
                gan = train(setting, stacked, seed, stacked_epochs)
                modes = kgt.evaluation.stacked_mode_count(
                    gan.generate(n_stacked_eval, seed=2000 + seed), classifier
                )
            runs.append(
                {
                    "frechet_distance": digits["frechet_distance"],
                    "frechet_distance_matched": digits["frechet_distance_matched"],
                    "classes_covered": digits["classes_covered"],
                    "class_kl_to_uniform": digits["class_kl_to_uniform"],
                    "stacked_modes": modes["modes"],
                    "stacked_kl_to_uniform": modes["kl_to_uniform"],
                }
            )
            print(
                f"{setting:8} seed {seed}: {runs[-1]}  "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
        results[setting] = {
            "runs": runs,
            **{key: mean_se([r[key] for r in runs]) for key in runs[0]},
        }
    floor = kgt.evaluation.summary(real[:2], real, classifier)[
        "frechet_distance_real_vs_real"
    ]
    print()
    print(f"classifier held-out accuracy {100 * classifier.accuracy:.1f}%")
    print(f"real-vs-real Frechet distance (matched halves): {floor:.2f}")
    header = (
        f"{'':9}{'FD':>14}{'FD matched':>14}{'classes':>10}{'class KL':>12}"
        f"{'stacked modes':>16}{'stacked KL':>12}"
    )
    print(header)
    for setting, row in results.items():
        cells = [
            row[k]
            for k in (
                "frechet_distance",
                "frechet_distance_matched",
                "classes_covered",
                "class_kl_to_uniform",
                "stacked_modes",
                "stacked_kl_to_uniform",
            )
        ]
        widths = (14, 14, 10, 12, 16, 12)
        print(
            f"{setting:9}"
            + "".join(
                f" {f'{m:.2f}+-{se:.2f}':>{w - 1}}"
                for (m, se), w in zip(cells, widths, strict=True)
            )
        )
    for name, (modes, kl) in PUBLISHED_STACKED.items():
        print(f"  published: {name}: {modes} modes, KL {kl}")
    if args.plot:
        # Each row: 8 vanilla samples, then 8 with the tricks.
        rows = [grids[s].reshape(8, 8, *grids[s].shape[1:]) for s in SETTINGS[:2]]
        both = np.concatenate(rows, axis=1).reshape(-1, *grids["vanilla"].shape[1:])
        kgt.images.save_image_grid(both, args.plot, columns=16, scale=4)
    if args.json:
        write_json(
            args.json,
            {
                "seeds": seeds,
                "epochs": epochs,
                "stacked_epochs": stacked_epochs,
                "generated": n_generated,
                "stacked_samples": n_stacked_eval,
                "classifier_accuracy": classifier.accuracy,
                "real_vs_real_frechet": floor,
                "results": results,
                "published_stacked": PUBLISHED_STACKED,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
