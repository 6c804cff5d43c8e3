"""The gcp package's builders, called with hand-made narrow Args (no spec, no Pulumi
mocks): what a user would see on the GKE cluster, its pools, the bucket and the budget."""

from __future__ import annotations

import json

from components import pricing, scan
from components.gcp import artifacts, budget, cluster, network, node_pool, resolve, scanner, vpn
from components.gcp.args import (
    ArtifactBucketArgs,
    BudgetArgs,
    ClusterArgs,
    NetworkArgs,
    NodePoolArgs,
    OnPremFederation,
)
from components.kubernetes.facts import Taint
from components.spec import load_spec
from tests.conftest import stack_spec

GPU_TAINT = Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule")


def _pool(**overrides) -> NodePoolArgs:
    args = dict(
        region="us-central1",
        zones=("us-central1-a", "us-central1-c"),
        machine_type="a2-ultragpu-1g",
        accelerator="nvidia-a100-80gb",
        gpus_per_node=1,
        spot=True,
        min_nodes=0,
        max_nodes=4,
        steady_nodes=3,
        node_labels={"llm-platform.dev/pool": "train"},
        labels={"team": "ml"},
        taints=(GPU_TAINT,),
    )
    return NodePoolArgs(**{**args, **overrides})


def _cluster(**overrides) -> ClusterArgs:
    args = dict(
        project="acme-llm-prod",
        region="us-central1",
        zones=("us-central1-a", "us-central1-c"),
        cluster_name="llm-prod",
        environment="prod",
        namespace="llm-prod",
        control_plane_cidr="172.16.0.0/28",
        release_channel="STABLE",
        system_machine_type="e2-standard-4",
        system_nodes=1,
        labels={"team": "ml"},
    )
    return ClusterArgs(**{**args, **overrides})


def _bucket(**overrides) -> ArtifactBucketArgs:
    args = dict(
        project="acme-llm-prod",
        location="US-CENTRAL1",
        bucket_name="acme-llm-prod-llm-prod-artifacts",
        reader_account_id="llm-prod-weights",
        namespace="llm-prod",
        noncurrent_version_days=30,
        checkpoint_days=14,
        labels={"team": "ml"},
    )
    return ArtifactBucketArgs(**{**args, **overrides})


def test_a_spot_pool_scales_anywhere_between_its_bounds_and_keeps_the_gpu_taint():
    pool = node_pool.node_pool(_pool(), "cluster-1", "nodes@acme.iam")
    auto = pool["autoscaling"]
    # Totals across both zones, and Spot capacity taken in whichever zone has it.
    assert (auto.total_min_node_count, auto.total_max_node_count) == (0, 4)
    assert auto.location_policy == "ANY"
    # Three steady nodes over two zones: the per-zone count rounds up to 2.
    assert pool["initial_node_count"] == 2
    config = pool["node_config"]
    assert config.spot is True
    assert config.machine_type == "a2-ultragpu-1g"
    assert [(t.key, t.value, t.effect) for t in config.taints] == [
        ("nvidia.com/gpu", "present", "NO_SCHEDULE")
    ]
    [gpu] = config.guest_accelerators
    assert (gpu.type, gpu.count) == ("nvidia-a100-80gb", 1)
    assert config.disk_size_gb == 200


def test_an_on_demand_pool_spreads_over_its_zones():
    pool = node_pool.node_pool(_pool(spot=False, steady_nodes=4), "c", "sa")
    assert pool["autoscaling"].location_policy == "BALANCED"
    assert pool["node_config"].spot is False
    assert pool["initial_node_count"] == 2


def test_every_taint_effect_is_spelled_in_the_gke_enum():
    taints = tuple(Taint(key=f"k{i}", value="v", effect=e) for i, e in enumerate(
        ("NoSchedule", "NoExecute", "PreferNoSchedule")))
    config = node_pool.node_pool(_pool(taints=taints), "c", "sa")["node_config"]
    assert [t.effect for t in config.taints] == ["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"]


