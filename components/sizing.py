"""vLLM V1 memory accounting and the serving plan derived from a model's SLO.

Pure functions, no Pulumi: the CLI, the components and (later) the policy pack call the
same code, so there is one memory model.

The memory budget follows vLLM's profiler (see docs/architecture.md):

    requested = total * gpu_memory_utilization
    kv_cache  = requested - weights - activation_peak - non_torch

Where a term is not a plain fact of the model it is calibrated against the observed vLLM
logs in shared/data/vllm-kv-dev-vectors.csv; each constant below names its evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

GIB = 2**30
BLOCK_TOKENS = 16  # vLLM's default KV block size; the cache is allocated in whole blocks.

# Per-token activation of the profiling forward pass: the fused gate_up output (2*I), the
# activated MLP input (I) and about three hidden-sized buffers (residual, normed input,
# attention output). Evidence: vLLM issue 10517, Llama-3.1-8B at max_model_len 20000 vs
# 29000 loses 0.92 GiB of KV for 9000 tokens = 109,760 B/token; this formula gives
# 110,592 B/token (+0.8%).
ACT_MLP_BUFFERS = 3
ACT_HIDDEN_BUFFERS = 3
# The dummy sampler run holds max_num_seqs x vocab fp32 logits plus softmax/log-softmax and
# sort scratch. Fitted to vLLM pull 10511 (activation peak 1.26 GiB for Llama-3-8B at
# 8192 batched tokens and 256 sequences): 3.4 fp32 copies of the logits.
SAMPLER_FP32_COPIES = 3.4
# Memory outside PyTorch (CUDA context, cuBLAS workspaces, NCCL buffers). vLLM pull 10511:
# 1.79 GiB at TP1 and 3.58 GiB per GPU at TP2. Beyond TP2 there is no observation; we
# extrapolate one more NCCL buffer set per doubling of the TP group.
NON_TORCH_GIB_TP1 = 1.79
NON_TORCH_GIB_PER_TP_DOUBLING = 1.79

# Planning assumptions, not measurements: they shape the replica count and probe budgets
# and are named here so a reviewer can see and change them in one place.
PREFILL_MFU = 0.4  # fraction of dense tensor FLOPS a prefill reaches
TTFT_PREFILL_SHARE = 0.5  # share of the TTFT SLO the prefill may use; the rest is queueing
WEIGHT_LOAD_GIB_PER_S = 0.25  # first load from the Hub or a network volume
ENGINE_WARMUP_S = 300  # torch.compile and CUDA graph capture
MIN_STARTUP_BUDGET_S = 600
MAX_NUM_SEQS_CAP = 256  # vLLM's default for GPUs under 70 GiB; a safe upper bound

Quantization = Literal["none", "fp8", "awq", "gptq"]
KvDtype = Literal["auto", "fp8"]
Profiler = Literal["v1", "v0"]

# Bits per weight for the quantized linear layers. AWQ/GPTQ store 4-bit weights plus a
# 16-bit scale and a 4-bit zero point per group of 128 weights.
_WEIGHT_BITS: dict[str, float] = {"none": 16, "fp8": 8, "awq": 4 + 20 / 128, "gptq": 4 + 20 / 128}


class Architecture(Protocol):
    params_b: float
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    tie_word_embeddings: bool
    num_experts: int
    experts_per_token: int


class Gpu(Protocol):
    id: str
    memory_gib: float
    bandwidth_gbps: float
    bf16_tflops: float
    fp8_tflops: float | None


class SizingError(ValueError):
    """The model cannot be served on the given GPUs; the message says why and what to change."""


@dataclass(frozen=True)
class MemoryBudget:
    gpu_total_gib: float
    requested_gib: float
    weights_gib: float
    activation_gib: float
    non_torch_gib: float
    kv_cache_gib: float
    kv_bytes_per_token: int
    kv_cache_tokens: int
    max_model_len: int
    max_concurrency: float

    @property
    def fits(self) -> bool:
        return self.kv_cache_tokens >= self.max_model_len


def weight_bytes(arch: Architecture, quantization: Quantization = "none") -> float:
    """Bytes of weights for the whole model. Embeddings and lm_head stay 16-bit when the
    linear layers are quantized (as vLLM and the RedHatAI/compressed-tensors checkpoints do)."""
    total = arch.params_b * 1e9
    if quantization == "none":
        return total * 2
    embed = arch.vocab_size * arch.hidden_size * (1 if arch.tie_word_embeddings else 2)
    return (total - embed) * _WEIGHT_BITS[quantization] / 8 + embed * 2


def kv_bytes_per_token(arch: Architecture, tp: int, kv_cache_dtype: KvDtype = "auto") -> int:
    dtype_bytes = 1 if kv_cache_dtype == "fp8" else 2
    return arch.layers * 2 * max(1, arch.kv_heads // tp) * arch.head_dim * dtype_bytes


def activation_bytes(arch: Architecture, tp: int, batched_tokens: int, max_num_seqs: int) -> float:
    inter = arch.intermediate_size * arch.experts_per_token / tp
    per_token = (ACT_MLP_BUFFERS * inter + ACT_HIDDEN_BUFFERS * arch.hidden_size) * 2
    sampler = max_num_seqs * arch.vocab_size * 4 * SAMPLER_FP32_COPIES
    return batched_tokens * per_token + sampler


def non_torch_gib(tp: int, profiler: Profiler = "v1") -> float:
    # vLLM V0 before pull 10511 folded the CUDA context into its baseline, so the
    # non-torch term it subtracted was ~0 (vLLM issue 10517 fits with 0).
    if profiler == "v0":
        return 0.0
    return NON_TORCH_GIB_TP1 + NON_TORCH_GIB_PER_TP_DOUBLING * math.log2(tp)


def _round_up_blocks(tokens: int) -> int:
    return -(-tokens // BLOCK_TOKENS) * BLOCK_TOKENS


def memory_budget(
    arch: Architecture,
    gpu_total_gib: float,
    tensor_parallel: int,
    gpu_memory_utilization: float,
    max_model_len: int,
    kv_cache_dtype: KvDtype = "auto",
    quantization: Quantization = "none",
    max_num_batched_tokens: int = 8192,
    max_num_seqs: int = 256,
    profiler: Profiler = "v1",
) -> MemoryBudget:
    """Per-GPU memory budget of one vLLM replica.

    The V1 profiler runs max_num_batched_tokens through the model; V0 (without chunked
    prefill) ran max_model_len tokens at once.
    """
    tp = tensor_parallel
    problem = tp_problem(arch, tp)
    if problem:
        raise SizingError(problem)
    requested = gpu_total_gib * gpu_memory_utilization
    weights = weight_bytes(arch, quantization) / tp / GIB
    profiled = max_model_len if profiler == "v0" else max_num_batched_tokens
    act = activation_bytes(arch, tp, profiled, max_num_seqs) / GIB
    other = non_torch_gib(tp, profiler)
    kv_gib = max(0.0, requested - weights - act - other)
    per_token = kv_bytes_per_token(arch, tp, kv_cache_dtype)
    tokens = int(kv_gib * GIB // per_token) // BLOCK_TOKENS * BLOCK_TOKENS
    return MemoryBudget(
        gpu_total_gib=gpu_total_gib,
        requested_gib=round(requested, 4),
        weights_gib=round(weights, 4),
        activation_gib=round(act, 4),
        non_torch_gib=round(other, 4),
        kv_cache_gib=round(kv_gib, 4),
        kv_bytes_per_token=per_token,
        kv_cache_tokens=tokens,
        max_model_len=max_model_len,
        max_concurrency=round(tokens / _round_up_blocks(max_model_len), 2),
    )


def expert_params_b(arch: Architecture) -> float:
    """Billions of parameters in one expert's gated MLP (gate, up and down) over all layers."""
    return arch.layers * 3 * arch.hidden_size * arch.intermediate_size / 1e9


