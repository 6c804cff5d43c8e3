"""The on-prem artifact store: a ReadWriteMany claim (spec onprem.artifact_claim) that model
servers mount read-only and the sync Job read-write, at STORE_MOUNT. No cloud identity: who
may write it is who may mount it read-write, the sync Job's pod. Pure: no resources."""

from __future__ import annotations

from components.kubernetes.facts import MODELS_PREFIX, STORE_MOUNT, ArtifactStore

# The rclone remote `artifacts` as rclone's local backend: RCLONE_CONFIG_<remote>_TYPE
# defines a remote with no config file (rclone v1.68.2 docs/content/docs.md, "Config file":
# `RCLONE_CONFIG_` + name of remote + `_` + name of config file option), and `local` is the
# local disk backend's registered name (backend/local/local.go:65, `Name: "local"`).
RCLONE_ENV = {"RCLONE_CONFIG_ARTIFACTS_TYPE": "local"}


def claim_store(claim: str) -> ArtifactStore:
    """The claim as the store every tool reads: rclone through the `artifacts` remote,
    our lifecycle tools through fsspec's local filesystem, both under STORE_MOUNT."""
    root = f"file://{STORE_MOUNT}"
    return ArtifactStore(
        uri=root,
        rclone_env=dict(RCLONE_ENV),
        models_path=f"artifacts:{STORE_MOUNT}/{MODELS_PREFIX}",
        fsspec_uri=root,
        claim=claim,
    )
