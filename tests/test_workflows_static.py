"""The workflow files, checked without running them: what GitHub would refuse to load, or
would run in a way the issue (#15) calls unsafe, fails here with the file and the place.

- zizmor (PyPI, offline) finds nothing, and every ignore in .github/zizmor.yml says why;
- every workflow and composite action validates against SchemaStore's workflow and action
  schemas (tests/upstream/github/SOURCE.md);
- every `${{ }}` expression and `if:` uses only the contexts and functions the runner allows at
  that place: the `context` lists of the runner's own template schemas, `workflow-v1.0.json`
  for workflows and `action_yaml.json` for actions (actions/runner v2.336.0);
- ci.yml tests every Python the classifiers claim; actions are pinned by commit with their tag;
  no expression is pasted into a shell script; permissions start from the workflow's top and
  `id-token: write` goes only to the jobs that log in.

Each rule is a function over the parsed file (and its text, where comments matter), tested on
small samples below as well as on .github/, so a rule that can no longer fail is noticed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import ROOT

GITHUB = ROOT / ".github"
UPSTREAM = ROOT / "tests" / "upstream" / "github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
ZIZMOR = Path(sys.executable).parent / "zizmor"


class GitHubYaml(yaml.SafeLoader):
    """YAML as GitHub reads it: only true/false are booleans, so `on:` stays a key (PyYAML's
    YAML 1.1 would read it as True)."""


GitHubYaml.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
GitHubYaml.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load(text: str) -> Any:
    return yaml.load(text, Loader=GitHubYaml)  # noqa: S506 (a SafeLoader subclass)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def files() -> list[Path]:
    return [*WORKFLOWS, *ACTIONS]


# --- zizmor --------------------------------------------------------------------------------


def zizmor_findings(github: Path) -> list[str]:
    """One line per finding of `zizmor --offline` over a .github directory. zizmor reads
    .github/zizmor.yml itself (docs.zizmor.sh/configuration: a directory input looks for
    zizmor.yml in that directory)."""
    assert ZIZMOR.exists(), f"no zizmor at {ZIZMOR}: `make install` (locks/test.txt pins it)"
    done = subprocess.run(
        [str(ZIZMOR), "--offline", "--no-exit-codes", "--format", "json", github.name],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=github.parent,
    )
    assert done.returncode == 0, done.stderr
    lines = []
    for finding in json.loads(done.stdout):
        where = next(loc for loc in finding["locations"] if loc["symbolic"]["kind"] == "Primary")
        path = where["symbolic"]["key"]["Local"]["verbatim_path"]
        row = where["concrete"]["location"]["start_point"]["row"] + 1
        severity = finding["determinations"]["severity"]
        lines.append(f"{path}:{row}: {finding['ident']} ({severity}): {finding['desc']}")
    return lines


def unexplained_ignores(config: str) -> list[str]:
    """Lines of a zizmor.yml that ignore or disable an audit with no comment saying why, on
    the line itself or the comment line just above it."""
    lines = config.splitlines()
    problems = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        ignores = text.startswith("- ") or re.fullmatch(r"disable:\s*true", text)
        above = lines[number - 2].strip() if number > 1 else ""
        if ignores and "#" not in line and not above.startswith("#"):
            problems.append(f"zizmor.yml:{number}: {text!r} gives no reason")
    return problems


def unexplained_inline_ignores(path: Path) -> list[str]:
    """`# zizmor: ignore[audit]` comments with nothing after them to say why."""
    return [
        f"{rel(path)}:{number}: {line.strip()!r} gives no reason"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"zizmor: ignore\[[^\]]*\]\s*$", line)
    ]


def test_zizmor_finds_nothing_in_github():
    assert zizmor_findings(GITHUB) == []


def test_every_zizmor_ignore_says_why():
    config = GITHUB / "zizmor.yml"
    problems = unexplained_ignores(config.read_text()) if config.exists() else []
    for path in files():
        problems += unexplained_inline_ignores(path)
    assert problems == []


def test_zizmor_finds_an_unpinned_action_and_honours_an_explained_ignore(tmp_path):
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "w.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/setup-python@v5\n"
    )
    assert [f.split(": ", 1)[1] for f in zizmor_findings(tmp_path / ".github")] == [
        "unpinned-uses (High): unpinned action reference"
    ]
    config = "rules:\n  unpinned-uses:\n    ignore:\n      # the sample's one finding\n      - w.yml\n"
    (tmp_path / ".github" / "zizmor.yml").write_text(config)
    assert zizmor_findings(tmp_path / ".github") == []
    assert unexplained_ignores(config) == []
    assert unexplained_ignores(config.replace("      # the sample's one finding\n", "")) == [
        "zizmor.yml:4: '- w.yml' gives no reason"
    ]


# --- JSON schemas --------------------------------------------------------------------------


@cache
def schema(name: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((UPSTREAM / name).read_text()))


def schema_errors(path: Path, document: Any) -> list[str]:
    kind = "github-action.json" if path.name == "action.yml" else "github-workflow.json"
    return [
        f"{path.name} {'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message[:200]}"
        for error in schema(kind).iter_errors(document)
    ]


@pytest.mark.parametrize("path", files(), ids=rel)
def test_validates_against_the_schemastore_schema(path):
    assert schema_errors(path, load(path.read_text())) == []


def test_the_schemas_refuse_what_github_refuses():
    action = Path(".github/actions/x/action.yml")
    good = {"name": "x", "description": "x", "runs": {"using": "composite", "steps": [
        {"run": "true", "shell": "bash"}]}}
    assert schema_errors(action, good) == []
    good["runs"]["steps"][0].pop("shell")
    assert schema_errors(action, good) != []
    workflow = Path("w.yml")
    assert schema_errors(workflow, load("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n")) == []
    assert schema_errors(workflow, load("on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n")) != []


# --- expressions and the contexts the runner allows ----------------------------------------
# The runner loads a workflow with workflow-v1.0.json and an action.yml with action_yaml.json
# (actions/runner v2.336.0, src/Sdk/WorkflowParser/ and src/Runner.Worker/). A definition's
# `context` lists the named-values and the functions, `name(min,max)`, allowed in expressions
# below it; where no definition on the way down has one, no expression is allowed at all.
# An unlisted name fails the whole file at load time: "Unrecognized named-value: 'vars'".

# Allowed everywhere an expression is (actions/runner
# src/Sdk/DTExpressions2/Expressions2/ExpressionConstants.cs, WellKnownFunctions).
WELL_KNOWN_FUNCTIONS = {"case", "contains", "endswith", "format", "join", "startswith", "tojson", "fromjson"}
LITERALS = {"true", "false", "null", "nan", "infinity"}


# The definitions every template schema has without naming them (actions/runner
# src/Sdk/WorkflowParser/ObjectTemplating/Schema/TemplateSchema.cs, its constructor).
BUILT_IN = {
    "null": {"null": {}},
    "boolean": {"boolean": {}},
    "number": {"number": {}},
    "string": {"string": {}},
    "sequence": {"sequence": {"item-type": "any"}},
    "mapping": {"mapping": {"loose-key-type": "string", "loose-value-type": "any"}},
    "any": {"one-of": ["null", "boolean", "number", "string", "sequence", "mapping"]},
}


@cache
def template_schema(name: str) -> dict[str, Any]:
    # Both files start with a byte-order mark.
    return BUILT_IN | json.loads((UPSTREAM / name).read_text(encoding="utf-8-sig"))["definitions"]


def expressions(value: str) -> list[str]:
    """The bodies of the `${{ }}` in a string; a `}}` inside a '...' literal does not end one."""
    found, start = [], value.find("${{")
    while start != -1:
        i, quoted = start + 3, False
        while i < len(value) and (quoted or value[i : i + 2] != "}}"):
            quoted ^= value[i] == "'"
            i += 1
        found.append(value[start + 3 : i].strip())
        start = value.find("${{", i)
    return found


def names_in(expression: str) -> tuple[set[str], set[str]]:
    """(named-values, functions) an expression uses: `steps.x.outputs` uses `steps`, `fromJSON(`
    the function; property names after `.` and string literals are neither."""
    code = re.sub(r"'(?:[^']|'')*'", "''", expression)
    names, functions = set(), set()
    for match in re.finditer(r"(?<![\w.-])[A-Za-z_][\w-]*(\s*\()?", code):
        word = match.group(0).rstrip("( \t").lower()
        if match.group(1):
            functions.add(word)
        elif word not in LITERALS:
            names.add(word)
    return names, functions


def context_problems(expression: str, context: list[str] | None, where: str) -> list[str]:
    if context is None:
        return [f"{where}: no expression is allowed here: ${{{{ {expression} }}}}"]
    allowed_names = {c.lower() for c in context if "(" not in c}
    allowed_functions = WELL_KNOWN_FUNCTIONS | {c.split("(")[0].lower() for c in context if "(" in c}
    names, functions = names_in(expression)
    return [
        f"{where}: Unrecognized named-value: '{name}' (allowed here: {', '.join(sorted(allowed_names))})"
        for name in sorted(names - allowed_names)
    ] + [f"{where}: Unrecognized function: '{name}'" for name in sorted(functions - allowed_functions)]


def kind_fits(definition: dict[str, Any], node: Any) -> bool:
    """Whether a YAML value can be read as this definition (how `one-of` picks its branch)."""
    if isinstance(node, dict):
        mapping = definition.get("mapping")
        if mapping is None:
            return False
        properties = mapping.get("properties", {})
        required = {k for k, v in properties.items() if isinstance(v, dict) and v.get("required")}
        return required <= set(node) and ("loose-value-type" in mapping or set(node) <= set(properties))
    if isinstance(node, list):
        return "sequence" in definition
    if isinstance(node, str) and "${{" in node:
        return bool({"string", "boolean", "number"} & set(definition))
    kinds = {bool: "boolean", int: "number", float: "number", str: "string", type(None): "null"}
    return kinds[type(node)] in definition


def branch(defs: dict[str, Any], name: str, node: Any) -> str | None:
    """The definition a value is read as: itself, or the first `one-of` branch that fits."""
    definition = defs[name]
    if "one-of" not in definition:
        return name
    for option in definition["one-of"]:
        chosen = branch(defs, option, node)
        if chosen and kind_fits(defs[chosen], node):
            return chosen
    return None


def expression_problems(node: Any, defs: dict[str, Any], name: str, context: list[str] | None, where: str) -> list[str]:
    """Every expression under `node`, read as definition `name`, checked against the context
    in force there (the nearest `context` on the way down)."""
    context = defs[name].get("context", context)
    chosen = branch(defs, name, node)
    if chosen is None:
        return []  # the schema tests report a value of the wrong shape
    context = defs[chosen].get("context", context)
    if isinstance(node, str):
        # An `if` is an expression without `${{ }}` too (the runner's EvaluateStepIf / job-if).
        bodies = expressions(node) if "${{" in node or not name.endswith("-if") else [node]
        return [p for body in bodies for p in context_problems(body, context, where)]
    if isinstance(node, list):
        item = defs[chosen]["sequence"]["item-type"]
        return [p for i, v in enumerate(node) for p in expression_problems(v, defs, item, context, f"{where}[{i}]")]
    if isinstance(node, dict):
        mapping = defs[chosen]["mapping"]
        problems = []
        for key, value in node.items():
            child = mapping.get("properties", {}).get(key, mapping.get("loose-value-type"))
            child = child["type"] if isinstance(child, dict) else child
            if child is not None:
                problems += expression_problems(value, defs, child, context, f"{where}.{key}")
        return problems
    return []


def file_expression_problems(path: Path, document: Any) -> list[str]:
    if path.name == "action.yml":
        defs, root = template_schema("action_yaml.json"), "action-root"
    else:
        defs, root = template_schema("workflow-v1.0.json"), "workflow-root"
    name = rel(path) if path.is_absolute() else str(path)
    return [f"{name}: {p.lstrip('.')}" for p in expression_problems(document, defs, root, None, "")]


@pytest.mark.parametrize("path", files(), ids=rel)
def test_every_expression_uses_only_contexts_the_runner_allows_there(path):
    assert file_expression_problems(path, load(path.read_text())) == []


WORKFLOW = """\
on: push
permissions: {{}}
jobs:
  a:
    if: {job_if}
    runs-on: ${{{{ matrix.os }}}}
    strategy:
      matrix:
        os: [ubuntu-24.04]
    steps:
      - if: {step_if}
        run: echo "$X"
        env:
          X: ${{{{ vars.X }}}}
