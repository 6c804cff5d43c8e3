"""What only a real `pulumi up` on a cloud would show: control-plane versions out of
support, zones that do not offer a machine type, resources created before what they name
exists, account-dependent resources, and an ABAC condition that denies what the pod needs.
The expected values are worked out here from the provider's published dates and rules."""

from __future__ import annotations

import copy
import json
import re
from datetime import date

import pytest
from conftest import ROOT, STACKS, run_cli, stack_spec, write_stack

from components import catalog, pricing
from components.plan.runner import Recorded, run_program
from components.spec import SpecError, load_spec

VERSIONS = "components/catalog/kubernetes_versions.yaml"


def problems(raw: dict, day: date) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_spec(raw, plan_date=day)
    return exc.value.problems


def spec_of(stack: str, **changes) -> dict:
    raw = copy.deepcopy(stack_spec(stack))
    block = "aws" if stack in ("aws", "hybrid") else stack
    raw[block].update(changes)
    return raw


@pytest.fixture(scope="module")
def records(planned) -> dict[str, list[Recorded]]:
    """The cloud stacks' resources as plan.json records them (the session's plans, not three
    more runs of the program)."""
    return {s: [Recorded(urn=r["urn"], type=r["type"], name=r["name"], parent=r["parent"],
                         custom=r["custom"], inputs=r["inputs"],
                         dependencies=tuple(r["dependencies"]))
                for r in planned[s].plan["resources"]]
            for s in ("aws", "gcp", "azure")}


def one(records: list[Recorded], type_: str, name: str | None = None) -> Recorded:
    found = [r for r in records if r.type == type_ and (name is None or r.name == name)]
    assert len(found) == 1, (type_, name, [r.name for r in found])
    return found[0]


# -- Kubernetes versions -----------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_runs_versions_in_standard_support_on_the_plan_date(stack):
    today = catalog.plan_date()
    spec = load_spec(stack_spec(stack)).spec
    for block, platform in (("aws", "eks"), ("azure", "aks")):
        cfg = getattr(spec, block)
        if cfg is None:
            continue
        row = catalog.kubernetes_version(platform, cfg.kubernetes_version)
        assert row is not None, (stack, cfg.kubernetes_version)
        assert row.available_from <= today < row.end_of_standard, (stack, row.id)


def test_the_default_versions_are_released_and_in_standard_support_today():
    today = catalog.plan_date()
    for platform in ("eks", "aks"):
        row = catalog.kubernetes_version(platform, catalog.default_kubernetes_version(platform))
        assert row is not None and row.available_from <= today < row.end_of_standard


def test_every_version_row_has_a_source_dates_in_order_and_eks_an_autoscaler():
    for row in catalog.kubernetes_versions().values():
        assert row.source.startswith("https://") and row.as_of[:2] == "20", row.id
        assert row.available_from < row.end_of_standard, row.id
        assert row.end_of_extended is None or row.end_of_standard < row.end_of_extended, row.id
        if row.platform == "eks":
            # The autoscaler's minor version must be the control plane's.
            assert row.cluster_autoscaler_image.startswith(f"v{row.version}."), row.id


def test_every_zone_row_has_a_source_and_names_zones_of_its_region():
    for row in catalog.zone_offers().values():
        assert row.source.startswith("https://") and row.as_of[:2] == "20", row.id
        assert row.id == f"{row.instance}@{row.region}"
        assert all(z.startswith(f"{row.region}-") for z in row.zones), row.id
        assert catalog.instances()[row.instance].cloud == "gcp", row.id


def test_eks_1_31_the_day_its_extended_support_has_ended_is_refused():
    # EKS 1.31: standard support ended 2025-11-26, extended support 2026-11-26.
    raw = spec_of("aws", kubernetes_version="1.31", extended_support=True)
    assert problems(raw, date(2026, 12, 1)) == [
        "llm-platform:spec.aws.kubernetes_version: EKS 1.31 is out of support since "
        "2026-11-26; versions in standard support on 2026-12-01: 1.34, 1.35"
    ]


def test_eks_version_past_standard_support_is_refused_unless_the_spec_pays_for_extended():
    raw = spec_of("aws", kubernetes_version="1.31")
    # On 2026-06-01 1.32 has left standard support too (2026-03-23).
    assert problems(raw, date(2026, 6, 1)) == [
        "llm-platform:spec.aws.kubernetes_version: EKS 1.31 left standard support on "
        "2025-11-26; versions in standard support on 2026-06-01: 1.33, 1.34, 1.35, or set "
        "llm-platform:spec.aws.extended_support: true to pay for extended support"
    ]
    env = load_spec(spec_of("aws", kubernetes_version="1.31", extended_support=True),
                    plan_date=date(2026, 6, 1))
    assert env.warnings == [
        "llm-platform:spec.aws.kubernetes_version: EKS 1.31 is in extended support until "
        "2026-11-26, at its price"
    ]


