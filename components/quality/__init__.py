"""The quality and drift monitor that runs as a CronJob (`python -m components.quality`).

Importing this package loads no model: the embedding model is loaded on first use, so the
statistics and the log reader can be used and tested without torch.
"""
