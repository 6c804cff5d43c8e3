"""The hard cost cap: a Lambda subscribed to the environment's budget topic.

When AWS Budgets reports that actual spend reached the hard cap, every GPU node group of
the environment is scaled to zero and tainted so the cluster autoscaler cannot bring it
back; the sizes it had are saved in SSM Parameter Store first. `{"action": "restore"}`
puts the saved sizes back and lifts the taint.

Runs concurrently without harm, so the function needs no reserved concurrency (which a new
account, with a quota of 10 and 10 kept unreserved, refuses): the saved size is written
only if absent, before the scale-down, so it is always the size from before the first cap;
the scale-down itself is idempotent; and when EKS refuses an update because another run's
update of the same node group is in progress, the run fails, so Lambda retries the SNS
notification (two more attempts, one and then two minutes apart:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html) and the
retry finds the group capped; the run that holds the update caps every group itself.

Runs on the Lambda Python runtime with boto3 only; it imports nothing from llm-platform.
Configuration comes from the environment: CLUSTER_NAME, ENVIRONMENT, BUDGET_NAME,
HARD_CAP_USD and STATE_PREFIX (an SSM path such as /llm-platform/aws/budget-enforcer).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger("budget-enforcer")
log.setLevel(logging.INFO)

# Node groups the foundation creates for GPU pools carry these tags.
POOL_TAG = "llm-platform-pool"
ENVIRONMENT_TAG = "environment"
CAP_TAINT = {"key": "llm-platform.dev/budget-hard-cap", "value": "true", "effect": "NO_SCHEDULE"}

_FIELD = re.compile(r"^\s*(Budget Name|Alert Type|ACTUAL Amount|Alert Threshold):\s*(.+?)\s*$")
_USD = re.compile(r"\$?\s*([0-9][0-9,]*(?:\.[0-9]+)?)")


class Malformed(ValueError):
    """A message this function cannot act on; it is logged and nothing changes."""


class Busy(RuntimeError):
    """Another run is updating a node group; raised so that Lambda retries the event."""


@dataclass(frozen=True)
class Notification:
    budget: str
    alert_type: str
    actual_usd: float


@dataclass(frozen=True)
class Config:
    cluster: str
    environment: str
    budget: str
    hard_cap_usd: float
    state_prefix: str

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            cluster=os.environ["CLUSTER_NAME"],
            environment=os.environ["ENVIRONMENT"],
            budget=os.environ["BUDGET_NAME"],
            hard_cap_usd=float(os.environ["HARD_CAP_USD"]),
            state_prefix=os.environ["STATE_PREFIX"].rstrip("/"),
        )


def parse(message: str) -> Notification:
    """Read the fields of an AWS Budgets notification (the plain-text body it publishes)."""
    fields = {}
    for line in message.splitlines():
        m = _FIELD.match(line)
        if m:
            fields[m.group(1)] = m.group(2)
    missing = [f for f in ("Budget Name", "Alert Type", "ACTUAL Amount") if f not in fields]
    if missing:
        raise Malformed(f"not an AWS Budgets notification: no {', '.join(missing)}")
    amount = _USD.search(fields["ACTUAL Amount"])
    if amount is None:
        raise Malformed(f"ACTUAL Amount is not a dollar figure: {fields['ACTUAL Amount']!r}")
    return Notification(
        budget=fields["Budget Name"],
        alert_type=fields["Alert Type"].upper(),
        actual_usd=float(amount.group(1).replace(",", "")),
    )


def _messages(event: Any) -> list[str]:
    try:
        return [r["Sns"]["Message"] for r in event["Records"]]
    except (KeyError, TypeError) as exc:
        raise Malformed(f"not an SNS event: missing {exc}") from None


class Enforcer:
    def __init__(self, config: Config, eks: Any, ssm: Any):
        self.config = config
        self.eks = eks
        self.ssm = ssm

    def gpu_node_groups(self) -> list[dict[str, Any]]:
        groups = []
        pages = self.eks.get_paginator("list_nodegroups").paginate(clusterName=self.config.cluster)
        for page in pages:
            for name in page["nodegroups"]:
                ng = self.eks.describe_nodegroup(
                    clusterName=self.config.cluster, nodegroupName=name
                )["nodegroup"]
                tags = ng.get("tags") or {}
                if POOL_TAG in tags and tags.get(ENVIRONMENT_TAG) == self.config.environment:
                    groups.append(ng)
        return groups

    def _state_name(self, nodegroup: str) -> str:
        return f"{self.config.state_prefix}/{nodegroup}"

    def cap(self) -> list[str]:
        """Scale every GPU node group to zero; return the ones this call changed."""
        changed = []
        for ng in self.gpu_node_groups():
            name = ng["nodegroupName"]
            scaling = ng["scalingConfig"]
            try:
                # Overwrite=False makes the saved size the one from before the first cap:
                # a repeated message cannot replace it with zeros.
                self.ssm.put_parameter(
                    Name=self._state_name(name),
                    Value=json.dumps(scaling, sort_keys=True),
                    Type="String",
                    Overwrite=False,
                )
            except ClientError as err:
                if err.response["Error"]["Code"] != "ParameterAlreadyExists":
                    raise
            tainted = any(t.get("key") == CAP_TAINT["key"] for t in ng.get("taints") or [])
            if scaling.get("desiredSize") == 0 and scaling.get("minSize") == 0 and tainted:
                continue
            self._update(
                name,
                # EKS keeps maxSize >= 1; the taint is what stops a scale-up from zero.
                scalingConfig={"minSize": 0, "desiredSize": 0, "maxSize": scaling["maxSize"]},
                taints={"addOrUpdateTaints": [CAP_TAINT]},
            )
            log.info("capped %s: was %s", name, scaling)
            changed.append(name)
        return changed

    def _update(self, nodegroup: str, **change: Any) -> None:
        try:
            self.eks.update_nodegroup_config(
                clusterName=self.config.cluster, nodegroupName=nodegroup, **change
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ResourceInUseException":
                log.warning("%s is being updated by another run; failing for a retry", nodegroup)
                raise Busy(f"node group {nodegroup} has an update in progress") from err
            raise

    def restore(self) -> list[str]:
        """Put back every size `cap` saved and lift the taint; return what changed."""
        changed = []
        for ng in self.gpu_node_groups():
            name = ng["nodegroupName"]
            try:
                saved = self.ssm.get_parameter(Name=self._state_name(name))["Parameter"]["Value"]
            except ClientError as err:
                if err.response["Error"]["Code"] == "ParameterNotFound":
                    continue
                raise
            scaling = json.loads(saved)
            self._update(name, scalingConfig=scaling, taints={"removeTaints": [CAP_TAINT]})
            self.ssm.delete_parameter(Name=self._state_name(name))
            log.info("restored %s to %s", name, scaling)
            changed.append(name)
        return changed

    def handle(self, event: Any) -> dict[str, Any]:
        if isinstance(event, dict) and event.get("action") == "restore":
            return {"action": "restore", "changed": self.restore()}
        try:
            notes = [parse(m) for m in _messages(event)]
        except Malformed as exc:
            log.error("rejected: %s", exc)
            return {"action": "rejected", "reason": str(exc), "changed": []}
        changed: list[str] = []
        for note in notes:
            if note.budget != self.config.budget:
                log.info("ignored: budget %r is not %r", note.budget, self.config.budget)
                continue
            if note.alert_type != "ACTUAL" or note.actual_usd < self.config.hard_cap_usd:
                log.info(
                    "below the hard cap: %s $%.2f < $%.2f",
                    note.alert_type,
                    note.actual_usd,
                    self.config.hard_cap_usd,
                )
                continue
            changed += self.cap()
        return {"action": "cap" if changed else "none", "changed": changed}


def handler(event: Any, _context: Any = None) -> dict[str, Any]:
    return Enforcer(Config.from_env(), boto3.client("eks"), boto3.client("ssm")).handle(event)
