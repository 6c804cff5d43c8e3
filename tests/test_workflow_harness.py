"""The workflow harness itself: expressions as the runner evaluates them, steps in order, file
commands, failure and continue-on-error, composite actions, the fakes' refusals. Expected
values come from GitHub's expressions reference
(https://docs.github.com/actions/learn-github-actions/expressions) and actions/runner's
evaluator (src/Sdk/DTExpressions2/Expressions2/EvaluationResult.cs), cited in
tests/workflow_expressions.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_expressions import ExpressionError, Scope, condition, evaluate, interpolate
from workflow_harness import Fixture, HarnessError, Run, legs, parse_file_command, run_job

SCOPE = Scope({"github": {"event_name": "pull_request", "event": {"number": 7}},
               "steps": {"plan": {"outputs": {"exit": "0"}, "outcome": "success"}},
               "env": {"STACK": "aws"}, "matrix": {"stack": "gcp"}})


@pytest.mark.parametrize(("expression", "expected"), [
    # Strings compare ignoring case; different kinds compare as numbers.
    ("'ABC' == 'abc'", True),
    ("1 == '1'", True),
    ("'' == 0", True),
    ("null == ''", True),
    ("'abc' == 0", False),
    ("true == 1", True),
    ("fromJSON('[1]') == fromJSON('[1]')", False),
    ("fromJSON('3') > 2", True),
    # && and || return an operand.
    ("'' || 'default'", "default"),
    ("'a' || 'b'", "a"),
    ("'a' && 'b'", "b"),
    ("0 && 'x'", 0.0),
    ("!''", True),
    ("!fromJSON('[]')", False),
    # Property names ignore case; a missing one is null.
    ("github.EVENT_NAME", "pull_request"),
    ("github.event.number", 7.0),
    ("steps.preview.outputs.output", None),
    ("steps.preview.outputs.output != ''", False),
    ("steps['plan'].outputs.exit", "0"),
    ("contains('Hello', 'ELL')", True),
    ("contains(fromJSON('[\"aws\",\"GCP\"]'), matrix.stack)", True),
    ("startsWith('Hello', 'he')", True),
    ("endsWith('Hello', 'LO')", True),
    ("format('{0} {{x}} {1}', 'a', 1)", "a {x} 1"),
    ("join(fromJSON('[\"a\",\"b\"]'), ', ')", "a, b"),
    ("join(fromJSON('[\"a\",\"b\"]'))", "a,b"),
    ("toJSON(fromJSON('{\"a\":[1]}'))", '{\n  "a": [\n    1\n  ]\n}'),
    ("fromJSON('{\"a\":{\"b\":1},\"c\":{\"b\":2}}').*.b", [1.0, 2.0]),
    ("0xff", 255.0),
])
def test_expression_semantics(expression: str, expected: object):
    assert evaluate(expression, SCOPE) == expected


def test_interpolation_keeps_the_type_of_a_whole_expression_and_stringifies_parts():
    assert interpolate("${{ fromJSON('[\"a\"]') }}", SCOPE) == ["a"]
    assert interpolate("policies/config/${{ env.STACK }}.json", SCOPE) == "policies/config/aws.json"
    assert interpolate("${{ -2.99e-2 }}-${{ 711 }}-${{ null }}-${{ true }}", SCOPE) == "-0.0299-711--true"


def test_errors_the_runner_raises():
    # The swallowed failure: `stacks=` written, then fromJSON('') in the next job.
    with pytest.raises(ExpressionError, match="fromJSON"):
        evaluate("fromJSON('')", SCOPE)
    with pytest.raises(ExpressionError, match="Unrecognized named-value: 'vars'"):
        evaluate("vars.AWS_ROLE_ARN != ''", SCOPE)
    with pytest.raises(ExpressionError, match="Unrecognized function"):
        evaluate("lower('A')", SCOPE)


def test_if_defaults_to_success_and_status_functions_override_it():
    failed = Scope(SCOPE.contexts, status="failure")
    assert condition(None, SCOPE) and not condition(None, failed)
    assert not condition("env.STACK == 'aws'", failed)
    assert condition("${{ failure() && env.STACK == 'AWS' }}", failed)
    assert condition("always()", failed)
    assert not condition("cancelled()", failed)


def test_file_commands_parse_both_forms():
    text = "a=1\nb<<EOF\nline 1\nx=y\nEOF\nc=with=equals\n"
    assert parse_file_command(text) == {"a": "1", "b": "line 1\nx=y", "c": "with=equals"}
    with pytest.raises(HarnessError, match="Matching delimiter not found"):
        parse_file_command("b<<EOF\nno end\n")


WORKFLOW = """
name: t
on: pull_request
permissions: {}
env:
  TOP: top
