"""What `train` prints as it runs: in a terminal, Keras's progress bar for
each epoch (with its time left) and a line after each epoch with the time
the whole run has left; elsewhere (a log file, a pipe, a notebook's cell)
that line alone, once per epoch, with the epoch's losses."""

import sys
import time

import keras

# The losses the line shows, when the epoch's logs have them.
SHOWN = ("d_loss", "g_loss")


def fit_verbosity(stream=None):
    """Keras's progress bar (`verbose=1`) in a terminal; otherwise nothing
    from Keras (`verbose=0`): `RunClock` prints one line per epoch."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return 1 if isatty is not None and isatty() else 0


def duration(seconds):
    """`seconds` as H:MM:SS, or M:SS under an hour."""
    seconds = int(round(max(seconds, 0.0)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


class RunClock(keras.callbacks.Callback):
    """Prints, after each epoch, the run's epoch, the epoch's losses, the
    time so far and about how long the rest of the run takes (the epochs
    left at this run's mean epoch time; a resumed run counts from where it
    resumed)."""

    def __init__(self, epochs, clock=time.monotonic, stream=None):
        super().__init__()
        self.epochs, self.clock, self.stream = epochs, clock, stream
        self.start = self.first = None

    def on_train_begin(self, logs=None):
        self.start, self.first = self.clock(), None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first is None:
            self.first = epoch

    def on_epoch_end(self, epoch, logs=None):
        elapsed = self.clock() - self.start
        left = elapsed / (epoch + 1 - self.first) * (self.epochs - epoch - 1)
        losses = [
            f"{name} {float(logs[name]):.4f}" for name in SHOWN if name in (logs or {})
        ]
        parts = [f"epoch {epoch + 1}/{self.epochs}", *losses]
        parts.append(f"{duration(elapsed)} so far")
        parts.append(f"about {duration(left)} left" if left else "done")
        print(" · ".join(parts), file=self.stream or sys.stdout, flush=True)
