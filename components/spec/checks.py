"""Checks that span fields or need the catalog or the sizing model. `load_spec` reports every
problem at once, one line each, with its config path."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import replace
from datetime import date
from typing import Any, get_args

from pydantic import (
    BaseModel,
    ValidationError,
)

from components import canary, catalog, clouds, scheduling, sizing
from components.catalog.engine_releases import engine_releases
from components.engines import ENGINES
from components.spec.errors import (
    CONFIG_KEY,
    SpecError,
    config_path,
    echo,
    given,
    names_a_secret,
)
from components.spec.types import (
    HUB_COMMIT,
    REVISION_RULE,
    Architecture,
    Environment,
    EnvironmentSpec,
    Gateway,
    GpuPool,
    Model,
    RetrainTrigger,
    Rollout,
    TrainingJob,
)


def nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = nested_model(arg)
        if found:
            return found
    return None


def _locate(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    """The config path of an error location, and the model holding its last part.

    pydantic puts the tag of a discriminated union in the location (`vpn` in
    hybrid.connectivity.vpn.peer_ip); the config has no such key, so it is dropped and the
    tagged member is the model walked into."""
    out: list[Any] = []
    current: Any = EnvironmentSpec
    holder: Any = None
    tags: dict[str, type[BaseModel]] | None = None
    for part in loc:
        if tags is not None:
            member, tags = tags.get(part), None
            if member is not None:
                current = member
                continue
        out.append(part)
        if isinstance(part, int):
            continue
        holder = current
        info = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if info is None:
            current = None
            continue
        if isinstance(info.discriminator, str):
            tags = {
                get_args(m.model_fields[info.discriminator].annotation)[0]: m
                for m in get_args(info.annotation)
            }
        current = nested_model(info.annotation)
    return tuple(out), holder


def _shape_problems(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic marks a bad mapping key with a trailing "[key]" location element.
        key_problem = loc[-1:] == ("[key]",)
        loc, holder = _locate(loc[:-1] if key_problem else loc)
        if e["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(getattr(holder, "model_fields", {})))
            lines.append(f"{config_path(loc)}: unknown field; allowed here: {allowed}")
            continue
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing" and holder is Model and loc[-1] == "revision":
            msg = f"required: the model must be pinned to {REVISION_RULE}"
        got = e.get("input")
        if e["type"] == "union_tag_invalid":
            # pydantic's own message quotes the tag raw: a newline in it would split the line.
            ctx = e.get("ctx", {})
            loc = (*loc, ctx.get("discriminator", "").strip("'"))
            msg = f"must be one of {ctx.get('expected_tags', '')}"
            got = ctx.get("tag")
        # Our own validators already quote the value; pydantic's built-ins do not.
        quiet = e["type"] in ("missing", "value_error") or isinstance(got, dict | list)
        if names_a_secret(loc):
            shown = " (value not shown: this field names a secret and must not hold one)"
        else:
            shown = "" if quiet else f" (got {echo(got)})"
        lines.append(f"{config_path(loc)}: {'key: ' if key_problem else ''}{msg}{shown}")
    return lines


def architecture_of(model: Model) -> Architecture | catalog.ModelInfo | None:
    if model.architecture is not None:
        return model.architecture
    return catalog.models().get(model.hf_id or "")


def serving_inputs(model: Model, arch: Architecture | catalog.ModelInfo) -> sizing.ServingInputs:
    return sizing.ServingInputs(
        max_context=model.max_context,
        quantization=model.quantization,
        native_quantization=arch.native_quantization,
        kv_cache_dtype=model.kv_cache_dtype,
        gpu_memory_utilization=model.gpu_memory_utilization,
        prefix_caching=model.prefix_caching,
        ttft_p95_ms=model.slo.ttft_p95_ms,
        peak_concurrent_requests=model.slo.peak_concurrent_requests,
        conversations_per_day=model.traffic.conversations_per_day,
        prompt_tokens_per_turn=model.traffic.prompt_tokens_per_turn,
        completion_tokens_per_turn=model.traffic.completion_tokens_per_turn,
        turns_per_conversation=model.traffic.turns_per_conversation,
    )


def engine_release_warnings(spec: EnvironmentSpec) -> list[str]:
    """The engine flags, the adapter and the rules are written for one release per engine
    (components/catalog/engines.yaml); another image may refuse a flag or export other
    series, so say so."""
    out = []
    for i, model in enumerate(spec.models):
        pinned = engine_releases()[model.engine.kind].image
        if model.engine.image.split("@")[0] != pinned:
            out.append(
                f"{config_path(('models', i, 'engine', 'image'))}: engine flags and metric "
                f"names target {pinned}; with {model.engine.image} the server may refuse a "
                "flag or the alerts may see no series"
            )
    return out


def check(spec: EnvironmentSpec, plan_date: date | None = None) -> Environment:
    """Cross-field and catalog checks. Raises SpecError listing every problem. Support
    windows are judged as of `plan_date` (default catalog.plan_date(): today, or
    LLM_PLATFORM_PLAN_DATE)."""
    problems: list[str] = []
    warnings: list[str] = []
    problems += kubernetes_support(spec, plan_date, warnings)
    problems += cloud_block_problems(spec)
    problems += network_problems(spec)
    plans: dict[str, sizing.ServingPlan] = {}

    problems += _environment_problems(spec)
    problems += _topology_blocks(spec)
    problems += _name_problems(spec)
    warnings += engine_release_warnings(spec)
    problems += _pool_problems(spec, warnings)
    problems += _model_problems(spec, plans, warnings)
    problems += _shared_pool_problems(spec, plans, warnings)
    problems += _scheduling_problems(spec, plans, warnings)
    problems += gateway_problems(spec, warnings)
    problems += lifecycle_problems(spec, plans, warnings)
    problems += training_problems(spec, warnings)
    if problems:
        raise SpecError(problems)
    return Environment(spec=spec, plans=plans, warnings=warnings)


def _environment_problems(spec: EnvironmentSpec) -> list[str]:
    """The environment's name is repeated in its tags, and an on-prem cluster prices its GPUs."""
    problems = []
    if spec.tags.environment != spec.environment:
        problems.append(
            f"{config_path(('tags', 'environment'))}: must equal environment '{spec.environment}' "
            f"(got {echo(spec.tags.environment)})"
        )
    if spec.topology in ("onprem", "hybrid") and spec.onprem is None:
        problems.append(
            f"{config_path(('onprem',))}: required for topology {spec.topology}; "
            "set onprem.gpu_hour_usd to the amortised cost of one GPU-hour"
        )
    return problems