def test_nodes_hide_their_credentials_from_pods():
    config = cluster.node_config("e2-standard-4", "sa", {}, {})
    assert config.workload_metadata_config.mode == "GKE_METADATA"
    assert config.metadata == {"disable-legacy-endpoints": "true"}
    assert config.shielded_instance_config.enable_secure_boot is True
    # Not a GPU node: the small system disk.
    assert config.disk_size_gb == 50


def test_a_cluster_without_authorized_networks_has_a_private_endpoint_only():
    gke = cluster.cluster(_cluster(), "net", "subnet", "key-1")
    private = gke["private_cluster_config"]
    assert private.enable_private_endpoint is True
    assert private.enable_private_nodes is True
    assert private.master_ipv4_cidr_block == "172.16.0.0/28"
    assert gke["master_authorized_networks_config"].cidr_blocks == []
    assert gke["workload_identity_config"].workload_pool == "acme-llm-prod.svc.id.goog"
    assert gke["database_encryption"].key_name == "key-1"
    assert gke["release_channel"].channel == "STABLE"
    assert gke["deletion_protection"] is True


def test_authorized_networks_open_a_public_endpoint_to_those_networks_only():
    args = _cluster(authorized_networks=("203.0.113.0/24", "198.51.100.7/32"))
    gke = cluster.cluster(args, "net", "subnet", "key")
    assert gke["private_cluster_config"].enable_private_endpoint is False
    blocks = gke["master_authorized_networks_config"].cidr_blocks
    assert [(b.cidr_block, b.display_name) for b in blocks] == [
        ("203.0.113.0/24", "allowed-0"),
        ("198.51.100.7/32", "allowed-1"),
    ]


def test_the_system_pool_scales_from_its_nodes_per_zone_to_twice_that():
    pool = cluster.system_pool(_cluster(system_nodes=2), "c", "sa")
    # 2 per zone in 2 zones: 4 nodes, at most 8.
    assert pool["initial_node_count"] == 2
    assert (pool["autoscaling"].total_min_node_count, pool["autoscaling"].total_max_node_count) == (
        4,
        8,
    )
    assert pool["node_config"].labels == {"llm-platform.dev/pool": "system"}


def test_the_gke_service_agent_is_named_from_the_project_number():
    assert cluster.gke_service_agent("123") == (
        "serviceAccount:service-123@container-engine-robot.iam.gserviceaccount.com"
    )


def test_the_bucket_is_private_versioned_and_expires_old_data():
    bucket = artifacts.bucket(_bucket())
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["versioning"].enabled is True
    assert bucket["force_destroy"] is False
    versions, checkpoints = (r.condition for r in bucket["lifecycle_rules"])
    assert (versions.days_since_noncurrent_time, versions.with_state) == (30, "ARCHIVED")
    assert (checkpoints.age, checkpoints.matches_prefixes) == (14, ["checkpoints/"])


def test_the_reader_may_read_objects_under_models_only():
    condition = artifacts.models_only("b1")
    assert 'resource.name.startsWith("projects/_/buckets/b1/objects/models/")' in (
        condition.expression
    )


def test_the_onprem_cluster_is_trusted_for_the_reader_subject_and_audience_only():
    fed = OnPremFederation(
        pool_id="llm-prod-onprem",
        display_name="on-prem prod",
        issuer="https://oidc.example.com",
        audience="llm-platform-prod",
        jwks_json='{"keys": []}',
    )
    subject = artifacts.reader_subject(_bucket(federation=fed))
    assert subject == "system:serviceaccount:llm-prod:model-weights-reader"
    provider = artifacts.federation_provider(fed, subject)
    assert provider["attribute_condition"] == (
        'assertion.sub == "system:serviceaccount:llm-prod:model-weights-reader"'
    )
    assert provider["oidc"].allowed_audiences == ["llm-platform-prod"]
    assert provider["oidc"].issuer_uri == "https://oidc.example.com"
    assert provider["oidc"].jwks_json == '{"keys": []}'


