"""Runs one job of a workflow here the way a GitHub-hosted runner would, with a faked event.

A test builds a fixture repository (`Fixture`: a copy of this repository's tracked files plus
commits for the case), then `run_job` loads the workflow from the commit under test, evaluates
the job's `if:`, `runs-on`, `environment`, env and matrix, and runs its steps in order:
- `run:` steps really run, with the runner's shell command lines (actions/runner
  src/Runner.Worker/Handlers/ScriptHandler.cs and ScriptHandlerHelpers.cs: no `shell` is
  `bash -e {0}`, `shell: bash` is `bash --noprofile --norc -e -o pipefail {0}`), in a clean
  environment with GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH / GITHUB_STEP_SUMMARY files
  (https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands);
- local composite actions (`./...`) run their own steps with their `inputs`, and without the
  `vars` and `secrets` contexts, which the runner does not allow there (actions/runner
  src/Runner.Worker/action_yaml.json);
- third-party actions are small recorded fakes (workflow_fakes.py); any other action fails;
- external CLIs the jobs call are stubs on PATH: `pulumi` answers as the test says, `make deps`
  links this machine's .venv and `make checkov` its .venv-checkov. Our own scripts,
  `llm-platform` and Checkov run for real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from workflow_expressions import ExpressionError, Scope, condition, equal, interpolate, to_str

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "acme/llm-platform"
STUBS = Path(__file__).resolve().parent / "workflow_stubs"
# The commands a job may find on a runner that these tests use from this machine.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
          "GIT_CONFIG_NOSYSTEM": "1"}
# A step that hangs fails its test instead of stalling the suite.
STEP_TIMEOUT = 120


class HarnessError(Exception):
    """The workflow uses something this harness does not simulate, or the runner would refuse
    to load it: the test fails loudly rather than pass on a guess."""


def git(repo: Path, *args: str, check: bool = True) -> str:
    env = {"PATH": SYSTEM_PATH, "HOME": str(repo), **GIT_ID}
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise HarnessError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


@dataclass
class StepResult:
    id: str
    name: str
    outcome: str
    conclusion: str
    outputs: dict[str, str] = field(default_factory=dict)
    log: str = ""
    seconds: float = 0.0


@dataclass
class JobResult:
    job: str
    status: str
    outputs: dict[str, str]
    steps: list[StepResult]
    summary: str
    calls: list[dict[str, Any]]
    annotations: list[tuple[str, str]]
    runs_on: Any = None
    environment: Any = None
    workspace: Path | None = None
    temp: Path | None = None

    def commands(self, name: str) -> list[list[str]]:
        """The argument lists the job passed to a stubbed CLI (`pulumi`, `make`)."""
        log = self.temp / "commands.log" if self.temp else None
        if not log or not log.exists():
            return []
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return [c[1:] for c in calls if c[0] == name]

    def step(self, key: str) -> StepResult:
        found = [s for s in self.steps if key in (s.id, s.name)]
        assert found, f"no step {key!r} in {[s.id or s.name for s in self.steps]}"
        return found[0]

    def called(self, action: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["action"] == action]

    def errors(self) -> list[str]:
        return [text for kind, text in self.annotations if kind == "error"]

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.id or s.name}: {s.outcome} ({s.seconds:.1f} s)\n{s.log}"
                         for s in self.steps)


@dataclass
class Event:
    """The event a run starts from: its name, payload and the GITHUB_* values it implies."""

    name: str
    payload: dict[str, Any]
    sha: str
    ref: str
    base_ref: str = ""
    head_ref: str = ""

    @property
    def is_fork(self) -> bool:
        pr = self.payload.get("pull_request")
        return bool(pr) and pr["head"]["repo"]["full_name"] != REPOSITORY


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 core booleans, as the runner reads workflows (actions/runner
    src/Sdk/WorkflowParser/Conversion/YamlObjectReader.cs MatchBoolean): only true/false, so
    `on:` stays a key and `yes` a string (PyYAML follows YAML 1.1's yes/no/on/off)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


def load_workflow(repo: Path, sha: str, path: str) -> dict[str, Any]:
    """The workflow as GitHub reads it: from the commit the run is for."""
    return load_yaml(git(repo, "show", f"{sha}:{path}"))


@dataclass
class Job:
    """One job (one matrix leg) of a run, and what its steps have done so far."""

    run: Run
    job_id: str
    spec: dict[str, Any]
    matrix: dict[str, Any]
    needs: dict[str, Any]
    temp: Path
    workflow_env: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    status: str = "success"
    steps: list[StepResult] = field(default_factory=list)  # those of composite actions
    summary: list[str] = field(default_factory=list)
    annotations: list[tuple[str, str]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def workspace(self) -> Path:
        return self.temp / "work" / "llm-platform"

    def contexts(self, steps: list[StepResult], extra_env: Mapping[str, str] = (),
                 composite: dict[str, Any] | None = None) -> dict[str, Any]:
        env = {**self.workflow_env, **self.env, **dict(extra_env)}
        base = {
            "github": self.run.github_context(self.job_id, self.workspace),
            "env": env, "job": {"status": self.status}, "runner": self.runner_context(),
            "matrix": self.matrix, "strategy": {"fail-fast": True},
            "steps": {s.id: {"outputs": s.outputs, "outcome": s.outcome,
                             "conclusion": s.conclusion} for s in steps if s.id},
        }
        if composite is not None:
            # action_yaml.json: composite steps see inputs, not vars/secrets/needs.
            return {**base, "inputs": composite}
        return {**base, "vars": self.run.vars, "secrets": self.run.secrets(),
                "needs": self.needs, "inputs": self.run.inputs}

    def runner_context(self) -> dict[str, str]:
        return {"os": "Linux", "arch": "X64", "name": "GitHub Actions 1",
                "temp": str(self.temp / "runner_temp"), "tool_cache": str(self.temp / "tools"),
                "environment": "github-hosted"}

    def scope(self, contexts: dict[str, Any]) -> Scope:
        return Scope(contexts, status=self.status, workspace=self.workspace)

    def process_env(self, step_env: Mapping[str, str]) -> dict[str, str]:
        """A step's environment: the runner's variables, then workflow, job, GITHUB_ENV and
        step env; nothing leaks from the test process."""
        github = self.run.github_context(self.job_id, self.workspace)
        env = {
            "HOME": str(self.temp / "home"), "LANG": "C.UTF-8", "CI": "true",
            "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_NAME": self.run.event.name, "GITHUB_EVENT_PATH": str(self.run.event_path),
            "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_REPOSITORY_OWNER": REPOSITORY.split("/")[0],
            "GITHUB_SHA": self.run.event.sha, "GITHUB_REF": self.run.event.ref,
            "GITHUB_BASE_REF": self.run.event.base_ref, "GITHUB_HEAD_REF": self.run.event.head_ref,
            "GITHUB_RUN_ID": github["run_id"], "GITHUB_RUN_NUMBER": "1", "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_JOB": self.job_id, "GITHUB_ACTOR": "octocat",
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_API_URL": self.run.api_url,
            "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_TEMP": str(self.temp / "runner_temp"),
            "RUNNER_TOOL_CACHE": str(self.temp / "tools"),
            # The venv `make deps` links is installed in editable mode from /work/main; on a
            # runner it is installed from the checkout, which PYTHONPATH stands for here.
            "PYTHONPATH": str(self.workspace), "PYTHONDONTWRITEBYTECODE": "1",
            "HARNESS_VENV": str(self.run.venv), "HARNESS_CHECKOV_VENV": str(self.run.checkov_venv),
            "HARNESS_PULUMI": str(self.run.pulumi_file),
            "HARNESS_LOG": str(self.temp / "commands.log"),
        }
        env.update(self.workflow_env)
        env.update(self.env)
        env.update(step_env)
        env["PATH"] = ":".join([*reversed(self.path), str(STUBS), SYSTEM_PATH])
        return env


class Run:
    """One workflow run: the fixture repository, the event and the repository's settings."""

    def __init__(self, fixture: Fixture, workflow: str, event: Event, tmp: Path, *,
                 vars: dict[str, str] | None = None, secrets: dict[str, str] | None = None,
                 inputs: dict[str, Any] | None = None, pulumi: dict[str, Any] | None = None,
                 api_url: str = "http://127.0.0.1:9/") -> None:
        self.fixture, self.event, self.tmp = fixture, event, tmp
        self.workflow_path = workflow
        self.workflow = load_workflow(fixture.path, event.sha, workflow)
        self.vars, self.inputs, self.api_url = vars or {}, inputs or {}, api_url
        self._secrets = secrets or {}
        self.venv = (ROOT / ".venv").resolve()
        # `make checkov`'s venv: the one $CHECKOV names (as `make test` sets it), else this
        # checkout's .venv-checkov.
        checkov = os.environ.get("CHECKOV")
        self.checkov_venv = (Path(checkov).parent.parent if checkov
                             else ROOT / ".venv-checkov").resolve()
        tmp.mkdir(parents=True, exist_ok=True)
        self.event_path = tmp / "event.json"
        self.event_path.write_text(json.dumps(event.payload))
        self.pulumi_file = tmp / "pulumi.json"
        self.pulumi_file.write_text(json.dumps(pulumi or {}))

    def secrets(self) -> dict[str, str]:
        """A fork's pull request gets no secret but GITHUB_TOKEN (read-only): "secrets are not
        passed to the runner when a workflow is triggered from a forked repository",
        https://docs.github.com/actions/security-guides/using-secrets-in-github-actions."""
        token = {"GITHUB_TOKEN": "ghs_fake"}
        return token if self.event.is_fork else {**self._secrets, **token}

    def github_context(self, job_id: str, workspace: Path) -> dict[str, Any]:
        event = self.event
        return {
            "event_name": event.name, "event": event.payload, "sha": event.sha, "ref": event.ref,
            "base_ref": event.base_ref, "head_ref": event.head_ref, "repository": REPOSITORY,
            "repository_owner": REPOSITORY.split("/")[0], "workspace": str(workspace),
            "job": job_id, "run_id": "1000", "run_number": "1", "run_attempt": "1",
            "actor": "octocat", "server_url": "https://github.com", "api_url": self.api_url,
            "token": "ghs_fake", "workflow": self.workflow.get("name", ""),
            "ref_name": event.ref.rsplit("/", 1)[-1], "action_path": "", "action": "",
        }

    def permissions(self, job_id: str) -> dict[str, str]:
        """The GITHUB_TOKEN's scopes for a job: its own `permissions`, else the workflow's, else
        the repository's default (taken as the permissive one); a fork's pull request gets
        read at most and no id-token
        (https://docs.github.com/actions/security-for-github-actions/security-guides/automatic-token-authentication)."""
        spec = self.workflow["jobs"][job_id]
        granted = spec.get("permissions", self.workflow.get("permissions", "write-all"))
        if isinstance(granted, str):
            scopes = ("contents", "pull-requests", "id-token", "issues", "actions")
            granted = {s: granted.split("-")[0] for s in scopes}
        if self.event.is_fork:
            return {k: "read" for k, v in granted.items() if v != "none" and k != "id-token"}
        return dict(granted)


