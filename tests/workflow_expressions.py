"""The `${{ }}` expression language of GitHub Actions, evaluated here for the workflow harness
(tests/workflow_harness.py).

The semantics follow the runner's own evaluator, actions/runner
src/Sdk/DTExpressions2/Expressions2/EvaluationResult.cs (IsFalsy, AbstractEqual, CoerceTypes,
ConvertToNumber, ConvertToString with the "G15" number format of ExpressionConstants.cs) and
Sdk/Functions/*.cs, and GitHub's reference page
https://docs.github.com/actions/learn-github-actions/expressions:
- falsy: false, 0, -0, NaN, '', null; arrays and objects are truthy;
- `&&` and `||` return an operand, not a boolean (as in JavaScript);
- `==` is loose: operands of different kinds become numbers (null 0, true 1, '' 0, 'abc' NaN),
  strings compare ignoring case, objects and arrays only equal themselves;
- property names are looked up ignoring case; a missing property is null;
- contains / startsWith / endsWith ignore case; contains(array, item) uses `==`;
- a name that is not a context allowed at that place is a load error, "Unrecognized
  named-value" (ExpressionParser.cs, ParseException.cs).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ExpressionError(Exception):
    """An expression the runner would refuse to load or evaluate."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<num>0x[0-9a-fA-F]+|-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.*])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
