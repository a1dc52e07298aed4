"""An embedded fake GitHub Models server for tests (like moto for AWS).

A model of the service, not of this client: it imports nothing private of the client,
so it checks what actually goes over the wire. ``server`` holds the HTTP app,
``validation`` the request rules, ``answers`` the deterministic replies, ``delivery``
how they are written (JSON, SSE, quirks), ``faults`` injected failures and tier rate
limits, ``catalog`` the models it knows. See ``docs/fake-server.md``.
"""

from __future__ import annotations

from .answers import Reply, ScriptedToolCall, ScriptRule, schema_instance
from .catalog import CATALOG
from .faults import (
    DEFAULT_TIERS,
    FAULT_KINDS,
    GONE_MESSAGE,
    Fault,
    FaultRule,
    RateLimitTable,
    TierLimit,
)
from .server import MAGIC_ORGS, MAGIC_TOKENS, FakeServer, RecordedRequest, serve

__all__ = [
    "CATALOG",
    "DEFAULT_TIERS",
    "FAULT_KINDS",
    "GONE_MESSAGE",
    "MAGIC_ORGS",
    "MAGIC_TOKENS",
    "FakeServer",
    "Fault",
    "FaultRule",
    "RateLimitTable",
    "RecordedRequest",
    "Reply",
    "ScriptRule",
    "ScriptedToolCall",
    "TierLimit",
    "schema_instance",
    "serve",
]
