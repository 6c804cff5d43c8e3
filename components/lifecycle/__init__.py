"""The model lifecycle's runtime: the CLIs of the `model-tools` image
(docker/model-tools.Dockerfile, locks/lifecycle.txt), run by the sync Job, the model server's
`verify-weights` init container and the rollout's analysis Jobs.

- `python -m components.lifecycle.sync` (sync.py): copies one revision of a model from the
  Hugging Face Hub or another fsspec store to `<store>/models/<name>/<revision>/`, with
  `manifest.json` (manifest.py) and `model.sig` (signing.py), once.
- `python -m components.lifecycle.verify` (verify.py): checks a local copy against its
  signature and manifest before the engine starts, and pushes
  `llm_model_artifact_invalid{model,revision}` to the Pushgateway.
- `python -m components.lifecycle.evalgate` (evalgate.py): the eval gate, the golden set
  (golden.py) run against the candidate and the incumbent and scored (scorers.py, which the
  gateway's shadow scoring imports too), a report to the store and the scores to the
  Pushgateway.
- `python -m components.lifecycle.compare` (compare.py): the canary analysis's refusal metric,
  the golden set's prompts sent to the canary and the stable pods and their refusal rates
  compared.

Every CLI exits 0 on success, 1 on a failed check with one clear line, 2 on bad arguments.
Nothing here imports Pulumi or the spec's models: the image has neither
(tests/test_locks.py holds the imports to locks/lifecycle.txt).
"""
