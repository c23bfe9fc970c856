"""The command's quiet: only the library's own output reaches the terminal
unless `KGT_DEBUG` is set."""

import contextlib
import os
import re
import sys
import threading

# The backends' own log lines: absl/glog records (`I0000 00:00:17.53 123
# port.cc:153] ...`), absl's note that precedes them, and the second line of
# TensorFlow's CPU-feature message. TensorFlow 2.21 writes them to stderr
# before its log level (`TF_CPP_MIN_LOG_LEVEL`) takes effect, so they are
# filtered out of the process's stderr instead.
BACKEND_LOG = re.compile(
    r"^(?:[IWEF]\d{4} \d+:\d+:\d+\.\d+ +\d+ [\w.-]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|To enable the following instructions: )"
)


@contextlib.contextmanager
def quiet():
    """Shows only the library's own output unless `KGT_DEBUG` is set: the
    backends' log lines are dropped from stderr (file descriptor 2, where
    their C++ code writes; everything else passes through), and the Python
    warnings and logs of Keras and the backends are silenced."""
    if os.environ.get("KGT_DEBUG"):
        yield
        return
    import logging
    import warnings

    for module in ("keras", "tensorflow", "jax", "torch", "absl"):
        # The package and its submodules, not keras_gan_tricks: a module
        # pattern matches the start of a name.
        warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
    for logger in ("absl", "tensorflow", "jax"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    sys.stderr.flush()
    stderr = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)

    def pump():
        with os.fdopen(read, "rb") as pipe:
            for line in pipe:
                if not BACKEND_LOG.match(line.decode("utf-8", "replace")):
                    os.write(stderr, line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(stderr, 2)  # the pipe's last writer closes: the pump ends
        thread.join(timeout=10)
        os.close(stderr)
