"""The hard-cap Lambda against moto in server mode: real boto3 calls over HTTP to a local
AWS endpoint with EKS and SSM, two environments and a system node group in the way."""

from __future__ import annotations

import fnmatch
import json
import logging
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3

# moto's server imports a service's models on its first request (EKS's pull in EC2's, ~3 s of
# CPU). Imported with this module, they are in memory before mutmut forks its per-mutant runs
# from the process that collected this module, so no run imports them again.
import moto.eks.models  # noqa: F401
import moto.eks.utils
import moto.ssm.models  # noqa: F401
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from components.aws import budget_enforcer
from components.aws.budget_enforcer import Config, Enforcer

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/nodes"
# The cap's taint, written out rather than imported from the enforcer: a changed key, value or
# effect would change what the cluster autoscaler and an operator see (README, "hard cost cap";
# components/conventions.py BUDGET_CAP_TAINT_KEY).
TAINT = {"key": "llm-platform.dev/budget-hard-cap", "value": "true", "effect": "NO_SCHEDULE"}


def _sns(body: str) -> dict:
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": body}}]}


def _message(budget: str, actual: str, alert_type: str = "ACTUAL") -> dict:
    """An SNS event carrying the plain-text body AWS Budgets publishes."""
    body = (
        "AWS Budget Notification November 23, 2026\n"
        "AWS Account 123456789012\n\n"
        "Dear AWS Customer,\n\n"
        f"You requested that we alert you when the {alert_type} Cost associated with your "
        f"{budget} budget is greater than $6,000.00 for the current month.\n\n"
        f"Budget Name: {budget}\n"
        "Budget Type: Cost\n"
        "Budgeted Amount: $6,000.00\n"
        f"Alert Type: {alert_type}\n"
        "Alert Threshold: > $6,000.00\n"
        f"{alert_type} Amount: {actual}\n"
    )
    if alert_type != "ACTUAL":
        body += "ACTUAL Amount: $4,100.00\n"
    return _sns(body)


# The body of a notification that this environment's budget reached the cap.
BREACH = _message("llm-aws", "$6,012.55")["Records"][0]["Sns"]["Message"]


@pytest.fixture(scope="module")
def endpoint():
    """moto's server in a thread of this process, on a port it picks itself.

    Two of moto's costs are cut, neither in what the enforcer sees. Every node group created
    makes moto's EKS look up its launch template in EC2 (moto/eks/models.py, Nodegroup), and
    EC2's backend, rebuilt after each reset, loads some 1,300 default AMIs
    (moto/ec2/models/amis.py, _load_amis; ~0.5 s); these node groups have no launch template. And every cluster or
    node group created checks its role ARN's partition against a new boto3 Session
    (moto/eks/utils.py, validate_role_arn), which parses botocore's endpoints.json each
    time (~0.2 s); one Session gives the same partitions. moto 5.2.5."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        session = boto3.Session()
        mp.setattr(moto.eks.utils, "Session", lambda: session)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


GROUPS = {
    "system": ({"minSize": 2, "maxSize": 3, "desiredSize": 2}, {}),
    "gpu-infer": ({"minSize": 1, "maxSize": 3, "desiredSize": 2}, {"llm-platform-pool": "infer"}),
    "gpu-train": ({"minSize": 0, "maxSize": 4, "desiredSize": 1}, {"llm-platform-pool": "train"}),
}
# The sizes above as _sizes reports them (min, desired, max, tainted): what restore must give back.
REAL = {"system": (2, 2, 3, False), "gpu-infer": (1, 2, 3, False), "gpu-train": (0, 1, 4, False)}
PREFIX = "/llm-platform/aws/budget-enforcer"
# What the enforcer answers to a notification it does not act on.
NONE = {"action": "none", "changed": []}


# One cluster that two environments share: only the environment tag tells their GPU node
# groups apart.
SHARED = {
    "system": ({"minSize": 2, "maxSize": 3, "desiredSize": 2}, {"environment": "aws"}),
    "aws-infer": (
        {"minSize": 1, "maxSize": 3, "desiredSize": 2},
        {"environment": "aws", "llm-platform-pool": "infer"},
    ),
    "other-infer": (
        {"minSize": 2, "maxSize": 5, "desiredSize": 3},
        {"environment": "other", "llm-platform-pool": "infer"},
    ),
    "other-train": (
        {"minSize": 1, "maxSize": 2, "desiredSize": 1},
        {"environment": "other", "llm-platform-pool": "train"},
    ),
}
SHARED_REAL = {
    "system": (2, 2, 3, False),
    "aws-infer": (1, 2, 3, False),
    "other-infer": (2, 3, 5, False),
    "other-train": (1, 1, 2, False),
}


def _cluster(eks, cluster: str, groups: dict[str, tuple[dict, dict]]) -> None:
    eks.create_cluster(
        name=cluster,
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
    )
    for name, (scaling, tags) in groups.items():
        eks.create_nodegroup(
            clusterName=cluster,
            nodegroupName=name,
            nodeRole=ROLE,
            subnets=["subnet-1"],
            scalingConfig=scaling,
            tags=tags,
        )


def _environment(env: str) -> dict[str, tuple[dict, dict]]:
    """GROUPS, tagged as the foundation tags an environment's node groups."""
    return {name: (scaling, {"environment": env, **extra}) for name, (scaling, extra) in GROUPS.items()}