jobs:
  one:
    runs-on: ubuntu-24.04
    permissions:
      pull-requests: write
    outputs:
      joined: ${{ steps.a.outputs.x }}-${{ steps.b.outputs.y }}
      env: ${{ env.FROM_ENV }}
    env:
      STACK: ${{ github.event.pull_request.number }}
    steps:
      - uses: actions/checkout@v9
      - id: a
        run: |
          echo "x=$TOP-$STACK" >> "$GITHUB_OUTPUT"
          { echo 'FROM_ENV<<EOF'; echo 'two'; echo 'lines'; echo EOF; } >> "$GITHUB_ENV"
          echo '## hello' >> "$GITHUB_STEP_SUMMARY"
      - id: b
        env:
          X: ${{ steps.a.outputs.x }}
        run: echo "y=${X}:${FROM_ENV//$'\\n'/+}" >> "$GITHUB_OUTPUT"
      - id: nopipefail
        run: false | true
      - id: pipefail
        shell: bash
        run: false | true
        continue-on-error: true
      - id: boom
        run: exit 3
      - id: after
        run: echo never
      - id: onfailure
        if: failure() && steps.pipefail.outcome == 'failure' && steps.pipefail.conclusion == 'success'
        uses: ./.github/actions/echo
        with:
          text: ${{ steps.a.outputs.x }}
      - id: comment
        if: always()
        uses: marocchino/sticky-pull-request-comment@v2
        with:
          header: h
          message: ${{ steps.onfailure.outputs.said }}
  matrix:
    needs: one
    if: needs.one.outputs.joined != ''
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: ${{ fromJSON('["a", "b"]') }}
        n: [1]
        exclude:
          - os: b
        include:
          - os: a
            extra: yes
          - os: c
    steps:
      - run: "true"
  empty:
    runs-on: ubuntu-24.04
    strategy:
      matrix:
        stack: ${{ fromJSON('[]') }}
    steps:
      - run: "true"
"""

ACTION = """
name: echo
inputs:
  text: {required: true}
  suffix: {default: "!"}
outputs:
  said: {value: "${{ steps.say.outputs.said }}"}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      env:
        TEXT: ${{ inputs.text }}${{ inputs.suffix }}
      run: echo "said=$TEXT" >> "$GITHUB_OUTPUT"
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    fixture = Fixture.from_files(tmp_path_factory.mktemp("small") / "repo", {
        ".github/workflows/t.yml": WORKFLOW, ".github/actions/echo/action.yml": ACTION,
        ".github/actions/vars/action.yml": ACTION.replace("inputs.suffix", "vars.SUFFIX")})
    fixture.commit({"README.md": "x\n"}, branch="feature")
    return fixture


def test_steps_run_in_order_with_file_commands_and_failure_rules(small: Fixture, tmp_path: Path):
    run = Run(small, ".github/workflows/t.yml", small.pull_request("feature"), tmp_path)
    job = run_job(run, "one")
    outcomes = {s.id: (s.outcome, s.conclusion) for s in job.steps if s.id}
    assert outcomes == {
        "a": ("success", "success"), "b": ("success", "success"),
        # No `shell` is `bash -e {0}`: no pipefail. `shell: bash` adds -o pipefail.
        "nopipefail": ("success", "success"), "pipefail": ("failure", "success"),
        "boom": ("failure", "failure"), "after": ("skipped", "skipped"),
        "onfailure": ("success", "success"), "./.github/actions/echo/say": ("success", "success"),
        "comment": ("success", "success")}
    assert job.status == "failure"
    assert job.outputs == {"joined": "top-7-top-7:two+lines", "env": "two\nlines"}
    assert job.summary == "## hello\n"
    assert job.called("marocchino/sticky-pull-request-comment")[0]["text"] == "top-7!"
    assert job.called("actions/checkout")[0]["ref"] == "v9"


def test_matrix_legs_include_exclude_and_empty_vector(small: Fixture, tmp_path: Path):
    run = Run(small, ".github/workflows/t.yml", small.pull_request("feature"), tmp_path)
    assert legs(run, "matrix", {"one": {"result": "success", "outputs": {"joined": "x"}}}) == [
        {"os": "a", "n": 1, "extra": "yes"}, {"os": "c"}]
    assert legs(run, "matrix", {"one": {"result": "success", "outputs": {"joined": ""}}}) == []
    assert legs(run, "matrix", {"one": {"result": "failure", "outputs": {"joined": "x"}}}) == []
    with pytest.raises(HarnessError, match="Matrix vector 'stack' does not contain any values"):
        legs(run, "empty")
    leg = run_job(run, "matrix", matrix={"os": "c"},
                  needs={"one": {"result": "success", "outputs": {"joined": "x"}}})
    assert (leg.runs_on, leg.status) == ("c", "success")


