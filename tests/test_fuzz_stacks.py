"""Hostile stack files (issue 11, section 6): every example stack, mutated, either still loads
or is refused with exit 2, one `error:` line per problem naming its config path, no traceback
and nothing written to --out.

Most examples run in-process (load_spec, then the `plan` command through click's test runner
up to its validation); a few run the real CLI as a subprocess. LLM_PLATFORM_FUZZ=slow runs
many more examples (see README, Development).
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import STACKS, copy_project, run_cli, stack_spec, write_stack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from components import cli
from components.spec import CONFIG_KEY, Environment, SpecError, load_spec

# The default run fits the `make test` budget (about 15 s); LLM_PLATFORM_FUZZ=slow runs
# twenty times as many examples.
SLOW = os.environ.get("LLM_PLATFORM_FUZZ") == "slow"


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples * (20 if SLOW else 1),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


BASES = {stack: stack_spec(stack) for stack in STACKS}
DELETE = object()


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


PATHS = {s: [p for p in _paths(raw) if p] for s, raw in BASES.items()}
MAPPINGS = {s: [p for p in _paths(raw) if isinstance(_get(raw, p), dict)] for s, raw in BASES.items()}

# Text a YAML file can carry, without '[' and ':' that Rich reads as markup and emoji codes
# (those have their own test below).
plain_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="[:"), max_size=40
)
MARKUP = ["[/red]", "[bold]x[/bold]", "[link=https://example.com]x[/link]", ":thumbs_up:",
          "[red]error[/red]: forged", "\\[x]"]
CONTROL = ["\x00", "\x1b[2J", "a\r\nb", "\u202e", "\t\x7f", "two\nlines", " " * 300, "x" * 5000]
EXTREME = [0, -1, 2**31, 2**63, -(2**63), 10**400, 1e308, -1e308, 5e-324, math.inf, -math.inf,
           math.nan, 0.0, -0.0]

type_swaps = (
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(-1e4, 1e4) | plain_text
    | st.lists(st.integers(0, 9), max_size=2) | st.dictionaries(plain_text, st.integers(), max_size=2)
)
hostile = type_swaps | st.sampled_from(EXTREME) | st.sampled_from(CONTROL)


def _edit(raw: dict, path: tuple, value) -> None:
    """Set or delete `path`; an earlier edit may have removed or replaced its parent."""
    try:
        parent = _get(raw, path[:-1])
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        pass


@st.composite
def mutated(draw, text=plain_text, values=hostile | plain_text):
    """(stack, raw): an example stack with one to three edits: a deleted key or item, a value
    of another type, an extreme number, control characters, or an unknown key."""
    stack = draw(st.sampled_from(STACKS))
    raw = copy.deepcopy(BASES[stack])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["delete", "value", "unknown-key"]))
        if kind == "unknown-key":
            path = (*draw(st.sampled_from(MAPPINGS[stack])), draw(text.filter(bool)))
            _edit(raw, path, draw(values))
        else:
            path = draw(st.sampled_from(PATHS[stack]))
            _edit(raw, path, DELETE if kind == "delete" else draw(values))
    return stack, raw


def _lines_of(raw: dict) -> list[str] | None:
    """The problems of `raw`, checked for shape; None when it loads."""
    try:
        env = load_spec(raw)
    except SpecError as exc:
        assert exc.problems
        for line in exc.problems:
            assert line.startswith(CONFIG_KEY), line
            assert not any(c in line for c in "\n\r"), line
        assert len(set(exc.problems)) == len(exc.problems), exc.problems
        return exc.problems
    assert isinstance(env, Environment)
    return None


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project for stacks written by the fuzzer."""
    return copy_project(tmp_path_factory.mktemp("fuzz-project"))