def _pool_problems(spec: EnvironmentSpec, warnings: list[str]) -> list[str]:
    """Each GPU pool alone: unique names, a GPU the runtime drives, instance types that
    carry the pool's GPUs, and what its placement (cloud or on-prem) requires."""
    problems = []
    gpus = catalog.gpus()
    seen: set[str] = set()
    for i, pool in enumerate(spec.gpu_pools):
        where = ("gpu_pools", i)
        if pool.name in seen:
            problems.append(f"{config_path((*where, 'name'))}: duplicate pool name '{pool.name}'")
        seen.add(pool.name)
        if gpus[pool.gpu].vendor == "amd" and not spec.cluster.gpu_operator:
            warnings.append(
                f"{config_path((*where, 'gpu'))}: {pool.gpu} nodes need AMD's ROCm device plugin, "
                "which llm-platform does not install; the NVIDIA runtime skips this pool"
            )
        # On the on-prem cluster capacity means nothing: the nodes are owned, never reclaimed.
        on_cloud = pool in spec.cloud_pools()
        if pool.purpose == "training" and pool.capacity != "spot" and on_cloud:
            warnings.append(
                f"{config_path((*where, 'capacity'))}: training pool '{pool.name}' is on-demand; "
                "checkpointed training can run on spot at a fraction of the price "
                "(see components/catalog/instances.yaml)"
            )
        problems += _instance_gpu_problems(pool, where)
        problems += _cloud_pool_problems(spec, pool, where)
    return problems


def _instance_gpu_problems(pool: GpuPool, where: tuple) -> list[str]:
    """Every instance type of a pool carries exactly the pool's GPUs."""
    problems = []
    typed: list[tuple[tuple[str | int, ...], str | None]] = [
        (("instance_type",), pool.instance_type),
        *((("extra_instance_types", j), n) for j, n in enumerate(pool.extra_instance_types)),
    ]
    for sub, name in typed:
        if name is None:
            continue
        inst = catalog.instances()[name]
        path = config_path((*where, *sub))
        if inst.gpu != pool.gpu or inst.gpu_count != pool.gpus_per_node:
            problems.append(
                f"{path}: {inst.id} has {inst.gpu_count}x {inst.gpu}, but the pool says "
                f"{pool.gpus_per_node}x {pool.gpu}"
            )
    return problems


def _model_problems(
    spec: EnvironmentSpec, plans: dict[str, sizing.ServingPlan], warnings: list[str]
) -> list[str]:
    """Each model: unique names, known facts, an inference pool it fits in. Fills `plans`
    with the serving plan of every model that passed; a model's first problem ends its
    checks, since the later ones would only repeat it."""
    problems: list[str] = []
    names: set[str] = set()
    pools = {p.name: p for p in spec.gpu_pools}
    for i, model in enumerate(spec.models):
        where = ("models", i)
        if model.name in names:
            problems.append(f"{config_path((*where, 'name'))}: duplicate model name '{model.name}'")
        names.add(model.name)
        arch = _checked_architecture(where, model, problems)
        if arch is None:
            continue
        pool = _serving_pool(where, model, pools, problems)
        if pool is None:
            continue
        plan = _serving_plan(where, model, arch, pool, problems, warnings)
        if plan is None:
            continue
        plans[model.name] = plan
        problems += _volume_problems(where, model, arch)
    return problems


def _checked_architecture(
    where: tuple, model: Model, problems: list[str]
) -> Architecture | catalog.ModelInfo | None:
    """The model's facts (its own block or the catalog's), or None after adding a problem."""
    if model.hf_id is None and model.architecture is None:
        problems.append(
            f"{config_path(where)}: set hf_id (a catalog model) "
            "or architecture (for any other model)"
        )
        return None
    if model.architecture is not None:
        inconsistent = architecture_problems((*where, "architecture"), model.architecture)
        if inconsistent:
            problems += inconsistent
            return None
    arch = architecture_of(model)
    assert arch is not None  # hf_id is checked against the catalog by the field validator
    if model.max_context > arch.max_position_embeddings:
        problems.append(
            f"{config_path((*where, 'max_context'))}: must be <= the model's max positions "
            f"{arch.max_position_embeddings} (got {model.max_context})"
        )
        return None
    return arch


def _serving_pool(
    where: tuple, model: Model, pools: dict[str, GpuPool], problems: list[str]
) -> GpuPool | None:
    """The inference pool the model names, or None after adding a problem."""
    pool = pools.get(model.pool)
    if pool is None:
        problems.append(
            f"{config_path((*where, 'pool'))}: no gpu_pool named '{model.pool}'"
            f"{catalog.suggest(model.pool, pools)}; pools: {', '.join(pools)}"
        )
        return None
    if pool.purpose != "inference":
        problems.append(
            f"{config_path((*where, 'pool'))}: pool '{pool.name}' is for {pool.purpose}; "
            "models are served from an inference pool"
        )
        return None
    return pool


def _serving_plan(
    where: tuple,
    model: Model,
    arch: Architecture | catalog.ModelInfo,
    pool: GpuPool,
    problems: list[str],
    warnings: list[str],
) -> sizing.ServingPlan | None:
    """The model's serving plan on its pool, with autoscaling capped to the pool's GPUs,
    or None after adding a problem."""
    gpu = catalog.gpus()[pool.gpu]
    engine = ENGINES[model.engine.kind]
    if refused := engine.gpu_problems(pool.name, gpu):
        problems += [f"{config_path((*where, 'engine', 'kind'))}: {p}" for p in refused]
        return None
    try:
        inputs = serving_inputs(model, arch)
        plan = sizing.plan_serving(arch, gpu, pool.gpus_per_node, inputs, engine)
    except sizing.SizingError as exc:
        problems.append(f"{config_path(where)}: {model.name} {exc}")
        return None
    capacity = pool.max_nodes * pool.gpus_per_node
    if plan.gpus_min > capacity:
        problems.append(
            f"{config_path((*where, 'pool'))}: needs at least {plan.gpus_min} GPUs "
            f"({plan.replicas_min} replicas x TP{plan.tensor_parallel}) but pool "
            f"'{pool.name}' has at most {capacity}; raise max_nodes"
        )
        return None
    if plan.gpus_max > capacity:
        capped = capacity // plan.tensor_parallel
        warnings.append(
            f"{config_path((*where, 'slo', 'peak_concurrent_requests'))}: peak needs "
            f"{plan.gpus_max} GPUs but pool '{pool.name}' has {capacity}; autoscaling is "
            f"capped at {capped} replicas"
        )
        plan = replace(plan, replicas_max=capped)
    return plan


def _shared_pool_problems(
    spec: EnvironmentSpec, plans: dict[str, sizing.ServingPlan], warnings: list[str]
) -> list[str]:
    """Models sharing a pool share its GPUs: their minimums must fit together."""
    problems = []
    for i, pool in enumerate(spec.gpu_pools):
        sharing = [m.name for m in spec.models if m.pool == pool.name and m.name in plans]
        if len(sharing) < 2:
            continue
        capacity = pool.max_nodes * pool.gpus_per_node
        need_min = sum(plans[n].gpus_min for n in sharing)
        need_max = sum(plans[n].gpus_max for n in sharing)
        if need_min > capacity:
            problems.append(
                f"{config_path(('gpu_pools', i, 'max_nodes'))}: models {', '.join(sharing)} need "
                f"{need_min} GPUs at their minimum replicas but pool '{pool.name}' has at most "
                f"{capacity}; raise max_nodes or move a model to another pool"
            )
        elif need_max > capacity:
            warnings.append(
                f"{config_path(('gpu_pools', i, 'max_nodes'))}: models {', '.join(sharing)} need "
                f"{need_max} GPUs at peak but pool '{pool.name}' has {capacity}; they will "
                "compete for GPUs when all scale out"
            )
    return problems


