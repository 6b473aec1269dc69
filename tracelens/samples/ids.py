"""Identifiers and random draws, all from one seeded ``random.Random`` (never the global one)."""

from __future__ import annotations

import math
import random
import string

_DYNAMO_ID_ALPHABET = string.ascii_uppercase + string.digits


class Draws:
    """Seeded source of ids and durations for one generation run."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def hex_id(self) -> str:
        """A 16-lowercase-hex segment, subsegment or exception id."""
        return f"{self.rng.getrandbits(64):016x}"

    def trace_id(self, epoch_s: float) -> str:
        """``1-<8 hex epoch seconds>-<24 hex>``: the epoch is the request's start."""
        return f"1-{int(epoch_s):08x}-{self.rng.getrandbits(96):024x}"

    def request_id(self) -> str:
        """A Lambda/SNS/SQS style request id (UUID version 4 layout)."""
        value = self.rng.getrandbits(128)
        text = f"{value:032x}"
        variant = "89ab"[value % 4]
        return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{variant}{text[17:20]}-{text[20:32]}"

    def dynamo_request_id(self) -> str:
        """DynamoDB's 52-character upper-case request id."""
        return "".join(self.rng.choice(_DYNAMO_ID_ALPHABET) for _ in range(52))

    def hex_text(self, n_chars: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n_chars))

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def uniform(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def ms(self, median_ms: float, sigma: float, low_ms: float, high_ms: float) -> float:
        """A log-normal duration in milliseconds around ``median_ms``, clamped to a range."""
        value = self.rng.lognormvariate(math.log(median_ms), sigma)
        return min(max(value, low_ms), high_ms)

    def choice_weighted(self, weights: list[float]) -> int:
        return self.rng.choices(range(len(weights)), weights=weights)[0]


def epoch_us(seconds: float) -> float:
    """Epoch seconds at microsecond precision, as X-Ray SDKs write them."""
    return round(seconds, 6)


def epoch_ms(seconds: float) -> float:
    """Epoch seconds at millisecond precision, as the Lambda service writes its segments."""
    return round(seconds, 3)


def floor_ms(seconds: float) -> float:
    return math.floor(seconds * 1000) / 1000


def ceil_ms(seconds: float) -> float:
    return math.ceil(seconds * 1000) / 1000
