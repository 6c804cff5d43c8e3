"""The hard cost cap: a Lambda subscribed to the environment's budget topic.

When AWS Budgets reports that actual spend reached the hard cap, every GPU node group of
the environment is scaled to zero and tainted so the cluster autoscaler cannot bring it
back. `{"action": "restore"}` puts the saved sizes back and lifts the taint.

The saved sizes live in SSM Parameter Store, one parameter per node group
(STATE_PREFIX/<node group>, JSON {"minSize", "desiredSize", "maxSize"}), and hold the size the
group had before it was last capped. The taint tells which record is current: a group
without the taint is running at its real size, so a cap always (over)writes the group's
record from the live size before it scales the group down, whatever an earlier cycle left
there; a group with the taint was capped after its record was written, so a cap never
touches that record and restore trusts it. Restore lifts the cap only from tainted groups,
keeps the records of groups that exist (deleting one while a duplicate notification is
capping the group again could leave it at zero with nothing saved) and deletes the records
of node groups that no longer exist. It restores every group it can and reports each one it
cannot (record missing or not a size, update refused) instead of stopping half-way.

Runs concurrently without harm, so the function needs no reserved concurrency (which Lambda
refuses where it would leave under 100 unreserved, as in a new account's reduced quota):
concurrent caps write the same live size; the scale-down itself is idempotent; and when EKS
refuses an update because another run's update of the same node group is in progress, the
run fails, so Lambda retries the SNS notification (two more attempts, one and then two
minutes apart:
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
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("budget-enforcer")
log.setLevel(logging.INFO)

# Node groups the foundation creates for GPU pools carry these tags.
POOL_TAG = "llm-platform-pool"
ENVIRONMENT_TAG = "environment"
TAINT_KEY = "llm-platform.dev/budget-hard-cap"
CAP_TAINT = {"key": TAINT_KEY, "value": "true", "effect": "NO_SCHEDULE"}

# The plain-text body AWS Budgets publishes has one "Field: value" line per field, e.g.
#   Budget Name: billingThree / Alert Type: ACTUAL / ACTUAL Amount: $36.69
# (notifications captured from SNS in cds-snc/sre-bot
# app/tests/modules/webhooks/patterns/aws_sns_notifications/test_budget_notification.py,
# 2022-09-26; the AWS docs describe the Notification API, not the body). Such a body is under
# 1 KB: one over MAX_MESSAGE_CHARS is refused unread, and lines are split with str.partition
# (no pattern that can backtrack), so reading takes time linear in the message's length.
MAX_MESSAGE_CHARS = 65_536
FIELDS = ("Budget Name", "Alert Type", "ACTUAL Amount")
ALERT_TYPES = ("ACTUAL", "FORECASTED")
# The budget's limit unit is USD (components/aws/budget.py), and Budgets writes amounts as
# "$" and two decimals. Anything else ("€6,012.55", "6012.55 EUR", "CA$9.00") is refused rather
# than read as dollars. No nested quantifier, so no backtracking blow-up.
_USD = re.compile(r"\$([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)\.([0-9]{2})")
# Minimum sizes from botocore 1.44.8's EKS model (NodegroupScalingConfig: ZeroCapacity min 0
# for minSize and desiredSize, Capacity min 1 for maxSize); EKS refuses any other bad size and
# restore reports that refusal for the group.
_SIZE_MINIMUM = {"minSize": 0, "desiredSize": 0, "maxSize": 1}


class Malformed(ValueError):
    """A message this function cannot act on; it is logged and nothing changes."""


class Busy(RuntimeError):
    """Another run is updating a node group; raised so that Lambda retries the event."""


class Unrestorable(ValueError):
    """A capped node group whose saved size cannot be used; restore reports it and goes on."""


@dataclass(frozen=True)
class Notification:
    budget: str
    alert_type: str
    actual_usd: float | None  # None unless the alert is for ACTUAL spend


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


def usd(text: str) -> float:
    """A dollar figure as AWS Budgets writes it ("$6,012.55"); anything else is Malformed."""
    m = _USD.fullmatch(text)
    if m is None:
        raise Malformed(f"ACTUAL Amount is not a dollar figure like $6,012.55: {text[:80]!r}")
    return float(f"{m.group(1).replace(',', '')}.{m.group(2)}")


def _fields(message: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in message.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if sep and key in FIELDS:
            if key in fields:
                raise Malformed(f"not an AWS Budgets notification: {key} appears twice")
            fields[key] = value.strip()
    return fields


def parse(message: str) -> Notification:
    """Read the fields of an AWS Budgets notification (the plain-text body it publishes)."""
    if len(message) > MAX_MESSAGE_CHARS:
        raise Malformed(
            f"message is {len(message)} characters; an AWS Budgets notification is under "
            f"{MAX_MESSAGE_CHARS}"
        )
    fields = _fields(message)
    missing = [f for f in FIELDS[:2] if f not in fields]
    if missing:
        raise Malformed(f"not an AWS Budgets notification: no {', '.join(missing)}")
    alert_type = fields["Alert Type"]
    if alert_type not in ALERT_TYPES:
        raise Malformed(f"Alert Type is {alert_type[:40]!r}, not one of {', '.join(ALERT_TYPES)}")
    if alert_type != "ACTUAL":
        return Notification(fields["Budget Name"], alert_type, None)
    if "ACTUAL Amount" not in fields:
        raise Malformed("not an AWS Budgets notification: no ACTUAL Amount")
    return Notification(fields["Budget Name"], alert_type, usd(fields["ACTUAL Amount"]))


def _messages(event: Any) -> list[str]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        raise Malformed("not an SNS event: no Records list")
    messages = []
    for i, record in enumerate(records):
        sns = record.get("Sns") if isinstance(record, dict) else None
        message = sns.get("Message") if isinstance(sns, dict) else None
        if not isinstance(message, str):
            kind = "missing or null" if message is None else f"a {type(message).__name__}"
            raise Malformed(f"not an SNS event: Records[{i}].Sns.Message is {kind}, not text")
        messages.append(message)
    return messages


def _capped(ng: dict[str, Any]) -> bool:
    return any(t.get("key") == CAP_TAINT["key"] for t in ng.get("taints") or [])


def _size(scaling: dict[str, Any]) -> dict[str, int]:
    return {k: scaling[k] for k in _SIZE_MINIMUM}


def _valid_size(name: str, value: str) -> dict[str, int]:
    """The saved size of a node group, or Unrestorable naming the parameter and the fault."""
    try:
        size = json.loads(value)
    except ValueError:
        raise Unrestorable(f"{name} is not JSON: {value[:80]!r}") from None
    ok = isinstance(size, dict) and set(size) == set(_SIZE_MINIMUM)
    if ok:
        ok = all(
            type(size[k]) is int and size[k] >= least for k, least in _SIZE_MINIMUM.items()
        )
    if not ok:
        raise Unrestorable(
            f"{name} holds {value[:80]!r}, not a size: want integers "
            '{"minSize": >= 0, "desiredSize": >= 0, "maxSize": >= 1}'
        )
    return size


class Enforcer:
    def __init__(self, config: Config, eks: Any, ssm: Any):
        self.config = config
        self.eks = eks
        self.ssm = ssm

    def node_groups(self) -> list[dict[str, Any]]:
        """Every node group of the cluster, skipping one deleted while it is listed."""
        groups = []
        pages = self.eks.get_paginator("list_nodegroups").paginate(clusterName=self.config.cluster)
        for page in pages:
            for name in page["nodegroups"]:
                try:
                    groups.append(
                        self.eks.describe_nodegroup(
                            clusterName=self.config.cluster, nodegroupName=name
                        )["nodegroup"]
                    )
                except ClientError as err:
                    if err.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise
        return groups

    def _gpu(self, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            ng
            for ng in groups
            if POOL_TAG in (ng.get("tags") or {})
            and ng["tags"].get(ENVIRONMENT_TAG) == self.config.environment
        ]

    def gpu_node_groups(self) -> list[dict[str, Any]]:
        return self._gpu(self.node_groups())

    def _state_name(self, nodegroup: str) -> str:
        return f"{self.config.state_prefix}/{nodegroup}"

    def cap(self) -> list[str]:
        """Scale every GPU node group to zero; return the ones this call changed."""
        changed = []
        for ng in self.gpu_node_groups():
            name = ng["nodegroupName"]
            scaling = ng["scalingConfig"]
            if not _capped(ng):
                # Untainted, the group runs at its real size: save that, replacing whatever
                # an earlier cycle left, before the scale-down. A tainted group's record was
                # written before it was capped and is left alone.
                self.ssm.put_parameter(
                    Name=self._state_name(name),
                    Value=json.dumps(_size(scaling), sort_keys=True),
                    Type="String",
                    Overwrite=True,
                )
            elif scaling.get("desiredSize") == 0 and scaling.get("minSize") == 0:
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

    def _saved(self, nodegroup: str) -> dict[str, int]:
        name = self._state_name(nodegroup)
        try:
            value = self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as err:
            if err.response["Error"]["Code"] == "ParameterNotFound":
                raise Unrestorable(f"{name} is missing: no size was saved") from None
            raise
        return _valid_size(name, value)

    def _restore_one(self, ng: dict[str, Any]) -> None:
        name = ng["nodegroupName"]
        size = self._saved(name)
        self._update(name, scalingConfig=size, taints={"removeTaints": [CAP_TAINT]})
        log.info("restored %s to %s", name, size)

    def _forget_removed(self, existing: set[str]) -> list[str]:
        """Delete the records of node groups that no longer exist; return their names."""
        forgotten = []
        pages = self.ssm.get_paginator("get_parameters_by_path").paginate(
            Path=self.config.state_prefix, Recursive=False
        )
        for page in pages:
            for param in page["Parameters"]:
                nodegroup = param["Name"].rsplit("/", 1)[-1]
                if nodegroup not in existing:
                    self.ssm.delete_parameter(Name=param["Name"])
                    log.info("forgot %s: node group %s no longer exists", param["Name"], nodegroup)
                    forgotten.append(nodegroup)
        return forgotten

    def restore(self) -> dict[str, Any]:
        """Lift the cap from every capped GPU node group that has a usable saved size.

        Never stops half-way: a group that cannot be restored is logged and reported under
        "failed" with the reason, and the others are restored all the same."""
        groups = self.node_groups()
        changed: list[str] = []
        failed: dict[str, str] = {}
        for ng in self._gpu(groups):
            if not _capped(ng):
                continue
            name = ng["nodegroupName"]
            try:
                self._restore_one(ng)
                changed.append(name)
            except (Unrestorable, Busy, ClientError, BotoCoreError) as exc:
                failed[name] = f"{exc}; set its size by hand and remove the taint {TAINT_KEY}"
                log.error("not restored %s: %s", name, failed[name])
        forgotten: list[str] = []
        try:
            forgotten = self._forget_removed({ng["nodegroupName"] for ng in groups})
        except (ClientError, BotoCoreError) as exc:
            failed["(records)"] = f"could not clean up {self.config.state_prefix}: {exc}"
            log.error("%s", failed["(records)"])
        return {"action": "restore", "changed": changed, "failed": failed, "forgotten": forgotten}

    def handle(self, event: Any) -> dict[str, Any]:
        if isinstance(event, dict) and event.get("action") == "restore":
            return self.restore()
        try:
            notes = [parse(m) for m in _messages(event)]
        except Malformed as exc:
            log.error("rejected: %s", exc)
            return {"action": "rejected", "reason": str(exc), "changed": []}
        changed: list[str] = []
        for note in notes:
            if note.budget != self.config.budget:
                log.info("ignored: budget %r is not %r", note.budget[:100], self.config.budget)
                continue
            if note.actual_usd is None:
                log.info("ignored: a %s alert is not actual spend", note.alert_type)
                continue
            if note.actual_usd < self.config.hard_cap_usd:
                log.info(
                    "below the hard cap: $%.2f < $%.2f", note.actual_usd, self.config.hard_cap_usd
                )
                continue
            changed += self.cap()
        return {"action": "cap" if changed else "none", "changed": changed}


def handler(event: Any, _context: Any = None) -> dict[str, Any]:
    return Enforcer(Config.from_env(), boto3.client("eks"), boto3.client("ssm")).handle(event)
