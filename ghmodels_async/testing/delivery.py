"""How the fake GitHub Models server puts answers on the wire: JSON bodies and SSE
streams, optionally delayed, split at random byte positions, damaged or cut."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from aiohttp import web

from .faults import Fault

__all__ = ["Plan", "make_plan", "send_events", "send_json", "served_model_name"]

_DEFAULT_DELAYS: Final = {"delay_headers": 0.2, "chunk_delay": 0.05, "split_chunks": 0.0}
MALFORMED: Final = b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [}'


@dataclass
class Plan:
    """How to deliver one answer, after the faults of the request are applied."""

    quirks: bool
    chunk_delay: float
    split: int | None = None
    split_delay: float = 0.0
    cut_after: int | None = None
    cut_abort: bool = False
    damage: str | None = None
    damage_at: int = 0
    errors: list[Fault] = field(default_factory=list)
    drop: bool = False
    header_delay: float = 0.0


def make_plan(faults: Iterable[Fault], *, quirks: bool, chunk_delay: float) -> Plan:
    """Fold the faults of one request into a delivery plan."""
    plan = Plan(quirks=quirks, chunk_delay=chunk_delay)
    for fault in faults:
        delay = _DEFAULT_DELAYS.get(fault.kind, 0.0) if fault.delay is None else fault.delay
        if fault.is_error:
            plan.errors.append(fault)
        elif fault.kind == "drop":
            plan.drop = True
        elif fault.kind == "delay_headers":
            plan.header_delay += delay
        elif fault.kind == "chunk_delay":
            plan.chunk_delay = delay
        elif fault.kind == "quirks":
            plan.quirks = True
        elif fault.kind == "split_chunks":
            plan.split, plan.split_delay = max(1, fault.size), delay
        elif fault.kind in ("stream_cut", "stream_end_early"):
            plan.cut_after, plan.cut_abort = fault.after, fault.kind == "stream_cut"
        else:  # truncated_json / malformed_json
            plan.damage, plan.damage_at = fault.kind, fault.after
    return plan


def served_model_name(entry: Mapping[str, Any]) -> str:
    """The Azure-style model name a quirky backend echoes (``gpt-4.1-2025-04-14``)."""
    name = str(entry["id"]).split("/", 1)[-1]
    version = str(entry.get("version", ""))
    return f"{name}-{version}" if version.count("-") == 2 else name


async def _write(resp: web.StreamResponse, data: bytes, plan: Plan, rng: random.Random) -> None:
    if plan.split is None:
        await resp.write(data)
        return
    pos = 0
    while pos < len(data):
        step = rng.randint(1, plan.split)
        await resp.write(data[pos : pos + step])
        pos += step
        await asyncio.sleep(plan.split_delay)


async def send_json(
    request: web.Request,
    body: bytes,
    headers: Mapping[str, str],
    plan: Plan,
    rng: random.Random,
) -> web.StreamResponse:
    """Send a JSON body, damaged, split or cut as planned."""
    full_length = len(body)
    if plan.damage == "malformed_json":
        body, full_length = MALFORMED, len(MALFORMED)
    elif plan.damage == "truncated_json" or (plan.cut_after is not None and not plan.cut_abort):
        body = body[: len(body) // 2]
        full_length = len(body)
    elif plan.cut_after is not None:  # stream_cut: announce the full length, send half
        body = body[: len(body) // 2]
    if plan.split is None and plan.cut_after is None:
        return web.Response(body=body, content_type="application/json", headers=headers)
    resp = web.StreamResponse(headers=headers)
    resp.content_type = "application/json"
    resp.content_length = full_length
    await resp.prepare(request)
    try:
        await _write(resp, body, plan, rng)
    except ConnectionError:
        return resp
    if plan.cut_abort and request.transport is not None:
        request.transport.abort()
    return resp


async def send_events(
    request: web.Request,
    events: list[dict[str, Any]],
    headers: Mapping[str, str],
    plan: Plan,
    rng: random.Random,
) -> web.StreamResponse:
    """Send chunks as Server-Sent Events ending with ``[DONE]``, with quirks and faults."""
    eol = b"\r\n" if plan.quirks else b"\n"
    payloads = [msgspec.json.encode(event) for event in events]
    if plan.damage is not None and plan.damage_at < len(payloads):
        broken = payloads[plan.damage_at]
        payloads[plan.damage_at] = (
            broken[: len(broken) // 2] if plan.damage == "truncated_json" else MALFORMED
        )
    frames = [b"data: " + p + eol + eol for p in payloads]
    if plan.cut_after is None:
        frames.append(b"data: [DONE]" + eol + eol)
    else:
        frames = frames[: plan.cut_after]
    if plan.quirks:
        keep_alive = b": keep-alive" + eol + eol
        frames.insert(0, keep_alive)
        frames.insert(min(3, len(frames)), keep_alive)
    resp = web.StreamResponse(headers={**headers, "Cache-Control": "no-cache"})
    resp.content_type = "text/event-stream"
    await resp.prepare(request)
    try:
        for n, frame in enumerate(frames):
            if n and plan.chunk_delay:
                await asyncio.sleep(plan.chunk_delay)
            await _write(resp, frame, plan, rng)
        if plan.cut_abort and request.transport is not None:
            request.transport.abort()
            return resp
        await resp.write_eof()
    except ConnectionError:
        pass
    return resp