@pytest.fixture
def aws(endpoint, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    # A clean account per test: moto's reset endpoint drops every resource.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    eks = boto3.client("eks", endpoint_url=endpoint, region_name=REGION)
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)
    _cluster(eks, "llm-aws", _environment("aws"))
    return eks, ssm


@pytest.fixture
def other_environment(aws):
    """A second environment's cluster, with the same node group names and tags but its own
    environment tag, in the same account."""
    _cluster(aws[0], "llm-other", _environment("other"))
    return aws


@pytest.fixture
def shared_cluster(aws):
    _cluster(aws[0], "llm-shared", SHARED)
    return aws


def _enforcer(eks, ssm, cluster="llm-aws", env="aws") -> Enforcer:
    config = Config(
        cluster=cluster,
        environment=env,
        budget=f"llm-{env}",
        hard_cap_usd=6000.0,
        state_prefix=f"/llm-platform/{env}/budget-enforcer",
    )
    return Enforcer(config, eks, ssm)


def _sizes(eks, cluster: str) -> dict[str, tuple[int, int, int, bool]]:
    out = {}
    for name in eks.list_nodegroups(clusterName=cluster)["nodegroups"]:
        ng = eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]
        s = ng["scalingConfig"]
        taints = ng.get("taints") or []
        assert taints in ([], [TAINT]), (name, taints)
        tainted = taints == [TAINT]
        out[name] = (s["minSize"], s["desiredSize"], s["maxSize"], tainted)
    return out


def _logged(caplog) -> list[str]:
    """The enforcer's log lines as CloudWatch shows them to the operator: level and text."""
    return [f"{r.levelname} {r.getMessage()}" for r in caplog.records if r.name == "budget-enforcer"]


def test_hard_cap_scales_only_this_environments_gpu_node_groups(other_environment, caplog):
    eks, ssm = other_environment
    with caplog.at_level(logging.INFO, logger="budget-enforcer"):
        result = _enforcer(eks, ssm).handle(_message("llm-aws", "$6,012.55"))
    # The size before the cap, in the order EKS (here moto) returns the scaling config.
    assert _logged(caplog) == [
        "INFO capped gpu-infer: was {'minSize': 1, 'maxSize': 3, 'desiredSize': 2}",
        "INFO capped gpu-train: was {'minSize': 0, 'maxSize': 4, 'desiredSize': 1}",
    ]
    assert sorted(result["changed"]) == ["gpu-infer", "gpu-train"]
    assert _sizes(eks, "llm-aws") == {
        "system": (2, 2, 3, False),
        "gpu-infer": (0, 0, 3, True),
        "gpu-train": (0, 0, 4, True),
    }
    assert _sizes(eks, "llm-other") == REAL


def test_in_a_shared_cluster_a_breach_caps_only_its_own_environments_gpu_node_groups(shared_cluster):
    eks, ssm = shared_cluster
    ours = _enforcer(eks, ssm, cluster="llm-shared", env="aws")
    theirs = _enforcer(eks, ssm, cluster="llm-shared", env="other")
    # Near misses first: each environment's enforcer ignores the other's breach.
    assert ours.handle(_message("llm-other", "$9,000.00")) == NONE
    assert theirs.handle(_message("llm-aws", "$9,000.00")) == NONE
    assert _sizes(eks, "llm-shared") == SHARED_REAL
    assert ours.handle(_message("llm-aws", "$6,012.55")) == {"action": "cap", "changed": ["aws-infer"]}
    assert _sizes(eks, "llm-shared") == {
        "system": (2, 2, 3, False),
        "aws-infer": (0, 0, 3, True),
        "other-infer": (2, 3, 5, False),
        "other-train": (1, 1, 2, False),
    }
    assert _records(ssm) == {"aws-infer": '{"desiredSize": 2, "maxSize": 3, "minSize": 1}'}
    assert _records(ssm, "/llm-platform/other/budget-enforcer") == {}


def test_in_a_shared_cluster_each_environment_restores_only_its_own_node_groups(shared_cluster):
    eks, ssm = shared_cluster
    ours = _enforcer(eks, ssm, cluster="llm-shared", env="aws")
    theirs = _enforcer(eks, ssm, cluster="llm-shared", env="other")
    assert ours.handle(_message("llm-aws", "$6,012.55"))["changed"] == ["aws-infer"]
    assert sorted(theirs.handle(_message("llm-other", "$6,500.00"))["changed"]) == [
        "other-infer", "other-train"]
    assert _sizes(eks, "llm-shared") == {
        "system": (2, 2, 3, False),
        "aws-infer": (0, 0, 3, True),
        "other-infer": (0, 0, 5, True),
        "other-train": (0, 0, 2, True),
    }
    # A capped group of the other environment is neither restored nor reported as a failure
    # (its size is under the other environment's prefix).
    result = theirs.handle({"action": "restore"})
    assert (sorted(result["changed"]), result["failed"]) == (["other-infer", "other-train"], {})
    assert _sizes(eks, "llm-shared") == {**SHARED_REAL, "aws-infer": (0, 0, 3, True)}
    assert ours.handle({"action": "restore"}) == {
        "action": "restore", "changed": ["aws-infer"], "failed": {}, "forgotten": []}
    assert _sizes(eks, "llm-shared") == SHARED_REAL


