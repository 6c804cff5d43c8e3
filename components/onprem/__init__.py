"""On-prem foundation: an existing Kubernetes cluster with owned GPUs."""