def test_version_leaving_standard_support_within_90_days_is_a_warning():
    raw = stack_spec("aws")  # EKS 1.35: standard support ends 2027-03-27
    assert load_spec(raw, plan_date=date(2026, 12, 26)).warnings == []  # 91 days left
    assert load_spec(raw, plan_date=date(2026, 12, 27)).warnings == [
        "llm-platform:spec.aws.kubernetes_version: EKS 1.35 leaves standard support on "
        "2027-03-27, 90 days after the plan date; versions in standard support on 2026-12-27: "
        "1.35"
    ]


def test_aks_past_end_of_life_is_refused_since_lts_cannot_use_kms():
    raw = spec_of("azure", kubernetes_version="1.34")  # AKS: end of life Nov 2026
    (line,) = problems(raw, date(2026, 12, 1))
    assert line.startswith(
        "llm-platform:spec.azure.kubernetes_version: AKS 1.34 left standard support on "
        "2026-11-30; versions in standard support on 2026-12-01: 1.35, 1.36, 1.37 (AKS "
        "long-term support needs the Premium tier"
    )
    # The example stack's default stays loadable.
    assert load_spec(stack_spec("azure"), plan_date=date(2026, 12, 1)).spec.azure.kubernetes_version == "1.35"


def test_unreleased_and_unknown_versions_are_refused():
    assert problems(spec_of("aws"), date(2025, 12, 1)) == [
        "llm-platform:spec.aws.kubernetes_version: EKS 1.35 is not generally available until "
        "2026-01; versions in standard support on 2025-12-01: 1.32, 1.33, 1.34"
    ]
    assert problems(spec_of("aws", kubernetes_version="1.28"), date(2026, 12, 1)) == [
        f"llm-platform:spec.aws.kubernetes_version: EKS 1.28 is not in {VERSIONS}; versions "
        "in standard support on 2026-12-01: 1.34, 1.35"
    ]


def test_plan_date_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LLM_PLATFORM_PLAN_DATE", "2026-06-01")
    assert catalog.plan_date() == date(2026, 6, 1)
    monkeypatch.setenv("LLM_PLATFORM_PLAN_DATE", "next tuesday")
    with pytest.raises(SpecError) as exc:
        load_spec(stack_spec("aws"))
    assert exc.value.problems == [
        "LLM_PLATFORM_PLAN_DATE: must be a date such as 2026-12-01 (got 'next tuesday')"
    ]


def test_eks_upgrade_policy_follows_the_opt_in_and_extended_support_is_priced(monkeypatch):
    extended = {"version": "1.31", "upgradePolicy": {"supportType": "EXTENDED"}}
    monkeypatch.setenv("LLM_PLATFORM_PLAN_DATE", "2026-06-01")
    (item,) = pricing.price_resource("aws:eks/cluster:Cluster", "eks", extended)
    assert item.monthly_usd == 438.0 and item.unit_usd == 0.60
    standard = {**extended, "upgradePolicy": {"supportType": "STANDARD"}}
    assert pricing.price_resource("aws:eks/cluster:Cluster", "eks", standard)[0].monthly_usd == 73.0
    # EKS's own default policy is EXTENDED: no policy is billed as extended too.
    default = pricing.price_resource("aws:eks/cluster:Cluster", "eks", {"version": "1.31"})
    assert default[0].monthly_usd == 438.0
    monkeypatch.setenv("LLM_PLATFORM_PLAN_DATE", "2025-06-01")  # 1.31 still in standard
    assert pricing.price_resource("aws:eks/cluster:Cluster", "eks", extended)[0].monthly_usd == 73.0


def test_plan_of_an_extended_eks_version_warns_and_prices_the_fee(scratch_project, monkeypatch):
    write_stack(scratch_project, "ext", spec_of("aws", kubernetes_version="1.31", extended_support=True))
    monkeypatch.setenv("LLM_PLATFORM_PLAN_DATE", "2026-06-01")
    out = scratch_project / "out"
    proc = run_cli("plan", "--stack", "ext", "--project", str(scratch_project), "--out", str(out),
                   "--no-policy")
    assert proc.returncode == 0, proc.stderr
    assert "EKS 1.31 is in extended support until 2026-11-26" in proc.stdout
    (eks,) = [i for i in json.loads((out / "cost.json").read_text())["resources"]
              if i["type"] == "aws:eks/cluster:Cluster"]
    assert eks["monthly_usd"] == 438.0 and eks["unit_usd"] == 0.60
    plan = json.loads((out / "plan.json").read_text())["resources"]
    (cluster,) = [r for r in plan if r["type"] == "aws:eks/cluster:Cluster"]
    assert cluster["inputs"]["upgradePolicy"] == {"supportType": "EXTENDED"}
    (autoscaler,) = [r for r in plan if r["type"] == "kubernetes:helm.sh/v3:Release"
                     and r["inputs"]["name"] == "cluster-autoscaler"]
    assert autoscaler["inputs"]["values"]["image"]["tag"].startswith("v1.31.")