def test_second_identical_message_changes_nothing_and_restore_brings_sizes_back(aws):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    capped = {"system": (2, 2, 3, False), "gpu-infer": (0, 0, 3, True), "gpu-train": (0, 0, 4, True)}
    assert enforcer.handle(_message("llm-aws", "$6,012.55"))["action"] == "cap"
    assert _sizes(eks, "llm-aws") == capped
    again = enforcer.handle(_message("llm-aws", "$6,012.55"))
    assert again == {"action": "none", "changed": []}
    assert _sizes(eks, "llm-aws") == capped
    restored = enforcer.handle({"action": "restore"})
    assert sorted(restored["changed"]) == ["gpu-infer", "gpu-train"]
    assert _sizes(eks, "llm-aws") == {
        "system": (2, 2, 3, False),
        "gpu-infer": (1, 2, 3, False),
        "gpu-train": (0, 1, 4, False),
    }
    # Nothing left to restore: a second restore is a no-op too.
    assert enforcer.handle({"action": "restore"})["changed"] == []


def test_other_budgets_forecasts_and_spend_under_the_cap_change_nothing(aws, caplog):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    long_name = "llm-" + "z" * 120  # logged up to its first 100 characters
    with caplog.at_level(logging.INFO, logger="budget-enforcer"):
        assert enforcer.handle(_message("llm-other", "$9,000.00")) == NONE
        assert enforcer.handle(_message(long_name, "$9,000.00")) == NONE
        assert enforcer.handle(_message("llm-aws", "$7,500.00", "FORECASTED")) == NONE
        assert enforcer.handle(_message("llm-aws", "$4,800.00")) == NONE
        assert enforcer.handle(_message("llm-aws", "$5,999.99")) == NONE
    assert _sizes(eks, "llm-aws") == REAL
    assert _logged(caplog) == [
        "INFO ignored: budget 'llm-other' is not 'llm-aws'",
        "INFO ignored: budget 'llm-" + "z" * 96 + "' is not 'llm-aws'",
        "INFO ignored: a FORECASTED alert is not actual spend",
        "INFO below the hard cap: $4800.00 < $6000.00",
        "INFO below the hard cap: $5999.99 < $6000.00",
    ]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"Records": [{"Sns": {"Message": "hello"}}]}, "not an AWS Budgets notification"),
        ({"detail": {}}, "not an SNS event"),
        (_message("llm-aws", "six thousand"), "not a dollar figure"),
        ("not even a mapping", "not an SNS event"),
        # The dead-letter queue's alarm publishes to the same topic (components/aws/budget.py):
        # its JSON body is rejected, not raised on, so it never lands on the queue itself.
        (_sns(json.dumps({
            "AlarmName": "llm-aws-enforcer-dlq", "NewStateValue": "ALARM",
            "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was greater than 0.0",
            "Trigger": {"MetricName": "ApproximateNumberOfMessagesVisible",
                        "Namespace": "AWS/SQS", "Threshold": 0.0}})),
         "not an AWS Budgets notification"),
    ],
)
def test_malformed_message_is_rejected_with_a_logged_reason(aws, caplog, event, reason):
    eks, ssm = aws
    with caplog.at_level(logging.ERROR, logger="budget-enforcer"):
        result = _enforcer(eks, ssm).handle(event)
    assert result["action"] == "rejected" and reason in result["reason"]
    assert any(reason in r.getMessage() for r in caplog.records)
    assert _sizes(eks, "llm-aws") == REAL
    assert ssm.describe_parameters()["Parameters"] == []


def test_lambda_handler_reads_its_configuration_from_the_environment(aws, endpoint, monkeypatch):
    eks, _ = aws
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3 clients made inside the handler
    for key, value in {
        "CLUSTER_NAME": "llm-aws",
        "ENVIRONMENT": "aws",
        "BUDGET_NAME": "llm-aws",
        "HARD_CAP_USD": "6000",
        "STATE_PREFIX": "/llm-platform/aws/budget-enforcer/",
    }.items():
        monkeypatch.setenv(key, value)
    result = budget_enforcer.handler(_message("llm-aws", "$6,000.00"))
    assert sorted(result["changed"]) == ["gpu-infer", "gpu-train"]
    saved = boto3.client("ssm", endpoint_url=endpoint).get_parameter(
        Name="/llm-platform/aws/budget-enforcer/gpu-infer"
    )
    assert json.loads(saved["Parameter"]["Value"]) == {"desiredSize": 2, "maxSize": 3, "minSize": 1}
    # SSM refuses a new parameter without a type, or of any type but these three (moto does
    # not check either when Overwrite is set, so the test does).
    assert saved["Parameter"]["Type"] == "String"


@pytest.mark.parametrize(
    ("state_prefix", "saved_as"),
    [
        ("/llm-platform/aws/budget-enforcer/", "/llm-platform/aws/budget-enforcer"),
        ("/llm-platform/aws/budget-enforcer//", "/llm-platform/aws/budget-enforcer"),
        ("/llm-platform/aws/budget-enforcer", "/llm-platform/aws/budget-enforcer"),
        # Only slashes are stripped: a path ending in any other character stays whole.
        ("/FINANCE/LLM-TAX", "/FINANCE/LLM-TAX"),
    ],
)
def test_configuration_from_the_environment(monkeypatch, state_prefix, saved_as):
    for key, value in {
        "CLUSTER_NAME": "llm-aws",
        "ENVIRONMENT": "aws",
        "BUDGET_NAME": "llm-aws-monthly",
        "HARD_CAP_USD": "6000.50",
        "STATE_PREFIX": state_prefix,
    }.items():
        monkeypatch.setenv(key, value)
    assert Config.from_env() == Config(
        cluster="llm-aws",
        environment="aws",
        budget="llm-aws-monthly",
        hard_cap_usd=6000.5,
        state_prefix=saved_as,
    )


