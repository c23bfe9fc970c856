"""`balancer_rule` step by step against a NumPy model of the balancer.

The model is written from `DiscriminatorLRBalancer`'s description, in
plain Python with float32 arithmetic; the rule runs through `keras.ops`
on the session's backend (compiled where the backend compiles). Every
scenario asserts that both keep the same state, rate and decision at every
step.
"""

import math

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

import keras_gan_tricks as kgt
from keras_gan_tricks.tricks.balancer_rule import (
    CONTROL,
    STATE,
    BalancerConfig,
    BalancerInputs,
    balancer_rule,
)

f32 = np.float32


class BalancerModel:
    """The balancer's rule in plain Python (float32, like the variables).

    `step(...)` takes one step's inputs and returns the decision as a dict
    (`old_lr`, `new_lr`, `changed`, `reason`, `signal`, `excess`); the
    state is in `state` and `control`, under the saved names.
    """

    def __init__(self, config):
        self.config = config
        self.state = dict.fromkeys(STATE, f32(0))
        self.control = dict.fromkeys(CONTROL, f32(0))

    def step(self, step, d_loss, g_loss, lr, finite=True, rank=None, min_lr=0.0):
        cfg, s, c = self.config, dict(self.state), dict(self.control)
        d_loss, g_loss, lr = f32(d_loss), f32(g_loss), f32(lr)
        applied = bool(finite) and math.isfinite(d_loss) and math.isfinite(g_loss)
        # D's rate is base * scale; a schedule's rate is the schedule's * scale.
        if s["initialized"] == 0:
            base, scale = (f32(1) if cfg.scheduled else lr), f32(1)
        else:
            base, scale = s["base_lr"], s["scale"]
        unscaled = lr / scale if cfg.scheduled else base
        old_lr = unscaled * scale if cfg.scheduled else lr

        ema_d, ema_g = self.smoothed(s, d_loss, g_loss)
        excess, collapsed, at_floor = f32(0), False, False
        streak, reference = f32(0), f32(0)
        if cfg.floor is not None:
            excess = ema_d - f32(cfg.floor)
            collapsed = bool(excess < f32(cfg.collapse_below))
            streak, reference = f32(0), s["g_reference"]
            if collapsed:
                if s["collapse_streak"] == 0:
                    reference = ema_g  # where G's loss was as D's reached the floor
                streak = s["collapse_streak"] + f32(1)
            if collapsed and streak >= cfg.patience:
                # ... and G's has not fallen by a tenth since.
                at_floor = bool(ema_g >= reference - f32(0.1) * abs(reference))
                streak = f32(0)

        window = [c["total"], c["count"], c["signal"]]
        balance, since, run, level = (
            s["balance_streak"],
            c["since"],
            c["run"],
            c["level"],
        )
        ahead = calm = False
        if rank is not None and cfg.target < 1.0:
            if applied and step > cfg.warmup:
                window[0] += f32(rank)
                window[1] += f32(1)
            due = step % cfg.patience == 0 and window[1] > 0
            mean = window[0] / window[1] if due else None
            now = mean if due else c["signal"]
            if due:
                window = [f32(0), f32(0), mean]
                since += 1
                if level == 0:
                    level = mean
                calm = mean < f32(cfg.recover_below) and not collapsed
                ahead = mean > f32(cfg.target)
                if c["since"] < cfg.cooldown and not mean > c["signal"]:
                    ahead = False  # just lowered: only a lead still growing counts
            futile = (
                c["run"] >= 2 and level > 0 and now >= level - f32(cfg.futile_below)
            )
            if futile:
                ahead = at_floor = False
            if due and mean <= f32(cfg.target):
                run = f32(0)
            if ahead or at_floor:
                if run == 0:
                    level = now
                run += 1
        else:
            off_floor = not collapsed and excess > f32(2 * cfg.collapse_below)
            balance = balance + f32(1) if off_floor else f32(0)
            calm = off_floor and balance >= cfg.patience
            if calm:
                balance = f32(0)
        if cfg.recover in (None, 1.0):
            calm = False

        new_scale, upper, last = scale, c["upper"], c["last"]
        if ahead or at_floor:
            if last != 1:  # it held or rose since the last lowering: it failed
                upper = scale if upper == 0 else min(upper, scale)
            lowest = f32(min_lr) / max(unscaled, f32(1e-30)) if unscaled > 0 else 0
            new_scale = max(min(scale * f32(cfg.factor), f32(1)), min(scale, lowest))
            last, since = f32(1), f32(0)
        elif calm:
            raised = min(scale * f32(cfg.recover), f32(1))
            if upper > 0:
                raised = min(raised, upper * f32(math.sqrt(cfg.factor)))
            if raised > scale * f32(1.01):
                new_scale, last = raised, f32(-1)
            else:
                last = f32(0)

        self.control["total"], self.control["count"], self.control["signal"] = window
        self.state["initialized"], self.state["base_lr"] = f32(1), base
        self.state["scale"] = scale
        if applied:
            self.state.update(
                scale=new_scale, ema_d=ema_d, ema_g=ema_g, g_reference=reference,
                collapse_streak=streak, balance_streak=balance,
                seen=s["seen"] + f32(1),
            )  # fmt: skip
            self.control.update(upper=upper, last=last, since=since, run=run)
            self.control["level"] = level
        reason = 1.0 if ahead else 2.0 if at_floor else 3.0
        return {
            "old_lr": old_lr,
            "new_lr": unscaled * self.state["scale"],
            "changed": applied and new_scale != scale,
            "reason": reason,
            "signal": window[2],
            "excess": excess,
        }

    def smoothed(self, s, d_loss, g_loss):
        smooth = f32(self.config.smoothing) if s["seen"] > 0 else f32(0)
        ema_d = smooth * s["ema_d"] + (f32(1) - smooth) * d_loss
        ema_g = smooth * s["ema_g"] + (f32(1) - smooth) * g_loss
        return ema_d, ema_g


