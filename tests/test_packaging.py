"""Packaging: the wheel and sdist build, pass `twine check`, and the wheel
installs in a fresh virtual environment where the main job runs."""

import json
import os
import re
import subprocess
import sys
import venv

import pytest

import keras_gan_tricks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (args, result.stdout[-3000:], result.stderr[-3000:])
    return result


def test_version_is_written_once():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        pyproject = tomllib.load(f)
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    source = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert source == {"attr": "keras_gan_tricks.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", keras_gan_tricks.__version__)
    assert os.path.isfile(os.path.join(ROOT, "keras_gan_tricks", "py.typed"))


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_runs_the_demo(tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--outdir", os.fspath(dist), ROOT])
    built = sorted(os.listdir(dist))
    version = keras_gan_tricks.__version__
    assert built == [
        f"keras_gan_tricks-{version}-py3-none-any.whl",
        f"keras_gan_tricks-{version}.tar.gz",
    ], built
    run(
        [sys.executable, "-m", "twine", "check", "--strict", *[dist / b for b in built]]
    )

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", dist / built[0]])
    # Outside the source tree, so only the installed wheel can be imported.
    work = tmp_path / "work"
    work.mkdir()
    check = (
        "import importlib.metadata as m, importlib.resources as r, keras_gan_tricks as k;"
        "assert m.version('keras-gan-tricks') == k.__version__, k.__version__;"
        "assert r.files('keras_gan_tricks').joinpath('py.typed').is_file();"
        "assert 'site-packages' in k.__file__, k.__file__"
    )
    # The venv's own backend (the wheel's TensorFlow dependency) and no path
    # into the source tree, whatever backend the suite runs on.
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")
    }
    run([python, "-c", check], cwd=work, env=env)
    run(
        [
            env_dir / "bin" / "keras-gan-tricks",
            "demo",
            "--epochs",
            "1",
            "--out",
            "demo",
        ],
        cwd=work,
        env=env,
        timeout=900,
    )
    with open(work / "demo" / "metrics.json", encoding="utf-8") as f:
        metrics = json.load(f)
    assert metrics["epochs"] == 1
    assert (work / "demo" / "samples.png").is_file()
