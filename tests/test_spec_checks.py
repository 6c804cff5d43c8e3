"""The spec's cross-field checks (components/spec/checks.py and the clouds' checks.py), one
spec edit per case: the exact lines a user reads (config path and message), or the exact
value the accepted spec plans. Every case loads the spec in this process, so `make mutate`
sees which check it reaches.

Numbers in the expected lines are worked out here from the catalog rows they come from
(components/catalog/*.yaml) and the arithmetic of the check, written beside the case."""

from __future__ import annotations

import copy
import math
from datetime import date

import pytest
from conftest import stack_spec

from components.azure import resolve as azure_resolve
from components.spec import SpecError, load_spec

# The day the catalog's support windows were checked (kubernetes_versions.yaml as_of), so
# the cases do not move with the calendar.
DAY = date(2026, 12, 1)
S = "llm-platform:spec"
DELETE = object()
VERSIONS = "components/catalog/kubernetes_versions.yaml"
K = f"{S}.aws.kubernetes_version"

# vLLM's default max_num_seqs, the planner's cap on concurrent sequences per replica
# (components/sizing.py MAX_NUM_SEQS_CAP).
SEQS_CAP = 256


def edited(stack: str, *edits: tuple[str, object]) -> dict:
    """A copy of an example stack's spec with each (dotted path, value) set; an index one
    past a list's end appends, DELETE removes the key."""
    raw = copy.deepcopy(stack_spec(stack))
    for path, value in edits:
        *parents, last = path.split(".")
        node = raw
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if value is DELETE:
            del node[last]
        elif last.isdigit() and int(last) == len(node):
            node.append(copy.deepcopy(value))
        else:
            node[int(last) if last.isdigit() else last] = copy.deepcopy(value)
    return raw


def problems(raw: dict, day: date = DAY) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_spec(raw, plan_date=day)
    return exc.value.problems


def tiny_requests(i: int = 0) -> tuple[tuple[str, object], ...]:
    """Requests of 8 + 8 tokens and a 4096-token context: a plan that fits holds at least
    max_context = 4096 = 256 x 16 KV tokens, so max_num_seqs is the cap of 256 and a peak
    of N concurrent requests needs exactly ceil(N / 256) replicas."""
    return (
        (f"models.{i}.max_context", 4096),
        (f"models.{i}.traffic.prompt_tokens_per_turn", 8),
        (f"models.{i}.traffic.completion_tokens_per_turn", 8),
    )


LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


def llama_70b_on_h100(peak: int, max_nodes: int = 3, **traffic) -> dict:
    """Llama-3.1-70B on an on-prem pool of 2x H100-80GB nodes.

    catalog: 70.6B parameters, 80 layers, 8 KV heads of 128; H100-80GB 79.65 GiB.
    TP1 cannot hold the bf16 weights (70.6e9 x 2 B = 131.5 GiB > 79.65 GiB); TP2 can
    (65.7 GiB a GPU, leaving room for 4096 tokens x 2 x 80 x 4 x 128 x 2 B = 640 MiB of KV),
    so the plan is TP2 and each replica takes 2 GPUs of the pool's max_nodes x 2."""
    return edited(
        "local",
        ("gpu_pools.0.name", "h100"),
        ("gpu_pools.0.gpu", "H100-80GB"),
        ("gpu_pools.0.max_nodes", max_nodes),
        ("gpu_pools.0.node_labels", {}),
        ("gpu_pools.0.node_allocatable", {"cpu": 200, "memory_gib": 1800}),
        ("models.0.hf_id", LLAMA_70B),
        ("models.0.pool", "h100"),
        ("models.0.weights", {"volume": "shared", "storage_class": "nfs-rwx"}),
        ("models.0.slo.peak_concurrent_requests", peak),
        *tiny_requests(),
        *((f"models.0.traffic.{k}", v) for k, v in traffic.items()),
    )


# -- the replica cap: a peak beyond the pool is planned at the pool's size, and said -------
def test_a_peak_beyond_the_pool_caps_autoscaling_at_the_pools_gpus_and_says_so():
    peak, tp, gpus_per_node, max_nodes = 2000, 2, 2, 3
    env = load_spec(llama_70b_on_h100(peak, max_nodes), plan_date=DAY)
    replicas = math.ceil(peak / SEQS_CAP)  # 8 replicas of 256 sequences
    pool_gpus = max_nodes * gpus_per_node  # 6
    capped = pool_gpus // tp  # 3
    plan = env.plans["assistant"]
    assert (plan.tensor_parallel, plan.max_num_seqs) == (tp, SEQS_CAP)
    assert plan.replicas_max == capped == 3
    assert env.warnings == [
        f"{S}.models[0].slo.peak_concurrent_requests: peak needs {replicas * tp} GPUs but "
        f"pool 'h100' has {pool_gpus}; autoscaling is capped at {capped} replicas"
    ]


def test_a_peak_that_fills_the_pool_exactly_is_not_capped():
    # 768 = 3 x 256: 3 replicas x TP2 = 6 GPUs = 3 nodes x 2.
    env = load_spec(llama_70b_on_h100(3 * SEQS_CAP), plan_date=DAY)
    assert env.plans["assistant"].replicas_max == 3
    assert env.warnings == []


# 1e9 conversations a day of 4 turns is 46,296 requests/s; each takes at least the decode of
# 8 tokens, a token reading a GPU's weights once: 65.7 GiB / 3350 GB/s = 21 ms (70B at TP2
# on H100-80GB), 14.96 GiB / 864 GB/s = 18.6 ms (8B on L40S). So the average concurrency
# (Little's law) is over 6,800, above any peak here: the minimum replicas are the peak's,
# ceil(peak / 256).
BUSY = {"conversations_per_day": 1_000_000_000, "turns_per_conversation": 4}


