"""The hard-cap Lambda against moto in server mode: real boto3 calls over HTTP to a local
AWS endpoint with EKS and SSM, two environments and a system node group in the way."""

from __future__ import annotations

import json
import logging
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from components.aws import budget_enforcer
from components.aws.budget_enforcer import CAP_TAINT, Config, Enforcer

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/nodes"


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
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": body}}]}


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


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
    for cluster, env in (("llm-aws", "aws"), ("llm-other", "other")):
        eks.create_cluster(
            name=cluster,
            roleArn=ROLE,
            resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        )
        groups = {
            "system": ({"minSize": 2, "maxSize": 3, "desiredSize": 2}, {}),
            "gpu-infer": ({"minSize": 1, "maxSize": 3, "desiredSize": 2}, {"llm-platform-pool": "infer"}),
            "gpu-train": ({"minSize": 0, "maxSize": 4, "desiredSize": 1}, {"llm-platform-pool": "train"}),
        }
        for name, (scaling, extra) in groups.items():
            eks.create_nodegroup(
                clusterName=cluster,
                nodegroupName=name,
                nodeRole=ROLE,
                subnets=["subnet-1"],
                scalingConfig=scaling,
                tags={"environment": env, **extra},
            )
    return eks, ssm


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
        tainted = any(t["key"] == CAP_TAINT["key"] for t in ng.get("taints") or [])
        out[name] = (s["minSize"], s["desiredSize"], s["maxSize"], tainted)
    return out


def test_hard_cap_scales_only_this_environments_gpu_node_groups(aws):
    eks, ssm = aws
    before_other = _sizes(eks, "llm-other")
    result = _enforcer(eks, ssm).handle(_message("llm-aws", "$6,012.55"))
    assert sorted(result["changed"]) == ["gpu-infer", "gpu-train"]
    assert _sizes(eks, "llm-aws") == {
        "system": (2, 2, 3, False),
        "gpu-infer": (0, 0, 3, True),
        "gpu-train": (0, 0, 4, True),
    }
    assert _sizes(eks, "llm-other") == before_other


def test_second_identical_message_changes_nothing_and_restore_brings_sizes_back(aws):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    enforcer.handle(_message("llm-aws", "$6,012.55"))
    capped = _sizes(eks, "llm-aws")
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


def test_other_budgets_forecasts_and_spend_under_the_cap_change_nothing(aws):
    eks, ssm = aws
    enforcer = _enforcer(eks, ssm)
    before = _sizes(eks, "llm-aws")
    assert enforcer.handle(_message("llm-other", "$9,000.00"))["changed"] == []
    assert enforcer.handle(_message("llm-aws", "$7,500.00", "FORECASTED"))["changed"] == []
    assert enforcer.handle(_message("llm-aws", "$4,800.00"))["changed"] == []
    assert _sizes(eks, "llm-aws") == before


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"Records": [{"Sns": {"Message": "hello"}}]}, "not an AWS Budgets notification"),
        ({"detail": {}}, "not an SNS event"),
        (_message("llm-aws", "six thousand"), "not a dollar figure"),
        ("not even a mapping", "not an SNS event"),
    ],
)
def test_malformed_message_is_rejected_with_a_logged_reason(aws, caplog, event, reason):
    eks, ssm = aws
    before = _sizes(eks, "llm-aws")
    with caplog.at_level(logging.ERROR, logger="budget-enforcer"):
        result = _enforcer(eks, ssm).handle(event)
    assert result["action"] == "rejected" and reason in result["reason"]
    assert any(reason in r.getMessage() for r in caplog.records)
    assert _sizes(eks, "llm-aws") == before
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


def test_an_update_already_in_progress_fails_the_run_so_lambda_retries_it(aws):
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

    with pytest.raises(budget_enforcer.Busy, match="gpu-"):
        _enforcer(UpdateInProgress(), ssm).handle(_message("llm-aws", "$6,012.55"))
    # The size was saved before the refused update, so the retry still restores it later.
    saved = ssm.get_parameter(Name="/llm-platform/aws/budget-enforcer/gpu-infer")
    assert json.loads(saved["Parameter"]["Value"])["desiredSize"] == 2
