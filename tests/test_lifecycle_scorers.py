"""The eval gate's scorers (components/lifecycle/scorers.py), in process: each scorer on answers
that should and should not pass, the golden case checks, and the judge's strict verdict."""

from __future__ import annotations

import subprocess

import pytest
from conftest import ROOT
from gateway_servers import gateway_python

from components.lifecycle import scorers
from components.lifecycle.scorers import CaseError, JudgeError, case_from_dict, score_case


def case(**fields):
    return case_from_dict({"prompt": "q", **fields}, "line-1")


@pytest.mark.parametrize(("answer", "expected", "score"), [
    ("Paris", "paris", 1.0),
    ("  The   capital\nis Paris ", "the capital is paris", 1.0),
    ("Paris.", "Paris", 0.0),
    ("Lyon", "Paris", 0.0),
])
def test_exact_ignores_case_and_whitespace_only(answer, expected, score):
    assert score_case(case(scorer="exact", expected=expected), answer) == score


@pytest.mark.parametrize(("answer", "score"), [
    ("Open Settings >  Billing and choose Cancel.", 1.0),
    ("open settings > billing", 1.0),
    ("Open Settings, then Billing", 0.0),
])
def test_contains_finds_the_normalised_expected_text(answer, score):
    assert score_case(case(scorer="contains", expected="settings > BILLING"), answer) == score


@pytest.mark.parametrize(("answer", "score"), [
    ("Your order number is 12345.", 1.0),
    ("Your order number is 1234.", 0.0),
    ("no number", 0.0),
])
def test_regex_is_searched_in_the_answer(answer, score):
    assert score_case(case(scorer="regex", pattern=r"\b[0-9]{5}\b"), answer) == score


SCHEMA = {"type": "object", "required": ["intent", "priority"],
          "properties": {"intent": {"enum": ["refund", "cancel"]}, "priority": {"type": "integer"}}}


@pytest.mark.parametrize(("answer", "score"), [
    ('{"intent": "refund", "priority": 2}', 1.0),
    ('```json\n{"intent": "cancel", "priority": 1}\n```', 1.0),
    ('{"intent": "upgrade", "priority": 1}', 0.0),
    ('{"intent": "refund"}', 0.0),
    ('Sure! {"intent": "refund", "priority": 2}', 0.0),
    ("not json", 0.0),
])
def test_json_schema_needs_valid_json_that_validates(answer, score):
    assert score_case(case(scorer="json_schema", schema=SCHEMA), answer) == score


@pytest.mark.parametrize(("fields", "reason"), [
    ({"scorer": "exact"}, "scorer exact needs `expected`"),
    ({"scorer": "fuzzy", "expected": "x"}, "`scorer` must be one of"),
    ({"scorer": "regex", "pattern": "(unclosed"}, "not a valid regular expression"),
    ({"scorer": "json_schema", "schema": {"type": "strange"}}, "not a valid JSON Schema"),
    ({"scorer": "json_schema"}, "needs `schema`"),
    ({"scorer": "judge", "rubric": ""}, "`rubric` must be a non-empty string"),
    ({"scorer": "exact", "expected": "x", "id": 3}, "`id` must be a non-empty string"),
])
def test_a_bad_case_says_which_field(fields, reason):
    with pytest.raises(CaseError, match=reason.replace("(", r"\(")):
        case(**fields)


def test_a_case_has_a_prompt_or_messages_ending_with_the_user():
    with pytest.raises(CaseError, match="exactly one of `prompt`"):
        case_from_dict({"scorer": "exact", "expected": "x"}, "l")
    with pytest.raises(CaseError, match="the last of `messages` must be the user's"):
        case_from_dict({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                        "scorer": "exact", "expected": "x"}, "l")
    with pytest.raises(CaseError, match=r"`messages\[0\]`"):
        case_from_dict({"messages": [{"role": "robot", "content": "a"}], "scorer": "exact", "expected": "x"}, "l")
    chat = case_from_dict({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
                           "scorer": "exact", "expected": "hello", "id": "greet"}, "l")
    assert (chat.id, chat.prompt, len(chat.messages)) == ("greet", "hi", 2)
    assert case(scorer="exact", expected="x").id == "line-1"