def test_a_minimum_beyond_the_pool_is_refused():
    # 1000 / 256 -> 4 replicas x TP2 = 8 GPUs > 3 nodes x 2.
    assert problems(llama_70b_on_h100(1000, **BUSY)) == [
        f"{S}.models[0].pool: needs at least 8 GPUs (4 replicas x TP2) but pool 'h100' has "
        "at most 6; raise max_nodes"
    ]


def test_a_minimum_that_fills_the_pool_exactly_is_accepted():
    env = load_spec(llama_70b_on_h100(3 * SEQS_CAP, **BUSY), plan_date=DAY)
    plan = env.plans["assistant"]
    assert (plan.replicas_min, plan.replicas_max) == (3, 3)
    assert env.warnings == []


# -- one edit, the exact problem lines ----------------------------------------------------
L40S_POOL = {"name": "l40s", "gpu": "L40S", "gpus_per_node": 2, "max_nodes": 1,
             "node_labels": {"nvidia.com/gpu.product": "NVIDIA-L40S"},
             "node_allocatable": {"cpu": 63.5, "memory_gib": 245}}

PROBLEMS = [
    # the environment
    ("local", [("tags.environment", "prod")],
     [f"{S}.tags.environment: must equal environment 'local' (got 'prod')"]),
    ("local", [("onprem", DELETE)],
     [f"{S}.onprem: required for topology onprem; set onprem.gpu_hour_usd to the amortised "
      "cost of one GPU-hour"]),
    ("hybrid", [("onprem", DELETE)],
     [f"{S}.onprem: required for topology hybrid; set onprem.gpu_hour_usd to the amortised "
      "cost of one GPU-hour"]),
    ("local", [], None),
    # pools
    ("local", [("gpu_pools.1", L40S_POOL)], [f"{S}.gpu_pools[1].name: duplicate pool name 'l40s'"]),
    # aws stack, pool l40s: 1x L40S. g6.xlarge carries 1x L4, g6e.12xlarge 4x L40S.
    ("aws", [("gpu_pools.0.instance_type", "g6.xlarge")],
     [f"{S}.gpu_pools[0].instance_type: g6.xlarge has 1x L4, but the pool says 1x L40S"]),
    ("aws", [("gpu_pools.0.instance_type", "g6e.12xlarge")],
     [f"{S}.gpu_pools[0].instance_type: g6e.12xlarge has 4x L40S, but the pool says 1x L40S"]),
    ("aws", [("gpu_pools.0.extra_instance_types", ["g6e.xlarge", "g6e.12xlarge"])],
     [f"{S}.gpu_pools[0].extra_instance_types[1]: g6e.12xlarge has 4x L40S, but the pool "
      "says 1x L40S"]),
    ("aws", [("gpu_pools.0.instance_type", DELETE)],
     [f"{S}.gpu_pools[0].instance_type: required for a aws pool; for 1x L40S: g6e.2xlarge, "
      "g6e.xlarge"]),
    # the L4 machines of the catalog: g6.xlarge (aws) and g2-standard-4 (gcp)
    ("gcp", [("gpu_pools.0.instance_type", DELETE)],
     [f"{S}.gpu_pools[0].instance_type: required for a gcp pool; for 1x L4: g2-standard-4"]),
    ("gcp", [("gpu_pools.0.instance_type", DELETE), ("gpu_pools.0.gpus_per_node", 2)],
     [f"{S}.gpu_pools[0].instance_type: required for a gcp pool; for 2x L4: none in the "
      "catalog"]),
    # a2-ultragpu-1g: 1x A100-80GB, as the azure stack's pool a100
    ("azure", [("gpu_pools.0.instance_type", "a2-ultragpu-1g")],
     [f"{S}.gpu_pools[0].instance_type: a2-ultragpu-1g is a gcp instance type; this pool "
      "runs on azure"]),
    ("gcp", [("gpu_pools.0.extra_instance_types", ["g2-standard-4"])],
     [f"{S}.gpu_pools[0].extra_instance_types: only AWS node groups take several instance "
      "types; a gcp node pool has one machine type"]),
    ("hybrid", [("gpu_pools.0.instance_type", "g6e.xlarge"), ("gpu_pools.0.gpus_per_node", 1)],
     [f"{S}.gpu_pools[0].instance_type: pool 'l40s' runs on the on-prem cluster; instance "
      "types are for cloud pools (in a hybrid, the training pools)"]),
    ("local", [("gpu_pools.0.extra_instance_types", ["g6e.12xlarge"])],
     [f"{S}.gpu_pools[0].extra_instance_types[0]: g6e.12xlarge has 4x L40S, but the pool "
      "says 2x L40S",
      f"{S}.gpu_pools[0].instance_type: pool 'l40s' runs on the on-prem cluster; instance "
      "types are for cloud pools (in a hybrid, the training pools)"]),
    # a spot bid is Azure's, and only for a spot pool (the azure stack: a100 on-demand,
    # train spot)
    ("azure", [("gpu_pools.0.spot_max_usd_per_hour", 2.5)],
     [f"{S}.gpu_pools[0].spot_max_usd_per_hour: only for an Azure spot pool"]),
    ("aws", [("gpu_pools.1.spot_max_usd_per_hour", 2.5)],
     [f"{S}.gpu_pools[1].spot_max_usd_per_hour: only for an Azure spot pool"]),
    # on the on-prem cluster nothing reads a bid: it was silently dropped
    ("local", [("gpu_pools.0.spot_max_usd_per_hour", 2.5)],
     [f"{S}.gpu_pools[0].spot_max_usd_per_hour: only for an Azure spot pool"]),
    ("hybrid", [("gpu_pools.0.spot_max_usd_per_hour", 2.5), ("gpu_pools.0.capacity", "spot")],
     [f"{S}.gpu_pools[0].spot_max_usd_per_hour: only for an Azure spot pool"]),
    # models
    ("local", [("models.1", stack_spec("local")["models"][0])],
     [f"{S}.models[1].name: duplicate model name 'assistant'"]),
    # Llama-3.1-8B: max_position_embeddings 131072
    ("local", [("models.0.max_context", 131073)],
     [f"{S}.models[0].max_context: must be <= the model's max positions 131072 (got 131073)"]),
    ("local", [("models.0.pool", "l40")],
     [f"{S}.models[0].pool: no gpu_pool named 'l40' (did you mean 'l40s'?); pools: l40s"]),
    ("aws", [("models.0.pool", "zzz")],
     [f"{S}.models[0].pool: no gpu_pool named 'zzz'; pools: l40s, train"]),
    ("local", [("gpu_pools.0.purpose", "training"), ("gpu_pools.0.capacity", "spot")],
     [f"{S}.models[0].pool: pool 'l40s' is for training; models are served from an "
      "inference pool"]),
    ("local", [("gpu_pools.0.gpu", "MI300X"), ("models.0.engine.kind", "tgi"),
               ("models.0.engine.image", "ghcr.io/huggingface/text-generation-inference:3.3.7")],
     [f"{S}.models[0].engine.kind: TGI's pinned image is its CUDA build, for NVIDIA GPUs; "
      "pool 'l40s' has MI300X (the ROCm build, tag suffix -rocm, is not supported here)"]),
    # Llama-3.1-8B in fp8: the embeddings and lm_head (128256 x 4096 each, untied) stay
    # 16-bit, so (8.03e9 - 1.05e9) x 1 B + 1.05e9 x 2 B = 9.08e9 B = 8.46 GiB: 9 at least
    ("local", [("models.0.quantization", "fp8"), ("models.0.weights.size_gib", 8)],
     [f"{S}.models[0].weights.size_gib: 8 GiB cannot hold the model's 9 GiB of fp8 weights; "
      "set at least 9, or leave it out for weights x 1.5"]),
    ("local", [("models.0.quantization", "fp8"), ("models.0.weights.size_gib", 9)], None),
    # topology blocks
    ("aws", [("aws", DELETE)],
     [f"{S}.aws: required when the environment runs on aws (topology aws)"]),
    ("local", [("gcp", stack_spec("gcp")["gcp"])],
     [f"{S}.gcp: set, but topology onprem does not use gcp; remove it"]),
    # the AWS pools are not GKE's: their machine types are no business of the GKE zones
    ("aws", [("gcp", stack_spec("gcp")["gcp"])],
     [f"{S}.gcp: set, but topology aws does not use gcp; remove it"]),
    # without its hybrid block a hybrid names no cloud: the aws block and the cloud
    # training pool's instance type have nowhere to go
    ("hybrid", [("hybrid", DELETE)],
     [f"{S}.aws: set, but topology hybrid does not use aws; remove it",
      f"{S}.hybrid: required for topology hybrid; set hybrid.cloud, hybrid.connectivity and "
      "hybrid.onprem_oidc_issuer",
      f"{S}.gpu_pools[1].instance_type: pool 'train' runs on the on-prem cluster; instance "
      "types are for cloud pools (in a hybrid, the training pools)"]),
    ("aws", [("hybrid", stack_spec("hybrid")["hybrid"])],
     [f"{S}.hybrid: only used with topology hybrid; remove it"]),
    ("aws", [("budget.notify_emails", [])],
     [f"{S}.budget.notify_emails: required on aws: the cloud budget's notifications must "
      "reach a person, for example [finops@example.com]"]),
    ("hybrid", [("budget.notify_emails", [])],
     [f"{S}.budget.notify_emails: required on aws: the cloud budget's notifications must "
      "reach a person, for example [finops@example.com]"]),
    ("local", [("budget.notify_emails", [])], None),
    ("aws", [("onprem", {"gpu_hour_usd": 1.1})],
     [f"{S}.onprem: only used with topologies onprem and hybrid; remove it"]),
    ("aws", [("cluster.render_to_directory", "out/aws")],
     [f"{S}.cluster.render_to_directory: only for the on-prem cluster (topologies onprem and "
      "hybrid); this stack creates its cluster and applies to it"]),
    ("local", [("cluster.render_to_directory", "out/local")], None),
    ("hybrid", [("hybrid.onprem_jwks_json", '{"keys": []}')],
     [f"{S}.hybrid.onprem_jwks_json: only GCP accepts an uploaded JWKS; aws must reach the "
      "issuer's /.well-known/openid-configuration"]),
    # scheduling
    ("gcp", [("cluster.gpu_operator", True)],
     [f"{S}.cluster.gpu_operator: GKE installs the NVIDIA driver and device plugin on its GPU "
      "node pools; the GPU Operator would run a second plugin on the same GPUs; remove it"]),
    ("local", [("cluster.gpu_operator", True)], None),
    ("hybrid", [("gpu_pools.1.node_allocatable", {"cpu": 190, "memory_gib": 2000})],
     [f"{S}.gpu_pools[1].node_allocatable: pool 'train' runs on aws, whose node allocatable "
      "comes from the catalog (components/catalog/node_reserve.yaml); remove it"]),
    # 3 CPUs and 16 GiB, less the device plugin's and the DCGM exporter's 50m / 64 MiB
    # each, halved for 1 of 2 GPUs: 1450m and 8128 MiB (7.9 GiB); a TP1 server needs
    # 2 CPUs (one for its GPU worker, one for the API server) and 8 GiB + 1 GiB of /dev/shm.
    ("local", [("gpu_pools.0.node_allocatable", {"cpu": 3, "memory_gib": 16})],
     [f"{S}.models[0].pool: model 'assistant' needs 2 CPU / 9.0 GiB per pod (TP1) but pool "
      "'l40s' (its nodes) has 1.45 CPU / 7.9 GiB for 1 of its 2 GPUs after the system "
      "reserve and the GPU DaemonSets; choose a node type with more CPU and memory per GPU"]),
    # weights
    ("local", [("models.0.weights", {"volume": "per-pod", "access_mode": "ReadWriteMany"})],
     [f"{S}.models[0].weights.access_mode: only for volume: shared; a per-pod volume is one "
      "ReadWriteOnce claim per pod (remove access_mode, or set volume: shared)"]),
    ("onprem-mixed", [("models.1.weights", DELETE)],
     [f"{S}.models[1].weights.access_mode: tensorrt-llm serves a repository built beforehand, "
      "not the Hub's weights the sync Job would copy: set weights.volume shared with "
      "access_mode ReadOnlyMany (a claim holding the build), or source.uri (a store path "
      "holding it)"]),
    ("onprem-engines", [("models.1.weights", DELETE)],
     [f"{S}.models[1].weights.volume: model 'chat-trtllm' serves a TensorRT-LLM engine built "
      "beforehand into /models/<model>/triton; with no bucket to copy it from, a new per-pod "
      "volume starts empty; set volume: shared on a claim that holds the engine"]),
    # 512 = 2 x 256 concurrent: 2 replicas
    ("local", [("models.0.weights.access_mode", "ReadWriteOnce"),
               ("models.0.slo.peak_concurrent_requests", 512), *tiny_requests()],
     [f"{S}.models[0].weights.access_mode: a ReadWriteOnce claim attaches to one node, but "
      "model 'assistant' runs up to 2 replicas that may land on another and wait for it "
      "forever; use volume: per-pod (the default) or a ReadWriteMany claim"]),
    # one replica of TP1 in a pool of 2 x 2 GPUs: a surge pod has 3 GPUs to land on
    ("local", [("models.0.weights.access_mode", "ReadWriteOnce"),
               ("models.0.slo.peak_concurrent_requests", 256), *tiny_requests()],
     [f"{S}.models[0].weights.access_mode: a ReadWriteOnce claim attaches to one node, but "
      "model 'assistant' runs a surge pod that may land on another and wait for it "
      "forever; use volume: per-pod (the default) or a ReadWriteMany claim"]),
    # one replica in a pool of one GPU: nothing can surge, the claim stays on its node
    ("local", [("models.0.weights.access_mode", "ReadWriteOnce"),
               ("models.0.slo.peak_concurrent_requests", 256), *tiny_requests(),
               ("gpu_pools.0.gpus_per_node", 1), ("gpu_pools.0.max_nodes", 1)], None),
    # names a cloud refuses
    # a tag may hold a '.', a GCP label value may not
    ("gcp", [("tags.team", "ml.platform")],
     [f"{S}.tags.team: 'ml.platform' is a label on every GCP resource, and GCP label values "
      "allow only letters (lowercased), digits, '_' and '-' (at most 63)"]),
    ("gcp", [("tags.team", "ML-Platform_2")], None),
    ("gcp", [("environment", "google-ml"), ("tags.environment", "google-ml")],
     [f"{S}.environment: 'google-ml' contains 'google', which Cloud Storage refuses in the "
      "artifacts bucket name (3-63 characters, no 'google'); choose another environment "
      "name"]),
    ("local", [("tags.team", "ml.platform"), ("environment", "google-ml"),
               ("tags.environment", "google-ml")], None),
    ("azure", [("gpu_pools.0.name", "system"), ("models.0.pool", "system")],
     [f"{S}.gpu_pools[0].name: 'system' is the name of the AKS cluster's own system pool, "
      "and AKS pool names are unique in a cluster (1-12 lowercase letters and digits); "
      "choose another name"]),
    ("aws", [("gpu_pools.0.name", "system"), ("models.0.pool", "system")], None),
    # GKE zones: gcp.region names the zone when gcp.zones is not set (default <region>-a);
    # europe-west4 has no row in zones.yaml for the three machine types
    ("gcp", [("gcp.zones", DELETE), ("gcp.region", "europe-west4")],
     [f"{S}.gcp.region: components/catalog/zones.yaml does not say which zones of "
      f"europe-west4 offer {machine} ({user}); add a row with its source"
      for machine, user in (("e2-standard-4", "the system pool"), ("g2-standard-4", "pool 'l4'"),
                            ("a2-ultragpu-1g", "pool 'train'"))]),
    # address ranges: a range overlapping two earlier ones is named once, against the first
    ("gcp", [("gcp.services_cidr", "10.0.0.0/8")],
     [f"{S}.gcp.services_cidr: 10.0.0.0/8 overlaps {S}.gcp.subnet_cidr (10.50.0.0/20); "
      "choose a range that shares no address with it"]),
    # aws pool without its instance type: the extra types are checked all the same
    ("aws", [("gpu_pools.0.instance_type", DELETE), ("gpu_pools.0.extra_instance_types",
                                                      ["g6e.12xlarge"])],
     [f"{S}.gpu_pools[0].extra_instance_types[0]: g6e.12xlarge has 4x L40S, but the pool "
      "says 1x L40S",
      f"{S}.gpu_pools[0].instance_type: required for a aws pool; for 1x L40S: g6e.2xlarge, "
      "g6e.xlarge"]),
    # a model's first problem ends its checks, never the next model's
    *(("local", [*first, ("models.1", {**stack_spec("local")["models"][0], "name": "second",
                                      "weights": {"volume": "shared", "size_gib": 14}})],
       [line, f"{S}.models[1].weights.size_gib: 14 GiB cannot hold the model's 15 GiB of "
              "16-bit weights; set at least 15, or leave it out for weights x 1.5"])
      for first, line in [
          ([("models.0.hf_id", DELETE)],
           f"{S}.models[0]: set hf_id (a catalog model) or architecture (for any other model)"),
          ([("models.0.pool", "zzz")],
           f"{S}.models[0].pool: no gpu_pool named 'zzz'; pools: l40s"),
          # BUSY traffic: the minimum is the peak's ceil(3000 / 256) = 12 TP1 replicas
          ([("models.0.slo.peak_concurrent_requests", 3000), *tiny_requests(),
            *((f"models.0.traffic.{k}", v) for k, v in BUSY.items())],
           f"{S}.models[0].pool: needs at least 12 GPUs (12 replicas x TP1) but pool 'l40s' "
           "has at most 4; raise max_nodes"),
      ]),
    # a duplicate name is one problem; the model's volume is still checked
    ("local", [("models.1", {**stack_spec("local")["models"][0],
                             "weights": {"volume": "shared", "size_gib": 14}})],
     [f"{S}.models[1].name: duplicate model name 'assistant'",
      f"{S}.models[1].weights.size_gib: 14 GiB cannot hold the model's 15 GiB of 16-bit "
      "weights; set at least 15, or leave it out for weights x 1.5"]),
    # the longest context the model takes is accepted
    ("local", [("models.0.max_context", 131072)], None),
    # RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic is stored in fp8, embeddings and lm_head
    # (128256 x 8192 each) in bf16: (70.6e9 - 2.10e9) x 1 B + 2.10e9 x 2 B = 72.70e9 B
    # = 67.71 GiB, so 68 GiB at least
    ("local", [("models.0.hf_id", "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic"),
               ("models.0.weights.size_gib", 67), ("gpu_pools.0.gpu", "H100-80GB"),
               ("gpu_pools.0.node_labels", {})],
     [f"{S}.models[0].weights.size_gib: 67 GiB cannot hold the model's 68 GiB of fp8 "
      "weights; set at least 68, or leave it out for weights x 1.5"]),
    # every cloud block's checks at once: EKS version, GKE zones, address ranges
    ("aws", [("aws.kubernetes_version", "1.28"),
             ("gcp", {**stack_spec("gcp")["gcp"], "region": "europe-west4",
                      "subnet_cidr": "10.40.0.0/20"})],
     [f"{K}: EKS 1.28 is not in {VERSIONS}; versions in standard support on 2026-12-01: "
      "1.34, 1.35",
      f"{S}.gcp.zones[0]: zone us-central1-a is not in region europe-west4",
      f"{S}.gcp.zones[1]: zone us-central1-c is not in region europe-west4",
      f"{S}.gcp.subnet_cidr: 10.40.0.0/20 overlaps {S}.aws.vpc_cidr (10.40.0.0/16); choose a "
      "range that shares no address with it",
      f"{S}.gcp: set, but topology aws does not use gcp; remove it"]),
    # zones.yaml: a2-ultragpu-1g in us-central1-a, -c; g2-standard-4 in -a, -b, -c; the
    # e2 system machines in -f too
    ("gcp", [("gcp.zones", ["us-central1-a", "us-central1-b"])],
     [f"{S}.gcp.zones[1]: us-central1-b does not offer a2-ultragpu-1g (pool 'train'); zones "
      "of us-central1 that do: us-central1-a, us-central1-c"]),
    ("gcp", [("gcp.zones", ["us-central1-f"])],
     [f"{S}.gcp.zones[0]: us-central1-f does not offer g2-standard-4 (pool 'l4'); zones of "
      "us-central1 that do: us-central1-a, us-central1-b, us-central1-c",
      f"{S}.gcp.zones[0]: us-central1-f does not offer a2-ultragpu-1g (pool 'train'); zones "
      "of us-central1 that do: us-central1-a, us-central1-c"]),
    # the checks go on past a pool shared by fewer than two models
    ("local", [("gpu_pools.1", {**L40S_POOL, "name": "shared", "gpus_per_node": 1}),
               ("models.1", {**stack_spec("local")["models"][0], "name": "second",
                             "pool": "shared"}),
               ("models.2", {**stack_spec("local")["models"][0], "name": "third",
                             "pool": "shared"})],
     [f"{S}.gpu_pools[1].max_nodes: models second, third need 2 GPUs at their minimum "
      "replicas but pool 'shared' has at most 1; raise max_nodes or move a model to another "
      "pool"]),
    # and past a model with no plan
    ("local", [("models.0.pool", "zzz"),
               ("models.1", {**stack_spec("local")["models"][0], "name": "second",
                             "weights": {"volume": "per-pod", "access_mode": "ReadWriteMany"}})],
     [f"{S}.models[0].pool: no gpu_pool named 'zzz'; pools: l40s",
      f"{S}.models[1].weights.access_mode: only for volume: shared; a per-pod volume is one "
      "ReadWriteOnce claim per pod (remove access_mode, or set volume: shared)"]),
    # each managed cluster's version is checked (aks-1.34 left standard support 2026-11-30)
    ("aws", [("aws.kubernetes_version", "1.28"),
             ("azure", {**stack_spec("azure")["azure"], "kubernetes_version": "1.34"})],
     [f"{K}: EKS 1.28 is not in {VERSIONS}; versions in standard support on 2026-12-01: "
      "1.34, 1.35",
      f"{S}.azure.kubernetes_version: AKS 1.34 left standard support on 2026-11-30; versions "
      "in standard support on 2026-12-01: 1.35, 1.36, 1.37 (AKS long-term support needs the "
      "Premium tier and does not support the Key Vault KMS encryption this cluster uses)",
      f"{S}.azure: set, but topology aws does not use azure; remove it"]),
    # in a hybrid on Azure the on-prem pool is no AKS pool: its name is free (and the
    # training job's final checkpoint fits Azure's shorter grace)
    ("hybrid", [("aws", DELETE), ("azure", stack_spec("azure")["azure"]),
                ("hybrid.cloud", "azure"),
                ("gpu_pools.1.instance_type", "Standard_ND96isr_H100_v5"),
                ("gpu_pools.0.name", "system"), ("models.0.pool", "system"),
                ("training.jobs.0.checkpoint_seconds", 10)], None),
]