def config(**kwargs):
    defaults = dict(
        collapse_below=0.1,
        patience=5,
        factor=0.5,
        recover=2.0,
        smoothing=0.9,
        floor=None,
        target=0.8,
        recover_below=0.65,
        warmup=0,
    )
    return BalancerConfig(**{**defaults, **kwargs})


def compiled(cfg):
    """`balancer_rule` under `cfg`, compiled where the backend compiles."""

    def step(state, control, inputs):
        return balancer_rule(state, control, inputs, cfg)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(step)
    if backend == "jax":
        import jax

        return jax.jit(step)
    return step


def step_of(rank=None, d_loss=1.3, g_loss=0.7, finite=True, min_lr=0.0):
    """One step's inputs (D's ranking accuracy, the losses)."""
    return dict(rank=rank, d_loss=d_loss, g_loss=g_loss, finite=finite, min_lr=min_lr)


def windows(ranks, patience=5, **kwargs):
    """`patience` steps at each rank in turn."""
    return [step_of(rank, **kwargs) for rank in ranks for _ in range(patience)]


def run_both(cfg, steps, lr=1e-2, schedule=None):
    """Drives `balancer_rule` and the model over `steps`, asserting they agree
    at every step; returns the model's rate and decision after each step.
    `schedule`: the unscaled rate at a step (with `cfg.scheduled`)."""
    model, rule = BalancerModel(cfg), compiled(cfg)
    state = {k: ops.zeros((), "float32") for k in STATE}
    control = {k: ops.zeros((), "float32") for k in CONTROL}
    rule_lr = model_lr = f32(lr)
    trace = []
    for step, x in enumerate(steps, 1):
        if schedule is not None:  # what D's optimizer reports: schedule * scale
            rule_lr = f32(schedule(step)) * scale_of(ops.convert_to_numpy, state)
            model_lr = f32(schedule(step)) * scale_of(f32, model.state)
        rank = None if x["rank"] is None else ops.convert_to_tensor(f32(x["rank"]))
        inputs = BalancerInputs(
            step=ops.convert_to_tensor(step, "int32"),
            d_loss=ops.convert_to_tensor(f32(x["d_loss"])),
            g_loss=ops.convert_to_tensor(f32(x["g_loss"])),
            lr=ops.convert_to_tensor(f32(rule_lr)),
            finite=ops.convert_to_tensor(x["finite"]),
            rank=rank,
            min_lr=ops.convert_to_tensor(f32(x["min_lr"])),
        )
        state, control, decision = rule(state, control, inputs)
        want = model.step(step, lr=model_lr, **x)
        got = {k: ops.convert_to_numpy(v) for k, v in decision._asdict().items()}
        where = f"step {step}"
        for name in STATE:
            close(state[name], model.state[name], f"{where}: state {name}")
        for name in CONTROL:
            close(control[name], model.control[name], f"{where}: control {name}")
        for name in ("old_lr", "new_lr", "signal", "excess"):
            close(got[name], want[name], f"{where}: {name}")
        assert bool(got["changed"]) == want["changed"], where
        if want["changed"]:
            assert float(got["reason"]) == want["reason"], where
        rule_lr, model_lr = got["new_lr"], want["new_lr"]
        trace.append((float(want["new_lr"]), want))
    return trace


