"""Differentiable augmentation of everything the discriminator sees.

On small datasets the discriminator memorises the real images and its
feedback to the generator degrades. Augmenting every batch D sees, real and
fake, in the D and the G update, with transforms that are differentiable
(so G's gradient flows through them), lets D see more varied data without
the augmentations leaking into G's samples (Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training"; Karras et al. 2020, "Training
Generative Adversarial Networks with Limited Data").

| name | does |
|---|---|
| `color(x, seed)` | brightness, saturation and contrast jitter, per sample |
| `translation(x, seed, ratio)` | shift by up to `ratio` of the size, zero fill, per sample |
| `cutout(x, seed, ratio)` | zero a square of `ratio` of the size at a random place, per sample |
| `DiffAugment(policy, ...)` | a `kgt.tricks.Trick` (and a layer) applying them, each with probability `probability` |
| `AdaptiveAugment(...)` | DiffAugment whose probability follows ADA's rule |
| `ConsistencyRegularization(...)` | bCR: D's outputs on augmented samples held to its outputs on the originals |

The functions work on images `(batch, height, width, channels)` in any
range (DiffAugment's constants assume [-1, 1]) and are written in
`keras.ops`, so they run inside any backend's step, `kgt.GAN`'s or yours.
"""

import keras
from keras import ops

from keras_gan_tricks._utils import as_seed_generator, check_int, check_number, register
from keras_gan_tricks.losses import per_sample
from keras_gan_tricks.tricks import Trick, adapt_knob, check_signal
from keras_gan_tricks.tricks.alarms import Alarm, ahead

POLICIES = ("color", "translation", "cutout")


def _check_images(x, name="x"):
    if len(x.shape) != 4:
        raise ValueError(
            f"`{name}` must be images of shape (batch, height, width, channels). "
            f"Received: {name} of shape {tuple(x.shape)}"
        )


def _prepare(x, seed):
    """`x` as a tensor of images, the seed generator, the batch size."""
    x = ops.convert_to_tensor(x)
    _check_images(x)
    return x, as_seed_generator(seed), ops.shape(x)[0]


def _uniform(shape, seed, dtype="float32"):
    return keras.random.uniform(shape, dtype=dtype, seed=seed)


def color(x, seed=None):
    """DiffAugment's color: per sample, brightness `+ U(-0.5, 0.5)`, then
    saturation (the deviation from the channels' mean times `U(0, 2)`),
    then contrast (the deviation from the image's mean times `U(0.5, 1.5)`).

    Args:
        x: images `(batch, height, width, channels)`.
        seed: `keras.random.SeedGenerator`, int or None.
    """
    x, seed, batch = _prepare(x, seed)
    shape = (batch, 1, 1, 1)
    x = x + (_uniform(shape, seed, x.dtype) - 0.5)
    mean = ops.mean(x, axis=-1, keepdims=True)
    x = (x - mean) * (_uniform(shape, seed, x.dtype) * 2.0) + mean
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (_uniform(shape, seed, x.dtype) + 0.5) + mean


def _shift_matrices(shifts, size, dtype):
    """`(batch, size, size)` matrices `M` with `M[b, i, j] = 1` where
    `j = i - shifts[b]`: `M @ v` moves `v` by `shifts[b]`, filling zeros."""
    index = ops.arange(size)
    source = index[None, :, None] - ops.cast(shifts, "int32")[:, None, None]
    return ops.cast(ops.equal(source, index[None, None, :]), dtype)


def shift(x, dy, dx):
    """Moves each image `x[b]` by `(dy[b], dx[b])` pixels (ints), filling
    with zeros; differentiable in `x`."""
    x = ops.convert_to_tensor(x)
    _check_images(x)
    height, width = x.shape[1], x.shape[2]
    rows = _shift_matrices(dy, height, x.dtype)
    cols = _shift_matrices(dx, width, x.dtype)
    x = ops.einsum("bij,bjwc->biwc", rows, x)
    return ops.einsum("bkl,bhlc->bhkc", cols, x)


