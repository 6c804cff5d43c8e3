"""What the Azure APIs accept as the names this package derives from the spec.

Pure data: no Pulumi import. Top-level resources given no name argument are auto-named by
azure-native: the logical name and 8 random hex characters, no separator
(naming.AUTONAME_SUFFIX; pulumi/pulumi-azure-native#519, #3406). Child resources
(subnets, federated credentials) take the logical name as it is.
"""

from __future__ import annotations

from components.naming import AUTONAME_SUFFIX, NameRule

NAME_RULES = (
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules"
)
PSRULE = "https://azure.github.io/PSRule.Rules.Azure/en/rules"

# The cluster's own pool (cluster.py); a GPU pool cannot take its name.
SYSTEM_POOL = "system"

# 1-90: letters, digits, underscores, hyphens, periods and parentheses; no final period.
RESOURCE_GROUP = NameRule(90, r"[-\w.()]*[-\w()]", NAME_RULES, allowed=r"A-Za-z0-9_.()-")
# "The length of the node resource group name is too long. The maximum length is 80"
# (the AKS API's error, quoted in Azure-Terraform/terraform-azurerm-kubernetes#33 and
# rancher/rancher#21264); its default is MC_<group>_<cluster>_<location>.
NODE_RESOURCE_GROUP = NameRule(
    80,
    r"[-\w.()]*[-\w()]",
    "https://github.com/Azure-Terraform/terraform-azurerm-kubernetes/issues/33",
    allowed=r"A-Za-z0-9_.()-",
)
# 1-63 alphanumerics, underscores and hyphens, starting and ending alphanumeric.
AKS_CLUSTER = NameRule(
    63, r"[A-Za-z0-9]([-\w]*[A-Za-z0-9])?", f"{PSRULE}/Azure.AKS.Name", allowed="A-Za-z0-9_-"
)
# Linux node pools: 1-12 lowercase letters and digits, starting with a letter
# (learn.microsoft.com/azure/aks/create-node-pools#limitations, as quoted in
# MicrosoftDocs/azure-docs#114891 and Azure/AKS-Construction#465).
AKS_AGENT_POOL = NameRule(
    12,
    r"[a-z][a-z0-9]{0,11}",
    "https://learn.microsoft.com/en-us/azure/aks/create-node-pools#limitations",
    allowed="a-z0-9",
)
# Storage accounts, 3-24 lowercase letters and digits ("'accountName' is too long (29): at
# most 24 characters allowed", azure-native's own check, pulumi/pulumi-azure-native#4294);
# a key vault takes the same name, within its 3-24 alphanumerics and hyphens.
GLOBAL = NameRule(24, r"[a-z][a-z0-9]{2,23}", NAME_RULES, allowed="a-z0-9", min_len=3)
# 2-64 alphanumerics, underscores, periods and hyphens; start alphanumeric, end
# alphanumeric or underscore.
VIRTUAL_NETWORK = NameRule(
    64,
    r"[A-Za-z0-9][-\w.]*",
    f"{PSRULE}/Azure.VNET.Name",
    allowed=r"A-Za-z0-9_.-",
    min_len=2,
    suffix=AUTONAME_SUFFIX,
)
# 3-128 letters, digits, underscores and hyphens, starting with a letter or digit.
USER_ASSIGNED_IDENTITY = NameRule(
    128,
    r"[A-Za-z0-9][-\w]*",
    f"{PSRULE}/Azure.Identity.UserAssignedName",
    allowed="A-Za-z0-9_-",
    min_len=3,
    suffix=AUTONAME_SUFFIX,
)
# NAT gateways, public IPs, VPN gateways, local network gateways and connections: 1-80
# alphanumerics, underscores, periods and hyphens. Not verified here: those rows of the
# resource-name-rules page were not in what could be read.
NETWORK_80 = NameRule(
    80, r"[A-Za-z0-9][-\w.]*\w", NAME_RULES, allowed=r"A-Za-z0-9_.-", suffix=AUTONAME_SUFFIX
)
# Not verified here: the action group's short name (used in SMS) is kept to 12.
ACTION_GROUP_SHORT = NameRule(12, r"[A-Za-z0-9][-A-Za-z0-9]*", NAME_RULES, allowed="a-z0-9")