def test_concurrent_notifications_cap_once_and_keep_the_sizes_from_before(aws, endpoint):
    """The function has no reserved concurrency, so SNS may run it several times at once.
    Each run uses its own clients, as separate Lambda instances would."""
    eks, _ = aws

    def run(_):
        clients = {s: boto3.client(s, endpoint_url=endpoint, region_name=REGION) for s in ("eks", "ssm")}
        try:
            return _enforcer(clients["eks"], clients["ssm"]).handle(_message("llm-aws", "$6,012.55"))
        except budget_enforcer.Busy:
            return {"action": "busy", "changed": []}  # Lambda would retry this event

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, range(4)))
    changed = [name for r in results for name in r["changed"]]
    assert set(changed) == {"gpu-infer", "gpu-train"}
    assert _sizes(eks, "llm-aws")["gpu-infer"] == (0, 0, 3, True)
    assert _sizes(eks, "llm-aws")["gpu-train"] == (0, 0, 4, True)
    # Whatever the interleaving, the saved sizes are the ones from before the cap.
    restored = _enforcer(eks, boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)).handle(
        {"action": "restore"})
    assert sorted(restored["changed"]) == ["gpu-infer", "gpu-train"]
    assert _sizes(eks, "llm-aws") == {
        "system": (2, 2, 3, False),
        "gpu-infer": (1, 2, 3, False),
        "gpu-train": (0, 1, 4, False),
    }


def test_an_update_already_in_progress_fails_the_run_so_lambda_retries_it(aws, caplog):
    """EKS refuses a second update of a node group while one runs (ResourceInUseException
    is among UpdateNodegroupConfig's errors in botocore's EKS service model); the run must
    fail, not report success, or SNS would count the cap as done."""
    eks, ssm = aws
    real = eks

    class UpdateInProgress:
        """The EKS API as a second concurrent run sees it: reads work, updates are refused."""

        def __getattr__(self, name):
            return getattr(real, name)

        def update_nodegroup_config(self, **_):
            raise ClientError(
                {"Error": {"Code": "ResourceInUseException", "Message": "update in progress"}},
                "UpdateNodegroupConfig",
            )

    with (
        caplog.at_level(logging.INFO, logger="budget-enforcer"),
        pytest.raises(budget_enforcer.Busy, match="^node group gpu-infer has an update in progress$"),
    ):
        _enforcer(UpdateInProgress(), ssm).handle(_message("llm-aws", "$6,012.55"))
    assert _logged(caplog) == ["WARNING gpu-infer is being updated by another run; failing for a retry"]
    # The size was saved before the refused update, so the retry still restores it later.
    saved = ssm.get_parameter(Name="/llm-platform/aws/budget-enforcer/gpu-infer")
    assert json.loads(saved["Parameter"]["Value"])["desiredSize"] == 2


def _set(eks, name: str, min_size: int, desired: int, max_size: int, untaint: bool = False):
    """What an operator does by hand in the console: resize a node group, maybe lift the taint."""
    change = {"taints": {"removeTaints": [TAINT]}} if untaint else {}
    eks.update_nodegroup_config(
        clusterName="llm-aws",
        nodegroupName=name,
        scalingConfig={"minSize": min_size, "desiredSize": desired, "maxSize": max_size},
        **change,
    )


def _records(ssm, prefix: str = PREFIX) -> dict[str, str]:
    params = ssm.get_parameters_by_path(Path=prefix)["Parameters"]
    return {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in params}


def test_a_record_left_from_an_earlier_cycle_is_replaced_by_the_size_before_this_cap(aws):
    """October's cap saved 5/5/6; the operator lifted it by hand at 1/2/3 without `restore`,
    so October's record stayed. November's cap must save 1/2/3, not keep 5/5/6."""
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    _set(eks, "gpu-infer", 5, 5, 6)
    assert "gpu-infer" in enforcer.handle(_message("llm-aws", "$6,012.55"))["changed"]
    _set(eks, "gpu-infer", 1, 2, 3, untaint=True)
    assert "gpu-infer" in enforcer.handle(_message("llm-aws", "$6,300.00"))["changed"]
    enforcer.handle({"action": "restore"})
    assert _sizes(eks, "llm-aws")["gpu-infer"] == (1, 2, 3, False)


def test_restore_leaves_a_group_lifted_by_hand_and_restores_the_next(aws):
    """The operator lifted gpu-infer's cap by hand; moto lists node groups in the order they
    were created, so gpu-train comes after it."""
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    enforcer.handle(_message("llm-aws", "$6,012.55"))
    _set(eks, "gpu-infer", 1, 1, 2, untaint=True)
    assert enforcer.handle({"action": "restore"}) == {
        "action": "restore", "changed": ["gpu-train"], "failed": {}, "forgotten": []}
    assert _sizes(eks, "llm-aws") == {**REAL, "gpu-infer": (1, 1, 2, False)}