def test_the_onprem_credential_file_exchanges_the_mounted_token_then_impersonates():
    creds = json.loads(artifacts.external_account("projects/1/locations/global/p", "r@x.iam"))
    assert creds["audience"] == "//iam.googleapis.com/projects/1/locations/global/p"
    assert creds["service_account_impersonation_url"].endswith(
        "/serviceAccounts/r@x.iam:generateAccessToken"
    )
    assert creds["credential_source"] == {"file": "/var/run/secrets/llm-platform/cloud-token/token"}


def _budget_args(**given) -> BudgetArgs:
    return BudgetArgs(**{
        "billing_account": "01ABCD-23EF45-6789AB", "project": "acme-llm-prod",
        "region": "us-central1", "budget_name": "llm-prod", "environment": "prod",
        "labels": {}, **given})


def test_the_budget_rules_are_fractions_of_the_budget_plus_a_forecast_rule():
    args = _budget_args(monthly_usd=1234.6, thresholds_pct=(50, 80, 120),
                        notify_emails=("finops@example.com",))
    rules = budget.budget(args, "topic", ["channel-1"])
    assert [(r.threshold_percent, r.spend_basis) for r in rules["threshold_rules"]] == [
        (0.5, None),
        (0.8, None),
        (1.2, None),
        (1.0, "FORECASTED_SPEND"),
    ]
    # Whole dollars, rounded.
    assert rules["amount"].specified_amount.units == "1235"
    assert rules["budget_filter"].labels == {"environment": "prod"}
    assert rules["all_updates_rule"].monitoring_notification_channels == ["channel-1"]
    channel = budget.email_channel(args, "finops@example.com")
    assert channel["labels"] == {"email_address": "finops@example.com"}


def test_the_node_subnet_has_the_pod_and_service_ranges_gke_names():
    subnet = network.subnet(NetworkArgs("us-central1", "10.50.0.0/20", "10.64.0.0/14",
                                        "10.68.0.0/20"), "vpc")
    assert subnet["private_ip_google_access"] is True
    assert [(r.range_name, r.ip_cidr_range) for r in subnet["secondary_ip_ranges"]] == [
        ("pods", "10.64.0.0/14"),
        ("services", "10.68.0.0/20"),
    ]


def test_each_tunnel_has_its_own_bgp_link():
    assert vpn.link_addresses(0) == ("169.254.0.1/30", "169.254.0.2")
    assert vpn.link_addresses(1) == ("169.254.1.1/30", "169.254.1.2")


def test_resolve_turns_the_gcp_example_into_narrow_args():
    args = resolve.foundation_args(load_spec(stack_spec("gcp")), {})
    train = args.pools["train"]
    # stacks/Pulumi.gcp.yaml: a Spot a2-ultragpu-1g pool of 0-4 nodes, 200 node-hours.
    assert (train.spot, train.machine_type, train.accelerator) == (
        True,
        "a2-ultragpu-1g",
        "nvidia-a100-80gb",
    )
    assert (train.min_nodes, train.max_nodes, train.zones) == (
        0,
        4,
        ("us-central1-a", "us-central1-c"),
    )
    assert train.labels["llm-platform-node-hours"] == "200"
    assert [(t.key, t.effect) for t in train.taints] == [("nvidia.com/gpu", "NoSchedule")]
    assert args.cluster.authorized_networks == ()
    assert args.artifacts.federation is None
    assert args.artifacts.location == "US-CENTRAL1"
    assert args.vpn is None


def test_gcp_labels_are_lowercase():
    assert resolve.labels({"team": "ML-Platform"}, extra="X") == {"team": "ml-platform", "extra": "x"}