def scale_of(convert, state):
    scale = float(convert(state["scale"]))
    return f32(scale if float(convert(state["initialized"])) > 0 else 1.0)


def close(got, want, what):
    np.testing.assert_allclose(
        ops.convert_to_numpy(got), want, rtol=2e-6, atol=1e-9, err_msg=what
    )


def at_ends(trace, patience=5):
    """The rates at the end of each window."""
    return [rate for rate, _ in trace[patience - 1 :: patience]]


def test_d_ahead_is_lowered_then_calm_is_raised_up_to_the_ceiling():
    steps = windows([1.0] * 3 + [0.9] * 3 + [0.7] * 4 + [0.5] * 6 + [0.7] * 4)
    trace = run_both(config(), steps)
    rates = at_ends(trace)
    # Halved, then again after the cooldown; held in the band; raised
    # while calm, up to sqrt(1/2) of the rate that failed (1e-2), then held.
    assert rates[:10] == pytest.approx([5e-3] * 3 + [2.5e-3] * 7)
    ceiling = 1e-2 * 0.5**0.5
    assert rates[10:] == pytest.approx([5e-3, ceiling] + [ceiling] * 8)
    changes = [d for _, d in trace if d["changed"]]
    assert [d["reason"] for d in changes] == [1.0, 1.0, 3.0, 3.0]


def test_a_futile_pair_of_lowerings_is_the_last_until_the_signal_falls():
    steps = windows([1.0] * 12 + [0.75, 0.9, 0.9, 0.95, 0.95, 0.95, 0.95])
    rates = at_ends(run_both(config(), steps))
    assert rates[:12] == pytest.approx([5e-3] * 3 + [2.5e-3] * 9)
    # The signal fell to the target: a new lead is answered again, once
    # more as it grows within the cooldown, then the pair is futile again.
    assert rates[12:] == pytest.approx([2.5e-3, 1.25e-3, 1.25e-3] + [6.25e-4] * 4)


def test_the_loss_at_floor_rule_fires_only_while_g_does_not_catch_up():
    cfg = config(floor=0.0, patience=4, target=1.0)  # the signal off
    stuck = [
        step_of(0.95, d_loss=0.01 * (1 + i % 3), g_loss=2.0 + 0.05 * (i % 2))
        for i in range(12)
    ]
    # G's smoothed loss falls by about 15% in a window: G is catching up.
    caught = [step_of(0.95, d_loss=0.01, g_loss=0.84)] * 4
    falling = [step_of(0.95, d_loss=0.01, g_loss=1.5 - 0.5 * i) for i in range(8)]
    # Off the floor for `patience` steps: calm, raised back.
    off = [
        step_of(0.95, d_loss=0.9 + 0.1 * math.sin(i), g_loss=1.0 + 0.2 * math.cos(i))
        for i in range(30)
    ]
    trace = run_both(cfg, stuck + caught + falling + off)
    rates = [rate for rate, _ in trace]
    assert rates[3] == pytest.approx(5e-3) and rates[7] == pytest.approx(2.5e-3)
    assert rates[11] == pytest.approx(1.25e-3)
    assert rates[23] == pytest.approx(1.25e-3)
    assert {d["reason"] for _, d in trace[:24] if d["changed"]} == {2.0}
    assert rates[-1] > 1.25e-3
    assert {d["reason"] for _, d in trace[24:] if d["changed"]} == {3.0}


