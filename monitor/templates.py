"""Placeholders in manifest strings: "{task}", "{name}", ...; "{{" and "}}" are literal braces.

A template may be expanded in two steps (the manifest fills {task} at load, validation fills
{attempt} later): `expand(..., keep=...)` leaves the kept placeholders and returns a template again.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEXT = re.compile(r"[^{}]+")


def _tokens(template: str) -> list[tuple[str, bool]]:
    """Split into (text, is_placeholder) pieces; raise ValueError on a malformed brace."""
    tokens: list[tuple[str, bool]] = []
    i = 0
    while i < len(template):
        char = template[i]
        text = _TEXT.match(template, i)
        if text:
            tokens.append((text[0], False))
            i = text.end()
        elif template.startswith(char * 2, i):
            tokens.append((char, False))
            i += 2
        elif char == "}":
            raise ValueError('single "}" (write "}}" for a literal brace)')
        else:
            close = template.find("}", i)
            if close < 0:
                raise ValueError('unclosed "{" (write "{{" for a literal brace)')
            name = template[i + 1 : close]
            if not _NAME.fullmatch(name):
                raise ValueError(f'bad placeholder "{{{name}}}" (write "{{{{" for a literal brace)')
            tokens.append((name, True))
            i = close + 1
    return tokens


def placeholders(template: str) -> set[str]:
    """The placeholder names used, so a manifest can reject unknown ones before anything runs."""
    return {text for text, is_placeholder in _tokens(template) if is_placeholder}


def escape(text: str) -> str:
    """Literal text as a template (braces doubled), e.g. a directory joined onto a template."""
    return text.replace("{", "{{").replace("}", "}}")


def expand(template: str, /, keep: Collection[str] = (), **values: object) -> str:
    """Fill placeholders from `values`. With `keep`, those placeholders stay and the result is itself a
    template (literal braces escaped) to be expanded again later; without, it is plain text."""
    as_template = bool(keep)
    pieces = []
    for text, is_placeholder in _tokens(template):
        if not is_placeholder:
            pieces.append(escape(text) if as_template else text)
        elif text in keep:
            pieces.append("{" + text + "}")
        elif text in values:
            value = str(values[text])
            pieces.append(escape(value) if as_template else value)
        else:
            raise ValueError(f'no value for placeholder "{{{text}}}"')
    return "".join(pieces)
