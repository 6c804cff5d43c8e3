"""The azure package's builders, called with hand-made narrow Args (no spec, no Pulumi
mocks): what a user would see on the AKS cluster, its pools, the storage account and the
budget."""

from __future__ import annotations

import hashlib

from components.azure import agent_pool, artifacts, budget, cluster, ids, network, resolve, vpn
from components.azure.args import (
    AgentPoolArgs,
    ArtifactBucketArgs,
    BudgetArgs,
    ClusterArgs,
    VpnArgs,
)
from components.kubernetes.facts import Taint
from components.spec import load_spec
from tests.conftest import stack_spec

SUBSCRIPTION = "00000000-0000-4000-8000-000000000000"
GPU_TAINT = Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule")


def _pool(**overrides) -> AgentPoolArgs:
    args = dict(
        pool_name="train",
        vm_size="Standard_NC24ads_A100_v4",
        spot=True,
        min_nodes=0,
        max_nodes=4,
        steady_nodes=1,
        node_labels={"llm-platform.dev/pool": "train"},
        tags={"team": "ml"},
        taints=(GPU_TAINT,),
        spot_max_usd_per_hour=3.673,
    )
    return AgentPoolArgs(**{**args, **overrides})


def _cluster(**overrides) -> ClusterArgs:
    args = dict(
        cluster_name="llm-prod",
        location="eastus",
        subscription_id=SUBSCRIPTION,
        kubernetes_version="1.31",
        vault_name="llmprodabcdef12",
        system_vm_size="Standard_D4s_v5",
        system_nodes=2,
        namespace="llm-prod",
        tags={"team": "ml"},
    )
    return ClusterArgs(**{**args, **overrides})


def _bucket(**overrides) -> ArtifactBucketArgs:
    args = dict(
        account_name="llmprodabcdef12",
        location="eastus",
        subscription_id=SUBSCRIPTION,
        namespace="llm-prod",
        noncurrent_version_days=30,
        checkpoint_days=14,
        expected_gib=500,
        tags={"team": "ml"},
    )
    return ArtifactBucketArgs(**{**args, **overrides})