def test_both_rules_together_and_the_signal_vetoing_a_futile_floor():
    cfg = config(floor=0.3, patience=5, collapse_below=0.05)
    at_floor = [step_of(0.9, d_loss=0.31, g_loss=1.5) for _ in range(60)]
    back = windows([0.5] * 6, d_loss=0.8)
    trace = run_both(cfg, at_floor + back)
    reasons = [d["reason"] for _, d in trace if d["changed"]]
    # Both fire at the first window (the signal's reason is logged); the
    # floor alone within the cooldown; then the pair is futile for both.
    assert reasons[:2] == [1.0, 2.0] and set(reasons[2:]) == {3.0}
    assert [rate for rate, _ in trace][59] == pytest.approx(2.5e-3)


def test_a_scheduled_rate_is_scaled_and_followed():
    cfg = config(scheduled=True, target=0.9, recover_below=0.7)

    def schedule(step):
        return 1e-2 * 0.97**step

    steps = windows([1.0] * 4 + [0.8] * 2 + [0.5] * 6 + [0.95] * 3)
    trace = run_both(cfg, steps, lr=schedule(1), schedule=schedule)
    scales = [d["new_lr"] / f32(schedule(i)) for i, (_, d) in enumerate(trace, 1)]
    assert scales[4] == pytest.approx(0.5, rel=1e-5)
    assert min(scales) == pytest.approx(0.25, rel=1e-5)
    assert scales[-1] < scales[-16]


def test_steps_not_applied_keep_the_state():
    bad = [step_of(1.0, finite=False), step_of(1.0, d_loss=math.nan)]
    bad += [step_of(1.0, g_loss=math.inf)]
    steps = windows([1.0] * 2) + bad * 5 + windows([1.0] * 4) + windows([0.5] * 4)
    # A window that ends on a step not applied: its mean is taken (and
    # logged) but decides nothing.
    steps += [step_of(0.95)] * 4 + [step_of(0.95, finite=False)]
    steps += windows([0.5] * 2) + [step_of(0.5, finite=False)] * 7
    trace = run_both(config(), steps)
    rates = [rate for rate, _ in trace]
    assert rates[10:25] == [rates[9]] * 15
    assert trace[69][1]["signal"] == pytest.approx(0.95)
    assert rates[69] == rates[68]


def test_min_lr_bounds_every_lowering_and_may_move():
    steps = windows([1.0] * 6, min_lr=3e-3) + windows([0.7] + [1.0] * 5, min_lr=1e-3)
    steps += windows([0.7, 0.95, 0.95, 0.96, 0.97, 0.98], min_lr=4e-3)
    rates = at_ends(run_both(config(), steps))
    assert rates[3] == pytest.approx(3e-3) and rates[7] == pytest.approx(1.5e-3)
    assert rates[10] == pytest.approx(1e-3)
    # A bound above the rate: a lowering holds the rate, never raises it.
    assert rates[12:] == pytest.approx([1e-3] * 6)


def test_the_ceiling_closes_in_on_a_rate_that_failed():
    cfg = config(patience=4, factor=0.5, recover=1.5)
    rounds = [1.0] * 3 + [0.6] * 8
    trace = run_both(cfg, windows(rounds * 5, patience=4))
    rates = at_ends(trace, patience=4)
    tops = [max(rates[i * 11 : (i + 1) * 11]) for i in range(5)]
    # Each round fails at the last ceiling: the next is sqrt(1/2) lower.
    assert tops == pytest.approx([1e-2 * 0.5 ** (k / 2) for k in range(1, 6)])