def test_a_failed_record_clean_up_is_reported_after_the_groups_are_restored(aws, caplog):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    enforcer.handle(_message("llm-aws", "$6,012.55"))

    def denied(**_):
        """SSM's answer to a role without ssm:GetParametersByPath, given before any request."""
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
        return AWSResponse(f"https://ssm.{REGION}.amazonaws.com/", 400, {}, None), error

    ssm.meta.events.register("before-call.ssm.GetParametersByPath", denied)
    not_cleaned = (f"could not clean up {PREFIX}: An error occurred (AccessDeniedException) "
                   "when calling the GetParametersByPath operation: not authorized")
    caplog.clear()  # keep only what the restore logs
    with caplog.at_level(logging.ERROR, logger="budget-enforcer"):
        result = enforcer.handle({"action": "restore"})
    assert result == {"action": "restore", "changed": ["gpu-infer", "gpu-train"],
                      "failed": {"(records)": not_cleaned}, "forgotten": []}
    assert _logged(caplog) == [f"ERROR {not_cleaned}"]
    assert _sizes(eks, "llm-aws") == REAL


def test_a_capped_group_scaled_up_by_hand_is_capped_again_and_keeps_its_record(aws):
    """Someone raised gpu-train's desired size and left the taint: the next breach notification
    caps it again, and the record still holds the size from before the first cap."""
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    enforcer.handle(_message("llm-aws", "$6,012.55"))
    _set(eks, "gpu-train", 0, 2, 4)
    assert _sizes(eks, "llm-aws")["gpu-train"] == (0, 2, 4, True)
    assert enforcer.handle(_message("llm-aws", "$6,100.00")) == {"action": "cap", "changed": ["gpu-train"]}
    assert _sizes(eks, "llm-aws")["gpu-train"] == (0, 0, 4, True)
    assert _records(ssm)["gpu-train"] == '{"desiredSize": 1, "maxSize": 4, "minSize": 0}'


def test_a_node_group_deleted_while_the_cap_lists_them_is_skipped(aws, endpoint):
    """EKS answers DescribeNodegroup for a group deleted since ListNodegroups with
    ResourceNotFoundException; the race is made to happen right before gpu-infer is described."""
    eks, ssm = aws
    operator = boto3.client("eks", endpoint_url=endpoint, region_name=REGION)

    def delete_first(params, **_):
        if params.get("nodegroupName") == "gpu-infer":
            operator.delete_nodegroup(clusterName="llm-aws", nodegroupName="gpu-infer")

    eks.meta.events.register("before-parameter-build.eks.DescribeNodegroup", delete_first)
    assert _enforcer(eks, ssm).handle(_message("llm-aws", "$6,012.55")) == {
        "action": "cap", "changed": ["gpu-train"]}
    assert _sizes(eks, "llm-aws") == {"system": (2, 2, 3, False), "gpu-train": (0, 0, 4, True)}


# What restore tells the operator after the reason a group could not be restored.
BY_HAND = "; set its size by hand and remove the taint llm-platform.dev/budget-hard-cap"
NOT_A_SIZE = 'not a size: want integers {"minSize": >= 0, "desiredSize": >= 0, "maxSize": >= 1}'
# A value is quoted up to its first 80 characters, so a huge record makes no huge report.
LONG = '{"minSize": 1, "desiredSize": 2, "maxSize": 3, "note": "' + "y" * 60 + '"}'
BAD_RECORDS = [
    ("{not json", "is not JSON: '{not json'"),
    ("x" * 100, "is not JSON: '" + "x" * 80 + "'"),
    ('{"minSize": 1, "desiredSize": 2, "maxSize": 0}',
     """holds '{"minSize": 1, "desiredSize": 2, "maxSize": 0}', """ + NOT_A_SIZE),
    ('{"minSize": -1, "desiredSize": 2, "maxSize": 3}',
     """holds '{"minSize": -1, "desiredSize": 2, "maxSize": 3}', """ + NOT_A_SIZE),
    ('{"minSize": 1, "desiredSize": -1, "maxSize": 3}',
     """holds '{"minSize": 1, "desiredSize": -1, "maxSize": 3}', """ + NOT_A_SIZE),
    ('{"minSize": "1", "desiredSize": 2, "maxSize": 3}',
     """holds '{"minSize": "1", "desiredSize": 2, "maxSize": 3}', """ + NOT_A_SIZE),
    ('{"minSize": 1, "desiredSize": 2.0, "maxSize": 3}',
     """holds '{"minSize": 1, "desiredSize": 2.0, "maxSize": 3}', """ + NOT_A_SIZE),
    ('{"minSize": 1, "desiredSize": true, "maxSize": 3}',
     """holds '{"minSize": 1, "desiredSize": true, "maxSize": 3}', """ + NOT_A_SIZE),
    ('{"minSize": 1, "desiredSize": 2}', """holds '{"minSize": 1, "desiredSize": 2}', """ + NOT_A_SIZE),
    (LONG, "holds '" + LONG[:80] + "', " + NOT_A_SIZE),
    ("[1, 2, 3]", "holds '[1, 2, 3]', " + NOT_A_SIZE),
]


def test_a_bad_record_is_reported_and_every_other_group_is_restored(aws):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    enforcer.handle(_message("llm-aws", "$6,012.55"))
    for bad, reason in BAD_RECORDS:
        ssm.put_parameter(Name=f"{PREFIX}/gpu-infer", Value=bad, Type="String", Overwrite=True)
        result = enforcer.handle({"action": "restore"})
        assert result["failed"] == {"gpu-infer": f"{PREFIX}/gpu-infer {reason}{BY_HAND}"}, bad
        # The bad group stays capped (no guessed size); the good one is back.
        assert _sizes(eks, "llm-aws")["gpu-infer"] == (0, 0, 3, True)
        assert _sizes(eks, "llm-aws")["gpu-train"] == REAL["gpu-train"]
    ssm.put_parameter(
        Name=f"{PREFIX}/gpu-infer",
        Value='{"desiredSize": 2, "maxSize": 3, "minSize": 1}',
        Type="String",
        Overwrite=True,
    )
    assert enforcer.handle({"action": "restore"}) == {
        "action": "restore", "changed": ["gpu-infer"], "failed": {}, "forgotten": []}
    assert _sizes(eks, "llm-aws") == REAL


