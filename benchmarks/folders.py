"""Quality on image folders: the digits written as 32x32 colour and 64x64 grey PNGs.

benchmarks/BENCHMARKS.md section 3, beyond 8x8. The benchmark writes its
own folders (real photographs cannot be downloaded here): scikit-learn's
1,797 digits upscaled (bilinear) to 32x32 with a tint per class, and to
64x64 grey, as PNGs in class subfolders. Each setting trains the DCGAN
builders (`base_filters=32`, latent 64, batch 64) on the folder as
`kgt.datasets.image_folder` streams it, for the same number of steps
(whole epochs: 580 steps, 20 epochs, at 32 pixels and 290 at 64 by
default, what 2 CPU cores run in under an hour for both folders):

    vanilla       gan.compile(): non-saturating loss, Adam(2e-4, 0.5)
    small_images  kgt.recipes.small_images, the recipe the docs recommend

Figures in the features of a classifier trained on the folder's labels
(`kgt.evaluation.image_classifier`, cached by the data's hash; its held-out
accuracy is reported): Frechet distance of 1,797 generated images against
all real ones, and at matched sizes beside the real-vs-real floor; KID;
classes covered. Mean +- standard error over seeds; a PNG of samples of
seed 0, one row per setting and folder.

    python benchmarks/folders.py                       # full: 3 seeds
    python benchmarks/folders.py --quick               # 1 seed, few steps
    python benchmarks/folders.py --folders 32-rgb --steps 30
"""

import argparse
import os
import tempfile
import time

import numpy as np
from _common import markdown_table, mean_se, parse_args, write_json

SETTINGS = ("vanilla", "small_images")
# name: (pixels, colour, default steps)
FOLDERS = {"32-rgb": (32, True, 580), "64-grey": (64, False, 290)}
BATCH = 64
LATENT_DIM = 64


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--folders", nargs="+", choices=FOLDERS, default=list(FOLDERS))
    parser.add_argument(
        "--steps", type=int, default=None, help="steps per run (default: per folder)"
    )
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--markdown", help="write the results page here")
    parser.add_argument("--plot", help="PNG of samples, a row per setting")
    parser.add_argument("--keep", help="write the folders here (default: a temp dir)")
    parser.add_argument(
        "--images", type=int, default=None, help="the first N digits only (tests)"
    )
    return parse_args(parser, argv)


