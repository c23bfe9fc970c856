"""The rule of `DiscriminatorLRBalancer`, as pure functions in `keras.ops`.

Each function maps the controller's state and one step's inputs to the new
state and a decision, with no side effects: no variable is read or
assigned, so the rule runs inside a compiled step on every backend, and
step by step on NumPy values in tests. `balancer_rule` composes them; the
trick (`balancer.py`) only reads its state from, and writes it back to,
its `ScalarState` layers, sets D's rate and logs the changes.

The state is two dicts of float32 scalars, keyed by `STATE` and `CONTROL`
(the names of the saved `ScalarState` values). The rate is held as
`base * scale`: `base` is the rate the balancer started from (1 for a
`ScaledSchedule`, whose schedule gives the unscaled rate) and `scale` the
factor the balancer applies to it.
"""

from typing import Any, NamedTuple

from keras import ops

from keras_gan_tricks.tricks.signals import feedback_window

#: The smoothed losses, the loss rule's streaks and the rate's scale.
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
#: The feedback loop's window, the lowest scale that failed, the last
#: decision and the current run of lowerings.
CONTROL = ("total", "count", "signal", "upper", "last", "since", "run", "level")
#: How far two lowerings in a row must bring the signal down from where
#: the first found it for a third to be tried.
FUTILE_BELOW = 0.01
#: Windows after a lowering in which the signal lowers again only if it grew.
COOLDOWN = 2
#: `reason` codes of a decision: D ahead by the signal, D's loss at its
#: floor, D calm.
AHEAD, FLOOR, CALM = 1.0, 2.0, 3.0


class BalancerConfig(NamedTuple):
    """The balancer's settings as the rule reads them (the arguments of
    `DiscriminatorLRBalancer`, with `floor` resolved: D's loss floor, or
    None to use the signal alone). `scheduled`: the rate comes from a
    `ScaledSchedule`, so `base` is 1 and the unscaled rate changes."""

    collapse_below: float
    patience: int
    factor: float
    recover: float | None
    smoothing: float
    floor: float | None
    target: float
    recover_below: float
    warmup: int
    scheduled: bool = False
    futile_below: float = FUTILE_BELOW
    cooldown: int = COOLDOWN


class BalancerInputs(NamedTuple):
    """One step's inputs: the step number, D's and G's losses, D's rate now
    (`lr`, float32), whether the step was applied (`finite`), D's ranking
    accuracy on the step's batch (`rank`; None without D's logits: only
    the loss rule lowers the rate) and the lowest rate D's may take
    (`min_lr`)."""

    step: Any
    d_loss: Any
    g_loss: Any
    lr: Any
    finite: Any = True
    rank: Any = None
    min_lr: Any = 0.0


class BalancerDecision(NamedTuple):
    """What a step decided: the rate before (`old_lr`) and after
    (`new_lr`), whether it changed (`changed`), why (`reason`: `AHEAD`,
    `FLOOR` or `CALM`; meaningful where `changed`), the last window's mean
    (`signal`) and how far D's smoothed loss sits above its floor
    (`excess`, 0 without a floor)."""

    old_lr: Any
    new_lr: Any
    changed: Any
    reason: Any
    signal: Any
    excess: Any


def rate_now(state, lr, scheduled):
    """D's rate as `(base, scale, unscaled, lr)`: the starting rate, the
    balancer's factor, the rate the factor applies to, and the current
    rate (on the first step: `lr` as the start, factor 1)."""
    fresh = ops.equal(state["initialized"], 0.0)
    unit = ops.ones((), "float32")
    base = ops.where(fresh, unit if scheduled else lr, state["base_lr"])
    scale = ops.where(fresh, unit, state["scale"])
    if not scheduled:
        return base, scale, base, lr
    unscaled = lr / scale
    return base, scale, unscaled, unscaled * scale


