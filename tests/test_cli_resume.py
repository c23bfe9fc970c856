"""`keras-gan-tricks train` killed with SIGKILL mid-epoch and run again with
the same command resumes from its last epoch's backup and ends with the
generator an uninterrupted run ends with: the GAN's state, the tricks' state,
the random streams and the folder's order by epoch all carried over."""

import os
import signal
import subprocess
import sys

import keras
import numpy as np

from tests.folders import digits_folder

# The command line, with a kill after a given number of batches (counted by
# the training record, which a resumed run reloads).
RUNNER = """
import os, signal, sys
from keras_gan_tricks import cli, demo

kill_at = int(os.environ.get("KILL_AT_BATCH", "0"))
record_batch = demo.TrainingRecord.on_train_batch_end

def on_train_batch_end(self, batch, logs=None):
    record_batch(self, batch, logs)
    if len(self.rows) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

demo.TrainingRecord.on_train_batch_end = on_train_batch_end
sys.exit(cli.main(sys.argv[1:]))
"""


def train(tmp_path, out, kill_at=0, *flags):
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    argv = ["train", "--data", str(tmp_path / "digits"), "--epochs", "3"]
    argv += ["--batch-size", "16", "--seed", "5", "--out", str(out), *flags]
    env = {**os.environ, "KILL_AT_BATCH": str(kill_at), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.getcwd()
    return subprocess.run(
        [sys.executable, str(runner), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def generator_weights(out):
    model = keras.saving.load_model(out / "generator.keras")
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path):
    # 48 flat 8x8 digits: 3 batches an epoch, the default recipe's tricks
    # (balancer, adaptive noise, EMA), no classifier to train.
    digits_folder(str(tmp_path / "digits"), n=48, size=8, classes=False)
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    done = train(tmp_path, reference)
    assert done.returncode == 0, done.stderr[-3000:]

    killed = train(tmp_path, crashed, kill_at=7)  # epoch 3's first batch
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (crashed / "gan.keras").exists()
    assert (crashed / "backup").is_dir()

    resumed = train(tmp_path, crashed)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming at epoch 3/3" in resumed.stdout
    assert not (crashed / "backup").exists()  # a finished run keeps none
    grids = sorted(p.name for p in (crashed / "grids").iterdir())
    assert grids == ["epoch_0001.png", "epoch_0002.png", "epoch_0003.png"]
    for got, expected in zip(
        generator_weights(crashed), generator_weights(reference), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

    # --restart ignores a stopped run's backup: a run killed in epoch 2,
    # restarted, is killed again at its second batch (resumed, its record
    # would already hold three).
    again = tmp_path / "again"
    assert train(tmp_path, again, 4).returncode == -signal.SIGKILL
    restarted = train(tmp_path, again, 2, "--restart")
    assert restarted.returncode == -signal.SIGKILL, restarted.stderr[-3000:]
    assert "removed the stopped run's backup" in restarted.stdout
    assert "resuming" not in restarted.stdout
