"""The `llm-platform` command: offline plan, the sizing calculator, a model's rollback and
the spec change that re-runs a recorded training run.

Exit codes: 0 success, 1 a failure of the tool or the program, 2 invalid input (a stack
config, a policy config or an option), each problem printed on one line with its path,
3 when the policy pack reports a mandatory violation, and 128 + the signal when a plan is
stopped (130 on Ctrl-C, 143 on SIGTERM).
"""

from __future__ import annotations

# Before the heavy imports: a Ctrl-C from the first instant exits 130 at once, and after them
# it is recorded, so one that a later import swallows (a KeyboardInterrupt raised where Python
# can only print "Exception ignored") still stops the plan instead of letting it run to the end.
from components.plan import output as _signals

_signals.record_signals(importing=True)

import json
import os
import signal
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from components import catalog, sizing

if TYPE_CHECKING:  # Pulumi is imported only when planning
    from components.plan.report import PlanResult, PolicyVerdict
    from components.plan.runner import Recorded
from components.input_files import InputFileError, read_yaml, unwritable
from components.spec import CONFIG_KEY, Environment, SpecError, echo, load_spec

_signals.record_signals()

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Operations layer for self-hosted LLMs: plan, size and price environments.",
)
out = Console()
err = Console(stderr=True)
POLICY_VIOLATION = 3
# What `plan --export` writes (components/plan/report.write); names as the issue gives them.
EXPORTS = ("terraform-plan", "arm")


# Control characters other than tab and newline, shown escaped so a value cannot move the
# cursor, recolour the terminal or split one problem over several lines.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), *range(127, 160)) if c not in (9, 10)}


def plain(text: object, style: str = "") -> Text:
    """Text for the terminal taken literally: never Rich markup or emoji codes. Everything
    that can hold user input (names, values, paths, messages) is printed through this."""
    return Text(str(text).translate(_CONTROL), style=style)


def say(console: Console, label: str, style: str, message: str) -> None:
    """One `label: message` line, the label styled and the message literal."""
    console.print(Text.assemble((label, style), ": ", plain(message)), soft_wrap=True)


# A backstop for messages that quote a value without spec.echo: no problem needs more.
MAX_LINE = 1000


def _fail(lines: list[str], code: int = 2) -> typer.Exit:
    for line in lines:
        cut = line if len(line) <= MAX_LINE else f"{line[:MAX_LINE]}... ({len(line)} characters)"
        say(err, "error", "red", cut)
    return typer.Exit(code)


def find_project(start: Path) -> Path:
    for d in [start, *start.parents]:
        if (d / "Pulumi.yaml").exists() and (d / "platform" / "__main__.py").exists():
            return d
    raise _fail([f"no llm-platform project (Pulumi.yaml + platform/) at or above {start}"])


def read_stack(project: Path, stack: str) -> dict[str, Any]:
    """The raw spec value of stacks/Pulumi.<stack>.yaml."""
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")]
            for p in (project / "stacks").glob("Pulumi.*.yaml")
        )
        raise _fail(
            [
                f"stack {echo(stack)}: no file {path.relative_to(project)}"
                f"{catalog.suggest(stack, known)}; stacks: {', '.join(known)}"
            ]
        )
    try:
        doc = read_yaml(path, str(path.relative_to(project))) or {}
    except InputFileError as exc:
        raise _fail([exc.problem]) from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict) or CONFIG_KEY not in config:
        raise _fail([f"{path.relative_to(project)}: missing config key '{CONFIG_KEY}'"])
    return config[CONFIG_KEY]


def load_environment(raw: Any) -> Environment:
    try:
        return load_spec(raw)
    except SpecError as exc:
        raise _fail(exc.problems) from None


def _exports(asked: list[str]) -> tuple[str, ...]:
    """The --export formats asked for, once each, checked before anything runs."""
    exports = tuple(dict.fromkeys(asked))
    unknown = [e for e in exports if e not in EXPORTS]
    if unknown:
        raise _fail([f"--export {e}: not one of {', '.join(EXPORTS)}" for e in unknown])
    return exports


