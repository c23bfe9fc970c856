"""The README's self-contained Python examples run as written, on the
backend of the session (CI runs this file on TensorFlow, JAX and PyTorch),
and its links into the repository resolve."""

import os
import re
from pathlib import Path

import pytest

from tests.folders import digits_folder

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _blocks():
    """(section title, code) of each Python block that starts with imports."""
    blocks, section = [], None
    for match in re.finditer(
        r"^(#+ [^\n]*)$|^```python\n(.*?)^```", README.read_text(), re.M | re.S
    ):
        if match.group(1):
            section = match.group(1).lstrip("# ").strip()
        elif match.group(2).startswith("import "):
            blocks.append((section, match.group(2)))
    return blocks


def test_the_readme_has_the_examples():
    # The guides' examples run in tests/test_docs.py.
    assert [title for title, _ in _blocks()] == ["Quickstart"]


def test_the_readme_keeps_the_two_commands():
    text = README.read_text()
    assert "\npip install . && keras-gan-tricks demo\n" in text
    assert '\npip install ".[test]" && pytest\n' in text


def test_the_readme_links_resolve():
    targets = re.findall(
        r"\]\(((?!https?://|#)[^)#]+)(?:#[^)]*)?\)", README.read_text()
    )
    assert targets
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing


@pytest.mark.parametrize("title,code", _blocks(), ids=lambda v: str(v)[:20])
def test_readme_example_runs(title, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write files
    # The user's folder: 200 digits as 32-px colour PNGs in class subfolders.
    digits_folder("photos", n=200, size=32, colour=True)
    exec(compile(code, f"README.md ({title})", "exec"), {"__name__": "__main__"})
    assert os.path.isfile("run/generator.keras")
    assert sorted(os.listdir("run/grids")) == ["epoch_0001.png", "epoch_0002.png"]
    assert not os.path.exists("run/backup")  # a finished run removes its backup