def test_a_missing_record_is_reported_and_every_other_group_is_restored(aws, caplog):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    enforcer.handle(_message("llm-aws", "$6,012.55"))
    ssm.delete_parameter(Name=f"{PREFIX}/gpu-infer")
    missing = f"{PREFIX}/gpu-infer is missing: no size was saved{BY_HAND}"
    caplog.clear()  # keep only what the restore logs
    with caplog.at_level(logging.INFO, logger="budget-enforcer"):
        result = enforcer.handle({"action": "restore"})
    assert result == {"action": "restore", "changed": ["gpu-train"], "failed": {"gpu-infer": missing},
                      "forgotten": []}
    # The restored size as the record holds it (keys sorted).
    assert _logged(caplog) == [
        f"ERROR not restored gpu-infer: {missing}",
        "INFO restored gpu-train to {'desiredSize': 1, 'maxSize': 4, 'minSize': 0}",
    ]
    assert _sizes(eks, "llm-aws") == {**REAL, "gpu-infer": (0, 0, 3, True)}


def test_a_restore_during_a_duplicate_cap_leaves_no_group_at_zero_without_its_size(aws, endpoint):
    """The worst interleaving, made to happen: right after restore puts gpu-infer back, a
    duplicate notification caps it again, before restore has finished."""
    eks, ssm = aws
    _enforcer(eks, ssm).handle(_message("llm-aws", "$6,012.55"))

    def duplicate_cap():
        clients = {s: boto3.client(s, endpoint_url=endpoint, region_name=REGION) for s in ("eks", "ssm")}
        _enforcer(clients["eks"], clients["ssm"]).handle(_message("llm-aws", "$6,012.55"))

    class CapRightAfterRestoringGpuInfer:
        def __getattr__(self, name):
            return getattr(eks, name)

        def update_nodegroup_config(self, **kwargs):
            eks.update_nodegroup_config(**kwargs)
            if kwargs["nodegroupName"] == "gpu-infer":
                duplicate_cap()

    _enforcer(CapRightAfterRestoringGpuInfer(), ssm).handle({"action": "restore"})
    # Whichever run won, a capped group still has its real size saved: one more restore
    # brings every group back.
    _enforcer(eks, ssm).handle({"action": "restore"})
    assert _sizes(eks, "llm-aws") == REAL


def test_concurrent_caps_and_restores_always_leave_the_real_sizes_recoverable(aws, endpoint):
    eks, ssm = aws
    _enforcer(eks, ssm).handle(_message("llm-aws", "$6,012.55"))

    def run(i):
        clients = {s: boto3.client(s, endpoint_url=endpoint, region_name=REGION) for s in ("eks", "ssm")}
        event = {"action": "restore"} if i % 2 else _message("llm-aws", "$6,012.55")
        try:
            return _enforcer(clients["eks"], clients["ssm"]).handle(event)
        except budget_enforcer.Busy:
            return {"action": "busy"}  # Lambda would retry this event

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, range(6)))
    assert all(r["action"] != "restore" or r["failed"] == {} for r in results), results
    _enforcer(eks, ssm).handle({"action": "restore"})
    assert _sizes(eks, "llm-aws") == REAL


def test_restore_forgets_the_records_of_node_groups_deleted_since_the_cap(aws, caplog):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    enforcer.handle(_message("llm-aws", "$6,012.55"))
    assert _records(ssm).keys() == {"gpu-infer", "gpu-train"}
    eks.delete_nodegroup(clusterName="llm-aws", nodegroupName="gpu-train")
    # A parameter a level below the prefix is not a record of this enforcer (it may be another
    # environment's, whose prefix nests under this one) and is left alone.
    nested = f"{PREFIX}/staging/gpu-old"
    ssm.put_parameter(Name=nested, Value='{"desiredSize": 1, "maxSize": 1, "minSize": 1}', Type="String")
    caplog.clear()  # keep only what the restore logs
    with caplog.at_level(logging.INFO, logger="budget-enforcer"):
        result = enforcer.handle({"action": "restore"})
    assert _logged(caplog) == [
        "INFO restored gpu-infer to {'desiredSize': 2, 'maxSize': 3, 'minSize': 1}",
        f"INFO forgot {PREFIX}/gpu-train: node group gpu-train no longer exists",
    ]
    assert _records(ssm) == {"gpu-infer": '{"desiredSize": 2, "maxSize": 3, "minSize": 1}'}
    assert ssm.get_parameter(Name=nested)["Parameter"]["Value"] == '{"desiredSize": 1, "maxSize": 1, "minSize": 1}'
    assert result == {"action": "restore", "changed": ["gpu-infer"], "failed": {}, "forgotten": ["gpu-train"]}
    assert _sizes(eks, "llm-aws") == {"system": REAL["system"], "gpu-infer": REAL["gpu-infer"]}


def _rejected(enforcer, event, reason: str, caplog) -> None:
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="budget-enforcer"):
        result = enforcer.handle(event)
    assert result == {"action": "rejected", "reason": reason, "changed": []}, event
    assert _logged(caplog) == [f"ERROR rejected: {reason}"], event