"""
ACTION = """\
name: x
description: x
inputs:
  role:
    description: x
runs:
  using: composite
  steps:
    - if: {step_if}
      uses: aws-actions/configure-aws-credentials@0123456789abcdef0123456789abcdef01234567 # v9.9.9
      with:
        role-to-assume: ${{{{ {value} }}}}
"""


def sample_problems(name: str, text: str) -> list[str]:
    """The context problems of a sample file, without the list of what was allowed."""
    found = file_expression_problems(Path(name), load(text))
    return [p.split(" (allowed")[0] for p in found]


@pytest.mark.parametrize(("job_if", "step_if", "problems"), [
    ("github.event_name == 'push'", "vars.X != '' && success()", []),
    # A job's `if` runs before any step: no steps, no secrets, no hashFiles (job-if).
    ("steps.a.outputs.x == '1'", "true", ["jobs.a.if: Unrecognized named-value: 'steps'"]),
    ("secrets.T != ''", "true", ["jobs.a.if: Unrecognized named-value: 'secrets'"]),
    ("${{ hashFiles('x') != '' }}", "true", ["jobs.a.if: Unrecognized function: 'hashfiles'"]),
    # A step's `if` may not read secrets (step-if): they go through env.
    ("true", "secrets.T != ''", ["jobs.a.steps[0].if: Unrecognized named-value: 'secrets'"]),
    ("true", "contains(github.ref, '}}') && vars.X", []),
])
def test_workflow_expressions_are_read_against_their_place(job_if, step_if, problems):
    assert sample_problems("w.yml", WORKFLOW.format(job_if=job_if, step_if=step_if)) == [
        f"w.yml: {p}" for p in problems]


@pytest.mark.parametrize(("step_if", "value", "problems"), [
    ("inputs.role != ''", "inputs.role", []),
    # Today's cloud-login: `vars` is a workflow context, not an action's (action_yaml.json).
    ("vars.ROLE != ''", "vars.ROLE", ["runs.steps[0].if: Unrecognized named-value: 'vars'",
                                      "runs.steps[0].with.role-to-assume: Unrecognized named-value: 'vars'"]),
    ("inputs.role != ''", "secrets.ROLE", ["runs.steps[0].with.role-to-assume: Unrecognized named-value: 'secrets'"]),
    ("always() && steps.cloud.outputs.cloud == 'aws'", "inputs.role", []),
])
def test_composite_action_expressions_are_read_against_action_yaml(step_if, value, problems):
    assert sample_problems("action.yml", ACTION.format(step_if=step_if, value=value)) == [
        f"action.yml: {p}" for p in problems]


def test_an_expression_where_none_is_allowed_is_reported():
    document = load("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: ${{ vars.A }}\n")
    assert file_expression_problems(Path("w.yml"), document) == [
        "w.yml: jobs.a.steps[0].uses: no expression is allowed here: ${{ vars.A }}"
    ]


# --- the repository's rules for its workflows ----------------------------------------------


def classifier_pythons() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: "
    return [c.removeprefix(prefix) for c in project["classifiers"] if re.fullmatch(r"3\.\d+", c.removeprefix(prefix))]


def matrix_pythons(workflow: dict[str, Any]) -> list[list[str]]:
    """Each job's `strategy.matrix.python-version`, as strings."""
    return [
        [str(v) for v in job["strategy"]["matrix"]["python-version"]]
        for job in workflow["jobs"].values()
        if "python-version" in job.get("strategy", {}).get("matrix", {})
    ]