def _pixels(size, ratio):
    """DiffAugment's `int(size * ratio + 0.5)`, at least 1 pixel."""
    return max(1, int(size * ratio + 0.5))


def translation(x, seed=None, ratio=0.125):
    """DiffAugment's translation: each image moves by a whole number of
    pixels drawn uniformly in `[-s, s]` on each axis, `s = ratio * size`
    rounded (at least 1: one pixel on 8x8 images at the default), with
    zeros shifted in.

    Args:
        x: images `(batch, height, width, channels)`.
        seed: `keras.random.SeedGenerator`, int or None.
        ratio: float in (0, 1).
    """
    ratio = check_number(
        "ratio", ratio, low=0.0, high=1.0, low_open=True, high_open=True
    )
    x, seed, batch = _prepare(x, seed)
    offsets = []
    for size in (x.shape[1], x.shape[2]):
        s = _pixels(size, ratio)
        draw = _uniform((batch,), seed) * (2 * s + 1)
        offsets.append(ops.minimum(ops.floor(draw), 2 * s) - s)
    return shift(x, offsets[0], offsets[1])


def cutout(x, seed=None, ratio=0.5):
    """DiffAugment's cutout: in each image a square of `ratio` of the size
    (rounded, at least 1 pixel: 4x4 on 8x8 images at the default), centred
    at a uniformly drawn pixel and clipped at the border, is set to zero.

    Args:
        x: images `(batch, height, width, channels)`.
        seed: `keras.random.SeedGenerator`, int or None.
        ratio: float in (0, 1].
    """
    ratio = check_number("ratio", ratio, low=0.0, high=1.0, low_open=True)
    x, seed, batch = _prepare(x, seed)
    inside = []
    for size in (x.shape[1], x.shape[2]):
        side = _pixels(size, ratio)
        # Centres in [0, size + (1 - side % 2)), as DiffAugment draws them.
        span = size + (1 - side % 2)
        centre = ops.floor(_uniform((batch,), seed) * span)
        start = centre - side // 2
        index = ops.cast(ops.arange(size), "float32")[None, :]
        inside.append(
            ops.logical_and(index >= start[:, None], index < (start + side)[:, None])
        )
    hole = ops.logical_and(inside[0][:, :, None], inside[1][:, None, :])
    return x * ops.cast(ops.logical_not(hole), x.dtype)[..., None]


_FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


