import numpy as np
import pytest

from keras_gan_tricks import datasets


def test_digits_are_real_and_scaled():
    images, labels = datasets.digits()
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))


def test_gaussian_ring_and_grid_follow_pacgan():
    samples, centers = datasets.gaussian_ring(n=4000, seed=1)
    assert samples.shape == (4000, 2) and centers.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(centers[2], [0.0, 1.0], atol=1e-6)
    nearest = np.linalg.norm(samples[:, None] - centers[None], axis=-1).min(1)
    assert nearest.mean() == pytest.approx(
        0.01 * np.sqrt(np.pi / 2), rel=0.05
    )  # Rayleigh mean
    samples, centers = datasets.gaussian_grid(n=4000)
    assert centers.shape == (25, 2) and set(np.unique(centers).tolist()) == {
        -4.0,
        -2.0,
        0.0,
        2.0,
        4.0,
    }
    assert (
        np.linalg.norm(samples[:, None] - centers[None], axis=-1).min(1).max()
        < 0.05 * 6
    )
    a, _ = datasets.gaussian_grid(n=10, seed=3)
    b, _ = datasets.gaussian_grid(n=10, seed=3)
    np.testing.assert_array_equal(a, b)


def test_stacked_digits_have_three_channels_and_mode_ids():
    images, modes = datasets.stacked_digits(n=500, seed=0)
    digits, labels = datasets.digits()
    assert images.shape == (500, 8, 8, 3) and modes.shape == (500,)
    assert modes.min() >= 0 and modes.max() < 1000
    # Each channel is a real digit whose class is the matching decimal digit of the mode.
    for c, place in enumerate((100, 10, 1)):
        channel = images[0, ..., c]
        match = np.flatnonzero((digits[..., 0] == channel).all(axis=(1, 2)))
        assert (modes[0] // place) % 10 in labels[match]


def test_missing_download_is_a_clear_error(monkeypatch):
    import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(
        datasets.DownloadError, match="keras.datasets.mnist.*network.*path=.*digits"
    ):
        datasets.mnist()


def test_loaders_read_a_local_npz_instead_of_downloading(tmp_path, monkeypatch):
    import keras

    def offline():
        raise AssertionError("no download when path= is given")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    digits28 = np.stack([np.zeros((28, 28)), np.full((28, 28), 255)]).astype("uint8")
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=digits28, y_train=np.array([7, 1]))
    images, labels = datasets.mnist(path=path)
    assert images.shape == (2, 28, 28, 1) and labels.tolist() == [7, 1]
    assert images.min() == -1.0 and images.max() == 1.0
    colour = np.zeros((3, 32, 32, 3), "uint8")
    cifar = tmp_path / "cifar.npz"
    np.savez(cifar, x_train=colour, y_train=np.array([[6], [3], [6]]))
    frogs, labels = datasets.cifar10("frog", path=str(cifar))
    assert frogs.shape == (2, 32, 32, 3) and labels.tolist() == [6, 6]
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, images=digits28)
    with pytest.raises(ValueError, match=r"x_train and y_train.*\['images'\]"):
        datasets.mnist(path=wrong)
    with pytest.raises(ValueError, match=r"x_train must be \(n, 32, 32, 3\)"):
        datasets.cifar10(path=path)
    with pytest.raises(ValueError, match="existing .npz file.*missing.npz"):
        datasets.fashion_mnist(path=tmp_path / "missing.npz")


def test_keras_loaders_rescale_and_filter(monkeypatch):
    import keras

    x = np.array([np.zeros((32, 32, 3)), np.full((32, 32, 3), 255)], "uint8")
    y = np.array([[6], [3]])
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: ((x, y), (x, y)))
    frogs, labels = datasets.cifar10("frog")
    assert (
        frogs.shape == (1, 32, 32, 3) and frogs.max() == -1.0 and labels.tolist() == [6]
    )
    everything, _ = datasets.cifar10()
    assert everything.max() == 1.0
    monkeypatch.setattr(
        keras.datasets.fashion_mnist,
        "load_data",
        lambda: ((x[:, :28, :28, 0], y), (x, y)),
    )
    images, _ = datasets.fashion_mnist()
    assert images.shape == (2, 28, 28, 1)


@pytest.mark.parametrize(
    "call,error,text",
    [
        (lambda: datasets.cifar10("frogs"), ValueError, "class_name='frogs'"),
        (lambda: datasets.cifar10(12), ValueError, "class_name=12"),
        (lambda: datasets.gaussian_ring(n=0), ValueError, "n=0"),
        (lambda: datasets.gaussian_grid(std=0.0), ValueError, "std=0.0"),
        (lambda: datasets.stacked_digits(n=-1), ValueError, "n=-1"),
    ],
)
def test_bad_arguments(call, error, text):
    with pytest.raises(error, match=text):
        call()
