"""Alarms: what a controller says when it sits at its bound, and the
callback that listens.

A feedback loop (the balancer, adaptive noise, adaptive augmentation) can
only push its knob so far. When it has pushed it to the end and the signal
it answers still says D is ahead, training is heading into a failure the
trick cannot prevent; `Trick.alarm` says so, in the words of an `Alarm`,
and `kgt.callbacks.Alarms` (in every `kgt.GAN.fit`) turns a lasting alarm
into one warning and an entry in the fit's history.
"""

import numbers
import threading
import warnings

import keras

from keras_gan_tricks._utils import check_int
from keras_gan_tricks.tricks.base import Trick, planned_steps

# The shortest a condition must last, by default, to be said.
MIN_PATIENCE = 20


class TrainingAlarm(UserWarning):
    """The warning of `kgt.callbacks.Alarms`: a controller at its bound, a
    collapse, or a non-finite loss."""


class Alarm:
    """What a controller saw, what it did and what the user should change.

    Args:
        kind: str. A short name of the condition (`"lowest_rate"`,
            `"d_certain"`, `"noise_at_maximum"`, `"augment_at_maximum"`...);
            one warning per source and kind in a fit.
        saw: str. What the controller saw (the signal and the knob, with
            their values).
        did: str. What it did about it.
        change: str. What the user should change, and the evidence.
    """

    def __init__(self, kind, saw, did, change):
        self.kind, self.saw, self.did, self.change = kind, saw, did, change

    def message(self, source, step, steps):
        """The warning's text, for `source` (the trick's name) at `step` of
        the fit, the condition having lasted `steps` steps."""
        return (
            f"{source} ({self.kind}, step {step}, for {steps} steps): "
            f"{self.saw}. {self.did}. What to change: {self.change}"
        )

    def __repr__(self):
        return f"Alarm({self.kind!r}, saw={self.saw!r})"


def ahead(value, target):
    """`value` (a logged signal) above `target`, reading a missing or NaN
    value as not."""
    return value is not None and value == value and value > target


class Alarms(keras.callbacks.Callback):
    """Says, once, when training heads into a failure a trick cannot stop.

    Every `kgt.GAN.fit` runs one (pass your own to change its settings).
    Every `every` steps it asks each of the GAN's tricks for its `alarm`
    (`kgt.tricks.Trick.alarm`): the balancer with D's rate at its lowest
    or D ranking nearly every pair right, adaptive noise or adaptive
    augmentation at its maximum with D still ahead. A condition that lasts
    `patience` steps is said once per fit: a `kgt.tricks.TrainingAlarm`
    warning naming what the trick saw, what it did and what to change
    (from the failure atlas). When the fit ends, every alarm of the fit
    (these, `QualityMonitor`'s collapse alarms, a non-finite loss) is in
    its history: `history.history["alarms"]`, one string per epoch ("" for
    an epoch without), present only when something was said.

    Args:
        every: int >= 1 or None. Steps between looks; None: a 200th of the
            fit's planned steps (at least 1), 10 when Keras does not know
            them.
        patience: int >= 1 or None. Steps a condition must last to be
            said; None: a 50th of the planned steps (at least 20 and
            `every`), 100 when unknown. With the defaults an alarm sounds
            within the first tenth of a fit of 1,000 steps or more when a
            controller reaches its bound in the first twelfth.
        warn: bool. Warn as well as record.

    Attributes:
        raised: the fit's alarms so far, dicts with `epoch` (from 1),
            `step`, `source`, `kind` and `message`.
    """

    def __init__(self, every=None, patience=None, warn=True):
        super().__init__()
        self.every = None if every is None else check_int("every", every, low=1)
        self.patience = (
            None if patience is None else check_int("patience", patience, low=1)
        )
        if not isinstance(warn, bool):
            raise TypeError(f"`warn` must be a bool. Received: warn={warn!r}")
        self.warn = warn
        self.raised = []
        self.sources = []

    @property
    def async_safe(self):
        # It reads only the batches' logs (as StopOnNonFinite: on JAX,
        # Keras's callback thread keeps `fit` from waiting on the steps).
        return keras.backend.backend() == "jax"

    def set_model(self, model):
        super().set_model(model)
        self._gan = model  # not `self.model`: on JAX that syncs the state

    def watch(self, sources):
        """Also reports, in the history, the `alarms` lists of `sources`
        (callbacks such as `QualityMonitor`: dicts with `epoch` from 1 and
        `message`)."""
        self.sources = list(sources)

    def on_train_begin(self, logs=None):
        steps = planned_steps(self.params)
        self._every = self.every or (max(1, steps // 200) if steps else 10)
        patience = self.patience or (max(MIN_PATIENCE, steps // 50) if steps else 100)
        self._patience = max(patience, self._every)
        tricks = getattr(self._gan, "active_tricks", list)()
        self._tricks = [
            t
            for t in tricks
            if isinstance(t, Trick) and type(t).alarm is not Trick.alarm
        ]
        # {trick name: {looked-at step: the alarm's kind or None}}: on JAX
        # the batches' ends run on Keras's callback threads, in any order.
        self._looks, self._said, self.raised = {}, set(), []
        self._epoch, self._count = 0, 0
        self._lock = threading.Lock()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        per_epoch = self.params.get("steps")
        with self._lock:
            self._count += 1
            step = self._epoch * per_epoch + batch + 1 if per_epoch else self._count
        if step % self._every or not self._tricks:
            return
        values = {
            name: float(value)
            for name, value in (logs or {}).items()
            if isinstance(value, numbers.Real) or getattr(value, "ndim", 1) == 0
        }
        found = [(trick.name, trick.alarm(step, values)) for trick in self._tricks]
        with self._lock:
            for source, alarm in found:
                looks = self._looks.setdefault(source, {})
                looks[step] = None if alarm is None else alarm.kind
                if alarm is None or (source, alarm.kind) in self._said:
                    continue
                reached = self._reached(looks, step, alarm.kind)
                if reached is not None:
                    self._said.add((source, alarm.kind))
                    self._sound(source, alarm, *reached)

    def _reached(self, looks, step, kind):
        """`(step, lasted)` where the run of looks of `kind` through `step`
        first lasted `patience`, or None. The run is read both ways from
        `step`: on JAX the looks arrive in any order, and the step said is
        the same whatever the order."""
        first = last = step
        while looks.get(first - self._every) == kind:
            first -= self._every
        while looks.get(last + self._every) == kind:
            last += self._every
        for at in range(first, last + 1, self._every):
            if at - first + self._every >= self._patience:
                return at, at - first + self._every
        return None

    def _sound(self, source, alarm, step, lasted):
        message = alarm.message(source, step, lasted)
        per_epoch = self.params.get("steps")
        self.raised.append(
            {
                "epoch": (step - 1) // per_epoch + 1 if per_epoch else self._epoch + 1,
                "step": step,
                "source": source,
                "kind": alarm.kind,
                "message": message,
            }
        )
        if self.warn:
            warnings.warn(message, TrainingAlarm, stacklevel=2)

    def on_train_end(self, logs=None):
        entries = [*self.raised]
        for source in self.sources:
            entries.extend(getattr(source, "alarms", []))
        history = getattr(self._gan, "history", None)
        if not entries or history is None or not getattr(history, "epoch", None):
            return
        said = {}
        for entry in entries:
            said.setdefault(entry["epoch"], []).append(entry["message"])
        history.history["alarms"] = [
            " | ".join(said.get(epoch + 1, [])) for epoch in history.epoch
        ]
