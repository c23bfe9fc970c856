"""The documentation site (`mkdocs.yml`, `docs/`): it builds strictly, its
API reference has an entry for every public name, and the guides'
self-contained Python examples run as written."""

import ast
import inspect
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import keras
import pytest

import keras_gan_tricks as kgt

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MODULES = sorted(name for name in kgt.__all__ if name not in ("GAN", "__version__"))

# The guides' runnable examples, page by page, by the title they sit under.
EXAMPLES = {
    "custom-train-step.md": ["The pieces as functions"],
    "evaluation.md": ["Figures on any features", "A 28x28 GAN, watched and measured"],
    "index.md": ["Quickstart"],
    "own-images.md": ["From a folder to samples"],
    "own-trick.md": ["A consistency penalty in 30 lines"],
    "recipes.md": ["A recipe on the 8-mode ring"],
    "resuming.md": ["Resuming after a crash"],
    "tricks.md": [
        "The tricks, composed in one `fit`",
        "In-step tricks and their hooks",
    ],
}
SLOW = {("evaluation.md", "A 28x28 GAN, watched and measured")}  # about a minute


def public_names(module):
    """The names in the module's `__all__`, and those its own source defines
    at the top level without a leading underscore (modules excluded)."""
    names = set(getattr(module, "__all__", ()))
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return sorted(
        name
        for name in names
        if not name.startswith("_")
        and not isinstance(getattr(module, name, None), types.ModuleType)
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built as CI builds it (`mkdocs build --strict`)."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, (
        "`mkdocs build --strict` failed (the docs need `pip install '.[docs]'`):\n"
        + result.stdout[-2000:]
        + result.stderr[-4000:]
    )
    return out


def _anchors(site, page):
    path = site / "reference" / page / "index.html"
    assert path.exists(), f"no reference page docs/reference/{page}.md"
    return set(re.findall(r'id="([^"]+)"', path.read_text()))


@pytest.mark.parametrize("name", MODULES)
def test_the_reference_documents_every_public_name(site, name):
    module = getattr(kgt, name)
    names = public_names(module)
    assert names
    anchors = _anchors(site, name)
    missing = [n for n in names if f"{module.__name__}.{n}" not in anchors]
    assert not missing, f"kgt.{name}: not in docs/reference/{name}.md: {missing}"


def test_the_reference_documents_the_gan(site):
    anchors = _anchors(site, "gan")
    for name in ("GAN", "GAN.compile", "GAN.generate", "GAN.recalibrate_batch_norm"):
        assert f"keras_gan_tricks.gan.{name}" in anchors


def test_every_page_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert [page for page in pages if f": {page}\n" not in config] == []


def _blocks(page):
    """(section title, code) of each Python block of `page` that starts with
    imports."""
    blocks, section = [], None
    for match in re.finditer(
        r"^(#+ [^\n]*)$|^```python\n(.*?)^```", (DOCS / page).read_text(), re.M | re.S
    ):
        if match.group(1):
            section = match.group(1).lstrip("# ").strip()
        elif match.group(2).startswith("import "):
            blocks.append((section, match.group(2)))
    return blocks


def test_the_guides_have_the_examples():
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    found = {page: [title for title, _ in _blocks(page)] for page in pages}
    assert {page: titles for page, titles in found.items() if titles} == EXAMPLES


def test_the_guides_speak_to_users():
    """No issue numbers or internal versions in the guides and the README."""
    for page in [*DOCS.glob("*.md"), ROOT / "README.md"]:
        found = re.findall(r"(?i)\bissues? #?\d+|\b0\.1\.0's", page.read_text())
        assert not found, f"{page.name}: {found}"


def test_the_own_trick_page_shows_the_tested_trick():
    """The guide's trick is `tests/test_tricks.py`'s, which runs on every
    backend and is reloaded from a saved file there."""
    from tests.test_tricks import ShiftConsistency

    text = (DOCS / "own-trick.md").read_text()
    section = text[text.index("## A consistency penalty in 30 lines") :]
    block = re.search(r"```python\n(.*?)^```", section, re.M | re.S).group(1)
    source = (
        "@keras.saving"
        + inspect.getsource(ShiftConsistency).split("@keras.saving", 1)[1]
    )
    assert source.strip() in block
    assert len(source.strip().splitlines()) <= 30


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Runs an example in a fresh folder and undoes its global changes: the
    classes it registers with Keras, Keras's dtype policy."""
    monkeypatch.chdir(tmp_path)  # the examples write files
    registered = dict(keras.saving.get_custom_objects())
    policy = keras.config.dtype_policy()
    yield
    keras.saving.get_custom_objects().clear()
    keras.saving.get_custom_objects().update(registered)
    keras.config.set_dtype_policy(policy)


@pytest.mark.parametrize(
    "page,title,code",
    [
        pytest.param(
            page,
            title,
            code,
            id=f"{page}-{title[:24]}",
            marks=[pytest.mark.slow] if (page, title) in SLOW else [],
        )
        for page in sorted(EXAMPLES)
        for title, code in _blocks(page)
    ],
)
def test_guide_example_runs(page, title, code, isolated):
    exec(compile(code, f"docs/{page} ({title})", "exec"), {"__name__": "__main__"})
