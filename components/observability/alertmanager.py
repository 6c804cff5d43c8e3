"""The Alertmanager configuration: critical alerts page, warnings open a ticket.

The configuration holds no credential. Each receiver reads its key, URL or password from
a file under the mounted receivers Secret, which the component fills from Pulumi secrets
(in render mode, the operator of the cluster creates it with kubectl), so the rendered
config can be shown in a plan, diffed in review and checked by amtool.
Pure: no Pulumi.
"""

from __future__ import annotations

from typing import Any

from components.spec import EnvironmentSpec, Receiver

CONFIG_SECRET = "llm-platform-alertmanager"
RECEIVERS_SECRET = "llm-platform-alertmanager-receivers"
# Where the Prometheus Operator mounts each Secret listed in an Alertmanager's `secrets`.
SECRETS_MOUNT = "/etc/alertmanager/secrets"
ROUTES = (("pager", "critical", "1h"), ("ticket", "warning", "12h"))
# The receivers, each a key of the receivers Secret holding its credential.
ROLES = tuple(role for role, _, _ in ROUTES)


def secret_file(role: str) -> str:
    return f"{SECRETS_MOUNT}/{RECEIVERS_SECRET}/{role}"


def _receiver(role: str, r: Receiver) -> dict[str, Any]:
    path = secret_file(role)
    if r.kind == "pagerduty":
        return {"pagerduty_configs": [{"routing_key_file": path, "send_resolved": True}]}
    if r.kind == "slack":
        return {
            "slack_configs": [
                {
                    "api_url_file": path,
                    "channel": r.channel,
                    "send_resolved": True,
                    "title": "{{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})",
                    "text": (
                        "{{ range .Alerts }}{{ .Annotations.summary }}\n"
                        "{{ .Annotations.description }}\n"
                        "Runbook: {{ .Annotations.runbook_url }}\n"
                        "Dashboard: {{ .Annotations.dashboard_url }}\n{{ end }}"
                    ),
                }
            ]
        }
    if r.kind == "email":
        return {
            "email_configs": [
                {
                    "to": r.to,
                    "from": r.sender,
                    "smarthost": r.smarthost,
                    "auth_username": r.username,
                    "auth_password_file": path,
                    "require_tls": True,
                    "send_resolved": True,
                }
            ]
        }
    return {
        "webhook_configs": [
            {
                "url": r.url,
                "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials_file": path}},
            }
        ]
    }


def config(spec: EnvironmentSpec) -> dict[str, Any]:
    alerting = spec.observability.alerting
    receivers = {role: getattr(alerting, role) for role in ROLES}
    env = f'environment="{spec.environment}"'
    return {
        "route": {
            # Anything without a known severity still reaches a human, as a ticket.
            "receiver": "ticket",
            "group_by": ["alertname", "namespace", "model"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": [
                {
                    "receiver": role,
                    "matchers": [env, f'severity="{severity}"'],
                    "repeat_interval": repeat,
                }
                for role, severity, repeat in ROUTES
            ],
        },
        # A page already covers the symptom; do not also file tickets for its causes. A
        # label missing on both sides counts as equal, so `component` keeps a gateway page
        # (no model label) from silencing the environment's other model-less tickets.
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["namespace", "model", "component"],
            }
        ],
        "receivers": [{"name": role, **_receiver(role, r)} for role, r in receivers.items()],
    }
