"""Adversarial losses: each a discriminator loss and a generator loss.

Every loss takes the discriminator's raw outputs ("logits", no sigmoid):
one per sample, `(batch,)` or `(batch, 1)`, or a map of them with one
channel, `(batch, ..., 1)` (PatchGAN's, Isola et al. 2017, sec. 3.2.2;
channels first, `(batch, 1, ...)`, too). It returns a scalar: the loss of
each logit averaged over the sample's map, then over the batch. Targets are
one per sample (broadcast over its map) or one per logit. The
discriminator loss also takes the targets for real and fake samples, so that
a label policy (`kgt.labels`) can smooth or perturb them; the generator loss
never sees perturbed labels.

Losses are looked up by name with `get`:

| name | class | paper |
|---|---|---|
| `"non_saturating"` | `NonSaturating` | Goodfellow et al. 2014, sec. 3 |
| `"minimax"` | `Minimax` | Goodfellow et al. 2014, eq. 1 |
| `"least_squares"` | `LeastSquares` | Mao et al. 2017 (LSGAN) |
| `"hinge"` | `Hinge` | Lim & Ye 2017; Miyato et al. 2018 |
| `"wasserstein"` | `Wasserstein` | Arjovsky et al. 2017 (WGAN) |
| `"relativistic_pairing"` | `RelativisticPairing` | Jolicoeur-Martineau 2019; Huang et al. 2024 (R3GAN) |

A loss whose generator term also reads D's outputs on real samples (the
relativistic one) says so with `needs_real_logits`; `kgt.GAN` then passes
them, as `generator_loss(fake_logits, real_logits)`.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._utils import Configurable, register, static_shape


def logits_shape_error(shape, arg="logits"):
    """Why D's outputs of static `shape` cannot be used, or None.

    Accepted: `(batch,)`, `(batch, 1)`, and maps of rank >= 3 with one
    channel, last (`(batch, h, w, 1)`) or first (`(batch, 1, h, w)`).
    Refused: a scalar, `(batch, k)` with `k > 1` (a classifier's head, or
    several logits per sample), and maps of several channels.
    """
    shape = tuple(shape)
    rank = len(shape)
    if rank == 1 or (rank == 2 and shape[1] in (1, None)):
        return None
    if rank >= 3 and (shape[-1] == 1 or shape[1] == 1):
        return None
    return (
        f"`{arg}` must hold one logit per sample, of shape (batch,) or "
        "(batch, 1), or a map of logits with one channel, (batch, ..., 1) "
        f"(PatchGAN). Received: {arg} of shape {shape}"
    )


def _patches(logits, arg="logits"):
    """float32 `(batch, patches)`: the logits of each sample, flattened.

    Raises `ValueError` naming the shape where it is not one logit per
    sample or a one-channel map of them (`logits_shape_error`).
    """
    logits = ops.cast(logits, "float32")
    error = logits_shape_error(static_shape(logits), arg)
    if error:
        raise ValueError(error)
    return ops.reshape(logits, (ops.shape(logits)[0], -1))


def per_sample(logits):
    """float32 `(batch,)`: each sample's logit, averaged over its map (a
    PatchGAN map counts once per sample; one logit per sample is itself)."""
    logits = ops.cast(logits, "float32")
    if len(logits.shape) == 1:
        return logits
    return ops.mean(ops.reshape(logits, (ops.shape(logits)[0], -1)), axis=1)


def _targets(labels, logits, default, arg):
    """Targets for `(batch, patches)` logits: `default` where None; one per
    sample (broadcast over its map), one per logit, or a scalar."""
    if labels is None:
        return ops.full(ops.shape(logits), default, dtype="float32")
    labels = ops.cast(labels, "float32")
    shape = static_shape(labels)
    size = 1
    for d in shape[1:]:
        size = None if d is None or size is None else size * d
    batch, patches = static_shape(logits)
    if len(shape) == 0:
        return ops.broadcast_to(labels, ops.shape(logits))
    if None not in (batch, shape[0]) and shape[0] not in (1, batch):
        raise ValueError(
            f"`{arg}` must hold the targets of the logits' {batch} samples. "
            f"Received: {arg} of shape {shape}"
        )
    if size in (1, patches) or size is None or patches is None:
        labels = ops.reshape(labels, (ops.shape(labels)[0], -1))
        return ops.broadcast_to(labels, ops.shape(logits))
    raise ValueError(
        f"`{arg}` must hold one target per sample or one per logit "
        f"({patches} per sample). Received: {arg} of shape {shape}"
    )


def sigmoid_cross_entropy(labels, logits):
    """Elementwise binary cross-entropy of `labels` against `sigmoid(logits)`.

    Written as `max(x, 0) - x * t + log(1 + exp(-|x|))`, which neither
    overflows nor loses precision for large `|x|`, and takes soft labels.
    """
    return ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


class GANLoss(Configurable):
    """Base class of the adversarial losses.

    Subclasses implement `discriminator_loss` and `generator_loss`. Losses
    hold only hyperparameters, so `get_config`/`from_config` round-trip them
    and `keras.saving` stores them with a `kgt.GAN`.

    Attributes:
        uses_labels: bool. Whether `discriminator_loss` reads the targets, and
            so whether a label policy can act on it.
    """

    uses_labels = True
    needs_real_logits = False

    def discriminator_loss(
        self, real_logits, fake_logits, real_labels=None, fake_labels=None
    ):
        """The discriminator's loss, a scalar.

        Args:
            real_logits: Tensor `(batch,)`, `(batch, 1)` or a one-channel
                map `(batch, ..., 1)`. D's outputs on real samples.
            fake_logits: Tensor, the same kinds. D's outputs on generated
                samples.
            real_labels: Optional tensor: one target per sample (`(batch,)`
                or `(batch, 1)`, broadcast over a map), one per logit, or a
                scalar. Targets for real samples; 1 when `None`.
            fake_labels: Optional tensor, the same kinds. Targets for
                generated samples; 0 when `None`.

        Raises:
            ValueError: for logits or targets of any other shape, naming it.
        """
        raise NotImplementedError

    def generator_loss(self, fake_logits):
        """The generator's loss, a scalar, from D's outputs on its samples."""
        raise NotImplementedError

    def discriminator_floor(self, real_labels, fake_labels):
        """The lowest expected D loss when targets are drawn like these.

        Label noise is drawn independently of the samples, so even a
        discriminator that tells real from fake perfectly cannot predict it;
        this is its best expected loss given samples of the targets (NumPy
        arrays). None when the loss has no lowest value.
        """
        return None

    def score(self, logits):
        """D's output in the loss's own units, for metrics: `(batch,)`.

        Averaged over each sample's map of logits. A probability of "real" for the cross-entropy losses; the raw output
        for the others. `kgt.GAN` reports its batch means as `d_real` and
        `d_fake`.
        """
        return per_sample(_patches(logits))


@register
class NonSaturating(GANLoss):
    """The non-saturating GAN loss (the default).

    Goodfellow et al. 2014, "Generative Adversarial Nets", sec. 3: instead of
    minimising `log(1 - D(G(z)))`, whose gradient vanishes early in training
    when D rejects every sample, the generator maximises `log D(G(z))`.

    With `x` the logits, `t` the targets and `BCE(t, x) = -t log s(x) -
    (1 - t) log(1 - s(x))`, `s` the sigmoid:

        L_D = mean(BCE(t_real, x_real)) + mean(BCE(t_fake, x_fake))
        L_G = mean(BCE(1, x_fake)) = mean(softplus(-x_fake))

    `L_D` is the sum of the two halves, as in the paper and TF-GAN, so with
    one-sided smoothing `s` its floor is the entropy of the real targets,
    `-(1 - s) log(1 - s) - s log s` (0.325 for `s = 0.1`).

    Example:

    >>> loss = kgt.losses.NonSaturating()
    >>> round(float(loss.generator_loss(keras.ops.zeros((4,)))), 4)
    0.6931
    """

    def discriminator_loss(
        self, real_logits, fake_logits, real_labels=None, fake_labels=None
    ):
        real_logits = _patches(real_logits, "real_logits")
        fake_logits = _patches(fake_logits, "fake_logits")
        real_labels = _targets(real_labels, real_logits, 1.0, "real_labels")
        fake_labels = _targets(fake_labels, fake_logits, 0.0, "fake_labels")
        return ops.mean(sigmoid_cross_entropy(real_labels, real_logits)) + ops.mean(
            sigmoid_cross_entropy(fake_labels, fake_logits)
        )

    def generator_loss(self, fake_logits):
        return ops.mean(ops.softplus(-_patches(fake_logits, "fake_logits")))

    def discriminator_floor(self, real_labels, fake_labels):
        # Cross-entropy is linear in the target, so the expected loss is the
        # loss at the mean target, lowest (its entropy) at D = mean target.
        floor = 0.0
        for labels in (real_labels, fake_labels):
            p = float(np.mean(labels))
            if not 0.0 <= p <= 1.0:
                return None
            if 0.0 < p < 1.0:
                floor -= p * math.log(p) + (1 - p) * math.log(1 - p)
        return floor

    def score(self, logits):
        return ops.mean(ops.sigmoid(_patches(logits)), axis=1)


@register
class Minimax(NonSaturating):
    """The original minimax GAN loss.

    Goodfellow et al. 2014, "Generative Adversarial Nets", eq. 1. The
    discriminator's loss is `NonSaturating`'s; the generator minimises
    `log(1 - D(G(z)))` directly:

        L_G = mean(log(1 - s(x_fake))) = -mean(softplus(x_fake))

    Its gradient vanishes while D confidently rejects the samples, which is
    why the non-saturating form is the default; it is here for comparisons.
    """

    def generator_loss(self, fake_logits):
        return -ops.mean(ops.softplus(_patches(fake_logits, "fake_logits")))


@register
class LeastSquares(GANLoss):
    """The least-squares GAN loss (LSGAN).

    Mao et al. 2017, "Least Squares Generative Adversarial Networks", eq. 2
    with the 0-1 coding `a = 0, b = c = 1`. D's raw output is regressed onto
    the targets:

        L_D = 0.5 mean((x_real - t_real)^2) + 0.5 mean((x_fake - t_fake)^2)
        L_G = 0.5 mean((x_fake - 1)^2)
    """

    def discriminator_loss(
        self, real_logits, fake_logits, real_labels=None, fake_labels=None
    ):
        real_logits = _patches(real_logits, "real_logits")
        fake_logits = _patches(fake_logits, "fake_logits")
        real_labels = _targets(real_labels, real_logits, 1.0, "real_labels")
        fake_labels = _targets(fake_labels, fake_logits, 0.0, "fake_labels")
        return 0.5 * ops.mean(ops.square(real_logits - real_labels)) + 0.5 * ops.mean(
            ops.square(fake_logits - fake_labels)
        )

    def generator_loss(self, fake_logits):
        return 0.5 * ops.mean(ops.square(_patches(fake_logits, "fake_logits") - 1.0))

    def discriminator_floor(self, real_labels, fake_labels):
        # The best constant output is the mean target; what is left is the
        # targets' variance.
        return 0.5 * float(np.var(real_labels)) + 0.5 * float(np.var(fake_labels))


@register
class Hinge(GANLoss):
    """The hinge GAN loss.

    Lim & Ye 2017, "Geometric GAN"; used by Miyato et al. 2018 (SN-GAN) and
    BigGAN:

        L_D = mean(relu(1 - x_real)) + mean(relu(1 + x_fake))
        L_G = -mean(x_fake)

    The margins are fixed, so label policies do not apply (`uses_labels` is
    False and `kgt.GAN.compile` rejects the combination).
    """

    uses_labels = False

    def discriminator_loss(
        self, real_logits, fake_logits, real_labels=None, fake_labels=None
    ):
        real_logits = _patches(real_logits, "real_logits")
        fake_logits = _patches(fake_logits, "fake_logits")
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(
            ops.relu(1.0 + fake_logits)
        )

    def generator_loss(self, fake_logits):
        return -ops.mean(_patches(fake_logits, "fake_logits"))

    def discriminator_floor(self, real_labels, fake_labels):
        return 0.0


@register
class Wasserstein(GANLoss):
    """The Wasserstein GAN loss (the critic's estimate of the W1 distance).

    Arjovsky et al. 2017, "Wasserstein GAN", eq. 3:

        L_D = mean(x_fake) - mean(x_real)
        L_G = -mean(x_fake)

    The critic must be kept (near) 1-Lipschitz, for which use
    `kgt.penalties.GradientPenalty` (Gulrajani et al. 2017) and several
    critic steps per generator step (`d_steps=5`). Label policies do not
    apply.
    """

    uses_labels = False

    def discriminator_loss(
        self, real_logits, fake_logits, real_labels=None, fake_labels=None
    ):
        return ops.mean(_patches(fake_logits, "fake_logits")) - ops.mean(
            _patches(real_logits, "real_logits")
        )

    def generator_loss(self, fake_logits):
        return -ops.mean(_patches(fake_logits, "fake_logits"))


@register
class RelativisticPairing(GANLoss):
    """The relativistic pairing GAN loss (RpGAN), R3GAN's baseline loss.

    Jolicoeur-Martineau 2019, "The relativistic discriminator: a key element
    missing from standard GAN"; Huang et al. 2024, "The GAN is dead; long
    live the GAN! A Modern GAN Baseline" (R3GAN), eq. 2. Each real sample
    is paired with one fake (the i-th with the i-th) and D judges how much
    more real the real one looks:

        L_D = mean(softplus(-(x_real - x_fake)))
        L_G = mean(softplus(-(x_fake - x_real)))

    With R1 and R2 (`penalty=[kgt.penalties.R1(g), kgt.penalties.R2(g)]`)
    it is R3GAN's regularised objective, locally convergent without the
    older tricks. G's loss reads D's outputs on the real batch too
    (`needs_real_logits`). The targets are fixed, so label policies do not
    apply. On maps of logits (PatchGAN) the pairs are patch by patch.

    Raises:
        ValueError: when the real and fake batches (or maps) differ in
            shape: there is no pairing.
    """

    uses_labels = False
    needs_real_logits = True

    @staticmethod
    def _gap(ahead, behind):
        ahead = _patches(ahead, "real_logits")
        behind = _patches(behind, "fake_logits")
        a, b = static_shape(ahead), static_shape(behind)
        if all(d is not None for d in (*a, *b)) and a != b:
            raise ValueError(
                "`real_logits` and `fake_logits` must have the same shape: the "
                "relativistic pairing loss pairs each real sample with one fake. "
                f"Received: real_logits of shape {a} and fake_logits of shape {b}"
            )
        return ahead - behind

    def discriminator_loss(
        self, real_logits, fake_logits, real_labels=None, fake_labels=None
    ):
        return ops.mean(ops.softplus(-self._gap(real_logits, fake_logits)))

    def generator_loss(self, fake_logits, real_logits=None):
        if real_logits is None:
            raise ValueError(
                "The relativistic pairing loss's generator term needs D's outputs "
                "on real samples too: call generator_loss(fake_logits, "
                "real_logits). Received: real_logits=None"
            )
        return ops.mean(ops.softplus(self._gap(real_logits, fake_logits)))


_ALIASES = {
    "non_saturating": NonSaturating,
    "nonsaturating": NonSaturating,
    "minimax": Minimax,
    "least_squares": LeastSquares,
    "lsgan": LeastSquares,
    "hinge": Hinge,
    "wasserstein": Wasserstein,
    "wgan": Wasserstein,
    "relativistic_pairing": RelativisticPairing,
    "rpgan": RelativisticPairing,
}


def get(identifier):
    """Returns a `GANLoss` for a name, a serialized config or an instance.

    Args:
        identifier: str, dict or `GANLoss`. A name from the module's table
            (case-insensitive; `-` and `_` alike), a dict from `serialize`,
            or a loss object (returned as is).

    Raises:
        ValueError: for an unknown name.
        TypeError: for anything else.
    """
    if isinstance(identifier, GANLoss):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip().lower().replace("-", "_")
        if key not in _ALIASES:
            names = sorted(set(_ALIASES) - {"nonsaturating", "lsgan", "wgan", "rpgan"})
            raise ValueError(
                f"`loss` must be one of {names}. Received: loss={identifier!r}"
            )
        return _ALIASES[key]()
    if isinstance(identifier, dict):
        loss = keras.saving.deserialize_keras_object(identifier)
        if isinstance(loss, GANLoss):
            return loss
    raise TypeError(
        "`loss` must be a loss name or a kgt.losses.GANLoss. "
        f"Received: loss={identifier!r} (of type {type(identifier).__name__})"
    )


def serialize(loss):
    """Returns a JSON-able config for a `GANLoss`."""
    return keras.saving.serialize_keras_object(loss)


def deserialize(config):
    """Inverse of `serialize`."""
    return get(config)
