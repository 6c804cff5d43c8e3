"""The spec's field types: the constrained strings, strict numbers and address ranges every
block of the spec is built from, shared by `types` and each cloud's own block
(components/<cloud>/spec.py). Imports no other part of the spec, so a cloud's block can
import this while `types` imports the block."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from components import catalog, clouds

DnsLabel = Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")]
LabelValue = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
LabelKey = Annotated[
    str,
    Field(
        pattern=r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
    ),
]
DnsSubdomain = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
NonEmpty = Annotated[str, Field(min_length=1, max_length=4096)]
# Each cloud in the registry is a topology of its own; the order is that of the messages.
Topology = Literal[("onprem", *clouds.NAMES, "hybrid")]  # type: ignore[valid-type]
CloudName = Literal[clouds.NAMES]  # type: ignore[valid-type]
Uuid = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
KubernetesVersion = Annotated[
    str, Field(pattern=r"^1\.[0-9]{2}$", description="control-plane minor version, e.g. 1.31")
]


# Numbers are strict: pydantic's lax mode reads `true` as 1 and "5" as 5, so
# `monthly_usd: true` would become a $1 budget. A Float still takes an integer (5 -> 5.0).
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]


ConfigKeyName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]


def _cidr(v: str) -> str:
    try:
        net = ipaddress.IPv4Network(v, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be an IPv4 network such as 10.40.0.0/16 ({exc})") from None
    return str(net)


Cidr = Annotated[str, AfterValidator(_cidr)]

# RFC 1918 private address space: a cloud network (VPC, VNet, GKE ranges) built from
# anything else would take over public addresses its nodes could then never reach.
RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _private(v: str) -> str:
    net = ipaddress.IPv4Network(v)
    if not any(net.subnet_of(block) for block in RFC1918):
        raise ValueError(
            f"must be a private (RFC 1918) range inside 10.0.0.0/8, 172.16.0.0/12 or "
            f"192.168.0.0/16 (got {v})"
        )
    return v


PrivateCidr = Annotated[str, AfterValidator(_cidr), AfterValidator(_private)]


def prefix_between(v: str, largest: int, smallest: int, why: str) -> str:
    prefix = ipaddress.IPv4Network(v).prefixlen
    if not largest <= prefix <= smallest:
        raise ValueError(f"must be a /{largest} to /{smallest} ({why}; got {v})")
    return v


class SpecBlock(BaseModel):
    """A block of the spec: immutable, and an unknown key is an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def system_instance_type(cloud: str, v: str) -> str:
    """A cloud's CPU instance type from the catalog, for the system node pool."""
    inst = catalog.instances().get(v)
    if inst is None or inst.cloud != cloud or inst.gpu_count:
        cpu = sorted(
            i.id for i in catalog.instances().values() if i.cloud == cloud and not i.gpu_count
        )
        raise ValueError(f"must be a CPU instance type of {cloud} in the catalog: {', '.join(cpu)}")
    return v
