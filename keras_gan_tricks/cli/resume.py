"""A `train` run that was stopped (killed, out of time, a crash) resumes
where it was when the same command runs again: Keras's `BackupAndRestore`
keeps the GAN's whole state under `--out`, the data's order is a function
of the seed and the epoch (`kgt.datasets.image_folder`), and the training
plot's record is kept beside the backup."""

import json
import os
import shutil

import keras

BACKUP = "backup"
RECORD = "record.json"


def resume_callbacks(args, record):
    """The callbacks that back a run up each epoch and resume it: first in
    `fit`'s list, so the GAN is restored before anything else begins."""
    backup = os.path.join(args.out, BACKUP)
    if args.restart and os.path.exists(backup):
        shutil.rmtree(backup)
        print(f"--restart: removed the stopped run's backup {backup}")
    return [
        KeepRecord(record, os.path.join(backup, RECORD), args.epochs),
        # Removed when the run ends: a finished run starts again from scratch.
        keras.callbacks.BackupAndRestore(backup, delete_checkpoint=True),
    ]


class KeepRecord(keras.callbacks.Callback):
    """Saves the training record's rows at each epoch's end, loads them when
    a run resumes, and says where it resumed."""

    def __init__(self, record, path, epochs):
        super().__init__()
        self.record, self.path, self.epochs = record, path, epochs
        self.counts = []  # rows per finished epoch
        self.first = True
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                kept = json.load(f)
            record.rows[:0] = kept["rows"]
            self.counts = kept["counts"]

    def on_epoch_begin(self, epoch, logs=None):
        if not self.first:
            return
        self.first = False
        # The backup may be an epoch behind the record (stopped between the
        # two writes): keep the epochs before the one that begins.
        self.counts = self.counts[:epoch]
        del self.record.rows[sum(self.counts) :]
        if epoch:
            backup = os.path.dirname(self.path)
            print(f"resuming at epoch {epoch + 1}/{self.epochs} from {backup}")

    def on_epoch_end(self, epoch, logs=None):
        self.counts.append(len(self.record.rows) - sum(self.counts))
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        temporary = self.path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump({"rows": self.record.rows, "counts": self.counts}, f)
        os.replace(temporary, self.path)  # never half written
