"""How each cloud's spot notice reaches a training pod as SIGTERM, and the catalog's figures
(components/catalog/spot_notice.yaml) that the pod's terminationGracePeriodSeconds and the
spec's checkpoint budget are held to. The AWS handler's chart values are worked out against
those rows and against the pinned chart's own value keys; the EKS cluster installs it exactly
where a pool runs on spot."""

from __future__ import annotations

import copy
from pathlib import Path

import pinned
import pytest
import yaml
from conftest import stack_spec

from components import catalog
from components.aws import control_plane, resolve
from components.aws.args import AutoscalerPins, ClusterArgs
from components.aws.cluster import Cluster
from components.catalog import versions
from components.spec import load_spec
from tests.test_database_backups import of_type, run

NTH = "aws-node-termination-handler"
RELEASE = "kubernetes:helm.sh/v3:Release"
# aws-node-termination-handler polls the instance metadata every 2 s in IMDS mode
# (cmd/node-termination-handler.go:249 at v1.25.6).
NTH_POLL_S = 2
# GKE: 30 s after the preemption notice, the last 15 s kept for critical system pods
# (cloud.google.com/kubernetes-engine/docs/concepts/spot-vms).
GKE_CRITICAL_PODS_S = 15


def test_every_cloud_has_a_verified_row():
    notices = catalog.spot_notices()
    assert set(notices) == {"aws", "gcp", "azure"}
    for cloud, row in notices.items():
        assert row.source.startswith("https://") and "TO VERIFY" not in row.source, cloud
        assert 0 < row.pod_grace_s < row.notice_s, cloud


def test_the_documented_notices():
    notices = catalog.spot_notices()
    # EC2: two minutes; Compute Engine: 30 s; Azure Scheduled Events Preempt: at least 30 s.
    assert {c: r.notice_s for c, r in notices.items()} == {"aws": 120, "gcp": 30, "azure": 30}
    # GKE's kubelet gives non-system pods what the critical pods do not keep.
    assert notices["gcp"].pod_grace_s == notices["gcp"].notice_s - GKE_CRITICAL_PODS_S == 15


def test_the_handler_drains_on_the_notice_within_the_catalogs_grace():
    aws = catalog.spot_notices()["aws"]
    values = control_plane.termination_handler_values()
    # the drain's per-pod grace is the catalog's, which the training pod's own grace equals
    assert values["podTerminationGracePeriod"] == aws.pod_grace_s == 90
    # the drain starts nodeTerminationGracePeriod before the interruption: at the notice
    assert values["nodeTerminationGracePeriod"] == aws.notice_s == 120
    # the poll plus the pod's grace end before the instance does
    assert NTH_POLL_S + values["podTerminationGracePeriod"] < aws.notice_s
    # IMDS mode: the chart renders the DaemonSet only without SQS draining
    assert values["enableSqsTerminationDraining"] is False
    assert values["enableSpotInterruptionDraining"] is True
    assert values["daemonsetNodeSelector"] == {"eks.amazonaws.com/capacityType": "SPOT"}


def test_the_handlers_values_are_keys_of_the_pinned_chart():
    chart = versions.chart(NTH)
    vendored = pinned.chart_values(NTH, chart.version)
    assert vendored and vendored["app_version"] == "1.25.6"
    assert not pinned.unknown_value_keys(control_plane.termination_handler_values(), vendored)
    assert pinned.unknown_value_keys({"podTerminationGracePeriodSeconds": 90}, vendored)
    assert chart.repo == "oci://public.ecr.aws/aws-ec2/helm"


def _cluster_args(**changes) -> ClusterArgs:
    return ClusterArgs(
        cluster_name="llm-dev", region="eu-west-1", version="1.35",
        autoscaler=AutoscalerPins(chart="9.59.0", image="v1.35.2"),
        namespace="llm-dev", account_id="111122223333", **changes,
    )


def _releases(spot_pools: bool) -> dict[str, dict]:
    records, _ = run(lambda: Cluster("eks", _cluster_args(spot_pools=spot_pools), ["subnet-1"]))
    return {r["name"]: r for r in of_type(records, RELEASE).values()}


def test_the_cluster_installs_the_handler_from_its_oci_chart_where_a_pool_is_spot():
    releases = _releases(spot_pools=True)
    handler = releases[NTH]
    assert handler["chart"] == f"oci://public.ecr.aws/aws-ec2/helm/{NTH}"
    assert handler["version"] == "0.27.6"
    assert handler["namespace"] == "kube-system"
    assert not handler.get("repositoryOpts")
    assert handler["values"]["podTerminationGracePeriod"] == 90
    assert "cluster-autoscaler" in releases  # an https chart keeps its repository
    assert releases["cluster-autoscaler"]["repositoryOpts"]["repo"].startswith("https://")
    assert NTH not in _releases(spot_pools=False)


@pytest.mark.parametrize("stack", ["aws", "hybrid"])
def test_resolve_asks_for_the_handler_where_the_cloud_has_a_spot_pool(stack):
    env = load_spec(stack_spec(stack))
    assert resolve.cluster_args(env.spec, env.spec.aws, "llm-x").spot_pools is True
    doc = copy.deepcopy(stack_spec(stack))
    doc.pop("training", None)  # its jobs would need an on_demand_reason
    for pool in doc["gpu_pools"]:
        if pool.get("capacity") == "spot":
            pool["capacity"] = "on-demand"
    on_demand = load_spec(doc)
    assert resolve.cluster_args(on_demand.spec, on_demand.spec.aws, "llm-x").spot_pools is False


def test_the_catalog_file_says_where_each_figure_comes_from():
    rows = yaml.safe_load((Path(catalog.__file__).parent / "spot_notice.yaml").read_text())[
        "clouds"]
    assert all(r["as_of"] and r["path"] and "->" in r["path"] for r in rows)
    assert "SIGTERM" in {r["path"].rsplit("-> ", 1)[-1] for r in rows}


def test_the_readme_table_shows_the_catalogs_figures_and_the_pinned_handler():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Training on spot"):readme.index("## Cost")]
    rows = {
        cells[0]: cells[1:]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith(("| Cloud", "| ---"))
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    for cloud, row in catalog.spot_notices().items():
        notice, grace, budget, _ = rows[cloud]
        assert (notice, grace, budget) == (
            f"{row.notice_s} s", f"{row.pod_grace_s} s", f"{row.pod_grace_s} s"), cloud
    chart = versions.chart(NTH)
    assert f"chart {chart.version} (app 1.25.6), `{chart.repo}`" in rows["aws"][3]