def _plan_in_process(project: Path, raw: dict, problems: list[str], literal: bool) -> None:
    """`llm-platform plan` on `raw` in this process: exit 2, one `error:` line per problem
    (exactly the problem when `literal`), nothing in --out."""
    write_stack(project, "fuzz", raw)
    target = Path(tempfile.mkdtemp(dir=project)) / "out"
    result = CliRunner().invoke(cli.app, ["plan", "--stack", "fuzz", "--project", str(project),
                                          "--out", str(target), "--no-policy"])
    assert result.exit_code == 2, (result.exception, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == len(problems), (errors, problems)
    if literal:  # in any order: the stack file is written with sorted keys
        assert sorted(result.stderr.splitlines()) == sorted(f"error: {p}" for p in problems)
    assert not target.exists()


@fuzz(150)
@given(case=mutated())
def test_mutated_stack_loads_or_is_refused_line_by_line(case, project):
    _, raw = case
    problems = _lines_of(raw)
    if problems is not None:
        _plan_in_process(project, raw, problems, literal=True)


# The gateway block and the models' fallbacks of every stack that has them: the paths the
# general fuzzer above draws from seldom, since they are a few among hundreds.
GATEWAY_STACKS = [s for s in STACKS if "gateway" in BASES[s]]
GATEWAY_PATHS = {
    s: [p for p in PATHS[s] if p[0] == "gateway" or (p[0] == "models" and "fallback" in p)]
    for s in GATEWAY_STACKS
}
GATEWAY_MAPPINGS = {
    s: [p for p in MAPPINGS[s] if p in GATEWAY_PATHS[s]] for s in GATEWAY_STACKS
}


@st.composite
def gateway_mutated(draw, values=hostile | plain_text):
    """(stack, raw): a stack with a gateway, one to three edits inside its gateway block or
    a model's fallback."""
    stack = draw(st.sampled_from(GATEWAY_STACKS))
    raw = copy.deepcopy(BASES[stack])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["delete", "value", "unknown-key"]))
        if kind == "unknown-key":
            path = (*draw(st.sampled_from(GATEWAY_MAPPINGS[stack])),
                    draw(plain_text.filter(bool)))
            _edit(raw, path, draw(values))
        else:
            path = draw(st.sampled_from(GATEWAY_PATHS[stack]))
            _edit(raw, path, DELETE if kind == "delete" else draw(values))
    return stack, raw


def test_every_stack_with_a_gateway_has_paths_to_fuzz():
    assert set(GATEWAY_STACKS) == {"local", "onprem-mixed", "aws", "gcp", "azure", "hybrid"}
    assert all(len(GATEWAY_PATHS[s]) > 10 for s in GATEWAY_STACKS)


@fuzz(100)
@given(case=gateway_mutated())
def test_mutated_gateway_loads_or_is_refused_line_by_line(case, project):
    _, raw = case
    problems = _lines_of(raw)
    if problems is not None:
        _plan_in_process(project, raw, problems, literal=True)


@fuzz(100)
@given(raw=st.recursive(hostile, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(plain_text, inner, max_size=3), max_leaves=6))
def test_whole_value_of_any_shape_is_refused(raw):
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    assert all(line.startswith(CONFIG_KEY) for line in exc.value.problems)


@fuzz(30)
@given(case=mutated(text=st.sampled_from(MARKUP), values=st.sampled_from(MARKUP)))
def test_markup_in_a_stack_is_printed_literally(case, project):
    _, raw = case
    problems = _lines_of(raw)
    if problems is not None:
        _plan_in_process(project, raw, problems, literal=True)


# --- the nonsense of issue 11, section 3: each edit is exactly one problem, at its path ---

LLAMA_8B = {
    "params_b": 8.03, "layers": 32, "attention_heads": 32, "kv_heads": 8, "head_dim": 128,
    "hidden_size": 4096, "intermediate_size": 14336, "vocab_size": 128256,
    "max_position_embeddings": 131072}

Edit = Callable[[dict], None]


def _architecture(i: int, **changes) -> Edit:
    def edit(raw: dict) -> None:
        model = raw["models"][i]
        model.pop("hf_id", None)
        model["architecture"] = {**LLAMA_8B, **changes}
    return edit


def _setter(path: tuple, value) -> Edit:
    return lambda raw: _edit(raw, path, value)


