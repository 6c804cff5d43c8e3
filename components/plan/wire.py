"""Pulumi's wire markers: how the engine protocol flags a secret, a resource reference or an
output value inside a property map.

They are part of the protocol every SDK, provider and analyzer speaks, defined in
pulumi/pulumi sdk/go/common/resource/sig/sig.go (Key, Secret, ResourceReference,
OutputValue). The Python SDK holds them only as private names (`rpc._special_sig_key` ...),
so the plan keeps its own copy; tests/test_sdk_contract.py checks that the installed SDK
still writes a secret and a resource reference with these markers.
"""

from __future__ import annotations

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
