"""Regenerate components/catalog/terraform_types.yaml, the Pulumi token -> Terraform type map
that `llm-platform plan --export terraform-plan` (components/plan/terraform.py) reads.

    python3 scripts/gen_terraform_types.py [--gcp-bridge-metadata FILE]

Inputs:
  * tests/golden/{aws,gcp,hybrid}/plan.json: the tokens and the input paths our stacks use.
  * AWS_TYPES below: Pulumi token -> Terraform type, copied by hand from the pulumi-aws
    bridge-metadata.json "renames.resources" section (see SOURCES; the pulumi-aws snapshot was
    too large to fetch, so it was read page by page through the code index).
  * for tokens the stored bridge-metadata pages did not cover (SQS, metric alarm, flow log,
    default security group), pulumi-aws provider/resources.go entries and the pinned SDK
    (SOURCES aws-rgo, aws-sdk); AWS_MAP_INPUTS: map-typed inputs whose keys are data.
  * AWS_FIELD_RENAMES below: the non-mechanical property names seen in the same file's
    "renamedProperties" section.
  * the pulumi-gcp bridge-metadata.json (auto-aliasing.resources: TF type -> current token, plus
    the TF names and maxItemsOne flags of every list/set field), read from FILE or from
    `git -C /work/.mirror/pulumi+pulumi-gcp/repo show v9.35.0:provider/cmd/pulumi-resource-gcp/bridge-metadata.json`.
"""
# ruff: noqa: E501 - the source tables cite file offsets and notes that read best unbroken.
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("aws", "gcp", "hybrid")

SOURCES = {
    "aws-bm": (
        "github.com/pulumi/pulumi-aws provider/cmd/pulumi-resource-aws/bridge-metadata.json"
        "@07d08a0a50a459620181440fbb00ba497843f6c6 (the stored version in the code index; a v6-era"
        " file: it still maps aws:s3/bucket:Bucket to aws_s3_bucket_legacy. NOT the v7.51.1 tag:"
        " the pulumi-aws snapshot is 731 MB, over the 500 MB fetch limit)"
    ),
    "aws-sdk": "pulumi_aws-7.51.1-py3-none-any.whl (PyPI), pulumi_aws/<module>/<resource>.py: @pulumi.type_token and pulumi.Alias(type_=...)",
    "aws-rgo": (
        "github.com/pulumi/pulumi-aws provider/resources.go, the stored version in the code index"
        " (read_file id 16979349534, 315,500 chars; found by find_string '\"aws_default_security_group\": {')."
        " Commit not shown by the index; it imports github.com/pulumi/pulumi-aws/provider/v6, so a"
        " v6-era file, NOT the pinned v7.51.1. Entries read: aws_cloudwatch_log_group and"
        " aws_cloudwatch_metric_alarm (offset ~52k-68k), aws_flow_log (~80k), aws_default_security_group"
        " (~87.5k)"
    ),
    "gcp-bm": (
        "github.com/pulumi/pulumi-gcp provider/cmd/pulumi-resource-gcp/bridge-metadata.json@v9.35.0"
        " (14da5bc83e, 2026-08-21; the newest tag in the snapshot. The pinned 10.2.0 has no tag"
        " there: the snapshot predates v10)"
    ),
    "gcp-sdk": "pulumi_gcp-10.2.0-py3-none-any.whl (PyPI), pulumi_gcp/<module>/<resource>.py: @pulumi.type_token",
}

