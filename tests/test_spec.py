"""The environment spec: valid stacks load, invalid ones give one line per problem."""

from __future__ import annotations

import copy

import pytest
from conftest import STACKS, run_cli, stack_spec, write_stack
from pydantic import ValidationError

from components.spec import SpecError, load_spec


def problems(raw) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    return exc.value.problems


def local() -> dict:
    return copy.deepcopy(stack_spec("local"))


@pytest.mark.parametrize("stack", STACKS)
def test_every_example_stack_loads(stack):
    env = load_spec(stack_spec(stack))
    assert set(env.plans) == {m.name for m in env.spec.models}


def test_spec_is_frozen():
    env = load_spec(local())
    with pytest.raises(ValidationError):
        env.spec.environment = "prod"  # type: ignore[misc]


def _set(raw: dict, path: str, value) -> dict:
    node = raw
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("topology", "baremetal", "llm-platform:spec.topology: Input should be 'onprem', 'aws'"),
        ("topology", "aws", "llm-platform:spec.aws: required when the environment runs on aws (topology aws)"),
        ("topology", "gcp", "llm-platform:spec.onprem: only used with topologies onprem and hybrid; remove it"),
        ("budget.monthly_usd", -5, "llm-platform:spec.budget.monthly_usd: Input should be greater than 0 (got -5)"),
        ("budget.alert_thresholds_pct", [80, 50], "alert_thresholds_pct: must be distinct and ascending"),
        ("gpu_pools.0.instance_type", "g6e.x", "instance_type: unknown instance type 'g6e.x' (did you"),
        ("tags.owner", _DELETE, "llm-platform:spec.tags.owner: Field required"),
        ("tags.environment", "prod", "llm-platform:spec.tags.environment: must equal environment 'local'"),
        ("gpu_pools.0.gpu", "L40s-48", "gpu_pools[0].gpu: unknown GPU 'L40s-48' (did you mean 'L40S'?)"),
        ("gpu_pools.0.min_nodes", 5, "gpu_pools[0]: min_nodes (5) must be <= max_nodes (2)"),
        ("gpu_pools.0.purpose", "serving", "gpu_pools[0].purpose: Input should be 'inference' or 'training'"),
        ("models.0.hf_id", "meta-llama/Llama-3.1-8B-Instruc",
         "is not in the catalog (did you mean 'meta-llama/Llama-3.1-8B-Instruct'?)"),
        ("models.0.engine.image", "vllm/vllm-openai:latest", "engine.image: must not use the 'latest' tag"),
        ("models.0.engine.image", "vllm/vllm-openai", "engine.image: must be pinned with a tag or digest"),
        ("models.0.engine.kind", "llamacpp",
         "engine.kind: Input should be 'vllm', 'tensorrt-llm', 'tgi' or 'sglang'"),
        ("models.0.pool", "l40", "models[0].pool: no gpu_pool named 'l40' (did you mean 'l40s'?)"),
        ("models.0.max_context", 200000, "models[0].max_context: must be <= the model's max positions 131072"),
        ("models.0.kv_cache_dtype", "int4", "kv_cache_dtype: Input should be 'auto' or 'fp8'"),
        ("models.0.slo.ttft_p95_ms", "fast", "slo.ttft_p95_ms: Input should be a valid number"),
        ("models.0.gpumem", 0.9, "llm-platform:spec.models[0].gpumem: unknown field; allowed here: architecture,"),
        ("onprem", _DELETE, "llm-platform:spec.onprem: required for topology onprem"),
        ("budget.x\ny", 1, "llm-platform:spec.budget['x\\ny']: unknown field; allowed here"),
        ("gpu_pools.0.node_labels", {"bad key!": "x"}, "gpu_pools[0].node_labels['bad key!']: key: String should match pattern"),
        ("models.0.weights.storage_class", "Fast SSD", "weights.storage_class: String should match pattern"),
        ("cluster.context", "", "llm-platform:spec.cluster.context: String should have at least 1 character"),
        ("environment", "Prod_1", "llm-platform:spec.environment: String should match pattern"),
    ],
)
def test_bad_input_names_the_path_and_what_is_allowed(path, value, expected):
    lines = problems(_set(local(), path, value))
    assert any(expected in line for line in lines), lines
    assert all(line.startswith("llm-platform:spec") for line in lines)
    assert all("\n" not in line for line in lines)


def aws() -> dict:
    return copy.deepcopy(stack_spec("aws"))


def hybrid() -> dict:
    return copy.deepcopy(stack_spec("hybrid"))


