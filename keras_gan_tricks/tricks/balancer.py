"""D's learning-rate balancer."""

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._utils import check_int, check_number, register
from keras_gan_tricks.tricks.base import Refs, Trick
from keras_gan_tricks.tricks.signals import feedback_window, ranking_accuracy
from keras_gan_tricks.tricks.state import ScalarState

BALANCER_STATE = "lr_balancer"
BALANCER_CHANGES = "lr_balancer_changes"
BALANCER_CONTROL = "lr_balancer_control"


@register
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule times a factor.

    `DiscriminatorLRBalancer` wraps a discriminator optimizer's schedule in
    one, so it can lower and restore the rate while the schedule runs; the
    factor then comes from the balancer's state (`use_scale`).

    Args:
        schedule: `LearningRateSchedule`. The schedule to scale.
        scale: float. The factor (until `use_scale`).
    """

    def __init__(self, schedule, scale=1.0):
        self.schedule = schedule
        self.scale = float(scale)
        self._scale_fn = None

    def use_scale(self, fn):
        """Reads the factor from `fn()` (a float32 scalar tensor) from now on."""
        self._scale_fn = fn

    def current_scale(self):
        return self.scale if self._scale_fn is None else self._scale_fn()

    def __call__(self, step):
        return self.schedule(step) * ops.cast(self.current_scale(), "float32")

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "scale": float(ops.convert_to_numpy(self.current_scale())),
        }

    @classmethod
    def from_config(cls, config):
        return cls(
            keras.saving.deserialize_keras_object(config["schedule"]), config["scale"]
        )


def _label_floor(gan, samples=8192):
    """D's lowest reachable loss under the GAN's loss and label policy
    (`GANLoss.discriminator_floor`, estimated from `samples` draws)."""
    real = np.ones(samples, "float32")
    fake = np.zeros(samples, "float32")
    if gan.label_policy is not None:
        real, fake = gan.label_policy(real, fake, seed=keras.random.SeedGenerator(0))
        real, fake = ops.convert_to_numpy(real), ops.convert_to_numpy(fake)
    return gan.loss.discriminator_floor(real, fake)


@register
class DiscriminatorLRBalancer(Trick):
    """Lowers the discriminator's learning rate while D runs ahead of G, and
    settles at a rate that holds.

    The seeds' advice, "if the discriminator wins too easily, reduce its
    learning rate", as a feedback loop. Its signal is D's ranking accuracy
    (`ranking_accuracy`): how often D ranks a real sample of the batch
    above a fake one, averaged over windows of `patience` steps. It depends
    only on the order of D's logits, so it means the same under every loss
    and label policy, and it rises as soon as D runs ahead, long before D's
    loss nears its floor. On the digits DCGAN (`benchmarks/failures.py`)
    with D's rate 10x G's it climbs past 0.85 and stays there while D's
    loss sits near 0.8; with equal rates it stays at 0.6-0.77 after the
    first 100 steps (0.86 under the least-squares loss). At the end of each
    window, from `warmup` steps on:

    - D is ahead when the window's mean is above `target`, or when D's
      smoothed loss has stayed within `collapse_below` of its floor for
      `patience` steps while G's did not fall (the 0.1.0 rule). Then D's
      rate is multiplied by `factor` (never below `min_lr`: by default G's
      own rate, below which G would be the one running ahead). If the rate
      had held or risen since the last lowering, it is remembered as one
      that failed. D's lead outlasts a lowering by a few windows, so for
      two windows after one the signal lowers the rate again only if its
      mean still grew (lowerings in a row answer one failure). Once two
      lowerings in a row (by either rule) have left the signal where the
      first found it, neither rule lowers it further until the signal falls
      to `target`: D's rate is
      then not what keeps D ahead (G's own pace is, as when G's rate is
      tiny), and starving D only makes things worse.
    - D is calm when the mean is below `recover_below` (and the loss is
      off its floor). Then the rate is multiplied by `recover`, up to the
      starting rate, and never back to a rate that failed: at most to
      `sqrt(factor)` times the lowest one (the geometric midpoint between
      it and what its first lowering made of it). Each failure lowers that
      ceiling, so rounds of lowering and raising close in, from below, on a
      rate at which D stays between the two thresholds, and stop there.

    Between `recover_below` and `target` nothing moves (hysteresis).

    The floor is D's lowest reachable loss under the GAN's loss and label
    policy (0 with hard labels, the targets' entropy with smoothed or noisy
    ones; none under the Wasserstein loss, where only the signal is used).
    It all runs inside the step: the rate is D's optimizer's own variable
    (or a `ScaledSchedule` around its schedule); the state
    (`gan.trick_states["lr_balancer"]` and `["lr_balancer_control"]`) is
    saved with the GAN and restored by `BackupAndRestore`; the last changes
    are kept in `gan.trick_states["lr_balancer_changes"]` (read them with
    `read_changes`). The rate is logged as `d_lr`, the last window's mean
    as `d_rank`.

    Args:
        collapse_below: float > 0. How close to the floor D's smoothed loss
            must sit to count as collapsed.
        patience: int >= 1. Steps per window (each decision's evidence).
        factor: float in (0, 1). Multiplies the rate when D is ahead.
        min_lr: float >= 0, or None. The rate is never set below this;
            None: G's learning rate (0 without a GAN's `g_optimizer`).
        recover: float >= 1, or None. Multiplies the rate when D is calm,
            within the bounds above; None or 1 never raises it.
        smoothing: float in [0, 1). The loss averages' decay per step.
        floor: float or None. D's loss floor; computed from the GAN when None.
        target: float in (1/2, 1]. The ranking accuracy above which D is
            ahead (1 turns the signal off: only the loss rule acts).
        recover_below: float in [0, target). The ranking accuracy below
            which D is calm.
        warmup: int >= 0. Steps before the signal counts: a fresh
            generator's samples are noise that any D tells apart.
    """

    STATE = (
        "initialized",
        "base_lr",
        "scale",
        "ema_d",
        "ema_g",
        "g_reference",
        "collapse_streak",
        "balance_streak",
        "seen",
    )
    #: The feedback loop's state: the window (sum and weight of the signal,
    #: the last window's mean), the lowest scale that failed (0: none),
    #: the last decision (1 lowered, -1 raised, 0 held),
    #: the windows since the last lowering, and the signal's lowerings in
    #: a row with the level the first of them found.
    CONTROL = ("total", "count", "signal", "upper", "last", "since", "run", "level")
    #: How far two lowerings in a row must bring the signal down from where
    #: the first found it for a third to be tried.
    FUTILE_BELOW = 0.01
    #: Windows after a lowering in which the signal lowers again only if
    #: it grew.
    COOLDOWN = 2
    #: Changes kept between reads: [count, then per slot the FIELDS].
    SLOTS = 32
    FIELDS = ("step", "old_lr", "new_lr", "reason", "signal", "excess")
    REASONS = {1.0: "ahead", 2.0: "floor", 3.0: "calm"}

    def __init__(
        self,
        collapse_below=0.1,
        patience=50,
        factor=0.5,
        min_lr=None,
        recover=2.0,
        smoothing=0.9,
        floor=None,
        target=0.8,
        recover_below=0.65,
        warmup=100,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.collapse_below = check_number(
            "collapse_below", collapse_below, low=0.0, low_open=True
        )
        self.patience = check_int("patience", patience, low=1)
        self.factor = check_number(
            "factor", factor, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.min_lr = (
            None if min_lr is None else check_number("min_lr", min_lr, low=0.0)
        )
        self.recover = (
            None if recover is None else check_number("recover", recover, low=1.0)
        )
        self.smoothing = check_number(
            "smoothing", smoothing, low=0.0, high=1.0, high_open=True
        )
        self.floor = None if floor is None else check_number("floor", floor)
        self.target = check_number("target", target, low=0.5, high=1.0, low_open=True)
        self.recover_below = check_number(
            "recover_below", recover_below, low=0.0, high=self.target, high_open=True
        )
        self.warmup = check_int("warmup", warmup, low=0)
        self.refs = Refs(
            optimizer=None,
            g_optimizer=None,
            state=None,
            changes=None,
            control=None,
            lr=None,
            schedule=None,
        )
        self._floor = 0.0

    # Binding to an optimizer (host side).

    def setup(self, gan):
        floor = self.floor
        if floor is None:
            floor = _label_floor(gan)  # None under the Wasserstein loss
        layers = [
            gan.attach_trick_state(layer.name, layer) for layer in self.new_state()
        ]
        self.bind_optimizer(gan.d_optimizer, *layers, floor, gan.g_optimizer)

    def new_state(self):
        """Fresh layers for the controller's state, its change log and its
        feedback loop."""
        names = [f"{f}_{i}" for i in range(self.SLOTS) for f in self.FIELDS]
        return (
            ScalarState(self.STATE, name=BALANCER_STATE),
            ScalarState(["count", *names], name=BALANCER_CHANGES),
            ScalarState(self.CONTROL, name=BALANCER_CONTROL),
        )

    def bind_optimizer(
        self, optimizer, state, changes, control, floor, g_optimizer=None
    ):
        """Controls `optimizer`'s rate, keeping the controller's state in the
        `ScalarState` layers from `new_state` (host side). `floor`: D's
        loss floor, or None to use the signal alone. `g_optimizer`: G's,
        whose rate is the lowest D's may take when `min_lr` is None."""
        refs = self.refs
        refs.optimizer, refs.state, refs.g_optimizer = optimizer, state, g_optimizer
        refs.changes, refs.control = changes, control
        self._floor = None if floor is None else float(floor)
        lr = optimizer.learning_rate
        if isinstance(lr, keras.Variable):
            refs.lr, refs.schedule = lr, None
        else:
            schedule = keras.optimizers.schedules.deserialize(
                optimizer.get_config()["learning_rate"]
            )
            if not isinstance(schedule, ScaledSchedule):
                schedule = ScaledSchedule(schedule)
                optimizer.learning_rate = schedule
            index = self.STATE.index("scale")
            values = state.values
            initialized = float(ops.convert_to_numpy(values[0]))
            if initialized:
                # The state's scale (restored) holds; else the schedule's.
                schedule.scale = float(ops.convert_to_numpy(values[index]))
            start = schedule.scale
            schedule.use_scale(lambda: ops.where(values[0] > 0, values[index], start))
            refs.lr, refs.schedule = None, schedule

    def current_lr(self):
        """D's learning rate now, as a float (host side)."""
        return float(ops.convert_to_numpy(self.refs.optimizer.learning_rate))

    # The controller, in keras.ops.

    def end_step(self, outcome):
        self.control(
            outcome.step,
            outcome.d_loss,
            outcome.g_loss,
            outcome.finite,
            outcome.real_logits,
            outcome.fake_logits,
        )

    def control(
        self, step, d_loss, g_loss, finite=True, real_logits=None, fake_logits=None
    ):
        """One step of the controller (in-step, or eagerly for other models).
        Without D's logits only the loss rule lowers the rate, and D is calm
        once its loss has stayed `2 * collapse_below` above the floor for
        `patience` steps."""
        refs = self.refs
        s = refs.state.unstack()
        c = refs.control.unstack()
        # A copy: on PyTorch the variable's tensor changes when it is assigned.
        lr_now = ops.copy(
            ops.cast(ops.convert_to_tensor(refs.optimizer.learning_rate), "float32")
        )
        scheduled = refs.schedule is not None
        # First step: the rate it starts from.
        fresh = ops.equal(s["initialized"], 0.0)
        unit = ops.ones((), "float32")
        no = ops.zeros((), "bool")
        base = ops.where(fresh, unit if scheduled else lr_now, s["base_lr"])
        scale = ops.where(fresh, unit, s["scale"])
        if scheduled:
            unscaled = lr_now / ops.where(fresh, unit, s["scale"])
            lr_now = unscaled * scale
        else:
            unscaled = base
        d_loss = ops.cast(d_loss, "float32")
        g_loss = ops.cast(g_loss, "float32")
        ok = ops.logical_and(
            ops.cast(finite, "bool"),
            ops.logical_and(ops.isfinite(d_loss), ops.isfinite(g_loss)),
        )
        smooth = ops.where(s["seen"] > 0, self.smoothing, 0.0)
        ema_d = smooth * s["ema_d"] + (1 - smooth) * d_loss
        ema_g = smooth * s["ema_g"] + (1 - smooth) * g_loss

        # The 0.1.0 rule: D's loss at its floor while G's does not fall.
        if self._floor is None:
            excess = ops.zeros((), "float32")
            collapsed = at_floor = no
            streak = g_reference = ops.zeros((), "float32")
        else:
            excess = ema_d - self._floor
            collapsed = excess < self.collapse_below
            streak = ops.where(collapsed, s["collapse_streak"] + 1, 0.0)
            g_reference = ops.where(
                ops.logical_and(collapsed, ops.equal(s["collapse_streak"], 0.0)),
                ema_g,
                s["g_reference"],
            )
            fire = ops.logical_and(collapsed, streak >= self.patience)
            # G's loss has not fallen meaningfully: G is not catching up.
            stuck = ema_g >= g_reference - 0.1 * ops.abs(g_reference)
            at_floor = ops.logical_and(fire, stuck)
            streak = ops.where(fire, 0.0, streak)

        # The signal: D's ranking accuracy over windows of `patience` steps.
        window = (c["total"], c["count"], c["signal"])
        balance = s["balance_streak"]
        if real_logits is not None and self.target < 1.0:
            value = ranking_accuracy(real_logits, fake_logits)
            # Not before `warmup` steps: D tells a fresh G's noise apart.
            counted = ops.logical_and(ok, ops.cast(step, "int32") > self.warmup)
            due, mean, _, window = feedback_window(
                window, value, ops.cast(counted, "float32"), step, self.patience
            )
            ahead = ops.logical_and(due, mean > self.target)
            # D's lead outlasts a lowering for a while: within `COOLDOWN`
            # windows of one, lower again only if the lead still grew.
            waited = c["since"] >= self.COOLDOWN
            ahead = ops.logical_and(ahead, ops.logical_or(waited, mean > c["signal"]))
            since = ops.where(due, c["since"] + 1, c["since"])
            # Two lowerings in a row (by either rule) that left the signal
            # where the first found it: D's rate is not what keeps D ahead
            # (G's own pace is); lowering further would only starve D.
            now = ops.where(due, mean, c["signal"])
            # (A level of 0: the run began before any window was measured.)
            level = ops.where(
                ops.logical_and(due, ops.equal(c["level"], 0.0)), mean, c["level"]
            )
            futile = ops.logical_and(c["run"] >= 2, level > 0.0)
            futile = ops.logical_and(futile, now >= level - self.FUTILE_BELOW)
            ahead = ops.logical_and(ahead, ops.logical_not(futile))
            at_floor = ops.logical_and(at_floor, ops.logical_not(futile))
            # A run of lowerings ends when the signal falls to the target.
            run = ops.where(ops.logical_and(due, mean <= self.target), 0.0, c["run"])
            lowers = ops.logical_or(ahead, at_floor)
            first = ops.logical_and(lowers, ops.equal(run, 0.0))
            level = ops.where(first, now, level)
            run = ops.where(lowers, run + 1, run)
            calm = ops.logical_and(due, mean < self.recover_below)
            calm = ops.logical_and(calm, ops.logical_not(collapsed))
        else:
            ahead = no
            since, run, level = c["since"], c["run"], c["level"]
            off_floor = ops.logical_and(
                ops.logical_not(collapsed), excess > 2 * self.collapse_below
            )
            balance = ops.where(off_floor, balance + 1, 0.0)
            calm = ops.logical_and(off_floor, balance >= self.patience)
            balance = ops.where(calm, 0.0, balance)
        if self.recover in (None, 1.0):
            calm = no
        reduce = ops.logical_or(ahead, at_floor)

        upper = c["upper"]
        lowered = ops.minimum(scale * self.factor, 1.0)
        floor_scale = ops.where(
            unscaled > 0, self._min_lr() / ops.maximum(unscaled, 1e-30), 0.0
        )
        lowered = ops.maximum(lowered, ops.minimum(scale, floor_scale))
        # A rate failed when D ran ahead at it after the rate had held or
        # risen; the lowerings that follow in a row answer the same failure
        # (D's lead outlasts the change). The rate never rises back to one
        # that failed: at most to the geometric midpoint between the lowest
        # one and what the first lowering made of it.
        failed = ops.logical_and(reduce, ops.not_equal(c["last"], 1.0))
        upper = ops.where(
            failed, ops.where(upper > 0, ops.minimum(upper, scale), scale), upper
        )
        raised = ops.minimum(scale * (self.recover or 1.0), 1.0)
        ceiling = upper * self.factor**0.5
        raised = ops.where(upper > 0, ops.minimum(raised, ceiling), raised)
        rise = ops.logical_and(calm, raised > scale * 1.01)
        new_scale = ops.where(reduce, lowered, ops.where(rise, raised, scale))
        decided = ops.logical_or(reduce, calm)
        last = ops.where(
            reduce, 1.0, ops.where(decided, ops.where(rise, -1.0, 0.0), c["last"])
        )
        changed = ops.logical_and(ok, ops.not_equal(new_scale, scale))
        new = {
            "initialized": unit,
            "base_lr": base,
            "scale": ops.where(ok, new_scale, scale),
            "ema_d": ops.where(ok, ema_d, s["ema_d"]),
            "ema_g": ops.where(ok, ema_g, s["ema_g"]),
            "g_reference": ops.where(ok, g_reference, s["g_reference"]),
            "collapse_streak": ops.where(ok, streak, s["collapse_streak"]),
            "balance_streak": ops.where(ok, balance, s["balance_streak"]),
            "seen": ops.where(ok, s["seen"] + 1, s["seen"]),
        }
        refs.state.assign_from(new)
        refs.control.assign_from(
            {
                "total": window[0],
                "count": window[1],
                "signal": window[2],
                "upper": ops.where(ok, upper, c["upper"]),
                "last": ops.where(ok, last, c["last"]),
                "since": ops.where(ok, ops.where(reduce, 0.0, since), c["since"]),
                "run": ops.where(ok, run, c["run"]),
                "level": ops.where(ok, level, c["level"]),
            }
        )
        if not scheduled:
            refs.lr.assign(ops.cast(base * new["scale"], refs.lr.dtype))
        new_lr = unscaled * new["scale"]
        reason = ops.where(ahead, 1.0, ops.where(at_floor, 2.0, 3.0))
        self._record(changed, (step, lr_now, new_lr, reason, window[2], excess))
        self._d_lr = new_lr
        self._signal = window[2]

    def _min_lr(self):
        if self.min_lr is not None:
            return self.min_lr
        g_optimizer = self.refs.g_optimizer
        if g_optimizer is None:
            return 0.0
        return ops.cast(ops.convert_to_tensor(g_optimizer.learning_rate), "float32")

    def _record(self, changed, entry):
        variable = self.refs.changes.values
        values = variable.value
        count = values[0]
        slot = ops.cast(ops.mod(count, self.SLOTS), "int32")
        entry = ops.stack([ops.cast(v, "float32") for v in entry])
        width = len(self.FIELDS)
        rows = ops.reshape(values[1:], (self.SLOTS, width))
        hit = ops.equal(ops.arange(self.SLOTS, dtype="int32"), slot)[:, None]
        rows = ops.where(ops.logical_and(hit, changed), entry[None, :], rows)
        count = count + ops.cast(changed, "float32")
        variable.assign(ops.concatenate([count[None], ops.reshape(rows, (-1,))]))

    def logs(self):
        return {"d_lr": self._d_lr, "d_rank": self._signal}

    def read_changes(self, since=0):
        """The changes made since the `since`-th (host side: one transfer):
        `(count, [dict of FIELDS])`, the oldest lost past `SLOTS`; each
        `reason` is `"ahead"`, `"floor"` or `"calm"`."""
        values = ops.convert_to_numpy(self.refs.changes.values)
        count = int(values[0])
        rows = values[1:].reshape(self.SLOTS, len(self.FIELDS))
        first = max(since, count - self.SLOTS)
        found = []
        for i in range(first, count):
            change = dict(
                zip(self.FIELDS, map(float, rows[i % self.SLOTS]), strict=True)
            )
            change["reason"] = self.REASONS.get(change["reason"], "calm")
            found.append(change)
        return count, found

    def describe(self, change):
        """A sentence for a change from `read_changes`."""
        if change["reason"] == "ahead":
            return (
                f"D ranked reals above fakes {change['signal']:.1%} of the time over "
                f"{self.patience} steps (target {self.target:.0%})"
            )
        if change["reason"] == "floor":
            return (
                f"D's loss within {change['excess']:.3g} of its floor "
                f"{self._floor:.3g} for {self.patience} steps while G's did not fall"
            )
        return (
            f"D calm (ranking accuracy {change['signal']:.1%}, below "
            f"{self.recover_below:.0%}); the rate rises, short of any that failed"
        )

    def trace_key(self):
        return (type(self), tuple(sorted(self.get_config().items())), self._floor)

    def get_config(self):
        return {
            **super().get_config(),
            "collapse_below": self.collapse_below,
            "patience": self.patience,
            "factor": self.factor,
            "min_lr": self.min_lr,
            "recover": self.recover,
            "smoothing": self.smoothing,
            "floor": self.floor,
            "target": self.target,
            "recover_below": self.recover_below,
            "warmup": self.warmup,
        }