# token -> (terraform type, source key, note)
AWS_TYPES: dict[str, tuple[str, str, str]] = {
    "aws:budgets/budget:Budget": ("aws_budgets_budget", "aws-bm", ""),
    "aws:cloudwatch/logGroup:LogGroup": ("aws_cloudwatch_log_group", "aws-bm", ""),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("aws_cloudwatch_metric_alarm", "aws-rgo+aws-sdk", "resources.go: \"aws_cloudwatch_metric_alarm\": {Tok: awsResource(cloudwatchMod, \"MetricAlarm\")}; 7.51.1 SDK cloudwatch/metric_alarm.py:983 @pulumi.type_token."),
    "aws:ec2/customerGateway:CustomerGateway": ("aws_customer_gateway", "aws-bm", ""),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("aws_default_security_group", "aws-rgo+aws-sdk", "resources.go: \"aws_default_security_group\": {Tok: awsResource(ec2Mod, \"DefaultSecurityGroup\")}, Fields ingress/egress kept singular ({Name: \"ingress\"}, {Name: \"egress\"}); 7.51.1 SDK ec2/default_security_group.py:315 @pulumi.type_token."),
    "aws:ec2/eip:Eip": ("aws_eip", "aws-bm", ""),
    "aws:ec2/flowLog:FlowLog": ("aws_flow_log", "aws-rgo+aws-sdk", "resources.go: \"aws_flow_log\": {Tok: awsResource(ec2Mod, \"FlowLog\")} (no Fields overrides); 7.51.1 SDK ec2/flow_log.py:623 @pulumi.type_token."),
    "aws:ec2/internetGateway:InternetGateway": ("aws_internet_gateway", "aws-bm", ""),
    "aws:ec2/launchTemplate:LaunchTemplate": ("aws_launch_template", "aws-bm", ""),
    "aws:ec2/natGateway:NatGateway": ("aws_nat_gateway", "aws-bm", ""),
    "aws:ec2/routeTable:RouteTable": ("aws_route_table", "aws-bm", ""),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("aws_route_table_association", "aws-bm", ""),
    "aws:ec2/subnet:Subnet": ("aws_subnet", "aws-bm", ""),
    "aws:ec2/vpc:Vpc": ("aws_vpc", "aws-bm", ""),
    "aws:ec2/vpnConnection:VpnConnection": ("aws_vpn_connection", "aws-bm", ""),
    "aws:ec2/vpnGateway:VpnGateway": ("aws_vpn_gateway", "aws-bm", ""),
    "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation": ("aws_vpn_gateway_route_propagation", "aws-bm", ""),
    "aws:eks/addon:Addon": ("aws_eks_addon", "aws-bm", ""),
    "aws:eks/cluster:Cluster": ("aws_eks_cluster", "aws-bm", ""),
    "aws:eks/nodeGroup:NodeGroup": ("aws_eks_node_group", "aws-bm", ""),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": (
        "aws_eks_pod_identity_association",
        "unverified",
        "NOT in the stored (v6-era) bridge-metadata: the resource is newer. The token exists in the"
        " 7.51.1 SDK (pulumi_aws/eks/pod_identity_association.py, @pulumi.type_token). The TF name"
        " follows the module-prefix rule every other aws_eks_* entry follows; confirm against the"
        " v7.51.1 bridge-metadata before relying on it. Supporting, not proof: Checkov 3.3.30 knows"
        " aws_eks_pod_identity_association as a Terraform type"
        " (checkov/common/checks_infra/resources_types.py:1181).",
    ),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (
        "aws_iam_openid_connect_provider", "aws-bm",
        "Not mechanical: OpenId in the token, openid in the TF type.",
    ),
    "aws:iam/role:Role": ("aws_iam_role", "aws-bm", ""),
    "aws:iam/rolePolicy:RolePolicy": ("aws_iam_role_policy", "aws-bm", ""),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("aws_iam_role_policy_attachment", "aws-bm", ""),
    "aws:kms/key:Key": ("aws_kms_key", "aws-bm", ""),
    "aws:lambda/function:Function": ("aws_lambda_function", "aws-bm", ""),
    "aws:lambda/permission:Permission": ("aws_lambda_permission", "aws-bm", ""),
    "aws:s3/bucket:Bucket": (
        "aws_s3_bucket", "aws-bm+aws-sdk",
        "Changed in v7. The stored bridge-metadata (v6 era) maps aws:s3/bucket:Bucket ->"
        " aws_s3_bucket_legacy and aws:s3/bucketV2:BucketV2 -> aws_s3_bucket. In 7.51.1,"
        " pulumi_aws/s3/bucket.py:1176 declares aliases=[Alias(type_='aws:s3/bucketV2:BucketV2')],"
        " i.e. v7's Bucket is the former BucketV2 = aws_s3_bucket. Never map it to"
        " aws_s3_bucket_legacy.",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "aws_s3_bucket_lifecycle_configuration", "aws-bm+aws-sdk",
        "v7 token; 7.51.1 SDK s3/bucket_lifecycle_configuration.py:951 aliases"
        " aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2, which the stored"
        " bridge-metadata maps to aws_s3_bucket_lifecycle_configuration.",
    ),
    "aws:s3/bucketLogging:BucketLogging": (
        "aws_s3_bucket_logging", "aws-sdk",
        "v7 token; 7.51.1 SDK s3/bucket_logging.py:268 @pulumi.type_token, :540 aliases"
        " aws:s3/bucketLoggingV2:BucketLoggingV2. A v7-era pulumi-aws provider/resources.go in the"
        " code index (read_file id 62658824068, offset ~57.6k) has \"aws_s3_bucket_logging\":"
        " {Aliases: [aws:s3/bucketLoggingV2:BucketLoggingV2]}, no Tok and no Fields: the"
        " mechanical token and mechanical input names.",
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("aws_s3_bucket_ownership_controls", "aws-bm", ""),
    "aws:s3/bucketPolicy:BucketPolicy": (
        "aws_s3_bucket_policy", "aws-bm",
        "The read page split this entry ('aws_s3_bucket_p' | 'olicy'); the joined value is"
        " aws_s3_bucket_policy.",
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("aws_s3_bucket_public_access_block", "aws-bm", ""),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws_s3_bucket_server_side_encryption_configuration", "aws-bm+aws-sdk",
        "v7 token; 7.51.1 SDK s3/bucket_server_side_encryption_configuration.py:391 aliases the"
        " ...V2 token, which the stored bridge-metadata maps to"
        " aws_s3_bucket_server_side_encryption_configuration.",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": (
        "aws_s3_bucket_versioning", "aws-bm+aws-sdk",
        "v7 token; 7.51.1 SDK s3/bucket_versioning.py:471 aliases"
        " aws:s3/bucketVersioningV2:BucketVersioningV2, which the stored bridge-metadata maps to"
        " aws_s3_bucket_versioning.",
    ),
    "aws:sns/topic:Topic": ("aws_sns_topic", "aws-bm", ""),
    "aws:sqs/queue:Queue": ("aws_sqs_queue", "aws-sdk", "resources.go (other stored versions in the code index, find_string 'Tok: awsResource(sqsMod, \"Queue\"),', ids 41594274975, 9238082784, 1775879674): \"aws_sqs_queue\": {Tok: awsResource(sqsMod, \"Queue\"), Fields: {\"name\": AutoName(\"name\", ...)}} (name stays name); the aws_sqs_queue entry of id 16979349534 was not read. 7.51.1 SDK sqs/queue.py:693 @pulumi.type_token."),
    "aws:sns/topicPolicy:TopicPolicy": ("aws_sns_topic_policy", "aws-bm", ""),
    "aws:sns/topicSubscription:TopicSubscription": ("aws_sns_topic_subscription", "aws-bm", ""),
}