@pytest.mark.parametrize(
    ("stack", "path", "value", "expected"),
    [
        ("aws", "gpu_pools.0.instance_type", _DELETE,
         "gpu_pools[0].instance_type: required for a aws pool; for 1x L40S: g6e.2xlarge, g6e.xlarge"),
        ("aws", "gpu_pools.0.instance_type", "g2-standard-4",
         "gpu_pools[0].instance_type: g2-standard-4 has 1x L4, but the pool says 1x L40S"),
        ("aws", "gpu_pools.1.extra_instance_types", ["g6e.12xlarge"],
         "gpu_pools[1].extra_instance_types[0]: g6e.12xlarge has 4x L40S, but the pool says 1x L40S"),
        ("aws", "gpu_pools.0.spot_max_usd_per_hour", 1.0,
         "gpu_pools[0].spot_max_usd_per_hour: only for an Azure spot pool"),
        ("aws", "aws.account_id", "12345", "aws.account_id: String should match pattern"),
        ("aws", "aws.availability_zones", ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
         "availability zone 'eu-west-1a' is not in region us-east-1"),
        ("aws", "aws.vpc_cidr", "10.40.0.1/16", "aws.vpc_cidr: must be an IPv4 network such as 10.40.0.0/16"),
        ("aws", "aws.system_instance_type", "g6e.xlarge",
         "aws.system_instance_type: must be a CPU instance type of aws in the catalog: m6i.xlarge"),
        ("aws", "aws.nat", "none", "aws.nat: Input should be 'per-az' or 'single'"),
        ("aws", "budget.notify_emails", [], "budget.notify_emails: required on aws"),
        ("aws", "gcp", {"project": "x"}, "llm-platform:spec.gcp"),
        ("hybrid", "hybrid", _DELETE, "llm-platform:spec.hybrid: required for topology hybrid"),
        ("hybrid", "gpu_pools.0.instance_type", "g6e.12xlarge",
         "gpu_pools[0].instance_type: pool 'l40s' runs on the on-prem cluster"),
        ("hybrid", "hybrid.connectivity.peer_ip", "10.1.2.3",
         "spec.hybrid.connectivity.peer_ip: must be the gateway's public address (got 10.1.2.3)"),
        ("hybrid", "hybrid.connectivity.mtu", 1400,
         "spec.hybrid.connectivity.mtu: unknown field; allowed here: bgp_asn, kind, onprem_cidrs, peer_ip, shared_key_secret"),
        ("hybrid", "hybrid.connectivity", {"kind": "existing", "name": "dx", "onprem_cidrs": ["10.0.0.0/8"], "peer_ip": "1.2.3.4"},
         "spec.hybrid.connectivity.peer_ip: unknown field; allowed here: kind, name, onprem_cidrs"),
        ("hybrid", "hybrid.connectivity.kind", "ipsec", "hybrid.connectivity.kind: must be one of 'vpn', 'existing' (got 'ipsec')"),
        ("hybrid", "hybrid.onprem_jwks_json", "{}", "hybrid.onprem_jwks_json: only GCP accepts an uploaded JWKS"),
        ("hybrid", "hybrid.onprem_oidc_issuer", "http://insecure", "hybrid.onprem_oidc_issuer: String should match"),
    ],
)
def test_cloud_and_hybrid_specs_name_the_path_and_what_is_allowed(stack, path, value, expected):
    raw = aws() if stack == "aws" else hybrid()
    lines = problems(_set(raw, path, value))
    assert any(expected in line for line in lines), lines
    assert all(line.startswith("llm-platform:spec") for line in lines)


def test_every_problem_is_reported_at_once():
    raw = local()
    raw["budget"]["monthly_usd"] = 0
    raw["gpu_pools"][0]["max_nodes"] = 0
    raw["models"][0]["slo"]["peak_concurrent_requests"] = 0
    lines = problems(raw)
    assert len(lines) == 3
    assert [ln.split(":")[1].split()[0] for ln in lines] == [
        "spec.budget.monthly_usd", "spec.gpu_pools[0].max_nodes",
        "spec.models[0].slo.peak_concurrent_requests"]


def test_model_that_cannot_fit_its_pool():
    raw = local()
    raw["gpu_pools"][0].update(gpu="L4", gpus_per_node=1, node_labels={})
    raw["models"][0]["hf_id"] = "meta-llama/Llama-3.1-70B-Instruct"
    (line,) = problems(raw)
    assert line.startswith("llm-platform:spec.models[0]: assistant does not fit on 1x L4")
    assert "kv_cache_dtype fp8 or quantization" in line


