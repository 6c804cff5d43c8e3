"""What only a real `pulumi up` would show about charts and custom resources: the order
they apply in, what render mode writes, and whether the pinned releases accept them.

The upstream facts are vendored under tests/upstream/ with their source."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pinned
import pytest
import yaml
from conftest import ROOT, STACKS, stack_spec

from components import catalog
from components import spec as spec_module
from components.catalog import versions
from components.kubernetes.gpu_runtime import GPU_OPERATOR_CHART_VERSION
from components.plan.manifests import is_object, to_object
from components.plan.runner import _SECRET, _SIG, Recorded, run_program
from components.training.contract import RunConfig

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"
# Known values for every Pulumi secret the local stack names, to look for in what a
# rendering provider would write.
SECRETS = {
    "pagerdutyRoutingKey": "pd-routing-key-5f0c2e9a",
    "slackWebhookUrl": "https://hooks.slack.com/services/T0/B0/slack-secret-81d3",
    "grafanaAdminPassword": "grafana-admin-pw-2b7e41",
    "gatewayMasterKey": "sk-gateway-master-7d21c0",
    "supportBotKey": "sk-support-bot-3e9f58",
    "toolsCiKey": "sk-tools-ci-a40b17",
    "toolsDevKey": "sk-tools-dev-c5e2d6",
}


def _variant(render: bool) -> dict[str, Any]:
    """The local stack with everything the platform can install: kube-prometheus-stack,
    Prometheus Adapter and the GPU Operator; rendered to a directory or applied."""
    raw = copy.deepcopy(stack_spec("local"))
    raw["cluster"]["gpu_operator"] = True
    if render:
        raw["cluster"]["render_to_directory"] = "out/local/rendered"
    return raw


@pytest.fixture(scope="module")
def rendered() -> list[Recorded]:
    return run_program("local", _variant(render=True), ROOT, SECRETS)


@pytest.fixture(scope="module")
def applied() -> list[Recorded]:
    return run_program("local", _variant(render=False), ROOT, SECRETS)


def _charts(resources: list[dict]) -> dict[str, dict]:
    """Chart name -> its release resource (plan.json form). A chart from an OCI registry is
    given by its reference, oci://<registry>/<path>/<name> (components/kubernetes/helm.py)."""
    return {
        r["inputs"]["chart"].rsplit("/", 1)[-1]: r
        for r in resources
        if r["type"] in (RELEASE, CHART)
    }


def _plan_form(records: list[Recorded]) -> list[dict]:
    return [r.to_json() for r in records]


# -- Order -----------------------------------------------------------------------------


def _cnpg(raw: dict[str, Any]) -> bool:
    """Whether the stack runs the gateway's database in the cluster (CloudNativePG, the
    database's default kind)."""
    gateway = raw.get("gateway")
    return gateway is not None and gateway.get("database", {}).get("kind") != "existing"