def architecture_problems(where: tuple, arch: Architecture) -> list[str]:
    """Facts of a config.json that contradict each other, which the sizing model would turn
    into nonsense (a negative active parameter count, a negative concurrency)."""
    problems = []
    if arch.experts_per_token > arch.num_experts:
        problems.append(
            f"{config_path((*where, 'experts_per_token'))}: must be <= num_experts "
            f"({arch.num_experts}) (got {arch.experts_per_token})"
        )
    # Grouped-query attention gives each KV head an equal group of query heads; vLLM's
    # Attention asserts num_heads % num_kv_heads == 0
    # (vllm/model_executor/layers/attention/attention.py, v0.33.0).
    if arch.attention_heads % arch.kv_heads:
        problems.append(
            f"{config_path((*where, 'kv_heads'))}: must divide attention_heads "
            f"({arch.attention_heads}) (got {arch.kv_heads})"
        )
    experts_b = arch.num_experts * sizing.expert_params_b(arch)
    if arch.num_experts > 1 and not problems and experts_b > arch.params_b:
        problems.append(
            f"{config_path((*where, 'params_b'))}: {arch.num_experts} experts of "
            f"layers x 3 x hidden_size x intermediate_size hold {experts_b:.1f}B parameters, "
            f"more than the model's {arch.params_b}B; params_b is the total over all experts"
        )
    return problems


def _volume_problems(
    where: tuple, model: Model, arch: Architecture | catalog.ModelInfo
) -> list[str]:
    """A weights volume smaller than the weights fills up before the server starts."""
    size = model.weights.size_gib
    quant = sizing.effective_quantization(model.quantization, arch.native_quantization)
    need = math.ceil(sizing.weight_bytes(arch, quant) / sizing.GIB)
    if size is None or size >= need:
        return []
    return [
        f"{config_path((*where, 'weights', 'size_gib'))}: {size} GiB cannot hold the model's "
        f"{need} GiB of {'16-bit' if quant == 'none' else quant} weights; set at least "
        f"{need}, or leave it out for weights x 1.5"
    ]


def network_problems(spec: EnvironmentSpec) -> list[str]:
    """Address ranges that overlap: GKE's node, pod, service and control-plane ranges
    route to different places, and a hybrid's on-prem ranges are reached over the link
    from the cloud network, so none of them may share an address."""
    ranges: list[tuple[tuple, str]] = []
    for cloud in clouds.clouds():
        block = getattr(spec, cloud.name)
        if block is not None:
            ranges += [((cloud.name, name), cidr) for name, cidr in cloud.cidrs(block)]
    if spec.hybrid is not None:
        for j, cidr in enumerate(spec.hybrid.connectivity.onprem_cidrs):
            ranges.append((("hybrid", "connectivity", "onprem_cidrs", j), cidr))
    problems = []
    for k, (where, cidr) in enumerate(ranges):
        net = ipaddress.IPv4Network(cidr)
        for other, taken in ranges[:k]:
            if net.overlaps(ipaddress.IPv4Network(taken)):
                problems.append(
                    f"{config_path(where)}: {cidr} overlaps {config_path(other)} ({taken}); "
                    "choose a range that shares no address with it"
                )
                break
    return problems


def _scheduling_problems(
    spec: EnvironmentSpec, plans: dict[str, sizing.ServingPlan], warnings: list[str]
) -> list[str]:
    """What the scheduler would refuse: a model server that does not fit its pool's nodes,
    and a shared ReadWriteOnce weights claim that a second pod on another node would wait
    for forever."""
    problems = []
    driver_by = clouds.get(spec.cloud).gpu_driver_by if spec.cloud is not None else None
    if spec.cluster.gpu_operator and driver_by is not None:
        problems.append(
            f"{config_path(('cluster', 'gpu_operator'))}: {driver_by} installs the NVIDIA "
            "driver and device plugin on its GPU node pools; the GPU Operator would run a "
            "second plugin on the same GPUs; remove it"
        )
    for i, pool in enumerate(spec.gpu_pools):
        if pool.node_allocatable is not None and pool in spec.cloud_pools():
            problems.append(
                f"{config_path(('gpu_pools', i, 'node_allocatable'))}: pool '{pool.name}' runs "
                f"on {spec.cloud}, whose node allocatable comes from the catalog "
                "(components/catalog/node_reserve.yaml); remove it"
            )
    for i, model in enumerate(spec.models):
        plan = plans.get(model.name)
        if plan is None:
            continue
        pool = spec.pool(model.pool)
        problems += _fit_problems(spec, i, model, pool, plan, warnings)
        problems += _weights_problems(spec, i, model, pool, plan)
    return problems


def _fit_problems(
    spec: EnvironmentSpec,
    i: int,
    model: Model,
    pool: GpuPool,
    plan: sizing.ServingPlan,
    warnings: list[str],
) -> list[str]:
    allocatable = scheduling.pool_allocatable(spec, pool)
    tp = plan.tensor_parallel
    floor = scheduling.engine_floor(tp)
    if allocatable is None and pool in spec.cloud_pools():
        return []  # no instance type: reported as such
    if allocatable is None:
        warnings.append(
            f"{config_path(('gpu_pools', spec.gpu_pools.index(pool), 'node_allocatable'))}: "
            f"pool '{pool.name}' declares no node size, so model '{model.name}' requests and is "
            f"limited to its floor of {floor.describe()} and its fit is not checked; set cpu "
            "and memory_gib from `kubectl get node -o jsonpath='{.status.allocatable}'`"
        )
        return []
    daemonsets = scheduling.gpu_daemonsets(spec, pool)
    share = scheduling.gpu_share(allocatable, pool.gpus_per_node, tp, daemonsets)
    if floor.fits_in(share):
        return []
    nodes = pool.instance_type or "its nodes"
    return [
        f"{config_path(('models', i, 'pool'))}: model '{model.name}' needs {floor.describe()} "
        f"per pod (TP{tp}) but pool '{pool.name}' ({nodes}) has {share.describe()} for "
        f"{tp} of its {pool.gpus_per_node} GPUs after the system reserve and the GPU "
        "DaemonSets; choose a node type with more CPU and memory per GPU"
    ]


