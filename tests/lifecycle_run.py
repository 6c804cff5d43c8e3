"""Running the model lifecycle's CLIs as the model-tools image does: components/lifecycle
on the lifecycle venv's python (LIFECYCLE_PYTHON, which `make test` passes; default
<repo>/.venv-lifecycle), in a process of their own, with keys and a small model made here."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Two CPU seconds of imports (model_signing pulls sigstore) on a busy two-core machine.
TIMEOUT = 120


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's server on a free loopback port, as the store's S3 endpoint: its base URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def lifecycle_python() -> Path:
    path = Path(os.environ.get("LIFECYCLE_PYTHON") or ROOT / ".venv-lifecycle" / "bin" / "python")
    if not path.exists():
        why = f"no lifecycle venv at {path}; `make install` builds it from locks/lifecycle.txt"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{why} (CI must have it)")
        pytest.skip(why)
    return path


def run(module: str, *args: str | Path, env: Mapping[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """`python -m components.lifecycle.<module> args...`, our package on its path. The Hub's
    offline switches are not inherited: the quality monitor's tests set them in the worker
    (components/quality/embed.py), and a test that needs them passes them in `env`."""
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    environ = {**inherited, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [str(lifecycle_python()), "-m", f"components.lifecycle.{module}", *map(str, args)],
        capture_output=True, text=True, timeout=TIMEOUT, env=environ, cwd=ROOT,
    )


def keypair(directory: Path, name: str) -> tuple[Path, Path]:
    """A P-256 key pair as PEM files (private.pem as the Secret holds it, public.pem as the
    ConfigMap does)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / f"{name}.private.pem", directory / f"{name}.public.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def small_model(directory: Path) -> dict[str, bytes]:
    """A model directory as the Hub lays one out (config, weights, tokenizer, a nested file):
    relative path -> content."""
    files = {
        "config.json": b'{"architectures": ["TinyForCausalLM"], "hidden_size": 8}\n',
        "model.safetensors": bytes(range(256)) * 512,  # 128 KiB
        "tokenizer/tokenizer.json": b'{"version": "1.0", "vocab": {"a": 0, "b": 1}}\n',
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
    }
    for rel, content in files.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_bytes(content)
    return files
