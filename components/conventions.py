"""The keys and names the platform's objects, the policy pack and the cost report agree on:
labels, annotations, taints and GPU resource names. Each string is spelled here once;
everything else imports it (tests/test_versions_and_conventions.py checks).

Pure: no Pulumi imports.
"""

from __future__ import annotations

PREFIX = "llm-platform.dev"

# Our labels: the GPU pool a node belongs to (the default node selector of a pool), and the
# model a pod serves (the cost report and Prometheus relabelling read it).
POOL_LABEL = f"{PREFIX}/pool"
MODEL_LABEL = f"{PREFIX}/model"
# The model revision a pod serves (spec models[].revision): ServiceMonitors copy it to every
# series as `revision`, so each `llm:*` series and the canary analysis can tell versions apart.
REVISION_LABEL = f"{PREFIX}/revision"
# Which traffic a model-server pod takes. The model's Service selects SERVING_LIVE only; an
# Argo Rollouts experiment's candidate pod is relabelled SERVING_CANDIDATE (experiment
# template metadata overrides the pod template's labels: argo-rollouts v1.9.0
# rollout/experiment.go), so it gets only the eval gate's and the gateway's shadow requests.
SERVING_LABEL = f"{PREFIX}/serving"
SERVING_LIVE = "live"
SERVING_CANDIDATE = "candidate"
# Argo Rollouts' own label on the pods of each of a Rollout's ReplicaSets
# (DefaultRolloutUniqueLabelKey, argo-rollouts v1.9.0 pkg/apis/rollouts/v1alpha1/types.go); the
# ServiceMonitors copy it to every series as `pod_template_hash`.
ROLLOUT_HASH_LABEL = "rollouts-pod-template-hash"

# Our annotations. The cost report prices a pod's GPU-hours from GPU_HOUR_ANNOTATION; the
# policy pack reads the other three: why a workload must run as root (every other
# restricted-profile check still applies), why its containers must be privileged (GKE's DCGM
# exporter: privileged, allowPrivilegeEscalation and capabilities are then not checked), and
# why a Service may be a LoadBalancer.
GPU_HOUR_ANNOTATION = f"{PREFIX}/gpu-hour-usd"
RUNS_AS_ROOT_ANNOTATION = f"{PREFIX}/runs-as-root"
PRIVILEGED_ANNOTATION = f"{PREFIX}/privileged"
ALLOW_LOAD_BALANCER_ANNOTATION = f"{PREFIX}/allow-load-balancer"

# The taint the AWS budget enforcer puts on capped node groups. The Lambda cannot import
# this package, so components/aws/budget_enforcer.py keeps a copy that a test holds equal.
BUDGET_CAP_TAINT_KEY = f"{PREFIX}/budget-hard-cap"

# Kubernetes' recommended labels
# (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
APP_NAME = "app.kubernetes.io/name"
APP_INSTANCE = "app.kubernetes.io/instance"
APP_COMPONENT = "app.kubernetes.io/component"
APP_PART_OF = "app.kubernetes.io/part-of"
APP_MANAGED_BY = "app.kubernetes.io/managed-by"
RECOMMENDED_LABELS = (APP_NAME, APP_INSTANCE, APP_COMPONENT, APP_PART_OF, APP_MANAGED_BY)

# Pod Security Admission's namespace labels
# (https://kubernetes.io/docs/concepts/security/pod-security-admission/).
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PSA_ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
PSA_WARN = "pod-security.kubernetes.io/warn"
PSA_AUDIT = "pod-security.kubernetes.io/audit"

# Labels Kubernetes sets itself (https://kubernetes.io/docs/reference/labels-annotations-taints/).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
HOSTNAME_LABEL = "kubernetes.io/hostname"

# The extended resources the NVIDIA and AMD device plugins advertise. A GPU pool's taint
# has the resource's name as its key, `present` as its value on cloud node pools (the value
# GKE sets on its own GPU nodes) and NoSchedule, so only pods that tolerate it land there.
NVIDIA_GPU = "nvidia.com/gpu"
AMD_GPU = "amd.com/gpu"
GPU_RESOURCES = (NVIDIA_GPU, AMD_GPU)
GPU_TAINT_VALUE = "present"
GPU_TAINT_EFFECT = "NoSchedule"
# The label NVIDIA GPU Feature Discovery puts on a node, naming its GPU product
# (https://github.com/NVIDIA/gpu-feature-discovery); on-prem pools often select on it.
GPU_PRODUCT_LABEL = f"{NVIDIA_GPU}.product"

# Checkov reads a skip from annotations checkov.io/skip1, skip2, ... ("<check id>=<why>").
CHECKOV_SKIP = "checkov.io/skip"