def _case_id(case: tuple) -> str:
    return f"{case[0]}:{','.join(path for path, _ in case[1]) or 'as-is'}"


@pytest.mark.parametrize(("stack", "edits", "expected"), PROBLEMS, ids=map(_case_id, PROBLEMS))
def test_one_edit_gives_exactly_these_problems(stack, edits, expected):
    raw = edited(stack, *edits)
    if expected is None:
        assert load_spec(raw, plan_date=DAY).spec.environment == raw["environment"]
    else:
        assert problems(raw) == expected


WARNINGS = [
    ("local", [("gpu_pools.0.gpu", "MI300X"), ("gpu_pools.0.node_labels", {})],
     [f"{S}.gpu_pools[0].gpu: MI300X nodes need AMD's ROCm device plugin, which "
      "llm-platform does not install; the NVIDIA runtime skips this pool"]),
    ("local", [("gpu_pools.0.gpu", "MI300X"), ("gpu_pools.0.node_labels", {}),
               ("cluster.gpu_operator", True)], []),
    ("aws", [("gpu_pools.1.capacity", "on-demand"),
             ("training.jobs.0.on_demand_reason", "a deadline no reclaim may delay")],
     [f"{S}.gpu_pools[1].capacity: training pool 'train' is on-demand; checkpointed training "
      "can run on spot at a fraction of the price (see components/catalog/instances.yaml)"]),
    # the on-prem cluster's nodes are owned: nothing to buy on spot
    ("local", [("gpu_pools.1", {"name": "train", "gpu": "H100-80GB", "gpus_per_node": 8,
                                "max_nodes": 2, "purpose": "training"})], []),
    ("local", [("gpu_pools.1", {"name": "train", "gpu": "H100-80GB", "gpus_per_node": 8,
                                "max_nodes": 2, "purpose": "training", "capacity": "spot"})],
     []),
    # floor of a TP1 server: 2 CPUs (GPU worker + API server), 8 GiB host + 1 GiB /dev/shm
    ("local", [("gpu_pools.0.node_allocatable", DELETE)],
     [f"{S}.gpu_pools[0].node_allocatable: pool 'l40s' declares no node size, so model "
      "'assistant' requests and is limited to its floor of 2 CPU / 9.0 GiB and its fit is "
      "not checked; set cpu and memory_gib from `kubectl get node -o "
      "jsonpath='{.status.allocatable}'`"]),
    ("local", [("models.0.engine.image", "vllm/vllm-openai:v0.32.0")],
     [f"{S}.models[0].engine.image: engine flags and metric names target "
      "vllm/vllm-openai:v0.33.0; with vllm/vllm-openai:v0.32.0 the server may refuse a flag "
      "or the alerts may see no series"]),
    ("local", [("models.0.engine.image", "vllm/vllm-openai:v0.33.0@sha256:" + "a" * 64)], []),
    # eks-1.34 leaves standard support the day after; the engine image is another release
    ("aws", [("aws.kubernetes_version", "1.34"),
             ("models.0.engine.image", "vllm/vllm-openai:v0.32.0")],
     [f"{K}: EKS 1.34 leaves standard support on 2026-12-02, 1 days after the plan date; "
      "versions in standard support on 2026-12-01: 1.34, 1.35",
      f"{S}.models[0].engine.image: engine flags and metric names target "
      "vllm/vllm-openai:v0.33.0; with vllm/vllm-openai:v0.32.0 the server may refuse a flag "
      "or the alerts may see no series"]),
]


