"""What `keras-gan-tricks train` prints as it runs: the progress bar only
in a terminal, and after each epoch the time the run has left."""

import io

import pytest

from keras_gan_tricks.cli.progress import RunClock, duration, fit_verbosity


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_only_in_a_terminal():
    assert fit_verbosity(_Terminal()) == 1
    assert fit_verbosity(io.StringIO()) == 0


@pytest.mark.parametrize(
    "seconds,text", [(0, "0:00"), (59.6, "1:00"), (754, "12:34"), (3725, "1:02:05")]
)
def test_durations(seconds, text):
    assert duration(seconds) == text


def test_the_time_left_is_the_epochs_left_at_the_mean_epoch_time():
    """A run resumed at epoch 3 of 10 whose epochs take 30 s: the time left
    counts from the resumed epochs only, not the epochs before."""
    now = [100.0]
    stream = io.StringIO()
    clock = RunClock(10, clock=lambda: now[0], stream=stream)
    clock.on_train_begin()
    for epoch in range(2, 10):
        clock.on_epoch_begin(epoch)
        now[0] += 30.0
        clock.on_epoch_end(epoch, {"d_loss": 1.25, "g_loss": 0.5, "other": 3.0})
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "epoch 3/10 · d_loss 1.2500 · g_loss 0.5000 · 0:30 so far · about 3:30 left"
    )
    assert lines[3].endswith("2:00 so far · about 2:00 left")
    assert lines[-1] == (
        "epoch 10/10 · d_loss 1.2500 · g_loss 0.5000 · 4:00 so far · done"
    )
