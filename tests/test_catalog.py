"""The catalog: the required rows exist and every row says where its numbers come from."""

from __future__ import annotations

import pytest

from components import catalog

REQUIRED_MODELS = [
    "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-70B-Instruct",
    "meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-3B-Instruct",
    "meta-llama/Llama-3.3-70B-Instruct", "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic",
    "mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-14B-Instruct", "Qwen/Qwen2.5-32B-Instruct",
    "Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen3-14B", "google/gemma-2-9b-it",
    "google/gemma-2-27b-it", "microsoft/Phi-3-mini-4k-instruct",
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
]
REQUIRED_GPUS = ["L4", "A10G", "L40S", "A100-40GB", "A100-80GB", "H100-80GB", "H200-141GB",
                 "B200", "MI300X"]


def test_required_rows_exist():
    assert set(REQUIRED_MODELS) <= set(catalog.models())
    assert set(REQUIRED_GPUS) <= set(catalog.gpus())
    assert {i.cloud for i in catalog.instances().values()} == {"aws", "gcp", "azure"}


@pytest.mark.parametrize(
    "table", [catalog.models, catalog.gpus, catalog.instances, catalog.services]
)
def test_every_row_has_a_source_and_date(table):
    for row in table().values():
        assert row.source.startswith("https://"), row.id
        assert row.as_of[:2] == "20", row.id


def test_architecture_facts_are_consistent():
    for m in catalog.models().values():
        assert m.attention_heads % m.kv_heads == 0, m.id
        # head_dim * heads is hidden_size for all but Gemma-2 (256-wide heads on 3584).
        assert m.head_dim * m.attention_heads in (m.hidden_size, 4096, 4608), m.id


def test_instances_name_catalog_gpus_and_spot_is_cheaper():
    for inst in catalog.instances().values():
        if inst.gpu_count == 0:
            assert inst.gpu is None and inst.spot_usd_per_hour is None, inst.id
            continue
        assert inst.gpu in catalog.gpus(), inst.id
        assert inst.spot_usd_per_hour is not None, inst.id
        assert inst.spot_usd_per_hour < inst.on_demand_usd_per_hour, inst.id
        # A GKE GPU pool must name its accelerator for the managed driver install.
        assert (inst.accelerator is not None) == (inst.cloud == "gcp"), inst.id


def test_each_cloud_prices_what_its_foundation_creates():
    have = set(catalog.services())
    for cloud, needed in {
        "aws": ["eks-cluster", "nat-gateway", "public-ipv4", "s3-standard", "kms-key",
                "vpn-connection", "nlb"],
        "gcp": ["gke-cluster", "cloud-nat", "gcs-standard", "ha-vpn-tunnel", "forwarding-rule"],
        "azure": ["aks-standard", "nat-gateway", "public-ip", "blob-hot-lrs",
                  "vpn-gateway-vpngw1", "standard-lb"],
    }.items():
        assert {f"{cloud}-{n}" for n in needed} <= have, cloud


def test_suggest_finds_close_names():
    assert catalog.suggest("h100-80gb", catalog.gpus()) == " (did you mean 'H100-80GB'?)"
    assert catalog.suggest("zzzz", catalog.gpus()) == ""
