"""The namespace, Secrets and dashboard ConfigMaps Observability makes beside the charts.
Pure builders: they return plain dicts."""

from __future__ import annotations

import pulumi

from components import conventions
from components.kubernetes.monitoring.args import ObservabilityArgs
from components.kubernetes.monitoring.charts import (
    GRAFANA_ADMIN_SECRET,
    GRAFANA_PASSWORD_KEY,
    GRAFANA_USER_KEY,
)
from components.observability import alertmanager, dashboards


def monitoring_namespace_labels(labels: dict[str, str]) -> dict[str, str]:
    return {
        **labels,
        # node-exporter reads the host's /proc and /sys with hostPID and hostNetwork;
        # nothing of ours runs here.
        conventions.PSA_ENFORCE: "privileged",
        conventions.PSA_WARN: "baseline",
    }


def alertmanager_config_data(config: str) -> dict[str, str]:
    return {"alertmanager.yaml": config}


def receivers_data(receivers: dict[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
    """One key per receiver role, the file each receiver reads its credential from
    (components/observability/alertmanager.py)."""
    return {role: receivers[role] for role in alertmanager.ROLES}


def grafana_admin_data(password: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    return {GRAFANA_USER_KEY: "admin", GRAFANA_PASSWORD_KEY: password}


def secrets(args: ObservabilityArgs) -> list[tuple[str, str, dict[str, pulumi.Input[str]]]]:
    """(resource suffix, Secret name, data) of each Secret to make: Alertmanager's config
    always; the receivers' credentials and Grafana's password where resolve gave them (not
    in render mode, where the cluster's operator makes those Secrets with kubectl)."""
    made: list[tuple[str, str, dict[str, pulumi.Input[str]]]] = [
        (
            "am-config",
            alertmanager.CONFIG_SECRET,
            alertmanager_config_data(args.alertmanager_config),
        )
    ]
    if args.receivers is not None:
        made.append(("am-receivers", alertmanager.RECEIVERS_SECRET, receivers_data(args.receivers)))
    if args.stack is not None and args.stack.grafana_password is not None:
        made.append(
            ("grafana-admin", GRAFANA_ADMIN_SECRET, grafana_admin_data(args.stack.grafana_password))
        )
    return made


def dashboard_config_maps(
    environment: str, boards: dict[str, str], labels: dict[str, str]
) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(resource suffix, ConfigMap name, labels, data) per dashboard, labelled for the
    Grafana sidecar."""
    sidecar = {**labels, dashboards.SIDECAR_LABEL[0]: dashboards.SIDECAR_LABEL[1]}
    made = []
    for file_name, board in boards.items():
        stem = file_name.removesuffix(".json")
        made.append((stem, f"{environment}-{stem}", sidecar, {file_name: board}))
    return made
