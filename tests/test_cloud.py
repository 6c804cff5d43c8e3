"""The cloud and hybrid foundations, read off the resources the real program registers
under Pulumi's mock monitor (through `llm-platform plan`), and their cost against a hand
calculation from the catalog's prices."""

from __future__ import annotations

import json
import re

import pytest
from conftest import stack_spec

from components import catalog
from components.catalog import versions
from components.spec import load_spec

CLOUD_STACKS = ["aws", "gcp", "azure", "hybrid"]


def _inputs(planned, type_: str) -> list[dict]:
    return [r["inputs"] for r in planned.resources(type_)]


def _k8s(planned, kind: str, name: str) -> dict:
    (obj,) = [m for m in planned.manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return obj


# -- AWS ---------------------------------------------------------------------------------
def test_aws_network_spans_three_zones_with_nat_per_zone(planned):
    aws = planned["aws"]
    subnets = _inputs(aws, "aws:ec2/subnet:Subnet")
    assert sorted({s["availabilityZone"] for s in subnets}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    private = [s for s in subnets if "kubernetes.io/role/internal-elb" in s["tags"]]
    assert len(private) == 3 and all(not s.get("mapPublicIpOnLaunch") for s in subnets)
    assert len(_inputs(aws, "aws:ec2/natGateway:NatGateway")) == 3
    # The hybrid stack asks for a single NAT gateway.
    assert len(_inputs(planned["hybrid"], "aws:ec2/natGateway:NatGateway")) == 1


def test_eks_endpoint_is_private_logged_and_encrypts_secrets_with_a_rotated_key(planned):
    aws = planned["aws"]
    (cluster,) = _inputs(aws, "aws:eks/cluster:Cluster")
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    assert set(cluster["enabledClusterLogTypes"]) == {
        "api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    secrets_key = aws.one("aws:kms/key:Key", "aws-aws-cluster-secrets")["inputs"]
    assert secrets_key["enableKeyRotation"] is True
    addons = {a["addonName"] for a in _inputs(aws, "aws:eks/addon:Addon")}
    assert {"eks-pod-identity-agent", "aws-ebs-csi-driver"} <= addons


def test_eks_node_groups_gpu_taints_spot_training_and_imdsv2(planned):
    aws = planned["aws"]
    groups = {r["name"]: r["inputs"] for r in aws.resources("aws:eks/nodeGroup:NodeGroup")}
    infer, train, system = groups["aws-aws-l40s-ng"], groups["aws-aws-train-ng"], groups["aws-aws-system-ng"]
    gpu_taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
    assert infer["amiType"] == train["amiType"] == "AL2023_x86_64_NVIDIA"
    assert infer["capacityType"] == "ON_DEMAND" and gpu_taint in infer["taints"]
    assert infer["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 1}
    assert train["capacityType"] == "SPOT" and gpu_taint in train["taints"]
    assert train["instanceTypes"] == ["g6e.xlarge", "g6e.2xlarge"]
    assert train["scalingConfig"]["minSize"] == 0
    assert "taints" not in system and system["amiType"] == "AL2023_x86_64_STANDARD"
    for template in _inputs(aws, "aws:ec2/launchTemplate:LaunchTemplate"):
        assert template["metadataOptions"]["httpTokens"] == "required"
        assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert template["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    assert len(_inputs(aws, "aws:ec2/launchTemplate:LaunchTemplate")) == len(groups)


def test_s3_bucket_is_private_versioned_kms_encrypted_with_lifecycle(planned):
    aws = planned["aws"]
    # The artifact bucket's guards (its access-log bucket's: tests/test_aws_scanner.py).
    def one(type_: str, name: str) -> dict:
        return aws.one(type_, f"aws-aws-artifacts-{name}")["inputs"]
    block = one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "public-access")
    assert all(block[k] is True for k in (
        "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    versioning = one("aws:s3/bucketVersioning:BucketVersioning", "versioning")
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    sse = one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "sse")
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    lifecycle = one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle")
    rules = {r["id"]: r for r in lifecycle["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    assert rules["expire-checkpoints"]["filter"]["prefix"] == "checkpoints/"
    policy = one("aws:s3/bucketPolicy:BucketPolicy", "tls-only")
    assert json.loads(policy["policy"])["Statement"][0]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}


def _pod_identity(aws, service_account: str) -> tuple[dict, str, list[dict]]:
    """The pod identity association for `service_account`, the URN of the role it hands
    out and that role's inline policies (linked through the plan's dependencies)."""
    (assoc,) = [a for a in aws.resources("aws:eks/podIdentityAssociation:PodIdentityAssociation")
                if a["inputs"]["serviceAccount"] == service_account]
    roles = {r["urn"] for r in aws.resources("aws:iam/role:Role")}
    (role,) = [d for d in assoc["dependencies"] if d in roles]
    policies = [json.loads(p["inputs"]["policy"]) for p in aws.resources("aws:iam/rolePolicy:RolePolicy")
                if role in p["dependencies"]]
    return assoc["inputs"], role, policies


def _actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_model_servers_read_only_models_through_pod_identity(planned):
    aws = planned["aws"]
    assoc, reader_role, (policy,) = _pod_identity(aws, "model-weights-reader")
    assert assoc["namespace"] == "llm-aws"
    actions = {s["Action"] for s in policy["Statement"]}
    assert actions == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    get = next(s for s in policy["Statement"] if s["Action"] == "s3:GetObject")
    assert get["Resource"].endswith("/models/*")
    # The gateway database's backups are written by a second role, bound to the service
    # account CloudNativePG runs the Cluster llm-gateway-db as (it is named after the
    # Cluster when the spec names none), and held to gateway-db/: never to models/.
    db = _k8s(aws, "Cluster", "llm-gateway-db")
    assert "serviceAccountName" not in db["spec"]
    writer, writer_role, (backups,) = _pod_identity(aws, "llm-gateway-db")
    assert writer["namespace"] == "llm-aws" and writer_role != reader_role
    objects = [s for s in backups["Statement"] if _actions(s) & {"s3:GetObject", "s3:PutObject"}]
    assert {"s3:GetObject", "s3:PutObject"} <= set().union(*map(_actions, objects))
    assert all(s["Resource"].endswith("/gateway-db/*") for s in objects)
    deployment = _k8s(aws, "Deployment", "assistant")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "model-weights-reader"
    assert pod["automountServiceAccountToken"] is False
    # The stack's pinned revision (stacks/Pulumi.aws.yaml), copied and then verified.
    revision = "0e9e39f249a16976918f6564b8830bc894c89659"
    fetch, verify = pod["initContainers"]
    assert fetch["image"] == versions.image("rclone")
    assert fetch["command"][:3] == [
        "rclone", "copy", f"artifacts:llm-aws-artifacts-123456789012/models/assistant/{revision}"]
    assert fetch["securityContext"]["runAsNonRoot"] is True
    assert verify["name"] == "verify-weights"
    server = pod["containers"][0]
    assert server["command"][2] == f"/models/assistant/{revision}"  # the copied weights
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in server["env"]


def test_aws_budget_thresholds_topic_encryption_and_hard_cap(planned):
    aws = planned["aws"]
    spec = stack_spec("aws")["budget"]
    (budget,) = _inputs(aws, "aws:budgets/budget:Budget")
    assert budget["limitAmount"] == "6000.00" and budget["timeUnit"] == "MONTHLY"
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:environment$aws"]}]
    actual = sorted(n["threshold"] for n in budget["notifications"] if n["notificationType"] == "ACTUAL")
    assert actual == sorted([*spec["alert_thresholds_pct"], spec["hard_cap_pct"]])
    key = aws.one("aws:kms/key:Key", "aws-aws-budget-topic-key")["inputs"]
    statements = json.loads(key["policy"])["Statement"]
    budgets = next(s for s in statements if s["Principal"] == {"Service": "budgets.amazonaws.com"})
    assert set(budgets["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    (topic,) = _inputs(aws, "aws:sns/topic:Topic")
    assert "kmsMasterKeyId" in topic
    (function,) = _inputs(aws, "aws:lambda/function:Function")
    env = function["environment"]["variables"]
    assert env["HARD_CAP_USD"] == "6600.00" and env["CLUSTER_NAME"] == "llm-aws"
    assert function["handler"] == "budget_enforcer.handler"
    (sub,) = _inputs(aws, "aws:sns/topicSubscription:TopicSubscription")
    assert sub["protocol"] == "lambda"


def _key_policies(aws) -> dict[str, list[dict]]:
    """Each KMS key's policy statements, by the ARN the mocks give the key."""
    return {
        f"arn:aws:kms::000000000000:{r['name']}": json.loads(r["inputs"]["policy"])["Statement"]
        for r in aws.resources("aws:kms/key:Key")
    }


@pytest.mark.parametrize("stack", ["aws", "hybrid"])
def test_every_kms_key_has_a_policy_and_every_log_group_a_key_logs_may_use_for_it(planned, stack):
    aws = planned[stack]
    cfg = stack_spec(stack)["aws"]
    region, account = cfg["region"], cfg["account_id"]
    policies = _key_policies(aws)
    # CKV2_AWS_64: explicit, the account root first, then only services that use the key.
    services = {"budgets.amazonaws.com", f"logs.{region}.amazonaws.com", "cloudwatch.amazonaws.com"}
    for statements in policies.values():
        assert statements[0]["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
        assert {s["Principal"]["Service"] for s in statements[1:]} <= services
    groups = _inputs(aws, "aws:cloudwatch/logGroup:LogGroup")
    assert {g["name"] for g in groups} == {
        "/aws/eks/llm-" + stack + "/cluster", "/aws/lambda/llm-" + stack + "-enforcer",
        "/aws/vpc-flow-logs/llm-" + stack}
    for group in groups:  # CKV_AWS_158, and a key CloudWatch Logs may use for this group
        logs = next(s for s in policies[group["kmsKeyId"]]
                    if s["Principal"] == {"Service": f"logs.{region}.amazonaws.com"})
        arn = f"arn:aws:logs:{region}:{account}:log-group:{group['name']}"
        assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == [arn]
        # The spec's default is a year, and the enforcer's small logs never keep less.
        assert group["retentionInDays"] == cfg.get("log_retention_days", 365)


def test_a_failed_cap_lands_on_an_encrypted_queue_the_lambda_may_send_to_and_alarms(planned):
    aws = planned["aws"]
    (function,) = _inputs(aws, "aws:lambda/function:Function")
    (queue,) = aws.resources("aws:sqs/queue:Queue")
    queue_arn = f"arn:aws:sqs::000000000000:{queue['name']}"
    key_arn = "arn:aws:kms::000000000000:aws-aws-budget-topic-key"
    assert function["deadLetterConfig"] == {"targetArn": queue_arn}  # CKV_AWS_116
    assert function["kmsKeyArn"] == key_arn  # CKV_AWS_173
    assert queue["inputs"]["kmsMasterKeyId"] == key_arn
    assert queue["inputs"]["messageRetentionSeconds"] == 14 * 24 * 3600
    send = json.loads(aws.one("aws:iam/rolePolicy:RolePolicy", "aws-aws-budget-enforcer-dlq")["inputs"]["policy"])
    assert {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn} in send["Statement"]
    (alarm,) = _inputs(aws, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm["dimensions"] == {"QueueName": queue["inputs"]["name"]}
    assert (alarm["metricName"], alarm["comparisonOperator"], alarm["threshold"]) == (
        "ApproximateNumberOfMessagesVisible", "GreaterThanThreshold", 0)
    assert alarm["alarmActions"] == ["arn:aws:sns::000000000000:aws-aws-budget-topic"]
    topic = json.loads(_inputs(aws, "aws:sns/topicPolicy:TopicPolicy")[0]["policy"])
    assert {"budgets.amazonaws.com", "cloudwatch.amazonaws.com"} == {
        s["Principal"]["Service"] for s in topic["Statement"]}


@pytest.mark.parametrize("stack", ["aws", "hybrid"])
def test_the_vpc_logs_every_flow_and_its_default_security_group_allows_nothing(planned, stack):
    aws = planned[stack]
    (vpc,) = aws.resources("aws:ec2/vpc:Vpc")
    vpc_id = f"{vpc['name']}-id"
    (flow,) = _inputs(aws, "aws:ec2/flowLog:FlowLog")  # CKV2_AWS_11
    assert (flow["vpcId"], flow["trafficType"], flow["logDestinationType"]) == (
        vpc_id, "ALL", "cloud-watch-logs")
    (sg,) = _inputs(aws, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")  # CKV2_AWS_12
    assert (sg["vpcId"], sg["ingress"], sg["egress"]) == (vpc_id, [], [])
    assert not aws.resources("aws:ec2/securityGroupRule:SecurityGroupRule")


# -- GCP ---------------------------------------------------------------------------------
def test_gke_is_private_with_workload_identity_shielded_nodes_and_a_channel(planned):
    gcp = planned["gcp"]
    (cluster,) = _inputs(gcp, "gcp:container/cluster:Cluster")
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert cluster["workloadIdentityConfig"]["workloadPool"] == "acme-llm-prod.svc.id.goog"
    assert cluster["enableShieldedNodes"] is True
    assert cluster["releaseChannel"]["channel"] == "REGULAR"
    (subnet,) = _inputs(gcp, "gcp:compute/subnetwork:Subnetwork")
    assert {r["rangeName"] for r in subnet["secondaryIpRanges"]} == {"pods", "services"}


def test_gke_secrets_are_encrypted_with_a_rotated_key_only_gke_can_use(planned):
    gcp = planned["gcp"]
    key = gcp.one("gcp:kms/cryptoKey:CryptoKey", "gcp-gcp-cluster-secrets")
    assert key["inputs"]["rotationPeriod"] == f"{90 * 86400}s"
    (cluster,) = _inputs(gcp, "gcp:container/cluster:Cluster")
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": "gcp-gcp-cluster-secrets-id"}
    # The budget topic's key has its own grant (tests/test_gcp_builders.py).
    grant = gcp.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
                    "gcp-gcp-cluster-secrets-gke")["inputs"]
    assert grant["cryptoKeyId"] == "gcp-gcp-cluster-secrets-id"
    assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert re.fullmatch(
        r"serviceAccount:service-\d+@container-engine-robot\.iam\.gserviceaccount\.com",
        grant["member"],
    )


def test_gke_gpu_pools_have_accelerators_drivers_taints_and_spot_training(planned):
    gcp = planned["gcp"]
    pools = {r["name"]: r["inputs"] for r in gcp.resources("gcp:container/nodePool:NodePool")}
    infer, train = pools["gcp-gcp-l4-pool"], pools["gcp-gcp-train-pool"]
    for pool, accel in ((infer, "nvidia-l4"), (train, "nvidia-a100-80gb")):
        (gpu,) = pool["nodeConfig"]["guestAccelerators"]
        assert gpu["type"] == accel
        assert gpu["gpuDriverInstallationConfig"]["gpuDriverVersion"] == "LATEST"
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in pool["nodeConfig"]["taints"]
        assert pool["nodeConfig"]["shieldedInstanceConfig"]["enableSecureBoot"] is True
    assert train["nodeConfig"]["spot"] is True and not infer["nodeConfig"].get("spot")
    assert train["autoscaling"]["totalMinNodeCount"] == 0


def test_gcs_bucket_and_billing_budget(planned):
    gcp = planned["gcp"]
    # The artifacts bucket (its access-log bucket: tests/test_gcp_builders.py).
    bucket = gcp.one("gcp:storage/bucket:Bucket", "gcp-gcp-artifacts-bucket")["inputs"]
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"]["enabled"] is True
    grants: dict[str, list[dict]] = {}
    for m in _inputs(gcp, "gcp:storage/bucketIAMMember:BucketIAMMember"):
        grants.setdefault(m["member"], []).append(m)
    # The model servers' Kubernetes service account acts as a Google account that may
    # only read models/.
    sa = _k8s(gcp, "ServiceAccount", "model-weights-reader")
    reader = sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    (member,) = grants[f"serviceAccount:{reader}"]
    assert member["role"] == "roles/storage.objectViewer"
    assert "/objects/models/" in member["condition"]["expression"]
    # The gateway database's backups: a second Google account, the one the service account
    # CloudNativePG makes for the Cluster carries, which writes under gateway-db/ only.
    db = _k8s(gcp, "Cluster", "llm-gateway-db")
    assert "serviceAccountName" not in db["spec"]  # so it runs as llm-gateway-db
    writer = db["spec"]["serviceAccountTemplate"]["metadata"]["annotations"][
        "iam.gke.io/gcp-service-account"]
    assert writer != reader
    writes = {m["role"]: m for m in grants[f"serviceAccount:{writer}"]}
    condition = writes["roles/storage.objectAdmin"]["condition"]["expression"]
    assert "/objects/gateway-db/" in condition and "/objects/models/" not in condition
    (budget,) = _inputs(gcp, "gcp:billing/budget:Budget")
    assert budget["budgetFilter"]["labels"] == {"environment": "gcp"}
    actual = sorted(r["thresholdPercent"] for r in budget["thresholdRules"] if "spendBasis" not in r)
    assert actual == [0.5, 0.8, 1.0]
    assert "pubsubTopic" in budget["allUpdatesRule"]


# -- Azure -------------------------------------------------------------------------------
def test_aks_is_private_with_managed_identity_rbac_and_no_local_accounts(planned):
    azure = planned["azure"]
    (cluster,) = _inputs(azure, "azure-native:containerservice:ManagedCluster")
    assert cluster["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert cluster["identity"] == {
        "type": "UserAssigned", "userAssignedIdentities": ["azure-azure-cluster-identity-id"]
    }
    kms = cluster["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True and kms["keyId"].startswith("https://")
    (vault,) = _inputs(azure, "azure-native:keyvault:Vault")
    assert vault["properties"]["enableRbacAuthorization"] is True
    assert vault["properties"]["enablePurgeProtection"] is True
    grants = {
        r["name"]: r["inputs"]
        for r in azure.resources("azure-native:authorization:RoleAssignment")
    }
    # The control-plane identity may use the key and manage its subnet, nothing more.
    assert grants["azure-azure-cluster-kms-user"]["scope"] == "azure-azure-cluster-kms-id"
    assert grants["azure-azure-cluster-subnet"]["scope"] == "azure-azure-network-nodes-id"
    assert cluster["disableLocalAccounts"] is True
    assert cluster["aadProfile"]["enableAzureRBAC"] is True
    assert cluster["networkProfile"]["networkPolicy"] == "cilium"
    assert cluster["securityProfile"]["workloadIdentity"]["enabled"] is True


def test_aks_gpu_pools_taints_and_spot_training_with_delete_and_max_price(planned):
    azure = planned["azure"]
    pools = {p["agentPoolName"]: p for p in _inputs(azure, "azure-native:containerservice:AgentPool")}
    assert pools["a100"]["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert pools["a100"]["scaleSetPriority"] == "Regular"
    train = pools["train"]
    assert train["scaleSetPriority"] == "Spot"
    assert train["scaleSetEvictionPolicy"] == "Delete"
    assert train["spotMaxPrice"] == 3.673  # the on-demand price: never bid above it
    assert train["minCount"] == 0 and train["enableAutoScaling"] is True
    # Spot pods must tolerate the taint AKS adds to spot nodes.
    assert train["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]


def test_azure_storage_is_private_tls12_versioned_and_budget_has_an_action_group(planned):
    azure = planned["azure"]
    (account,) = _inputs(azure, "azure-native:storage:StorageAccount")
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowSharedKeyAccess"] is False
    assert account["networkRuleSet"]["defaultAction"] == "Deny"
    (container,) = _inputs(azure, "azure-native:storage:BlobContainer")
    assert container["publicAccess"] == "None"
    (props,) = _inputs(azure, "azure-native:storage:BlobServiceProperties")
    assert props["isVersioningEnabled"] is True
    (budget,) = _inputs(azure, "azure-native:consumption:Budget")
    actual = sorted(n["threshold"] for n in budget["notifications"].values() if n["thresholdType"] == "Actual")
    assert actual == [50, 80, 100]
    assert all(n["contactGroups"] for n in budget["notifications"].values())
    (group,) = _inputs(azure, "azure-native:monitor:ActionGroup")
    assert group["emailReceivers"][0]["emailAddress"] == "finops@example.com"


# -- Hybrid ------------------------------------------------------------------------------
def test_hybrid_serves_on_prem_and_trains_and_stores_in_the_cloud(planned):
    hybrid = planned["hybrid"]
    groups = {g["tags"].get("llm-platform-pool") for g in _inputs(hybrid, "aws:eks/nodeGroup:NodeGroup")}
    assert groups == {None, "train"}  # system + training only: inference stays on-prem
    (vpn,) = _inputs(hybrid, "aws:ec2/vpnConnection:VpnConnection")
    assert vpn["staticRoutesOnly"] is False
    assert vpn["tunnel1PresharedKey"] == "[secret]"
    (peer,) = _inputs(hybrid, "aws:ec2/customerGateway:CustomerGateway")
    assert peer["ipAddress"] == "203.0.113.10" and peer["bgpAsn"] == "65010"
    (oidc,) = _inputs(hybrid, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc["url"] == "https://oidc.onprem.example.com/cluster-1"
    trust = next(json.loads(r["inputs"]["assumeRolePolicy"]) for r in hybrid.resources("aws:iam/role:Role")
                 if r["name"] == "hybrid-aws-artifacts-onprem-reader")
    cond = trust["Statement"][0]["Condition"]["StringEquals"]
    assert cond["oidc.onprem.example.com/cluster-1:sub"] == "system:serviceaccount:llm-hybrid:model-weights-reader"
    # The on-prem model server gets a token for STS and exchanges it: no stored key.
    pod = _k8s(hybrid, "Deployment", "assistant")["spec"]["template"]["spec"]
    token = next(v for v in pod["volumes"] if v["name"] == "cloud-token")
    assert token["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "sts.amazonaws.com"
    env = {e["name"] for e in pod["initContainers"][0]["env"]}
    assert {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} <= env
    assert not [m for m in hybrid.manifests if m["kind"] == "Secret" and "aws" in json.dumps(m).lower()]


# -- Cost --------------------------------------------------------------------------------
HAND = {
    # EKS $0.10/h; 3 NAT gateways at $0.045/h and their IPv4 addresses at $0.005/h;
    # 2 m6i.xlarge at $0.192; 1 g6e.xlarge at $1.861 for the one TP1 replica;
    # 200 spot node-hours at the dearer type's spot price (g6e.2xlarge, $0.96);
    # 500 GB S3 at $0.023, and the access-log bucket's estimated 5 GB; four KMS keys at $1
    # (cluster, bucket, budget, flow logs). The flow logs' ingestion, the dead-letter queue
    # and its alarm are not priced.
    "aws": 730 * 0.10 + 3 * 730 * (0.045 + 0.005) + 2 * 730 * 0.192 + 730 * 1.861
    + 200 * 0.96 + (500 + 5) * 0.023 + 4 * 1.00,
    # GKE $0.10/h; Cloud NAT at its $0.044/h ceiling; one e2-standard-4 in each of two
    # zones; two g2-standard-4 (min_nodes 2) at $0.70683; 200 spot hours of a2-ultragpu-1g
    # at $2.02752; 500 GB GCS at $0.020 and the access-log bucket's estimated 1 GB; two Cloud
    # KMS key versions at $0.06 (GKE Secrets, the budget topic).
    "gcp": 730 * 0.10 + 730 * 0.044 + 2 * 730 * 0.134012 + 2 * 730 * 0.70683
    + 200 * 2.02752 + (500 + 1) * 0.020 + 2 * 0.06,
    # AKS Standard $0.10/h; NAT $0.045/h and its IP $0.005/h; 2 D4s_v5 at $0.192; one
    # NC24ads_A100_v4 at $3.673; 200 spot hours at $1.469; 500 GB hot LRS at $0.018.
    "azure": 730 * 0.10 + 730 * (0.045 + 0.005) + 2 * 730 * 0.192 + 730 * 3.673
    + 200 * 1.469 + 500 * 0.018,
    # On-prem: one TP1 replica at the $1.10 amortised GPU-hour. AWS: EKS, one NAT with
    # its address, one m6i.xlarge, 40 spot hours of p5.48xlarge at $30, 2000 GB S3 and 5 GB
    # of access logs, four KMS keys, and the VPN connection at $0.05/h.
    "hybrid": 730 * 1.10 + 730 * 0.10 + 730 * (0.045 + 0.005) + 730 * 0.192 + 40 * 30.00
    + (2000 + 5) * 0.023 + 4 * 1.00 + 730 * 0.05,
}


# The gateway's CloudNativePG volumes, billed per GiB-month provisioned: the cloud's block
# storage row of services.yaml. Azure's managed disks are billed by size tier (no row, not
# priced) and the hybrid runs its gateway on-prem.
BLOCK_STORAGE_ROW = {"aws": "aws-ebs-gp3", "gcp": "gcp-pd-balanced"}


def database_volumes_usd(stack: str) -> float:
    """instances x storage_gib of the stack's gateway database (the spec's defaults where the
    stack names none) x the catalog's price of a GiB-month of the cloud's block storage."""
    row = BLOCK_STORAGE_ROW.get(stack)
    if row is None:
        return 0.0
    db = load_spec(stack_spec(stack)).spec.gateway.database
    price = catalog.services()[row]
    assert price.unit == "GiB-month"
    return db.instances * db.storage_gib * price.usd


@pytest.mark.parametrize("stack", CLOUD_STACKS)
def test_cloud_cost_matches_a_hand_calculation(planned, stack):
    cost = planned[stack].cost
    expected = HAND[stack] + database_volumes_usd(stack)
    assert cost["monthly_usd"] == pytest.approx(expected, abs=0.02)
    for item in cost["resources"]:
        # Every line names its catalog row, source and date, or the spec's own rate.
        assert "https://" in item["basis"] or "/GPU-h" in item["basis"], item


def test_node_pool_cost_is_carried_by_the_models_it_serves(planned):
    aws = planned["aws"].cost["models"]["assistant"]
    assert aws["monthly_usd"] == pytest.approx(730 * 1.861, abs=0.01)
    assert aws["usd_per_1k_conversations"] == pytest.approx(
        730 * 1.861 / (30000 * 365 / 12) * 1000, abs=1e-3)