@register
class DiffAugment(Trick):
    """DiffAugment (Zhao et al. 2020) on every discriminator input.

    As a `kgt.tricks.Trick` (`gan.compile(tricks=[kgt.augment.DiffAugment()])`)
    it augments every batch D sees in training, real and fake, in the D and
    the G update; gradients flow through it to G. As a layer (in your own
    `train_step`: `x = augment(x, training=True)`) it does the same for you.
    Each transform of `policy` is applied to a sample with probability
    `probability` (1: always, as in DiffAugment; ADA draws per sample, so
    `AdaptiveAugment` adapts it), in the order given. At inference
    (`training=False`) it is the identity.

    Args:
        policy: tuple of `"color"`, `"translation"`, `"cutout"`.
        translation_ratio: float in (0, 1). See `translation`.
        cutout_ratio: float in (0, 1]. See `cutout`.
        probability: float in [0, 1]. Per sample and transform.
        seed: int or None. Seeds the layer's own random stream.
    """

    def __init__(
        self,
        policy=POLICIES,
        translation_ratio=0.125,
        cutout_ratio=0.5,
        probability=1.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(policy, str):
            policy = tuple(p.strip() for p in policy.split(",") if p.strip())
        if not isinstance(policy, (tuple, list)) or not all(
            p in POLICIES for p in policy
        ):
            raise ValueError(
                f"`policy` must be a tuple of {POLICIES}. Received: policy={policy!r}"
            )
        self.policy = tuple(policy)
        self.translation_ratio = check_number(
            "translation_ratio",
            translation_ratio,
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        )
        self.cutout_ratio = check_number(
            "cutout_ratio", cutout_ratio, low=0.0, high=1.0, low_open=True
        )
        probability = check_number("probability", probability, low=0.0, high=1.0)
        self.seed = None if seed is None else check_int("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.probability = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(probability),
            trainable=False,
            name="probability",
        )

    def setup(self, gan):
        if len(gan.sample_shape) != 3:
            raise ValueError(
                "DiffAugment augments images of shape (height, width, channels); "
                f"this GAN's samples have shape {gan.sample_shape}."
            )

    def augment(self, x):
        """`x` augmented (as in training), each transform with probability
        `probability` per sample."""
        x = ops.convert_to_tensor(x)
        _check_images(x)
        p = ops.cast(self.probability, "float32")
        batch = ops.shape(x)[0]
        for name in self.policy:
            ratio = {"translation": self.translation_ratio, "cutout": self.cutout_ratio}
            kwargs = {"ratio": ratio[name]} if name in ratio else {}
            changed = _FUNCTIONS[name](x, seed=self.seed_generator, **kwargs)
            chosen = _uniform((batch, 1, 1, 1), self.seed_generator) < p
            x = ops.where(chosen, changed, x)
        return x

    def call(self, inputs, training=False):
        return self.augment(inputs) if training else inputs

    def discriminator_input(self, samples, training):
        return self(samples, training=training)

    def logs(self):
        return {"augment_p": self.probability.value}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "policy": list(self.policy),
            "translation_ratio": self.translation_ratio,
            "cutout_ratio": self.cutout_ratio,
            "probability": float(ops.convert_to_numpy(self.probability)),
            "seed": self.seed,
        }