def active_params_b(arch: Architecture) -> float:
    """Parameters touched per token: for a mixture of experts only the routed experts."""
    if arch.num_experts <= 1:
        return arch.params_b
    return arch.params_b - (arch.num_experts - arch.experts_per_token) * expert_params_b(arch)


def tp_problem(arch: Architecture, tp: int) -> str | None:
    """Why vLLM v0.33.0 refuses tensor-parallel degree `tp` for this model, or None.

    ModelConfig.verify_with_parallel_config (vllm/config/model.py) requires the attention
    heads to divide by TP. QKVParallelLinear (vllm/model_executor/layers/linear.py) splits
    the KV heads over the ranks when TP < KV heads (divide() asserts KV heads % TP == 0)
    and replicates them when TP >= KV heads (it asserts TP % KV heads == 0)."""
    if _tp_ok(arch, tp):
        return None
    allowed = [n for n in range(1, arch.attention_heads + 1) if _tp_ok(arch, n)]
    return (
        f"tensor parallel {tp} is refused by vLLM for {arch.attention_heads} attention heads "
        f"and {arch.kv_heads} KV heads: it must divide the attention heads, and divide the "
        f"KV heads or be a multiple of them; allowed: {', '.join(map(str, allowed))}"
    )


def _tp_ok(arch: Architecture, tp: int) -> bool:
    kv = arch.kv_heads
    return arch.attention_heads % tp == 0 and (kv % tp == 0 if tp < kv else tp % kv == 0)