@pytest.mark.parametrize(("stack", "edits", "expected"), WARNINGS, ids=map(_case_id, WARNINGS))
def test_one_edit_gives_exactly_these_warnings(stack, edits, expected):
    assert load_spec(edited(stack, *edits), plan_date=DAY).warnings == expected


def test_an_azure_spot_pool_keeps_its_spot_price_and_an_on_demand_pool_has_none():
    """The bid is Azure's spot max price; an on-demand pool with one is refused (above)."""
    raw = edited("azure", ("gpu_pools.1.spot_max_usd_per_hour", 2.5))
    env = load_spec(raw, plan_date=DAY)
    assert [(p.name, p.capacity, p.spot_max_usd_per_hour) for p in env.spec.gpu_pools] == [
        ("a100", "on-demand", None), ("train", "spot", 2.5)]
    # The agent pools the foundation creates: the spot pool bids 2.5 USD/h, not the
    # catalog's on-demand 3.673; the on-demand pool bids nothing.
    pools = azure_resolve.foundation_args(env, {}).pools
    assert (pools["train"].spot, pools["train"].spot_max_usd_per_hour) == (True, 2.5)
    assert (pools["a100"].spot, pools["a100"].spot_max_usd_per_hour) == (False, None)


def test_the_models_serving_settings_reach_its_plan():
    # Llama-3.1-8B quantized to fp8 at load: the embeddings and lm_head (2 x 128256 x 4096)
    # stay 16-bit, (8.03e9 - 1.05e9) x 1 B + 1.05e9 x 2 B = 9.08e9 B = 8.457 GiB on 1 GPU.
    raw = edited("local", ("models.0.quantization", "fp8"), ("models.0.kv_cache_dtype", "fp8"),
                 ("models.0.prefix_caching", False))
    plan = load_spec(raw, plan_date=DAY).plans["assistant"]
    embed = 2 * 128256 * 4096
    assert plan.budget.weights_gib == pytest.approx(((8.03e9 - embed) + embed * 2) / 2**30,
                                                    abs=1e-3)
    assert (plan.quantize_at_load, plan.kv_cache_dtype, plan.prefix_caching) == (
        "fp8", "fp8", False)
    # A checkpoint stored in fp8 is loaded as it is: 72.70e9 B (above) over TP2 = 33.85 GiB
    # (at TP1, 67.7 GiB of weights leave too little of 0.9 x 79.65 = 71.7 GiB for the
    # activations and the KV cache).
    raw = llama_70b_on_h100(256)
    raw["models"][0]["hf_id"] = "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic"
    plan = load_spec(raw, plan_date=DAY).plans["assistant"]
    embed = 2 * 128256 * 8192
    assert plan.budget.weights_gib == pytest.approx(((70.6e9 - embed) + embed * 2) / 2 / 2**30,
                                                    abs=1e-3)
    assert (plan.tensor_parallel, plan.quantize_at_load) == (2, None)


