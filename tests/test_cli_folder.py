"""`keras-gan-tricks train --data FOLDER`: a folder of the user's images in,
the GAN, the generator alone, pictures, a training plot and figures out;
`generate` samples what it saved. On every backend."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

import keras_gan_tricks as kgt
from keras_gan_tricks import __version__, cli
from keras_gan_tricks.cli import output, train
from tests.folders import digits_folder, write_folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run on 300 digits as 16x16 PNGs in class subfolders."""
    root = tmp_path_factory.mktemp("cli-folder")
    folder, out = root / "digits", root / "out"
    digits_folder(str(folder), n=300, size=16)
    argv = ["train", "--data", str(folder), "--image-size", "16", "--epochs", "1"]
    assert cli.main([*argv, "--batch-size", "32", "--out", str(out)]) == 0
    return folder, out


def test_a_folder_trains_and_leaves_every_file(run, capsys):
    _, out = run
    for name in (
        "gan.keras",
        "generator.keras",
        "samples.png",
        "training.png",
        "metrics.json",
    ):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "grids").iterdir()) == ["epoch_0001.png"]
    assert Image.open(out / "training.png").size[0] > 100


def test_the_default_recipe_is_auto_for_the_folders_size_and_plan(run):
    """300 images for 10 steps: `kgt.recipes.auto`'s images row (bCR joins
    few images only for plans of 2,000 steps or more)."""
    _, out = run
    gan = keras.saving.load_model(out / "gan.keras")
    kinds = [type(t).__name__ for t in gan.tricks]
    assert kinds == ["DiscriminatorLRBalancer", "GeneratorEMA"]
    assert gan.label_policy == kgt.labels.OneSidedSmoothing(0.1)
    assert (gan.tricks[0].warmup, gan.tricks[0].patience) == (30, 20)


def test_the_figures_come_from_a_classifier_of_the_folders_labels(run):
    _, out = run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["frechet_distance"] > 0 and np.isfinite(metrics["kernel_distance"])
    assert metrics["classifier_accuracy"] > 0.55  # trusted, or it would say why
    assert 1 <= metrics["classes_covered"] <= 10
    assert "classifier trained on 300" in metrics["extractor"]
    assert metrics["generated_samples"] == 300


def test_generate_samples_the_saved_generator_as_the_gan(run, tmp_path, capsys):
    _, out = run
    pictures = []
    for model in ("generator.keras", "gan.keras"):
        path = tmp_path / f"{model}.png"
        argv = ["generate", str(out / model), "--n", "16", "--seed", "3"]
        assert cli.main([*argv, "--out", str(path)]) == 0
        pictures.append(np.asarray(Image.open(path), "int32"))
    assert "wrote 16 samples" in capsys.readouterr().out
    # 4 x 4 images of 16 pixels, scaled 4x, 1-pixel padding: the same picture.
    assert pictures[0].shape[:2] == (4 * 16 * 4 + 5 * 4, 4 * 16 * 4 + 5 * 4)
    assert np.abs(pictures[0] - pictures[1]).max() <= 1