def test_ci_tests_every_python_the_classifiers_claim():
    claimed = classifier_pythons()
    assert claimed and claimed[0] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"].removeprefix(">=")
    assert matrix_pythons(load((GITHUB / "workflows" / "ci.yml").read_text())) == [claimed]


def unpinned(text: str) -> list[str]:
    """`uses:` lines not pinned to a 40-hex commit with its `# v<tag>` after it (local actions
    and workflows, `./...`, are the repository's own)."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"\s*(?:-\s+)?uses:\s*(\S+)(.*)", line)
        if match and not match.group(1).startswith("./"):
            pinned = re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match.group(1))
            tagged = re.fullmatch(r"\s+#\s*v\d[\w.-]*(\s.*)?", match.group(2))
            if not (pinned and tagged):
                problems.append(f"{number}: {line.strip()}")
    return problems


def steps(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(job id, step) for every step of a workflow; ('', step) for a composite action's."""
    if "runs" in document:
        return [("", step) for step in document["runs"].get("steps", [])]
    return [(job_id, step) for job_id, job in document["jobs"].items() for step in job.get("steps", [])]


def run_expressions(document: dict[str, Any]) -> list[str]:
    """Steps that paste `${{ }}` into shell code: the value becomes code (values go through env)."""
    return [
        f"{job or 'runs'}: {step.get('name') or step.get('id') or step['run'].splitlines()[0]}"
        for job, step in steps(document)
        if "${{" in step.get("run", "")
    ]