def _weights_problems(
    spec: EnvironmentSpec, i: int, model: Model, pool: GpuPool, plan: sizing.ServingPlan
) -> list[str]:
    weights = model.weights
    where = config_path(("models", i, "weights", "access_mode"))
    if weights.volume == "per-pod":
        if weights.access_mode is not None:
            return [
                f"{where}: only for volume: shared; a per-pod volume is one ReadWriteOnce "
                f"claim per pod (remove access_mode, or set volume: shared)"
            ]
        volume = config_path(("models", i, "weights", "volume"))
        engine = ENGINES[model.engine.kind]
        fresh = not spec.has_artifact_store
        return [f"{volume}: {p}" for p in engine.weights_problems(model.name, fresh)]
    if weights.shared_access_mode != "ReadWriteOnce":
        return []
    surge = scheduling.can_surge(
        pool.max_nodes * pool.gpus_per_node, plan.replicas_max, plan.tensor_parallel
    )
    if plan.replicas_max == 1 and not surge:
        return []
    why = f"up to {plan.replicas_max} replicas" if plan.replicas_max > 1 else "a surge pod"
    return [
        f"{where}: a ReadWriteOnce claim attaches to one node, but model '{model.name}' runs "
        f"{why} that may land on another and wait for it forever; use volume: per-pod "
        "(the default) or a ReadWriteMany claim"
    ]


# The OpenAI API the gateway speaks to a model server lives under this path; an engine
# with another protocol (Triton's KServe v2) cannot be a gateway route.
OPENAI_API_PATH = "/v1"


def speaks_openai(model: Model) -> bool:
    """Whether the model's engine serves the OpenAI API the gateway routes to."""
    return ENGINES[model.engine.kind].api_path == OPENAI_API_PATH


def gateway_problems(spec: EnvironmentSpec, warnings: list[str]) -> list[str]:
    """The gateway block against the rest of the spec, and a model's fallback against it."""
    problems = _fallback_problems(spec)
    if spec.gateway is None:
        return problems
    gateway = spec.gateway
    problems += _gateway_team_problems(spec, gateway)
    problems += _gateway_key_problems(gateway)
    problems += _gateway_budget_problems(spec, gateway)
    problems += _gateway_setting_problems(spec, gateway, warnings)
    problems += _gateway_price_problems(spec)
    return problems


def _gateway_price_problems(spec: EnvironmentSpec) -> list[str]:
    """The gateway charges a token at the model's GPU $/h over its planned tokens/h
    (pricing.token_price), which no traffic leaves without a value."""
    return [
        f"{config_path(('models', i, 'traffic', 'conversations_per_day'))}: must be over 0 "
        f"with a gateway, which prices model '{model.name}''s tokens at its GPU cost over "
        "its planned tokens an hour (got 0)"
        for i, model in enumerate(spec.models)
        if speaks_openai(model) and model.traffic.conversations_per_day == 0
    ]


def _fallback_problems(spec: EnvironmentSpec) -> list[str]:
    """A fallback is a second route in the gateway, to the model's hosted_api."""
    problems = []
    for i, model in enumerate(spec.models):
        if model.fallback is None:
            continue
        where = config_path(("models", i, "fallback"))
        if spec.gateway is None:
            problems.append(
                f"{where}: needs a gateway block: the gateway is what falls back; add "
                "gateway (README: Gateway) or remove fallback"
            )
        if model.hosted_api is None:
            problems.append(
                f"{where}: needs models[{i}].hosted_api: its name is the model asked of the "
                "hosted API and its prices price the fallback"
            )
        if not speaks_openai(model):
            problems.append(f"{where}: {_not_openai(model)}; remove fallback")
    return problems


def _not_openai(model: Model) -> str:
    return (
        f"model '{model.name}' is served by {model.engine.kind}, whose API is not the OpenAI "
        "API the gateway routes to"
    )


def _gateway_team_problems(spec: EnvironmentSpec, gateway: Gateway) -> list[str]:
    """Team names are unique, and a team names models the gateway routes to."""
    problems = []
    models = {m.name: m for m in spec.models}
    seen: set[str] = set()
    for i, team in enumerate(gateway.teams):
        where = ("gateway", "teams", i)
        if team.name in seen:
            problems.append(f"{config_path((*where, 'name'))}: duplicate team name '{team.name}'")
        seen.add(team.name)
        for j, name in enumerate(team.models):
            path = config_path((*where, "models", j))
            model = models.get(name)
            if model is None:
                problems.append(
                    f"{path}: no model named '{name}'{catalog.suggest(name, models)}; models: "
                    f"{', '.join(models) or 'none'}"
                )
            elif not speaks_openai(model):
                problems.append(f"{path}: {_not_openai(model)}")
    return problems


def _gateway_key_problems(gateway: Gateway) -> list[str]:
    """A key alias names one key, and a secret holds one key: two keys with one value would
    be one key to the gateway (it stores the value's hash), and a team key equal to the
    master key would be an admin key."""
    problems = []
    aliases: dict[str, str] = {}
    master = gateway.master_key_secret
    secrets: dict[str, str] = {master: config_path(("gateway", "master_key_secret"))}
    for i, team in enumerate(gateway.teams):
        for k, key in enumerate(team.keys):
            where = ("gateway", "teams", i, "keys", k)
            if key.alias in aliases:
                problems.append(
                    f"{config_path((*where, 'alias'))}: duplicate key alias '{key.alias}' "
                    f"(also in team '{aliases[key.alias]}'); aliases are unique across teams"
                )
            aliases.setdefault(key.alias, team.name)
            if key.secret in secrets:
                problems.append(
                    f"{config_path((*where, 'secret'))}: Pulumi secret '{key.secret}' is "
                    f"already used by {secrets[key.secret]}; each key needs a secret of its own"
                )
            secrets.setdefault(key.secret, config_path((*where, "secret")))
    return problems


def _gateway_budget_problems(spec: EnvironmentSpec, gateway: Gateway) -> list[str]:
    """A team's budget above the environment's ceiling could never be spent: the ceiling
    refuses every team first. (The sum of budgets over it is the policy pack's advisory.)"""
    ceiling = given(spec.gateway_ceiling_usd, "the gateway's ceiling")
    source = (
        "gateway.ceiling_usd"
        if gateway.ceiling_usd is not None
        else "the default, budget.monthly_usd x hard_cap_pct / 100"
    )
    problems = []
    for i, team in enumerate(gateway.teams):
        budget = team.monthly_budget_usd
        if budget is not None and budget > ceiling:
            problems.append(
                f"{config_path(('gateway', 'teams', i, 'monthly_budget_usd'))}: must be at most "
                f"the environment's ceiling of {ceiling:g} USD ({source}) (got {budget:g})"
            )
    return problems