def test_pool_too_small_for_the_minimum_replicas():
    raw = local()
    raw["models"][0]["traffic"]["conversations_per_day"] = 5_000_000
    raw["models"][0]["slo"]["peak_concurrent_requests"] = 100_000
    (line,) = problems(raw)
    assert "needs at least" in line and "pool 'l40s' has at most 4" in line


def test_on_demand_training_pool_is_a_warning_not_an_error():
    raw = copy.deepcopy(stack_spec("aws"))
    raw.pop("training")
    raw["gpu_pools"][1]["capacity"] = "on-demand"
    env = load_spec(raw)
    assert any("gpu_pools[1].capacity: training pool 'train' is on-demand" in w
               for w in env.warnings)


def test_model_on_training_pool_is_rejected():
    raw = local()
    raw["gpu_pools"][0]["purpose"] = "training"
    raw["gpu_pools"][0]["capacity"] = "spot"
    assert any("models are served from an inference pool" in ln for ln in problems(raw))


def test_explicit_architecture_serves_a_model_outside_the_catalog():
    raw = local()
    del raw["models"][0]["hf_id"]
    raw["models"][0]["architecture"] = {
        "params_b": 8.03, "layers": 32, "attention_heads": 32, "kv_heads": 8, "head_dim": 128,
        "hidden_size": 4096, "intermediate_size": 14336, "vocab_size": 128256,
        "max_position_embeddings": 131072}
    env = load_spec(raw)
    assert env.plans["assistant"].budget.kv_bytes_per_token == 131072


def test_neither_hf_id_nor_architecture():
    raw = local()
    del raw["models"][0]["hf_id"]
    assert problems(raw) == [
        "llm-platform:spec.models[0]: set hf_id (a catalog model) or architecture "
        "(for any other model)"]


def test_cli_exits_2_without_traceback_and_creates_nothing(scratch_project):
    raw = local()
    raw["models"][0]["engine"]["image"] = "vllm/vllm-openai:latest"
    raw["gpu_pools"][0]["gpu"] = "H100"
    write_stack(scratch_project, "bad", raw)
    proc = run_cli("plan", "--stack", "bad", "--project", str(scratch_project))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 2, proc.stderr
    assert "gpu_pools[0].gpu: unknown GPU 'H100' (did you mean" in proc.stderr
    assert not (scratch_project / "out").exists()


def test_cli_bad_yaml_and_unknown_stack(scratch_project):
    (scratch_project / "stacks" / "Pulumi.broken.yaml").write_text("config: [unclosed\n")
    proc = run_cli("plan", "--stack", "broken", "--project", str(scratch_project))
    assert proc.returncode == 2 and "not valid YAML" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("plan", "--stack", "brokn", "--project", str(scratch_project))
    assert proc.returncode == 2 and "did you mean 'broken'" in proc.stderr


# --- nonsense the shape allows but the world does not (issue 11, section 3) ---

LLAMA_8B = {
    "params_b": 8.03, "layers": 32, "attention_heads": 32, "kv_heads": 8, "head_dim": 128,
    "hidden_size": 4096, "intermediate_size": 14336, "vocab_size": 128256,
    "max_position_embeddings": 131072}


def _with_architecture(**changes) -> dict:
    raw = local()
    del raw["models"][0]["hf_id"]
    raw["models"][0]["architecture"] = {**LLAMA_8B, **changes}
    return raw


def _edited(stack: str, path: str, value) -> dict:
    return _set(copy.deepcopy(stack_spec(stack)), path, value)


