"""`QualityMonitor`: quality figures during training, with a collapse alarm."""

import keras
import numpy as np

from keras_gan_tricks._utils import check_int, check_number


class QualityMonitor(keras.callbacks.Callback):
    """Quality figures while training, with a collapse alarm.

    Every `every` epochs it generates `samples` samples from a fixed latent
    batch (`seed`: the same inputs each time), takes their features and
    those of a fixed sample of the real data (drawn once) with `extractor`,
    and adds to the epoch's logs (so to the progress bar, `History` and a
    `keras.callbacks.TensorBoard` listed after it):

    - `quality_kid`: `kgt.evaluation.kernel_distance`'s mean (lower is better);
    - `quality_precision`, `quality_recall` (`precision_recall`, k=3);
    - `quality_density`, `quality_coverage` (`density_coverage`, k=5).

    Losses do not tell a collapsing GAN from a healthy one; recall and
    coverage do: when either falls below `1 - alarm_drop` times its best
    value so far, and that best reached `alarm_floor` (an untrained
    generator's blob has a coverage near 0 that wobbles by half from one
    epoch to the next: no collapse to report), it warns (a `UserWarning`, printed with `verbose=1`),
    records the epoch in `alarms`, and with `stop_on_collapse=True` stops
    training (`model.stop_training`).

    Works with a `kgt.GAN` (via `generate`, from the EMA generator when one
    is kept) and any model with a `generate(n, seed=...)` method.

    Args:
        real: array `(n, ...)`. Real samples (a held-out set if you have one).
        extractor: what `kgt.evaluation.features` takes: None (the digits
            classifier: 8x8 digits), a Keras model, a callable samples ->
            features (for 2D points, `lambda x: x`), or an object with a
            `features` method.
        every: int >= 1. Epochs between measurements.
        samples: int >= 6. Generated and real samples compared.
        seed: int. Seeds the latent batch and the real sample.
        alarm_drop: float in (0, 1). The fall (as a share of the best value)
            that raises the alarm.
        alarm_floor: float in [0, 1). The best value a figure must have
            reached for its fall to count.
        stop_on_collapse: bool. Stop training on the alarm.
        verbose: int. 1 prints each measurement and alarm.
    """

    KEYS = ("kid", "precision", "recall", "density", "coverage")

    def __init__(
        self,
        real,
        extractor=None,
        every=1,
        samples=1000,
        seed=0,
        alarm_drop=0.5,
        stop_on_collapse=False,
        verbose=0,
        alarm_floor=0.2,
    ):
        super().__init__()
        real = np.asarray(real)
        self.samples = check_int("samples", samples, low=6)
        if real.ndim < 2 or len(real) < 6:
            raise ValueError(
                "`real` must be an array of at least 6 samples (n, ...). "
                f"Received shape {real.shape}"
            )
        self.every = check_int("every", every, low=1)
        self.seed = check_int("seed", seed)
        self.alarm_drop = check_number(
            "alarm_drop", alarm_drop, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.alarm_floor = check_number(
            "alarm_floor", alarm_floor, low=0.0, high=1.0, high_open=True
        )
        if not isinstance(stop_on_collapse, bool):
            raise TypeError(
                "`stop_on_collapse` must be a bool. "
                f"Received: stop_on_collapse={stop_on_collapse!r}"
            )
        self.stop_on_collapse = stop_on_collapse
        self.extractor = extractor
        self.verbose = verbose
        picks = np.random.default_rng(seed).permutation(len(real))[: self.samples]
        self.real = real[picks]
        self.history = []
        self.alarms = []
        self._real_features = None
        self._best = {}

    def set_model(self, model):
        super().set_model(model)
        if not callable(getattr(model, "generate", None)):
            raise TypeError(
                "`model` must have a `generate(n, seed=...)` method (a kgt.GAN) "
                f"for QualityMonitor. Received: model of type {type(model).__name__}"
            )

    def measure(self):
        """The figures now, `{key: float}` (also usable outside `fit`)."""
        from keras_gan_tricks import evaluation

        if self._real_features is None:
            self._real_features = evaluation.features(self.real, self.extractor)
        fake = self.model.generate(len(self.real), seed=self.seed)
        fake_features = evaluation.features(fake, self.extractor)
        real_features = self._real_features
        kid = evaluation.kernel_distance(
            real_features, fake_features, subsets=20, subset_size=1000, seed=self.seed
        )
        figures = {"kid": kid["mean"]}
        figures.update(evaluation.precision_recall(real_features, fake_features))
        figures.update(evaluation.density_coverage(real_features, fake_features))
        return figures

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        figures = self.measure()
        self.history.append({"epoch": epoch + 1, **figures})
        if logs is not None:
            logs.update({f"quality_{k}": v for k, v in figures.items()})
        if self.verbose:
            shown = ", ".join(f"{k} {v:.3g}" for k, v in figures.items())
            print(f"\nQualityMonitor (epoch {epoch + 1}): {shown}")
        fallen = []
        for key in ("recall", "coverage"):
            best = max(self._best.get(key, 0.0), figures[key])
            self._best[key] = best
            floor = max(self.alarm_floor, 1e-12)
            if best >= floor and figures[key] < (1 - self.alarm_drop) * best:
                fallen.append(f"{key} {figures[key]:.3g} (best {best:.3g})")
        if fallen:
            import warnings

            message = (
                f"QualityMonitor: possible mode collapse at epoch {epoch + 1}: "
                + ", ".join(fallen)
            )
            self.alarms.append({"epoch": epoch + 1, "message": message})
            warnings.warn(message, stacklevel=2)
            if self.verbose:
                print(message)
            if self.stop_on_collapse:
                self.model.stop_training = True
