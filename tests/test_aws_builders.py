"""The AWS package's builders and its resolve step, called directly with hand-made narrow Args
(or a stack's spec), without Pulumi's mock monitor: each expected value is worked out here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT, stack_spec

from components.aws import bucket, budget_config, control_plane, iam_documents, nodes, subnets
from components.aws.args import (
    ArtifactBucketArgs,
    AutoscalerPins,
    BudgetArgs,
    ClusterArgs,
    EnforcerArgs,
    NetworkArgs,
    NodeGroupArgs,
    VpnArgs,
)
from components.aws.resolve import foundation_args
from components.aws.vpn import connection
from components.kubernetes.facts import Taint
from components.spec import load_spec

GPU_TAINT = Taint(key="nvidia.com/gpu", effect="NoSchedule", value="present")
TAGS = {"team": "ml", "environment": "dev"}


def spot_pool(**changes) -> NodeGroupArgs:
    fields = dict(
        instance_types=("g6e.xlarge", "g6e.2xlarge"),
        min_size=0,
        max_size=4,
        desired_size=0,
        labels={"llm-platform.dev/pool": "train"},
        gpu=True,
        capacity_type="SPOT",
        taints=(GPU_TAINT,),
        tags=TAGS,
    )
    return NodeGroupArgs(**{**fields, **changes})


# -- node groups ---------------------------------------------------------------------------
def test_a_spot_gpu_pool_scales_from_zero_to_its_max_on_the_nvidia_ami_with_the_gpu_taint():
    group = nodes.node_group(spot_pool())
    assert group["ami_type"] == "AL2023_x86_64_NVIDIA"
    assert group["capacity_type"] == "SPOT"
    assert group["instance_types"] == ["g6e.xlarge", "g6e.2xlarge"]
    scaling = group["scaling_config"]
    assert (scaling.min_size, scaling.max_size, scaling.desired_size) == (0, 4, 0)
    (taint,) = group["taints"]
    assert (taint.key, taint.value, taint.effect) == ("nvidia.com/gpu", "present", "NO_SCHEDULE")
    assert group["update_config"].max_unavailable == 1
    assert group["labels"] == {"llm-platform.dev/pool": "train"}


def test_a_cpu_group_without_taints_sends_none_on_the_standard_ami():
    system = spot_pool(gpu=False, capacity_type="ON_DEMAND", taints=(), min_size=2, max_size=2)
    group = nodes.node_group(system)
    # EKS treats an empty taint list as "remove every taint"; None leaves the field out.
    assert group["taints"] is None
    assert group["ami_type"] == "AL2023_x86_64_STANDARD"
    assert group["capacity_type"] == "ON_DEMAND"


def test_taint_effects_are_spelled_in_the_eks_enum():
    taints = (
        Taint(key="a", effect="NoExecute", value="x"),
        Taint(key="b", effect="PreferNoSchedule"),
    )
    spelled = [(t.key, t.value, t.effect) for t in nodes.eks_taints(taints)]
    assert spelled == [("a", "x", "NO_EXECUTE"), ("b", None, "PREFER_NO_SCHEDULE")]


def test_launch_template_requires_imdsv2_one_hop_and_encrypts_a_root_sized_for_the_ami():
    gpu = nodes.launch_template(spot_pool())
    meta = gpu["metadata_options"]
    assert (meta.http_tokens, meta.http_put_response_hop_limit) == ("required", 1)
    (disk,) = gpu["block_device_mappings"]
    assert disk.device_name == "/dev/xvda"
    assert (disk.ebs.volume_size, disk.ebs.encrypted, disk.ebs.volume_type) == (200, "true", "gp3")
    assert [(s.resource_type, s.tags) for s in gpu["tag_specifications"]] == [
        ("instance", TAGS),
        ("volume", TAGS),
    ]
    cpu = nodes.launch_template(spot_pool(gpu=False))
    assert cpu["block_device_mappings"][0].ebs.volume_size == 50


# -- network -------------------------------------------------------------------------------
def network(**changes) -> NetworkArgs:
    fields = dict(
        cluster_name="llm-dev",
        zones=("eu-west-1a", "eu-west-1b", "eu-west-1c"),
        region="eu-west-1",
        account_id="111122223333",
    )
    return NetworkArgs(**{**fields, **changes})


def test_a_slash_16_gets_three_slash_20_public_and_three_slash_18_private_subnets():
    layouts = subnets.zone_layouts(network(cidr="10.40.0.0/16"))
    # Public: the first three /20s (4096 addresses each). Private: the /18 blocks after the
    # first (10.40.0.0/18 holds the public ones), 16384 addresses each.
    assert [(z.zone, z.public_cidr, z.private_cidr) for z in layouts] == [
        ("eu-west-1a", "10.40.0.0/20", "10.40.64.0/18"),
        ("eu-west-1b", "10.40.16.0/20", "10.40.128.0/18"),
        ("eu-west-1c", "10.40.32.0/20", "10.40.192.0/18"),
    ]


def test_a_slash_24_gets_slash_28_public_and_slash_26_private_subnets():
    layouts = subnets.zone_layouts(network(cidr="10.0.7.0/24"))
    assert [(z.public_cidr, z.private_cidr) for z in layouts] == [
        ("10.0.7.0/28", "10.0.7.64/26"),
        ("10.0.7.16/28", "10.0.7.128/26"),
        ("10.0.7.32/28", "10.0.7.192/26"),
    ]


def test_nat_per_zone_or_one_in_the_first_zone_that_every_zone_routes_through():
    per_az = subnets.zone_layouts(network(nat="per-az"))
    assert [(z.nat, z.nat_zone) for z in per_az] == [
        (True, "eu-west-1a"), (True, "eu-west-1b"), (True, "eu-west-1c")]
    single = subnets.zone_layouts(network(nat="single"))
    assert [(z.nat, z.nat_zone) for z in single] == [
        (True, "eu-west-1a"), (False, "eu-west-1a"), (False, "eu-west-1a")]


def test_subnets_are_shared_with_the_cluster_and_marked_for_their_load_balancers():
    args = network(tags=TAGS)
    public = subnets.subnet_tags(args, "dev-public-eu-west-1a", public=True)
    assert public == {
        "team": "ml",
        "environment": "dev",
        "kubernetes.io/cluster/llm-dev": "shared",
        "Name": "dev-public-eu-west-1a",
        "kubernetes.io/role/elb": "1",
    }
    private = subnets.subnet_tags(args, "dev-private-eu-west-1a", public=False)
    assert private["kubernetes.io/role/internal-elb"] == "1"
    assert "kubernetes.io/role/elb" not in private


# -- cluster -------------------------------------------------------------------------------
def cluster(**changes) -> ClusterArgs:
    fields = dict(
        cluster_name="llm-dev",
        region="eu-west-1",
        version="1.35",
        autoscaler=AutoscalerPins(chart="9.59.0", image="v1.35.2"),
        namespace="llm-dev",
        account_id="111122223333",
    )
    return ClusterArgs(**{**fields, **changes})


def test_the_api_endpoint_is_private_unless_cidrs_are_given():
    private = control_plane.eks_cluster(cluster(), ["subnet-1"], "arn:key")["vpc_config"]
    assert private.endpoint_private_access is True
    assert private.endpoint_public_access is False
    assert private.public_access_cidrs is None
    opened = control_plane.eks_cluster(
        cluster(public_endpoint_cidrs=("198.51.100.0/24",)), ["subnet-1"], "arn:key"
    )["vpc_config"]
    assert opened.endpoint_public_access is True
    assert opened.public_access_cidrs == ["198.51.100.0/24"]


def test_the_cluster_logs_everything_encrypts_secrets_and_pays_for_extended_support_only_on_request():
    eks = control_plane.eks_cluster(cluster(), ["subnet-1"], "arn:aws:kms:key/1")
    assert set(eks["enabled_cluster_log_types"]) == {
        "api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert eks["encryption_config"].resources == ["secrets"]
    assert eks["encryption_config"].provider.key_arn == "arn:aws:kms:key/1"
    assert eks["upgrade_policy"].support_type == "STANDARD"
    extended = control_plane.eks_cluster(cluster(extended_support=True), [], "k")
    assert extended["upgrade_policy"].support_type == "EXTENDED"


def test_the_autoscaler_runs_the_pinned_image_non_root_and_waits_for_slow_gpu_nodes():
    values = control_plane.autoscaler_values(cluster(), "llm-dev")
    assert values["image"] == {"tag": "v1.35.2"}
    assert values["awsRegion"] == "eu-west-1"
    assert values["autoDiscovery"] == {"clusterName": "llm-dev"}
    assert values["extraArgs"]["max-node-provision-time"] == "25m"
    assert values["securityContext"]["runAsNonRoot"] is True
    assert values["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_default_storage_class_is_encrypted_gp3_bound_where_the_pod_lands():
    sc = control_plane.storage_class(cluster(storage_class_labels={"app": "x"}))
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert sc["volume_binding_mode"] == "WaitForFirstConsumer"
    assert sc["metadata"].annotations == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert sc["metadata"].labels == {"app": "x"}


# -- artifact bucket -----------------------------------------------------------------------
def artifacts(**changes) -> ArtifactBucketArgs:
    fields = dict(
        bucket_name="llm-dev-artifacts",
        region="eu-west-1",
        namespace="llm-dev",
        expected_gib=10,
        account_id="111122223333",
        access_log_bucket_name="llm-dev-access-logs",
    )
    return ArtifactBucketArgs(**{**fields, **changes})


def test_the_access_log_bucket_takes_tls_only_and_s3_log_delivery_for_the_one_source():
    policy = iam_documents.access_log_bucket_policy(
        "arn:aws:s3:::logs", "arn:aws:s3:::b", "111122223333")
    deny, deliver = policy["Statement"]
    assert deny == iam_documents.tls_only_bucket_policy("arn:aws:s3:::logs")["Statement"][0]
    assert deliver["Effect"] == "Allow" and deliver["Action"] == "s3:PutObject"
    # ACLs are disabled, so the logging service principal is the only way in (S3 User Guide).
    assert deliver["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert deliver["Resource"] == "arn:aws:s3:::logs/artifacts/*"
    assert deliver["Condition"] == {
        "ArnLike": {"aws:SourceArn": "arn:aws:s3:::b"},
        "StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_access_logs_use_sse_s3_and_expire_after_the_log_retention():
    (rule,) = bucket.access_log_encryption_rules()
    # A log target takes SSE-S3 only; a KMS key here would stop delivery.
    assert rule.apply_server_side_encryption_by_default.sse_algorithm == "AES256"
    assert rule.apply_server_side_encryption_by_default.kms_master_key_id is None
    (expire,) = bucket.access_log_lifecycle_rules(
        artifacts(access_log_days=400, noncurrent_version_days=45))
    assert expire.status == "Enabled" and expire.filter.prefix == ""
    assert expire.expiration.days == 400
    assert expire.noncurrent_version_expiration.noncurrent_days == 45
    assert expire.abort_incomplete_multipart_upload.days_after_initiation == 7


def test_the_bucket_policy_denies_every_request_not_over_tls():
    (deny,) = iam_documents.tls_only_bucket_policy("arn:aws:s3:::b")["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lifecycle_expires_old_versions_stale_uploads_and_checkpoints_but_not_weights():
    rules = {r.id: r for r in bucket.lifecycle_rules(artifacts(noncurrent_version_days=45, checkpoint_days=10))}
    versions, checkpoints = rules["expire-noncurrent-versions"], rules["expire-checkpoints"]
    assert versions.filter.prefix == ""  # every object's old versions
    assert versions.noncurrent_version_expiration.noncurrent_days == 45
    assert versions.abort_incomplete_multipart_upload.days_after_initiation == 7
    assert versions.expiration is None  # current objects, weights among them, stay
    assert checkpoints.filter.prefix == "checkpoints/"
    assert checkpoints.expiration.days == 10
    assert {r.status for r in rules.values()} == {"Enabled"}


def test_the_bucket_blocks_public_access_and_encrypts_with_its_kms_key():
    assert bucket.public_access_block() == {
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }
    (rule,) = bucket.encryption_rules("arn:aws:kms:key/9")
    default = rule.apply_server_side_encryption_by_default
    assert (default.sse_algorithm, default.kms_master_key_id) == ("aws:kms", "arn:aws:kms:key/9")
    assert rule.bucket_key_enabled is True


def test_model_servers_may_list_read_and_decrypt_models_only():
    policy = iam_documents.read_models_policy("arn:aws:s3:::b", "arn:aws:kms:key/9")
    actions = {(s["Action"], str(s["Resource"])) for s in policy["Statement"]}
    assert actions == {
        ("s3:ListBucket", "arn:aws:s3:::b"),
        ("s3:GetObject", "arn:aws:s3:::b/models/*"),
        ("kms:Decrypt", "arn:aws:kms:key/9"),
    }
    listing, _, decrypt = policy["Statement"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/*"]}}
    assert decrypt["Condition"] == {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}


def test_the_on_prem_issuer_is_trusted_for_one_subject_and_the_sts_audience():
    (trust,) = iam_documents.web_identity_trust(
        "arn:oidc", "https://oidc.example.com/c1", "system:serviceaccount:ns:reader", "sts.amazonaws.com"
    )["Statement"]
    assert trust["Principal"] == {"Federated": "arn:oidc"}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {"StringEquals": {
        "oidc.example.com/c1:sub": "system:serviceaccount:ns:reader",
        "oidc.example.com/c1:aud": "sts.amazonaws.com",
    }}


def test_a_pod_outside_aws_finds_its_role_token_and_region():
    env = bucket.web_identity_env("arn:role", "eu-west-1")
    assert env == {
        "AWS_ROLE_ARN": "arn:role",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/llm-platform/cloud-token/token",
        "AWS_REGION": "eu-west-1",
    }
    assert bucket.rclone_env("eu-west-1")["RCLONE_CONFIG_ARTIFACTS_REGION"] == "eu-west-1"


def test_the_autoscaler_may_resize_only_groups_this_cluster_owns():
    describe, nodegroups, resize = iam_documents.autoscaler_policy(
        "llm-dev", "us-east-1", "111122223333")["Statement"]
    assert "autoscaling:SetDesiredCapacity" not in describe["Action"]
    # CKV_AWS_355: the one describe action that takes an ARN names this cluster's node groups
    # (nodegroup/<cluster>/<name>/<uuid>), not "*".
    assert "eks:DescribeNodegroup" not in describe["Action"]
    assert nodegroups["Action"] == ["eks:DescribeNodegroup"]
    assert nodegroups["Resource"] == "arn:aws:eks:us-east-1:111122223333:nodegroup/llm-dev/*"
    assert set(resize["Action"]) == {
        "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
    assert resize["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/llm-dev": "owned"}}


# -- budget --------------------------------------------------------------------------------
def budget(**changes) -> BudgetArgs:
    fields = dict(
        budget_name="llm-dev",
        account_id="111122223333",
        environment="dev",
        monthly_usd=2500.5,
        thresholds_pct=(50, 80, 100, 120),
        notify_emails=("finops@example.com",),
    )
    return BudgetArgs(**{**fields, **changes})


def test_the_budget_notifies_actual_spend_at_each_threshold_and_a_forecast_at_100():
    made = budget_config.budget(budget(), "arn:topic")
    assert made["limit_amount"] == "2500.50" and made["limit_unit"] == "USD"
    assert made["time_unit"] == "MONTHLY"
    (tag_filter,) = made["cost_filters"]
    assert (tag_filter.name, tag_filter.values) == ("TagKeyValue", ["user:environment$dev"])
    sent = [(n.notification_type, n.threshold) for n in made["notifications"]]
    assert sent == [("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("ACTUAL", 120), ("FORECASTED", 100)]
    for n in made["notifications"]:
        assert n.subscriber_sns_topic_arns == ["arn:topic"]
        assert n.subscriber_email_addresses == ["finops@example.com"]
        assert (n.comparison_operator, n.threshold_type) == ("GREATER_THAN", "PERCENTAGE")


def test_the_enforcer_reads_its_cap_in_dollars_and_cents():
    enforcer = EnforcerArgs(
        function_name="llm-dev-enforcer",
        cluster_name="llm-dev",
        environment="dev",
        region="eu-west-1",
        account_id="111122223333",
        hard_cap_usd=3000.6,
        state_prefix="/llm-platform/dev/budget-enforcer",
    )
    assert budget_config.enforcer_environment(enforcer, "llm-dev") == {
        "CLUSTER_NAME": "llm-dev",
        "ENVIRONMENT": "dev",
        "BUDGET_NAME": "llm-dev",
        "HARD_CAP_USD": "3000.60",
        "STATE_PREFIX": "/llm-platform/dev/budget-enforcer",
    }


def test_only_this_accounts_budgets_may_publish_and_use_the_topic_key():
    key = iam_documents.budget_key_policy("111122223333")["Statement"]
    publish = iam_documents.budget_topic_policy("arn:topic", "111122223333")["Statement"]
    budgets = [s for s in key + publish if s.get("Principal") == {"Service": "budgets.amazonaws.com"}]
    assert len(budgets) == 2
    for st in budgets:
        assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    assert budgets[0]["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert (budgets[1]["Action"], budgets[1]["Resource"]) == ("SNS:Publish", "arn:topic")


def test_the_vpn_speaks_ikev2_on_both_tunnels_and_learns_routes_by_bgp():
    made = connection(VpnArgs(peer_ip="203.0.113.10", shared_key="k"))
    assert made["tunnel1_ike_versions"] == made["tunnel2_ike_versions"] == ["ikev2"]
    assert made["static_routes_only"] is False and made["type"] == "ipsec.1"


# -- resolve -------------------------------------------------------------------------------
def test_resolve_gives_the_aws_stacks_pools_their_capacity_bounds_and_cost_tags():
    args = foundation_args(load_spec(stack_spec("aws")), {})
    train = args.gpu_pools["train"]
    assert train.capacity_type == "SPOT" and train.gpu is True
    assert train.instance_types == ("g6e.xlarge", "g6e.2xlarge")
    # No model serves from the training pool, so it starts at its floor of 0 nodes.
    assert (train.min_size, train.max_size, train.desired_size) == (0, 4, 0)
    assert train.taints == (GPU_TAINT,)
    assert train.tags["llm-platform-node-hours"] == "200"  # the spec's node_hours_per_month
    assert (train.tags["llm-platform-pool"], train.tags["llm-platform-purpose"]) == ("train", "training")
    l40s = args.gpu_pools["l40s"]
    assert l40s.capacity_type == "ON_DEMAND" and (l40s.min_size, l40s.max_size) == (1, 3)
    # Inference pools bill their steady nodes all month.
    assert l40s.tags["llm-platform-node-hours"] == str(l40s.desired_size * 730)
    system = args.system_nodes
    assert system.instance_types == ("m6i.xlarge",) and not system.gpu and system.taints == ()
    assert (system.min_size, system.max_size, system.desired_size) == (2, 2, 2)
    assert system.tags["llm-platform-node-hours"] == str(2 * 730)


def test_resolve_sets_the_aws_stacks_cap_bucket_and_cluster():
    args = foundation_args(load_spec(stack_spec("aws")), {})
    # hard_cap_pct 110 joins the alert thresholds [50, 80, 100]; 110% of $6000 is $6600.
    assert args.budget.thresholds_pct == (50, 80, 100, 110)
    assert args.budget.enforcer is not None and args.budget.enforcer.hard_cap_usd == pytest.approx(6600)
    assert args.budget.enforcer.state_prefix == "/llm-platform/aws/budget-enforcer"
    assert args.bucket.bucket_name == "llm-aws-artifacts-123456789012"
    # Its access logs: a bucket of their own, kept as long as the spec keeps logs (a year).
    assert args.bucket.access_log_bucket_name == "llm-aws-access-logs-123456789012"
    assert args.bucket.access_log_days == 365
    assert args.bucket.onprem_oidc_issuer is None and args.bucket.expected_gib == 500
    assert args.network.nat == "per-az"
    assert args.network.zones == ("us-east-1a", "us-east-1b", "us-east-1c")
    assert args.cluster.public_endpoint_cidrs == () and args.cluster.version == "1.35"
    # The autoscaler's minor version matches the control plane's.
    assert args.cluster.autoscaler.image.startswith("v1.35.")
    assert args.vpn is None


def test_resolve_gives_a_hybrid_a_vpn_with_its_secret_and_a_bucket_trusting_on_prem():
    args = foundation_args(load_spec(stack_spec("hybrid")), {"vpnSharedKey": "s3cret"})
    assert args.vpn is not None
    assert (args.vpn.peer_ip, args.vpn.shared_key) == ("203.0.113.10", "s3cret")
    assert args.bucket.onprem_oidc_issuer == "https://oidc.onprem.example.com/cluster-1"
    assert args.network.nat == "single"
    # Inference stays on prem: the cloud gets the training pools only.
    assert all(p.tags["llm-platform-purpose"] == "training" for p in args.gpu_pools.values())
    assert "l40s" not in args.gpu_pools and set(args.scheduling) == set(args.gpu_pools)
    # The default hard cap, 100% of $4000, is already an alert threshold: no fourth one.
    assert args.budget.thresholds_pct == (50, 80, 100)
    assert args.budget.enforcer is not None and args.budget.enforcer.hard_cap_usd == pytest.approx(4000)


def test_no_module_that_builds_aws_resources_reads_the_spec():
    """Only resolve.py turns the spec into Args; everything that creates or describes a
    resource takes those Args."""
    offenders = []
    for path in sorted((ROOT / "components" / "aws").glob("*.py")):
        tree = ast.parse(path.read_text())
        imports = {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        builds = "pulumi_aws" in imports or "pulumi" in imports
        if builds and path.name != "resolve.py" and any(m.startswith("components.spec") for m in imports):
            offenders.append(Path(path).name)
    assert offenders == []


def test_a_hybrid_over_an_existing_link_gets_no_vpn_and_needs_no_key():
    raw = stack_spec("hybrid")
    raw["hybrid"]["connectivity"] = {
        "kind": "existing", "name": "Direct Connect, 10 Gbps", "onprem_cidrs": ["10.0.0.0/16"]}
    args = foundation_args(load_spec(raw), {})
    assert args.vpn is None
    assert args.bucket.onprem_oidc_issuer == "https://oidc.onprem.example.com/cluster-1"


# -- what an IaC scanner checks (issue 19) -------------------------------------------------
def enforcer_args() -> EnforcerArgs:
    return EnforcerArgs(
        function_name="llm-dev-enforcer",
        cluster_name="llm-dev",
        environment="dev",
        region="eu-west-1",
        account_id="111122223333",
        hard_cap_usd=3000.0,
        state_prefix="/llm-platform/dev/budget-enforcer",
    )


def test_the_enforcers_small_logs_stay_a_year_even_when_the_spec_keeps_logs_shorter():
    # CKV_AWS_338: at least 365 days; a longer spec retention (731) carries over.
    def days(n: int) -> int:
        return budget_config.enforcer_log_retention(
            EnforcerArgs(**{**enforcer_args().__dict__, "log_retention_days": n}))
    assert days(30) == 365 and days(365) == 365 and days(731) == 731


def test_a_spec_without_log_retention_keeps_cluster_and_flow_logs_a_year():
    # CKV_AWS_338: the spec's default is the audit year, for the large logs too.
    env = load_spec(stack_spec("aws"))
    assert "log_retention_days" not in stack_spec("aws")["aws"]
    args = foundation_args(env, {})
    assert args.cluster.log_retention_days == 365
    assert args.network.flow_log_retention_days == 365
    assert args.budget.enforcer is not None
    assert budget_config.enforcer_log_retention(args.budget.enforcer) == 365


def statements_for(policy: dict, principal: dict) -> list[dict]:
    return [s for s in policy["Statement"] if s["Principal"] == principal]


def test_a_key_policy_is_the_account_as_administrator_plus_only_the_grants_given():
    # CKV2_AWS_64: an explicit policy; the account root administers, as AWS's default does.
    logs = iam_documents.logs_may_use_key("eu-west-1", "111122223333", ["/aws/eks/llm-dev/cluster"])
    policy = iam_documents.key_policy("111122223333", logs)
    root, grant = policy["Statement"]
    assert root["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert (root["Action"], root["Resource"]) == ("kms:*", "*")
    assert grant is logs
    assert iam_documents.key_policy("111122223333")["Statement"] == [root]


def test_cloudwatch_logs_of_the_region_may_use_a_key_for_the_named_log_groups_only():
    made = iam_documents.logs_may_use_key("eu-west-1", "111122223333", ["/aws/lambda/f", "/x"])
    assert made["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert made["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": [
                "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/f",
                "arn:aws:logs:eu-west-1:111122223333:log-group:/x",
            ]
        }
    }
    assert "kms:GenerateDataKey*" in made["Action"] and "kms:Decrypt*" in made["Action"]
    assert not any(a.startswith(("kms:Put", "kms:Create", "kms:Schedule")) for a in made["Action"])


def test_with_a_hard_cap_the_budget_key_serves_budgets_the_lambdas_logs_and_the_alarm():
    policy = iam_documents.budget_key_policy("111122223333", ("eu-west-1", "/aws/lambda/llm-dev-enforcer"))
    (logs,) = statements_for(policy, {"Service": "logs.eu-west-1.amazonaws.com"})
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == [
        "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/llm-dev-enforcer"
    ]
    (alarms,) = statements_for(policy, {"Service": "cloudwatch.amazonaws.com"})
    assert alarms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert len(statements_for(policy, {"Service": "budgets.amazonaws.com"})) == 1
    # Without a cap nothing but the account and Budgets may use the key.
    bare = iam_documents.budget_key_policy("111122223333")
    assert [s["Sid"] for s in bare["Statement"]] == ["AccountAdministers", "BudgetsPublishes"]
    topic = iam_documents.budget_topic_policy("arn:topic", "111122223333", "eu-west-1")
    (publish,) = statements_for(topic, {"Service": "cloudwatch.amazonaws.com"})
    assert (publish["Action"], publish["Resource"]) == ("SNS:Publish", "arn:topic")
    assert publish["Condition"] == {
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:*"}
    }


def test_a_failed_cap_waits_two_weeks_on_an_encrypted_queue_and_one_message_alarms():
    queue = budget_config.dead_letter_queue(enforcer_args(), "arn:key")
    assert queue["name"] == "llm-dev-enforcer-dlq"
    assert queue["kms_master_key_id"] == "arn:key"
    assert queue["message_retention_seconds"] == 14 * 86400 == 1_209_600  # SQS's maximum
    alarm = budget_config.dead_letter_alarm("llm-dev-enforcer-dlq", "arn:topic")
    assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["dimensions"] == {"QueueName": "llm-dev-enforcer-dlq"}
    assert (alarm["comparison_operator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["alarm_actions"] == ["arn:topic"]
    assert budget_config.enforcer_log_group(enforcer_args()) == "/aws/lambda/llm-dev-enforcer"


def test_the_enforcer_may_send_to_its_dead_letter_queue_and_nothing_more():
    send, key = iam_documents.send_dead_letters_policy("arn:queue", "arn:key")["Statement"]
    assert (send["Action"], send["Resource"]) == ("sqs:SendMessage", "arn:queue")
    assert (key["Action"], key["Resource"]) == (["kms:GenerateDataKey", "kms:Decrypt"], "arn:key")
    assert key["Condition"] == {"StringLike": {"kms:ViaService": "sqs.*.amazonaws.com"}}


def test_flow_logs_write_only_their_own_log_group():
    assert subnets.flow_log_group(network()) == "/aws/vpc-flow-logs/llm-dev"
    (st,) = iam_documents.flow_logs_policy("eu-west-1", "111122223333", "/aws/vpc-flow-logs/llm-dev")["Statement"]
    arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/vpc-flow-logs/llm-dev"
    assert st["Resource"] == [arn, f"{arn}:*"]
    assert "logs:CreateLogGroup" not in st["Action"]
    assert set(st["Action"]) >= {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_control_plane_logs_where_eks_writes_them():
    assert control_plane.log_group(cluster()) == "/aws/eks/llm-dev/cluster"
