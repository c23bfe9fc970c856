"""D's learning-rate balancer."""

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._utils import check_int, check_number, register
from keras_gan_tricks.tricks import balancer_rule as rule
from keras_gan_tricks.tricks.alarms import Alarm, ahead
from keras_gan_tricks.tricks.balancer_rule import (
    BalancerConfig,
    BalancerInputs,
    balancer_rule,
)
from keras_gan_tricks.tricks.base import Refs, Trick
from keras_gan_tricks.tricks.signals import ranking_accuracy
from keras_gan_tricks.tricks.state import ScalarState

BALANCER_STATE = "lr_balancer"
BALANCER_CHANGES = "lr_balancer_changes"
BALANCER_CONTROL = "lr_balancer_control"
# D's ranking accuracy that counts as D telling real from fake every time.
CERTAIN = 0.98
# The fewest steps before the alarms look (see `alarm`).
ALARM_AFTER = 50


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
      `patience` steps while G's did not fall (the loss rule). Then D's
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

    STATE = rule.STATE
    #: The feedback loop's state: the window (sum and weight of the signal,
    #: the last window's mean), the lowest scale that failed (0: none),
    #: the last decision (1 lowered, -1 raised, 0 held),
    #: the windows since the last lowering, and the signal's lowerings in
    #: a row with the level the first of them found.
    CONTROL = rule.CONTROL
    #: How far two lowerings in a row must bring the signal down from where
    #: the first found it for a third to be tried.
    FUTILE_BELOW = rule.FUTILE_BELOW
    #: Windows after a lowering in which the signal lowers again only if
    #: it grew.
    COOLDOWN = rule.COOLDOWN
    #: Changes kept between reads: [count, then per slot the FIELDS].
    SLOTS = 32
    FIELDS = ("step", "old_lr", "new_lr", "reason", "signal", "excess")
    REASONS = {rule.AHEAD: "ahead", rule.FLOOR: "floor", rule.CALM: "calm"}

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
        # The step's ranking accuracy, shared with every trick that reads it.
        rank = outcome.signal("ranking") if self.target < 1.0 else None
        self.control(
            outcome.step, outcome.d_loss, outcome.g_loss, outcome.finite, rank=rank
        )

    def control(
        self,
        step,
        d_loss,
        g_loss,
        finite=True,
        real_logits=None,
        fake_logits=None,
        rank=None,
    ):
        """One step of the controller (in-step, or eagerly for other models).
        `rank`: D's ranking accuracy on the step's logits, or None to compute
        it from `real_logits` and `fake_logits`. Without either only the
        loss rule lowers the rate, and D is calm once its loss has stayed
        `2 * collapse_below` above the floor for `patience` steps. The rule
        itself is `balancer_rule`."""
        refs = self.refs
        # A copy: on PyTorch the variable's tensor changes when it is assigned.
        lr = ops.copy(
            ops.cast(ops.convert_to_tensor(refs.optimizer.learning_rate), "float32")
        )
        if self.target >= 1.0:
            rank = None  # the signal is off
        elif rank is None and real_logits is not None:
            rank = ranking_accuracy(real_logits, fake_logits)
        inputs = BalancerInputs(
            step, d_loss, g_loss, lr, finite, rank, min_lr=self._min_lr()
        )
        state, control, decision = balancer_rule(
            refs.state.unstack(), refs.control.unstack(), inputs, self.rule_config()
        )
        refs.state.assign_from(state)
        refs.control.assign_from(control)
        if refs.schedule is None:
            refs.lr.assign(ops.cast(decision.new_lr, refs.lr.dtype))
        entry = (step, decision.old_lr, decision.new_lr, decision.reason)
        self._record(decision.changed, (*entry, decision.signal, decision.excess))
        self._d_lr = decision.new_lr
        self._signal = decision.signal

    def rule_config(self):
        """The settings as `balancer_rule` reads them (a `BalancerConfig`)."""
        return BalancerConfig(
            collapse_below=self.collapse_below,
            patience=self.patience,
            factor=self.factor,
            recover=self.recover,
            smoothing=self.smoothing,
            floor=self._floor,
            target=self.target,
            recover_below=self.recover_below,
            warmup=self.warmup,
            scheduled=self.refs.schedule is not None,
            futile_below=self.FUTILE_BELOW,
            cooldown=self.COOLDOWN,
        )

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

    def fit_begin(self, gan, steps):
        del gan
        self._lowest = float(ops.convert_to_numpy(self._min_lr()))
        # The alarms look after `warmup` and a first window, or after the
        # fit's first twentieth (at least ALARM_AFTER steps) when that is
        # sooner: D at 100x G's rate is said within a tenth of the fit.
        # D at its lowest rate but not certain is said after the first
        # tenth: early on, D leads any G (10% of the digits: from step 80).
        self._quiet_until = self._lowest_after = self.warmup + self.patience
        if steps:
            self._quiet_until = min(self._quiet_until, max(ALARM_AFTER, steps // 20))
            self._lowest_after = max(self._lowest_after, steps // 10)

    def alarm(self, step, logs):
        """D ranking nearly every pair right (`d_certain`), or D clearly
        ahead (a quarter of the way from `target` to 1) with its rate at the
        lowest the balancer may set (`lowest_rate`);
        after `warmup` (a fresh generator's samples are noise that any D
        tells apart) and a first full window, or after the fit's first
        twentieth when that is sooner (never before step 50: on the digits
        a fresh D ranks every pair right for the first 20-40 steps)."""
        rank, lr = logs.get("d_rank"), logs.get("d_lr")
        quiet_until = getattr(self, "_quiet_until", self.warmup + self.patience)
        if self.target >= 1.0 or lr is None or step <= quiet_until:
            return None
        saw = (
            f"D ranks a real sample above a fake one in {rank:.3f} of pairs "
            f"(the balancer's target: {self.target}) with its learning rate at "
            f"{lr:.3g}"
        )
        equal_rates = (
            "if D's learning rate started above G's, train again with D's at "
            "most G's: in the failure atlas (benchmarks/results/failures.md) D "
            "at 100x G's rate ends at FD 31.9 whether or not its rate is "
            "lowered during the run (33.0), the same networks at equal rates "
            "at 10.4"
        )
        if ahead(rank, CERTAIN):
            return Alarm(
                "d_certain",
                saw,
                "D tells real from fake almost always, so G's gradient fades; "
                "the balancer lowers D's rate while it can",
                f"{equal_rates}; with equal rates, weaken D (fewer filters, "
                "dropout, spectral normalization) or hide what it memorises "
                "(DiffAugment: FD 17.6 against vanilla's 58.6 with D's rate 10x G's)",
            )
        lowest = getattr(self, "_lowest", None)
        clearly = self.target + (1.0 - self.target) / 4  # not a wobble at target
        late = step > getattr(self, "_lowest_after", 0)
        if late and lowest and lr <= lowest * 1.001 and ahead(rank, clearly):
            return Alarm(
                "lowest_rate",
                saw + f", the lowest it may set (min_lr: {lowest:.3g})",
                "The balancer can lower D's rate no further",
                f"{equal_rates}; or weaken D (fewer filters, dropout, spectral "
                "normalization), or pass a lower min_lr",
            )
        return None

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
