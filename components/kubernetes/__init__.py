"""The Kubernetes layer: the same on every topology, fed by a foundation's ClusterFacts."""
