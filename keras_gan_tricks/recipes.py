"""Named settings for `kgt.GAN`, each with the measured evidence behind it.

A recipe compiles a GAN you built (any generator and discriminator) with a
set of tricks that was measured together, and returns it; train it with a
plain `gan.fit(...)` (every trick is in the GAN's step, none needs a
callback):

```python
gan = kgt.recipes.small_images(kgt.GAN(generator, discriminator, seed=0))
gan.fit(images, epochs=60)
```

| recipe | for | measured (see the linked pages) |
|---|---|---|
| `auto` | the default: picks from the GAN and the data (below) | digits FD 6.48 vs vanilla 9.78; D's rate 10x G's 11.9 vs 64.0 (seeds 3-5; `benchmarks/results/auto.md`) |
| `small_images` | image GANs, or whenever D may run ahead | digits DCGAN, FD 6.4 vs vanilla's 10.4; with D's rate 10x G's, 13.9 vs 58.6 (`benchmarks/results/failures.md`, "adaptive_recipe") |
| `limited_data` | a few hundred images, where D memorises | 10% of the digits: FD 8.99 vs vanilla's 18.6, 52% lower (`failures.md`, "Modern stabilisers") |
| `mixtures_2d` | low-dimensional data with separated modes | 20,000 steps, 10 seeds: 61.3% high-quality samples on the 25-mode grid (vanilla 40.1%), 91.1% on the ring (70.9%) (`benchmarks/results/modes.md`, "recommended (2D)") |
| `dcgan_seeds` | the seed tutorials' DCGAN tricks (the first demo's) | digits FD 5.04 vs vanilla 8.06 (`benchmarks/results/digits.md`) |
| `r3gan` | R3GAN's modern baseline: the relativistic pairing loss with R1 and R2, the average, no older trick | 40,000 steps: grid 25/25 modes, 83.3% high quality, reverse KL 0.020 (4 seeds); ring 8/8, 94.5%, KL 0.002 (4 seeds); digits FD 6.16 vs 10.4 (`modes.md`, `failures.md`, "Modern stabilisers") |

`NAMES` lists them; `get(name)` returns one by name (`keras-gan-tricks
train --recipe NAME` uses it).
"""

import dataclasses

import keras

from keras_gan_tricks import augment, labels, layers, losses, penalties, tricks
from keras_gan_tricks._utils import check_int, check_number


def _adam(lr, beta_1, beta_2=0.999):
    """`compile`'s two optimizers: the same Adam for D and G."""
    return {
        f"{net}_optimizer": keras.optimizers.Adam(lr, beta_1=beta_1, beta_2=beta_2)
        for net in ("d", "g")
    }