def loss_rule(state, d_loss, g_loss, config):
    """The loss-at-floor rule: D is ahead when its smoothed loss has stayed
    within `collapse_below` of `config.floor` for `patience` steps while
    G's smoothed loss did not fall by a tenth of its value.

    Returns `(new, excess, collapsed, at_floor)`: the new `ema_d`, `ema_g`,
    `g_reference` and `collapse_streak` (a dict), D's smoothed loss minus
    its floor, whether it is within `collapse_below` of it, and whether the
    rule fires. Without a floor the rule never fires and its streak and
    reference stay 0.
    """
    smooth = ops.where(state["seen"] > 0, config.smoothing, 0.0)
    ema_d = smooth * state["ema_d"] + (1 - smooth) * d_loss
    ema_g = smooth * state["ema_g"] + (1 - smooth) * g_loss
    zero = ops.zeros((), "float32")
    no = ops.zeros((), "bool")
    new = {"ema_d": ema_d, "ema_g": ema_g, "g_reference": zero, "collapse_streak": zero}
    if config.floor is None:
        return new, zero, no, no
    excess = ema_d - config.floor
    collapsed = excess < config.collapse_below
    streak = ops.where(collapsed, state["collapse_streak"] + 1, 0.0)
    # G's reference: its smoothed loss when D's first reached the floor.
    began = ops.logical_and(collapsed, ops.equal(state["collapse_streak"], 0.0))
    g_reference = ops.where(began, ema_g, state["g_reference"])
    fire = ops.logical_and(collapsed, streak >= config.patience)
    # G's loss has not fallen meaningfully: G is not catching up.
    stuck = ema_g >= g_reference - 0.1 * ops.abs(g_reference)
    new["g_reference"] = g_reference
    new["collapse_streak"] = ops.where(fire, 0.0, streak)
    return new, excess, collapsed, ops.logical_and(fire, stuck)


def signal_rule(control, rank, counted, step, collapsed, config):
    """The ranking-accuracy rule: `rank` (weighted by `counted`) into the
    window; at the end of each `patience` steps with something counted, D
    is ahead when the window's mean is above `target` (within `cooldown`
    windows of a lowering, only if the mean also grew) and calm when it is
    below `recover_below` and D's loss is off its floor.

    Returns `(window, due, mean, ahead, calm, since)`: the new
    `(total, count, signal)`, whether a window ended, its mean, the two
    verdicts and the windows since the last lowering (before this step's).
    """
    window = (control["total"], control["count"], control["signal"])
    weight = ops.cast(counted, "float32")
    due, mean, _, window = feedback_window(window, rank, weight, step, config.patience)
    ahead = ops.logical_and(due, mean > config.target)
    # D's lead outlasts a lowering for a while: within `cooldown` windows
    # of one, lower again only if the lead still grew.
    waited = control["since"] >= config.cooldown
    ahead = ops.logical_and(ahead, ops.logical_or(waited, mean > control["signal"]))
    since = ops.where(due, control["since"] + 1, control["since"])
    calm = ops.logical_and(due, mean < config.recover_below)
    calm = ops.logical_and(calm, ops.logical_not(collapsed))
    return window, due, mean, ahead, calm, since


def lowering_run(control, due, mean, ahead, at_floor, config):
    """The run of lowerings in a row (by either rule): once two have left
    the signal where the first found it (within `futile_below`), neither
    rule lowers the rate until the signal falls to `target`, which ends
    the run.

    Returns `(ahead, at_floor, run, level)`: the verdicts, vetoed where
    futile, the run's length and the signal its first lowering found (0:
    none measured yet).
    """
    now = ops.where(due, mean, control["signal"])
    # (A level of 0: the run began before any window was measured.)
    unset = ops.logical_and(due, ops.equal(control["level"], 0.0))
    level = ops.where(unset, mean, control["level"])
    futile = ops.logical_and(control["run"] >= 2, level > 0.0)
    futile = ops.logical_and(futile, now >= level - config.futile_below)
    ahead = ops.logical_and(ahead, ops.logical_not(futile))
    at_floor = ops.logical_and(at_floor, ops.logical_not(futile))
    fallen = ops.logical_and(due, mean <= config.target)
    run = ops.where(fallen, 0.0, control["run"])
    lowers = ops.logical_or(ahead, at_floor)
    first = ops.logical_and(lowers, ops.equal(run, 0.0))
    level = ops.where(first, now, level)
    run = ops.where(lowers, run + 1, run)
    return ahead, at_floor, run, level


def calm_by_loss(balance, excess, collapsed, config):
    """Without the signal, D is calm once its smoothed loss has stayed
    `2 * collapse_below` above its floor for `patience` steps. Returns
    `(balance, calm)`: the new streak and the verdict."""
    off_floor = ops.logical_and(
        ops.logical_not(collapsed), excess > 2 * config.collapse_below
    )
    balance = ops.where(off_floor, balance + 1, 0.0)
    calm = ops.logical_and(off_floor, balance >= config.patience)
    return ops.where(calm, 0.0, balance), calm


