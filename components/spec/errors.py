"""How a spec problem is written: one line, its config path, the offending value quoted
safely (cut, control characters escaped, never a secret)."""

from __future__ import annotations

import re
from typing import Any, TypeVar

PROJECT = "llm-platform"
CONFIG_KEY = f"{PROJECT}:spec"


class SpecError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


_PLAIN_KEY = re.compile(r"^[A-Za-z_][-\w./]*$")
# A value quoted back in a problem is cut to this many characters: enough to recognise it,
# and a pasted file does not flood the terminal.
ECHO_LIMIT = 80


def echo(value: Any) -> str:
    """`value` as a problem quotes it: its repr (one line, control characters escaped), cut
    to ECHO_LIMIT characters with the original length."""
    text = repr(value)
    if len(text) <= ECHO_LIMIT:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} as text"
    return f"{text[:ECHO_LIMIT]}... ({size})"


def names_a_secret(loc: tuple[Any, ...]) -> bool:
    """Whether `loc` is a field that names a Pulumi secret (`secret`, `*_secret`, and the
    parts of hf_token_secret): a bad value there may be the credential itself, pasted by
    mistake, so it is never echoed."""
    return any(isinstance(p, str) and (p == "secret" or p.endswith("_secret")) for p in loc)


def key_text(key: str) -> str:
    """A mapping key as a problem names it: as written when plain, else quoted (a key with
    spaces or newlines stays on one line) and cut like a value."""
    return key if _PLAIN_KEY.match(key) and len(key) <= ECHO_LIMIT else echo(key)


def config_path(loc: tuple[Any, ...]) -> str:
    out = CONFIG_KEY
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = key_text(str(part))
            out += f".{key}" if key == part else f"[{key}]"
    return out


T = TypeVar("T")


def given(value: T | None, what: str) -> T:
    """`value`, which the spec's checks guarantee is set where a resolver reads it. The
    resolvers turn an optional spec field into a required Args field through this, so a
    component never asserts it; reaching the error is a bug in the checks."""
    if value is None:
        raise ValueError(f"{what} is missing, which the spec's checks rule out")
    return value