def test_models_sharing_a_pool_fit_together_at_their_minimum_and_warn_at_peak():
    # Three copies of the model on 2 nodes of 1 L40S: each needs 1 GPU at its minimum, 3 > 2.
    # (TP1: 15 GiB of weights on 45 GiB. 1 replica: 30,000 conversations x 4 turns a day are
    # 1.39 requests/s of about 250 x 18.6 ms = 4.7 s of decode, ~6.5 in flight, far under
    # one replica's KV cache of 20+ GiB / 128 KiB a token / 1,450 tokens a request.)
    first = stack_spec("local")["models"][0]
    copies = [("models.1", {**first, "name": "second"}), ("models.2", {**first, "name": "third"})]
    small = [("gpu_pools.0.gpus_per_node", 1), ("gpu_pools.0.max_nodes", 2)]
    assert problems(edited("local", *small, *copies)) == [
        f"{S}.gpu_pools[0].max_nodes: models assistant, second, third need 3 GPUs at their "
        "minimum replicas but pool 'l40s' has at most 2; raise max_nodes or move a model to "
        "another pool"
    ]
    # Two copies, each peaking at 512 = 2 x 256 concurrent: 2 replicas each, 4 GPUs > 2.
    peaks = [(f"models.{i}.slo.peak_concurrent_requests", 512) for i in (0, 1)]
    raw = edited("local", *small, copies[0], *tiny_requests(0), *tiny_requests(1), *peaks)
    assert load_spec(raw, plan_date=DAY).warnings == [
        f"{S}.gpu_pools[0].max_nodes: models assistant, second need 4 GPUs at peak but pool "
        "'l40s' has 2; they will compete for GPUs when all scale out"
    ]
    # At 256 each, 1 replica each: 2 GPUs fill the pool, no warning.
    peaks = [(f"models.{i}.slo.peak_concurrent_requests", 256) for i in (0, 1)]
    raw = edited("local", *small, copies[0], *tiny_requests(0), *tiny_requests(1), *peaks)
    assert load_spec(raw, plan_date=DAY).warnings == []