def tp_candidates(arch: Architecture, gpus_per_node: int) -> list[int]:
    """Tensor-parallel degrees the planner tries: the powers of two up to the node's GPUs
    that vLLM accepts (tp_problem)."""
    out = []
    tp = 1
    while tp <= gpus_per_node:
        if _tp_ok(arch, tp):
            out.append(tp)
        tp *= 2
    return out


@dataclass(frozen=True)
class ServingInputs:
    """What the planner needs from a model spec, in plain values."""

    max_context: int
    quantization: Quantization
    native_quantization: str | None
    kv_cache_dtype: KvDtype
    gpu_memory_utilization: float
    prefix_caching: bool
    ttft_p95_ms: float
    peak_concurrent_requests: int
    conversations_per_day: float
    prompt_tokens_per_turn: int
    completion_tokens_per_turn: int
    turns_per_conversation: float


@dataclass(frozen=True)
class ServingPlan:
    gpu: str
    tensor_parallel: int
    budget: MemoryBudget
    max_num_seqs: int
    max_num_batched_tokens: int
    replicas_min: int
    replicas_max: int
    prefill_ms: float
    decode_ms_per_token: float
    startup_budget_s: int
    drain_s: int
    gpu_memory_utilization: float
    prefix_caching: bool
    # The sizing as the engine's own settings (Engine.args), filled in by plan_serving.
    engine_args: list[str]
    reasons: list[str] = field(default_factory=list)
    kv_cache_dtype: KvDtype = "auto"
    # A quantization the engine applies while loading; None when the checkpoint is stored
    # quantized already (it declares that in its config) or nothing is quantized.
    quantize_at_load: Quantization | None = None

    @property
    def gpus_min(self) -> int:
        return self.replicas_min * self.tensor_parallel

    @property
    def gpus_max(self) -> int:
        return self.replicas_max * self.tensor_parallel


class EngineSizing(Protocol):
    """What sizing needs from the engine (components/engines/base.py Engine)."""

    name: str
    vllm_memory_model: bool
    memory_note: str

    def args(self, plan: ServingPlan) -> list[str]: ...


def default_batched_tokens(gpu: Gpu) -> int:
    # Passed explicitly, so the memory model profiles what vLLM runs. vLLM's own OpenAI-server
    # default is 8192 from 70 GiB and 2048 below (it also keeps A100 at 2048 and uses 16384
    # from 160 GiB): EngineArgs.get_batch_defaults, vllm/engine/arg_utils.py, v0.33.0.
    return 8192 if gpu.memory_gib >= 70 else 2048


def effective_quantization(requested: str | None, native: str | None) -> Quantization:
    """What the weights are stored as: an explicit choice, else the checkpoint's own."""
    if requested and requested != "none":
        return requested  # type: ignore[return-value]
    return native or "none"  # type: ignore[return-value]


@dataclass(frozen=True)
class _Fit:
    tp: int
    budget: MemoryBudget
    prefill_ms: float


def _fit(
    arch: Architecture, gpu: Gpu, gpus_per_node: int, inputs: ServingInputs, reasons: list[str]
) -> _Fit:
    """The smallest tensor-parallel degree that holds one full-context request and meets
    the TTFT share; each degree tried and refused adds its reason."""
    quant = effective_quantization(inputs.quantization, inputs.native_quantization)
    flops = (gpu.fp8_tflops if quant == "fp8" and gpu.fp8_tflops else gpu.bf16_tflops) * 1e12
    prefill_flop = 2 * active_params_b(arch) * 1e9 * inputs.prompt_tokens_per_turn
    last_failure = ""
    for tp in tp_candidates(arch, gpus_per_node):
        budget = memory_budget(
            arch,
            gpu.memory_gib,
            tp,
            inputs.gpu_memory_utilization,
            inputs.max_context,
            inputs.kv_cache_dtype,
            quant,
            default_batched_tokens(gpu),
            MAX_NUM_SEQS_CAP,
        )
        prefill_ms = prefill_flop / (tp * flops * PREFILL_MFU) * 1000
        if not budget.fits:
            last_failure = (
                f"TP{tp}: {budget.kv_cache_tokens} KV tokens per replica < max_context "
                f"{inputs.max_context} (weights {budget.weights_gib:.1f} GiB/GPU of "
                f"{gpu.memory_gib} GiB)"
            )
        elif prefill_ms > inputs.ttft_p95_ms * TTFT_PREFILL_SHARE:
            last_failure = (
                f"TP{tp}: prefill of {inputs.prompt_tokens_per_turn} tokens ~{prefill_ms:.0f} ms "
                f"> {TTFT_PREFILL_SHARE:.0%} of the TTFT p95 SLO ({inputs.ttft_p95_ms:.0f} ms)"
            )
        else:
            return _Fit(tp, budget, prefill_ms)
        reasons.append(last_failure)
    raise SizingError(
        f"does not fit on {gpus_per_node}x {gpu.id} at any tensor-parallel degree "
        f"{tp_candidates(arch, gpus_per_node)}: "
        f"{last_failure or 'no valid TP degree for this architecture'}; "
        "use a bigger GPU or pool, a shorter max_context, kv_cache_dtype fp8 or quantization"
    )