# Non-mechanical top-level renames read in the stored aws bridge-metadata, section
# "renamedProperties" (keyed by Pulumi token; value = TF name; it lists every property whose
# Pulumi name differs from its TF name, so a token whose entry was read is fully covered).
# Offsets are character offsets in that file as served by the code index (read_file id
# 41724592824). For the S3 configurations the entry is the v6 "...V2" token that the v7 token
# aliases (see AWS_TYPES).
AWS_FIELD_RENAMES: dict[str, dict[str, tuple[str, str]]] = {
    "aws:budgets/budget:Budget": {
        "notifications": ("notification", "aws-bm renamedProperties[aws:budgets/budget:Budget], offset ~376k"),
        "costFilters": ("cost_filter", "aws-bm renamedProperties[aws:budgets/budget:Budget], offset ~376k. NB the mechanical cost_filters is a different (legacy map) TF attribute: \"costFilterLegacy\": \"cost_filters\""),
    },
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        "name": ("alarm_name", "aws-rgo aws_cloudwatch_metric_alarm Fields: \"alarm_name\": tfbridge.AutoName(\"name\", 255, \"-\") (Pulumi name = TF alarm_name; our plans leave it to auto-naming)"),
    },
    "aws:ec2/routeTable:RouteTable": {
        "routes": ("route", "aws-bm renamedProperties[aws:ec2/routeTable:RouteTable], offset ~710k"),
    },
    "aws:eks/nodeGroup:NodeGroup": {
        "taints": ("taint", "aws-bm renamedProperties[aws:eks/nodeGroup:NodeGroup], offset ~790k"),
    },
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": {
        "clientIdLists": ("client_id_list", "aws-bm renamedProperties[aws:iam/openIdConnectProvider:OpenIdConnectProvider], offset ~927k"),
    },
    "aws:lambda/function:Function": {
        "code": ("filename", "aws-bm renamedProperties[aws:lambda/function:Function], offset ~1.06M (Pulumi takes an Archive asset; TF takes a zip path + source_code_hash)"),
        "name": ("function_name", "aws-bm renamedProperties[aws:lambda/function:Function], offset ~1.06M"),
    },
    "aws:lambda/permission:Permission": {
        "function": ("function_name", "aws-bm renamedProperties[aws:lambda/permission:Permission], offset ~1.07M"),
    },
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": {
        "rules": ("rule", "aws-bm renamedProperties[aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2], offset ~1.41M"),
    },
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": {
        "rules": ("rule", "aws-bm renamedProperties[aws:s3/bucketServerSideEncryptionConfigurationV2:...V2], offset ~1.41M"),
    },
    "aws:sns/topicSubscription:TopicSubscription": {
        "topic": ("topic_arn", "aws-bm renamedProperties[aws:sns/topicSubscription:TopicSubscription], offset ~1.52M"),
    },
}