def _first_half_decay(noise, steps):
    """Instance noise `noise` decaying linearly to 0 over the first half of
    `steps` (as measured), or over each whole `fit` when `steps` is None."""
    noise = check_number("noise", noise, low=0.0)
    steps = None if steps is None else check_int("steps", steps, low=1)
    return tricks.InstanceNoiseDecay(
        noise, 0.0, None if steps is None else max(1, steps // 2)
    )


def small_images(gan, lr=2e-4):
    """The failure atlas's best recipe on the digits; the demo's.

    One-sided label smoothing 0.1, `kgt.layers.AdaptiveInstanceNoise`
    (instance noise that rises while D separates real from fake too well),
    the `DiscriminatorLRBalancer` (D's rate halved while D runs ahead, never
    below G's), and the generator's moving average (decay 0.99, from which
    `generate` samples). Adam(lr, beta_1=0.5) for both networks.

    Evidence (`benchmarks/results/failures.md`, 3 seeds, FD in the digits
    classifier's features): balanced game FD 6.4 against vanilla's 10.4
    (the average does most of it); D's learning rate 10x G's: 13.9 against
    58.6; 100x: no better than vanilla (out of a D-rate controller's
    reach); 10% of the data for 3,480 steps: 15.9 against vanilla's 18.6
    (DiffAugment did best there, 13.3).

    Args:
        gan: `kgt.GAN`, built, not yet trained.
        lr: float > 0. Both networks' learning rate.

    Returns:
        `gan`, compiled.
    """
    lr = check_number("lr", lr, low=0.0, low_open=True)
    gan.compile(
        **_adam(lr, 0.5),
        label_policy=labels.OneSidedSmoothing(0.1),
        tricks=[
            layers.AdaptiveInstanceNoise(seed=gan.seed),
            tricks.DiscriminatorLRBalancer(),
            tricks.GeneratorEMA(0.99),
        ],
    )
    return gan


def limited_data(gan, lr=2e-4, consistency=10.0):
    """For a few hundred images: consistency regularisation and the average.

    Balanced consistency regularisation (`kgt.augment.ConsistencyRegularization`,
    Zhao et al. 2021: D gives an image and its translated copy the same
    logit, weight `consistency` on real and fake) and the generator's
    moving average (decay 0.99, from which `generate` samples), Adam(lr,
    beta_1=0.5). Where D memorises a small training set, bCR teaches it
    what a translation leaves unchanged and the average smooths G's late
    oscillations. On plentiful data bCR slows D down for nothing: use
    `small_images` there.

    Evidence (`benchmarks/results/failures.md`, "Modern stabilisers",
    FD in the digits classifier's features): on 10% of the digits (180
    images) for 3,480 steps, where vanilla memorises (FD 18.6 ± 1.0), FD
    8.99 ± 0.26 (2 seeds; 52% lower) against bCR alone's 10.8,
    DiffAugment's 13.3 and `small_images`' 15.9.

    Args:
        gan: `kgt.GAN`, built, not yet trained. Images `(h, w, c)`.
        lr: float > 0. Both networks' learning rate.
        consistency: float >= 0. bCR's weight on real and on fake images.

    Returns:
        `gan`, compiled.
    """
    lr = check_number("lr", lr, low=0.0, low_open=True)
    consistency = check_number("consistency", consistency, low=0.0)
    gan.compile(
        **_adam(lr, 0.5),
        tricks=[
            augment.ConsistencyRegularization(consistency, consistency, seed=gan.seed),
            tricks.GeneratorEMA(0.99),
        ],
    )
    return gan


def mixtures_2d(gan, noise=0.1, steps=None):
    """The mode benchmark's recommended settings for 2D mixtures.

    The tricks that helped alone on PacGAN's ring and grid: label noise
    (real targets U(0.7, 1.2), fake U(0, 0.3)), instance noise `noise`
    decaying linearly to 0 over the first half of training, and the
    generator's moving average (decay 0.999, its batch-norm statistics
    recomputed after `fit`). Adam(1e-4, beta_1=0.8), PacGAN's.

    Evidence (`benchmarks/results/modes.md`, 20,000 steps of batch 100, 10
    seeds): grid 61.3% high-quality samples, 24.7 modes (vanilla 40.1%);
    ring 91.1% (vanilla 70.9%). Measured with `noise` 0.2 on the grid, 0.1
    on the ring (a tenth of the spacing scale), decaying over half the run.
    At 40,000 steps (2 seeds) the grid reaches 76.5%, reverse KL 0.358,
    where `r3gan` reaches 83.3% and 0.020: `keras-gan-tricks train` uses
    `r3gan` on the mixtures.

    Args:
        gan: `kgt.GAN`, built, not yet trained.
        noise: float >= 0. The initial instance-noise stddev.
        steps: int >= 1, or None. The planned training steps: the noise
            decays over the first half, as measured. None: over the whole
            of each `fit` (not measured).

    Returns:
        `gan`, compiled.
    """
    decay = _first_half_decay(noise, steps)
    gan.compile(
        **_adam(1e-4, 0.8),
        label_policy=labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3)),
        tricks=[decay, tricks.GeneratorEMA(0.999)],
    )
    return gan


def dcgan_seeds(gan, noise=0.2, steps=None):
    """The seed tutorials' DCGAN tricks, as the first demo combined them.

    One-sided label smoothing 0.1, instance noise `noise` decaying to 0
    over the first half of training, the `DiscriminatorLRBalancer`, the
    generator's moving average (0.99). Adam(2e-4, beta_1=0.5).

    Evidence (`benchmarks/results/digits.md`, 3 seeds): digits FD 5.04 ±
    0.16 against vanilla's 8.06. `small_images` replaces the decay by
    adaptive noise (no schedule to size) and ties with it there.

    Args:
        gan: `kgt.GAN`, built, not yet trained.
        noise: float >= 0. The initial instance-noise stddev.
        steps: int >= 1, or None. The planned training steps (the noise
            decays over the first half, as measured); None: over each whole
            `fit`.

    Returns:
        `gan`, compiled.
    """
    decay = _first_half_decay(noise, steps)
    gan.compile(
        **_adam(2e-4, 0.5),
        label_policy=labels.OneSidedSmoothing(0.1),
        tricks=[
            decay,
            tricks.DiscriminatorLRBalancer(),
            tricks.GeneratorEMA(0.99),
        ],
    )
    return gan