def plan_serving(
    arch: Architecture, gpu: Gpu, gpus_per_node: int, inputs: ServingInputs, engine: EngineSizing
) -> ServingPlan:
    """Pick the smallest tensor-parallel degree that holds one full-context request and
    meets the TTFT share, then size max-num-seqs and the replica bounds from traffic. The
    engine turns the plan into its own settings; where our memory model is not the
    engine's, the reasons say so."""
    reasons: list[str] = []
    fit = _fit(arch, gpu, gpus_per_node, inputs, reasons)
    budget = fit.budget
    reasons.append(
        f"TP{fit.tp}: weights {budget.weights_gib:.1f} GiB/GPU, KV cache "
        f"{budget.kv_cache_gib:.1f} GiB = {budget.kv_cache_tokens} tokens "
        f"({budget.max_concurrency}x max_context)"
    )
    seq_tokens = inputs.prompt_tokens_per_turn + inputs.completion_tokens_per_turn
    max_num_seqs = max(1, min(MAX_NUM_SEQS_CAP, budget.kv_cache_tokens // seq_tokens))
    decode_ms = budget.weights_gib * GIB / (gpu.bandwidth_gbps * 1e9) * 1000
    latency_s = (fit.prefill_ms + inputs.completion_tokens_per_turn * decode_ms) / 1000
    requests_per_s = inputs.conversations_per_day * inputs.turns_per_conversation / 86400
    avg_concurrency = requests_per_s * latency_s  # Little's law
    replicas_max = max(1, math.ceil(inputs.peak_concurrent_requests / max_num_seqs))
    replicas_min = min(replicas_max, max(1, math.ceil(avg_concurrency / max_num_seqs)))
    reasons.append(
        f"{max_num_seqs} concurrent sequences per replica at {seq_tokens} tokens each; "
        f"peak {inputs.peak_concurrent_requests} concurrent -> max {replicas_max} replicas; "
        f"average ~{avg_concurrency:.1f} concurrent -> min {replicas_min}"
    )
    if not engine.vllm_memory_model:
        reasons.append(f"memory ({engine.name}): {engine.memory_note}")
    quant = effective_quantization(inputs.quantization, inputs.native_quantization)
    load_s = weight_bytes(arch, quant) / GIB / WEIGHT_LOAD_GIB_PER_S + ENGINE_WARMUP_S
    plan = ServingPlan(
        gpu=gpu.id,
        tensor_parallel=fit.tp,
        budget=budget,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=default_batched_tokens(gpu),
        replicas_min=replicas_min,
        replicas_max=replicas_max,
        prefill_ms=round(fit.prefill_ms, 1),
        decode_ms_per_token=round(decode_ms, 2),
        startup_budget_s=max(MIN_STARTUP_BUDGET_S, int(math.ceil(2 * load_s / 60) * 60)),
        drain_s=max(120, math.ceil(2 * latency_s)),
        gpu_memory_utilization=inputs.gpu_memory_utilization,
        prefix_caching=inputs.prefix_caching,
        engine_args=[],
        reasons=reasons,
        kv_cache_dtype=inputs.kv_cache_dtype,
        quantize_at_load=quantize_at_load(inputs),
    )
    return replace(plan, engine_args=engine.args(plan))


def quantize_at_load(inputs: ServingInputs) -> Quantization | None:
    """A checkpoint that is already quantized declares it in its config; asking the engine
    to quantize on top would make vLLM refuse the mismatch."""
    if inputs.quantization != "none" and not inputs.native_quantization:
        return inputs.quantization
    return None