SHAPE = [
    # an unknown key names the fields of the block it is in, sorted
    ("local", [("budget.colour", 1)],
     [f"{S}.budget.colour: unknown field; allowed here: alert_thresholds_pct, hard_cap_pct, "
      "monthly_usd, notify_emails"]),
    ("local", [("models.0.weights.colour", 1)],
     [f"{S}.models[0].weights.colour: unknown field; allowed here: access_mode, size_gib, "
      "storage_class, volume"]),
    # through a discriminated union: the tag (vpn) is no key of the config
    ("hybrid", [("hybrid.connectivity.mtu", 1400)],
     [f"{S}.hybrid.connectivity.mtu: unknown field; allowed here: bgp_asn, kind, "
      "onprem_cidrs, peer_ip, shared_key_secret"]),
    ("hybrid", [("hybrid.connectivity.peer_ip", "10.1.2.3")],
     [f"{S}.hybrid.connectivity.peer_ip: must be the gateway's public address (got 10.1.2.3)"]),
    # a field naming a secret never echoes its value
    ("local", [("models.0.hf_token_secret.name", "Bad Name")],
     [f"{S}.models[0].hf_token_secret.name: String should match pattern "
      "'^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$' (value not shown: this field names a secret and "
      "must not hold one)"]),
    ("local", [("tags.owner", DELETE)], [f"{S}.tags.owner: Field required"]),
    # every problem, an unknown field's and the next one's
    ("local", [("models.0.weights.colour", 1), ("observability.prometheus.mode", "x")],
     [f"{S}.models[0].weights.colour: unknown field; allowed here: access_mode, size_gib, "
      "storage_class, volume",
      f"{S}.observability.prometheus.mode: Input should be 'install' or 'existing' (got 'x')"]),
    # a list or mapping given is not echoed; a scalar is
    ("local", [("models.0.slo", [1])],
     [f"{S}.models[0].slo: Input should be a valid dictionary or instance of Slo"]),
    ("local", [("models.0.slo", "fast")],
     [f"{S}.models[0].slo: Input should be a valid dictionary or instance of Slo (got 'fast')"]),
    ("local", [("gpu_pools.0.node_labels", {"bad key!": "x"})],
     [f"{S}.gpu_pools[0].node_labels['bad key!']: key: String should match pattern "
      "'^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}"
      "[A-Za-z0-9])?$' (got 'bad key!')"]),
]