# --- the file commands (actions/runner src/Runner.Worker/FileCommandManager.cs)

def parse_file_command(text: str) -> dict[str, str]:
    """NAME=VALUE lines and NAME<<DELIMITER heredocs, whichever marker comes first; a heredoc
    without its delimiter line is an error that fails the step."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            key, value = line.split("=", 1)
        elif heredoc >= 0:
            key, delimiter = line.split("<<", 1)
            body: list[str] = []
            while i < len(lines) and lines[i].rstrip("\r") != delimiter:
                body.append(lines[i].rstrip("\r"))
                i += 1
            if i >= len(lines):
                raise HarnessError(f"Invalid value. Matching delimiter not found '{delimiter}'")
            i += 1
            value = "\n".join(body)
        else:
            raise HarnessError(f"Invalid format '{line}'")
        values[key] = value
    return values


_ANNOTATION = re.compile(r"^::(error|warning|notice)(?: [^:]*)?::(.*)$")


def annotations(log: str) -> list[tuple[str, str]]:
    """`::error::` lines, from stdout or stderr: the runner reads workflow commands from both
    (ScriptHandler.cs: OutputDataReceived and ErrorDataReceived)."""
    found = []
    for line in log.splitlines():
        match = _ANNOTATION.match(line)
        if match:
            found.append((match.group(1), match.group(2)))
    return found


# --- shell steps

def shell_command(job: Job, step: dict[str, Any], script: Path) -> list[str]:
    """ScriptHandler.cs: no shell → bash with sh's arguments (`bash -e {0}`); a built-in name
    → ScriptHandlerHelpers' arguments; anything else is a `command [args] {0}` template."""
    defaults = {**job.run.workflow.get("defaults", {}).get("run", {}),
                **job.spec.get("defaults", {}).get("run", {})}
    shell = step.get("shell") or (defaults.get("shell") if not step.get("_composite") else None)
    builtin = {"bash": "--noprofile --norc -e -o pipefail {0}", "sh": "-e {0}", "python": "{0}"}
    if not shell:
        command, args = "bash", "-e {0}"
    else:
        command, _, args = shell.partition(" ")
        args = args.strip() or builtin.get(command, "")
    if "{0}" not in args:
        raise HarnessError(f"Invalid shell option {shell!r}")
    return [command, *args.replace("{0}", str(script)).split()]


