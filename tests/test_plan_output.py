"""`llm-platform plan` leaves its output directory complete or as it was: refused input,
a failing pack, Ctrl-C, termination and a second stack never leave old and new files mixed,
and no policy-pack process outlives the plan."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from components import cli
from components.kubernetes.gateway import config as gateway_config
from components.kubernetes.gateway.args import Fallback, Route, Team, TeamKey
from components.plan import output, report
from tests.conftest import ROOT, run_cli, stack_spec, write_stack
from tests.gateway_args import gateway_args_for

# As a shell starts it: a runner that ignores SIGINT (a background job) would pass that on.
CLI = [
    sys.executable,
    "-c",
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from components.cli import main; main()",
]
# A plan stops within this after Ctrl-C on a loaded 2-core machine; it waited for ever.
PROMPT_S = 8


def previous_plan(out: Path, stack: str) -> dict[str, bytes]:
    """Stands in for an earlier complete plan of `stack`: what a failed run must leave."""
    (out / "manifests").mkdir(parents=True)
    (out / "plan.json").write_text(json.dumps({"stack": stack, "resources": []}))
    (out / "cost.json").write_text(json.dumps({"stack": stack, "monthly_usd": 1.0}))
    (out / "policy.json").write_text(json.dumps({"pack": "llm-platform", "passed": True}))
    (out / "manifests" / "deployment-old-gone.yaml").write_text("kind: Deployment\n")
    return snapshot(out)


def snapshot(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(out.rglob("*"))
    }


def leftovers(out: Path) -> list[str]:
    """Staging directories left beside the output."""
    return [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def session(sid: int) -> list[str]:
    """Command lines of the live processes in session `sid`: the plan started with
    start_new_session, so its policy pack is in it too, whatever its process group."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or os.getsid(int(entry.name)) != sid:
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ProcessLookupError):
            continue
    return found