def persisted_checkouts(document: dict[str, Any]) -> list[str]:
    return [
        f"{job}: {step['uses']}"
        for job, step in steps(document)
        if step.get("uses", "").startswith("actions/checkout@")
        and step.get("with", {}).get("persist-credentials") not in (False, "false")
    ]


# The actions that exchange the job's OIDC token for credentials, and the repository's action
# around them: the only reason for `id-token: write`, which a job needs to request the token
# (docs.github.com, "About security hardening with OpenID Connect", adding permissions
# settings; github.blog/changelog/2023-06-15, "required for requesting the JWT").
OIDC_LOGINS = ("pulumi/auth-actions@", "aws-actions/configure-aws-credentials@",
               "google-github-actions/auth@", "azure/login@", "./.github/actions/cloud-login")


def id_token_problems(workflow: dict[str, Any]) -> list[str]:
    problems = []
    if isinstance(workflow.get("permissions"), dict) and "id-token" in workflow["permissions"]:
        problems.append("the workflow's top-level permissions grant id-token (only jobs that log in may)")
    for job_id, job in workflow["jobs"].items():
        grants = isinstance(job.get("permissions"), dict) and job["permissions"].get("id-token") == "write"
        logs_in = any(step.get("uses", "").startswith(OIDC_LOGINS) for step in job.get("steps", []))
        if grants != logs_in:
            problems.append(f"{job_id}: id-token: write {'without' if grants else 'missing for'} an OIDC login")
    return problems


