"""Reading the files a user hands the CLI (stack files, policy configs) and checking the
output directory, so that anything we cannot read or write is one `error:` line naming the
file, never a traceback.

Only plain data is accepted: mappings, lists, strings, numbers, booleans and null. YAML tags
that build other types (`!!binary` bytes, `!!set`, `!!omap`, `!!pairs`) are refused, and so are
duplicate keys, which PyYAML would otherwise resolve silently in favour of the last one.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml

# Deeper than any real stack or policy config. The YAML composer and the JSON decoder
# recurse per level and raise RecursionError near Python's limit (1000); what reads the
# document afterwards (pydantic, protobuf's Struct, jsonschema) recurses too.
MAX_DEPTH = 32
# RFC 8259 section 6: numbers beyond IEEE 754 double precision are not interoperable; the
# policy config reaches the pack as a protobuf Struct, whose numbers are doubles.
MAX_EXACT_INT = 2**53


class InputFileError(ValueError):
    """A file the CLI cannot use; `problem` is one line naming the file."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


# libyaml's parser when PyYAML was built with it: ~40x faster on a large file, and it refuses
# nesting deeper than 1000 levels itself.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _PlainLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that refuses duplicate keys and types other than plain data."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int | float | bool | type(None)):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain scalar", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {seen[key]}, again on line {line})",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _refuse_tag(loader: _PlainLoader, node: yaml.Node) -> None:
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"tagged value {node.tag.replace('tag:yaml.org,2002:', '!!')} is not plain data "
        "(use a string, number, boolean, list or mapping)",
        node.start_mark,
    )


for _tag in ("binary", "set", "omap", "pairs"):
    _PlainLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
# An unquoted date stays the string written: the spec's date fields are strings.
_PlainLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _text(path: Path, shown: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{shown}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputFileError(f"{shown}: cannot read ({exc.strerror})") from None


def _depth_problem(doc: Any, shown: str) -> None:
    # YAML aliases share nodes: each is walked again only when reached at a greater depth.
    deepest: dict[int, int] = {}
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputFileError(f"{shown}: nests deeper than {MAX_DEPTH} levels")
        if not isinstance(node, dict | list) or deepest.get(id(node), 0) >= depth:
            continue
        deepest[id(node)] = depth
        stack += [(c, depth + 1) for c in (node.values() if isinstance(node, dict) else node)]


def read_yaml(path: Path, shown: str) -> Any:
    """The plain data in a YAML file; `shown` is how messages name the file."""
    text = _text(path, shown)
    try:
        doc = yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InputFileError(
            f"{shown}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})"
        ) from None
    except RecursionError:
        raise InputFileError(f"{shown}: nests deeper than {MAX_DEPTH} levels") from None
    _depth_problem(doc, shown)
    return doc


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{_cut(text)} is out of range for a double")
    return value


def _int(text: str) -> int | float:
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_EXACT_INT:
        raise ValueError(f"{_cut(text)} is out of range (integers up to 2^53)")
    return int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        noun = "key" if len(repeated) == 1 else "keys"
        raise ValueError(f"duplicate {noun} {', '.join(map(repr, repeated))} in one object")
    return dict(pairs)


def _cut(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


def read_json(path: Path, shown: str) -> Any:
    """The data in a JSON file, refusing NaN, Infinity, numbers a double cannot hold and
    duplicate keys (json keeps the last one silently)."""
    text = _text(path, shown)
    try:
        doc = json.loads(
            text,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{shown}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputFileError(f"{shown}: nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise InputFileError(f"{shown}: not valid JSON ({exc})") from None
    _depth_problem(doc, shown)
    return doc


def unwritable(target: Path, option: str) -> str | None:
    """Why `target` cannot be made into an output directory, or None. Tried with a probe
    directory in the nearest existing ancestor (removed again), since permission bits do
    not say what root or a read-only mount allows."""
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == target else f"is under the file {existing}"
        return f"{option} {target}: {what}, not a directory"
    try:
        Path(tempfile.mkdtemp(dir=existing, prefix=".llm-platform-probe-")).rmdir()
    except OSError as exc:
        return f"{option} {target}: cannot write in {existing} ({exc.strerror})"
    return None