def test_a_folder_without_classes_says_why_there_are_no_figures(
    tmp_path, capsys, monkeypatch
):
    """No class subfolders and no InceptionV3 weights (offline, nothing in
    Keras's cache): no figures, and both reasons."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr(train, "CACHE_BYTES", 0)  # read from disk every epoch
    folder, out = tmp_path / "flat", tmp_path / "out"
    digits_folder(str(folder), n=40, size=8, classes=False)
    argv = ["train", "--data", str(folder), "--epochs", "2", "--recipe", "none"]
    assert cli.main([*argv, "--arch", "resnet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["figures"] is None
    assert "no class subfolders" in metrics["reason"]
    assert (
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in metrics["reason"]
    )
    generator = keras.saving.load_model(out / "generator.keras")
    assert generator.name == "resnet_generator"
    # Not a terminal: one line per epoch, with the losses and the time left.
    printed = capsys.readouterr().out
    assert "data: 40 images of 8x8x1 under" in printed
    assert "no class subfolders; read from disk each epoch" in printed
    lines = [line for line in printed.splitlines() if line.startswith("epoch ")]
    assert [line.split(" · ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "d_loss" in lines[0] and "left" in lines[0] and lines[1].endswith("done")


def test_version_and_a_bare_command(capsys):
    assert cli.main([]) == 0
    assert "usage: keras-gan-tricks" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"keras-gan-tricks {__version__}"


def test_folder_flags_that_do_not_apply(tmp_path, capsys):
    argv = ["train", "--data", "ring", "--arch", "resnet", "--limit", "64"]
    assert cli.main([*argv, "--out", str(tmp_path / "ring")]) == 2
    assert "--arch resnet is for images; --data ring" in capsys.readouterr().err
    digits_folder(str(tmp_path), n=20, size=8, classes=False)
    assert cli.main(["train", "--data", str(tmp_path), "--limit", "5"]) == 2
    assert "--limit applies to the built-in data sets" in capsys.readouterr().err
    assert cli.main(["train", "--data", "digits", "--channels", "1"]) == 2
    assert "--channels applies to a folder" in capsys.readouterr().err


def test_a_folder_mixing_grey_and_colour_photos_takes_channels(tmp_path, capsys):
    """Photos as a phone leaves them: JPEGs of two sizes, some grey, one on
    its side with an EXIF orientation. Without --channels the command says
    which flag to pass; with it, it trains."""
    rng = np.random.default_rng(0)
    files = {}
    for i in range(24):
        shape = (20, 14, 3) if i % 2 else (14, 20, 3)
        pixels = rng.integers(0, 255, shape, "uint8")
        files[f"{i:02d}.jpg"] = pixels[..., 0] if i % 3 == 0 else pixels
    files["broken.jpg"] = b"not a JPEG"  # skipped, and said
    write_folder(str(tmp_path / "photos"), files)
    sideways = Image.open(tmp_path / "photos" / "01.jpg")
    exif = sideways.getexif()
    exif[0x0112] = 6
    sideways.save(tmp_path / "photos" / "01.jpg", exif=exif)
    argv = ["train", "--data", str(tmp_path / "photos"), "--image-size", "8"]
    argv += ["--epochs", "1", "--recipe", "none", "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert "mixes grey and colour images (8 grey" in error
    assert "keras-gan-tricks train: --channels 1 or 3" in error
    # The library's warnings get through (the command hushes the backends').
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable .* of 25"):
        assert cli.main([*argv, "--channels", "3"]) == 0
    printed = capsys.readouterr().out
    assert "data: 24 images of 8x8x3" in printed and "kept in memory" in printed
    generator = keras.saving.load_model(tmp_path / "out" / "generator.keras")
    assert generator.output.shape[1:] == (8, 8, 3)


def test_figures_read_a_random_part_of_a_large_folder(tmp_path, monkeypatch):
    """The figures' images are streamed and capped (a folder larger than
    memory is never read whole): the images, in file order, that arrays of
    the whole folder sampled with seed 0 would give (so a classifier cached
    for them is found again), across the classes."""
    folder = str(tmp_path / "digits")
    digits_folder(folder, n=90, size=8)
    monkeypatch.setattr(output, "FIGURE_IMAGES", 40)
    options = {"image_size": None, "channels": None}
    images, got, reason, classes = train._figure_images(folder, options)
    assert images.shape == (40, 8, 8, 1) and got.shape == (40,) and reason is None
    assert classes == [str(c) for c in range(10)]
    whole, labels = kgt.datasets.image_folder(folder, labels="inferred", as_arrays=True)
    keep = np.sort(np.random.default_rng(0).choice(90, 40, replace=False))
    np.testing.assert_array_equal(images, whole[keep])
    np.testing.assert_array_equal(got, labels[keep])
    assert len(set(got.tolist())) >= 8  # not the first 40 files (classes 0-4)
    monkeypatch.setattr(output, "FIGURE_IMAGES", 100)  # all 90: the folder
    images, got, _, _ = train._figure_images(folder, options)
    np.testing.assert_array_equal(images, whole)
    np.testing.assert_array_equal(got, labels)
    digits_folder(str(tmp_path / "flat"), n=30, size=8, classes=False)
    images, got, reason, classes = train._figure_images(str(tmp_path / "flat"), options)
    assert images.shape == (30, 8, 8, 1) and got is None and classes is None
    assert "no class subfolders" in reason