def test_a_null_or_non_text_sns_message_is_rejected_with_a_logged_reason(aws, caplog):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    for message, reason in (
        (None, "not an SNS event: Records[0].Sns.Message is missing or null, not text"),
        (42, "not an SNS event: Records[0].Sns.Message is a int, not text"),
        (["Budget Name: llm-aws"], "not an SNS event: Records[0].Sns.Message is a list, not text"),
        ({"Budget Name": "llm-aws"}, "not an SNS event: Records[0].Sns.Message is a dict, not text"),
    ):
        _rejected(enforcer, {"Records": [{"Sns": {"Message": message}}]}, reason, caplog)
    for event, reason in (
        ({"Records": "x"}, "not an SNS event: no Records list"),
        ({"Records": []}, "not an SNS event: no Records list"),
        ({"Records": [None]}, "not an SNS event: Records[0].Sns.Message is missing or null, not text"),
        ({"Records": [{"Sns": None}]}, "not an SNS event: Records[0].Sns.Message is missing or null, not text"),
        ({"Records": [*_sns(BREACH)["Records"], {"Sns": {}}]},
         "not an SNS event: Records[1].Sns.Message is missing or null, not text"),
    ):
        _rejected(enforcer, event, reason, caplog)
    assert _sizes(eks, "llm-aws") == REAL
    assert _records(ssm) == {}


REFUSED = [
    ("hello", "not an AWS Budgets notification: no Budget Name, Alert Type"),
    (BREACH.replace("Alert Type: ACTUAL\n", ""), "not an AWS Budgets notification: no Alert Type"),
    (BREACH.replace("ACTUAL Amount: $6,012.55\n", ""), "not an AWS Budgets notification: no ACTUAL Amount"),
    # A value is the text after the first colon, so a second colon stays in it.
    (BREACH.replace("Alert Type: ACTUAL\n", "Alert Type: ACTUAL: 1\n"),
     "Alert Type is 'ACTUAL: 1', not one of ACTUAL, FORECASTED"),
    # Quoted up to 40 and 80 characters, so a hostile field makes no huge log line.
    (BREACH.replace("Alert Type: ACTUAL\n", "Alert Type: " + "A" * 50 + "\n"),
     "Alert Type is '" + "A" * 40 + "', not one of ACTUAL, FORECASTED"),
    (BREACH.replace("ACTUAL Amount: $6,012.55", "ACTUAL Amount: $" + "9" * 100),
     "ACTUAL Amount is not a dollar figure like $6,012.55: '$" + "9" * 79 + "'"),
    (BREACH + "x" * (65_537 - len(BREACH)),
     "message is 65537 characters; an AWS Budgets notification is under 65536"),
]


def test_parse_reads_the_budget_the_alert_type_and_the_actual_amount():
    forecast = _message("llm-aws", "$7,500.00", "FORECASTED")["Records"][0]["Sns"]["Message"]
    assert budget_enforcer.parse(BREACH) == budget_enforcer.Notification("llm-aws", "ACTUAL", 6012.55)
    # A forecast's amount is not spend: only the alert type is kept.
    assert budget_enforcer.parse(forecast) == budget_enforcer.Notification("llm-aws", "FORECASTED", None)


def test_every_record_of_an_event_is_read(aws):
    """SNS hands Lambda a Records list; a breach after notifications that change nothing
    (another budget, a forecast, spend under the cap) still caps, and a second breach in the
    same event, which finds the groups capped, does not hide what the first changed."""
    eks, ssm = aws
    bodies = [
        _message("llm-other", "$9,000.00")["Records"][0]["Sns"]["Message"],
        _message("llm-aws", "$7,500.00", "FORECASTED")["Records"][0]["Sns"]["Message"],
        _message("llm-aws", "$4,800.00")["Records"][0]["Sns"]["Message"],
        BREACH,
        BREACH,
    ]
    event = {"Records": [_sns(body)["Records"][0] for body in bodies]}
    assert _enforcer(eks, ssm).handle(event) == {"action": "cap", "changed": ["gpu-infer", "gpu-train"]}
    assert _sizes(eks, "llm-aws") == {
        "system": (2, 2, 3, False), "gpu-infer": (0, 0, 3, True), "gpu-train": (0, 0, 4, True)}


def test_a_refused_notification_says_why(aws, caplog):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    for body, reason in REFUSED:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="budget-enforcer"):
            assert enforcer.handle(_sns(body)) == {"action": "rejected", "reason": reason, "changed": []}
        assert _logged(caplog) == [f"ERROR rejected: {reason}"]
    assert _sizes(eks, "llm-aws") == REAL


def test_a_notification_is_read_up_to_its_limit_and_past_lines_that_are_not_fields(aws):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    capped = {"system": (2, 2, 3, False), "gpu-infer": (0, 0, 3, True), "gpu-train": (0, 0, 4, True)}
    for body in (
        BREACH + "x" * (65_536 - len(BREACH)),  # the longest message read
        BREACH + "Note: one\nNote: two\nBudget Name\n",  # repeated or colon-less lines
    ):
        assert enforcer.handle(_sns(body)) == {"action": "cap", "changed": ["gpu-infer", "gpu-train"]}
        assert _sizes(eks, "llm-aws") == capped
        enforcer.handle({"action": "restore"})
    # A forecast carries no ACTUAL Amount to read; it is ignored, not refused.
    forecast = _message("llm-aws", "$7,500.00", "FORECASTED")["Records"][0]["Sns"]["Message"]
    assert enforcer.handle(_sns(forecast.replace("ACTUAL Amount: $4,100.00\n", ""))) == NONE
    assert _sizes(eks, "llm-aws") == REAL