def _shape_cases(raw: dict) -> dict[str, Edit]:
    """Nonsense the pydantic models refuse, keyed by the config path of its one problem.
    These are reported together; the cross-field checks run only on a well-formed spec."""
    last = len(raw["models"]) - 1
    cases: dict[str, Edit] = {
        "budget.monthly_usd": _setter(("budget", "monthly_usd"), True),
        "gpu_pools[0].max_nodes": _setter(("gpu_pools", 0, "max_nodes"), True),
        "models[0].hf_token_secret.key": _setter(
            ("models", 0, "hf_token_secret"), {"name": "hf-token", "key": ".."}),
        "models[0].architecture.sliding_window": _architecture(0, sliding_window=-1),
        f"models[{last}].slo.ttft_p95_ms": _setter(("models", last, "slo", "ttft_p95_ms"), "800"),
    }
    for block, field in (("aws", "vpc_cidr"), ("azure", "vnet_cidr"), ("gcp", "subnet_cidr")):
        if block in raw:
            cases[f"{block}.{field}"] = _setter((block, field), "0.0.0.0/0")
    if "gateway" in raw:
        cases["gateway.database.kind"] = _setter(("gateway", "database"), {"kind": "mysql"})
        cases["gateway.teams[0].keys[0].alias"] = _setter(
            ("gateway", "teams", 0, "keys", 0, "alias"), "Not A Label")
    return cases


def _check_cases(raw: dict) -> list[dict[str, Edit]]:
    """Nonsense only the cross-field checks see, as choices: one per model (a model with a
    contradictory architecture is not sized further) and one per network fact."""
    choices = []
    for i, model in enumerate(raw["models"]):
        where = f"models[{i}]"
        choices.append({
            f"{where}.architecture.experts_per_token": _architecture(i, experts_per_token=4),
            f"{where}.architecture.kv_heads": _architecture(i, kv_heads=12),
            f"{where}.architecture.params_b": _architecture(i, num_experts=64, experts_per_token=2),
            f"{where}.weights.size_gib": _setter(
                ("models", i, "weights"), {**model.get("weights", {}), "size_gib": 1}),
        })
    choices += _gateway_check_cases(raw)
    choices += _training_check_cases(raw)
    if "gcp" in raw:
        choices.append({"gcp.pods_cidr": _setter(("gcp", "pods_cidr"), raw["gcp"].get(
            "subnet_cidr", "10.50.0.0/20"))})
        choices.append({"gcp.zones[0]": _setter(("gcp", "zones"), ["us-east1-b"])})
    if "hybrid" in raw:
        choices.append({"hybrid.connectivity.onprem_cidrs[0]": _setter(
            ("hybrid", "connectivity", "onprem_cidrs"), ["10.40.0.0/24"])})
    return choices


def _training_check_cases(raw: dict) -> list[dict[str, Edit]]:
    """Each training job's cross-field nonsense: an inference pool, a checkpoint interval as
    long as its 24-hour deadline, a run expected to outlast it, a worker with more GPUs than
    a node, and a trigger counting drift over fewer days than it needs."""
    choices: list[dict[str, Edit]] = []
    inference = next(p["name"] for p in raw["gpu_pools"] if p.get("purpose") != "training")
    for i, job in enumerate(raw.get("training", {}).get("jobs", [])):
        where, at = f"training.jobs[{i}]", ("training", "jobs", i)
        assert job["active_deadline_hours"] == 24, "the cases below are worked out for 24 h"
        choices.append({
            f"{where}.pool": _setter((*at, "pool"), inference),
            f"{where}.checkpoint_interval_minutes": _setter(
                (*at, "checkpoint_interval_minutes"), 24 * 60),
            f"{where}.expected_hours": _setter((*at, "expected_hours"), 24.5),
            f"{where}.gpus_per_worker": _setter((*at, "gpus_per_worker"), 16),
        })
        if "trigger" in job:
            choices.append({f"{where}.trigger.window_days": _setter(
                (*at, "trigger", "window_days"), job["trigger"].get("drift_days", 5) - 1)})
    return choices