@pytest.mark.parametrize(("stack", "edits", "expected"), SHAPE, ids=map(_case_id, SHAPE))
def test_a_badly_shaped_field_is_one_line_at_its_config_path(stack, edits, expected):
    assert problems(edited(stack, *edits)) == expected


# Llama-3.1-8B's dimensions: one expert's gated MLP over all layers is
# 32 x 3 x 4096 x 14336 = 5.637144576B parameters.
LLAMA_8B = {
    "params_b": 8.03, "layers": 32, "attention_heads": 32, "kv_heads": 8, "head_dim": 128,
    "hidden_size": 4096, "intermediate_size": 14336, "vocab_size": 128256,
    "max_position_embeddings": 131072}
ARCH = f"{S}.models[0].architecture"


@pytest.mark.parametrize(("changes", "expected"), [
    # a dense model (one expert) may be smaller than its MLP formula: no expert count to check
    ({"params_b": 5}, None),
    # two experts hold 11.27B, more than 11B
    ({"num_experts": 2, "experts_per_token": 1, "params_b": 11},
     [f"{ARCH}.params_b: 2 experts of layers x 3 x hidden_size x intermediate_size hold "
      "11.3B parameters, more than the model's 11.0B; params_b is the total over all experts"]),
    # exactly the experts and nothing else is possible
    ({"num_experts": 2, "experts_per_token": 1, "params_b": 11.274289152}, None),
    # contradicting heads are the one problem: the expert sum is not judged on top
    ({"num_experts": 64, "experts_per_token": 2, "kv_heads": 12},
     [f"{ARCH}.kv_heads: must divide attention_heads (32) (got 12)"]),
], ids=["dense", "two-experts-too-big", "two-experts-exact", "heads-first"])
def test_experts_must_fit_in_the_parameter_count(changes, expected):
    raw = edited("local", ("models.0.hf_id", DELETE),
                 ("models.0.architecture", {**LLAMA_8B, **changes}))
    if expected is None:
        assert set(load_spec(raw, plan_date=DAY).plans) == {"assistant"}
    else:
        assert problems(raw) == expected