@register
class AdaptiveAugment(DiffAugment):
    """DiffAugment whose probability follows ADA's feedback rule.

    Karras et al. 2020 ("Training Generative Adversarial Networks with
    Limited Data", sec. 3): D's overfitting shows in
    `r_t = E[sign(D(x_real))]`, 0 for a D that cannot tell, 1 for one that
    is sure of every real image. Every `interval` steps, with `r_t` averaged
    over them, `p` moves by `sign(r_t - target) * (batch * interval) /
    speed`, clipped to [0, 1]: up while D is too sure of the real images,
    down otherwise, by at most 1 over `speed` images.

    `r_t` assumes a logit of 0 is D's boundary (the non-saturating and
    hinge losses with hard labels). Under least-squares targets, smoothed or
    noisy labels, or the Wasserstein loss, use `signal="ranking"`: D's
    ranking accuracy (`kgt.tricks.ranking_accuracy`, the same under every
    loss and label policy), with a target such as 0.85.

    `p` is a variable of the trick: saved, restored by `BackupAndRestore`,
    and logged as `augment_p`, with the signal as `ada_rt`.

    Args:
        target: float in (0, 1). The signal aimed at (0.6 in ADA).
        interval: int >= 1. Steps between adjustments (4 in ADA).
        speed: int >= 1. Images over which `p` can go from 0 to 1 (500,000
            in ADA, whose datasets are far larger; the digits' 1,797 images
            at batch 64 make 28 steps an epoch).
        initial: float in [0, 1]. `p` at the start.
        signal: `"sign"` (ADA's `r_t`) or `"ranking"`.
        **kwargs: `DiffAugment`'s arguments (`policy`, ratios, `seed`).
    """

    def __init__(
        self,
        target=0.6,
        interval=4,
        speed=500_000,
        initial=0.0,
        signal="sign",
        **kwargs,
    ):
        kwargs.pop("probability", None)
        super().__init__(probability=initial, **kwargs)
        self.target = check_number(
            "target", target, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.interval = check_int("interval", interval, low=1)
        self.speed = check_int("speed", speed, low=1)
        self.initial = check_number("initial", initial, low=0.0, high=1.0)
        self.signal = check_signal(signal)
        # The feedback window: [weighted sum of the signal, samples, last mean]
        self.signs = self.add_weight(
            shape=(3,), initializer="zeros", trainable=False, name="signs"
        )

    def end_step(self, outcome):
        adapt_knob(
            self.probability,
            self.signs,
            outcome,
            self.signal,
            self.target,
            self.interval,
            self.speed,
            1.0,
        )

    def logs(self):
        return {"augment_p": self.probability.value, "ada_rt": self.signs.value[2]}

    def alarm(self, step, logs):
        """`p` at 1 while D's signal stays above target."""
        p, signal = logs.get("augment_p"), logs.get("ada_rt")
        if p is None or p < 0.999 or not ahead(signal, self.target):
            return None
        return Alarm(
            "augment_at_maximum",
            f"D's {self.signal} signal (r_t) is {signal:.3f} (target "
            f"{self.target}) with the augmentation probability p at 1: every "
            "image D sees is augmented",
            "AdaptiveAugment raised p as far as it goes, and D still "
            "memorises the training images",
            "more images, or the consistency term with the average (the "
            "`limited_data` recipe: FD 52% below vanilla's on 10% of the "
            "digits at 3,480 steps, where ADA gave 26%), a smaller D, or "
            "fewer steps",
        )

    def get_config(self):
        config = super().get_config()
        config.pop("probability")
        return {
            **config,
            "target": self.target,
            "interval": self.interval,
            "speed": self.speed,
            "initial": self.initial,
            "signal": self.signal,
        }


@register
class ConsistencyRegularization(Trick):
    """Balanced consistency regularisation (bCR) on `kgt.augment`'s
    augmentations.

    Zhao et al. 2021, "Improved Consistency Regularization for GANs"
    (AAAI), eq. 3 (balanced CR, after Zhang et al. 2020's CR-GAN):

        real_weight * mean((D(x_real) - D(T(x_real)))²)
            + fake_weight * mean((D(x_fake) - D(T(x_fake)))²)

    a term of D's loss, logged as `consistency`: D must give an image and
    its augmented copy `T(x)` the same logit, so it learns what the
    augmentation leaves unchanged instead of memorising (unlike DiffAugment,
    G never sees the augmented samples). `T` applies each transform of
    `policy` (`translation` by default; the paper flips and translates)
    to every sample; a map of logits counts by its mean per sample. For
    images `(height, width, channels)`.

    Args:
        real_weight: float >= 0. λ_real (10 in the paper).
        fake_weight: float >= 0. λ_fake (10 in the paper).
        policy: tuple of `"color"`, `"translation"`, `"cutout"`.
        translation_ratio: float in (0, 1). See `translation`.
        cutout_ratio: float in (0, 1]. See `cutout`.
        seed: int or None.
    """

    loss_names = ("consistency",)

    def __init__(
        self,
        real_weight=10.0,
        fake_weight=10.0,
        policy=("translation",),
        translation_ratio=0.125,
        cutout_ratio=0.5,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.real_weight = check_number("real_weight", real_weight, low=0.0)
        self.fake_weight = check_number("fake_weight", fake_weight, low=0.0)
        self.transform = DiffAugment(
            policy,
            translation_ratio=translation_ratio,
            cutout_ratio=cutout_ratio,
            seed=seed,
            name="consistency_transform",
        )
        self.seed = self.transform.seed

    def setup(self, gan):
        self.transform.setup(gan)

    def discriminator_loss(self, context):
        def gap(samples, logits):
            moved = context.discriminate(self.transform.augment(samples))
            return ops.mean(ops.square(per_sample(moved) - per_sample(logits)))

        term = self.real_weight * gap(context.real, context.real_logits)
        if self.fake_weight:
            term = term + self.fake_weight * gap(context.fake, context.fake_logits)
        return {"consistency": term}

    def get_config(self):
        return {
            **super().get_config(),
            "real_weight": self.real_weight,
            "fake_weight": self.fake_weight,
            "policy": list(self.transform.policy),
            "translation_ratio": self.transform.translation_ratio,
            "cutout_ratio": self.transform.cutout_ratio,
            "seed": self.seed,
        }