def _gateway_setting_problems(
    spec: EnvironmentSpec, gateway: Gateway, warnings: list[str]
) -> list[str]:
    """The replicas' bounds, and the request log the quality monitor reads."""
    problems = []
    replicas = gateway.replicas
    if replicas.min > replicas.max:
        problems.append(
            f"{config_path(('gateway', 'replicas', 'min'))}: must be <= replicas.max "
            f"({replicas.max}) (got {replicas.min})"
        )
    quality = spec.observability.quality
    log = gateway.request_log
    if quality is not None and log.claim != quality.log_volume_claim:
        problems.append(
            f"{config_path(('gateway', 'request_log', 'claim'))}: must equal "
            f"observability.quality.log_volume_claim '{quality.log_volume_claim}', the claim "
            f"the quality monitor reads (got {echo(log.claim)})"
        )
    if quality is not None and log.redact_prompts:
        warnings.append(
            f"{config_path(('gateway', 'request_log', 'redact_prompts'))}: the log keeps only "
            "hashes of prompts and completions, so the quality monitor has no text to measure "
            "drift or refusals on"
        )
    if not gateway.teams:
        warnings.append(
            f"{config_path(('gateway', 'teams'))}: no teams, so no key but the master key "
            "gets through the gateway"
        )
    return problems


def lifecycle_problems(
    spec: EnvironmentSpec, plans: dict[str, sizing.ServingPlan], warnings: list[str]
) -> list[str]:
    """Model versions: pinned revisions, the eval gate and the rollout against the rest of
    the spec, and the signing key where revisions are synced."""
    problems = _signing_problems(spec, warnings)
    for i, model in enumerate(spec.models):
        where = ("models", i)
        problems += _revision_problems(where, model)
        problems += _source_problems(spec, where, model)
        problems += _eval_problems(spec, where, model, warnings)
        if model.rollout is not None:
            problems += _rollout_problems(spec, where, model, model.rollout, warnings)
            if model.name in plans:
                problems += _canary_gpu_problems(spec, where, model, plans)
    return problems


def _signing_problems(spec: EnvironmentSpec, warnings: list[str]) -> list[str]:
    """Revisions synced to a store are signed there, so the store needs the key pair; a
    hybrid's store is its cloud bucket."""
    problems = []
    claim = spec.onprem.artifact_claim if spec.onprem is not None else None
    if claim is not None and spec.topology == "hybrid":
        problems.append(
            f"{config_path(('onprem', 'artifact_claim'))}: a hybrid's models are synced to its "
            "cloud bucket; remove artifact_claim"
        )
    store = "onprem.artifact_claim" if spec.cloud is None else "the artifacts bucket"
    signing = spec.lifecycle.signing
    if spec.has_artifact_store and spec.models and signing is None:
        problems.append(
            f"{config_path(('lifecycle', 'signing'))}: required: every model's revision is "
            f"synced to {store} and signed there; add signing.public_key and its "
            "private_key_secret (README: Shipping a new model version)"
        )
    elif signing is not None and not spec.has_artifact_store:
        warnings.append(
            f"{config_path(('lifecycle', 'signing'))}: unused: without an artifact store "
            "nothing is synced or signed; add onprem.artifact_claim"
        )
    return problems


def _revision_problems(where: tuple, model: Model) -> list[str]:
    """A Hub revision is a commit, since a branch or tag moves; a version of our own needs a
    place to read it from; a revision does not replace itself."""
    problems = []
    for key in ("revision", "previous_revision"):
        value = getattr(model, key)
        if value is not None and model.source is None and not HUB_COMMIT.match(value):
            problems.append(
                f"{config_path((*where, key))}: {echo(value)} is not pinned: a Hub revision is "
                "the repository's 40-hex commit (a branch or tag such as main can move to other "
                "weights); for a fine-tune's own version set source.uri"
            )
    if model.previous_revision is not None and model.previous_revision == model.revision:
        problems.append(
            f"{config_path((*where, 'previous_revision'))}: equals revision; name the revision "
            "this one replaces, or remove previous_revision"
        )
    return problems


def _source_problems(spec: EnvironmentSpec, where: tuple, model: Model) -> list[str]:
    """Only the sync Job reads another source; without a store the engine reads the Hub. An
    engine that serves a prebuilt repository (Triton) cannot be synced from the Hub's
    weights: its revision is a claim prefilled with the build, or a store path holding it."""
    synced = spec.has_artifact_store and model.source is None and not model.weights.prefilled
    if synced and not ENGINES[model.engine.kind].hub_download:
        return [
            f"{config_path((*where, 'weights', 'access_mode'))}: {model.engine.kind} serves a "
            "repository built beforehand, not the Hub's weights the sync Job would copy: set "
            "weights.volume shared with access_mode ReadOnlyMany (a claim holding the build), "
            "or source.uri (a store path holding it)"
        ]
    if model.source is None or spec.has_artifact_store:
        return []
    return [
        f"{config_path((*where, 'source'))}: needs an artifact store: the sync Job copies the "
        "revision from source.uri into it, while without one the engine can only download "
        "hf_id from the Hub; add onprem.artifact_claim or remove source"
    ]


def _eval_problems(
    spec: EnvironmentSpec, where: tuple, model: Model, warnings: list[str]
) -> list[str]:
    """The gate asks the model through the OpenAI API, and its judge through the gateway."""
    gate = model.eval
    if gate is None:
        if model.rollout is not None:
            return [
                f"{config_path((*where, 'rollout'))}: needs {where[0]}[{where[1]}].eval: the "
                "eval gate is the rollout's first step, before any traffic"
            ]
        return []
    problems = []
    if not speaks_openai(model):
        problems.append(
            f"{config_path((*where, 'eval'))}: {_not_openai(model)}, which the eval gate asks"
        )
    if model.rollout is None:
        warnings.append(
            f"{config_path((*where, 'eval'))}: without a rollout nothing runs the gate: a "
            "Deployment replaces its pods at once; add rollout to gate new revisions"
        )
    if gate.judge is not None:
        problems += _judge_problems(spec, (*where, "eval", "judge"), gate.judge.model)
    return problems


def _judge_problems(spec: EnvironmentSpec, where: tuple, judge: str) -> list[str]:
    if spec.gateway is None:
        return [
            f"{config_path(where)}: needs a gateway block: the judge is asked through the "
            "gateway; add gateway (README: Gateway) or remove judge"
        ]
    models = {m.name: m for m in spec.models}
    model = models.get(judge)
    if model is None:
        return [
            f"{config_path((*where, 'model'))}: no model named '{judge}'"
            f"{catalog.suggest(judge, models)}; models: {', '.join(models)}"
        ]
    if not speaks_openai(model):
        return [f"{config_path((*where, 'model'))}: {_not_openai(model)}: it cannot judge"]
    return []


def _rollout_problems(
    spec: EnvironmentSpec, where: tuple, model: Model, rollout: Rollout, warnings: list[str]
) -> list[str]:
    """Shadow traffic comes from the gateway, and each step raises the canary's weight."""
    where = (*where, "rollout")
    problems = []
    if rollout.shadow is not None and spec.gateway is None:
        problems.append(
            f"{config_path((*where, 'shadow'))}: needs a gateway block: the gateway copies "
            "the requests to the candidate; add gateway (README: Gateway) or remove shadow"
        )
    for j in range(1, len(rollout.steps)):
        before, step = rollout.steps[j - 1].weight_pct, rollout.steps[j].weight_pct
        if step <= before:
            problems.append(
                f"{config_path((*where, 'steps', j, 'weight_pct'))}: must be over the step "
                f"before's {before} (got {step}); the canary's weight only rises"
            )
    if not spec.has_artifact_store:
        problems.append(
            f"{config_path(where)}: needs an artifact store: the eval gate reads its golden "
            "set from evals/<name>/ and writes its report there, and without one it would fail "
            "closed on every rollout; add onprem.artifact_claim"
        )
    return problems


