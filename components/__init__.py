"""llm-platform: the operations layer for self-hosted LLMs, as Pulumi components."""