def test_cli_refuses_an_out_of_support_version_with_one_line(scratch_project, monkeypatch):
    write_stack(scratch_project, "old", spec_of("aws", kubernetes_version="1.31"))
    monkeypatch.setenv("LLM_PLATFORM_PLAN_DATE", "2026-12-01")
    proc = run_cli("plan", "--stack", "old", "--project", str(scratch_project))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == [
        "error: llm-platform:spec.aws.kubernetes_version: EKS 1.31 is out of support since "
        "2026-11-26; versions in standard support on 2026-12-01: 1.34, 1.35"
    ]
    assert not (scratch_project / "out").exists()


def test_eks_cluster_runs_the_stack_version_without_silent_extended_support(records):
    cluster = one(records["aws"], "aws:eks/cluster:Cluster").inputs
    assert cluster["version"] == "1.35"
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"}
    release = [r for r in records["aws"] if r.type == "kubernetes:helm.sh/v3:Release"
               and r.inputs.get("name") == "cluster-autoscaler"]
    (autoscaler,) = release
    assert autoscaler.inputs["values"]["image"]["tag"].startswith("v1.35.")


# -- Zones -------------------------------------------------------------------------------
def test_gke_zone_without_the_a100_80gb_is_refused():
    raw = spec_of("gcp", zones=["us-central1-a", "us-central1-b"])
    assert problems(raw, date(2026, 12, 1)) == [
        "llm-platform:spec.gcp.zones[1]: us-central1-b does not offer a2-ultragpu-1g (pool "
        "'train'); zones of us-central1 that do: us-central1-a, us-central1-c"
    ]


def test_gke_zones_must_lie_in_the_region_and_offer_every_pool_type():
    raw = spec_of("gcp", zones=["us-east1-b", "us-central1-f"])
    assert problems(raw, date(2026, 12, 1)) == [
        "llm-platform:spec.gcp.zones[0]: zone us-east1-b is not in region us-central1",
        # f offers the e2 system nodes but neither the L4 nor the A100 80GB machines.
        "llm-platform:spec.gcp.zones[1]: us-central1-f does not offer g2-standard-4 (pool "
        "'l4'); zones of us-central1 that do: us-central1-a, us-central1-b, us-central1-c",
        "llm-platform:spec.gcp.zones[1]: us-central1-f does not offer a2-ultragpu-1g (pool "
        "'train'); zones of us-central1 that do: us-central1-a, us-central1-c",
    ]


def test_a_region_the_zone_catalog_does_not_cover_is_refused_not_guessed():
    raw = spec_of("gcp", region="europe-west4", zones=["europe-west4-a"])
    lines = problems(raw, date(2026, 12, 1))
    assert len(lines) == 3  # e2 system nodes, the L4 and the A100 80GB machines
    assert all(ln.startswith("llm-platform:spec.gcp.zones[0]: components/catalog/zones.yaml "
                             "does not say which zones of europe-west4 offer ") for ln in lines)


def test_every_gke_node_pool_lies_in_zones_that_offer_its_machine_type(records):
    pools = [r.inputs for r in records["gcp"] if r.type == "gcp:container/nodePool:NodePool"]
    assert len(pools) == 3
    for pool in pools:
        machine = pool["nodeConfig"]["machineType"]
        offered = catalog.zones_offering(machine, "us-central1")
        assert offered and set(pool["nodeLocations"]) <= set(offered), machine


# -- GCP workload identity ---------------------------------------------------------------
def test_workload_identity_member_is_created_after_the_cluster():
    # The program's own records: plan.json does not keep each input's dependencies.
    gcp = run_program("gcp", stack_spec("gcp"), ROOT)
    cluster = one(gcp, "gcp:container/cluster:Cluster")
    members = {r.inputs["member"]: r for r in gcp if r.type == "gcp:serviceaccount/iAMMember:IAMMember"
               and ".svc.id.goog[" in str(r.inputs.get("member"))}
    # Four Kubernetes service accounts of the namespace act as Google accounts: the model
    # servers' weights reader, the one CloudNativePG runs the gateway database as (named
    # after its Cluster), which writes the backups, the model publisher the sync and eval
    # Jobs run as (test_cloud.py, test_model_publisher.py: distinct Google accounts), and the
    # stack's training job's trainer (test_training_identity.py). Each binding names the
    # cluster's pool, so IAM needs the cluster first.
    pool, namespace = "acme-llm-prod.svc.id.goog", "llm-gcp"
    reader = f"serviceAccount:{pool}[{namespace}/model-weights-reader]"
    writer = f"serviceAccount:{pool}[{namespace}/llm-gateway-db]"
    publisher = f"serviceAccount:{pool}[{namespace}/model-publisher]"
    trainer = f"serviceAccount:{pool}[{namespace}/train-support-ft]"
    assert set(members) == {reader, writer, publisher, trainer}
    for iam in members.values():
        assert iam.inputs["role"] == "roles/iam.workloadIdentityUser"
        assert cluster.urn in iam.dependencies
        assert cluster.urn in iam.property_dependencies["member"]


