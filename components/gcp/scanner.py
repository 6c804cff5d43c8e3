"""Checkov checks that do not fit this cloud's resources, each with its reason
(components/scan.py says how the exports carry them). Pure: no Pulumi import."""

from __future__ import annotations

from components.scan import Skip

SKIPS: tuple[Skip, ...] = ()