# renamedProperties entries read and found to hold no rename for the inputs we use (all our
# inputs on these tokens are mechanical): aws:ec2/launchTemplate (~701k: blockDeviceMappings ->
# block_device_mappings, tagSpecifications -> tag_specifications), aws:ec2/natGateway (~705k),
# aws:ec2/routeTableAssociation (~711k), aws:eks/cluster (~786k), aws:eks/addon (~784k),
# aws:iam/role, rolePolicy, rolePolicyAttachment (~928k), aws:s3/bucketPublicAccessBlock (~1.41M),
# aws:sns/topic (~1.515M), aws:ec2/vpnConnection, vpnGateway, vpnGatewayRoutePropagation (~735k:
# tunnel1IkeVersions -> tunnel1_ike_versions etc.); aws:sns/topicPolicy has no entry (no name
# differs).
# resources.go entries read (aws-rgo, id 16979349534): aws_cloudwatch_log_group (IDFields name, no
# Fields: kmsKeyId -> kms_key_id mechanical), aws_cloudwatch_metric_alarm (alarm_name <- name, the
# *_actions only retyped), aws_flow_log (no Fields), aws_default_security_group (ingress/egress kept
# singular). aws_lambda_function (in other stored resources.go versions, ids 9238082784,
# 41594274975): Fields only function_name <- name, filename <- code, role retyped, so
# deadLetterConfig(.targetArn) -> dead_letter_config(.target_arn) and kmsKeyArn -> kms_key_arn are
# mechanical, as the 7.51.1 SDK docstrings name them (lambda_/function.py:77 dead_letter_config,
# :86 kms_key_arn; lambda_/_inputs.py:1608 target_arn).
AWS_ENTRIES_READ = [
    "aws:budgets/budget:Budget", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/natGateway:NatGateway",
    "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:eks/addon:Addon", "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:lambda/function:Function",
    "aws:lambda/permission:Permission", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:sns/topic:Topic", "aws:sns/topicPolicy:TopicPolicy", "aws:sns/topicSubscription:TopicSubscription",
    "aws:ec2/vpnConnection:VpnConnection", "aws:ec2/vpnGateway:VpnGateway",
    "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation",
    "aws:cloudwatch/logGroup:LogGroup", "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:ec2/flowLog:FlowLog",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:sqs/queue:Queue",
]

# List-valued inputs whose Pulumi name looks like the plural of a TF block name, on entries the
# stored file does not cover (the field is newer than the file). The singular is tfbridge's
# pluralization rule run backwards: UNVERIFIED.
AWS_PLURAL_CANDIDATES: dict[str, dict[str, str]] = {
    "aws:eks/addon:Addon": {"podIdentityAssociations": "pod_identity_association"},
}

