"""The package's layout: modules, classes and functions of a size one can
read, no private name taken across modules.

Limits: a module at most 600 lines, a class at most 300 lines of code and
a function at most 60 (docstrings, comments and blank lines aside).
"""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "keras_gan_tricks")
LIMITS = {"module": 600, "class": 300, "function": 60}


def _docstring_lines(node):
    body = getattr(node, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
        value = body[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return set(range(body[0].lineno, body[0].end_lineno + 1))
    return set()


def code_lines(source, node):
    """Lines of `node` that hold code: not blank, not a comment, not a
    docstring (its own or a nested definition's)."""
    lines = set(range(node.lineno, node.end_lineno + 1))
    for sub in ast.walk(node):
        lines -= _docstring_lines(sub)
    text = source.split("\n")
    return sum(
        1
        for i in lines
        if text[i - 1].strip() and not text[i - 1].strip().startswith("#")
    )


def _modules():
    for folder, _, files in os.walk(PACKAGE):
        for file in sorted(files):
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    yield rel, f.read()


def sizes():
    """`{(kind, place): size}` of every module, class and function."""
    found = {}
    for rel, source in _modules():
        found[("module", rel)] = len(source.splitlines())
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                found[("class", f"{rel}:{node.name}")] = code_lines(source, node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                place = ("function", f"{rel}:{node.name}")
                found[place] = max(found.get(place, 0), code_lines(source, node))
    return found


def test_code_lines_counts_code_only():
    source = 'def f(x):\n    """Doc.\n\n    More."""\n    # why\n\n    return x\n'
    node = ast.parse(source).body[0]
    assert code_lines(source, node) == 2


def test_no_place_over_its_limit_or_grown():
    over = {place: size for place, size in sizes().items() if size > LIMITS[place[0]]}
    assert not over, f"over the limit: {over}"


def test_no_private_name_is_taken_across_modules():
    """No `from keras_gan_tricks.x import _name` (a private module is fine)
    and no `other._name` outside `self`, `cls` and `super()`."""
    found = []
    for rel, source in _modules():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "keras_gan_tricks"
            ):
                base = os.path.join(ROOT, *node.module.split("."))
                for alias in node.names:
                    module = os.path.join(base, alias.name)
                    is_module = os.path.isdir(module) or os.path.exists(module + ".py")
                    dunder = alias.name.startswith("__") and alias.name.endswith("__")
                    if alias.name.startswith("_") and not (is_module or dunder):
                        found.append(f"{rel}: from {node.module} import {alias.name}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                if node.attr.startswith("__"):
                    continue
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                if (
                    isinstance(owner, ast.Call)
                    and getattr(owner.func, "id", "") == "super"
                ):
                    continue
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert not found