def test_warmup_and_uncounted_steps_and_no_recover():
    cfg = config(warmup=7, recover=None, patience=3)
    steps = windows([1.0] * 4 + [0.5] * 4, patience=3)
    rates = at_ends(run_both(cfg, steps), patience=3)
    assert rates[:2] == pytest.approx([1e-2, 1e-2]) and rates[2] < 1e-2
    assert rates[-1] == pytest.approx(min(rates))  # never raised


def test_without_the_signal_the_loss_decides_calm():
    cfg = config(floor=0.0, patience=3)
    steps = [step_of(None, d_loss=0.0, g_loss=1.0) for _ in range(9)]
    steps += [step_of(None, d_loss=1.0, g_loss=1.0) for _ in range(30)]
    trace = run_both(cfg, steps)
    reasons = [d["reason"] for _, d in trace if d["changed"]]
    assert reasons[0] == 2.0 and reasons[-1] == 3.0


steps_strategy = st.lists(
    st.tuples(
        st.sampled_from([None, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 1.0]),
        st.sampled_from([0.0, 0.05, 0.3, 0.8, 1.3, math.nan]),
        st.sampled_from([0.2, 0.7, 1.0, 2.0]),
        st.booleans(),
    ),
    min_size=10,
    max_size=20,
)


@settings(deadline=None, max_examples=6)
@given(
    steps=steps_strategy,
    repeat=st.integers(1, 6),
    signal=st.booleans(),
    floor=st.sampled_from([None, 0.0, 0.25]),
    patience=st.integers(1, 4),
    factor=st.sampled_from([0.3, 0.5]),
    recover=st.sampled_from([None, 1.0, 2.0]),
    min_lr=st.sampled_from([0.0, 1e-3]),
)
def test_random_sequences_agree(
    steps, repeat, signal, floor, patience, factor, recover, min_lr
):
    cfg = config(
        floor=floor, patience=patience, factor=factor, recover=recover, warmup=2
    )
    sequence = [
        step_of(
            rank if signal else None,
            d_loss=d_loss,
            g_loss=g_loss,
            finite=bool(finite or i % 3),
            min_lr=min_lr,
        )
        for rank, d_loss, g_loss, finite in steps
        for i in range(repeat)
    ]
    run_both(cfg, sequence)


def logits(rank):
    """Real and fake logits D ranks right `rank` (1 or 1/2) of the time."""
    real = np.array([1.0, 1.0, 1.0, 1.0] if rank == 1 else [1.0, 1.0, -1.0, -1.0])
    return real.astype("float32"), np.zeros(4, "float32")


def test_the_trick_writes_the_rules_rate_and_logs_its_changes():
    """The Keras plumbing around the rule: D's optimizer's rate and the
    change log follow the model."""
    trick = kgt.tricks.DiscriminatorLRBalancer(patience=2, warmup=0, min_lr=1e-3)
    optimizer = keras.optimizers.Adam(1e-2)
    trick.bind_optimizer(optimizer, *trick.new_state(), floor=None)
    model = BalancerModel(trick.rule_config())
    lr, changes = 1e-2, []
    for step, rank in enumerate([1.0] * 10 + [0.5, 1.0] + [0.5] * 12, 1):
        trick.control(step, 1.3, 0.7, True, *logits(rank))
        want = model.step(step, 1.3, 0.7, lr=lr, rank=rank)
        lr = want["new_lr"]
        assert trick.current_lr() == pytest.approx(float(lr), rel=1e-6)
        if want["changed"]:
            changes.append(want)
    count, logged = trick.read_changes()
    assert count == len(changes) > 2
    for change, want in zip(logged, changes, strict=True):
        assert change["new_lr"] == pytest.approx(float(want["new_lr"]), rel=1e-6)
        assert change["old_lr"] == pytest.approx(float(want["old_lr"]), rel=1e-6)
        assert change["reason"] == trick.REASONS[want["reason"]]