def next_scale(scale, control, reduce, calm, unscaled, min_lr, config):
    """The rate's next factor: times `factor` where `reduce` (never below
    `min_lr`, nor above 1), times `recover` where `calm` (at most 1, and
    at most `sqrt(factor)` times the lowest factor that failed, `upper`),
    if that raises it by more than 1%.

    A factor failed when a lowering follows a decision that held or raised
    it (`last` is not 1): the lowerings that follow in a row answer the
    same failure. Returns `(new_scale, upper, last)`; `last` is 1 for a
    lowering, -1 for a rise, 0 for a calm window that held the rate.
    """
    upper = control["upper"]
    lowered = ops.minimum(scale * config.factor, 1.0)
    floor_scale = ops.where(unscaled > 0, min_lr / ops.maximum(unscaled, 1e-30), 0.0)
    lowered = ops.maximum(lowered, ops.minimum(scale, floor_scale))
    failed = ops.logical_and(reduce, ops.not_equal(control["last"], 1.0))
    upper = ops.where(
        failed, ops.where(upper > 0, ops.minimum(upper, scale), scale), upper
    )
    raised = ops.minimum(scale * (config.recover or 1.0), 1.0)
    ceiling = upper * config.factor**0.5
    raised = ops.where(upper > 0, ops.minimum(raised, ceiling), raised)
    rise = ops.logical_and(calm, raised > scale * 1.01)
    new_scale = ops.where(reduce, lowered, ops.where(rise, raised, scale))
    held = ops.where(ops.logical_or(reduce, calm), 0.0, control["last"])
    last = ops.where(reduce, 1.0, ops.where(rise, -1.0, held))
    return new_scale, upper, last


def balancer_rule(state, control, inputs, config):
    """One step of the balancer: `(state, control, inputs, config) ->
    (state, control, decision)`.

    `state` and `control` are dicts of float32 scalars keyed by `STATE` and
    `CONTROL`, `inputs` a `BalancerInputs`, `config` a `BalancerConfig`.
    A step that was not applied (`finite` false, or a non-finite loss)
    leaves every value but the signal's window as it was (and counts
    nothing into the window). The new rate is `decision.new_lr`.
    """
    base, scale, unscaled, lr_now = rate_now(state, inputs.lr, config.scheduled)
    d_loss = ops.cast(inputs.d_loss, "float32")
    g_loss = ops.cast(inputs.g_loss, "float32")
    ok = ops.logical_and(
        ops.cast(inputs.finite, "bool"),
        ops.logical_and(ops.isfinite(d_loss), ops.isfinite(g_loss)),
    )
    losses, excess, collapsed, at_floor = loss_rule(state, d_loss, g_loss, config)
    balance = state["balance_streak"]
    ahead = ops.zeros((), "bool")
    if inputs.rank is not None and config.target < 1.0:
        # The signal counts from `warmup` on: D tells a fresh G's noise apart.
        counted = ops.logical_and(ok, ops.cast(inputs.step, "int32") > config.warmup)
        window, due, mean, ahead, calm, since = signal_rule(
            control, inputs.rank, counted, inputs.step, collapsed, config
        )
        ahead, at_floor, run, level = lowering_run(
            control, due, mean, ahead, at_floor, config
        )
    else:
        window = (control["total"], control["count"], control["signal"])
        since, run, level = control["since"], control["run"], control["level"]
        balance, calm = calm_by_loss(balance, excess, collapsed, config)
    if config.recover in (None, 1.0):
        calm = ops.zeros((), "bool")
    reduce = ops.logical_or(ahead, at_floor)
    new_scale, upper, last = next_scale(
        scale, control, reduce, calm, unscaled, inputs.min_lr, config
    )
    since = ops.where(reduce, 0.0, since)

    def kept(new, old):  # a step not applied changes nothing
        return ops.where(ok, new, old)

    new_state = {"initialized": ops.ones((), "float32"), "base_lr": base}
    new_state["scale"] = kept(new_scale, scale)
    stepped = {**losses, "balance_streak": balance, "seen": state["seen"] + 1}
    new_state.update({k: kept(v, state[k]) for k, v in stepped.items()})
    new_control = dict(zip(("total", "count", "signal"), window, strict=True))
    decided = {"upper": upper, "last": last, "since": since, "run": run, "level": level}
    new_control.update({k: kept(v, control[k]) for k, v in decided.items()})
    reason = ops.where(ahead, AHEAD, ops.where(at_floor, FLOOR, CALM))
    decision = BalancerDecision(
        old_lr=lr_now,
        new_lr=unscaled * new_state["scale"],
        changed=ops.logical_and(ok, ops.not_equal(new_scale, scale)),
        reason=reason,
        signal=window[2],
        excess=excess,
    )
    return new_state, new_control, decision
