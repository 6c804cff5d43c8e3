"""The trainer harness and the retraining trigger: the runtime of a training Job's entrypoint
wrapper and of the trigger CronJob, shipped in the model-tools image. Imports no Pulumi and no
spec; components/training/contract.py is what the Kubernetes builders share with it."""