def test_the_artifacts_bucket_logs_every_request_to_a_private_expiring_log_bucket():
    args = _bucket(labels={"team": "ml", pricing.EXPECTED_GIB_TAG: "500"})
    # The artifacts bucket names the log bucket by its plain name.
    assert artifacts.bucket(args)["logging"].log_bucket == "acme-llm-prod-llm-prod-artifacts-logs"
    logs = artifacts.log_bucket(args)
    assert logs["name"] == "acme-llm-prod-llm-prod-artifacts-logs"
    assert logs["location"] == "US-CENTRAL1"
    assert (logs["public_access_prevention"], logs["uniform_bucket_level_access"]) == (
        "enforced",
        True,
    )
    assert logs["versioning"].enabled is True
    live, deleted = (r.condition for r in logs["lifecycle_rules"])
    # Logs go after 90 days; a deleted or replaced log survives 7 more as a noncurrent version.
    assert (live.age, live.with_state) == (90, None)
    assert (deleted.days_since_noncurrent_time, deleted.with_state) == (7, "ARCHIVED")
    # Priced at 1 GiB, not at the artifacts' 500.
    assert logs["labels"] == {"team": "ml", pricing.EXPECTED_GIB_TAG: "1"}
    # Cloud Storage delivers logs as its analytics group, which may only create objects.
    assert (artifacts.LOG_WRITER, artifacts.LOG_WRITER_ROLE) == (
        "group:cloud-storage-analytics@google.com",
        "roles/storage.objectCreator",
    )


def test_a_long_bucket_name_still_leaves_room_for_its_log_bucket():
    # 63 characters, GCS's limit: the log bucket's name is cut (with a hash), not refused.
    name = "acme-llm-prod-" + "x" * 39 + "-artifacts"
    logs = artifacts.log_bucket_name(name)
    assert len(name) == 63 and len(logs) <= 63 and logs.endswith("-logs")
    assert logs != name


def test_the_budget_topic_is_encrypted_with_its_key_and_stored_in_the_keys_region():
    args = _budget_args(monthly_usd=100, thresholds_pct=(50,), labels={"team": "ml"})
    topic = budget.topic(args, "projects/p/locations/us-central1/keyRings/llm-prod/cryptoKeys/k")
    assert topic["kms_key_name"].endswith("/locations/us-central1/keyRings/llm-prod/cryptoKeys/k")
    assert topic["message_storage_policy"].allowed_persistence_regions == ["us-central1"]
    assert topic["name"] == "llm-prod-budget"
    # The key is for Pub/Sub's service agent of the project, not for Cloud Billing.
    assert budget.pubsub_service_agent("123") == (
        "serviceAccount:service-123@gcp-sa-pubsub.iam.gserviceaccount.com"
    )


def test_dataplane_v2_enforces_network_policy_and_pods_on_one_node_go_through_the_vpc():
    gke = cluster.cluster(_cluster(), "vpc", "subnet", "key")
    # The legacy Calico add-on stays off: Dataplane V2 enforces NetworkPolicy itself.
    assert (gke["datapath_provider"], gke["network_policy"].enabled) == ("ADVANCED_DATAPATH", False)
    assert gke["enable_intranode_visibility"] is True


def test_the_default_pool_runs_shielded_with_the_gke_metadata_server_while_it_lives():
    gke = cluster.cluster(_cluster(), "vpc", "subnet", "key")
    assert gke["remove_default_node_pool"] is True
    config = gke["node_config"]
    assert config.workload_metadata_config.mode == "GKE_METADATA"
    assert config.shielded_instance_config.enable_secure_boot is True


def test_the_network_denies_and_logs_ingress_that_no_gke_rule_allows():
    rule = network.deny_ingress("vpc")
    assert (rule["direction"], rule["source_ranges"]) == ("INGRESS", ["0.0.0.0/0"])
    assert [d.protocol for d in rule["denies"]] == ["all"]
    assert "allows" not in rule
    # Below GKE's allow rules (priority 1000: a lower number wins), above the implied deny.
    assert 1000 < rule["priority"] < 65535
    assert rule["log_config"].metadata == "EXCLUDE_ALL_METADATA"


def test_each_skip_has_a_reason_and_matches_a_resource_of_the_gcp_stack():
    assert scan.problems(scanner.SKIPS) == []
    names = {
        scanner.BUCKET: "gcp-gcp-artifacts-logs",
        scanner.GKE_CLUSTER: "gcp-gcp-cluster-gke",
    }
    for skip in scanner.SKIPS:
        assert skip.applies(skip.type, names[skip.type])
    # The artifacts bucket itself is not skipped: it logs.
    assert not any(s.applies(scanner.BUCKET, "gcp-gcp-artifacts-bucket") for s in scanner.SKIPS)
