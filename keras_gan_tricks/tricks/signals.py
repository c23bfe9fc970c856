"""D's signals, computed once per step and shared by the tricks that read
them, and the ADA-style feedback loop built on them."""

from keras import ops

from keras_gan_tricks.losses import per_sample

SIGNALS = ("ranking", "sign")


def ranking_accuracy(real_logits, fake_logits):
    """How often D ranks a real sample above a fake one: the fraction of
    (real, fake) pairs of the batch with `D(x_r) > D(x_f)`, ties counting
    1/2 (the AUC of D's logits). 1/2 when D cannot tell them apart, 1 when
    it separates them completely. It depends only on the logits' order, so
    it means the same under every loss (the least-squares targets, hinge,
    Wasserstein) and label policy (smoothed or noisy targets)."""
    real = per_sample(real_logits)[:, None]
    fake = per_sample(fake_logits)[None, :]
    above = ops.cast(real > fake, "float32") + 0.5 * ops.cast(real == fake, "float32")
    return ops.mean(above)


def sign_of_real(real_logits):
    """ADA's overfitting heuristic `r_t = E[sign(D(x_r))]` (Karras et al.
    2020, eq. 1): 0 when D is unsure of the real samples, 1 when it calls
    every one real. It assumes a logit of 0 is D's boundary (the
    non-saturating and hinge losses with hard labels)."""
    return ops.mean(ops.sign(per_sample(real_logits)))


def discriminator_signal(name, real_logits, fake_logits):
    """The signal `name` (one of `SIGNALS`) of one D update's logits."""
    if name == "ranking":
        return ranking_accuracy(real_logits, fake_logits)
    return sign_of_real(real_logits)


def check_signal(signal):
    if signal not in SIGNALS:
        raise ValueError(
            f"`signal` must be one of {SIGNALS}. Received: signal={signal!r}"
        )
    return signal


def feedback_window(window, value, weight, step, interval):
    """One step of a feedback loop's measuring window (in-step).

    `window` is `(total, count, last)`: the weighted sum of the signal since
    the last decision, its weight, and the last decision's mean. `value` is
    this step's signal, `weight` its weight (0 for a step that was not
    applied). A decision is due on every `interval`-th step with something
    measured. Returns `(due, mean, weight, new_window)`: the mean over the
    window and its total weight (valid where `due`), and the window to keep
    (emptied where `due`, its `last` set to the mean).
    """
    total, count, last = window
    weight = ops.cast(weight, "float32")
    value = ops.where(weight > 0, ops.cast(value, "float32"), 0.0)
    total = total + weight * value
    count = count + weight
    step = ops.cast(step, "int32")
    due = ops.logical_and(ops.equal(ops.mod(step, interval), 0), count > 0)
    mean = total / ops.maximum(count, 1e-12)
    zero = ops.zeros((), "float32")
    new = (
        ops.where(due, zero, total),
        ops.where(due, zero, count),
        ops.where(due, mean, last),
    )
    return due, mean, count, new


def adapt_knob(knob, window, outcome, signal, target, interval, speed, high):
    """One step of an ADA-style loop (in-step): the signal of `outcome`'s
    logits, weighted by the batch's size, into the feedback window held in
    the variable `window`; on each `interval`-th step the variable `knob`
    (in [0, high]) moves by `adaptive_step`."""
    batch = ops.shape(per_sample(outcome.real_logits))[0]
    weight = ops.cast(outcome.finite, "float32") * ops.cast(batch, "float32")
    value = outcome.signal(signal)
    due, mean, count, new = feedback_window(
        ops.unstack(window.value), value, weight, outcome.step, interval
    )
    value = ops.cast(knob.value, "float32")
    knob.assign(adaptive_step(value, due, mean, target, count, speed, high))
    window.assign(ops.stack(new))


def adaptive_step(knob, due, mean, target, weight, speed, high):
    """ADA's update of a knob in [0, high] (Karras et al. 2020, sec. 3):
    where `due`, `knob + sign(mean - target) * high * weight / speed`,
    clipped; `weight` is the number of samples the mean was measured on, so
    the knob crosses its range in `speed` samples at the fastest."""
    move = ops.sign(mean - target) * high * weight / speed
    return ops.where(due, ops.clip(knob + move, 0.0, high), knob)