class RecordingJudge:
    def __init__(self, reply):
        self.reply = reply
        self.requests = []

    def __call__(self, messages):
        self.requests.append(messages)
        return self.reply


@pytest.mark.parametrize(("reply", "score"), [
    ("SCORE: 1", 1.0), ("SCORE: 0", 0.0), ("  SCORE:0.75\n", 0.75), ("SCORE: 1.0", 1.0),
])
def test_a_judge_verdict_in_the_stated_format_is_its_score(reply, score):
    judge = RecordingJudge(reply)
    got = score_case(case(scorer="judge", expected="Paris"), "It is Paris.", judge, rubric="Score 1 if correct.")
    assert got == score
    system, user = judge.requests[0]
    assert "Score 1 if correct." in system["content"] and scorers.VERDICT_FORMAT in system["content"]
    assert "## Reference answer\nParis" in user["content"] and "## Answer to grade\nIt is Paris." in user["content"]


@pytest.mark.parametrize(("reply", "reason"), [
    ("The answer is good. SCORE: 1", "is not `SCORE:"),
    ("SCORE: 1\nbecause it is right", "is not `SCORE:"),
    ("score: 1", "is not `SCORE:"),
    ("SCORE: 1.5", "outside [0, 1]"),
    ("SCORE: -0.5", "is not `SCORE:"),
    ("SCORE: high", "is not `SCORE:"),
    ("", "is not `SCORE:"),
    (None, "is not text"),
])
def test_a_judge_that_answers_anything_else_fails_closed(reply, reason):
    with pytest.raises(JudgeError, match=reason.replace("[", r"\[").replace("(", r"\(")):
        score_case(case(scorer="judge"), "answer", RecordingJudge(reply), rubric="r")


def test_a_judge_case_without_a_judge_or_rubric_cannot_pass_by_default():
    with pytest.raises(CaseError, match="needs a judge and a rubric"):
        score_case(case(scorer="judge"), "answer", None, rubric="r")
    with pytest.raises(CaseError, match="needs a judge and a rubric"):
        score_case(case(scorer="judge"), "answer", RecordingJudge("SCORE: 1"), rubric=None)
    # The case's own rubric wins over the gate's.
    judge = RecordingJudge("SCORE: 1")
    score_case(case(scorer="judge", rubric="Own rubric."), "a", judge, rubric="Gate rubric.")
    assert "Own rubric." in judge.requests[0][0]["content"] and "Gate rubric." not in judge.requests[0][0]["content"]


def test_shadow_scoring_uses_the_judge_with_the_incumbents_answer_else_exact_match():
    assert scorers.score_against_reference("Paris", " paris ", None) == 1.0
    assert scorers.score_against_reference("Lyon", "Paris", None) == 0.0
    judge = RecordingJudge("SCORE: 0.5")
    assert scorers.score_against_reference("Lyon", "Paris", judge, prompt="Capital?") == 0.5
    (_, user), = judge.requests
    assert "## Question\nCapital?" in user["content"] and "## Reference answer\nParis" in user["content"]
    with pytest.raises(JudgeError):
        scorers.score_against_reference("Lyon", "Paris", RecordingJudge("yes"))


def test_refusals_use_the_platforms_one_detector():
    assert scorers.is_refusal_text("I'm sorry, but I can't help with that.")
    assert not scorers.is_refusal_text("Here is how: open Settings.")
    assert scorers.is_refusal_text("", finish_reason="content_filter")
    assert not scorers.is_refusal_text(None)


def test_scorers_import_in_the_gateway_venv_without_heavy_packages():
    code = ("import sys; import components.lifecycle.scorers as s; "
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pulumi', 'pydantic', 'torch')); "
            "print(heavy, s.exact('A', 'a'))")
    done = subprocess.run([str(gateway_python()), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] 1.0"