# -- AWS account-dependent resources -----------------------------------------------------
def test_aws_account_dependent_resources_are_absent_by_default(records):
    aws = records["aws"]
    assert not [r for r in aws if r.type == "aws:costexplorer/costAllocationTag:CostAllocationTag"]
    function = one(aws, "aws:lambda/function:Function").inputs
    assert "reservedConcurrentExecutions" not in function
    budget = one(aws, "aws:budgets/budget:Budget")
    assert not [d for d in budget.dependencies if "costAllocationTag" in d]


def test_cost_allocation_tag_is_activated_only_when_asked():
    raw = spec_of("aws", activate_cost_allocation_tag=True)
    recs = run_program("aws", raw, ROOT)
    tag = one(recs, "aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert tag.inputs == {"status": "Active", "tagKey": "environment"}
    assert tag.urn in one(recs, "aws:budgets/budget:Budget").dependencies


# -- Azure ABAC --------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<not>!|NOT\b)|(?P<and>AND\b)|(?P<or>OR\b)"
    r"|(?P<fn>ActionMatches|SubOperationMatches)\{'(?P<arg>[^']*)'\}"
    r"|@(?P<src>Resource|Request)\[(?P<attr>[^\]]+)\]\s+StringStartsWith\s+'(?P<val>[^']*)')"
)


def abac_allows(condition: str, request: dict) -> bool:
    """Evaluate the subset of Azure's role-assignment condition language used here, as
    learn.microsoft.com/azure/role-based-access-control/conditions-format describes it: a
    missing attribute makes its comparison false."""
    tokens, pos = [], 0
    while pos < len(condition.rstrip()):
        m = _TOKEN.match(condition, pos)
        assert m, f"cannot read the condition at {condition[pos:pos + 40]!r}"
        tokens.append(m)
        pos = m.end()

    def peek(kind: str) -> bool:
        return bool(tokens) and tokens[0].group(kind) is not None

    def disjunction() -> bool:
        value = conjunction()
        while peek("or"):
            tokens.pop(0)
            value = conjunction() or value
        return value

    def conjunction() -> bool:
        value = unary()
        while peek("and"):
            tokens.pop(0)
            value = unary() and value
        return value

    def unary() -> bool:
        token = tokens.pop(0)
        if token.group("not"):
            return not unary()
        if token.group("lp"):
            value = disjunction()
            assert tokens.pop(0).group("rp")
            return value
        if token.group("fn") == "ActionMatches":
            return request["action"] == token.group("arg")
        if token.group("fn") == "SubOperationMatches":
            return request.get("suboperation") == token.group("arg")
        found = request.get(token.group("src").lower(), {}).get(token.group("attr"))
        return found is not None and found.startswith(token.group("val"))

    value = disjunction()
    assert not tokens
    return value


BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
READ = f"{BLOBS}/read"


def read_blob(path: str) -> dict:
    return {"action": READ, "resource": {f"{BLOBS}:path": path}}


def list_blobs(prefix: str | None) -> dict:
    request = {f"{BLOBS}:prefix": prefix} if prefix is not None else {}
    return {"action": READ, "suboperation": "Blob.List", "request": request}


def test_azure_reader_may_list_and_read_models_and_nothing_else(records):
    grant = one(records["azure"], "azure-native:authorization:RoleAssignment",
                "azure-azure-artifacts-reader").inputs
    assert grant["conditionVersion"] == "2.0"
    condition = grant["condition"]
    # What rclone does for models/assistant: list the prefix, then read each blob.
    assert abac_allows(condition, list_blobs("models/assistant/"))
    assert abac_allows(condition, read_blob("models/assistant/config.json"))
    assert not abac_allows(condition, read_blob("checkpoints/step-100/model.pt"))
    assert not abac_allows(condition, list_blobs("checkpoints/"))
    assert not abac_allows(condition, list_blobs(None))  # the whole container


def test_the_evaluator_denies_listing_under_a_path_only_condition():
    # The condition this replaced: a listing has no blob path, so it was denied.
    path_only = (
        f"((!(ActionMatches{{'{READ}'}})) OR "
        f"(@Resource[{BLOBS}:path] StringStartsWith 'models/'))"
    )
    assert abac_allows(path_only, read_blob("models/a/config.json"))
    assert not abac_allows(path_only, list_blobs("models/a/"))