def r3gan(gan, gamma=0.1, steps=None, lr=2e-4, ema=0.999):
    """R3GAN's regularised relativistic objective (Huang et al. 2024).

    The relativistic pairing loss with R1 and R2 of weight `gamma`, which
    (with `steps`) decays by cosine to a tenth over training as R3GAN's
    schedule does, Adam(lr, beta_1=0, beta_2=0.99), the generator's moving
    average (R3GAN, like StyleGAN, samples from one), and none of the older
    tricks (no label policy, no noise). The paper pairs it with its own
    modernised architecture, which this recipe does not build. Each step
    costs more than a plain one (R1 and R2 take input gradients: 5x on the
    digits' DCGAN here).

    Evidence (2 to 4 seeds, not the protocol's 10;
    `benchmarks/results/modes.md`, "Modern stabilisers"): on the
    25-mode grid at 40,000 steps all 25 modes in every seed, 83.3%
    high-quality samples, reverse KL 0.020 (PacGAN4 at 400,000 steps:
    93.6%, 0.04); at 20,000 steps 60.4% and KL 0.082 (vanilla 40.1%, 0.377;
    `mixtures_2d` 61.3%, 0.276). On the ring at 40,000 steps all 8 modes,
    94.5%, KL 0.002. On the digits (`benchmarks/results/failures.md`) FD
    6.16 ± 0.13 against vanilla's 10.4 (with the average at 0.99; 6.9
    without it).

    Args:
        gan: `kgt.GAN`, built, not yet trained.
        gamma: float >= 0. R1's and R2's weight (the paper tunes it per
            dataset; 0.1 suits the 2D mixtures' scale).
        steps: int >= 1, or None. Training steps for the cosine decay;
            None keeps `gamma` fixed.
        lr: float > 0. Both networks' learning rate.
        ema: float in [0, 1), or None. The average's decay (warmed up, see
            `kgt.tricks.GeneratorEMA`); None: sample from the generator
            itself.

    Returns:
        `gan`, compiled.
    """
    gamma = check_number("gamma", gamma, low=0.0)
    steps = None if steps is None else check_int("steps", steps, low=1)
    lr = check_number("lr", lr, low=0.0, low_open=True)
    if ema is not None:
        ema = check_number("ema", ema, low=0.0, high=1.0, high_open=True)
    gan.compile(**_adam(lr, 0.0, 0.99), **_r3gan_training(gamma, steps, ema))
    return gan


def _r3gan_training(gamma, steps, ema):
    """`compile`'s arguments for R3GAN's objective, besides the optimizers."""
    weight = gamma
    if steps is not None:
        weight = keras.optimizers.schedules.CosineDecay(gamma, steps, alpha=0.1)
    return {
        "loss": losses.RelativisticPairing(),
        "penalty": [penalties.R1(weight), penalties.R2(weight)],
        "tricks": None if ema is None else [tricks.GeneratorEMA(ema)],
    }


NAMES = ("auto", "small_images", "limited_data", "mixtures_2d", "dcgan_seeds", "r3gan")


# Fewer training images than FEW_IMAGES, for LONG_RUN steps or more: `auto`
# adds consistency regularisation (on 180 digits it lost to the images row
# at 1,160 steps and to vanilla at 1,450, and won at 3,480).
FEW_IMAGES = 1000
LONG_RUN = 2000
# `auto`'s rows: what each picks, and the evidence (FD in the digits
# classifier's features unless said; benchmarks/results/auto.md).
_IMAGES_PICKS = (
    "one-sided label smoothing 0.1, the DiscriminatorLRBalancer (its warmup "
    "and window a fortieth of `steps`, within 30-100 and 20-50 steps), the "
    "average (0.99), Adam(2e-4, beta_1=0.5)"
)
AUTO_ROWS = {
    "points": (
        "R3GAN's objective (relativistic pairing, R1 and R2 of weight 0.1, "
        "cosine to a tenth over `steps`), Adam(2e-4, beta_1=0, beta_2=0.99), "
        "the average (0.999): the r3gan recipe",
        "the 2D mixtures at 40,000 steps: grid 25/25 modes, 83.3% high "
        "quality; ring 8/8, 94.5% (modes.md, the r3gan rows)",
    ),
    "images": (
        _IMAGES_PICKS,
        "the digits, 1,160 steps, seeds 3-5: FD 6.48 against vanilla's 9.78; "
        "D's rate 10x G's: 11.9 against 64.0 (auto.md)",
    ),
    "few_images": (
        _IMAGES_PICKS + ", and balanced consistency regularisation (bCR, "
        "weight 10 on real and fake translations)",
        "180 of the digits, 3,480 steps: FD 8.37 against vanilla's 18.6 "
        "(seeds 0-2); on another pick 10.2 against 13.6, where limited_data "
        "reaches 9.48 (seeds 3-5; auto.md)",
    ),
}