@pytest.mark.parametrize("path", files(), ids=rel)
def test_every_action_is_pinned_by_commit_with_its_tag(path):
    assert unpinned(path.read_text()) == []


@pytest.mark.parametrize("path", files(), ids=rel)
def test_no_expression_is_pasted_into_a_shell_script(path):
    assert run_expressions(load(path.read_text())) == []


@pytest.mark.parametrize("path", files(), ids=rel)
def test_checkout_never_leaves_the_token_in_git_config(path):
    assert persisted_checkouts(load(path.read_text())) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_every_workflow_sets_its_permissions_at_the_top(path):
    assert "permissions" in load(path.read_text())


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_id_token_write_only_in_jobs_that_log_in(path):
    assert id_token_problems(load(path.read_text())) == []


SHA = "3d3c42e5aac5ba805825da76410c181273ba90b1"


def test_the_repository_rules_on_a_sample():
    good = load(f"""\
on: push
permissions: {{}}
jobs:
  deploy:
    runs-on: ubuntu-24.04
    permissions: {{contents: read, id-token: write}}
    steps:
      - uses: actions/checkout@{SHA} # v7.0.1
        with: {{persist-credentials: false}}
      - uses: ./.github/actions/cloud-login
      - run: echo "$STACK"
        env: {{STACK: "${{{{ matrix.stack }}}}"}}
  test:
    runs-on: ubuntu-24.04
    strategy: {{matrix: {{python-version: ["3.11", "3.12", "3.13"]}}}}
    steps:
      - uses: actions/checkout@{SHA} # v7.0.1
        with: {{persist-credentials: false}}
""")
    assert (run_expressions(good), persisted_checkouts(good), id_token_problems(good)) == ([], [], [])
    assert matrix_pythons(good) == [["3.11", "3.12", "3.13"]]
    good["jobs"]["deploy"]["steps"][2]["run"] = 'echo "${{ matrix.stack }}"'
    del good["jobs"]["test"]["steps"][0]["with"]
    good["jobs"]["test"]["permissions"] = {"id-token": "write"}
    assert run_expressions(good) == ["deploy: echo \"${{ matrix.stack }}\""]
    assert persisted_checkouts(good) == [f"test: actions/checkout@{SHA}"]
    assert id_token_problems(good) == ["test: id-token: write without an OIDC login"]
    assert unpinned(f"  - uses: actions/checkout@{SHA} # v7.0.1\n  - uses: ./.github/actions/x\n") == []
    assert unpinned(f"  - uses: actions/checkout@v4\n  - uses: actions/checkout@{SHA}\n") == [
        "1: - uses: actions/checkout@v4", f"2: - uses: actions/checkout@{SHA}"]


