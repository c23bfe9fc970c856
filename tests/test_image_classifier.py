"""`kgt.evaluation.image_classifier`: a classifier trained on the user's
labelled images gives the figures on them, is cached by the data's hash,
and is refused when its held-out accuracy cannot be trusted."""

import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks.evaluation import labelled
from tests.folders import digits_folder


@pytest.fixture(scope="module")
def folder_digits(tmp_path_factory):
    """300 digits as 16x16 PNGs in class subfolders, read back as arrays."""
    root = tmp_path_factory.mktemp("digits16")
    digits_folder(str(root), n=300, size=16)
    return kgt.datasets.image_folder(root, labels="inferred", as_arrays=True)


@pytest.fixture(scope="module")
def trained(folder_digits, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    images, labels = folder_digits
    return kgt.evaluation.image_classifier(
        images, labels, epochs=15, cache_dir=cache
    ), cache


def test_learns_the_folders_classes_and_measures_itself_on_held_out_images(
    folder_digits, trained
):
    images, labels = folder_digits
    classifier, _ = trained
    assert classifier.classes == 10 and classifier.image_shape == (16, 16, 1)
    # Digits are easy: far above chance (about a tenth) on images never seen.
    assert classifier.accuracy > 0.8 and classifier.chance < 0.2
    train, test = labelled._split(labels, 0)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == 300
    held_out = (classifier.predict(images[test]) == labels[test]).mean()
    assert held_out == pytest.approx(classifier.accuracy)
    assert classifier.features(images[:7]).shape == (7, 128)


def test_gives_every_figure_on_the_users_images(folder_digits, trained):
    images, labels = folder_digits
    classifier, _ = trained
    # The same classes in two random halves: near; one class against all: far.
    order = np.random.default_rng(0).permutation(len(images))
    a, b = images[order[:150]], images[order[150:]]
    near = kgt.evaluation.frechet_distance(a, b, classifier)
    far = kgt.evaluation.frechet_distance(images[labels == 3], b, classifier)
    assert 0 < near < far / 2
    coverage = kgt.evaluation.class_coverage(images[labels < 4], classifier)
    assert len(coverage["histogram"]) == 10  # the classifier's classes
    assert 4 <= coverage["classes"] <= 6  # the four, give or take a mistake
    kid = kgt.evaluation.kernel_distance(
        kgt.evaluation.features(a, classifier),
        kgt.evaluation.features(b, classifier),
        subset_size=100,
    )
    assert np.isfinite(kid["mean"])


def test_is_cached_by_the_datas_hash(folder_digits, trained):
    images, labels = folder_digits
    classifier, cache = trained
    again = kgt.evaluation.image_classifier(images, labels, epochs=15, cache_dir=cache)
    assert again is classifier  # in memory
    labelled._memo.clear()
    loaded = kgt.evaluation.image_classifier(images, labels, epochs=15, cache_dir=cache)
    assert loaded is not classifier and loaded.accuracy == classifier.accuracy
    np.testing.assert_allclose(
        loaded.features(images[:20]), classifier.features(images[:20]), rtol=1e-5
    )
    assert len(list(cache.glob("image_classifier_v*.keras"))) == 1
    # Other data is another classifier, not this one's figures.
    other = labels.copy()
    other[0] = labels[-1]  # one image relabelled
    assert labelled._digest(images, other, 15, 0) != labelled._digest(
        images, labels, 15, 0
    )


def test_refuses_a_classifier_no_better_than_chance(folder_digits, tmp_path):
    images, _ = folder_digits
    noise = np.random.default_rng(1).integers(0, 10, len(images)).astype("int32")
    with pytest.raises(
        kgt.evaluation.UntrustedClassifierError,
        match=r"held-out accuracy \(chance: 0\.\d+\), below the 0\.\d+ its figures",
    ):
        kgt.evaluation.image_classifier(images, noise, epochs=2, cache_dir=tmp_path)
    assert issubclass(kgt.evaluation.UntrustedClassifierError, ValueError)
    # Asked for, it is given, with its accuracy to judge it by.
    accepted = kgt.evaluation.image_classifier(
        images, noise, epochs=2, cache_dir=tmp_path, min_accuracy=0.0
    )
    assert accepted.accuracy < 0.5