@dataclasses.dataclass(frozen=True)
class Choice:
    """What `auto` picks for a GAN and its data, and why.

    Attributes:
        row: `"points"`, `"images"` or `"few_images"`: the row of `auto`'s
            table.
        facts: dict. What `auto` saw: `samples` (`"vectors"` or
            `"images"`), `shape`, `count` (training samples, None when the
            data does not say), `conditional`, `steps`.
        picks: str. The tricks and optimizers of the row.
        evidence: str. Where the row was measured.
    """

    row: str
    facts: dict
    picks: str
    evidence: str

    def __str__(self):
        facts = self.facts
        count = "an unknown number of" if facts["count"] is None else facts["count"]
        shape = "x".join(str(d) for d in facts["shape"])
        saw = f"{count} {facts['samples']} of shape {shape}"
        if facts["conditional"]:
            saw += ", conditional"
        if facts["steps"] is not None:
            saw += f", {facts['steps']} steps"
        return f"auto: {saw}: the {self.row} row: {self.picks}"


def count_samples(data):
    """The number of training samples in `data`, or None when it cannot
    be told without reading it.

    `data`: an int (the count itself), an array (its first dimension), a
    tuple or list whose first item is one (`(x, y)`), a `torch` data loader
    (its data set's length), a data set from `kgt.datasets.image_folder`
    or `keras.utils.image_dataset_from_directory` (its `file_paths`), an
    unbatched `tf.data.Dataset` of known cardinality, or anything else
    (None: another batched `tf.data.Dataset`, a `keras.utils.PyDataset`, a
    generator).
    """
    if isinstance(data, (str, bytes, bool)):
        raise TypeError(
            "`data` must be training data or the number of samples. "
            f"Received: data={data!r}"
        )
    if isinstance(data, int):
        return check_int("data", data, low=1)
    if isinstance(data, (tuple, list)) and data:
        data = data[0]
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) and shape[0] is not None:
        return int(shape[0])
    loader = getattr(data, "dataset", None)
    if loader is not None and hasattr(loader, "__len__"):
        return len(loader)
    files = getattr(data, "file_paths", None)  # image_folder, Keras's loader
    if isinstance(files, (list, tuple)) and files:
        return len(files)
    return _dataset_count(data)


def _dataset_count(data):
    """An unbatched `tf.data.Dataset`'s known cardinality, else None."""
    cardinality = getattr(data, "cardinality", None)
    spec = getattr(data, "element_spec", None)
    if cardinality is None or spec is None:
        return None
    while isinstance(spec, (tuple, list)) and spec:
        spec = spec[0]
    shape = getattr(spec, "shape", None)
    if shape is None or (len(shape) and shape[0] is None):
        return None  # batched: its cardinality counts batches
    count = int(cardinality())
    return count if count > 0 else None


def choose(gan, data=None, steps=None):
    """What `auto` picks for `gan` and `data`: a `Choice` (its `str` is a
    line for a log). Arguments as `auto`'s."""
    shape = tuple(gan.sample_shape)
    count = None if data is None else count_samples(data)
    steps = None if steps is None else check_int("steps", steps, low=1)
    images = len(shape) == 3
    row = "points"
    if images:
        few = count is not None and count < FEW_IMAGES
        row = "few_images" if few and (steps or 0) >= LONG_RUN else "images"
    facts = {
        "samples": "images" if images else "vectors",
        "shape": shape,
        "count": count,
        "conditional": gan.condition_shape is not None,
        "steps": steps,
    }
    return Choice(row, facts, *AUTO_ROWS[row])


