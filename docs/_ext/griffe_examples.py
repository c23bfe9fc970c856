"""Griffe extensions for the API reference.

`IndentExamples`: the package's docstrings write their `Example:` section as
Keras does, unindented under the title. Griffe's Google parser reads a
section's body from its indented lines only, so this indents the body; the
doctest lines then render as code.

`DocumentedClassMembers`: a class page lists the members that have a
docstring (Keras plumbing such as `call` and `get_config` has none), while
every public name of a module is listed, documented or not.
"""

import re

import griffe

_TITLE = re.compile(r"^Examples?:\s*$")
_NEXT_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")


def indent_examples(text):
    """`text` with each `Example:` body indented by four spaces, up to the
    next section title."""
    out, inside = [], False
    for line in text.splitlines():
        if _TITLE.match(line):
            inside = True
            out.append(line)
        elif inside and _NEXT_SECTION.match(line):
            inside = False
            out.append(line)
        elif inside:
            out.append("    " + line if line.strip() else "")
        else:
            out.append(line)
    return "\n".join(out)


class IndentExamples(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        docstring = obj.docstring
        if docstring is not None and re.search(
            r"^Examples?:\s*\n\s*\n(?! )", docstring.value, re.M
        ):
            docstring.value = indent_examples(docstring.value)


class DocumentedClassMembers(griffe.Extension):
    def on_class_members(self, *, cls, **kwargs):
        for name, member in list(cls.members.items()):
            if not member.is_alias and not member.docstring:
                del cls.members[name]