def write_folder(root, size, colour, n=None):
    """The first `n` digits (all: None) as `size`-pixel PNGs in class
    subfolders under `root`."""
    from PIL import Image

    import keras_gan_tricks as kgt

    images, labels = kgt.datasets.digits()
    images, labels = images[:n], labels[:n]
    pixels = np.round((images[..., 0] + 1.0) * 127.5).astype("uint8")
    for i, (p, label) in enumerate(zip(pixels, labels, strict=True)):
        if colour:  # a tint per class
            p = np.stack([p, p // (1 + label % 3), p // 2], -1).astype("uint8")
        os.makedirs(os.path.join(root, str(label)), exist_ok=True)
        picture = Image.fromarray(p).resize((size, size), Image.BILINEAR)
        picture.save(os.path.join(root, str(label), f"{i:05d}.png"))
    return root


def train(setting, folder, seed, steps):
    """A GAN trained for about `steps` steps (whole epochs of the folder)."""
    import keras

    import keras_gan_tricks as kgt

    keras.utils.set_random_seed(seed)
    images = kgt.datasets.image_folder(folder, batch_size=BATCH, seed=seed)
    per_epoch = -(-len(images.file_paths) // BATCH)
    epochs = max(1, round(steps / per_epoch))
    shape = tuple(images.element_spec.shape[1:])
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(LATENT_DIM, shape, base_filters=32),
        kgt.architectures.dcgan_discriminator(shape, base_filters=32, seed=seed),
        seed=seed,
    )
    if setting == "small_images":
        kgt.recipes.small_images(gan)
    else:
        gan.compile()
    gan.fit(images, epochs=epochs, verbose=0)
    return gan, epochs * per_epoch


def measure(gan, real, classifier, seed):
    import keras_gan_tricks as kgt

    fake = gan.generate(len(real), seed=1000 + seed)
    figures = kgt.evaluation.summary(fake, real, classifier)
    kid = kgt.evaluation.kernel_distance(
        kgt.evaluation.features(real, classifier),
        kgt.evaluation.features(fake, classifier),
        subset_size=500,
    )
    return fake, {
        "frechet_distance": figures["frechet_distance"],
        "frechet_distance_matched": figures["frechet_distance_matched"],
        "frechet_distance_real_vs_real": figures["frechet_distance_real_vs_real"],
        "kernel_distance": kid["mean"],
        "classes_covered": figures["classes_covered"],
    }


def run_folder(name, root, args, steps):
    import keras_gan_tricks as kgt

    size, colour, _ = FOLDERS[name]
    folder = write_folder(os.path.join(root, name), size, colour, args.images)
    real, labels = kgt.datasets.image_folder(folder, labels="inferred", as_arrays=True)
    classifier = kgt.evaluation.image_classifier(real, labels)
    result = {
        "image_shape": list(real.shape[1:]),
        "images": int(len(real)),
        "classifier_accuracy": classifier.accuracy,
        "classifier_chance": classifier.chance,
        "settings": {},
    }
    pictures = {}
    for setting in SETTINGS:
        runs = []
        for seed in range(args.seeds):
            start = time.perf_counter()
            gan, trained = train(setting, folder, seed, steps)
            seconds = time.perf_counter() - start
            fake, figures = measure(gan, real, classifier, seed)
            runs.append({"seed": seed, "steps": trained, "seconds": seconds, **figures})
            if seed == 0:
                pictures[setting] = fake[:16]
            print(
                f"{name} {setting} seed {seed}: FD {figures['frechet_distance']:.1f} "
                f"({trained} steps, {seconds:.0f} s)",
                flush=True,
            )
        fd = [r["frechet_distance"] for r in runs]
        kid = [r["kernel_distance"] for r in runs]
        result["settings"][setting] = {
            "frechet_distance": mean_se(fd),
            "kernel_distance": mean_se(kid),
            "runs": runs,
        }
    vanilla = result["settings"]["vanilla"]["frechet_distance"][0]
    recipe = result["settings"]["small_images"]["frechet_distance"][0]
    result["small_images_over_vanilla_fd"] = recipe / vanilla
    return result, pictures


def page(results):
    """The results page: a summary table, then each run."""
    summary = [
        [
            name,
            " x ".join(map(str, r["image_shape"])),
            f"{r['classifier_accuracy']:.3f}",
            *(
                "{:.1f} ± {:.1f}".format(*r["settings"][s]["frechet_distance"])
                for s in SETTINGS
            ),
            f"{r['small_images_over_vanilla_fd']:.2f}",
        ]
        for name, r in results["folders"].items()
    ]
    lines = [
        "# Image folders: vanilla against small_images beyond 8x8",
        "",
        "Fréchet distance (lower is better) in the features of a classifier",
        "trained on each folder's labels; mean ± standard error over "
        f"{results['seeds']} seeds, the same steps per run.",
        "",
        *markdown_table(
            [
                "folder",
                "shape",
                "classifier accuracy",
                "vanilla FD",
                "small_images FD",
                "ratio",
            ],
            summary,
        ),
        "",
        "Command: `" + results["command"] + "`.",
        "",
        "## Runs",
        "",
    ]
    rows = [
        [
            name,
            setting,
            str(run["seed"]),
            str(run["steps"]),
            f"{run['frechet_distance']:.1f}",
            f"{run['frechet_distance_matched']:.1f}",
            f"{run['frechet_distance_real_vs_real']:.1f}",
            f"{run['kernel_distance']:.3g}",
            str(run["classes_covered"]),
            f"{run['seconds']:.0f}",
        ]
        for name, r in results["folders"].items()
        for setting in SETTINGS
        for run in r["settings"][setting]["runs"]
    ]
    header = [
        "folder",
        "setting",
        "seed",
        "steps",
        "FD",
        "FD matched",
        "real vs real",
        "KID",
        "classes",
        "seconds",
    ]
    return "\n".join([*lines, *markdown_table(header, rows), ""])


def main(argv=None):
    args = _parse(argv)  # sets the backend: Keras is imported after
    import sys

    import keras_gan_tricks as kgt

    if args.quick:
        args.seeds = 1
    results = {
        "seeds": args.seeds,
        "command": "python benchmarks/folders.py " + " ".join(sys.argv[1:]),
        "folders": {},
    }
    plot = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or tmp
        for name in args.folders:
            steps = args.steps or (30 if args.quick else FOLDERS[name][2])
            result, pictures = run_folder(name, root, args, steps)
            results["folders"][name] = result
            for setting in SETTINGS:
                shown = pictures[setting]
                if shown.shape[-1] == 1:
                    shown = np.repeat(shown, 3, axis=-1)
                size = FOLDERS["64-grey"][0]
                if shown.shape[1] != size:  # one picture: every row 64 px
                    factor = size // shown.shape[1]
                    shown = shown.repeat(factor, axis=1).repeat(factor, axis=2)
                plot.append(shown)
    for name, result in results["folders"].items():
        print(
            f"{name}: small_images/vanilla FD {result['small_images_over_vanilla_fd']:.2f}"
        )
    if args.json:
        write_json(args.json, results)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(page(results))
    if args.plot:
        kgt.images.save_image_grid(np.concatenate(plot), args.plot, columns=16)
    return results


if __name__ == "__main__":
    main()