def _canary_gpu_problems(
    spec: EnvironmentSpec, where: tuple, model: Model, plans: dict[str, sizing.ServingPlan]
) -> list[str]:
    """The canary's pods run beside the stable ones: the pool needs GPUs beyond every
    model's minimum for them (components/canary.py, Argo Rollouts' arithmetic)."""
    rollout = given(model.rollout, "the rollout")
    plan = plans[model.name]
    pool = spec.pool(model.pool)
    weights = [s.weight_pct for s in rollout.steps]
    pods = canary.extra_pods(plan.replicas_min, weights)
    extra = pods * plan.tensor_parallel
    capacity = pool.max_nodes * pool.gpus_per_node
    used = sum(
        plans[m.name].gpus_min for m in spec.models if m.pool == pool.name and m.name in plans
    )
    if used + extra <= capacity:
        return []
    return [
        f"{config_path((*where, 'rollout'))}: the canary needs {extra} spare GPUs in pool "
        f"'{pool.name}' ({pods} pods x {plan.tensor_parallel} beside the "
        f"{plan.replicas_min} planned replicas: the eval gate's candidate and the surge) but its "
        f"{capacity} GPUs hold {used} at the models' minimum replicas; raise the pool's "
        "max_nodes or remove rollout"
    ]


def training_problems(spec: EnvironmentSpec, warnings: list[str]) -> list[str]:
    """Training jobs against the rest of the spec: a store for their checkpoints and
    output, a training pool that holds their workers, a final checkpoint that fits the
    cloud's spot notice, and a retraining trigger that watches series which exist."""
    jobs = spec.training.jobs
    if not jobs:
        return []
    problems = _training_store_problems(spec)
    pools = {p.name: p for p in spec.gpu_pools}
    seen: set[str] = set()
    for i, job in enumerate(jobs):
        where = ("training", "jobs", i)
        if job.name in seen:
            problems.append(f"{config_path((*where, 'name'))}: duplicate job name '{job.name}'")
        seen.add(job.name)
        problems += _job_time_problems(where, job)
        pool = _training_pool(spec, where, job, pools, problems)
        if pool is not None:
            problems += _job_capacity_problems(spec, where, job, pool)
            problems += _job_size_problems(where, job, pool)
            warnings += _dataset_warnings(spec, where, job, pool)
        if job.trigger is not None:
            problems += _trigger_problems(spec, (*where, "trigger"), job.trigger, warnings)
    return problems


def _training_store_problems(spec: EnvironmentSpec) -> list[str]:
    """A run restores and uploads its checkpoints in the artifact store and publishes its
    model there, signed like a synced revision."""
    if not spec.has_artifact_store:
        # A hybrid's store is its cloud's bucket: without hybrid.cloud, that block's line.
        return [] if spec.topology == "hybrid" else [
            f"{config_path(('training', 'jobs'))}: needs an artifact store: a job keeps its "
            "checkpoints under checkpoints/<job>/ and publishes its model under "
            "models/<model>/ there, so a preempted run can resume; add onprem.artifact_claim"
        ]
    if spec.lifecycle.signing is None and not spec.models:
        # With models, lifecycle_problems already asks for the key.
        return [
            f"{config_path(('lifecycle', 'signing'))}: required: a training run's model is "
            "signed in the store, ready for the eval gate; add signing.public_key and its "
            "private_key_secret (README: Shipping a new model version)"
        ]
    return []


def _job_time_problems(where: tuple, job: TrainingJob) -> list[str]:
    """The deadline bounds the run: a checkpoint must come before it, and the expected
    run (which the cost estimate prices) must fit in it."""
    problems = []
    deadline = job.active_deadline_hours
    if job.checkpoint_interval_minutes * 60 >= deadline * 3600:
        problems.append(
            f"{config_path((*where, 'checkpoint_interval_minutes'))}: must be shorter than "
            f"active_deadline_hours ({deadline:g} h = {deadline * 60:g} minutes) (got "
            f"{job.checkpoint_interval_minutes}); a run stopped at its deadline before its "
            "first checkpoint keeps nothing"
        )
    if job.expected_hours > deadline:
        problems.append(
            f"{config_path((*where, 'expected_hours'))}: must be <= active_deadline_hours "
            f"{deadline:g} (got {job.expected_hours:g}); the Job is stopped at its deadline"
        )
    return problems


def _training_pool(
    spec: EnvironmentSpec,
    where: tuple,
    job: TrainingJob,
    pools: dict[str, GpuPool],
    problems: list[str],
) -> GpuPool | None:
    """The training pool the job names, or None after adding a problem."""
    training = [p.name for p in spec.gpu_pools if p.purpose == "training"]
    choices = ", ".join(training) or "none; add a gpu_pools entry with purpose training"
    pool = pools.get(job.pool)
    if pool is None:
        problems.append(
            f"{config_path((*where, 'pool'))}: no gpu_pool named '{job.pool}'"
            f"{catalog.suggest(job.pool, pools)}; training pools: {choices}"
        )
        return None
    if pool.purpose != "training":
        problems.append(
            f"{config_path((*where, 'pool'))}: pool '{pool.name}' is for {pool.purpose}; a "
            f"training job runs on a pool with purpose training: {choices}"
        )
        return None
    return pool


def _job_capacity_problems(
    spec: EnvironmentSpec, where: tuple, job: TrainingJob, pool: GpuPool
) -> list[str]:
    """A cloud job runs on spot unless it says why not, and its final checkpoint must fit
    the grace its cloud leaves a pod after the spot notice. On the on-prem cluster nothing
    is reclaimed, so neither applies."""
    cloud = spec.cloud if pool in spec.cloud_pools() else None
    reason = config_path((*where, "on_demand_reason"))
    if cloud is None:
        if job.on_demand_reason is None:
            return []
        return [
            f"{reason}: only for a job on an on-demand cloud pool; pool '{pool.name}' is on "
            "the on-prem cluster, where nothing is reclaimed: remove it"
        ]
    if pool.capacity == "on-demand":
        if job.on_demand_reason is not None:
            return []
        return [
            f"{reason}: required: pool '{pool.name}' is on-demand; say why this job cannot "
            "run on spot (the Job is annotated with it), or move it to a spot training pool"
        ]
    problems = []
    if job.on_demand_reason is not None:
        problems.append(f"{reason}: pool '{pool.name}' is spot; remove on_demand_reason")
    notice = catalog.spot_notices()[cloud]
    if job.checkpoint_seconds > notice.pod_grace_s:
        problems.append(
            f"{config_path((*where, 'checkpoint_seconds'))}: must be <= "
            f"{notice.pod_grace_s}, the grace {clouds.get(cloud).label} leaves a pod of its "
            f"{notice.notice_s} s spot notice (got {job.checkpoint_seconds}); the final "
            "checkpoint is written and uploaded after SIGTERM (components/catalog/"
            "spot_notice.yaml)"
        )
    return problems