def test_amounts_in_other_currencies_are_refused_not_read_as_dollars(aws, caplog):
    """The budget's unit is USD and Budgets writes "$36.69" (see budget_enforcer.FIELDS)."""
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    for amount in ("€9,000.00", "9,000.00 EUR", "CA$9,000.00", "$9,000.00 CAD", "USD 9000.00",
                   "£9000", "¥900000", "$9.000,00", "$9,00,000.00", "$9000"):
        reason = f"ACTUAL Amount is not a dollar figure like $6,012.55: {amount!r}"
        _rejected(enforcer, _message("llm-aws", amount), reason, caplog)
    assert _sizes(eks, "llm-aws") == REAL
    # The same message in dollars, grouped or not, is read and caps.
    assert enforcer.handle(_message("llm-aws", "$9000.00"))["action"] == "cap"
    assert enforcer.handle({"action": "restore"})["changed"] == ["gpu-infer", "gpu-train"]
    assert enforcer.handle(_message("llm-aws", "$9,000.00"))["action"] == "cap"


def test_a_hostile_long_message_is_dealt_with_in_linear_time(aws, caplog):
    """A 32k-space line made the old field pattern backtrack quadratically (6 s here, 16 s
    on a busy machine); a 1 MB message is refused before it is read."""
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    spaces = _message("llm-aws", "$6,012.55")
    body = spaces["Records"][0]["Sns"]["Message"].replace(
        "Budget Name: llm-aws", "Budget Name: a" + " " * 32_768 + "\0"
    )
    start = time.perf_counter()
    result = enforcer.handle({"Records": [{"Sns": {"Message": body}}]})
    took = time.perf_counter() - start
    print(f"32k-space line: {took * 1000:.1f} ms")
    assert result == {"action": "none", "changed": []}  # another budget's name: ignored
    assert took < 1.0
    huge = "Budget Name: a" + " " * 1_048_576 + "\0"
    start = time.perf_counter()
    _rejected(enforcer, {"Records": [{"Sns": {"Message": huge}}]},
              "message is 1048591 characters; an AWS Budgets notification is under 65536", caplog)
    took = time.perf_counter() - start
    print(f"1 MB message: {took * 1000:.1f} ms")
    assert took < 1.0
    # A second field of the same name, or an alert type Budgets does not send, is not guessed at.
    body = _message("llm-aws", "$6,012.55")["Records"][0]["Sns"]["Message"]
    twice = body + "Budget Name: llm-aws\n"
    _rejected(enforcer, {"Records": [{"Sns": {"Message": twice}}]},
              "not an AWS Budgets notification: Budget Name appears twice", caplog)
    odd = body.replace("Alert Type: ACTUAL", "Alert Type: ACTUAL[/red]")
    _rejected(enforcer, {"Records": [{"Sns": {"Message": odd}}]},
              "Alert Type is 'ACTUAL[/red]', not one of ACTUAL, FORECASTED", caplog)
    assert _sizes(eks, "llm-aws") == REAL


def test_the_lambdas_iam_policy_allows_every_call_it_makes(aws, endpoint):
    """Every AWS API call of a cap, a restore and the record clean-up, recorded from the
    boto3 clients, is allowed by the role policy the Budget component attaches."""
    from components.aws.iam_documents import enforcer_policy

    eks, ssm = aws
    calls: list[tuple[str, str]] = []
    nodegroup = f"arn:aws:eks:{REGION}:123456789012:nodegroup/llm-aws"
    parameter = f"arn:aws:ssm:{REGION}:123456789012:parameter"
    resource = {
        "ListNodegroups": lambda p: f"arn:aws:eks:{REGION}:123456789012:cluster/{p['clusterName']}",
        "DescribeNodegroup": lambda p: f"{nodegroup}/{p['nodegroupName']}/uuid",
        "UpdateNodegroupConfig": lambda p: f"{nodegroup}/{p['nodegroupName']}/uuid",
        "PutParameter": lambda p: parameter + p["Name"],
        "GetParameter": lambda p: parameter + p["Name"],
        "DeleteParameter": lambda p: parameter + p["Name"],
        "GetParametersByPath": lambda p: parameter + p["Path"],
    }
    for client, service in ((eks, "eks"), (ssm, "ssm")):
        client.meta.events.register(
            "before-parameter-build",
            lambda params, model, service=service, **_: calls.append(
                (f"{service}:{model.name}", resource[model.name](params))
            ),
        )
    enforcer = _enforcer(eks, ssm)
    enforcer.handle(_message("llm-aws", "$6,012.55"))
    operator = boto3.client("eks", endpoint_url=endpoint, region_name=REGION)
    operator.delete_nodegroup(clusterName="llm-aws", nodegroupName="gpu-train")
    enforcer.handle({"action": "restore"})
    statements = enforcer_policy(REGION, "123456789012", "llm-aws", PREFIX)["Statement"]

    def allowed(action: str, arn: str) -> bool:
        for st in statements:
            actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            if action in actions and fnmatch.fnmatchcase(arn, st["Resource"]):
                return True
        return False

    assert {a for a, _ in calls} >= {"ssm:GetParametersByPath", "ssm:DeleteParameter", "eks:UpdateNodegroupConfig"}
    assert [c for c in calls if not allowed(*c)] == []