""", re.VERBOSE)

STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExpressionError(f"Unexpected symbol: '{text[pos:]}' in expression: {text}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, match.group()))
        pos = match.end()
    return tokens


class _Filtered(list):
    """The result of `.*`: a following property applies to each element."""


@dataclass
class Scope:
    """What an expression may read: the contexts allowed at its place (by lower-case name),
    and what the status functions and hashFiles need."""

    contexts: dict[str, Any]
    status: str = "success"  # the job's (or, for a job's own `if:`, its needs') status
    workspace: Path | None = None
    functions: set[str] = field(default_factory=lambda: {
        "fromjson", "tojson", "contains", "startswith", "endswith", "format", "join",
        "hashfiles", *STATUS_FUNCTIONS})


class _Parser:
    def __init__(self, text: str, scope: Scope) -> None:
        self.text, self.scope, self.tokens, self.pos = text, scope, tokenize(text), 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ExpressionError(f"Unexpected end of expression: {self.text}")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"Expected '{expected}', found '{token[1]}' in: {self.text}")
        self.pos += 1
        return token

    def parse(self) -> Callable[[], Any]:
        node = self.or_()
        if self.pos != len(self.tokens):
            raise ExpressionError(f"Unexpected symbol: '{self.peek()}' in expression: {self.text}")
        return node

    def or_(self) -> Callable[[], Any]:
        node = self.and_()
        while self.peek() == "||":
            self.take()
            left, right = node, self.and_()
            node = (lambda a, b: lambda: (lambda v: v if truthy(v) else b())(a()))(left, right)
        return node

    def and_(self) -> Callable[[], Any]:
        node = self.compare()
        while self.peek() == "&&":
            self.take()
            left, right = node, self.compare()
            node = (lambda a, b: lambda: (lambda v: b() if truthy(v) else v)(a()))(left, right)
        return node

    def compare(self) -> Callable[[], Any]:
        node = self.unary()
        while self.peek() in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take()[1]
            node = (lambda a, b, o: lambda: compare(o, a(), b()))(node, self.unary(), op)
        return node

    def unary(self) -> Callable[[], Any]:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda: not truthy(inner())
        return self.postfix(self.primary())

    def postfix(self, node: Callable[[], Any]) -> Callable[[], Any]:
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                kind, name = self.take()
                if name == "*":
                    node = (lambda n: lambda: star(n()))(node)
                    continue
                if kind != "name":
                    raise ExpressionError(f"Unexpected symbol: '{name}' in: {self.text}")
                key: Callable[[], Any] = (lambda k: lambda: k)(name)
            else:
                key = self.or_()
                self.take("]")
            node = (lambda n, k: lambda: index(n(), k()))(node, key)
        return node

    def primary(self) -> Callable[[], Any]:
        kind, value = self.take()
        if value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "str":
            text = value[1:-1].replace("''", "'")
            return lambda: text
        if kind == "num":
            number = float(int(value, 16)) if value.lower().startswith("0x") else float(value)
            return lambda: number
        if kind != "name":
            raise ExpressionError(f"Unexpected symbol: '{value}' in expression: {self.text}")
        literal = {"true": True, "false": False, "null": None}
        if value in literal:
            return lambda: literal[value]
        if self.peek() == "(":
            return self.call(value)
        if value.lower() not in self.scope.contexts:
            raise ExpressionError(f"Unrecognized named-value: '{value}'. Located in: {self.text}")
        context = self.scope.contexts[value.lower()]
        return lambda: context

    def call(self, name: str) -> Callable[[], Any]:
        if name.lower() not in self.scope.functions:
            raise ExpressionError(f"Unrecognized function: '{name}'. Located in: {self.text}")
        self.take("(")
        args: list[Callable[[], Any]] = []
        while self.peek() != ")":
            args.append(self.or_())
            if self.peek() == ",":
                self.take()
        self.take(")")
        function = FUNCTIONS[name.lower()]
        scope = self.scope
        return lambda: function(scope, *[a() for a in args])


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, float | int) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        # ExpressionUtility.ParseNumber: '' is 0; a decimal, 0x hex or 0o octal; else NaN.
        text = value.strip()
        if not text:
            return 0.0
        if re.fullmatch(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text):
            return float(text)
        if re.fullmatch(r"0x[0-9a-fA-F]+", text):
            return float(int(text, 16))
        if re.fullmatch(r"0o[0-7]+", text):
            return float(int(text, 8))
    return math.nan


def to_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format(float(value), ".15G")
    if isinstance(value, str):
        return value
    return "Array" if isinstance(value, list) else "Object"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "str"
    return "obj"


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """EvaluationResult.CoerceTypes: number against string, and null or a boolean against
    anything, become numbers; objects and arrays never do."""
    lk, rk = _kind(left), _kind(right)
    if lk == rk:
        return left, right
    if (lk, rk) == ("num", "str"):
        return left, to_number(right)
    if (lk, rk) == ("str", "num"):
        return to_number(left), right
    if lk in ("bool", "null"):
        return _coerce(to_number(left), right)
    if rk in ("bool", "null"):
        return _coerce(left, to_number(right))
    return left, right


def equal(left: Any, right: Any) -> bool:
    """EvaluationResult.AbstractEqual."""
    left, right = _coerce(left, right)
    kind = _kind(left)
    if kind != _kind(right):
        return False
    if kind == "str":
        return left.casefold() == right.casefold()
    if kind == "num":
        return not (math.isnan(left) or math.isnan(right)) and float(left) == float(right)
    if kind == "obj":
        return left is right
    return left == right


def compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    left, right = _coerce(left, right)
    kind = _kind(left)
    if kind != _kind(right) or kind == "obj":
        return False
    if kind == "str":
        left, right = left.casefold(), right.casefold()
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def index(value: Any, key: Any) -> Any:
    if isinstance(value, _Filtered):
        return _Filtered(v for v in (index(item, key) for item in value) if v is not None)
    if isinstance(value, Mapping):
        name = to_str(key)
        if name in value:
            return value[name]
        return next((v for k, v in value.items() if k.casefold() == name.casefold()), None)
    if isinstance(value, list) and _kind(key) in ("num", "str"):
        number = to_number(key)
        if not math.isnan(number) and number == int(number) and 0 <= number < len(value):
            return value[int(number)]
    return None


def star(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _Filtered(value.values())
    if isinstance(value, list):
        return _Filtered(value)
    return _Filtered()


def _contains(_: Scope, haystack: Any, needle: Any) -> bool:
    if _kind(haystack) != "obj":
        return _kind(needle) != "obj" and to_str(needle).casefold() in to_str(haystack).casefold()
    return isinstance(haystack, list) and any(equal(needle, item) for item in haystack)


def _affix(test: Callable[[str, str], bool]) -> Callable[..., bool]:
    def function(_: Scope, text: Any, affix: Any) -> bool:
        if _kind(text) == "obj" or _kind(affix) == "obj":
            return False
        return test(to_str(text).casefold(), to_str(affix).casefold())
    return function


def _format(_: Scope, template: Any, *args: Any) -> str:
    """Sdk/Functions/Format.cs: {N} is an argument, {{ and }} are braces."""
    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token in ("{{", "}}"):
            return token[0]
        position = int(token[1:-1])
        if position >= len(args):
            raise ExpressionError(f"The following format string references more arguments "
                                  f"than were supplied: {template}")
        return to_str(args[position])
    return re.sub(r"\{\{|\}\}|\{\d+\}", replace, to_str(template))


def _join(_: Scope, items: Any, separator: Any = ",") -> str:
    if isinstance(items, list):
        return to_str(separator).join(to_str(i) for i in items if _kind(i) != "obj")
    return to_str(items)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def from_json(_: Scope, text: Any) -> Any:
    try:
        return json.loads(to_str(text), parse_int=float)
    except json.JSONDecodeError as error:
        raise ExpressionError(f"Error reading JToken from JsonReader ({error}): "
                              f"fromJSON({to_str(text)!r})") from None


def _hash_files(scope: Scope, *patterns: Any) -> str:
    """actions/runner src/Misc/expressionFunc/hashFiles/src/hashFiles.ts: the SHA-256 of the
    concatenated SHA-256 digests of the matched files under the workspace, '' for none."""
    assert scope.workspace is not None, "hashFiles needs the workspace"
    files: set[Path] = set()
    for pattern in patterns:
        text = to_str(pattern)
        # A trailing ** matches files too in @actions/glob; pathlib's matches directories only.
        glob = text.lstrip("!") + ("/*" if text.endswith("**") else "")
        (files.difference_update if text.startswith("!") else files.update)(
            p for p in scope.workspace.glob(glob) if p.is_file())
    if not files:
        return ""
    result = hashlib.sha256()
    for path in sorted(files):
        result.update(hashlib.sha256(path.read_bytes()).digest())
    return result.hexdigest()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "fromjson": from_json,
    "tojson": lambda _, value: json.dumps(_plain(value), indent=2),
    "contains": _contains,
    "startswith": _affix(str.startswith),
    "endswith": _affix(str.endswith),
    "format": _format,
    "join": _join,
    "hashfiles": _hash_files,
    "success": lambda scope: scope.status == "success",
    "failure": lambda scope: scope.status == "failure",
    "always": lambda scope: True,
    "cancelled": lambda scope: scope.status == "cancelled",
}


def evaluate(text: str, scope: Scope) -> Any:
    """The value of one expression (the text between `${{` and `}}`)."""
    return _Parser(text, scope).parse()()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(value: Any, scope: Scope) -> Any:
    """A workflow value with its `${{ }}` parts evaluated: a value that is one expression keeps
    its type (a matrix from fromJSON), one with text around expressions becomes a string."""
    if isinstance(value, Mapping):
        return {k: interpolate(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, scope) for v in value]
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole and "${{" not in whole.group(1):
        return evaluate(whole.group(1), scope)
    return _TEMPLATE.sub(lambda m: to_str(evaluate(m.group(1), scope)), value)


def condition(text: Any, scope: Scope) -> bool:
    """An `if:`: `${{ }}` optional; without a status function it means `success() && (...)`
    (https://docs.github.com/actions/writing-workflows/workflow-syntax-for-github-actions
    #jobsjob_idstepsif)."""
    if text is None:
        text = "success()"
    if isinstance(text, bool):
        return text and scope.status == "success"
    source = str(text).strip()
    whole = _TEMPLATE.fullmatch(source)
    if whole:
        source = whole.group(1).strip()
    elif "${{" in source:
        return truthy(interpolate(source, scope))
    if not any(re.search(rf"\b{name}\s*\(", source, re.IGNORECASE) for name in STATUS_FUNCTIONS):
        source = f"success() && ({source})"
    return truthy(evaluate(source, scope))
