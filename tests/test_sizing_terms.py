"""Each term of the sizing model worked out by hand from the catalog's config.json facts.

Every expected value below is the arithmetic written out from the model's architecture
(components/catalog/models.yaml, copied from each model's config.json on the Hub) and the
GPU's datasheet row (components/catalog/gpus.yaml); none is read back from the code. The
tensor-parallel terms are checked at TP 4, 8 and 16 as well as 1 and 2, since a term that
divides or multiplies by the wrong power of the TP degree agrees with the right one at TP 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from components import catalog, sizing
from components.engines import ENGINES

GIB = 2**30
MODELS = catalog.models()
GPUS = catalog.gpus()
LLAMA_8B = MODELS["meta-llama/Llama-3.1-8B-Instruct"]
LLAMA_70B = MODELS["meta-llama/Llama-3.1-70B-Instruct"]
LLAMA_70B_FP8 = MODELS["RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic"]
LLAMA_1B = MODELS["meta-llama/Llama-3.2-1B-Instruct"]
MIXTRAL = MODELS["mistralai/Mixtral-8x7B-Instruct-v0.1"]
GEMMA_9B = MODELS["google/gemma-2-9b-it"]
QWEN_7B = MODELS["Qwen/Qwen2.5-7B-Instruct"]
H100 = GPUS["H100-80GB"]
L4 = GPUS["L4"]


# --- weights ---


def test_unquantized_weights_are_two_bytes_per_parameter():
    # Llama-3.1-8B: 8.03 B parameters in bf16 (exact to float rounding, 1 part in 10^12).
    assert sizing.weight_bytes(LLAMA_8B) == pytest.approx(8.03e9 * 2, rel=1e-12)
    assert sizing.weight_bytes(LLAMA_8B, "none") == pytest.approx(8.03e9 * 2, rel=1e-12)


def test_quantized_weights_keep_embeddings_16_bit():
    # Llama-3.1-70B, untied: embed_tokens and lm_head are two 128256 x 8192 matrices.
    untied = 2 * 128256 * 8192
    fp8 = (70.6e9 - untied) * 8 / 8 + untied * 2
    assert sizing.weight_bytes(LLAMA_70B, "fp8") == pytest.approx(fp8, rel=1e-12)
    # Llama-3.2-1B ties lm_head to the embeddings: one 128256 x 2048 matrix; AWQ stores 4-bit
    # weights plus a 16-bit scale and a 4-bit zero point per 128 weights.
    tied = 128256 * 2048
    awq_bits = 4 + (16 + 4) / 128
    awq = (1.24e9 - tied) * awq_bits / 8 + tied * 2
    assert sizing.weight_bytes(LLAMA_1B, "awq") == pytest.approx(awq, rel=1e-12)


# --- KV cache bytes per token: 2 (K and V) x layers x KV heads per GPU x head_dim x dtype ---

KV_CASES = [
    # (model, tp, kv dtype, bytes per token per GPU written out)
    (LLAMA_8B, 1, "auto", 2 * 32 * (8 // 1) * 128 * 2),
    (LLAMA_8B, 4, "auto", 2 * 32 * (8 // 4) * 128 * 2),
    (LLAMA_8B, 8, "auto", 2 * 32 * (8 // 8) * 128 * 2),
    (LLAMA_70B, 4, "fp8", 2 * 80 * (8 // 4) * 128 * 1),
    (LLAMA_70B, 8, "auto", 2 * 80 * (8 // 8) * 128 * 2),
    (QWEN_7B, 4, "auto", 2 * 28 * (4 // 4) * 128 * 2),
    # 8 KV heads over 16 ranks: vLLM replicates each head on two ranks, one head per GPU.
    (GEMMA_9B, 16, "auto", 2 * 42 * 1 * 256 * 2),
]


@pytest.mark.parametrize(("arch", "tp", "dtype", "expected"), KV_CASES,
                         ids=lambda v: getattr(v, "id", str(v)))
def test_kv_bytes_per_token(arch, tp, dtype, expected):
    per_token = sizing.kv_bytes_per_token(arch, tp, dtype)
    assert per_token == expected
    assert type(per_token) is int  # whole bytes: the CLI's JSON prints it as an integer


def test_kv_dtype_defaults_to_the_model_dtype():
    assert sizing.kv_bytes_per_token(LLAMA_8B, 2) == 2 * 32 * 4 * 128 * 2


# --- activation of the profiling run and non-torch memory ---


def test_activation_of_a_mixture_of_experts_at_tp2():
    # Mixtral routes each token to 2 experts of intermediate 14336, split over 2 GPUs; the
    # sampler holds 256 x 32000 fp32 logits and 3.4 copies of them (sizing.py's fit).
    per_token = (3 * (14336 * 2 / 2) + 3 * 4096) * 2
    sampler = 256 * 32000 * 4 * 3.4
    assert sizing.activation_bytes(MIXTRAL, 2, 8192, 256) == 8192 * per_token + sampler


def test_activation_of_llama_70b_at_tp8():
    per_token = (3 * (28672 * 1 / 8) + 3 * 8192) * 2
    sampler = 512 * 128256 * 4 * 3.4
    assert sizing.activation_bytes(LLAMA_70B, 8, 4096, 512) == 4096 * per_token + sampler


@pytest.mark.parametrize(("tp", "expected"), [
    # vLLM pull 10511: 1.79 GiB at TP1, 3.58 GiB per GPU at TP2; sizing.py extrapolates one
    # more 1.79 GiB NCCL buffer set per doubling of the TP group beyond that.
    (1, 1.79), (2, 1.79 + 1.79), (4, 1.79 + 2 * 1.79), (8, 1.79 + 3 * 1.79),
])
def test_non_torch_memory_per_gpu(tp, expected):
    assert sizing.non_torch_gib(tp) == pytest.approx(expected, abs=1e-12)
    assert sizing.non_torch_gib(tp, "v1") == pytest.approx(expected, abs=1e-12)
    assert sizing.non_torch_gib(tp, "v0") == 0.0


def test_non_torch_memory_at_a_tp_that_is_not_a_power_of_two():
    # Llama-3.2-3B: 24 attention heads, 8 KV heads. TP 24 divides the heads and is a multiple
    # of the KV heads, so vLLM accepts it: log2(24) doublings of the TP group, and each GPU
    # holds one replicated KV head.
    b = sizing.memory_budget(MODELS["meta-llama/Llama-3.2-3B-Instruct"], 79.65, 24, 0.9, 4096)
    assert b.non_torch_gib == round(1.79 + 1.79 * math.log2(24), 4)
    assert b.kv_bytes_per_token == 2 * 28 * 1 * 128 * 2


# --- mixture of experts: active parameters set the prefill time ---


def test_active_parameters_of_mixtral():
    # One expert's gate, up and down projections over 32 layers: 32 x 3 x 4096 x 14336.
    expert_b = 32 * 3 * 4096 * 14336 / 1e9
    assert sizing.expert_params_b(MIXTRAL) == expert_b
    assert sizing.active_params_b(MIXTRAL) == 46.7 - (8 - 2) * expert_b
    assert sizing.active_params_b(LLAMA_70B) == 70.6


def test_a_two_expert_model_is_not_dense():
    top1_of_2 = MIXTRAL.model_copy(update={"num_experts": 2, "experts_per_token": 1})
    assert sizing.active_params_b(top1_of_2) == 46.7 - (2 - 1) * (32 * 3 * 4096 * 14336 / 1e9)


# --- the tensor-parallel degrees vLLM accepts ---


@pytest.mark.parametrize(("arch", "gpus", "expected"), [
    (LLAMA_70B, 8, [1, 2, 4, 8]),
    # 28 attention heads: TP 8 does not divide them, though it is a multiple of the 4 KV heads.
    (QWEN_7B, 8, [1, 2, 4]),
    # 16 heads, 8 KV heads: TP 16 replicates each KV head on two ranks, which vLLM accepts.
    (GEMMA_9B, 16, [1, 2, 4, 8, 16]),
], ids=["llama-70b", "qwen2.5-7b", "gemma-2-9b"])
def test_tp_candidates(arch, gpus, expected):
    assert sizing.tp_candidates(arch, gpus) == expected


def test_refused_tp_names_every_allowed_degree():
    # 64 heads and 8 KV heads: TP below 8 must divide 8 (1, 2, 4), TP from 8 must divide 64 and
    # be a multiple of 8 (8, 16, 32, 64).
    expected = ("tensor parallel 3 is refused by vLLM for 64 attention heads and 8 KV heads: "
                "it must divide the attention heads, and divide the KV heads or be a multiple "
                "of them; allowed: 1, 2, 4, 8, 16, 32, 64")
    assert sizing.tp_problem(LLAMA_70B, 3) == expected
    with pytest.raises(sizing.SizingError) as err:
        sizing.memory_budget(LLAMA_70B, 79.65, 3, 0.9, 4096)
    assert str(err.value) == expected
    assert sizing.tp_problem(GEMMA_9B, 16) is None
    assert sizing.tp_problem(QWEN_7B, 8).endswith("allowed: 1, 2, 4, 28")


# --- one memory budget worked out in full ---


def test_memory_budget_of_llama_70b_at_tp8_in_full():
    """Llama-3.1-70B, TP8 on H100 (79.65 GiB), 0.925 utilisation, a 30001-token context;
    vLLM's profiling run at the defaults: 8192 batched tokens, 256 sequences."""
    b = sizing.memory_budget(LLAMA_70B, 79.65, 8, 0.925, 30001)
    requested = 79.65 * 0.925
    weights = 70.6e9 * 2 / 8 / GIB
    act = (8192 * (3 * 28672 / 8 + 3 * 8192) * 2 + 256 * 128256 * 4 * 3.4) / GIB
    non_torch = 1.79 + 3 * 1.79
    kv = requested - weights - act - non_torch
    per_token = 2 * 80 * 1 * 128 * 2
    tokens = int(kv * GIB // per_token) // 16 * 16
    # 30001 tokens take 1876 blocks of 16 = 30016 tokens of cache.
    assert b == sizing.MemoryBudget(
        gpu_total_gib=79.65, requested_gib=round(requested, 4), weights_gib=round(weights, 4),
        activation_gib=round(act, 4), non_torch_gib=round(non_torch, 4),
        kv_cache_gib=round(kv, 4), kv_bytes_per_token=per_token, kv_cache_tokens=tokens,
        max_model_len=30001, max_concurrency=round(tokens / 30016, 2))
    assert b.fits


def test_memory_budget_defaults_are_vllms_profiling_run():
    """Llama-3.1-8B, TP1: the defaults are 8192 batched tokens and 256 sequences."""
    b = sizing.memory_budget(LLAMA_8B, 79.65, 1, 0.9, 8192)
    act = (8192 * (3 * 14336 + 3 * 4096) * 2 + 256 * 128256 * 4 * 3.4) / GIB
    assert b.activation_gib == round(act, 4)
    assert b == sizing.memory_budget(LLAMA_8B, 79.65, 1, 0.9, 8192, "auto", "none", 8192,
                                     256, "v1")


def test_a_model_larger_than_the_gpu_has_no_kv_cache():
    # 131.5 GiB of bf16 weights on a 22.49 GiB L4: nothing is left, never a negative cache.
    b = sizing.memory_budget(LLAMA_70B, 22.49, 1, 0.9, 4096)
    assert (b.kv_cache_gib, b.kv_cache_tokens, b.max_concurrency, b.fits) == (0.0, 0, 0.0, False)


# --- the planner's inputs ---


@dataclass(frozen=True)
class _Gpu:
    id: str
    memory_gib: float
    bandwidth_gbps: float = 1000
    bf16_tflops: float = 100
    fp8_tflops: float | None = None


@pytest.mark.parametrize(("memory_gib", "expected"), [
    (79.65, 8192), (70.0, 8192), (69.99, 2048), (44.99, 2048)])
def test_batched_tokens_follow_vllms_70_gib_threshold(memory_gib, expected):
    assert sizing.default_batched_tokens(_Gpu("x", memory_gib)) == expected


@pytest.mark.parametrize(("requested", "native", "effective", "at_load"), [
    ("none", None, "none", None),
    ("fp8", None, "fp8", "fp8"),
    ("none", "fp8", "fp8", None),  # stored FP8 already: vLLM reads the checkpoint's config
    (None, "fp8", "fp8", None),
    ("fp8", "fp8", "fp8", None),
    ("awq", None, "awq", "awq"),
])
def test_quantization_the_checkpoint_has_and_the_engine_applies(requested, native, effective,
                                                                 at_load):
    assert sizing.effective_quantization(requested, native) == effective
    inputs = _inputs(quantization=requested or "none", native_quantization=native)
    assert sizing.quantize_at_load(inputs) == at_load


def _inputs(**kw) -> sizing.ServingInputs:
    base = dict(max_context=8192, quantization="none", native_quantization=None,
                kv_cache_dtype="auto", gpu_memory_utilization=0.9, prefix_caching=True,
                ttft_p95_ms=2000, peak_concurrent_requests=40, conversations_per_day=20000,
                prompt_tokens_per_turn=1000, completion_tokens_per_turn=200,
                turns_per_conversation=3)
    base.update(kw)
    return sizing.ServingInputs(**base)


# --- the serving plan worked out in full ---


@dataclass(frozen=True)
class _Worked:
    """Llama-3.1-8B on one L4 (22.49 GiB, 300 GB/s, 121 dense bf16 TFLOPS), 8192-token context,
    1000-token prompts and 200-token completions, worked out by hand."""

    budget: sizing.MemoryBudget
    prefill_ms: float
    decode_ms: float
    max_num_seqs: int

    def latency_s(self, completion_tokens: int = 200) -> float:
        return (self.prefill_ms + completion_tokens * self.decode_ms) / 1000


def _llama8b_on_l4(prompt_tokens: int = 1000, seq_tokens: int = 1200) -> _Worked:
    requested = 22.49 * 0.9
    weights = 8.03 * 1e9 * 2 / 1 / GIB
    # Under 70 GiB vLLM profiles 2048 batched tokens; 256 sequences.
    act = (2048 * (3 * 14336 * 1 / 1 + 3 * 4096) * 2 + 256 * 128256 * 4 * 3.4) / GIB
    kv = requested - weights - act - 1.79
    per_token = 2 * 32 * 8 * 128 * 2
    tokens = int(kv * GIB // per_token) // 16 * 16
    budget = sizing.MemoryBudget(
        gpu_total_gib=22.49, requested_gib=round(requested, 4), weights_gib=round(weights, 4),
        activation_gib=round(act, 4), non_torch_gib=1.79, kv_cache_gib=round(kv, 4),
        kv_bytes_per_token=per_token, kv_cache_tokens=tokens, max_model_len=8192,
        max_concurrency=round(tokens / 8192, 2))
    # Prefill: 2 FLOP per parameter per prompt token at 40 % of the dense bf16 peak.
    prefill_ms = 2 * 8.03 * 1e9 * prompt_tokens / (1 * (121 * 1e12) * 0.4) * 1000
    # Decode: each token reads the GPU's weights (as reported, 4 decimals) once.
    decode_ms = round(weights, 4) * GIB / (300 * 1e9) * 1000
    return _Worked(budget, prefill_ms, decode_ms, min(256, tokens // seq_tokens))


def test_plan_of_llama_8b_on_an_l4_in_full():
    w = _llama8b_on_l4()
    plan = sizing.plan_serving(LLAMA_8B, L4, 1, _inputs(), ENGINES["vllm"])
    seqs = w.max_num_seqs
    avg = 20000 * 3 / 86400 * w.latency_s()  # Little's law: requests per second x latency
    replicas_max = math.ceil(40 / seqs)
    # 16.06 GB at 0.25 GiB/s plus 300 s of warm-up, twice over, in whole minutes.
    startup = max(600, math.ceil(2 * (8.03 * 1e9 * 2 / GIB / 0.25 + 300) / 60) * 60)
    b = w.budget
    assert plan == sizing.ServingPlan(
        gpu="L4", tensor_parallel=1, budget=b, max_num_seqs=seqs, max_num_batched_tokens=2048,
        replicas_min=min(replicas_max, max(1, math.ceil(avg / seqs))),
        replicas_max=replicas_max, prefill_ms=round(w.prefill_ms, 1),
        decode_ms_per_token=round(w.decode_ms, 2), startup_budget_s=startup,
        drain_s=max(120, math.ceil(2 * w.latency_s())), gpu_memory_utilization=0.9,
        prefix_caching=True,
        engine_args=["--tensor-parallel-size=1", "--max-model-len=8192",
                     f"--max-num-seqs={seqs}", "--max-num-batched-tokens=2048",
                     "--gpu-memory-utilization=0.9", "--kv-cache-dtype=auto",
                     "--enable-prefix-caching"],
        reasons=[
            f"TP1: weights {b.weights_gib:.1f} GiB/GPU, KV cache {b.kv_cache_gib:.1f} GiB = "
            f"{b.kv_cache_tokens} tokens ({b.max_concurrency}x max_context)",
            f"{seqs} concurrent sequences per replica at 1200 tokens each; peak 40 concurrent "
            f"-> max {replicas_max} replicas; average ~{avg:.1f} concurrent -> min 1",
        ],
        kv_cache_dtype="auto", quantize_at_load=None)
    # The worked numbers, so a reader sees what the plan holds.
    assert (seqs, replicas_max, plan.replicas_min, plan.drain_s) == (19, 3, 1, 120)
    assert startup == 720


def test_long_turns_keep_one_sequence_and_drain_for_twice_their_latency():
    w = _llama8b_on_l4(prompt_tokens=6000, seq_tokens=12000)
    plan = sizing.plan_serving(
        LLAMA_8B, L4, 1,
        _inputs(prompt_tokens_per_turn=6000, completion_tokens_per_turn=6000, ttft_p95_ms=10000,
                peak_concurrent_requests=1),
        ENGINES["vllm"])
    # 23472 KV tokens hold one 12000-token conversation turn, not two.
    assert w.budget.kv_cache_tokens // 12000 == 1
    assert (plan.max_num_seqs, plan.replicas_max, plan.replicas_min) == (1, 1, 1)
    assert plan.prefill_ms == round(w.prefill_ms, 1)
    assert plan.drain_s == math.ceil(2 * w.latency_s(6000))
    assert plan.drain_s > 120


@pytest.mark.parametrize(("over", "replicas_min"), [(1 + 1e-10, 3), (1 - 1e-10, 2)])
def test_min_replicas_round_up_the_average_load(over, replicas_min):
    """An average load a hair over 2 x max_num_seqs needs 3 replicas; a hair under, 2."""
    w = _llama8b_on_l4()
    conversations = 2 * w.max_num_seqs * over * 86400 / (3 * w.latency_s())
    plan = sizing.plan_serving(
        LLAMA_8B, L4, 1,
        _inputs(conversations_per_day=conversations, peak_concurrent_requests=1000),
        ENGINES["vllm"])
    assert (plan.replicas_min, plan.replicas_max) == (replicas_min, math.ceil(1000 / 19))


@pytest.mark.parametrize(("share_ulps", "tp"), [(0, 1), (-1, 2)])
def test_prefill_exactly_at_the_ttft_share_is_met(share_ulps, tp):
    """Llama-3.1-8B on H100 (989 dense bf16 TFLOPS): the prefill of 1000 tokens at TP1 takes
    2 x 8.03e9 x 1000 / (989e12 x 0.4) s. An SLO whose share equals it is met at TP1; one a
    float step under it is not, and TP2 halves the prefill."""
    prefill_ms = 2 * 8.03 * 1e9 * 1000 / (1 * (989 * 1e12) * 0.4) * 1000
    share = prefill_ms if share_ulps == 0 else math.nextafter(prefill_ms, 0)
    plan = sizing.plan_serving(LLAMA_8B, H100, 2, _inputs(ttft_p95_ms=2 * share),
                               ENGINES["vllm"])
    assert plan.tensor_parallel == tp
    assert plan.prefill_ms == round(prefill_ms / tp, 1)


def test_fp8_weights_and_kv_cache_on_h100():
    """Llama-3.1-70B quantized to FP8 at load, FP8 KV cache, 32768-token context, 8 x H100."""
    plan = sizing.plan_serving(
        LLAMA_70B, H100, 8, _inputs(max_context=32768, quantization="fp8", kv_cache_dtype="fp8"),
        ENGINES["vllm"])
    untied = 2 * 128256 * 8192
    fp8_bytes = (70.6e9 - untied) * 1 + untied * 2
    act = (8192 * (3 * 28672 / 2 + 3 * 8192) * 2 + 256 * 128256 * 4 * 3.4) / GIB
    # TP1 holds 67.7 GiB of weights and too little cache; TP2 is the first that fits.
    assert plan.tensor_parallel == 2
    assert plan.budget.weights_gib == round(fp8_bytes / 2 / GIB, 4)
    assert plan.budget.activation_gib == round(act, 4)
    assert plan.budget.kv_bytes_per_token == 2 * 80 * (8 // 2) * 128 * 1
    # FP8 runs at the 1979 dense FP8 TFLOPS.
    assert plan.prefill_ms == round(2 * 70.6 * 1e9 * 1000 / (2 * (1979 * 1e12) * 0.4) * 1000, 1)
    assert plan.startup_budget_s == math.ceil(2 * (fp8_bytes / GIB / 0.25 + 300) / 60) * 60
    assert (plan.kv_cache_dtype, plan.quantize_at_load) == ("fp8", "fp8")
    assert plan.max_num_batched_tokens == 8192
    assert plan.engine_args[-3:] == ["--kv-cache-dtype=fp8", "--enable-prefix-caching",
                                     "--quantization=fp8"]


def test_native_fp8_checkpoint_sized_as_fp8_on_another_engine():
    """RedHatAI's FP8 checkpoint: stored FP8, so sized and timed as FP8 without asking the
    engine to quantize; TensorRT-LLM's own KV sizing is named in the reasons."""
    engine = ENGINES["tensorrt-llm"]
    plan = sizing.plan_serving(LLAMA_70B_FP8, H100, 8,
                               _inputs(max_context=32768, native_quantization="fp8"), engine)
    untied = 2 * 128256 * 8192
    fp8_bytes = (70.6e9 - untied) * 1 + untied * 2
    assert plan.tensor_parallel == 2
    assert plan.budget.weights_gib == round(fp8_bytes / 2 / GIB, 4)
    assert plan.prefill_ms == round(2 * 70.6 * 1e9 * 1000 / (2 * (1979 * 1e12) * 0.4) * 1000, 1)
    assert plan.startup_budget_s == math.ceil(2 * (fp8_bytes / GIB / 0.25 + 300) / 60) * 60
    assert plan.quantize_at_load is None
    assert plan.reasons[-1] == f"memory (tensorrt-llm): {engine.memory_note}"
    vllm = sizing.plan_serving(LLAMA_70B_FP8, H100, 8,
                               _inputs(max_context=32768, native_quantization="fp8"),
                               ENGINES["vllm"])
    assert not any(r.startswith("memory (") for r in vllm.reasons)


def test_no_fit_names_the_last_refusal_and_the_remedies():
    with pytest.raises(sizing.SizingError) as err:
        sizing.plan_serving(LLAMA_70B, L4, 1, _inputs(max_context=32768), ENGINES["vllm"])
    # 70.6e9 x 2 bytes = 131.5 GiB of weights on one 22.49 GiB L4: no cache at all.
    assert str(err.value) == (
        "does not fit on 1x L4 at any tensor-parallel degree [1]: TP1: 0 KV tokens per "
        "replica < max_context 32768 (weights 131.5 GiB/GPU of 22.49 GiB); use a bigger GPU "
        "or pool, a shorter max_context, kv_cache_dtype fp8 or quantization")


def test_a_pool_without_gpus_has_no_tensor_parallel_degree():
    with pytest.raises(sizing.SizingError) as err:
        sizing.plan_serving(LLAMA_8B, H100, 0, _inputs(), ENGINES["vllm"])
    assert str(err.value) == (
        "does not fit on 0x H100-80GB at any tensor-parallel degree []: no valid TP degree "
        "for this architecture; use a bigger GPU or pool, a shorter max_context, "
        "kv_cache_dtype fp8 or quantization")
