"""What the offline plan's mocks return for GCP resources and function calls in place of
what GCP computes. Pure: no Pulumi import."""

from __future__ import annotations

from typing import Any

from components.clouds import OFFLINE_ACCOUNT

INVOKE_RESULTS: dict[str, dict[str, Any]] = {
    "gcp:organizations/getProject:getProject": {"number": OFFLINE_ACCOUNT},
}


def computed(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """A service account's email, which the program puts in a Workload Identity annotation."""
    if type_ == "gcp:serviceaccount/account:Account":
        return {"email": f"{inputs.get('accountId', name)}@offline-plan.iam.gserviceaccount.com"}
    return {}