ARCH = "llm-platform:spec.models[0].architecture"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # pydantic's lax mode read `true` as 1: a $1 budget, a pool of one node
        (_edited("local", "budget.monthly_usd", True),
         "llm-platform:spec.budget.monthly_usd: Input should be a valid number (got True)"),
        (_edited("local", "gpu_pools.0.max_nodes", True),
         "llm-platform:spec.gpu_pools[0].max_nodes: Input should be a valid integer (got True)"),
        (_edited("local", "budget.alert_thresholds_pct", [50, True]),
         "llm-platform:spec.budget.alert_thresholds_pct[1]: Input should be a valid integer "
         "(got True)"),
        (_edited("local", "models.0.slo.ttft_p95_ms", "800"),
         "llm-platform:spec.models[0].slo.ttft_p95_ms: Input should be a valid number (got '800')"),
        (_edited("local", "models.0.hf_token_secret.key", ".."),
         "llm-platform:spec.models[0].hf_token_secret.key: must not be '.' or '..' or start "
         "with '..'"),
        (_edited("local", "models.0.hf_token_secret.key", "..data"),
         "llm-platform:spec.models[0].hf_token_secret.key: must not be '.' or '..' or start "
         "with '..'"),
        (_edited("local", "models.0.hf_token_secret.key", "."),
         "llm-platform:spec.models[0].hf_token_secret.key: must not be '.' or '..' or start "
         "with '..'"),
        (_edited("local", "models.0.hf_token_secret.key", "t" * 254),
         "llm-platform:spec.models[0].hf_token_secret.key: String should have at most 253 "
         "characters"),
        (_with_architecture(experts_per_token=4),
         f"{ARCH}.experts_per_token: must be <= num_experts (1) (got 4)"),
        (_with_architecture(kv_heads=64), f"{ARCH}.kv_heads: must divide attention_heads (32) (got 64)"),
        (_with_architecture(kv_heads=12), f"{ARCH}.kv_heads: must divide attention_heads (32) (got 12)"),
        (_with_architecture(sliding_window=-1),
         f"{ARCH}.sliding_window: Input should be greater than or equal to 1 (got -1)"),
        # 64 experts of 32 x 3 x 4096 x 14336 = 5.64B each cannot fit in 8.03B: the planner
        # made the active parameters (and the prefill time, latency, concurrency) negative
        (_with_architecture(num_experts=64, experts_per_token=2),
         f"{ARCH}.params_b: 64 experts of layers x 3 x hidden_size x intermediate_size hold "
         "360.8B parameters, more than the model's 8.03B; params_b is the total over all experts"),
        # Llama-3.1-8B in bf16: 8.03e9 x 2 B = 14.96 GiB, so 15 GiB at least
        (_edited("local", "models.0.weights", {"size_gib": 14}),
         "llm-platform:spec.models[0].weights.size_gib: 14 GiB cannot hold the model's 15 GiB "
         "of 16-bit weights; set at least 15, or leave it out for weights x 1.5"),
        (_edited("aws", "aws.vpc_cidr", "0.0.0.0/0"),
         "llm-platform:spec.aws.vpc_cidr: must be a private (RFC 1918) range inside 10.0.0.0/8, "
         "172.16.0.0/12 or 192.168.0.0/16 (got 0.0.0.0/0)"),
        (_edited("aws", "aws.vpc_cidr", "100.64.0.0/16"),
         "llm-platform:spec.aws.vpc_cidr: must be a private (RFC 1918) range"),
        (_edited("aws", "aws.vpc_cidr", "10.0.0.0/8"),
         "llm-platform:spec.aws.vpc_cidr: must be a /16 to /24 (AWS VPCs are /16 to /28 and the "
         "public subnets are a sixteenth of it; got 10.0.0.0/8)"),
        (_edited("aws", "aws.vpc_cidr", "10.40.0.0/26"),
         "llm-platform:spec.aws.vpc_cidr: must be a /16 to /24"),
        (_edited("gcp", "gcp.pods_cidr", "10.50.0.0/20"),
         "llm-platform:spec.gcp.pods_cidr: 10.50.0.0/20 overlaps llm-platform:spec.gcp.subnet_cidr "
         "(10.50.0.0/20); choose a range that shares no address with it"),
        (_edited("gcp", "gcp.services_cidr", "10.66.0.0/20"),
         "llm-platform:spec.gcp.services_cidr: 10.66.0.0/20 overlaps "
         "llm-platform:spec.gcp.pods_cidr (10.64.0.0/14)"),
        (_edited("gcp", "gcp.subnet_cidr", "8.8.8.0/24"),
         "llm-platform:spec.gcp.subnet_cidr: must be a private (RFC 1918) range"),
        (_edited("gcp", "gcp.zones", ["us-central1-a", "us-east1-b"]),
         "llm-platform:spec.gcp.zones[1]: zone us-east1-b is not in region us-central1"),
        (_edited("hybrid", "hybrid.connectivity.onprem_cidrs", ["10.10.0.0/16", "10.40.0.0/24"]),
         "llm-platform:spec.hybrid.connectivity.onprem_cidrs[1]: 10.40.0.0/24 overlaps "
         "llm-platform:spec.aws.vpc_cidr (10.40.0.0/16)"),
        (_edited("hybrid", "hybrid.connectivity.onprem_cidrs", ["0.0.0.0/0"]),
         "llm-platform:spec.hybrid.connectivity.onprem_cidrs[0]: 0.0.0.0/0 overlaps "
         "llm-platform:spec.aws.vpc_cidr (10.40.0.0/16)"),
    ],
    ids=lambda v: "" if isinstance(v, dict) else v[:60],
)
def test_nonsense_is_refused_with_one_line(raw, expected):
    (line,) = problems(raw)
    assert line.startswith(expected), line


