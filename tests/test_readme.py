"""The README's self-contained Python examples run as written, on the
backend of the session (CI runs this file on TensorFlow, JAX and PyTorch)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


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
    assert [title for title, _ in _blocks()] == [
        "Quickstart",
        "The tricks, composed in one `fit`",
        "Data and quality figures",
    ]


def test_the_readme_trick_is_the_tested_one():
    """The README's own trick is `tests/test_tricks.py`'s, which runs on
    every backend."""
    import inspect

    from tests.test_tricks import ShiftConsistency

    text = README.read_text()
    section = text[text.index("### Write your own trick") :]
    block = re.search(r"```python\n(.*?)^```", section, re.M | re.S).group(1)
    source = (
        "@keras.saving"
        + inspect.getsource(ShiftConsistency).split("@keras.saving", 1)[1]
    )
    assert source.strip() in block
    assert len(source.strip().splitlines()) <= 30


@pytest.mark.parametrize("title,code", _blocks(), ids=lambda v: str(v)[:20])
def test_readme_example_runs(title, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write files
    exec(compile(code, f"README.md ({title})", "exec"), {"__name__": "__main__"})