# Where a plural candidate's singular is confirmed by the pinned SDK's own docstring (the
# bridge copies the Terraform docs into it, block names unchanged).
AWS_PLURAL_SOURCES: dict[str, str] = {
    "aws:eks/addon:Addon": (
        "pulumi_aws 7.51.1 eks/addon.py:48, docstring of pod_identity_associations (from the TF"
        " docs): 'See `pod_identity_association` below for details.'"
    ),
}


# Inputs that are TF map attributes (keys are data, kept verbatim; not blocks) beyond the names
# `walk` already skips. Source: the pinned SDK's input type.
AWS_MAP_INPUTS: dict[str, dict[str, str]] = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        "dimensions": "pulumi_aws 7.51.1 cloudwatch/metric_alarm.py:29 dimensions: Mapping[str, str] (TF map attribute dimensions)",
    },
}


def snake(name: str) -> str:
    """tfbridge's default Pulumi->TF direction: camelCase -> snake_case (digits stay attached)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def walk(value, path, out, types):
    if isinstance(value, dict):
        for key, sub in value.items():
            p = path + [key]
            out.add(".".join(p))
            types[".".join(p)] = type(sub).__name__
            if key in ("tags", "labels", "resourceLabels", "userLabels", "variables", "metadata", "archive"):
                continue  # maps (or assets): their keys are data, not schema
            walk(sub, p, out, types)
    elif isinstance(value, list):
        for sub in value[:1]:
            walk(sub, path + ["[]"], out, types)


def collect():
    tokens: dict[str, dict] = {}
    for stack in STACKS:
        plan = json.loads((ROOT / "tests/golden" / stack / "plan.json").read_text())
        for res in plan["resources"]:
            t = res["type"]
            if not t.startswith(("aws:", "gcp:")):
                continue
            entry = tokens.setdefault(t, {"stacks": {}, "paths": set(), "types": {}})
            entry["stacks"][stack] = entry["stacks"].get(stack, 0) + 1
            walk(res.get("inputs", {}), [], entry["paths"], entry["types"])
    return tokens


def load_gcp_bm(path: str | None):
    if path:
        return json.loads(Path(path).read_text())
    out = subprocess.run(
        ["git", "-C", "/work/.mirror/pulumi+pulumi-gcp/repo", "show",
         "v9.35.0:provider/cmd/pulumi-resource-gcp/bridge-metadata.json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def gcp_field(fields: dict, pname: str):
    """Resolve one Pulumi property against the bridge-metadata field table of its TF block."""
    s = snake(pname)
    if s in fields:
        return s, fields[s]
    for cand in (s[:-1], s[:-3] + "y" if s.endswith("ies") else None, s[:-2] if s.endswith("es") else None):
        if cand and cand in fields:
            return cand, fields[cand]
    return s, None


def gcp_fields(tf_entry: dict, paths: list[str]):
    """-> ({pulumi path: TF path} for every path, {renamed pulumi path: TF path}, [maxItemsOne TF paths])."""
    fields_root = tf_entry.get("fields", {})
    tf_paths, renames, max_items_one = {}, {}, []
    for path in paths:
        fields, tf_parts, p_parts = fields_root, [], []
        for part in path.split("."):
            p_parts.append(part)
            if part == "[]":
                continue
            tf_name, meta = gcp_field(fields or {}, part)
            tf_parts.append(tf_name)
            if tf_name != snake(part):
                renames[".".join(p_parts)] = ".".join(tf_parts)
            if meta and meta.get("maxItemsOne"):
                max_items_one.append(".".join(tf_parts))
            fields = (meta or {}).get("elem", {}).get("fields", {})
        tf_paths[path] = ".".join(tf_parts)
    return tf_paths, renames, sorted(set(max_items_one))


def aws_tf_paths(token: str, paths: list[str]):
    top = {k: v[0] for k, v in AWS_FIELD_RENAMES.get(token, {}).items()}
    top.update(AWS_PLURAL_CANDIDATES.get(token, {}))
    maps = AWS_MAP_INPUTS.get(token, {})
    out = {}
    for path in paths:
        parts = [x for x in path.split(".") if x != "[]"]
        rest = parts[1:] if parts[0] in maps else [snake(x) for x in parts[1:]]
        out[path] = ".".join([top.get(parts[0], snake(parts[0]))] + rest)
    return out


def aws_entry(token: str, info: dict, paths: list[str], entry: dict) -> dict | None:
    """Fill `entry` for an aws token from the tables above; -> {pulumi path: TF path}."""
    if token not in AWS_TYPES:
        return None
    tf, src, note = AWS_TYPES[token]
    entry["terraform_type"] = tf
    entry["source"] = " + ".join(SOURCES.get(s, s) for s in src.split("+")) if src != "unverified" else "UNVERIFIED (see note)"
    if note:
        entry["note"] = note
    renames = {k: {"terraform": v[0], "source": v[1]} for k, v in AWS_FIELD_RENAMES.get(token, {}).items() if k in info["paths"]}
    plural = {k: {"terraform": v, "source": AWS_PLURAL_SOURCES.get(token, "UNVERIFIED: tfbridge pluralization rule, singular to confirm")} for k, v in AWS_PLURAL_CANDIDATES.get(token, {}).items() if k in info["paths"]}
    read = token in AWS_ENTRIES_READ
    entry["field_renames"] = {**renames, **plural} or (
        "none: mechanical camelCase -> snake_case" if read else
        "none known: renamedProperties entry not read; mechanical expected, to verify")
    entry["renamed_properties_entry_read"] = read
    maps = AWS_MAP_INPUTS.get(token, {})
    nested_objects = sorted(p for p in paths if info["types"].get(p) == "dict" and p.split(".")[-1] not in ("tags", "labels", "variables") and p.split(".")[0] not in maps)
    if maps:
        entry["map_inputs"] = {k: {"keys": "verbatim (data, not schema)", "source": v} for k, v in maps.items() if k in info["paths"]}
    if nested_objects:
        entry["nested_blocks_to_wrap_in_a_list"] = nested_objects
    return aws_tf_paths(token, paths)


def gcp_entry(token: str, paths: list[str], bm: dict, rev: dict, entry: dict) -> dict | None:
    """Fill `entry` for a gcp token from the bridge metadata; -> {pulumi path: TF path}."""
    tf = rev.get(token)
    if tf is None:
        return None
    entry["terraform_type"] = tf
    entry["source"] = SOURCES["gcp-bm"] + " (auto-aliasing.resources[" + tf + "].current)"
    tf_paths, renames, mio = gcp_fields(bm["auto-aliasing"]["resources"][tf], paths)
    entry["field_renames"] = {k: {"terraform": v, "source": "gcp-bm auto-aliasing.resources[" + tf + "].fields"} for k, v in renames.items()} or "none: every input is mechanical camelCase -> snake_case"
    if mio:
        entry["nested_blocks_to_wrap_in_a_list"] = mio
    label_fix = bm.get("fix-label-names", {}).get("resources", {})
    if tf in label_fix:
        entry["label_fields"] = {"terraform_only_fields": label_fix[tf], "source": "gcp-bm fix-label-names.resources"}
    return tf_paths


def sdk_file(token: str, sdk: Path) -> str | None:
    """The pinned SDK's module declaring `token`, if the unzipped SDK is at hand."""
    if not sdk.is_dir():
        return None
    found = subprocess.run(["grep", "-rl", "--include=*.py", f'@pulumi.type_token("{token}")', str(sdk)],
                           capture_output=True, text=True).stdout.split()
    return found[0].replace(str(sdk) + "/", "") if found else "NOT FOUND"