def test_a_spec_that_is_not_a_mapping_is_one_line():
    with pytest.raises(SpecError) as exc:
        load_spec(["environment: local"])
    assert exc.value.problems == [f"{S}: must be a mapping (got list)"]


# -- Kubernetes support windows (kubernetes_versions.yaml rows, quoted per case) -----------
def _version(stack: str, version: str, extended: bool | None = None) -> dict:
    block = "azure" if stack == "azure" else "aws"
    raw = edited(stack, (f"{block}.kubernetes_version", version))
    if extended is not None:
        raw["aws"]["extended_support"] = extended
    return raw


SUPPORT = [
    # eks-1.28: no row
    ("aws", "1.28", None, DAY,
     [f"{K}: EKS 1.28 is not in {VERSIONS}; versions in standard support on 2026-12-01: "
      "1.34, 1.35"], []),
    # eks-1.35 released 2026-01 (read as 2026-01-31); eks-1.32 ends standard 2026-03-23
    ("aws", "1.35", None, date(2026, 1, 30),
     [f"{K}: EKS 1.35 is not generally available until 2026-01; versions in standard "
      "support on 2026-01-30: 1.32, 1.33, 1.34"], []),
    ("aws", "1.35", None, date(2026, 1, 31), None, []),
    ("aws", "1.28", None, date(2026, 1, 31),
     [f"{K}: EKS 1.28 is not in {VERSIONS}; versions in standard support on 2026-01-31: "
      "1.32, 1.33, 1.34, 1.35"], []),
    # eks-1.34 ends standard support 2026-12-02: 1 day left on 2026-12-01
    ("aws", "1.34", None, DAY, None,
     [f"{K}: EKS 1.34 leaves standard support on 2026-12-02, 1 days after the plan date; "
      "versions in standard support on 2026-12-01: 1.34, 1.35"]),
    # eks-1.35 ends standard 2027-03-27: 91 days after 2026-12-26, 90 after 2026-12-27
    ("aws", "1.35", None, date(2026, 12, 26), None, []),
    ("aws", "1.35", None, date(2026, 12, 27), None,
     [f"{K}: EKS 1.35 leaves standard support on 2027-03-27, 90 days after the plan date; "
      "versions in standard support on 2026-12-27: 1.35"]),
    # on its end_of_standard day 1.34 is out of standard support, in extended until 2027-12-02
    ("aws", "1.34", None, date(2026, 12, 2),
     [f"{K}: EKS 1.34 left standard support on 2026-12-02; versions in standard support on "
      f"2026-12-02: 1.35, or set {S}.aws.extended_support: true to pay for extended "
      "support"], []),
    ("aws", "1.34", True, date(2026, 12, 2), None,
     [f"{K}: EKS 1.34 is in extended support until 2027-12-02, at its price"]),
    # eks-1.31: extended support ends 2026-11-26, the first day out of it
    ("aws", "1.31", True, date(2026, 11, 25), None,
     [f"{K}: EKS 1.31 is in extended support until 2026-11-26, at its price"]),
    ("aws", "1.31", True, date(2026, 11, 26),
     [f"{K}: EKS 1.31 is out of support since 2026-11-26; versions in standard support on "
      "2026-11-26: 1.34, 1.35"], []),
    # the hybrid's cloud cluster is checked the same way
    ("hybrid", "1.31", False, DAY,
     [f"{K}: EKS 1.31 is out of support since 2026-11-26; versions in standard support on "
      "2026-12-01: 1.34, 1.35"], []),
    # aks-1.34 ends standard 2026-11-30; AKS offers no extended support here
    ("azure", "1.34", None, DAY,
     [f"{S}.azure.kubernetes_version: AKS 1.34 left standard support on 2026-11-30; versions "
      "in standard support on 2026-12-01: 1.35, 1.36, 1.37 (AKS long-term support needs the "
      "Premium tier and does not support the Key Vault KMS encryption this cluster uses)"],
     []),
]


@pytest.mark.parametrize(("stack", "version", "extended", "day", "expected", "warned"), SUPPORT,
                         ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in SUPPORT])
def test_kubernetes_version_support_window(stack, version, extended, day, expected, warned):
    raw = _version(stack, version, extended)
    if expected is None:
        assert load_spec(raw, plan_date=day).warnings == warned
    else:
        assert problems(raw, day) == expected


def test_a_plan_date_that_is_not_a_date_is_one_line(monkeypatch):
    monkeypatch.setenv("LLM_PLATFORM_PLAN_DATE", "2026-13-01")
    with pytest.raises(SpecError) as exc:
        load_spec(stack_spec("aws"))
    assert exc.value.problems == [
        "LLM_PLATFORM_PLAN_DATE: must be a date such as 2026-12-01 (got '2026-13-01')"]