def _job_size_problems(where: tuple, job: TrainingJob, pool: GpuPool) -> list[str]:
    """Each worker is one pod on one node, so a node holds gpus_per_node // gpus_per_worker
    workers and the pool max_nodes times that."""
    gpus, per_node = job.gpus_per_worker, pool.gpus_per_node
    if gpus > per_node:
        return [
            f"{config_path((*where, 'gpus_per_worker'))}: must be <= pool '{pool.name}''s "
            f"gpus_per_node {per_node} (got {gpus}); a worker is one pod on one node"
        ]
    fit = pool.max_nodes * (per_node // gpus)
    if job.workers <= fit:
        return []
    return [
        f"{config_path((*where, 'workers'))}: must be <= {fit} (got {job.workers}): pool "
        f"'{pool.name}' holds {fit} {gpus}-GPU workers ({pool.max_nodes} nodes x "
        f"{per_node // gpus} per {per_node}-GPU node); raise the pool's max_nodes or lower "
        "workers"
    ]


# The fsspec schemes a cloud's workload identity reads; hf:// (the Hub) and file:// (the
# image's own files) need none.
_IDENTITY_SCHEMES = {"aws": ("s3",), "gcp": ("gs", "gcs"), "azure": ("az", "abfs", "abfss")}


def _dataset_warnings(
    spec: EnvironmentSpec, where: tuple, job: TrainingJob, pool: GpuPool
) -> list[str]:
    """A cloud job reads its dataset with its own workload identity, which another cloud's
    store does not trust."""
    cloud = spec.cloud if pool in spec.cloud_pools() else None
    scheme = job.dataset.uri.split("://", 1)[0]
    if cloud is None or scheme in ("hf", "file", *_IDENTITY_SCHEMES[cloud]):
        return []
    return [
        f"{config_path((*where, 'dataset', 'uri'))}: the job reads it with its "
        f"{clouds.get(cloud).label} workload identity, which a {scheme}:// store does not "
        f"trust; copy it to {' or '.join(f'{s}://' for s in _IDENTITY_SCHEMES[cloud])}, or "
        "use an hf:// dataset"
    ]


def eval_floor(spec: EnvironmentSpec, trigger: RetrainTrigger) -> float | None:
    """The eval score under which the trigger fires: its own eval_floor, else the model's
    eval.min_score; None when the model has neither, and only its drift is watched."""
    if trigger.eval_floor is not None:
        return trigger.eval_floor
    model = next((m for m in spec.models if m.name == trigger.model), None)
    return model.eval.min_score if model is not None and model.eval is not None else None


def _trigger_problems(
    spec: EnvironmentSpec, where: tuple, trigger: RetrainTrigger, warnings: list[str]
) -> list[str]:
    """The trigger reads the model's drift (from the quality monitor) and eval score (from
    its eval gate): at least one must exist. Without an eval floor, only drift is watched."""
    problems = []
    if trigger.window_days < trigger.drift_days:
        problems.append(
            f"{config_path((*where, 'window_days'))}: must be >= drift_days "
            f"{trigger.drift_days} (got {trigger.window_days}); drift is counted on "
            "drift_days of the last window_days days"
        )
    if trigger.action == "train" and spec.topology == "hybrid":
        problems.append(
            f"{config_path((*where, 'action'))}: 'train' is refused in a hybrid: the trigger "
            "runs beside Prometheus on the on-prem cluster and the job on the cloud's, which it "
            "cannot reach; use 'ticket'"
        )
    models = {m.name: (i, m) for i, m in enumerate(spec.models)}
    if trigger.model not in models:
        return [
            *problems,
            f"{config_path((*where, 'model'))}: no model named '{trigger.model}'"
            f"{catalog.suggest(trigger.model, models)}; models: {', '.join(models) or 'none'}",
        ]
    i, model = models[trigger.model]
    gate = f"models[{i}].eval"
    if trigger.eval_floor is not None and model.eval is None:
        problems.append(
            f"{config_path((*where, 'eval_floor'))}: model '{model.name}' has no eval gate, "
            f"so no eval score to hold to a floor; add {gate} or remove eval_floor"
        )
    elif spec.observability.quality is None and model.eval is None:
        problems.append(
            f"{config_path(where)}: watches nothing: drift comes from the quality monitor "
            f"(observability.quality) and the eval score from {gate}; add one or remove trigger"
        )
    elif spec.observability.quality is None:
        warnings.append(
            f"{config_path(where)}: only the eval score is watched: drift comes from the "
            "quality monitor, and observability.quality is not set"
        )
    return problems


def _name_problems(spec: EnvironmentSpec) -> list[str]:
    """Names no fitting can save: every other derived name is shortened to fit its API
    (naming.fit), but these would still be refused."""
    return clouds.get(spec.cloud).name_problems(spec) if spec.cloud is not None else []


def cloud_block_problems(spec: EnvironmentSpec) -> list[str]:
    """Each cloud's checks of its own block (e.g. GKE zones that offer the machine types)."""
    return [
        line
        for cloud in clouds.clouds()
        if getattr(spec, cloud.name) is not None
        for line in cloud.block_problems(spec)
    ]


def _topology_blocks(spec: EnvironmentSpec) -> list[str]:
    """Each topology's own block is required, and a block no topology here reads is an
    error rather than silently ignored."""
    problems = []
    cloud = spec.cloud
    for name in clouds.NAMES:
        block = getattr(spec, name)
        if name == cloud and block is None:
            problems.append(
                f"{config_path((name,))}: required when the environment runs on {name} "
                f"(topology {spec.topology})"
            )
        elif name != cloud and block is not None:
            problems.append(
                f"{config_path((name,))}: set, but topology {spec.topology} does not use {name}; "
                "remove it"
            )
    if spec.topology == "hybrid" and spec.hybrid is None:
        problems.append(
            f"{config_path(('hybrid',))}: required for topology hybrid; set hybrid.cloud, "
            "hybrid.connectivity and hybrid.onprem_oidc_issuer"
        )
    if spec.topology != "hybrid" and spec.hybrid is not None:
        problems.append(f"{config_path(('hybrid',))}: only used with topology hybrid; remove it")
    if cloud is not None and not spec.budget.notify_emails:
        problems.append(
            f"{config_path(('budget', 'notify_emails'))}: required on {cloud}: the cloud "
            "budget's notifications must reach a person, for example [finops@example.com]"
        )
    if spec.topology in clouds.NAMES and spec.onprem is not None:
        problems.append(
            f"{config_path(('onprem',))}: only used with topologies onprem and hybrid; remove it"
        )
    if spec.topology in clouds.NAMES and spec.cluster.render_to_directory:
        problems.append(
            f"{config_path(('cluster', 'render_to_directory'))}: only for the on-prem cluster "
            "(topologies onprem and hybrid); this stack creates its cluster and applies to it"
        )
    hybrid = spec.hybrid
    if hybrid is not None and hybrid.onprem_jwks_json and not clouds.get(hybrid.cloud).jwks_upload:
        takers = " and ".join(c.label for c in clouds.clouds() if c.jwks_upload)
        problems.append(
            f"{config_path(('hybrid', 'onprem_jwks_json'))}: only {takers} accepts an uploaded "
            f"JWKS; {hybrid.cloud} must reach the issuer's /.well-known/openid-configuration"
        )
    return problems


def _cloud_pool_problems(spec: EnvironmentSpec, pool: GpuPool, where: tuple) -> list[str]:
    """Where a pool runs decides what it must say: cloud pools need an instance type of
    their cloud; on-prem pools (all of onprem, a hybrid's inference pools) must not."""
    cloud = spec.cloud if pool in spec.cloud_pools() else None
    problems = _spot_bid_problems(pool, where, cloud)
    types = [t for t in [pool.instance_type, *pool.extra_instance_types] if t is not None]
    if cloud is None:
        if types:
            problems.append(
                f"{config_path((*where, 'instance_type'))}: pool '{pool.name}' runs on the "
                "on-prem cluster; instance types are for cloud pools (in a hybrid, the "
                "training pools)"
            )
        return problems
    if pool.instance_type is None:
        allowed = sorted(
            i.id
            for i in catalog.instances().values()
            if i.cloud == cloud and i.gpu == pool.gpu and i.gpu_count == pool.gpus_per_node
        )
        problems.append(
            f"{config_path((*where, 'instance_type'))}: required for a {cloud} pool; for "
            f"{pool.gpus_per_node}x {pool.gpu}: {', '.join(allowed) or 'none in the catalog'}"
        )
    for t in types:
        if catalog.instances()[t].cloud != cloud:
            problems.append(
                f"{config_path((*where, 'instance_type'))}: {t} is a "
                f"{catalog.instances()[t].cloud} instance type; this pool runs on {cloud}"
            )
    several = " and ".join(c.label for c in clouds.clouds() if c.several_instance_types)
    if pool.extra_instance_types and not clouds.get(cloud).several_instance_types:
        problems.append(
            f"{config_path((*where, 'extra_instance_types'))}: only {several} node groups take "
            f"several instance types; a {cloud} node pool has one machine type"
        )
    return problems


def _spot_bid_problems(pool: GpuPool, where: tuple, cloud: str | None) -> list[str]:
    """A spot bid belongs to a spot pool of a cloud that takes one; anywhere else (an
    on-demand pool, another cloud, the on-prem cluster) nothing would read it."""
    bid = cloud is not None and clouds.get(cloud).spot_bid and pool.capacity == "spot"
    if pool.spot_max_usd_per_hour is None or bid:
        return []
    bids = " and ".join(c.label for c in clouds.clouds() if c.spot_bid)
    return [f"{config_path((*where, 'spot_max_usd_per_hour'))}: only for an {bids} spot pool"]


# A version leaving standard support this soon gets a warning in the plan.
SUPPORT_WARNING_DAYS = 90
_VERSIONS_FILE = "components/catalog/kubernetes_versions.yaml"


def kubernetes_support(
    spec: EnvironmentSpec, plan_date: date | None, warnings: list[str]
) -> list[str]:
    """The control-plane version of each managed cluster must be released and in standard
    support on the plan date (EKS: or in extended support, if the spec pays for it); one
    leaving standard support within SUPPORT_WARNING_DAYS is a warning. GKE follows its
    release channel, which offers only supported versions."""
    try:
        day = plan_date or catalog.plan_date()
    except ValueError as exc:
        return [str(exc)]
    problems = []
    for cloud in clouds.clouds():
        block = getattr(spec, cloud.name)
        if block is None or cloud.kubernetes is None:
            continue
        where = config_path((cloud.name, "kubernetes_version"))
        problem, warning = _support_window(cloud.name, cloud.kubernetes, block, day)
        problems += [f"{where}: {problem}"] if problem else []
        warnings += [f"{where}: {warning}"] if warning else []
    return problems


def supported_versions(platform: catalog.Platform, day: date) -> list[str]:
    """Versions released and in standard support on `day`, oldest first."""
    rows = [
        r
        for r in catalog.kubernetes_versions().values()
        if r.platform == platform and r.available_from <= day < r.end_of_standard
    ]
    return [r.version for r in sorted(rows, key=lambda r: int(r.version.split(".")[1]))]


def _support_window(
    cloud: str, kube: clouds.ManagedKubernetes, block: Any, day: date
) -> tuple[str | None, str | None]:
    """(problem, warning) for one cluster version on `day`."""
    platform, label, version = kube.platform, kube.label, block.kubernetes_version
    opt_in = kube.extended_support_field
    allowed = ", ".join(supported_versions(platform, day)) or f"none in {_VERSIONS_FILE}"
    use = f"versions in standard support on {day}: {allowed}"
    name = f"{label} {version}"
    info = catalog.kubernetes_version(platform, version)
    if info is None:
        return f"{name} is not in {_VERSIONS_FILE}; {use}", None
    if day < info.available_from:
        return f"{name} is not generally available until {info.released}; {use}", None
    if kube.needs_autoscaler_image and info.cluster_autoscaler_image is None:
        return f"{name} has no cluster-autoscaler release in {_VERSIONS_FILE}; {use}", None
    ends = info.end_of_standard
    if day < ends:
        left = (ends - day).days
        soon = f"{name} leaves standard support on {ends}, {left} days after the plan date; {use}"
        return None, soon if left <= SUPPORT_WARNING_DAYS else None
    if info.end_of_extended is None or day >= info.end_of_extended:
        return f"{name} is out of support since {info.end_of_extended or ends}; {use}", None
    left_standard = f"{name} left standard support on {ends}; {use}"
    if opt_in is None:
        return f"{left_standard}{kube.past_standard_note}", None
    if not getattr(block, opt_in):
        field = config_path((cloud, opt_in))
        return f"{left_standard}, or set {field}: true to pay for extended support", None
    return None, f"{name} is in extended support until {info.end_of_extended}, at its price"


def load_spec(raw: Any, plan_date: date | None = None) -> Environment:
    """Parse and check a stack's spec value. Raises SpecError with one line per problem."""
    if not isinstance(raw, dict):
        raise SpecError([f"{CONFIG_KEY}: must be a mapping (got {type(raw).__name__})"])
    try:
        spec = EnvironmentSpec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(_shape_problems(err)) from None
    return check(spec, plan_date)
