"""The eval gate's scorers, shared with the gateway's shadow scoring: stdlib and jsonschema only,
so it imports in the `model-tools` image, the gateway's image and the test venv alike.

A golden case is one JSON object (one line of `evals/<name>/golden.jsonl`, read by
golden.py); `case_from_dict` checks it and says what is wrong in one line. Each scorer maps
an answer to a score in [0, 1]:

- exact:       the answer equals `expected` after normalising (case folded, runs of
               whitespace made one space, ends stripped);
- contains:    the normalised answer contains the normalised `expected`;
- regex:       `pattern` (Python `re`, searched, so anchor it yourself) matches the answer;
- json_schema: the answer (optionally one fenced code block) parses as JSON and validates
               against `schema` (the schema's own `$schema`, else Draft 2020-12);
- judge:       a judge model grades the answer against a written rubric (and `expected` as
               the reference when given) and must answer exactly `SCORE: <number in [0,1]>`;
               anything else raises JudgeError, and the gate fails closed on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

# One definition of a refusal for the whole platform: the quality monitor's, which the gateway's
# request log already uses (components/gateway/requestlog.py). The module is stdlib only.
from components.quality.logs import Record, is_refusal

SCORERS = ("exact", "contains", "regex", "json_schema", "judge")
ROLES = ("system", "user", "assistant")

# A judge: given the chat messages of the judge request, it returns the judge model's reply.
Judge = Callable[[list[dict[str, str]]], str]


class CaseError(ValueError):
    """A golden case that cannot be scored; the message is one line naming the field."""


class JudgeError(RuntimeError):
    """A judge reply that is not a verdict in the stated format; the message says why."""


@dataclass(frozen=True)
class GoldenCase:
    """One prompt (as chat messages) and how its answer is scored."""

    id: str
    messages: tuple[Mapping[str, str], ...]
    scorer: str
    expected: str | None = None
    pattern: str | None = None
    schema: Mapping[str, Any] | None = None
    rubric: str | None = None

    @property
    def prompt(self) -> str:
        """The last user message: what a log or a refusal comparison calls the prompt."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")