def auto(gan, data=None, steps=None, d_optimizer=None, g_optimizer=None):
    """The default: the measured set for what the GAN and the data are,
    adapting to the run as it trains.

    It reads the facts it can see (vectors or images and their shape, the
    number of training samples in `data`, conditional or not, the planned
    `steps`), picks the row of the table below that was measured best for
    them, and compiles `gan` with it; the feedback loops in the row adapt
    it during training (the balancer lowers D's rate while D's ranking
    accuracy runs ahead; on the points, the penalties decay with the
    plan). Every fit runs `kgt.callbacks.Alarms`: when a controller reaches
    its bound (the balancer at its lowest rate or D certain; D's rate 100x
    G's is said within the first tenth of the fit), a
    `kgt.tricks.TrainingAlarm` says what it saw and what to change.

    | facts | row | picks |
    |---|---|---|
    | vectors (a 1D sample shape, e.g. 2D points) | `points` | R3GAN's objective: relativistic pairing, R1 and R2 of weight 0.1 (cosine to a tenth over `steps`), Adam(2e-4, 0, 0.99), the average (0.999): the `r3gan` recipe |
    | images, fewer than 1,000, for 2,000 steps or more | `few_images` | the images row and bCR (weight 10) |
    | other images (their number or the plan unknown included) | `images` | one-sided label smoothing 0.1, the `DiscriminatorLRBalancer` (warmup and window a fortieth of `steps`), the average (0.99), Adam(2e-4, 0.5) |

    Evidence (`benchmarks/results/auto.md`, FD on the digits, chosen on
    seeds 0-2 and confirmed on seeds 3-5 and another pick of the small
    data): the balanced game 6.48 against vanilla's 9.78 (`small_images`
    6.50); D's rate 10x G's 11.9 against 64.0 (`small_images` 14.7); 100x
    37.0 against 36.9, said at step 80 of 1,160 (`small_images` 43.3: its
    adaptive noise, left out here, sat at its maximum); 180 digits for
    3,480 steps 8.37 against 18.6 (seeds 0-2; on another pick 10.2 against
    13.6, behind `limited_data`'s 9.48); for 1,160 steps bCR lost
    (14.0 with it, 11.5 without), hence the plan in the rule. The points
    row is `r3gan`'s (`modes.md`; a test holds the compiles equal). A
    conditional GAN gets the same rows (not measured apart).

    Args:
        gan: `kgt.GAN`, built, not yet trained.
        data: the training data (an array, `(x, y)`, a data set from
            `kgt.datasets.image_folder`, a `torch` data loader, an
            unbatched `tf.data.Dataset`), or the number of training
            samples, or None (unknown: the `images` row for images). See
            `count_samples`.
        steps: int >= 1, or None. The planned training steps: the images
            rows size the balancer to them and choose bCR by them, the
            points row decays its penalties over them. None: the
            balancer at its defaults, no bCR, the penalties fixed.
        d_optimizer: `keras.optimizers.Optimizer` or None. D's optimizer
            instead of the row's (the row's tricks stay).
        g_optimizer: Same, for G.

    Returns:
        `gan`, compiled. `choose(gan, data, steps)` says what was picked.
    """
    choice = choose(gan, data, steps)
    optimizers = _adam(2e-4, 0.0, 0.99) if choice.row == "points" else _adam(2e-4, 0.5)
    if d_optimizer is not None:
        optimizers["d_optimizer"] = d_optimizer
    if g_optimizer is not None:
        optimizers["g_optimizer"] = g_optimizer
    if choice.row == "points":
        gan.compile(**optimizers, **_r3gan_training(0.1, choice.facts["steps"], 0.999))
        return gan
    chosen = [_sized_balancer(choice.facts["steps"]), tricks.GeneratorEMA(0.99)]
    if choice.row == "few_images":
        chosen.insert(0, augment.ConsistencyRegularization(10.0, 10.0, seed=gan.seed))
    gan.compile(**optimizers, label_policy=labels.OneSidedSmoothing(0.1), tricks=chosen)
    return gan


def _sized_balancer(steps):
    """The balancer, its warmup and window a fortieth of the plan (at its
    defaults, 100 and 50 steps, when longer or unknown; at least 30 and
    20): a D that ranks every pair right from the start is then said
    within the first tenth of the fit."""
    if steps is None:
        return tricks.DiscriminatorLRBalancer()
    size = steps // 40
    return tricks.DiscriminatorLRBalancer(
        warmup=min(100, max(30, size)), patience=min(50, max(20, size))
    )


def get(name):
    """The recipe function called `name` (one of `NAMES`)."""
    if name not in NAMES:
        raise ValueError(f"`name` must be one of {NAMES}. Received: name={name!r}")
    return globals()[name]