def local_action_input_problems(document: dict[str, Any], root: Path) -> list[str]:
    """Steps that call one of the repository's actions with an input it does not declare (the
    runner only warns, "Unexpected input(s)", actions/runner src/Runner.Worker/ActionRunner.cs,
    and the value is lost) or without one it declares `required: true`."""
    problems = []
    for job, step in steps(document):
        if not step.get("uses", "").startswith("./.github/actions/"):
            continue
        declared = load((root / step["uses"] / "action.yml").read_text()).get("inputs") or {}
        given = set(step.get("with") or {})
        required = {name for name, spec in declared.items() if (spec or {}).get("required") is True}
        problems += [f"{job}: {step['uses']} has no input {name!r}" for name in sorted(given - set(declared))]
        problems += [f"{job}: {step['uses']} needs input {name!r}" for name in sorted(required - given)]
    return problems


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_the_repository_actions_get_the_inputs_they_declare(path):
    assert local_action_input_problems(load(path.read_text()), ROOT) == []


def test_an_undeclared_or_missing_input_of_a_local_action_is_reported(tmp_path):
    action = tmp_path / ".github" / "actions" / "login"
    action.mkdir(parents=True)
    (action / "action.yml").write_text(ACTION.format(step_if="true", value="inputs.role").replace(
        "    description: x\n", "    description: x\n    required: true\n", 1))
    workflow = load("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
                    "      - uses: ./.github/actions/login\n        with: {rolle: r}\n")
    assert local_action_input_problems(workflow, tmp_path) == [
        "a: ./.github/actions/login has no input 'rolle'",
        "a: ./.github/actions/login needs input 'role'",
    ]
    workflow["jobs"]["a"]["steps"][0]["with"] = {"role": "r"}
    assert local_action_input_problems(workflow, tmp_path) == []


# --- preview.yml's Checkov scan of the cloud exports (issue 19, part 4) --------------------


def step_index(job: dict[str, Any], predicate) -> int:
    """The position of the first step `predicate` accepts, -1 when none does."""
    return next((i for i, step in enumerate(job.get("steps", [])) if predicate(step)), -1)