def _messages(obj: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    has_prompt, has_messages = "prompt" in obj, "messages" in obj
    if has_prompt == has_messages:
        raise CaseError("give exactly one of `prompt` (a string) or `messages` (a chat list)")
    if has_prompt:
        if not isinstance(obj["prompt"], str) or not obj["prompt"].strip():
            raise CaseError("`prompt` must be a non-empty string")
        return ({"role": "user", "content": obj["prompt"]},)
    raw = obj["messages"]
    if not isinstance(raw, list) or not raw:
        raise CaseError("`messages` must be a non-empty list of {role, content}")
    out = []
    for i, m in enumerate(raw):
        valid = isinstance(m, dict) and m.get("role") in ROLES
        if not (valid and isinstance(m.get("content"), str)):
            raise CaseError(f"`messages[{i}]` must be {{role: {'|'.join(ROLES)}, content: string}}")
        out.append({"role": m["role"], "content": m["content"]})
    if out[-1]["role"] != "user":
        raise CaseError("the last of `messages` must be the user's")
    return tuple(out)


def _text(obj: Mapping[str, Any], key: str, scorer: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CaseError(f"scorer {scorer} needs `{key}` (a non-empty string)")
    return value


def _options(obj: Mapping[str, Any], scorer: str) -> dict[str, Any]:
    """The scorer's own fields, checked now so a bad case fails when the set is read."""
    if scorer in ("exact", "contains"):
        return {"expected": _text(obj, "expected", scorer)}
    if scorer == "regex":
        pattern = _text(obj, "pattern", scorer)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise CaseError(f"`pattern` is not a valid regular expression: {exc}") from None
        return {"pattern": pattern}
    if scorer == "json_schema":
        schema = obj.get("schema")
        if not isinstance(schema, dict):
            raise CaseError("scorer json_schema needs `schema` (a JSON object)")
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise CaseError(f"`schema` is not a valid JSON Schema: {exc.message}") from None
        return {"schema": schema}
    rubric = obj.get("rubric")
    if rubric is not None and (not isinstance(rubric, str) or not rubric.strip()):
        raise CaseError("`rubric` must be a non-empty string")
    expected = obj.get("expected")
    if expected is not None and not isinstance(expected, str):
        raise CaseError("`expected` must be a string (the reference answer)")
    return {"rubric": rubric, "expected": expected}


def case_from_dict(obj: Any, default_id: str) -> GoldenCase:
    """A checked case from one parsed JSON line; CaseError says what is wrong."""
    if not isinstance(obj, dict):
        raise CaseError("a case must be a JSON object")
    scorer = obj.get("scorer")
    if scorer not in SCORERS:
        raise CaseError(f"`scorer` must be one of {', '.join(SCORERS)}, not {scorer!r}")
    case_id = obj.get("id", default_id)
    if not isinstance(case_id, str) or not case_id:
        raise CaseError("`id` must be a non-empty string")
    return GoldenCase(id=case_id, messages=_messages(obj), scorer=scorer, **_options(obj, scorer))


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def exact(answer: str, expected: str) -> float:
    return 1.0 if normalise(answer) == normalise(expected) else 0.0


def contains(answer: str, expected: str) -> float:
    return 1.0 if normalise(expected) in normalise(answer) else 0.0


def regex(answer: str, pattern: str) -> float:
    return 1.0 if re.search(pattern, answer) else 0.0


# Chat models often wrap JSON in one fenced block; the block's content is what is parsed.
_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*[ \t]*\n(.*)\n```\Z", re.DOTALL)


def json_schema(answer: str, schema: Mapping[str, Any]) -> float:
    text = answer.strip()
    fenced = _FENCE.match(text)
    try:
        value = json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return 0.0
    validator = jsonschema.validators.validator_for(schema)(schema)
    return 1.0 if validator.is_valid(value) else 0.0


VERDICT_FORMAT = "SCORE: <number from 0 to 1>"
# The whole reply, nothing around it: a reply that needs interpreting is not a verdict.
_VERDICT = re.compile(r"SCORE:[ \t]*([0-9]+(?:\.[0-9]+)?)")

# Shadow scoring has no written answer to grade against, only the incumbent's.
AGREEMENT_RUBRIC = (
    "Score 1 if the answer gives the same information and reaches the same conclusion as the "
    "reference answer, 0 if it contradicts it or misses its substance, and a fraction for a "
    "partial match. Wording and length do not matter."
)


def judge_messages(rubric: str, prompt: str, answer: str,
                   reference: str | None) -> list[dict[str, str]]:
    """The judge request: the rubric and the output format as the system message, the case as
    the user message, each part fenced by a heading so an answer cannot pose as the rubric."""
    system = (
        "You grade an AI assistant's answer.\n\nRubric:\n" + rubric.strip() + "\n\n"
        f"Reply with exactly one line, `{VERDICT_FORMAT}`, and nothing else."
    )
    parts = [f"## Question\n{prompt}"]
    if reference is not None:
        parts.append(f"## Reference answer\n{reference}")
    parts.append(f"## Answer to grade\n{answer}")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_verdict(reply: Any) -> float:
    """The score in a judge's reply, or JudgeError with the reason (fail closed)."""
    if not isinstance(reply, str):
        raise JudgeError(f"the judge's reply is not text ({type(reply).__name__})")
    match = _VERDICT.fullmatch(reply.strip())
    if match is None:
        shown = reply.strip().replace("\n", " ")[:80]
        raise JudgeError(f"the judge's reply is not `{VERDICT_FORMAT}`: {shown!r}")
    score = float(match.group(1))
    if not 0.0 <= score <= 1.0:
        raise JudgeError(f"the judge's score {match.group(1)} is outside [0, 1]")
    return score


def judge_score(judge: Judge, rubric: str, prompt: str, answer: str,
                reference: str | None) -> float:
    return parse_verdict(judge(judge_messages(rubric, prompt, answer, reference)))


def score_case(case: GoldenCase, answer: str, judge: Judge | None = None,
               rubric: str | None = None) -> float:
    """One answer's score. A judge case uses its own rubric, else `rubric` (the gate's); with
    neither, or without a judge, it is a CaseError: such a case cannot pass by default."""
    if case.scorer == "exact":
        return exact(answer, case.expected or "")
    if case.scorer == "contains":
        return contains(answer, case.expected or "")
    if case.scorer == "regex":
        return regex(answer, case.pattern or "")
    if case.scorer == "json_schema":
        return json_schema(answer, case.schema or {})
    written = case.rubric or rubric
    if judge is None or written is None:
        raise CaseError(f"case {case.id} needs a judge and a rubric (--judge-url, --rubric-file)")
    return judge_score(judge, written, case.prompt, answer, case.expected)


def score_against_reference(candidate: str, reference: str, judge: Judge | None,
                            *, prompt: str = "", rubric: str = AGREEMENT_RUBRIC) -> float:
    """Shadow scoring: the candidate's answer graded against the incumbent's. With a judge, the
    judge (JudgeError on a bad verdict); without one, normalised exact match."""
    if judge is None:
        return exact(candidate, reference)
    return judge_score(judge, rubric, prompt, candidate, reference)


def is_refusal_text(answer: str | None, finish_reason: str | None = None) -> bool:
    """The platform's refusal detector (components/quality/logs.is_refusal) on a bare answer."""
    return is_refusal(Record(prompt="", completion=answer, completion_tokens=None,
                             finish_reason=finish_reason))


def mean(scores: Sequence[float]) -> float:
    return sum(scores) / len(scores)
