"""Realistic prompt samples for the drift tests: customer-support questions about a
subscription product, and, for the drifted case, cooking questions. Generated from
phrase lists so that two samples of one topic share the topic but not the sentences."""

from __future__ import annotations

import random

SUPPORT_ASKS = [
    "How do I {act} {obj}?",
    "I can't {act} {obj}, what should I do?",
    "Is it possible to {act} {obj} {when}?",
    "Why was I charged twice when I tried to {act} {obj}?",
    "Can you help me {act} {obj} {when}?",
    "What happens to my data if I {act} {obj}?",
    "My team needs to {act} {obj}. Who can do that?",
]
SUPPORT_ACTS = [
    "cancel", "upgrade", "downgrade", "update", "reset", "transfer", "pause", "renew",
    "change", "export", "delete", "reactivate",
]
SUPPORT_OBJS = [
    "my subscription", "my password", "the billing address on my invoice", "my payment card",
    "my account email", "the annual plan", "our company workspace", "my two-factor login",
    "the seats on our license", "my invoice history", "the trial", "my refund request",
]
SUPPORT_WHEN = [
    "before the next billing cycle", "from the mobile app", "without losing my data",
    "today", "after the trial ends", "for my whole team", "in the admin console",
]

COOKING_ASKS = [
    "How long should I {act} {obj}?",
    "What's the best way to {act} {obj} {when}?",
    "Can I {act} {obj} {when}?",
    "My {obj} came out dry, how should I {act} it next time?",
    "Give me a recipe to {act} {obj} {when}.",
]
COOKING_ACTS = ["roast", "bake", "braise", "grill", "marinate", "poach", "season", "fry"]
COOKING_OBJS = [
    "a whole chicken", "salmon fillets", "sourdough bread", "pork shoulder", "root vegetables",
    "a chocolate cake", "tofu", "lamb chops", "eggplant", "banana bread",
]
COOKING_WHEN = [
    "for a dinner party", "in a cast iron pan", "without an oven", "the night before",
    "at high altitude", "for meal prep",
]


def _sample(asks, acts, objs, whens, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(asks).format(act=rng.choice(acts), obj=rng.choice(objs), when=rng.choice(whens))
        for _ in range(n)
    ]


def support(n: int, seed: int) -> list[str]:
    return _sample(SUPPORT_ASKS, SUPPORT_ACTS, SUPPORT_OBJS, SUPPORT_WHEN, n, seed)


def cooking(n: int, seed: int) -> list[str]:
    return _sample(COOKING_ASKS, COOKING_ACTS, COOKING_OBJS, COOKING_WHEN, n, seed)