def checkov_scan_problems(workflow: dict[str, Any], makefile: str) -> list[str]:
    """What a reviewer relies on in the preview job: the plan exports the cloud layer; the
    pinned Checkov (Makefile `checkov`, from locks/checkov.txt) is installed and run by path
    over the exports; the review reads its report; the Verdict, after the comment, fails the
    check on its exit code."""
    job = workflow["jobs"]["preview"]
    steps_ = job["steps"]
    run = lambda i: steps_[i].get("run", "") if i >= 0 else ""  # noqa: E731 - a local shorthand
    plan = step_index(job, lambda s: s.get("id") == "plan")
    install = step_index(job, lambda s: s.get("run", "").strip() == "make checkov")
    scan = step_index(job, lambda s: s.get("id") == "checkov")
    review = step_index(job, lambda s: s.get("id") == "review")
    comment = step_index(job, lambda s: s.get("uses", "").startswith("marocchino/"))
    verdict = step_index(job, lambda s: s.get("name") == "Verdict")
    problems = []
    if not ("--export terraform-plan" in run(plan) and "--export arm" in run(plan)):
        problems.append("the plan step does not export terraform-plan and arm by cloud")
    if not 0 <= plan < install < scan < review < comment < verdict:
        problems.append("not in order: plan, make checkov, scan, review, comment, Verdict")
    if not re.search(r'CHECKOV="\$PWD/\.venv-checkov/bin/checkov" \S*python scripts/checkov-exports'
                     r' \\\s+--json checkov\.json "out/\$STACK"', run(scan)):
        problems.append("the scan does not run scripts/checkov-exports --json checkov.json "
                        "out/$STACK with .venv-checkov's checkov")
    if not re.search(r"^checkov: \$\(CHECKOV_VENV\)/\.installed$", makefile, re.M) or \
            "$(call locked,$(CHECKOV_VENV),locks/checkov.txt)" not in makefile:
        problems.append("make checkov does not install locks/checkov.txt into .venv-checkov")
    if "--checkov checkov.json" not in run(review):
        problems.append("the review does not read the scan's report")
    verdict_env = steps_[verdict].get("env", {}) if verdict >= 0 else {}
    if verdict_env.get("CHECKOV_EXIT") != "${{ steps.checkov.outputs.exit }}" or \
            '1) echo "::error::' not in run(verdict).split("CHECKOV_EXIT", 1)[-1]:
        problems.append("the Verdict does not fail on Checkov's exit code")
    return problems


def test_preview_scans_the_cloud_exports_with_the_pinned_checkov():
    workflow = load((GITHUB / "workflows" / "preview.yml").read_text())
    assert checkov_scan_problems(workflow, (ROOT / "Makefile").read_text()) == []


def test_a_broken_checkov_scan_is_reported():
    text = (GITHUB / "workflows" / "preview.yml").read_text()
    makefile = (ROOT / "Makefile").read_text()
    # Checkov from PATH (a runner image's, any version) instead of the lock's.
    unpinned_scan = text.replace('CHECKOV="$PWD/.venv-checkov/bin/checkov" ', "")
    assert checkov_scan_problems(load(unpinned_scan), makefile) == [
        "the scan does not run scripts/checkov-exports --json checkov.json out/$STACK with "
        ".venv-checkov's checkov"]
    # The Verdict before the comment: a finding would hide the review.
    workflow = load(text)
    steps_ = workflow["jobs"]["preview"]["steps"]
    steps_.append(steps_.pop(next(i for i, s in enumerate(steps_) if s.get("id") == "review")))
    assert checkov_scan_problems(workflow, makefile) == [
        "not in order: plan, make checkov, scan, review, comment, Verdict"]
    assert checkov_scan_problems(load(text), makefile.replace("checkov: $(CHECKOV_VENV)", "checkov: x")) == [
        "make checkov does not install locks/checkov.txt into .venv-checkov"]
    no_fail = text.replace('1) echo "::error::stack $STACK: Checkov', '1) echo "::warning::stack $STACK: Checkov')
    assert checkov_scan_problems(load(no_fail), makefile) == [
        "the Verdict does not fail on Checkov's exit code"]
    assert checkov_scan_problems(load(text.replace("--export arm", "")), makefile) == [
        "the plan step does not export terraform-plan and arm by cloud"]