def test_a_spot_pool_is_evicted_by_deletion_under_its_max_price():
    pool = agent_pool.agent_pool(_pool(), "rg", "llm-prod", "subnet-1")
    assert pool["scale_set_priority"] == "Spot"
    assert pool["scale_set_eviction_policy"] == "Delete"
    assert pool["spot_max_price"] == 3.673
    assert (pool["enable_auto_scaling"], pool["min_count"], pool["max_count"]) == (True, 0, 4)
    assert pool["node_taints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert pool["mode"] == "User"


def test_an_on_demand_pool_has_no_eviction_policy_or_price():
    pool = agent_pool.agent_pool(_pool(spot=False), "rg", "c", "s")
    assert pool["scale_set_priority"] == "Regular"
    assert pool["scale_set_eviction_policy"] is None
    assert pool["spot_max_price"] is None


def test_only_spot_pools_carry_the_taint_aks_adds():
    assert agent_pool.implied_taints(False) == []
    [taint] = agent_pool.implied_taints(True)
    assert taint.toleration() == {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }


def test_the_cluster_is_private_entra_only_and_encrypts_secrets_with_our_key():
    aks = cluster.managed_cluster(_cluster(), "rg", "subnet", "identity-1", "https://kv/key/1")
    assert aks["api_server_access_profile"].enable_private_cluster is True
    assert aks["disable_local_accounts"] is True
    assert aks["aad_profile"].enable_azure_rbac is True
    # No admin groups given: none named, rather than an empty list.
    assert aks["aad_profile"].admin_group_object_ids is None
    kms = aks["security_profile"].azure_key_vault_kms
    assert (kms.enabled, kms.key_id) == (True, "https://kv/key/1")
    assert aks["security_profile"].workload_identity.enabled is True
    assert aks["oidc_issuer_profile"].enabled is True
    assert aks["network_profile"].network_policy == "cilium"
    assert aks["identity"].user_assigned_identities == ["identity-1"]


def test_admin_groups_become_cluster_admins():
    aks = cluster.managed_cluster(
        _cluster(admin_group_object_ids=("g-1",)), "rg", "s", "i", "k"
    )
    assert aks["aad_profile"].admin_group_object_ids == ["g-1"]


def test_the_system_pool_is_priced_at_its_nodes_all_month():
    pool = cluster.system_pool(_cluster(system_nodes=3), "subnet")
    assert (pool.mode, pool.count, pool.vm_size) == ("System", 3, "Standard_D4s_v5")
    # 3 nodes x 730 hours.
    assert pool.tags["llm-platform-node-hours"] == "2190"


def test_the_key_vault_keeps_deleted_keys_and_grants_by_rbac():
    props = cluster.vault(_cluster(), "rg", "tenant-1")["properties"]
    assert props.enable_purge_protection is True
    assert (props.enable_soft_delete, props.soft_delete_retention_in_days) == (True, 90)
    assert props.enable_rbac_authorization is True


def test_the_control_plane_may_use_the_key_and_manage_the_node_subnet():
    grants = cluster.control_plane_grants(_cluster(), "vault-1", "subnet-1")
    roles = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
    assert grants == [
        ("kms-user", "vault-1", roles + "12338af0-0e69-4776-bea7-57ae8d297424"),
        ("subnet", "subnet-1", roles + "4d97b98b-1d4f-4787-a291-c67834d212e7"),
    ]


def test_the_storage_account_denies_public_and_shared_key_access():
    account = artifacts.storage_account(_bucket(), "rg", "subnet-1")
    assert account["allow_blob_public_access"] is False
    assert account["allow_shared_key_access"] is False
    assert account["minimum_tls_version"] == "TLS1_2"
    assert account["enable_https_traffic_only"] is True
    rules = account["network_rule_set"]
    assert rules.default_action == "Deny"
    assert [r.virtual_network_resource_id for r in rules.virtual_network_rules] == ["subnet-1"]
    assert account["tags"] == {"team": "ml", "llm-platform-expected-gib": "500"}


def test_old_versions_and_old_checkpoints_are_deleted():
    versions, checkpoints = artifacts.lifecycle(_bucket()).rules
    assert versions.definition.filters.prefix_match == ["artifacts/"]
    assert versions.definition.actions.version.delete.days_after_creation_greater_than == 30
    assert checkpoints.definition.filters.prefix_match == ["artifacts/checkpoints/"]
    delete = checkpoints.definition.actions.base_blob.delete
    assert delete.days_after_modification_greater_than == 14


def test_the_reader_trusts_the_aks_issuer_unless_an_onprem_one_is_named():
    in_cluster = artifacts.federated_credential(_bucket(), "https://aks.example/issuer")
    assert in_cluster["issuer"] == "https://aks.example/issuer"
    assert in_cluster["subject"] == "system:serviceaccount:llm-prod:model-weights-reader"
    assert in_cluster["audiences"] == ["api://AzureADTokenExchange"]
    onprem = _bucket(onprem_issuer="https://oidc.onprem.example")
    assert artifacts.federated_credential(onprem, "unused")["issuer"] == (
        "https://oidc.onprem.example"
    )


def test_off_azure_the_pod_carries_what_the_webhook_would_inject():
    onprem = artifacts.workload_identity(True, "client-1", "tenant-1")
    assert onprem.env["AZURE_CLIENT_ID"] == "client-1"
    assert onprem.env["AZURE_FEDERATED_TOKEN_FILE"] == (
        "/var/run/secrets/llm-platform/cloud-token/token"
    )
    assert onprem.token_audience == "api://AzureADTokenExchange"
    in_aks = artifacts.workload_identity(False, "client-1", "tenant-1")
    assert in_aks.pod_labels == {"azure.workload.identity/use": "true"}
    assert in_aks.env == {}


def test_the_reader_role_is_blob_data_reader_limited_to_models():
    role = artifacts.reader_role(_bucket())
    assert role["role_definition_id"].endswith("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")
    assert "StringStartsWith 'models/'" in role["condition"]


def test_budget_notifications_at_each_threshold_and_on_the_forecast():
    args = BudgetArgs(
        budget_name="llm-prod",
        short_name="llmprod",
        subscription_id=SUBSCRIPTION,
        environment="prod",
        monthly_usd=5000,
        start_date="2026-12-01",
        thresholds_pct=(50, 80, 120),
        tags={},
        notify_emails=("finops@example.com",),
    )
    rules = budget.notifications(args, "group-1")
    assert {k: (n.threshold, n.threshold_type) for k, n in rules.items()} == {
        "actual-50": (50, "Actual"),
        "actual-80": (80, "Actual"),
        "actual-120": (120, "Actual"),
        "forecast-100": (100, "Forecasted"),
    }
    assert rules["actual-50"].contact_groups == ["group-1"]
    body = budget.budget(args, rules)
    assert body["scope"] == f"/subscriptions/{SUBSCRIPTION}"
    assert body["time_period"].start_date == "2026-12-01T00:00:00Z"
    assert body["filter"].tags.values == ["prod"]
    receivers = budget.action_group(args, "rg")["email_receivers"]
    assert [r.email_address for r in receivers] == ["finops@example.com"]


def test_the_nodes_get_the_first_quarter_and_the_gateway_the_last_27():
    assert network.subnet_cidrs("10.60.0.0/16") == ("10.60.0.0/18", "10.60.255.224/27")


def test_the_vpn_gateway_speaks_bgp_from_the_gateway_subnet():
    args = VpnArgs(
        location="eastus", peer_ip="203.0.113.10", onprem_cidrs=("10.10.0.0/16",),
        shared_key="k", tags={},
    )
    gw = vpn.gateway(args, "rg", "gateway-subnet", "ip-1")
    assert gw["enable_bgp"] is True
    assert gw["bgp_settings"].asn == 65515
    [config] = gw["ip_configurations"]
    assert (config.subnet.id, config.public_ip_address.id) == ("gateway-subnet", "ip-1")


def test_global_names_fit_and_differ_by_subscription():
    digest = hashlib.sha256(SUBSCRIPTION.encode()).hexdigest()
    name = ids.global_name("prod", SUBSCRIPTION)
    assert name.startswith("llmprod") and digest.startswith(name[len("llmprod"):])
    assert name != ids.global_name("prod", "11111111-0000-4000-8000-000000000000")
    assert 3 <= len(ids.global_name("a-very-long-environment-name", SUBSCRIPTION)) <= 24


def test_resolve_turns_the_azure_example_into_narrow_args():
    args = resolve.foundation_args(load_spec(stack_spec("azure")), {})
    train = args.pools["train"]
    # stacks/Pulumi.azure.yaml: a Spot Standard_NC24ads_A100_v4 pool of 0-4 nodes with no
    # max price of its own, so at most the catalog's on-demand price (3.673 USD/h).
    assert (train.spot, train.vm_size, train.spot_max_usd_per_hour) == (
        True,
        "Standard_NC24ads_A100_v4",
        3.673,
    )
    assert args.pools["a100"].spot_max_usd_per_hour is None
    assert args.scheduling["train"].taints[-1].key == "kubernetes.azure.com/scalesetpriority"
    assert [t.key for t in train.taints] == ["nvidia.com/gpu"]
    assert args.budget.thresholds_pct == (50, 80, 100)
    assert args.network.gateway_subnet is False and args.vpn is None
    assert args.artifacts.onprem_issuer is None


# -- what an IaC scanner checks (issue 19) -------------------------------------------------
def test_every_pool_allows_250_pods_and_encrypts_at_host():
    # CKV_AZURE_168 / CKV_AZURE_227: the GPU pools and the cluster's own system pool alike.
    gpu = agent_pool.agent_pool(_pool(), "rg", "llm-prod", "subnet-1")
    system = cluster.system_pool(_cluster(), "subnet-1")
    assert (gpu["max_pods"], gpu["enable_encryption_at_host"]) == (250, True)
    assert (system.max_pods, system.enable_encryption_at_host) == (250, True)


def test_the_secrets_key_lives_in_an_hsm_of_a_premium_vault():
    # CKV_AZURE_112: an HSM key type is refused by a standard vault, so both change together.
    props = cluster.secrets_key(_cluster(), "rg", "vault-1")["properties"]
    assert (props.kty, props.key_size) == ("RSA-HSM", 2048)
    assert cluster.vault(_cluster(), "rg", "tenant-1")["properties"].sku.name == "premium"
    # Never an expiry: the KMS plugin stops encrypting with an expired key.
    assert props.rotation_policy is None and props.attributes is None


def test_the_scanner_skips_are_well_formed_and_name_resources_the_stack_makes():
    from components.azure.scanner import SKIPS
    from components.scan import problems

    assert problems(SKIPS) == []
    made = {
        ("azure-native:containerservice:ManagedCluster", "azure-azure-cluster-aks"),
        ("azure-native:keyvault:Vault", "azure-azure-cluster-kms"),
        ("azure-native:keyvault:Key", "azure-azure-cluster-secrets"),
        ("azure-native:storage:StorageAccount", "azure-azure-artifacts-account"),
    }
    for skip in SKIPS:
        assert any(skip.applies(t, n) for t, n in made), skip
    # The pools are fixed, not skipped.
    assert not {s.check for s in SKIPS} & {"CKV_AZURE_168", "CKV_AZURE_227", "CKV_AZURE_112"}
