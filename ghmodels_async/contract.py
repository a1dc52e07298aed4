"""The request limits of the API contract, in one place.

The client's request types (``ghmodels_async.types``) and the fake server's validation
(``ghmodels_async.testing``) both read these, so a value the client accepts is never
refused (or crashed on) by the fake, and the other way round.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ENCODING_FORMATS",
    "MAX_STOP_SEQUENCES",
    "PENALTY_MAX",
    "PENALTY_MIN",
    "REASONING_EFFORTS",
    "TEMPERATURE_MAX",
    "TEMPERATURE_MIN",
    "TOP_P_MAX",
    "TOP_P_MIN",
    "EncodingFormat",
    "ReasoningEffort",
]

#: ``temperature`` range.
TEMPERATURE_MIN = 0.0
TEMPERATURE_MAX = 1.0
#: ``top_p`` range.
TOP_P_MIN = 0.0
TOP_P_MAX = 1.0
#: ``frequency_penalty`` / ``presence_penalty`` range.
PENALTY_MIN = -2.0
PENALTY_MAX = 2.0
#: At most this many ``stop`` sequences (the OpenAI-compatible limit).
MAX_STOP_SEQUENCES = 4

ReasoningEffort = Literal["minimal", "low", "medium", "high"]
#: The accepted ``reasoning_effort`` values.
REASONING_EFFORTS: tuple[str, ...] = get_args(ReasoningEffort)

EncodingFormat = Literal["float", "base64"]
#: The accepted embeddings ``encoding_format`` values.
ENCODING_FORMATS: tuple[str, ...] = get_args(EncodingFormat)
