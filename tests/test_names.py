"""Every name the program derives fits the API that receives it: the fitting function on
its own, every example stack's plan, and (a property test) specs whose environment, pool
and model names are as long as the spec accepts, for each topology.

The limits below are written out here from the cited sources, not imported from the
components' rule tables, so a wrong rule there fails here.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable
from typing import Any

import pytest
from conftest import ROOT, STACKS, stack_spec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components import catalog
from components.naming import NameRule, fit
from components.plan.runner import run_program
from components.spec import SpecError, load_spec

# Pulumi's auto-name when a resource gets no name argument: bridged providers (aws, gcp)
# append "-" and 7 random hex characters (pulumi-terraform-bridge
# pkg/tfbridge/info/autonaming.go: Randlen 7, separator "-"); azure-native appends 8 hex
# characters, no separator, to top-level resources (pulumi/pulumi-azure-native#519, #3406).
BRIDGED = "-abcdef0"
AZURE_NATIVE = "abcdef01"
RFC1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
IAM = r"[\w+=,.@-]+"

# (resource type, name property) -> (min, max, pattern, suffix when auto-named)
LIMITS: dict[tuple[str, str], tuple[int, int, str, str | None]] = {
    # docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html: role 64, policy 128
    ("aws:iam/role:Role", "name"): (1, 64, IAM, BRIDGED),
    ("aws:iam/rolePolicy:RolePolicy", "name"): (1, 128, IAM, BRIDGED),
    # EKS CreateNodegroup: 63, starts with a letter or digit, then letters, digits, - and _
    ("aws:eks/nodeGroup:NodeGroup", "nodeGroupName"): (1, 63, r"[0-9A-Za-z][\w-]*", BRIDGED),
    # EKS CreateCluster: 100, same characters
    ("aws:eks/cluster:Cluster", "name"): (1, 100, r"[0-9A-Za-z][\w-]*", None),
    # S3 bucket naming rules: 3-63, lowercase, digits, dots, hyphens, alphanumeric ends
    ("aws:s3/bucket:Bucket", "bucket"): (3, 63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]", None),
    ("aws:lambda/function:Function", "name"): (1, 64, r"[\w-]+", None),
    # GKE: cluster and node pool names 40 (magic-modules#18477), RFC 1035
    ("gcp:container/cluster:Cluster", "name"): (1, 40, RFC1035, None),
    ("gcp:container/nodePool:NodePool", "name"): (1, 40, RFC1035, BRIDGED),
    # IAM CreateServiceAccount: 6-30, [a-z]([-a-z0-9]*[a-z0-9])
    ("gcp:serviceaccount/account:Account", "accountId"): (6, 30, r"[a-z]([-a-z0-9]*[a-z0-9])", None),
    # cloud.google.com/storage/docs/naming-buckets: 3-63, no "goog" prefix, no "google"
    ("gcp:storage/bucket:Bucket", "name"): (3, 63, r"(?!goog)(?!.*google)[a-z0-9][\w-]*[a-z0-9]", None),
    # workloadIdentityPools.create: 4-32 of [a-z0-9-], "gcp-" reserved
    ("gcp:iam/workloadIdentityPool:WorkloadIdentityPool", "workloadIdentityPoolId"): (
        4, 32, r"(?!gcp-)[a-z0-9-]+", None),
    # AKS Linux node pools: 1-12 lowercase letters and digits, starting with a letter
    ("azure-native:containerservice:AgentPool", "agentPoolName"): (1, 12, r"[a-z][a-z0-9]*", None),
    ("azure-native:containerservice:ManagedCluster", "resourceName"): (
        1, 63, r"[A-Za-z0-9]([\w-]*[A-Za-z0-9])?", None),
    ("azure-native:storage:StorageAccount", "accountName"): (3, 24, r"[a-z0-9]+", None),
    ("azure-native:keyvault:Vault", "vaultName"): (3, 24, r"[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]", None),
    ("azure-native:network:VirtualNetwork", "virtualNetworkName"): (2, 64, r"[A-Za-z0-9][\w.-]*\w", AZURE_NATIVE),
    ("azure-native:resources:ResourceGroup", "resourceGroupName"): (1, 90, r"[\w.()-]*[\w()-]", AZURE_NATIVE),
    ("azure-native:managedidentity:UserAssignedIdentity", "resourceName"): (3, 128, r"[A-Za-z0-9][\w-]*", AZURE_NATIVE),
}
for _kind in ("network:Network", "subnetwork:Subnetwork", "router:Router", "routerNat:RouterNat",
              "haVpnGateway:HaVpnGateway", "externalVpnGateway:ExternalVpnGateway",
              "vPNTunnel:VPNTunnel", "routerInterface:RouterInterface", "routerPeer:RouterPeer"):
    # cloud.google.com/compute/docs/naming-resources: 1-63, RFC 1035
    LIMITS[(f"gcp:compute/{_kind}", "name")] = (1, 63, RFC1035, BRIDGED)

# apimachinery pkg/util/validation/validation.go
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
DNS1123_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
# Services and Namespaces take a DNS label (Service: RFC 1035, 63)
K8S_LABEL_NAMED = {"Service": RFC1035, "Namespace": r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"}
# AKS node resource group MC_<group>_<cluster>_<location>: "The maximum length is 80"
NODE_RESOURCE_GROUP_MAX = 80


def _fits(value: str, low: int, high: int, pattern: str) -> bool:
    return low <= len(value) <= high and re.fullmatch(pattern, value) is not None


def _labels(obj: Any) -> Iterable[tuple[str, str]]:
    """Every (key, value) under a `labels` or `matchLabels` mapping, anywhere in `obj`."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("labels", "matchLabels") and isinstance(value, dict):
                yield from ((k, v) for k, v in value.items() if isinstance(v, str))
            else:
                yield from _labels(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _labels(item)


def _cloud_problems(resources: list[tuple[str, str, dict]]) -> list[str]:
    problems, seen = [], {}
    for type_, logical, inputs in resources:
        for (kind, prop), (low, high, pattern, suffix) in LIMITS.items():
            if kind != type_:
                continue
            value = inputs.get(prop)
            if not isinstance(value, str):
                if suffix is None:
                    continue  # computed from another resource; checked there
                value = logical + suffix
            if not _fits(value, low, high, pattern):
                problems.append(f"{type_} {logical}: {prop}={value!r} ({len(value)}) not {low}-{high} {pattern}")
            if isinstance(inputs.get(prop), str):
                seen.setdefault((type_, prop), []).append(value)
    problems += [f"{k}: duplicate names {v}" for k, v in seen.items() if len(set(v)) < len(v)]
    pools = seen.get(("azure-native:containerservice:AgentPool", "agentPoolName"), [])
    problems += [f"AKS pool {p!r} takes the system pool's name" for p in pools if p == "system"]
    return problems + _node_resource_group_problems(resources)


def _node_resource_group_problems(resources: list[tuple[str, str, dict]]) -> list[str]:
    groups = [i["resourceGroupName"] for t, _, i in resources if t.endswith("resources:ResourceGroup")]
    problems = []
    for type_, logical, inputs in resources:
        if type_ == "azure-native:containerservice:ManagedCluster":
            name = inputs.get("nodeResourceGroup") or (
                f"MC_{groups[0]}_{inputs['resourceName']}_{inputs['location']}")
            if len(name) > NODE_RESOURCE_GROUP_MAX:
                problems.append(f"{logical}: node resource group {name!r} ({len(name)}) > 80")
    return problems


def _k8s_problems(resources: list[tuple[str, str, dict]]) -> list[str]:
    problems = []
    for type_, logical, inputs in resources:
        if not type_.startswith("kubernetes:") or type_.startswith("kubernetes:helm"):
            continue
        kind = type_.rsplit(":", 1)[-1]
        name = (inputs.get("metadata") or {}).get("name")
        if isinstance(name, str):
            pattern = K8S_LABEL_NAMED.get(kind, DNS1123_SUBDOMAIN)
            high = 63 if kind in K8S_LABEL_NAMED else 253
            if not _fits(name, 1, high, pattern):
                problems.append(f"{kind} {logical}: name {name!r} ({len(name)})")
        for key, value in _labels(inputs):
            if not _fits(value, 0, 63, LABEL_VALUE):
                problems.append(f"{kind} {logical}: label {key}={value!r} ({len(value)})")
    return problems


# cloud.google.com/resource-manager/docs/labels-overview: keys 1-63 starting with a
# lowercase letter, values 0-63, only lowercase letters, digits, "_" and "-"
GCP_LABEL_KEY, GCP_LABEL_VALUE = r"[a-z][a-z0-9_-]{0,62}", r"[a-z0-9_-]{0,63}"


def _gcp_label_problems(resources: list[tuple[str, str, dict]]) -> list[str]:
    """GCP resource labels (not the Kubernetes node labels under nodeConfig.labels, nor a
    notification channel's `labels`, which are its address)."""
    problems = []
    for type_, logical, inputs in resources:
        if not type_.startswith("gcp:"):
            continue
        found = [inputs.get("resourceLabels"), inputs.get("userLabels"),
                 (inputs.get("nodeConfig") or {}).get("resourceLabels"),
                 (inputs.get("budgetFilter") or {}).get("labels")]
        if not type_.endswith("NotificationChannel"):
            found.append(inputs.get("labels"))
        for labels in filter(None, found):
            problems += [f"{type_} {logical}: GCP label {k}={v!r}" for k, v in labels.items()
                         if not (re.fullmatch(GCP_LABEL_KEY, k) and re.fullmatch(GCP_LABEL_VALUE, v))]
    return problems


def name_problems(resources: list[tuple[str, str, dict]]) -> list[str]:
    return _cloud_problems(resources) + _gcp_label_problems(resources) + _k8s_problems(resources)


# --- the fitting function ------------------------------------------------------------------

SA = NameRule(30, r"[a-z]([-a-z0-9]*[a-z0-9])", "test", min_len=6)
POOL = NameRule(12, r"[a-z][a-z0-9]{0,11}", "test", allowed="a-z0-9")
AUTONAMED = NameRule(40, RFC1035, "test", suffix=8)
LABEL = NameRule(63, LABEL_VALUE, "test", allowed="A-Za-z0-9_.-")


def test_a_name_that_fits_is_left_alone():
    assert fit("llm-support-bot-eu-nodes", SA) == "llm-support-bot-eu-nodes"
    assert fit("support-bot-eu-gcp-a-pool", AUTONAMED) == "support-bot-eu-gcp-a-pool"


def test_a_long_name_keeps_its_start_and_last_word_around_a_hash_of_the_whole():
    name = "llm-support-bot-europe-west-production-nodes"  # 44 > 30
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    # 30 = 17 (start) + "-" + 6 (hash) + "-" + 5 ("nodes", the last word)
    assert fit(name, SA) == f"llm-support-bot-e-{digest}-nodes"
    weights = fit("llm-support-bot-europe-west-production-weights", SA)
    assert weights.endswith("-weights") and weights[:-8] != fit(name, SA)[:-6]


def test_auto_named_rules_leave_room_for_pulumis_suffix():
    # the GKE system pool of a 14-character environment: 33 + 8 > 40
    fitted = fit("support-bot-eu-gcp-cluster-system", AUTONAMED)
    assert len(fitted + BRIDGED) <= 40 and re.fullmatch(RFC1035, fitted + BRIDGED)
    assert fitted.startswith("support-bot-eu-") and fitted.endswith("-system")


def test_cleaned_names_that_would_collide_stay_apart():
    assert fit("gpua", POOL) == "gpua"
    assert fit("gpu-a", POOL) != "gpua" and fit("gpu-a", POOL).startswith("gpua")
    assert fit("inference-pool-a", POOL) != fit("inference-pool-b", POOL)


def test_a_rule_with_no_room_for_a_readable_part_is_a_bug_not_a_name():
    with pytest.raises(ValueError):
        fit("0123456789abcdef", NameRule(7, r"[a-z][a-z0-9]*", "test", allowed="a-z0-9"))


names = st.from_regex(r"[a-z][-a-z0-9]{0,60}[a-z0-9]", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(prefix=st.from_regex(r"[a-z][-a-z0-9]{28,60}", fullmatch=True), a=names, b=names)
def test_fitted_names_fit_are_stable_and_distinct(prefix, a, b):
    for rule in (SA, POOL, AUTONAMED, LABEL):
        one, two = fit(prefix + a, rule), fit(prefix + b, rule)
        for fitted in (one, two):
            full = fitted + "x" * rule.suffix
            assert rule.min_len <= len(full) <= rule.max_len, fitted
            assert re.fullmatch(rule.pattern, full), fitted
        assert fit(prefix + a, rule) == one
        if a != b:
            assert one != two, (prefix + a, prefix + b)


# --- the example stacks ---------------------------------------------------------------------


def _plan_resources(planned) -> list[tuple[str, str, dict]]:
    return [(r["type"], r["name"], r.get("inputs", {})) for r in planned.plan["resources"]]


@pytest.mark.parametrize("stack", STACKS)
def test_every_derived_name_fits_in_the_example_plans(planned, stack):
    resources = _plan_resources(planned[stack])
    manifests = [("kubernetes:" + m["kind"], m["metadata"]["name"], m)
                 for m in planned[stack].manifests if isinstance(m, dict) and "kind" in m]
    assert name_problems(resources + manifests) == []


def test_the_checker_sees_an_overflow():
    """The check itself fails on the overflows the issue lists."""
    bad = [
        ("gcp:container/nodePool:NodePool", "support-bot-eu-gcp-cluster-system", {}),
        ("gcp:serviceaccount/account:Account", "sa", {"accountId": "llm-support-bot-eu-weights-"}),
        ("aws:iam/role:Role", "x" * 57, {}),
        ("azure-native:containerservice:AgentPool", "p", {"agentPoolName": "system"}),
        ("gcp:storage/bucket:Bucket", "b", {"name": "bucket", "labels": {"owner": "jane.doe"}}),
        ("kubernetes:apps/v1:Deployment", "d", {"metadata": {"name": "d", "labels": {
            "app.kubernetes.io/instance": "e" * 40 + "-" + "m" * 40}}}),
    ]
    problems = name_problems(bad)
    assert len(problems) == 6, problems


# --- the longest names the spec accepts -----------------------------------------------------

BASE = {"aws": "aws", "gcp": "gcp", "azure": "azure", "hybrid": "hybrid", "onprem": "onprem-mixed",
        "hybrid-gcp": "hybrid", "hybrid-azure": "hybrid"}
# "google" is refused on GCP by the spec (see the refusal tests below).
longest = st.from_regex(r"[a-z][-a-z0-9]{38}[a-z0-9]", fullmatch=True).filter(
    lambda n: "google" not in n)


def _base(topology: str) -> dict:
    """The example stack for `topology`; hybrid on GCP or Azure is the hybrid example with
    that cloud's block and training pool in place of AWS's (its VPN names get checked too)."""
    raw = stack_spec(BASE[topology])
    if topology.startswith("hybrid-"):
        cloud = topology.split("-", 1)[1]
        other = stack_spec(cloud)
        del raw["aws"]
        raw[cloud], raw["hybrid"]["cloud"] = other[cloud], cloud
        train = next(p for p in other["gpu_pools"] if p.get("purpose") == "training")
        raw["gpu_pools"] = [train if p.get("purpose") == "training" else p for p in raw["gpu_pools"]]
        for job in raw.get("training", {}).get("jobs", []):
            # That cloud's training pool and its grace after a spot notice.
            job["gpus_per_worker"] = min(job.get("gpus_per_worker", 1), train["gpus_per_node"])
            job["checkpoint_seconds"] = min(job.get("checkpoint_seconds", 20),
                                            catalog.spot_notices()[cloud].pod_grace_s)
    return raw


def _jobs(raw: dict) -> list[dict]:
    return raw.get("training", {}).get("jobs", [])


def _renamed(
    raw: dict, env: str, pools: list[str], models: list[str], jobs: list[str]
) -> dict:
    spec = copy.deepcopy(raw)
    spec["environment"] = spec["tags"]["environment"] = env
    renames = {p["name"]: new for p, new in zip(spec["gpu_pools"], pools, strict=True)}
    for pool in spec["gpu_pools"]:
        pool["name"] = renames[pool["name"]]
    served = {m["name"]: new for m, new in zip(spec["models"], models, strict=True)}
    for model in spec["models"]:
        model["name"], model["pool"] = served[model["name"]], renames[model["pool"]]
    # The gateway's teams name the models they may call: they follow the renamed models.
    for team in (spec.get("gateway") or {}).get("teams", []):
        team["models"] = [served[m] for m in team["models"]]
    # So do the training jobs: their pool, the model they train and the one they watch.
    for job, name in zip(_jobs(spec), jobs, strict=True):
        job["name"], job["pool"] = name, renames[job["pool"]]
        job["model"] = served.get(job["model"], job["model"])
        if "trigger" in job:
            job["trigger"]["model"] = served[job["trigger"]["model"]]
    return spec


@pytest.mark.parametrize("topology", sorted(BASE))
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
@example(data=None)
def test_longest_names_fit_every_api(topology, data):
    raw = _base(topology)
    pools, models = len(raw["gpu_pools"]), len(raw["models"])
    count = pools + models + len(_jobs(raw)) + 1
    if data is None:  # every name 40 characters and sharing its first 39 with the others
        drawn = [("n" * 38 + f"{i:02d}")[-40:] for i in range(count)]
    else:
        drawn = data.draw(st.lists(longest, min_size=count, max_size=count, unique=True))
    env, rest = drawn[0], drawn[1:]
    spec = _renamed(raw, env, rest[:pools], rest[pools:pools + models], rest[pools + models:])
    try:
        load_spec(spec)
    except SpecError as exc:  # only the refusals the spec documents for names
        pytest.fail(f"spec refused the longest names: {exc}")
    records = run_program(topology.split("-")[0], spec, ROOT)
    assert name_problems([(r.type, r.name, r.inputs) for r in records]) == []


# --- what the spec refuses ------------------------------------------------------------------


def test_aks_pool_named_system_is_refused():
    raw = stack_spec("azure")
    raw["models"][0]["pool"] = raw["gpu_pools"][0]["name"] = "system"
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    lines = [line for line in exc.value.problems if "system" in line]
    assert lines and lines[0].startswith("llm-platform:spec.gpu_pools[0].name: 'system'")
    assert "1-12" in lines[0]


def test_gcp_environment_with_google_is_refused():
    raw = stack_spec("gcp")
    raw["environment"] = raw["tags"]["environment"] = "google-ads"
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    assert any(line.startswith("llm-platform:spec.environment: 'google-ads' contains 'google'")
               for line in exc.value.problems)


def test_gcp_tag_a_label_cannot_hold_is_refused():
    raw = stack_spec("gcp")
    raw["tags"]["owner"] = "jane.doe"
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    assert [line for line in exc.value.problems if line.startswith(
        "llm-platform:spec.tags.owner: 'jane.doe'")], exc.value.problems
