"""The llm-platform policy rules, importable without starting the pack (policies/__main__.py
builds the PolicyPack from POLICIES)."""

from __future__ import annotations

from . import cost_caps, gateway, reliability, security, tagging

POLICIES = [
    *tagging.POLICIES,
    *cost_caps.POLICIES,
    *security.POLICIES,
    *reliability.POLICIES,
    *gateway.POLICIES,
]