def _gateway_check_cases(raw: dict) -> list[dict[str, Edit]]:
    """The gateway's cross-field nonsense: a team's model that does not exist, a team
    budget over the environment's ceiling, replica bounds the wrong way round, and a
    fallback whose model has no hosted_api."""
    gateway = raw.get("gateway")
    if gateway is None:
        return []
    choices: list[dict[str, Edit]] = [
        {"gateway.teams[0].models[0]": _setter(("gateway", "teams", 0, "models"), ["no-such"]),
         "gateway.replicas.min": _setter(("gateway", "replicas"), {"min": 5, "max": 4})},
        # 10,000,000 is the largest budget the shape allows, and over every stack's ceiling
        {"gateway.teams[0].monthly_budget_usd": _setter(
            ("gateway", "teams", 0, "monthly_budget_usd"), 10_000_000)},
    ]
    for i, model in enumerate(raw["models"]):
        if "fallback" in model:
            choices.append({f"models[{i}].fallback": _setter(("models", i, "hosted_api"), DELETE)})
    return choices


@st.composite
def nonsense(draw):
    """(stack, raw, paths): an example stack with a few of the section 3 edits, and the
    config path of each problem they must cause."""
    stack = draw(st.sampled_from(STACKS))
    raw = copy.deepcopy(BASES[stack])
    if draw(st.booleans()):
        cases = _shape_cases(raw)
        picked = draw(st.lists(st.sampled_from(sorted(cases)), min_size=1, unique=True))
    else:
        options = _check_cases(raw)
        chosen = draw(st.lists(st.sampled_from(range(len(options))), min_size=1, unique=True))
        cases = {k: v for n in chosen for k, v in options[n].items()}
        picked = [draw(st.sampled_from(sorted(options[n]))) for n in chosen]
    for path in picked:
        cases[path](raw)
    return stack, raw, [f"{CONFIG_KEY}.{p}" for p in picked]


@fuzz(60)
@given(case=nonsense())
def test_each_nonsense_edit_is_one_problem_at_its_path(case, project):
    _, raw, paths = case
    problems = _lines_of(raw)
    assert problems is not None, paths
    assert sorted(ln.split(": ")[0] for ln in problems) == sorted(paths), problems
    _plan_in_process(project, raw, problems, literal=True)


def _cli_refuses(project: Path, raw: dict, expected: list[str]) -> None:
    write_stack(project, "fuzz-cli", raw)
    target = Path(tempfile.mkdtemp(dir=project)) / "out"
    proc = run_cli("plan", "--stack", "fuzz-cli", "--project", str(project), "--out",
                   str(target), "--no-policy")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert sorted(ln.split(": ")[1] for ln in lines) == sorted(expected), lines
    assert all(ln.startswith("error: ") for ln in lines)
    assert not target.exists()


def test_real_cli_refuses_every_shape_nonsense_at_once(project):
    raw = copy.deepcopy(BASES["aws"])
    cases = _shape_cases(raw)
    for edit in cases.values():
        edit(raw)
    _cli_refuses(project, raw, [f"{CONFIG_KEY}.{p}" for p in cases])


def test_real_cli_refuses_every_cross_field_nonsense_at_once(project):
    raw = copy.deepcopy(BASES["gcp"])
    choices = _check_cases(raw)
    picked = ["models[0].weights.size_gib", "gcp.pods_cidr", "gcp.zones[0]"]
    for path in picked:
        next(c[path] for c in choices if path in c)(raw)
    _cli_refuses(project, raw, [f"{CONFIG_KEY}.{p}" for p in picked])


def test_real_cli_refuses_control_characters_and_unknown_keys(project):
    raw = copy.deepcopy(BASES["onprem-mixed"])
    raw["tags"]["team"] = "a\x1b[2J\r\nb"
    raw["budget"]["x\x00y"] = 1
    del raw["models"][1]["slo"]
    _cli_refuses(project, raw, [f"{CONFIG_KEY}.tags.team", f"{CONFIG_KEY}.budget['x\\x00y']",
                                f"{CONFIG_KEY}.models[1].slo"])