@app.command()
def plan(
    stack: Annotated[str, typer.Option(help="stack name: stacks/Pulumi.<stack>.yaml")] = "local",
    out_dir: Annotated[Path | None, typer.Option("--out", help="default out/<stack>")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
    project: Annotated[Path, typer.Option(help="project directory")] = Path("."),
    policy_pack: Annotated[
        Path | None, typer.Option(help="policy pack directory; default <project>/policies")
    ] = None,
    policy_config: Annotated[
        Path | None,
        typer.Option(
            help="policy config JSON, as for pulumi preview --policy-pack-config; "
            "default <policy-pack>/config/<stack>.json if it exists"
        ),
    ] = None,
    no_policy: Annotated[bool, typer.Option("--no-policy", help="skip the policy pack")] = False,
    export: Annotated[
        list[str] | None,
        typer.Option(
            "--export",
            help="also write the cloud resources for IaC scanners, repeatable: terraform-plan "
            "(terraform-plan.json, aws and gcp resources, for checkov --framework terraform_plan), "
            "arm (arm-template.json, azure-native resources, for checkov --framework arm)",
        ),
    ] = None,
) -> None:
    """Run the Pulumi program offline, write plan.json, manifests/, cost.json and
    policy.json, and run the policy pack over the planned resources."""
    from components.plan.output import OutputError, check_target

    root = find_project(project.resolve())
    raw = read_stack(root, stack)
    env = load_environment(raw)
    _require_sdk(stack, env)
    policy = None if no_policy else _policy(root, stack, policy_pack, policy_config)
    exports = _exports(export or [])
    # Resolved, so a symlinked out/<stack> keeps its link and the plan goes where it points.
    target = (out_dir or root / "out" / stack).resolve()
    cannot_write = unwritable(target, "--out")
    if cannot_write:
        raise _fail([cannot_write])
    try:
        check_target(target, stack)
    except OutputError as exc:
        raise _fail([str(exc)]) from None
    started = time.perf_counter()
    result, verdict = _run(stack, raw, env, root, target, policy, exports)
    elapsed = time.perf_counter() - started
    if as_json:
        print(json.dumps(_summary(result, verdict, target), indent=2))
    else:
        _print_plan(result, target, elapsed)
        if "terraform-plan" in exports:
            _print_terraform_export(target)
        if verdict is not None:
            _print_verdict(verdict)
    if verdict is not None and not verdict.passed:
        raise typer.Exit(POLICY_VIOLATION)


@app.command()
def extras(
    stack: Annotated[str, typer.Option(help="stack name: stacks/Pulumi.<stack>.yaml")] = "local",
    project: Annotated[Path, typer.Option(help="project directory")] = Path("."),
) -> None:
    """Print the extras of llm-platform the stack's environment needs, one per line: its
    cloud's provider SDK, nothing on-prem. `make plan` installs these and no others."""
    env = load_environment(read_stack(find_project(project.resolve()), stack))
    if env.spec.cloud is not None:
        print(env.spec.cloud)


@app.command("ci-targets")
def ci_targets(
    stack: Annotated[
        list[str] | None,
        typer.Option(help="stack name: stacks/Pulumi.<stack>.yaml; repeat for several"),
    ] = None,
    project: Annotated[Path, typer.Option(help="project directory")] = Path("."),
) -> None:
    """Print one line of JSON for the workflows: per stack, in the order given, where its
    jobs that reach the cluster run (runs_on), whether a merge deploys it (deploy, else
    skip says why) and why its runner cannot reach the cluster (refuse). No --stack: []."""
    from components import ci

    root = find_project(project.resolve())
    envs = _environments(root, stack or [])
    print(json.dumps([ci.target(name, env).to_json() for name, env in envs]))


def _environments(root: Path, stacks: list[str]) -> list[tuple[str, Environment]]:
    """Every stack's checked environment; the problems of all of them, each line naming its
    stack, before exit 2."""
    found, failed = [], False
    for stack in stacks:
        try:
            raw = read_stack(root, stack)  # prints its one line, names the stack, exits 2
            found.append((stack, load_spec(raw)))
        except typer.Exit:
            failed = True
        except SpecError as exc:
            _fail([f"stack {echo(stack)}: {p}" for p in exc.problems])
            failed = True
    if failed:
        raise typer.Exit(2)
    return found


def _require_sdk(stack: str, env: Environment) -> None:
    """A cloud's provider SDK is an extra (llm-platform[aws] ...): say which one to install
    before the program fails importing it."""
    from components import clouds

    if env.spec.cloud is None:
        return
    try:
        clouds.require_sdk(env.spec.cloud)
    except clouds.MissingSdk as exc:
        raise _fail([f"stack {echo(stack)}: {exc}"]) from None


def _policy(
    root: Path, stack: str, policy_pack: Path | None, policy_config: Path | None
) -> tuple[Path, dict[str, Any]] | None:
    """The pack and its config file's content, or None to plan without a pack. The pack
    checks the config against its policies' schemas when it runs, before anything is written."""
    from components.plan.policy import PolicyConfigError, read_config

    pack = (policy_pack or root / "policies").resolve()
    if not (pack / "PulumiPolicy.yaml").exists():
        if policy_pack is not None:
            raise _fail([f"--policy-pack: no PulumiPolicy.yaml in {pack}"])
        say(
            err,
            "warning",
            "yellow",
            f"no policy pack at {pack}; planning without one (--policy-pack DIR names it)",
        )
        return None
    # The file the review workflows pass to `pulumi preview --policy-pack-config`.
    per_stack = pack / "config" / f"{stack}.json"
    if policy_config is None and per_stack.exists():
        policy_config = per_stack
    if policy_config is None:
        return pack, {}
    try:
        return pack, read_config(policy_config)
    except PolicyConfigError as exc:
        raise _fail(exc.problems) from None


def _run(
    stack: str,
    raw: Any,
    env: Environment,
    root: Path,
    target: Path,
    policy: tuple[Path, dict[str, Any]] | None,
    exports: tuple[str, ...] = (),
) -> tuple[PlanResult, PolicyVerdict | None]:
    """Plans and runs the pack in memory, so a policy config the pack refuses stops the run
    before anything is written, then writes `target` whole. Ctrl-C or a failure leaves it
    holding the last complete plan, or nothing."""
    from components.plan import output
    from components.plan.arm import ArmExportError
    from components.plan.policy import PolicyConfigError, PolicyPackError

    if output.received() is not None:  # before this run began, and swallowed on its way
        _interrupted(target, output.received())
    try:
        with output.interruptible():
            return _execute(stack, raw, env, root, target, policy, exports)
    except BaseException as exc:
        # A signal comes first: whatever it broke on its way (a half-imported module, the
        # pack's connection) is its consequence, not a fault to report.
        if output.received() is not None or isinstance(exc, KeyboardInterrupt):
            _interrupted(target, output.received() or signal.SIGINT)
        if isinstance(exc, PolicyConfigError):
            raise _fail(exc.problems) from None
        if isinstance(exc, PolicyPackError):
            raise _fail([f"policy pack {policy and policy[0]}: {exc}"], code=1) from None
        if isinstance(exc, output.OutputError):
            raise _fail([str(exc)]) from None
        if isinstance(exc, ArmExportError):
            raise _fail([f"--export arm: {exc}"], code=1) from None
        raise


def _execute(
    stack: str,
    raw: Any,
    env: Environment,
    root: Path,
    target: Path,
    policy: tuple[Path, dict[str, Any]] | None,
    exports: tuple[str, ...] = (),
) -> tuple[PlanResult, PolicyVerdict | None]:
    from components.plan import output, report
    from components.plan.policy import Analyzer

    # The pack starts now and loads while the program runs; it is stopped on every path.
    analyzer = None if policy is None else Analyzer(policy[0])
    try:
        with err.status(plain(f"running the program for stack {stack} under the mock engine")):
            result = report.run_plan(stack, raw, env, root)
        verdict = None
        if analyzer is not None and policy is not None:
            with err.status(plain(f"running the policy pack over {len(result.records)} resources")):
                verdict = report.run_policy(analyzer, result.records, policy[1])
        with output.staged(target) as staging:
            report.write(result, verdict, staging, exports)
            if "arm" in exports:
                _export_arm(result.records, staging)
        return result, verdict
    finally:
        if analyzer is not None:
            analyzer.close()


def _export_arm(records: list[Recorded], staging: Path) -> None:
    from components.plan import arm

    done = arm.write(records, staging)
    skips = sum(len(r["metadata"].get("checkov", [])) for r in done.template["resources"])
    say(err, "ARM export", "green", f"{len(done.template['resources'])} resources; {skips} "
        "Checkov checks skipped with their reasons (each resource's metadata.checkov)")
    for urn, reason in done.left_out:
        say(err, "not in the ARM export", "yellow", f"{urn}: {reason}")
    for urn in done.unresolved:
        say(err, "ARM export", "yellow", f"{urn}: parent unknown offline, named {arm.UNRESOLVED}")


def _interrupted(target: Path, signum: int) -> NoReturn:
    err.print(
        f"interrupted by {signal.Signals(signum).name}; {target} holds the last complete "
        f"plan, or none",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: the Pulumi runtime's worker threads may wait on futures of the event
    # loop the signal stopped, and the interpreter would join them at exit for ever.
    os._exit(128 + signum)


def _summary(result: PlanResult, verdict: PolicyVerdict | None, target: Path) -> dict[str, Any]:
    env = result.env
    return {
        "stack": result.stack,
        "out": str(target),
        "resources": len(result.records),
        "manifests": len(result.manifests),
        "monthly_usd": result.monthly_usd,
        "gateway": None
        if result.gateway is None
        else {
            k: result.gateway[k]
            for k in ("ceiling_usd", "teams_budget_usd", "teams_over_ceiling", "monthly_usd")
        },
        "warnings": env.warnings,
        **({"training": result.training} if result.training else {}),
        "policy": None
        if verdict is None
        else {
            "passed": verdict.passed,
            **{level: len(verdict.at(level)) for level in ("mandatory", "advisory")},
        },
        "models": {
            name: {
                "gpu": p.gpu,
                "tensor_parallel": p.tensor_parallel,
                "replicas": [p.replicas_min, p.replicas_max],
                "engine_args": p.engine_args,
                "why": p.reasons,
                **result.economics[name].to_json(),
            }
            for name, p in env.plans.items()
        },
    }


def _print_verdict(verdict: PolicyVerdict) -> None:
    mandatory, advisory = verdict.at("mandatory"), verdict.at("advisory")
    colour = "red" if mandatory else "green"
    out.print(
        Text.assemble(
            ("policy pack", "bold"),
            " ",
            plain(verdict.name),
            f": {len(verdict.policies)} policies, ",
            (f"{len(mandatory)} mandatory", colour),
            f" and {len(advisory)} advisory violations (policy.json)",
        )
    )
    for level, found in (("mandatory", mandatory), ("advisory", advisory)):
        if not found:
            continue
        out.print(Text(level, style="bold"))
        for v in found:
            line = f" ({v.severity or 'unrated'}) {v.resource}: {v.detail}"
            out.print(Text.assemble("  - ", plain(v.policy, "cyan"), plain(line)), soft_wrap=True)
    if mandatory:
        say(out, "policy check failed", "red", "fix the mandatory violations above")


def _print_plan(result: PlanResult, target: Path, elapsed: float) -> None:
    env = result.env
    spec = env.spec
    out.print(
        Text.assemble(
            ("llm-platform plan", "bold"),
            " stack ",
            plain(result.stack, "cyan"),
            plain(f" ({spec.topology}, namespace {spec.namespace})"),
        )
    )
    for w in env.warnings:
        say(out, "warning", "yellow", w)
    out.print(_resource_tree(result.records))
    out.print(_models_table(env))
    for m in spec.models:
        out.print(Text.assemble(plain(m.name, "bold"), " why:"))
        for reason in env.plans[m.name].reasons:
            out.print(plain(f"  - {reason}"), soft_wrap=True)
    _print_versions(result)
    _print_training(result)
    out.print(_cost_table(result))
    budget = spec.budget.monthly_usd
    if result.monthly_usd > budget:
        say(
            out,
            "over budget",
            "red",
            f"${result.monthly_usd:,.2f}/month planned against a ${budget:,.0f} cap "
            "(budget.monthly_usd)",
        )
    out.print(_economics_table(result))
    if result.gateway is not None:
        _print_gateway(result.gateway)
    out.print(
        plain(
            f"wrote {target}/plan.json, cost.json and {len(result.manifests)} manifests "
            f"in {elapsed:.1f}s"
        )
    )


def _print_versions(result: PlanResult) -> None:
    from components.plan import versions

    out.print(plain("Model versions", "bold"))
    for version in result.model_versions or []:
        for line in versions.lines(version):
            out.print(plain(line), soft_wrap=True)


def _print_training(result: PlanResult) -> None:
    from components.plan import training

    if not result.training:
        return
    out.print(plain("Training", "bold"))
    for entry in result.training:
        for line in training.lines(entry):
            out.print(plain(line), soft_wrap=True)
    for note in training.notes(result.env.spec):
        say(out, "warning", "yellow", note)


def _print_terraform_export(target: Path) -> None:
    """What the export holds and what it left out; a cloud type the map lacks is named, as
    it is missing from what a scanner sees."""
    from components.plan import terraform

    doc = json.loads((target / terraform.FILE_NAME).read_text())
    meta = doc["llm_platform"]
    out.print(
        plain(
            f"wrote {target}/{terraform.FILE_NAME}: "
            f"{len(doc['planned_values']['root_module']['resources'])} resources; "
            f"{len(meta['skipped'])} without a Terraform twin left out (llm_platform.skipped); "
            f"{len(meta['scanner_skips'])} Checkov checks skipped with their reasons "
            "(checkov/skips.tf, read with --repo-root-for-plan-enrichment)"
        ),
        soft_wrap=True,
    )
    for token in meta["unmapped"]:
        say(out, "not exported", "red", f"{token}: not in the Terraform type map")


def _resource_tree(records: list[Recorded]) -> Tree:
    children: dict[str, list] = defaultdict(list)
    for r in records:
        children[r.parent].append(r)
    roots = [r for r in records if r.parent not in {x.urn for x in records}]
    tree = Tree(f"resources ({len(records)})")

    def add(node: Tree, rec: Recorded) -> None:
        branch = node.add(Text.assemble(plain(rec.name, "bold"), " ", plain(rec.type, "dim")))
        for c in children.get(rec.urn, []):
            add(branch, c)

    for r in roots:
        add(tree, r)
    return tree


def _models_table(env: Environment) -> Table:
    models = Table(title="GPUs per model", show_lines=True)
    for col in ("model", "engine", "GPU", "TP", "replicas", "KV tokens/replica", "max-num-seqs"):
        models.add_column(col)
    for m in env.spec.models:
        p = env.plans[m.name]
        row = (
            m.name,
            m.engine.kind,
            p.gpu,
            p.tensor_parallel,
            f"{p.replicas_min}-{p.replicas_max}",
        )
        models.add_row(*map(plain, (*row, f"{p.budget.kv_cache_tokens:,}", p.max_num_seqs)))
    return models


def _cost_table(result: PlanResult) -> Table:
    costs = Table(title="Monthly cost")
    for col in ("resource", "basis", "USD/month"):
        costs.add_column(col)
    for i in result.line_items:
        costs.add_row(plain(i.name), plain(i.basis), f"{i.monthly_usd:,.2f}")
    costs.add_row(
        Text("total", style="bold"),
        f"budget ${result.env.spec.budget.monthly_usd:,.0f}",
        Text(f"{result.monthly_usd:,.2f}", style="bold"),
    )
    return costs


def _economics_table(result: PlanResult) -> Table:
    econ = Table(title="Per model")
    for col in (
        "model",
        "GPU-h/month",
        "USD/month",
        "USD per 1k conversations",
        "hosted API per 1k",
        "break-even conv/day",
    ):
        econ.add_column(col)
    for name, e in result.economics.items():
        econ.add_row(
            plain(name),
            f"{e.gpu_hours_per_month:,.0f}",
            f"{e.monthly_usd:,.2f}",
            "-" if e.usd_per_1k_conversations is None else f"{e.usd_per_1k_conversations:,.2f}",
            "-"
            if e.hosted_usd_per_1k_conversations is None
            else plain(f"{e.hosted_usd_per_1k_conversations:,.2f} ({e.hosted_api})"),
            "-"
            if e.break_even_conversations_per_day is None
            else f"{e.break_even_conversations_per_day:,.0f}",
        )
    return econ


def _usd(value: Any, none: str = "none") -> str:
    return none if value is None else f"{value:,.2f}"


def _in_out(usd_in: float | None, usd_out: float | None) -> str:
    """Prices per million tokens, to the cent's hundredth (self-hosted ones are small)."""
    return "/".join("-" if v is None else f"{v:,.4f}" for v in (usd_in, usd_out))


def _limit(value: Any) -> str:
    return "none" if value is None else f"{value:,}"


def _teams_table(gateway: dict[str, Any]) -> Table:
    teams = Table(title="Gateway teams (limits per team; none: unlimited)")
    for col in ("team", "models", "rpm", "tpm", "parallel", "USD/month budget"):
        teams.add_column(col)
    for t in gateway["teams"]:
        teams.add_row(
            plain(t["name"]),
            plain(", ".join(t["models"])),
            *map(_limit, (t["rpm"], t["tpm"], t["max_parallel_requests"])),
            _usd(t["monthly_budget_usd"]),
        )
    return teams


def _routes_table(gateway: dict[str, Any]) -> Table:
    routes = Table(title="Gateway routes")
    for col in ("model", "parallel limit", "USD per 1M in/out", "fallback", "fallback per 1M"):
        routes.add_column(col)
    for r in gateway["routes"]:
        target = r["fallback"]
        routes.add_row(
            plain(r["model"]),
            _limit(r["max_parallel_requests"]),
            _in_out(r["usd_per_1m_input"], r["usd_per_1m_output"]),
            plain("none" if target is None else f"{target} ({r['fallback_upstream']})"),
            "-"
            if target is None
            else _in_out(r["fallback_usd_per_1m_input"], r["fallback_usd_per_1m_output"]),
        )
    return routes


def _gateway_costs_table(gateway: dict[str, Any]) -> Table:
    costs = Table(title="Gateway cost (compute: share of the CPU nodes, already in their line)")
    for col in ("object", "part", "kind", "basis", "USD/month", "in total"):
        costs.add_column(col)
    for c in gateway["costs"]:
        costs.add_row(
            *map(plain, (c["name"], c["part"], c["kind"], c["basis"])),
            f"{c['monthly_usd']:,.2f}",
            "yes" if c["in_total"] else "no",
        )
    return costs


def _print_gateway(gateway: dict[str, Any]) -> None:
    out.print(_teams_table(gateway))
    budgets, ceiling = gateway["teams_budget_usd"], gateway["ceiling_usd"]
    line = f"team budgets ${budgets:,.2f}/month against the ${_usd(ceiling)} environment ceiling"
    if gateway["teams_without_budget"]:
        line += f"; without a budget: {', '.join(gateway['teams_without_budget'])}"
    if gateway["teams_over_ceiling"]:
        say(out, "over the ceiling", "yellow", line)
    else:
        out.print(plain(line), soft_wrap=True)
    out.print(_routes_table(gateway))
    out.print(_gateway_costs_table(gateway))


@app.command()
def rollback(
    stack: Annotated[str, typer.Option(help="stack name: stacks/Pulumi.<stack>.yaml")],
    model: Annotated[str, typer.Option(help="the model to roll back (models[].name)")],
    write: Annotated[
        bool, typer.Option("--write", help="write the stack file's change, not only print it")
    ] = False,
    project: Annotated[Path, typer.Option(help="project directory")] = Path("."),
) -> None:
    """Roll a model back to its previous_revision: print the commands that put the cluster
    back now, and the change to the stack file that pins it (--write applies it)."""
    from components import rollback as rb

    root = find_project(project.resolve())
    env = load_environment(read_stack(root, stack))
    models = {m.name: (i, m) for i, m in enumerate(env.spec.models)}
    if model not in models:
        raise _fail(
            [
                f"--model: no model named {echo(model)} in stack {stack}"
                f"{catalog.suggest(model, models)}; models: {', '.join(models) or 'none'}"
            ]
        )
    index, chosen = models[model]
    where = f"{CONFIG_KEY}.models[{index}].previous_revision"
    if chosen.previous_revision is None:
        raise _fail(
            [f"{where}: not set, so model '{model}' has no revision to roll back to"]
        )
    path = root / "stacks" / f"Pulumi.{stack}.yaml"
    name = str(path.relative_to(root))
    text = path.read_text()
    try:
        plan = rb.plan(text, chosen, env.spec.namespace)
    except rb.RollbackError as exc:
        raise _fail([f"{name}: {exc}; edit it by hand: set revision to {where}'s value"]) from None
    _print_rollback(plan, rb.diff(text, plan.edited, name), name)
    if write:
        staged = path.with_name(f".{path.name}.rollback")
        staged.write_text(plan.edited)
        staged.replace(path)  # whole or not at all
        typer.echo(f"wrote {name}: commit it and deploy the stack")


def _print_rollback(plan: Any, diff: str, name: str) -> None:
    typer.echo(f"Roll {plan.model} back from {plan.revision} to {plan.previous}:")
    typer.echo("1. now, on the cluster:")
    for command in plan.commands:
        typer.echo(f"   {command}")
    typer.echo(
        f"2. pin the previous revision in {name} and deploy the stack, or its next deploy "
        "rolls the revision out again:"
    )
    typer.echo(diff, nl=False)


@app.command()
def retrain(
    record: Annotated[
        Path, typer.Option("--record", help="a run record (run.json beside the output model)")
    ],
    stack: Annotated[
        str | None,
        typer.Option(help="print only what differs from this stack's job of the same name"),
    ] = None,
    project: Annotated[Path, typer.Option(help="project directory")] = Path("."),
) -> None:
    """Print the spec change (training.jobs[<job>]) that re-runs a recorded training run:
    the same image, command, base, dataset, hyperparameters and seed are the same run."""
    from components import retrain as rt

    try:
        config = rt.read_record(record)
    except rt.RecordError as exc:
        raise _fail([str(exc)]) from None
    header = (
        f"# run {config.run_id()} of job {config.job} "
        f"(output revision {config.output_revision()})"
    )
    if stack is None:
        typer.echo(f"{header}\n# set in training.jobs[] of the stack that runs it:")
        typer.echo(rt.render({"training": {"jobs": [rt.change(config, None)]}}), nl=False)
        return
    root = find_project(project.resolve())
    env = load_environment(read_stack(root, stack))
    jobs = {j.name: (i, j) for i, j in enumerate(env.spec.training.jobs)}
    if config.job not in jobs:
        raise _fail([
            f"--stack {stack}: no training job named {echo(config.job)}"
            f"{catalog.suggest(config.job, jobs)}; jobs: {', '.join(jobs) or 'none'}"
        ])
    index, current = jobs[config.job]
    edit = rt.change(config, current)
    where = f"stacks/Pulumi.{stack}.yaml {CONFIG_KEY}.training.jobs[{index}] ({config.job})"
    if not edit:
        typer.echo(f"{header}\n# {where} already runs it: no change")
        return
    typer.echo(f"{header}\n# in {where}, set:")
    typer.echo(rt.render(edit), nl=False)


@app.command()
def size(
    model: Annotated[str, typer.Option(help="catalog model id")],
    gpu: Annotated[str, typer.Option(help="catalog GPU id")],
    tensor_parallel: Annotated[int, typer.Option(min=1, max=64)] = 1,
    gpu_memory_utilization: Annotated[float, typer.Option(min=0.05, max=1.0)] = 0.9,
    max_model_len: Annotated[
        int | None, typer.Option(min=16, help="default: the model's max")
    ] = None,
    kv_cache_dtype: Annotated[str, typer.Option(help="auto|fp8")] = "auto",
    quantization: Annotated[str | None, typer.Option(help="fp8|awq|gptq")] = None,
    max_num_seqs: Annotated[int, typer.Option(min=1)] = 256,
    max_num_batched_tokens: Annotated[
        int | None, typer.Option(min=1, help="default: vLLM's (8192 on >=70 GiB GPUs, else 2048)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """vLLM V1 memory budget for one model on one GPU type."""
    arch, g = _size_inputs(model, gpu, tensor_parallel, max_model_len, kv_cache_dtype, quantization)
    quant = sizing.effective_quantization(quantization, arch.native_quantization)
    budget = sizing.memory_budget(
        arch,
        g.memory_gib,
        tensor_parallel,
        gpu_memory_utilization,
        max_model_len or arch.max_position_embeddings,
        kv_cache_dtype,  # type: ignore[arg-type]
        quant,
        max_num_batched_tokens or sizing.default_batched_tokens(g),
        max_num_seqs,
    )
    data = {
        "model": model,
        "gpu": gpu,
        "tensor_parallel": tensor_parallel,
        "quantization": quant,
        "kv_cache_dtype": kv_cache_dtype,
        **asdict(budget),
        "fits": budget.fits,
    }
    if as_json:
        print(json.dumps(data))
    else:
        table = Table(title=plain(f"{model} on {tensor_parallel}x {gpu}"), show_header=False)
        for k, v in data.items():
            table.add_row(plain(k), plain(v))
        out.print(table)
    if not budget.fits:
        say(
            err,
            "does not fit",
            "yellow",
            f"{budget.kv_cache_tokens} KV tokens < max-model-len {budget.max_model_len}",
        )
        raise typer.Exit(1)


def _size_inputs(
    model: str,
    gpu: str,
    tensor_parallel: int,
    max_model_len: int | None,
    kv_cache_dtype: str,
    quantization: str | None,
) -> tuple[catalog.ModelInfo, catalog.GpuInfo]:
    """The catalog facts `size` works from; every bad option is reported at once, one
    line each, and exits 2."""
    problems = []
    arch = catalog.models().get(model)
    if arch is None:
        problems.append(
            f"--model: unknown model {echo(model)}{catalog.suggest(model, catalog.models())}"
        )
    g = catalog.gpus().get(gpu)
    if g is None:
        problems.append(
            f"--gpu: unknown GPU {echo(gpu)}{catalog.suggest(gpu, catalog.gpus())}; "
            f"allowed: {', '.join(catalog.gpus())}"
        )
    if kv_cache_dtype not in ("auto", "fp8"):
        problems.append(f"--kv-cache-dtype: must be auto or fp8 (got {echo(kv_cache_dtype)})")
    if quantization not in (None, "fp8", "awq", "gptq"):
        problems.append(f"--quantization: must be fp8, awq or gptq (got {echo(quantization)})")
    if arch and max_model_len and max_model_len > arch.max_position_embeddings:
        problems.append(
            f"--max-model-len: must be <= {arch.max_position_embeddings} for {model} "
            f"(got {max_model_len})"
        )
    refused = sizing.tp_problem(arch, tensor_parallel) if arch else None
    if refused:
        problems.append(f"--tensor-parallel: {refused} ({model})")
    if problems:
        raise _fail(problems)
    assert arch is not None and g is not None
    return arch, g


def main(argv: list[str] | None = None) -> None:
    """The console script. A bad option is an `error:` line like every other problem,
    rather than typer's boxed message."""
    try:
        code = app(args=argv, standalone_mode=False)
    except KeyboardInterrupt:
        sys.exit(128 + (_signals.received() or signal.SIGINT))
    except typer.Abort:
        say(err, "error", "red", "aborted")
        sys.exit(1)
    except typer.TyperException as exc:
        # With no arguments the help is printed as this error is built: NoArgsIsHelpError
        # calls ctx.get_help(), which typer renders straight to the terminal (typer 0.29).
        if type(exc).__name__ != "NoArgsIsHelpError":
            say(err, "error", "red", exc.format_message())
        sys.exit(exc.exit_code)
    except Exception:
        # Whatever a signal broke on its way (a lazy import wrapping the KeyboardInterrupt in
        # its own error) is its consequence, not a fault to report with a traceback.
        if _signals.received() is None:
            raise
        sys.exit(128 + _signals.received())
    # typer 0.29 turns a KeyboardInterrupt into Exit(130) (typer/core.py `_main`): one our
    # handler raised for SIGTERM or SIGHUP before the plan's own handling began (while a cloud
    # SDK imports, say) still exits 128 + that signal.
    signum = _signals.received()
    if code == 128 + signal.SIGINT and signum is not None:
        err.print(f"interrupted by {signal.Signals(signum).name}", markup=False, highlight=False)
        sys.exit(128 + signum)
    sys.exit(code if isinstance(code, int) else 0)