def no_process_left(sid: int) -> list[str]:
    deadline = time.monotonic() + 3
    while (alive := session(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


class Plan:
    """`llm-platform plan` in a session of its own, to signal and to look for its children."""

    def __init__(self, *args: str, cwd: Path = ROOT):
        self.proc = subprocess.Popen(
            [*CLI, "plan", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def signal(self, signum: int) -> tuple[int, str, float]:
        """Sends `signum`; the exit code, stderr and seconds until the plan exited."""
        self.proc.send_signal(signum)
        sent = time.monotonic()
        try:
            _, stderr = self.proc.communicate(timeout=PROMPT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"still running {PROMPT_S}s after {signal.Signals(signum).name}")
        return self.proc.returncode, stderr, time.monotonic() - sent

    def kill(self) -> None:
        for pid in [p for p in Path("/proc").iterdir() if p.name.isdigit()]:
            try:
                if os.getsid(int(pid.name)) == self.proc.pid:
                    os.kill(int(pid.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue
        self.proc.communicate()


@pytest.fixture
def plans():
    started: list[Plan] = []

    def start(*args: str, cwd: Path = ROOT) -> Plan:
        started.append(Plan(*args, cwd=cwd))
        return started[-1]

    yield start
    for p in started:
        if p.proc.poll() is None or session(p.proc.pid):
            p.kill()


# -- validation before writing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"no-such-policy": "mandatory"}, "policy config: no-such-policy: no such policy"),
        (
            {"bounded-scaling": {"maxReplicas": "many"}},
            "policy config: bounded-scaling.maxReplicas: 'many' is not of type 'integer'",
        ),
    ],
    ids=["unknown-policy", "schema"],
)
def test_a_policy_config_the_pack_refuses_writes_nothing(tmp_path, config, problem):
    out = tmp_path / "out"
    before = previous_plan(out, "local")
    cfg = tmp_path / "policy.json"
    cfg.write_text(json.dumps(config))
    proc = run_cli("plan", "--stack", "local", "--out", str(out), "--policy-config", str(cfg))
    assert proc.returncode == 2, proc.stderr
    assert problem in proc.stderr
    # The old verdict ("passed": true) is not left beside a new plan, nor is anything new.
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_a_plan_without_the_pack_leaves_no_earlier_verdict(tmp_path):
    out = tmp_path / "out"
    previous_plan(out, "local")
    proc = run_cli("plan", "--stack", "local", "--out", str(out), "--no-policy")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "policy.json").exists()
    assert not (out / "manifests" / "deployment-old-gone.yaml").exists()
    plan = json.loads((out / "plan.json").read_text())
    assert plan["stack"] == "local" and plan["resources"]
    assert sorted(p.name for p in out.iterdir()) == [
        "alertmanager.yaml",
        "cost.json",
        "manifests",
        "plan.json",
    ]


BROKEN_PACK = """
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

def crash(args, report_violation):
    raise RuntimeError("a bug in a rule")

PolicyPack(name="broken", enforcement_level=EnforcementLevel.MANDATORY,
           policies=[ResourceValidationPolicy(name="crash", description="crashes",
                                              validate=crash)])
"""


def test_a_pack_that_fails_keeps_the_previous_plan(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (pack / "__main__.py").write_text(BROKEN_PACK)
    out = tmp_path / "out"
    before = previous_plan(out, "local")
    proc = run_cli("plan", "--stack", "local", "--out", str(out), "--policy-pack", str(pack))
    assert proc.returncode == 1, proc.stderr
    assert "a bug in a rule" in proc.stderr
    assert snapshot(out) == before
    assert leftovers(out) == []


# -- one stack per output directory -------------------------------------------------------


def test_a_second_stack_is_refused_an_output_that_holds_another(tmp_path):
    out = tmp_path / "shared"
    before = previous_plan(out, "local")
    proc = run_cli("plan", "--stack", "onprem-mixed", "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.count("error:") == 1
    assert f"{out}: holds the plan of stack 'local'" in proc.stderr.replace("\n", "")
    assert snapshot(out) == before


def test_a_directory_that_is_not_a_plan_is_never_replaced(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("mine\n")
    proc = run_cli("plan", "--stack", "local", "--out", str(out), "--no-policy")
    assert proc.returncode == 2
    assert "not empty and holds no plan" in proc.stderr
    assert snapshot(out) == {"todo.txt": b"mine\n"}


# -- signals ------------------------------------------------------------------------------


@pytest.mark.parametrize("after_s", [0.5, 1.5, 2.5])
def test_ctrl_c_at_any_moment_exits_130_and_keeps_the_previous_plan(tmp_path, plans, after_s):
    out = tmp_path / "out"
    before = previous_plan(out, "aws")
    plan = plans("--stack", "aws", "--out", str(out))
    time.sleep(after_s)
    code, stderr, _ = plan.signal(signal.SIGINT)
    assert code == 130, stderr
    assert no_process_left(plan.proc.pid) == []
    assert snapshot(out) == before
    assert leftovers(out) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_cli_imports_exits_at_once_without_a_traceback(signum):
    # pydantic-core turns a KeyboardInterrupt raised while it builds a validator into its
    # own SchemaError: that ended a plan with exit code 1 and a traceback.
    proc = subprocess.run(
        [sys.executable, "-c",
         "import os, signal, time\n"
         # As a shell starts it (CLI above): a background runner's SIGINT is ignored.
         "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
         "from components.plan import output\n"
         "output.record_signals(importing=True)\n"
         f"os.kill(os.getpid(), {int(signum)})\n"
         "time.sleep(30)\n"],
        cwd=ROOT, capture_output=True, text=True, timeout=20,
    )
    assert proc.returncode == 128 + signum
    assert proc.stderr == f"interrupted by {signal.Signals(signum).name}\n"


SLOW_PACK = """
import time
from pathlib import Path
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

def slow(args, report_violation):
    Path("analyzing").touch()
    time.sleep(120)

PolicyPack(name="slow", enforcement_level=EnforcementLevel.ADVISORY,
           policies=[ResourceValidationPolicy(name="slow", description="sleeps",
                                              validate=slow)])
"""


def analyzing(tmp_path: Path, plans, out: Path) -> Plan:
    """A plan of `local` whose pack is busy analyzing (for two minutes) when it returns."""
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (pack / "__main__.py").write_text(SLOW_PACK)
    plan = plans("--stack", "local", "--out", str(out), "--policy-pack", str(pack))
    deadline = time.monotonic() + 120
    while not (pack / "analyzing").exists():
        assert plan.proc.poll() is None and time.monotonic() < deadline, "the pack never ran"
        time.sleep(0.1)
    return plan


def test_ctrl_c_while_the_pack_runs_stops_it_and_writes_nothing(tmp_path, plans):
    out = tmp_path / "out"
    before = previous_plan(out, "local")
    plan = analyzing(tmp_path, plans, out)
    code, stderr, _ = plan.signal(signal.SIGINT)
    assert code == 130, stderr
    assert no_process_left(plan.proc.pid) == []
    assert snapshot(out) == before


def test_a_killed_plan_leaves_no_pack_behind(tmp_path, plans):
    plan = analyzing(tmp_path, plans, tmp_path / "out")
    plan.proc.kill()  # SIGKILL: none of the plan's clean-up runs
    plan.proc.communicate()
    assert no_process_left(plan.proc.pid) == []


# Ctrl-C while an output the program waits on is still pending (as a resource's outputs
# are while its constructor runs): Pulumi's run_pulumi_func catches the KeyboardInterrupt
# and waits for every registration in flight, so the plan waited for ever.
INTERRUPTED_PROGRAM = """
import asyncio, os, signal
import pulumi

pending = asyncio.get_event_loop().create_future()
pulumi.CustomResource("test:index:Thing", "waits", {"value": pulumi.Output.from_input(pending)})
os.kill(os.getpid(), signal.SIGINT)
pending.set_result("never reached")
"""


def test_ctrl_c_inside_the_program_does_not_hang(scratch_project, plans):
    (scratch_project / "platform" / "__main__.py").write_text(INTERRUPTED_PROGRAM)
    write_stack(scratch_project, "local", stack_spec("local"))
    out = scratch_project / "out" / "local"
    before = previous_plan(out, "local")
    plan = plans("--stack", "local", cwd=scratch_project)
    try:
        _, stderr = plan.proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        plan.kill()
        pytest.fail("the plan hung after Ctrl-C inside the program")
    assert plan.proc.returncode == 130, stderr
    assert "interrupted by SIGINT" in stderr
    assert no_process_left(plan.proc.pid) == []
    assert snapshot(out) == before


def catches(pid: int, signum: int) -> bool:
    """Whether the process has installed a handler for `signum` (SigCgt in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return bool(mask & (1 << (signum - 1)))


def test_sigterm_stops_the_plan_and_its_pack(tmp_path, plans):
    """Sent once the plan handles SIGTERM (before that, the default action kills Python,
    which is no test of the handler): a fixed sleep raced a slow start on a loaded machine."""
    out = tmp_path / "out"
    before = previous_plan(out, "aws")
    plan = plans("--stack", "aws", "--out", str(out))
    deadline = time.monotonic() + 60
    while not catches(plan.proc.pid, signal.SIGTERM):
        assert plan.proc.poll() is None and time.monotonic() < deadline, "no SIGTERM handler"
        time.sleep(0.05)
    time.sleep(1)
    code, stderr, _ = plan.signal(signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, stderr
    assert no_process_left(plan.proc.pid) == []
    assert snapshot(out) == before


def test_sigterm_while_the_cloud_sdk_imports_exits_143(tmp_path, monkeypatch, capsys):
    """A SIGTERM before the plan's own handling began (here, while pulumi_aws imports): typer
    turns the KeyboardInterrupt our handler raises into exit 130, which said Ctrl-C."""
    from components import cli, clouds

    real_import = clouds.importlib.import_module

    def import_then_terminated(name: str, *args: object) -> object:
        module = real_import(name, *args)
        if name == "pulumi_aws":
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises here, in the main thread
        return module

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    monkeypatch.setattr(clouds.importlib, "import_module", import_then_terminated)
    output._received.clear()
    output.record_signals()
    try:
        with pytest.raises(SystemExit) as stopped:
            cli.main(["plan", "--stack", "aws", "--out", str(tmp_path / "out"), "--no-policy"])
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        output._received.clear()
    assert stopped.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err.strip() == "interrupted by SIGTERM"
    assert not (tmp_path / "out").exists()


# -- the swap itself ----------------------------------------------------------------------


def test_a_swap_that_fails_puts_the_previous_plan_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    before = previous_plan(out, "local")
    real_rename = os.rename

    def rename(src, dst):
        if Path(src).name.endswith(".partial"):  # the new plan, after the old went aside
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(output.OutputError, match="cannot replace"), output.staged(out) as staging:
        (staging / "plan.json").write_text(json.dumps({"stack": "local"}))
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_a_signal_a_library_swallowed_still_stops_the_swap(tmp_path):
    """The Pulumi SDK catches BaseException in places: the plan must not complete as if no
    Ctrl-C had come."""
    out = tmp_path / "out"
    before = previous_plan(out, "local")
    with pytest.raises(KeyboardInterrupt), output.interruptible(), output.staged(out) as staging:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs here and raises
        except BaseException:  # noqa: BLE001, S110 - what the library does
            pass
        (staging / "plan.json").write_text(json.dumps({"stack": "local"}))
    assert output.received() == signal.SIGINT
    assert snapshot(out) == before
    assert leftovers(out) == []


# -- the gateway: each team's limits, their budgets against the ceiling, each model's route --

ROUTE = Route(model="assistant", api_base="http://assistant.llm.svc.cluster.local:8000/v1",
              max_parallel_requests=260, usd_per_input_token=4e-7, usd_per_output_token=4e-7,
              timeout_s=120, revision="r1",
              fallback=Fallback("gpt-4o-mini", "https://api.openai.com/v1", "openaiApiKey",
                                0.15e-6, 0.60e-6))
CODER = Route(model="coder", api_base="http://coder.llm.svc.cluster.local:8000/v1",
              max_parallel_requests=64, usd_per_input_token=1.25e-6,
              usd_per_output_token=1.25e-6, timeout_s=60, revision="r2")
TEAMS = (
    Team("support-bot", ("assistant",), 600, 400000, 32, 1500.0,
         (TeamKey("support-prod", "supportBotKey"),)),
    Team("batch", ("assistant", "coder"), 60, None, 8, None, (TeamKey("batch", "batchKey"),)),
    Team("research", ("coder",), 30, 50000, 4, 4000.0, (TeamKey("research", "researchKey"),)),
)


def gateway_graph(ceiling: float, teams: tuple[Team, ...] = TEAMS) -> list:
    """The gateway's ConfigMap as the Gateway component makes it, from the proxy helper's
    own builders (components/kubernetes/gateway/config.py)."""
    args = gateway_args_for((ROUTE, CODER), teams, ceiling)
    data = {"config.yaml": gateway_config.config_yaml(args),
            "gateway.json": gateway_config.settings_json(args)}
    return [("kubernetes:core/v1:ConfigMap", "aws-gateway-config",
             {"metadata": {"name": "llm-gateway-config"}, "data": data})]


def printed(section: dict, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    console = Console(width=200, record=True, file=io.StringIO())
    monkeypatch.setattr(cli, "out", console)
    cli._print_gateway(section)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_the_plan_shows_each_teams_limits_and_the_budgets_against_the_ceiling(monkeypatch):
    section = report.gateway_section(gateway_graph(6000.0))
    assert section is not None
    # 1,500 + (batch: no budget) + 4,000 = 5,500 against 6,000.
    assert (section["ceiling_usd"], section["teams_budget_usd"]) == (6000.0, 5500.0)
    assert (section["teams_over_ceiling"], section["teams_without_budget"]) == (False, ["batch"])
    assert section["teams"][1] == {"name": "batch", "models": ["assistant", "coder"], "rpm": 60,
                                   "tpm": None, "max_parallel_requests": 8,
                                   "monthly_budget_usd": None}
    # $4e-7 a token is $0.40 per million; the hosted twin at gpt-4o-mini's $0.15/$0.60.
    assert section["routes"] == [
        {"model": "assistant", "max_parallel_requests": 260, "usd_per_1m_input": 0.4,
         "usd_per_1m_output": 0.4, "fallback": "assistant-hosted",
         "fallback_upstream": "openai/gpt-4o-mini", "fallback_usd_per_1m_input": 0.15,
         "fallback_usd_per_1m_output": 0.6},
        {"model": "coder", "max_parallel_requests": 64, "usd_per_1m_input": 1.25,
         "usd_per_1m_output": 1.25, "fallback": None, "fallback_upstream": None,
         "fallback_usd_per_1m_input": None, "fallback_usd_per_1m_output": None},
    ]
    lines = printed(section, monkeypatch)
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert ["support-bot", "assistant", "600", "400,000", "32", "1,500.00"] in rows
    assert ["batch", "assistant, coder", "60", "none", "8", "none"] in rows
    assert ("team budgets $5,500.00/month against the $6,000.00 environment ceiling; "
            "without a budget: batch") in lines
    assert ["assistant", "260", "0.4000/0.4000", "assistant-hosted (openai/gpt-4o-mini)",
            "0.1500/0.6000"] in rows
    assert ["coder", "64", "1.2500/1.2500", "none", "-"] in rows


def test_team_budgets_over_the_ceiling_are_flagged(monkeypatch):
    # 1,500 + 4,000 = 5,500 over a 5,499.99 ceiling; the spec refuses only one team over it.
    section = report.gateway_section(gateway_graph(5499.99))
    assert section is not None and section["teams_over_ceiling"] is True
    lines = printed(section, monkeypatch)
    assert ("over the ceiling: team budgets $5,500.00/month against the $5,499.99 environment "
            "ceiling; without a budget: batch") in lines
    at_ceiling = report.gateway_section(gateway_graph(5500.0, TEAMS[::2]))
    assert at_ceiling is not None and at_ceiling["teams_over_ceiling"] is False
    assert at_ceiling["teams_without_budget"] == []


def test_no_gateway_no_section():
    assert report.gateway_section([("kubernetes:core/v1:ConfigMap", "x",
                                    {"metadata": {"name": "other"}, "data": {}})]) is None