def entries(args, tokens: dict) -> tuple[dict, list[str]]:
    bm = load_gcp_bm(args.gcp_bridge_metadata)
    rev = {}
    for tf, v in bm["auto-aliasing"]["resources"].items():
        rev.setdefault(v["current"], tf)
    out_tokens, missing = {}, []
    for token in sorted(tokens):
        info = tokens[token]
        paths = sorted(p for p in info["paths"])
        entry: dict = {"stacks": info["stacks"]}
        if token.startswith("aws:"):
            tf_paths = aws_entry(token, info, paths, entry)
        else:
            tf_paths = gcp_entry(token, paths, bm, rev, entry)
        if tf_paths is None:
            missing.append(token)
            continue
        found = sdk_file(token, Path(args.aws_sdk if token.startswith("aws:") else args.gcp_sdk))
        if found is not None:
            entry["token_in_pinned_sdk"] = found
        entry["inputs_used"] = tf_paths
        out_tokens[token] = entry
    return out_tokens, missing


def document(out_tokens: dict, missing: list[str]) -> dict:
    return {
        "about": (
            "Pulumi token -> Terraform type and property names, for the aws:/gcp: resources the"
            " example stacks create (tests/golden/{aws,gcp,hybrid}/plan.json), read by"
            " components/plan/terraform.py for `llm-platform plan --export terraform-plan`."
            " Generated by scripts/gen_terraform_types.py."
        ),
        "pins": {"pulumi-aws": "7.51.1", "pulumi-gcp": "10.2.0", "source": "locks/test.txt"},
        "sources": SOURCES,
        "naming_rules": {
            "default": (
                "Pulumi property = TF attribute in lowerCamelCase; the inverse used here is"
                " snake(x) = insert '_' before each capital, lowercase (tunnel1IkeVersions ->"
                " tunnel1_ike_versions). Every entry read in the aws renamedProperties pages"
                " (several hundred, e.g. ipv6CidrBlock -> ipv6_cidr_block, openXJsonSerDe ->"
                " open_x_json_ser_de) obeys it, except plurals and explicit overrides below."
            ),
            "pluralization": (
                "A TF list/set field with MaxItems != 1 and a singular name gets a plural Pulumi name"
                " (aws bridge-metadata renamedProperties: \"actions\": \"action\", \"rules\" ->"
                " \"rule\"...; gcp: lifecycleRules -> lifecycle_rule). The inverse must look the"
                " field up in the TF schema / bridge metadata; stripping an 's' blindly is wrong"
                " for fields TF already names in the plural (subnet_ids, threshold_rules,"
                " block_device_mappings)."
            ),
            "max_items_one": (
                "A TF block with MaxItems = 1 is a single object in Pulumi (vpcConfig,"
                " nodeConfig...) and a one-element list in a Terraform plan. The gcp bridge-metadata"
                " flags these (maxItemsOne: true); for aws the flags were not read. Checkov"
                " tolerates either shape (plan_parser._hclify wraps dicts in a list), other scanners"
                " may not."
            ),
            "explicit_overrides": (
                "resources.go may rename a field outright (aws_lambda_function filename -> code,"
                " function_name -> name). Only metadata shows these; they are listed per token."
            ),
            "pulumi_only_inputs": (
                "Inputs with no TF attribute: none found among the inputs our plans use. Pulumi"
                " auto-names resources (the `name` input on some tokens is a TF attribute)."
            ),
        },
        "coverage": {
            "tokens": len(out_tokens) + len(missing),
            "mapped": len(out_tokens),
            "unverified_terraform_type": sorted(t for t, e in out_tokens.items() if str(e.get("source", "")).startswith("UNVERIFIED")),
            "no_terraform_twin": missing or "none: every aws:/gcp: token in the plans is bridged from a Terraform resource",
            "out_of_scope_types_in_plans": {
                "pulumi:providers:aws, pulumi:providers:gcp, pulumi:providers:kubernetes": "provider instances; a Terraform plan carries provider settings in configuration.provider_config instead",
                "llm-platform:*": "component resources (no cloud object)",
                "kubernetes:*": "scanned as manifests already (Checkov kubernetes framework)",
            },
        },
        "tokens": out_tokens,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gcp-bridge-metadata")
    ap.add_argument("--aws-sdk", default="/tmp/pa", help="unzipped pulumi_aws-7.51.1 wheel (optional)")
    ap.add_argument("--gcp-sdk", default="/tmp/pg", help="unzipped pulumi_gcp-10.2.0 wheel (optional)")
    ap.add_argument("--out", default=str(ROOT / "components/catalog/terraform_types.yaml"))
    args = ap.parse_args()
    out_tokens, missing = entries(args, collect())
    doc = document(out_tokens, missing)
    Path(args.out).write_text(
        "# Generated by scripts/gen_terraform_types.py. Do not edit by hand.\n"
        + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True))
    print(f"{len(out_tokens)} tokens mapped, {len(missing)} without twin: {missing}", file=sys.stderr)


if __name__ == "__main__":
    main()