def run_script(job: Job, step: dict[str, Any], scope: Scope, env: dict[str, str]
               ) -> tuple[str, dict[str, str], str]:
    temp = job.temp / "runner_temp"
    n = sum(1 for _ in temp.glob("step_*.sh"))
    files = {name: temp / "_runner_file_commands" / f"{name}_{n}" for name in
             ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE")}
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    script = temp / f"step_{n}.sh"
    script.write_text(to_str(interpolate(step["run"], scope)))
    workdir = step.get("working-directory") or (
        {} if step.get("_composite") else job.spec.get("defaults", {}).get("run", {})
    ).get("working-directory", "")
    try:
        proc = subprocess.run(
            shell_command(job, step, script), cwd=job.workspace / workdir,
            env={**job.process_env(env), **{k: str(v) for k, v in files.items()}},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=STEP_TIMEOUT)
    except OSError as error:
        # As on a runner: an environment variable over 128 KiB (MAX_ARG_STRLEN) makes exec
        # fail with E2BIG, "Argument list too long", before the script starts.
        return "failure", {}, f"::error::{error.strerror}: {shell_command(job, step, script)[0]}"
    job.env.update(parse_file_command(files["GITHUB_ENV"].read_text()))
    job.path += [p for p in files["GITHUB_PATH"].read_text().splitlines() if p]
    summary = files["GITHUB_STEP_SUMMARY"].read_text()
    if summary:
        job.summary.append(summary)
    outputs = parse_file_command(files["GITHUB_OUTPUT"].read_text())
    return ("success" if proc.returncode == 0 else "failure"), outputs, proc.stdout


# --- steps, actions and jobs

def run_steps(job: Job, steps: list[dict[str, Any]], *, inputs: dict[str, Any] | None = None,
              outer_env: Mapping[str, str] = ()) -> list[StepResult]:
    """Steps in order; `steps.<id>` of each is visible to the ones after it."""
    results: list[StepResult] = []
    for number, step in enumerate(steps):
        results.append(run_step(job, step, results, inputs, dict(outer_env)))
        results[-1].name = results[-1].name or f"step {number + 1}"
    return results


def run_step(job: Job, step: dict[str, Any], done: list[StepResult],
             inputs: dict[str, Any] | None, outer_env: dict[str, str]) -> StepResult:
    name = step.get("name") or step.get("uses") or step.get("run", "").split("\n")[0]
    result = StepResult(id=step.get("id", ""), name=name, outcome="skipped", conclusion="skipped")
    started = time.monotonic()
    try:
        scope = job.scope(job.contexts(done, outer_env, inputs))
        if not condition(step.get("if"), scope):
            return result
        step_env = {**outer_env, **{k: to_str(v) for k, v in
                                    interpolate(step.get("env", {}), scope).items()}}
        scope = job.scope(job.contexts(done, step_env, inputs))
        if "run" in step:
            if inputs is not None and "shell" not in step:
                raise HarnessError(f"composite step {name!r}: Required property is missing: shell")
            outcome, outputs, log = run_script(job, {**step, "_composite": inputs is not None},
                                               scope, step_env)
        else:
            outcome, outputs, log = run_action(job, step, scope, step_env)
        keep_going = step.get("continue-on-error", False)
        keep_going = to_str(interpolate(keep_going, scope)) == "true" if keep_going else False
    except ExpressionError as error:
        outcome, outputs, log, keep_going = "failure", {}, f"::error::{error}", False
    result.outcome, result.outputs, result.log = outcome, outputs, log
    result.seconds = time.monotonic() - started
    result.conclusion = "success" if outcome == "failure" and keep_going else outcome
    job.annotations += annotations(log)
    if result.conclusion == "failure":
        job.status = "failure"
    return result


def run_action(job: Job, step: dict[str, Any], scope: Scope, env: dict[str, str]
               ) -> tuple[str, dict[str, str], str]:
    uses = step["uses"]
    given = {k: to_str(v) for k, v in interpolate(step.get("with", {}), scope).items()}
    if uses.startswith("./"):
        return run_composite(job, uses, given, env)
    from workflow_fakes import FAKES  # the fakes call back into Job

    action, _, ref = uses.partition("@")
    fake = FAKES.get(action.lower())
    if fake is None:
        raise HarnessError(f"{uses}: no fake for this action in tests/workflow_fakes.py")
    job.calls.append({"action": action, "ref": ref, "with": given, "id": step.get("id", "")})
    ok, outputs, log = fake(job, given, env)
    return ("success" if ok else "failure"), outputs, log


def run_composite(job: Job, uses: str, given: dict[str, str], env: dict[str, str]
                  ) -> tuple[str, dict[str, str], str]:
    folder = job.workspace / uses[2:]
    found = [p for p in (folder / "action.yml", folder / "action.yaml") if p.exists()]
    if not found:
        return "failure", {}, f"::error::Can't find 'action.yml' under '{folder}'."
    action = load_yaml(found[0].read_text())
    if action["runs"].get("using") != "composite":
        raise HarnessError(f"{uses}: only composite local actions are simulated")
    bare = job.scope(job.contexts([], env, {}))
    inputs = {name: given.get(name, to_str(interpolate(spec.get("default", ""), bare)))
              for name, spec in (action.get("inputs") or {}).items()}
    unexpected = sorted(set(given) - set(inputs))
    # Status functions in a composite's steps see the action's own steps, not the job's
    # (actions/runner#1271, fixed in 2.280.3; github/docs#12378).
    status, job.status = job.status, "success"
    results = run_steps(job, action["runs"]["steps"], inputs=inputs, outer_env=env)
    failed, job.status = job.status == "failure", status
    scope = job.scope(job.contexts(results, env, inputs))
    outputs = {k: to_str(interpolate(v.get("value", ""), scope))
               for k, v in (action.get("outputs") or {}).items()}
    log = "\n".join([f"::warning::Unexpected input(s) {unexpected}"] * bool(unexpected)
                    + [f"  {r.name}: {r.outcome}\n{r.log}" for r in results])
    job.steps += [StepResult(f"{uses}/{r.id}", r.name, r.outcome, r.conclusion, r.outputs, "")
                  for r in results]
    return ("failure" if failed else "success"), outputs, log


def needs_contexts(needs: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """`needs.<job>.result/outputs`, and the status `success()` sees in a job's own `if:`."""
    context = {}
    for name, need in needs.items():
        if isinstance(need, JobResult):
            need = {"result": need.status, "outputs": need.outputs}
        context[name] = {"result": need["result"], "outputs": dict(need.get("outputs", {}))}
    results = {n["result"] for n in context.values()}
    status = "failure" if "failure" in results else "success" if results <= {"success"} else ""
    return context, status


def declared_needs(run: Run, job_id: str, needs: Mapping[str, Any]) -> dict[str, Any]:
    """The results of the jobs this job `needs`, and only those: a job sees no other job's."""
    declared = run.workflow["jobs"][job_id].get("needs") or []
    declared = [declared] if isinstance(declared, str) else declared
    missing = [name for name in declared if name not in needs]
    if missing:
        raise HarnessError(f"job {job_id} needs {missing}: pass their results")
    return {name: needs[name] for name in declared}


def job_scope(run: Run, job_id: str, needs: Mapping[str, Any], matrix: dict[str, Any]) -> Scope:
    context, status = needs_contexts(declared_needs(run, job_id, needs))
    return Scope({"github": run.github_context(job_id, Path()), "needs": context,
                  "vars": run.vars, "inputs": run.inputs, "matrix": matrix,
                  "strategy": {"fail-fast": True}, "secrets": run.secrets()}, status=status)


def legs(run: Run, job_id: str, needs: Mapping[str, Any] = ()) -> list[dict[str, Any]]:
    """The matrix legs a job runs, [] when its `if:` skips it; an empty vector is the load
    error WorkflowTemplateConverter.cs raises ("Matrix vector '<name>' does not contain any
    values")."""
    spec = run.workflow["jobs"][job_id]
    scope = job_scope(run, job_id, dict(needs), {})
    if not condition(spec.get("if"), scope):
        return []
    matrix = interpolate((spec.get("strategy") or {}).get("matrix"), scope)
    if not matrix:
        return [{}]
    if not isinstance(matrix, Mapping):
        raise HarnessError(f"job {job_id}: the matrix is not a mapping: {matrix!r}")
    return expand_matrix(matrix)


def _matches(combo: Mapping[str, Any], keys: Mapping[str, Any]) -> bool:
    return all(k in combo and (equal(combo[k], v) if not isinstance(v, dict | list)
                               else combo[k] == v) for k, v in keys.items())


def expand_matrix(matrix: Mapping[str, Any]) -> list[dict[str, Any]]:
    """actions/runner src/Sdk/WorkflowParser/Conversion/MatrixBuilder.cs: the cross product of
    the vectors less the excluded; an include's keys that are vectors filter the combinations
    it adds its other keys to; an include that matched none is a combination of its own."""
    vectors = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    combos: list[dict[str, Any]] = [{}] if vectors else []
    for key, values in vectors.items():
        if not isinstance(values, list) or not values:
            raise HarnessError(f"Matrix vector '{key}' does not contain any values")
        combos = [{**c, key: v} for c in combos for v in values]
    combos = [c for c in combos if not any(_matches(c, drop) for drop in matrix.get("exclude") or [])]
    includes = [({k: v for k, v in item.items() if k in vectors},
                 {k: v for k, v in item.items() if k not in vectors})
                for item in matrix.get("include") or []]
    matched = [False] * len(includes)
    for combo in combos:
        for i, (keys, extra) in enumerate(includes):
            if _matches(combo, keys):
                matched[i] = True
                combo.update(extra)
    return combos + [{**keys, **extra} for (keys, extra), hit in zip(includes, matched, strict=True)
                     if not hit]


def run_job(run: Run, job_id: str, *, matrix: dict[str, Any] | None = None,
            needs: Mapping[str, Any] = ()) -> JobResult:
    """One job, or one leg of its matrix, from its `if:` to its `outputs`."""
    spec = run.workflow["jobs"][job_id]
    if "uses" in spec:
        raise HarnessError(f"job {job_id} calls {spec['uses']}: run that workflow's jobs")
    first = re.sub(r"[^A-Za-z0-9_.-]", "_", to_str(next(iter((matrix or {}).values()), "")))
    temp = run.tmp / f"{job_id}-{first[:40]}-{sum(1 for _ in run.tmp.glob(job_id + '-*'))}"
    job = Job(run, job_id, spec, matrix or {},
              needs_contexts(declared_needs(run, job_id, dict(needs)))[0], temp)
    scope = job_scope(run, job_id, dict(needs), job.matrix)
    if not condition(spec.get("if"), scope):
        return JobResult(job_id, "skipped", {}, [], "", [], [])
    for folder in ("work/llm-platform", "runner_temp", "home", "tools"):
        (job.temp / folder).mkdir(parents=True, exist_ok=True)
    runs_on, environment = interpolate(spec.get("runs-on"), scope), None
    if "environment" in spec:
        environment = interpolate(spec["environment"], scope)
    job.workflow_env = {k: to_str(v) for k, v in
                        interpolate(run.workflow.get("env", {}), scope).items()}
    scope.contexts["env"] = dict(job.workflow_env)
    job.env = {k: to_str(v) for k, v in interpolate(spec.get("env", {}), scope).items()}
    top = run_steps(job, spec.get("steps", []))
    final = job.scope(job.contexts(top))
    outputs = {k: to_str(interpolate(v, final)) for k, v in (spec.get("outputs") or {}).items()}
    return JobResult(job_id, job.status, outputs, top + job.steps, "".join(job.summary), job.calls,
                     job.annotations, runs_on, environment, job.workspace, job.temp)


# --- fixture repositories and events

class Fixture:
    """A git repository standing for GitHub's copy of the project: `main` starts from this
    checkout's tracked files (as they are in the working tree, so a test sees uncommitted
    edits), and a test adds the commits of its case."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def template(cls, path: Path, source: Path = ROOT) -> Fixture:
        path.mkdir(parents=True)
        tracked = subprocess.run(["git", "ls-files", "-z"], cwd=source, capture_output=True,
                                 check=True).stdout
        present = b"\0".join(f for f in tracked.split(b"\0")
                             if f and (source / f.decode()).is_file())
        packed = subprocess.run(["tar", "--null", "-T", "-", "-cf", "-"], cwd=source,
                                input=present, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-xf", "-"], cwd=path, input=packed, check=True)
        git(path, "init", "-q", "-b", "main")
        # checkout fetches the merge commit by its SHA (actions/checkout src/ref-helper.ts).
        git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "base")
        return cls(path)

    @classmethod
    def from_files(cls, path: Path, files: Mapping[str, str]) -> Fixture:
        """A small repository of the given files, for the harness's own tests."""
        path.mkdir(parents=True)
        git(path, "init", "-q", "-b", "main")
        git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
        fixture = cls(path)
        fixture.commit(files, "base")
        return fixture

    def clone(self, path: Path) -> Fixture:
        subprocess.run(["git", "clone", "-q", str(self.path), str(path)], check=True,
                       env={"PATH": SYSTEM_PATH, "HOME": str(path.parent)})
        git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
        return Fixture(path)

    def head(self, ref: str = "HEAD") -> str:
        return git(self.path, "rev-parse", ref)

    def commit(self, files: Mapping[str, str | None], message: str = "change", *,
               branch: str | None = None) -> str:
        """Writes (or, for None, deletes) files on `branch` (made from main when new)."""
        if branch:
            exists = git(self.path, "rev-parse", "--verify", "-q", branch, check=False)
            git(self.path, "checkout", "-q", *([branch] if exists else ["-b", branch, "main"]))
        for rel, text in files.items():
            target = self.path / rel
            if text is None:
                git(self.path, "rm", "-q", rel)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            git(self.path, "add", rel)
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        sha = self.head()
        git(self.path, "checkout", "-q", "main")
        return sha

    def pull_request(self, branch: str, *, number: int = 7, fork: bool = False) -> Event:
        """GitHub's `refs/pull/<n>/merge`: the test merge of the branch into main, the commit a
        pull_request run is for (GITHUB_SHA), and its event payload."""
        base, head = self.head("main"), self.head(branch)
        tree = git(self.path, "merge-tree", "--write-tree", base, head)
        merge = git(self.path, "commit-tree", tree, "-p", base, "-p", head, "-m",
                    f"Merge {head} into {base}")
        git(self.path, "update-ref", f"refs/pull/{number}/merge", merge)
        git(self.path, "update-ref", f"refs/pull/{number}/head", head)
        owner = "someone/llm-platform" if fork else REPOSITORY
        payload = {"action": "synchronize", "number": number, "repository": {"full_name": REPOSITORY},
                   "pull_request": {"number": number,
                                    "head": {"sha": head, "ref": branch, "repo": {"full_name": owner}},
                                    "base": {"sha": base, "ref": "main",
                                             "repo": {"full_name": REPOSITORY}}}}
        return Event("pull_request", payload, merge, f"refs/pull/{number}/merge", "main", branch)

    def push(self, before: str, after: str | None = None) -> Event:
        """A push to main from `before` to `after` (main's head): `before` is all zeros for
        the first push of a branch."""
        after = after or self.head("main")
        git(self.path, "update-ref", "refs/heads/main", after)
        payload = {"ref": "refs/heads/main", "before": before, "after": after, "forced": False,
                   "created": before == "0" * 40, "repository": {"full_name": REPOSITORY}}
        return Event("push", payload, after, "refs/heads/main")