def _rollouts(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The models served by an Argo Rollouts Rollout."""
    return [m for m in raw["models"] if m.get("rollout") is not None]


def _jobsets(raw: dict[str, Any]) -> bool:
    """Whether some training job has more than one worker (a JobSet)."""
    return any(j.get("workers", 1) > 1 for j in raw.get("training", {}).get("jobs", []))


def _jobset_objects(raw: dict[str, Any]) -> set[tuple[str, str]]:
    """A training job of more than one worker, run once per change of its run (no schedule,
    no trigger that starts it): a JobSet train-<job>-<run id> (after the JobSet release)."""
    out = set()
    for j in raw.get("training", {}).get("jobs", []):
        trigger = j.get("trigger") or {}
        if j.get("workers", 1) < 2 or j.get("schedule") or trigger.get("action") == "train":
            continue
        run = RunConfig(
            job=j["name"], image=j["image"], command=tuple(j["command"]),
            base_hf_id=j["base"]["hf_id"], base_revision=j["base"]["revision"],
            dataset_uri=j["dataset"]["uri"], dataset_version=j["dataset"]["version"],
            hyperparameters=j.get("hyperparameters", {}), seed=j.get("seed", 0),
        )
        out.add(("JobSet", f"train-{j['name']}-{run.run_id()}"))
    return out


def _installed(raw: dict[str, Any]) -> set[str]:
    """The charts installing CRDs that the stack installs itself."""
    installs = {"kube-prometheus-stack"} if raw["observability"]["prometheus"]["mode"] == (
        "install") else set()
    installs |= {"argo-rollouts"} if _rollouts(raw) else set()
    installs |= {"jobset"} if _jobsets(raw) else set()
    return installs | ({"cloudnative-pg"} if _cnpg(raw) else set())


def _canaries(raw: dict[str, Any]) -> set[tuple[str, str]]:
    """A model with a rollout: its Rollout and the AnalysisTemplates it names (the gate,
    the canary analysis and, with shadow traffic, the shadow analysis)."""
    out = set()
    for m in _rollouts(raw):
        roles = ["eval-gate", "canary-analysis"] + (["shadow"] if m["rollout"].get("shadow") else [])
        out |= {("Rollout", m["name"])} | {("AnalysisTemplate", f"{m['name']}-{r}") for r in roles}
    return out


def _check_order(resources: list[dict], installed: set[str]) -> set[tuple[str, str]]:
    """Every custom resource depends on the release installing its CRD, when the stack
    installs it; returns the (kind, name) of the custom resources checked."""
    charts = _charts(resources)
    checked = set()
    for r in resources:
        if not r["custom"] or not r["type"].startswith("kubernetes:") or r["type"] == RELEASE:
            continue
        obj = {"apiVersion": r["type"].split(":")[1], "kind": r["type"].split(":")[2]}
        if not pinned.is_custom(obj):
            continue
        key = (pinned.group_of(obj["apiVersion"]), obj["kind"])
        assert key in pinned.crds(), f"{r['name']}: no vendored CRD says who installs {key}"
        installer = pinned.crds()[key][0].rsplit("-", 1)[0]  # e.g. kube-prometheus-stack
        if installer in installed:
            assert charts[installer]["urn"] in r["dependencies"], (r["name"], installer)
        else:
            assert installer not in charts
        checked.add((obj["kind"], r["inputs"]["metadata"]["name"]))
    return checked


def _backs_up(resources: list[dict]) -> bool:
    return any(r["type"] == "kubernetes:postgresql.cnpg.io/v1:Cluster"
               and "backup" in r["inputs"]["spec"] for r in resources)


def _monitors_and_rules(
    raw: dict[str, Any], resources: list[dict], dcgm: bool = True
) -> set[tuple[str, str]]:
    """The custom resources a stack makes: a ServiceMonitor and a PrometheusRule per model,
    the pushgateway's monitor, the platform's rules, and the DCGM exporter's monitor unless
    the GPU Operator runs the exporter (it then makes that monitor itself); with a gateway,
    its monitor, and with its database in the cluster the CloudNativePG Cluster and, when it
    backs up to a bucket, its nightly ScheduledBackup; a model with a rollout, its Rollout
    and AnalysisTemplates (after the Argo Rollouts release)."""
    models = [m["name"] for m in raw["models"]]
    gateway = raw.get("gateway") is not None
    return {
        *(("ServiceMonitor", m) for m in models),
        *(("PrometheusRule", f"llm-model-{m}") for m in models),
        ("ServiceMonitor", "pushgateway"), ("PrometheusRule", "llm-platform"),
        *([("ServiceMonitor", "dcgm-exporter")] if dcgm else []),
        *([("ServiceMonitor", "llm-gateway")] if gateway else []),
        *([("Cluster", "llm-gateway-db")] if _cnpg(raw) else []),
        *([("ScheduledBackup", "llm-gateway-db")] if _backs_up(resources) else []),
        *_canaries(raw),
        *_jobset_objects(raw),
    }


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_wait_for_the_release_installing_their_crds(planned, stack):
    raw, resources = stack_spec(stack), planned[stack].plan["resources"]
    assert _check_order(resources, _installed(raw)) == _monitors_and_rules(raw, resources)


def test_the_gpu_operator_and_every_monitor_wait_for_the_operator_crds(rendered, applied):
    for render, records in ((True, rendered), (False, applied)):
        resources, raw = _plan_form(records), _variant(render)
        assert _check_order(resources, _installed(raw)) == _monitors_and_rules(
            raw, resources, dcgm=False)
        charts = _charts(resources)
        # The GPU Operator creates the DCGM exporter's ServiceMonitor itself.
        assert charts["kube-prometheus-stack"]["urn"] in charts["gpu-operator"]["dependencies"]


# -- Render mode -----------------------------------------------------------------------


def _render_provider(records: list[Recorded]) -> Recorded:
    (provider,) = [r for r in records if r.type == "pulumi:providers:kubernetes"]
    return provider


def test_render_mode_renders_the_charts_with_everything_else(rendered, applied):
    """A helm.v3.Release ignores renderYamlToDirectory (components/kubernetes/helm.py), so
    in render mode every chart is a helm.v4.Chart on the rendering provider, whose objects
    that provider writes like any other; applied, charts stay Helm releases."""
    provider = _render_provider(rendered)
    assert provider.inputs["renderYamlToDirectory"] == "out/local/rendered"
    ref = f"{provider.urn}::{provider.name}-id"
    kinds = {r.type for r in rendered if r.type.startswith("kubernetes:")}
    assert RELEASE not in kinds
    for r in rendered:
        if r.type.startswith("kubernetes:"):
            assert is_object(r) or r.type == CHART, f"{r.name}: {r.type} is not rendered"
            assert r.provider == ref, r.name
    charts = {r.inputs["chart"]: r.inputs["version"] for r in rendered if r.type == CHART}
    # The pins of components/catalog/versions.yaml, vendored in tests/upstream/chart_values.
    assert charts == {
        "kube-prometheus-stack": "65.1.1", "prometheus-adapter": "4.11.0",
        "gpu-operator": "v24.9.2", "cloudnative-pg": "0.29.0",
    }
    assert {r.inputs["chart"] for r in applied if r.type == RELEASE} == set(charts)
    assert not [r for r in applied if r.type == CHART]


def test_rendered_prometheus_operator_needs_no_helm_hook(rendered, applied):
    """The rendered chart leaves out Helm hooks, and with them the Jobs that make the
    admission webhook's certificate, which the operator's TLS listener also mounts."""
    (stack,) = [r for r in rendered if r.type == CHART and r.name.endswith("prometheus-stack")]
    assert stack.inputs["values"]["prometheusOperator"] == {
        "admissionWebhooks": {"enabled": False},
        "tls": {"enabled": False},
    }
    (release,) = [r for r in applied if r.type == RELEASE and r.name.endswith("prometheus-stack")]
    assert "prometheusOperator" not in release.inputs["values"]


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG) == _SECRET:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _write_as_the_render_provider(records: list[Recorded], out: Path) -> list[Path]:
    """What the provider writes in render mode: every input in plain text, secrets
    included (pulumi-kubernetes provider/pkg/provider/provider.go `Create`, v4.32.0:
    "rendered file ... contains a secret value in plaintext"), and each chart's values,
    which its rendered objects carry."""
    out.mkdir()
    paths = []
    for i, r in enumerate(records):
        if r.type.startswith("kubernetes:"):
            path = out / f"{i:04d}-{r.name}.yaml"
            path.write_text(yaml.safe_dump(_unwrap(r.wire)))
            paths.append(path)
    return paths


def test_render_mode_writes_no_secret_value(rendered, applied, tmp_path):
    leaks = {
        (path.name, key)
        for path in _write_as_the_render_provider(rendered, tmp_path / "rendered")
        for key, value in SECRETS.items()
        if value in path.read_text()
    }
    assert not leaks
    # The same check on the applied stack finds every value: it would see a leak.
    found = {
        key
        for path in _write_as_the_render_provider(applied, tmp_path / "applied")
        for key, value in SECRETS.items()
        if value in path.read_text()
    }
    assert found == set(SECRETS)


def test_render_mode_references_the_credential_secrets_by_name(rendered):
    secrets = {r.inputs["metadata"]["name"] for r in rendered if r.type.endswith(":Secret")}
    assert secrets == {"llm-platform-alertmanager"}  # the credential-free config
    (stack,) = [r for r in rendered if r.type == CHART and r.name.endswith("prometheus-stack")]
    values = stack.inputs["values"]
    assert values["alertmanager"]["alertmanagerSpec"]["secrets"] == [
        "llm-platform-alertmanager-receivers"
    ]
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    # Nothing asks for a Pulumi secret that render mode would not use.
    assert spec_module.load_spec(_variant(render=True)).spec.secret_keys() == {}


def test_readme_documents_the_secrets_render_mode_expects():
    readme = (ROOT / "README.md").read_text()
    for command in (
        "kubectl -n monitoring create secret generic llm-platform-alertmanager-receivers",
        "--from-literal=pager=",
        "--from-literal=ticket=",
        "kubectl -n monitoring create secret generic grafana-admin",
        "--from-literal=admin-user=admin --from-literal=admin-password=",
    ):
        assert command in readme, command


def test_a_cloud_stack_cannot_render_to_a_directory():
    raw = copy.deepcopy(stack_spec("aws"))
    raw.setdefault("cluster", {})["render_to_directory"] = "out/aws/rendered"
    with pytest.raises(spec_module.SpecError) as err:
        spec_module.load_spec(raw)
    assert any(
        line.startswith("llm-platform:spec.cluster.render_to_directory: only for the on-prem")
        for line in err.value.problems
    ), err.value.problems


# -- CRD schemas -----------------------------------------------------------------------


def _custom_objects(records_or_manifests) -> list[dict]:
    objs = [
        to_object(r) if isinstance(r, Recorded) else r
        for r in records_or_manifests
        if not isinstance(r, Recorded) or is_object(r)
    ]
    return [o for o in objs if pinned.is_custom(o)]


def test_custom_resources_of_the_gpu_operator_variant_validate(rendered, applied):
    for records in (rendered, applied):
        objs = _custom_objects(records)
        assert {o["kind"] for o in objs} == {"ServiceMonitor", "PrometheusRule", "Cluster"}
        for obj in objs:
            assert not pinned.crd_errors(obj), (obj["metadata"]["name"], pinned.crd_errors(obj))


def test_crd_validation_catches_what_the_api_server_refuses(planned):
    (monitor,) = [
        o for o in planned["local"].manifests
        if o["kind"] == "ServiceMonitor" and o["metadata"]["name"] == "assistant"
    ]
    assert not pinned.crd_errors(monitor)
    typo = copy.deepcopy(monitor)
    typo["spec"]["endpoints"][0]["honourLabels"] = True
    assert any("honourLabels" in e for e in pinned.crd_errors(typo))
    bad_interval = copy.deepcopy(monitor)
    bad_interval["spec"]["endpoints"][0]["interval"] = "15"  # a duration needs its unit
    assert any(e.startswith("spec.endpoints.0.interval") for e in pinned.crd_errors(bad_interval))
    rule = next(o for o in planned["local"].manifests if o["kind"] == "PrometheusRule")
    no_expr = copy.deepcopy(rule)
    del no_expr["spec"]["groups"][0]["rules"][0]["expr"]
    assert any("'expr' is a required property" in e for e in pinned.crd_errors(no_expr))
    unknown = {**monitor, "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitoring"}
    assert pinned.crd_errors(unknown) == [
        "no CRD vendored under tests/upstream/crds for PodMonitoring (monitoring.coreos.com)"
    ]


def test_vendored_crds_are_the_pinned_charts():
    default = spec_module.Prometheus().chart_version
    cnpg = versions.chart("cloudnative-pg").version
    argo = versions.chart("argo-rollouts").version
    jobset = versions.chart("jobset").version
    assert {chart for chart, _ in pinned.crds().values()} == {
        f"kube-prometheus-stack-{default}", f"cloudnative-pg-{cnpg}", f"argo-rollouts-{argo}",
        f"jobset-{jobset}"}
    # JobSet's chart 0.12.0 is packaged with app version and image tag v0.12.0
    # (hack/helm-chart-package.sh), the catalog's controller image.
    assert pinned.chart_values("jobset", jobset)["app_version"] == "v0.12.0"
    assert versions.image("jobset-controller").endswith(":v0.12.0")
    # CloudNativePG's chart ships the CRDs of the operator release it installs.
    assert pinned.chart_values("cloudnative-pg", cnpg)["app_version"] == "1.30.0"
    # Argo Rollouts' chart 2.41.0 runs controller v1.9.0, the catalog's controller image.
    assert pinned.chart_values("argo-rollouts", argo)["app_version"] == "v1.9.0"
    assert versions.image("argo-rollouts-controller").endswith(":v1.9.0")
    for chart, crd in pinned.crds().values():
        if chart == f"cloudnative-pg-{cnpg}":
            assert crd["spec"]["group"] == "postgresql.cnpg.io", chart
            continue
        if chart == f"argo-rollouts-{argo}":
            assert crd["spec"]["group"] == "argoproj.io", chart
            continue
        if chart == f"jobset-{jobset}":
            assert crd["spec"]["group"] == "jobset.x-k8s.io", chart
            continue
        # The chart's CRDs come from the operator release it ships (appVersion).
        version = crd["metadata"]["annotations"]["operator.prometheus.io/version"]
        assert f"v{version}" == pinned.chart_values("kube-prometheus-stack", default)[
            "app_version"
        ], chart


# -- Chart value keys ------------------------------------------------------------------


def _check_values(resources: list[dict]) -> set[str]:
    """Every key set on every chart is in the pinned chart's values.yaml; returns the
    charts checked."""
    checked = set()
    for name, r in _charts(resources).items():
        vendored = pinned.chart_values(name, r["inputs"]["version"])
        assert vendored, f"{name} {r['inputs']['version']}: no key list under tests/upstream"
        assert not pinned.unknown_value_keys(r["inputs"]["values"], vendored), name
        checked.add(name)
    return checked


@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_value_key_exists_in_the_pinned_chart(planned, stack):
    _check_values(planned[stack].plan["resources"])


def test_every_chart_we_install_is_key_checked(planned, rendered, applied):
    checked = set()
    for stack in STACKS:
        checked |= _check_values(planned[stack].plan["resources"])
    checked |= _check_values(_plan_form(rendered)) | _check_values(_plan_form(applied))
    # JobSet's chart where an example stack has a training job of more than one worker
    # (tests/test_training_objects.py key-checks it on every stack either way).
    jobsets = {"jobset"} if any(_jobsets(stack_spec(s)) for s in STACKS) else set()
    assert checked == {
        "kube-prometheus-stack", "prometheus-adapter", "gpu-operator", "cluster-autoscaler",
        "cloudnative-pg", "argo-rollouts", "aws-node-termination-handler", *jobsets,
    }


def _eks_rows() -> list:
    return [v for v in catalog.kubernetes_versions().values() if v.platform == "eks"]


def test_value_key_check_catches_a_key_the_chart_does_not_have():
    row = catalog.kubernetes_version("eks", "1.31")
    vendored = pinned.chart_values("cluster-autoscaler", row.cluster_autoscaler_chart)
    assert not pinned.unknown_value_keys(
        {"rbac": {"serviceAccount": {"name": "x"}}, "podLabels": {"any": "label"}}, vendored
    )
    assert pinned.unknown_value_keys({"rbac": {"serviceAcount": {"name": "x"}}}, vendored) == [
        "rbac.serviceAcount"
    ]
    assert pinned.unknown_value_keys({"extraArgs": {"max-node-provision": "25m"}}, vendored) == [
        "extraArgs.max-node-provision (not a flag in https://github.com/kubernetes/autoscaler/"
        "blob/cluster-autoscaler-1.31.5/cluster-autoscaler/main.go)"
    ]


def test_pinned_versions_are_the_vendored_releases():
    prom = spec_module.Prometheus()
    pins = {
        "kube-prometheus-stack": prom.chart_version, "prometheus-adapter":
        prom.adapter_chart_version, "gpu-operator": GPU_OPERATOR_CHART_VERSION,
    }
    assert pins == {"kube-prometheus-stack": "65.1.1", "prometheus-adapter": "4.11.0",
                    "gpu-operator": "v24.9.2"}
    for chart, version in pins.items():
        vendored = pinned.chart_values(chart, version)
        assert (vendored["chart"], vendored["version"]) == (chart, version)
    assert len(_eks_rows()) >= 2
    for row in _eks_rows():
        autoscaler = pinned.chart_values("cluster-autoscaler", row.cluster_autoscaler_chart)
        assert autoscaler["version"] == row.cluster_autoscaler_chart, row.id
        # The chart is the one for this Kubernetes minor, and extraArgs were checked against
        # the flags of the image tag the row pins.
        assert autoscaler["app_version"].startswith(f"{row.version}."), row.id
        image = row.cluster_autoscaler_image.removeprefix("v")
        assert all(f"/cluster-autoscaler-{image}/" in s
                   for s in autoscaler["arg_maps"]["extraArgs"]["source"]), row.id


def test_the_autoscaler_values_fit_every_eks_version_in_the_catalog(planned):
    """The aws stack pins one EKS version; the same values go to any other row's chart."""
    release = _charts(planned["aws"].plan["resources"])["cluster-autoscaler"]
    assert release["inputs"]["version"] in {r.cluster_autoscaler_chart for r in _eks_rows()}
    for row in _eks_rows():
        vendored = pinned.chart_values("cluster-autoscaler", row.cluster_autoscaler_chart)
        assert not pinned.unknown_value_keys(release["inputs"]["values"], vendored), row.id


def test_policy_pack_leaves_a_rendered_charts_objects_to_the_chart():
    """Under `pulumi preview` a helm.v4.Chart's objects reach the pack one by one, where a
    helm.v3.Release's never do; the pack judges what we build, in both modes."""
    from components.plan.policy import Analyzer, Resource

    deployment = "kubernetes:apps/v1:Deployment"
    props = {"metadata": {"name": "prometheus-adapter"}, "spec": {"template": {"spec": {
        "containers": [{"name": "adapter", "image": "registry.k8s.io/prometheus-adapter:v0.12.0"}]
    }}}}
    stack = "urn:pulumi:onprem-mixed::llm-platform::"
    ours = Resource(f"{stack}llm-platform:kubernetes:Layer${deployment}::a", deployment, "a", props)
    charted = Resource(
        f"{stack}llm-platform:kubernetes:Layer$kubernetes:helm.sh/v4:Chart${deployment}::a",
        deployment, "a", props,
    )
    with Analyzer(ROOT / "policies") as analyzer:
        analyzer.configure({})
        assert {v.policy for v in analyzer.analyze(ours)} >= {"kubernetes-labels"}
        assert analyzer.analyze(charted) == []
