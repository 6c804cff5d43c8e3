"""Where CI runs each stack and whether a merge deploys it (components/ci.py and
`llm-platform ci-targets`): the runner from `ci.runner`, render mode and `ci.deploy: false`
skipped with their reason, a private cluster endpoint with GitHub's hosted runner refused
with one line naming the stack and both ways out; bad `ci` config is exit 2, one line per
problem."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, STACKS, run_cli, stack_spec, write_stack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import ci
from components.cli import main
from components.spec import SpecError, load_spec

HOSTED = ["ubuntu-24.04"]
RENDER_SKIP = (
    "llm-platform:spec.cluster.render_to_directory is set: a deploy from CI would write the "
    "manifests to the runner's disk, where they are lost while the state records them as "
    "applied; run `pulumi up` where the rendered directory is kept and applied"
)
DEPLOY_FALSE_SKIP = "llm-platform:spec.ci.deploy is false: merges never deploy it"
RUNNER = "llm-platform:spec.ci.runner"


def refused(stack: str, cluster: str, label: str, why: str, cidrs: str | None, side="") -> str:
    ways = f"set {RUNNER} to the labels of a self-hosted runner inside its network"
    if cidrs:
        ways += f", or list the runner's public CIDRs in {cidrs}"
    return (
        f"stack {stack}: the {cluster} API endpoint{side} is private ({why}), and GitHub's "
        f"hosted runner (ubuntu-24.04) is outside the {label} network, so `pulumi up` would "
        f"time out reaching it; {ways}"
    )


AWS_CIDRS = "llm-platform:spec.aws.public_endpoint_cidrs"
GCP_CIDRS = "llm-platform:spec.gcp.authorized_networks"
AWS_PRIVATE = refused("aws", "EKS", "AWS", f"{AWS_CIDRS} is empty", AWS_CIDRS)
GCP_PRIVATE = refused("gcp", "GKE", "GCP", f"{GCP_CIDRS} is empty", GCP_CIDRS)
AZURE_PRIVATE = refused("azure", "AKS", "Azure", "the stack always makes it private", None)
HYBRID_PRIVATE = refused(
    "hybrid", "EKS", "AWS", f"{AWS_CIDRS} is empty", AWS_CIDRS, side=" of its AWS side"
)

# Each example stack as its file says: the cloud stacks name a self-hosted runner (their
# endpoints are private); hybrid and the two on-prem engine stacks render (render mode);
# local sets ci.deploy false; hybrid's EKS endpoint is private and it names no runner.
EXPECTED = {
    "aws": (["self-hosted", "llm-platform-aws"], True, "", "", "aws"),
    "gcp": (["self-hosted", "llm-platform-gcp"], True, "", "", "gcp"),
    "azure": (["self-hosted", "llm-platform-azure"], True, "", "", "azure"),
    "hybrid": (HOSTED, False, RENDER_SKIP, HYBRID_PRIVATE, "aws"),
    "local": (HOSTED, False, DEPLOY_FALSE_SKIP, "", ""),
    "onprem-engines": (HOSTED, False, RENDER_SKIP, "", ""),
    "onprem-mixed": (HOSTED, False, RENDER_SKIP, "", ""),
}
KEYS = ("runs_on", "deploy", "skip", "refuse", "cloud")


def expected(stack: str) -> dict:
    return {"stack": stack, **dict(zip(KEYS, EXPECTED[stack], strict=True))}


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def target_of(raw: dict, stack: str = "s") -> dict:
    return ci.target(stack, load_spec(raw)).to_json()


def without_runner(stack: str) -> dict:
    raw = stack_spec(stack)
    raw.get("ci", {}).pop("runner", None)
    return raw


def test_every_example_stack_is_covered():
    assert sorted(EXPECTED) == STACKS


def test_every_example_stack_in_one_line_in_the_order_given():
    order = ["onprem-mixed", "aws", "local", "hybrid", "gcp", "onprem-engines", "azure"]
    proc = run_cli("ci-targets", *(a for s in order for a in ("--stack", s)), "--project", str(ROOT))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and proc.stdout.endswith("\n")
    assert json.loads(proc.stdout) == [expected(s) for s in order]


def test_the_runner_is_the_files_labels():
    for stack in STACKS:
        labels = stack_spec(stack).get("ci", {}).get("runner") or HOSTED
        assert EXPECTED[stack][0] == labels


def test_working_out_every_target_loads_no_pulumi():
    # The workflows run ci-targets with the plan's venv only: every cloud's registry entry
    # is read, none may pull in a provider SDK.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from components import ci\n"
        "from components.cli import load_environment, read_stack\n"
        f"for s in {STACKS!r}: ci.target(s, load_environment(read_stack(Path('.'), s)))\n"
        "print(sorted({n.split('.')[0] for n in sys.modules if n.startswith('pulumi')}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert (proc.returncode, proc.stdout.strip()) == (0, "[]"), proc.stderr


def test_no_stack_is_an_empty_list(capsys):
    assert cli(capsys, "ci-targets", "--project", str(ROOT)) == (0, "[]\n", "")


@pytest.mark.parametrize(
    ("stack", "line"), [("aws", AWS_PRIVATE), ("gcp", GCP_PRIVATE), ("azure", AZURE_PRIVATE)]
)
def test_a_private_endpoint_without_a_runner_is_refused_but_still_a_deploy(stack, line):
    # The deploy job runs and fails at once with the line, rather than timing out.
    got = target_of(without_runner(stack), stack)
    assert got == {"stack": stack, "runs_on": HOSTED, "deploy": True, "skip": "", "refuse": line,
                   "cloud": stack}


@pytest.mark.parametrize(("stack", "field"), [("aws", "public_endpoint_cidrs"),
                                              ("gcp", "authorized_networks")])
def test_a_public_endpoint_lets_the_hosted_runner_deploy(stack, field):
    raw = without_runner(stack)
    raw[stack][field] = ["198.51.100.0/24"]
    assert target_of(raw, stack)["refuse"] == ""


def test_a_hybrid_that_applies_is_refused_for_its_cloud_side():
    raw = stack_spec("hybrid")
    del raw["cluster"]["render_to_directory"]
    got = target_of(raw, "hybrid")
    assert (got["deploy"], got["skip"], got["refuse"]) == (True, "", HYBRID_PRIVATE)
    raw["ci"] = {"runner": ["self-hosted", "dc-1"]}
    got = target_of(raw, "hybrid")
    assert (got["runs_on"], got["deploy"], got["refuse"]) == (["self-hosted", "dc-1"], True, "")


def test_an_onprem_cluster_deploys_from_the_hosted_runner():
    raw = stack_spec("local")
    del raw["ci"]
    assert target_of(raw, "local") == {"stack": "local", "runs_on": HOSTED, "deploy": True,
                                       "skip": "", "refuse": "", "cloud": ""}


def test_both_skip_reasons_are_given():
    raw = stack_spec("onprem-mixed")
    raw["ci"] = {"deploy": False}
    assert target_of(raw)["skip"] == f"{RENDER_SKIP}; {DEPLOY_FALSE_SKIP}"


def test_ci_deploy_false_skips_a_cloud_stack_and_keeps_its_runner():
    raw = stack_spec("gcp")
    raw["ci"]["deploy"] = False
    got = target_of(raw, "gcp")
    assert (got["runs_on"], got["deploy"], got["skip"]) == (
        ["self-hosted", "llm-platform-gcp"], False, DEPLOY_FALSE_SKIP)


def _builder_private(cloud: str, raw: dict) -> bool:
    """What the cloud's cluster builder makes of the spec's endpoint settings."""
    spec = load_spec(raw).spec
    if cloud == "aws":
        from components.aws import control_plane, resolve

        args = resolve.cluster_args(spec, spec.aws, "llm")
        return not control_plane.eks_cluster(args, [], "k")["vpc_config"].endpoint_public_access
    if cloud == "gcp":
        from components.gcp import cluster, resolve

        access = cluster.control_plane_access(resolve.cluster_args(spec, spec.gcp))
        return access["private_cluster_config"].enable_private_endpoint
    from components.azure import cluster, resolve

    aks = cluster.managed_cluster(resolve.cluster_args(spec, spec.azure), "rg", "s", "i", "k")
    return aks["api_server_access_profile"].enable_private_cluster


@pytest.mark.parametrize(("cloud", "opened"), [("aws", False), ("aws", True), ("gcp", False),
                                               ("gcp", True), ("azure", False)])
def test_the_refusal_agrees_with_what_the_cluster_builder_makes(cloud, opened):
    raw = without_runner(cloud)
    if opened:
        field = {"aws": "public_endpoint_cidrs", "gcp": "authorized_networks"}[cloud]
        raw[cloud][field] = ["198.51.100.0/24"]
    assert bool(target_of(raw, cloud)["refuse"]) == _builder_private(cloud, raw)


@pytest.mark.parametrize(("stack", "resource", "path", "private"), [
    ("aws", "aws:eks/cluster:Cluster", ("vpcConfig", "endpointPublicAccess"), False),
    ("hybrid", "aws:eks/cluster:Cluster", ("vpcConfig", "endpointPublicAccess"), False),
    ("gcp", "gcp:container/cluster:Cluster", ("privateClusterConfig", "enablePrivateEndpoint"),
     True),
    ("azure", "azure-native:containerservice:ManagedCluster",
     ("apiServerAccessProfile", "enablePrivateCluster"), True),
])
def test_the_example_stacks_planned_clusters_are_private(stack, resource, path, private):
    # The planned output (tests/golden) is what `pulumi up` creates: a private endpoint there
    # is what the refusal is about.
    plan = json.loads((ROOT / "tests" / "golden" / stack / "plan.json").read_text())
    (cluster,) = [r for r in plan["resources"] if r["type"] == resource]
    value = cluster["inputs"]
    for key in path:
        value = value[key]
    assert value is private
    assert target_of(without_runner(stack), stack)["refuse"] != ""


# --- bad `ci` config: exit 2, one line per problem, naming the stack ---

BAD = [
    ({"runner": ["self-hosted", "my runner"]}, [
        f"{RUNNER}[1]: must be a runner label: 1 to 256 printable characters, without "
        "whitespace or ',' (got 'my runner')"]),
    ({"runner": ["a,b", "${{ github.token }}"]}, [
        f"{RUNNER}[0]: must be a runner label: 1 to 256 printable characters, without "
        "whitespace or ',' (got 'a,b')",
        f"{RUNNER}[1]: must be a runner label, not an expression (got '${{{{ github.token }}}}')"]),
    ({"runner": [""]}, [
        f"{RUNNER}[0]: must be a runner label: 1 to 256 printable characters, without "
        "whitespace or ',' (got '')"]),
    ({"runner": "self-hosted"}, [f"{RUNNER}: Input should be a valid list (got 'self-hosted')"]),
    ({"deploy": "no"}, ["llm-platform:spec.ci.deploy: Input should be a valid boolean (got 'no')"]),
    ({"deploy": 0}, ["llm-platform:spec.ci.deploy: Input should be a valid boolean (got 0)"]),
    ({"runs_on": ["x"]}, ["llm-platform:spec.ci.runs_on: unknown field; allowed here: deploy, "
                          "runner"]),
]


@pytest.mark.parametrize(("block", "lines"), BAD)
def test_bad_ci_config_is_one_line_per_problem(capsys, scratch_project, block, lines):
    raw = stack_spec("aws")
    raw["ci"] = block
    write_stack(scratch_project, "bad", raw)
    write_stack(scratch_project, "good", stack_spec("aws"))
    code, out, err = cli(capsys, "ci-targets", "--stack", "good", "--stack", "bad",
                         "--project", str(scratch_project))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: stack 'bad': {line}" for line in lines]


def test_every_bad_stack_is_reported_before_exit_2(capsys, scratch_project):
    raw = stack_spec("aws")
    raw["ci"] = {"deploy": "yes"}
    write_stack(scratch_project, "bad", raw)
    code, out, err = cli(capsys, "ci-targets", "--stack", "gone", "--stack", "bad",
                         "--project", str(scratch_project))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "error: stack 'gone': no file stacks/Pulumi.gone.yaml; stacks: bad",
        "error: stack 'bad': llm-platform:spec.ci.deploy: Input should be a valid boolean "
        "(got 'yes')",
    ]


def test_a_bad_stack_in_a_subprocess_is_no_traceback(scratch_project):
    raw = stack_spec("azure")
    raw["ci"] = {"runner": ["\x1b[2J", 7]}
    write_stack(scratch_project, "azure", raw)
    proc = run_cli("ci-targets", "--stack", "azure", "--project", str(scratch_project))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == [
        f"error: stack 'azure': {RUNNER}[0]: must be a runner label: 1 to 256 printable "
        "characters, without whitespace or ',' (got '\\x1b[2J')",
        f"error: stack 'azure': {RUNNER}[1]: Input should be a valid string (got 7)",
    ]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels=st.lists(st.text(max_size=12) | st.sampled_from(["${{ x }}", "a${{b", "L" * 257]),
                       min_size=1, max_size=3))
def test_any_label_is_taken_verbatim_or_refused_at_its_index(labels):
    raw = stack_spec("local")
    raw["ci"] = {"runner": labels}
    try:
        got = target_of(raw)
    except SpecError as exc:
        bad = [i for i, label in enumerate(labels)
               if not label or len(label) > 256 or "${{" in label
               or not label.isprintable() or any(c.isspace() or c == "," for c in label)]
        assert bad
        assert [p.split(":", 2)[1] for p in exc.problems] == [f"spec.ci.runner[{i}]" for i in bad]
        return
    assert got["runs_on"] == labels
    assert all(label.isprintable() and " " not in label and "," not in label for label in labels)
