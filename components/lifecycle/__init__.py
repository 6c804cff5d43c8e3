"""The model lifecycle's runtime (the `model-tools` image): sync, verify, the eval gate and the
canary's refusal comparison. No Pulumi and no spec import: these run in pods."""
