"""The offline plan: run the real program under Pulumi's mock monitor, record the graph,
render the Kubernetes objects and price it, without credentials or a cluster."""
