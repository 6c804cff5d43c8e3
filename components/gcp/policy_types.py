"""What the policy pack reads off GCP resources, by Pulumi type token (see
components.clouds.PolicyTypes). Pure: no Pulumi import."""

from __future__ import annotations

from components.clouds import PolicyTypes, Props
from components.gcp import policy_checks
from components.props import amount, get, items, number

NODE_POOL = "gcp:container/nodePool:NodePool"
CLUSTER = "gcp:container/cluster:Cluster"
INSTANCE = "gcp:compute/instance:Instance"


def _pool_max(p: Props) -> tuple[str, float | None]:
    auto = get(p, "autoscaling")
    if auto is None:
        fixed = get(p, "nodeCount")
        return "nodeCount", number(fixed if fixed is not None else get(p, "initialNodeCount"))
    per_zone = number(get(auto, "maxNodeCount"))
    total = number(get(auto, "totalMaxNodeCount"))
    zones = len(items(get(p, "nodeLocations"))) or 1
    return "autoscaling.totalMaxNodeCount", total if total is not None else (
        per_zone * zones if per_zone is not None else None
    )


def _budget(p: Props) -> tuple[float | None, int]:
    updates = p.get("allUpdatesRule") or {}
    reaches = updates.get("monitoringNotificationChannels") or updates.get("pubsubTopic")
    return (
        amount(get(p, "amount", "specifiedAmount", "units")),
        len(p.get("thresholdRules") or []) if reaches else 0,
    )


POLICY_TYPES = PolicyTypes(
    # Checked against pulumi-gcp for every type the example stacks create
    # (tests/test_policies.py).
    taggable=frozenset(
        {
            INSTANCE,
            CLUSTER,
            NODE_POOL,
            "gcp:kms/cryptoKey:CryptoKey",
            "gcp:monitoring/notificationChannel:NotificationChannel",
            "gcp:pubsub/topic:Topic",
            "gcp:storage/bucket:Bucket",
        }
    ),
    tag_paths={
        CLUSTER: ("resourceLabels",),
        NODE_POOL: ("nodeConfig", "resourceLabels"),
        "gcp:monitoring/notificationChannel:NotificationChannel": ("userLabels",),
    },
    default_tag_path=("labels",),
    # The accelerator-optimized A2, A3, A4, G2 and G4 machine series.
    gpu_family=r"^(a2|a3|a4|g2|g4)-",
    instance_types={
        NODE_POOL: lambda p: [get(p, "nodeConfig", "machineType")],
        CLUSTER: lambda p: [get(p, "nodeConfig", "machineType")],
        INSTANCE: lambda p: [get(p, "machineType")],
    },
    accelerators={
        NODE_POOL: lambda p: items(get(p, "nodeConfig", "guestAccelerators")),
        CLUSTER: lambda p: items(get(p, "nodeConfig", "guestAccelerators")),
        INSTANCE: lambda p: items(get(p, "guestAccelerators")),
    },
    pool_max={NODE_POOL: _pool_max},
    pool_tags={NODE_POOL: ("nodeConfig", "resourceLabels")},
    node_labels={NODE_POOL: ("nodeConfig", "labels")},
    on_spot={
        NODE_POOL: lambda p: bool(
            get(p, "nodeConfig", "spot") or get(p, "nodeConfig", "preemptible")
        )
    },
    budgets={"gcp:billing/budget:Budget": _budget},
    storage=policy_checks.STORAGE,
    endpoint=policy_checks.ENDPOINT,
    secrets_encryption=policy_checks.SECRETS_ENCRYPTION,
)