def _one_step_workflow(uses: str, with_: str = "") -> str:
    return (f"on: pull_request\npermissions: {{}}\njobs:\n  j:\n    runs-on: x\n    steps:\n"
            f"      - uses: actions/checkout@v1\n      - uses: {uses}\n{with_}")


def test_composite_actions_cannot_read_vars_and_unknown_actions_fail(small: Fixture, tmp_path: Path):
    small.commit({".github/workflows/v.yml": _one_step_workflow(
        "./.github/actions/vars", "        with:\n          text: t\n"),
        ".github/workflows/u.yml": _one_step_workflow("someone/unknown@v1")}, branch="feature")
    event = small.pull_request("feature")
    job = run_job(Run(small, ".github/workflows/v.yml", event, tmp_path / "v", vars={"SUFFIX": "?"}), "j")
    assert job.status == "failure"
    assert any("Unrecognized named-value: 'vars'" in e for e in job.errors())
    with pytest.raises(HarnessError, match="someone/unknown@v1: no fake"):
        run_job(Run(small, ".github/workflows/u.yml", event, tmp_path / "u"), "j")


def test_fork_pull_requests_get_no_secrets_no_oidc_and_a_read_only_token(small: Fixture, tmp_path: Path):
    small.commit({".github/workflows/f.yml": """
on: pull_request
permissions: {pull-requests: write, id-token: write}
jobs:
  j:
    runs-on: x
    steps:
      - id: s
        env: {T: "${{ secrets.TOKEN }}"}
        run: echo "t=$T" >> "$GITHUB_OUTPUT"
      - uses: pulumi/auth-actions@v2
        continue-on-error: true
        with: {organization: acme}
      - uses: marocchino/sticky-pull-request-comment@v2
        with: {message: hi}
"""}, branch="feature")
    for fork in (False, True):
        run = Run(small, ".github/workflows/f.yml", small.pull_request("feature", fork=fork),
                  tmp_path / str(fork), secrets={"TOKEN": "s3cret"})
        job = run_job(run, "j")
        assert job.step("s").outputs == {"t": "" if fork else "s3cret"}
        assert job.steps[1].outcome == ("failure" if fork else "success")
        assert job.status == ("failure" if fork else "success")
        if fork:
            assert "Resource not accessible by integration" in job.errors()
            assert "Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable" in job.errors()


def test_checkout_fetches_history_only_with_fetch_depth_0(small: Fixture, tmp_path: Path):
    steps = "      - run: git rev-parse --verify -q origin/main\n"
    small.commit({
        ".github/workflows/d1.yml": _one_step_workflow("actions/cache@v4").replace(
            "      - uses: actions/cache@v4\n", steps),
        ".github/workflows/d0.yml": _one_step_workflow("actions/cache@v4").replace(
            "      - uses: actions/cache@v4\n", steps).replace(
            "actions/checkout@v1\n", "actions/checkout@v1\n        with: {fetch-depth: 0}\n"),
    }, branch="feature")
    event = small.pull_request("feature")
    shallow = run_job(Run(small, ".github/workflows/d1.yml", event, tmp_path / "1"), "j")
    full = run_job(Run(small, ".github/workflows/d0.yml", event, tmp_path / "0"), "j")
    assert (shallow.status, full.status) == ("failure", "success")


def test_hash_files_hashes_the_matched_files_under_the_workspace(tmp_path: Path):
    """hashFiles.ts: SHA-256 over the files' SHA-256 digests; '' when nothing matches; a
    trailing ** takes every file below."""
    import hashlib

    (tmp_path / "locks" / "sub").mkdir(parents=True)
    (tmp_path / "locks" / "a.txt").write_text("a")
    (tmp_path / "locks" / "sub" / "b.txt").write_text("b")
    scope = Scope({}, workspace=tmp_path)
    digests = b"".join(hashlib.sha256(x).digest() for x in (b"a", b"b"))
    assert evaluate("hashFiles('locks/**')", scope) == hashlib.sha256(digests).hexdigest()
    assert evaluate("hashFiles('nothing/*.json')", scope) == ""