@pytest.mark.parametrize(
    "raw",
    [
        _edited("local", "models.0.hf_token_secret.key", ".hf-token_1"),
        _edited("local", "models.0.weights", {"size_gib": 15}),
        _edited("aws", "aws.vpc_cidr", "172.20.0.0/24"),
        _with_architecture(num_experts=2, experts_per_token=1, params_b=12),
        _with_architecture(kv_heads=32, sliding_window=4096),
    ],
    ids=["dot-key", "volume-just-fits", "small-private-vpc", "two-experts", "mha-window"],
)
def test_sensible_neighbours_of_the_nonsense_still_load(raw):
    assert set(load_spec(raw).plans) == {"assistant"}


def test_monthly_budget_of_an_integer_is_a_float():
    raw = local()
    raw["budget"]["monthly_usd"] = 5
    del raw["gateway"]  # its teams' budgets are over a $5 ceiling
    assert load_spec(raw).spec.budget.hard_cap_usd == 5.0


def test_tensor_parallel_follows_vllm_rule():
    # vLLM v0.33.0: heads % tp == 0 (ModelConfig.verify_with_parallel_config), and the KV
    # heads split (kv % tp == 0) or replicate (tp % kv == 0) in QKVParallelLinear.
    from components import catalog, sizing

    llama = catalog.models()["meta-llama/Llama-3.1-8B-Instruct"]  # 32 heads, 8 KV heads
    qwen = catalog.models()["Qwen/Qwen2.5-7B-Instruct"]  # 28 heads, 4 KV heads
    assert [tp for tp in range(1, 65) if sizing.tp_problem(llama, tp) is None] == [
        1, 2, 4, 8, 16, 32]
    assert [tp for tp in range(1, 65) if sizing.tp_problem(qwen, tp) is None] == [1, 2, 4, 28]
    assert sizing.tp_candidates(qwen, 8) == [1, 2, 4]
    assert sizing.tp_problem(llama, 3) == (
        "tensor parallel 3 is refused by vLLM for 32 attention heads and 8 KV heads: it must "
        "divide the attention heads, and divide the KV heads or be a multiple of them; "
        "allowed: 1, 2, 4, 8, 16, 32")
    with pytest.raises(sizing.SizingError, match="tensor parallel 3 is refused"):
        sizing.memory_budget(llama, 48, 3, 0.9, 8192)


def test_size_refuses_a_tensor_parallel_vllm_refuses():
    proc = run_cli("size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L40S",
                   "--tensor-parallel", "3")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line == (
        "error: --tensor-parallel: tensor parallel 3 is refused by vLLM for 32 attention heads "
        "and 8 KV heads: it must divide the attention heads, and divide the KV heads or be a "
        "multiple of them; allowed: 1, 2, 4, 8, 16, 32 (meta-llama/Llama-3.1-8B-Instruct)")
    assert proc.stdout == ""


def test_models_sharing_a_pool_must_fit_together():
    raw = local()
    raw["gpu_pools"][0].update(gpus_per_node=1, max_nodes=2)
    second = copy.deepcopy(raw["models"][0])
    second["name"] = "second"
    third = copy.deepcopy(raw["models"][0])
    third["name"] = "third"
    raw["models"] += [second, third]
    (line,) = problems(raw)
    assert line.startswith("llm-platform:spec.gpu_pools[0].max_nodes: models assistant, second, "
                           "third need 3 GPUs at their minimum replicas but pool 'l40s' has at most 2")
    raw["models"].pop()
    env = load_spec(raw)  # 2 minimum GPUs fit; the peak of 4 does not
    assert any("will compete for GPUs" in w for w in env.warnings)


def test_an_unknown_union_tag_is_one_line_naming_the_tag_field():
    """pydantic quotes a bad discriminator raw; a newline in it must not split the problem."""
    raw = copy.deepcopy(stack_spec("hybrid"))
    raw["hybrid"]["connectivity"]["kind"] = "\x1f\nvpn"
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    assert exc.value.problems == [
        "llm-platform:spec.hybrid.connectivity.kind: must be one of 'vpn', 'existing' "
        "(got '\\x1f\\nvpn')"
    ]
