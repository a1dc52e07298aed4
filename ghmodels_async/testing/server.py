"""An embedded fake GitHub Models server for tests (like moto for AWS).

``FakeServer`` is an ``aiohttp.web`` app on 127.0.0.1 that speaks the GitHub Models
REST contract: chat completions (plain and SSE streaming), embeddings, the catalog,
org attribution, strict body validation, deterministic scripted answers, fault
injection and tier rate limits. It imports nothing from the client, so it checks
what actually goes over the wire::

    async with FakeServer() as server:
        server.script("Hello!", prompt_contains="hi")
        ...  # point a client at server.url

Magic names: org ``no-models-org`` → 403 (Models not enabled), ``not-a-member`` →
403, ``ghost-org`` → 404; token ``no-models-permission`` → 401. See
``docs/fake-server.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from multidict import CIMultiDict, CIMultiDictProxy

from .answers import (
    ReplySource,
    ScriptRule,
    build_answer,
    chunk_events,
    completion_body,
    count_tokens,
    embeddings_body,
    prompt_tokens,
)
from .catalog import (
    CATALOG,
    EMBEDDING_DIMENSIONS,
    catalog_index,
    is_reasoning_model,
)
from .delivery import Plan, make_plan, send_events, send_json, served_model_name
from .faults import (
    Fault,
    FaultRule,
    RateLimitTable,
    TierRateLimiter,
    parse_faults,
)
from .validation import FakeAPIError, valid_org_login, validate_chat, validate_embeddings

__all__ = ["MAGIC_ORGS", "MAGIC_TOKENS", "FakeServer", "RecordedRequest", "serve"]

#: Org logins with a fixed answer: (status, code, message).
MAGIC_ORGS: Final[Mapping[str, tuple[int, str, str]]] = {
    "no-models-org": (403, "forbidden", "Models is not enabled for this organization"),
    "not-a-member": (403, "forbidden", "You are not a member of this organization"),
    "ghost-org": (404, "not_found", "Organization not found"),
}
#: Bearer tokens with a fixed 401 answer.
MAGIC_TOKENS: Final[Mapping[str, str]] = {
    "no-models-permission": "The 'models' permission is required to access this endpoint.",
}
FAULT_HEADER: Final = "x-fake-fault"
_HTTP_CODES: Final = {
    400: "invalid_request_body", 404: "not_found", 405: "method_not_allowed",
    413: "request_too_large",
}  # fmt: skip


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received: ``headers`` is case-insensitive, ``json`` None if unparsable."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any


class FakeServer:
    """The fake GitHub Models server; use ``async with`` or ``start()``/``close()``.

    - ``token``: None accepts any non-empty bearer token (or Azure ``api-key``); a
      string accepts only it.
    - ``quirks``: stream like the Azure backend (filter chunks, missing model, CRLF...).
    - ``rate_limits``: True (published tiers) or a :class:`RateLimitTable` to emulate 429s.
    - ``chunk_delay``: seconds between SSE events. ``seed``: seeds fault randomness.
    - ``catalog``: replaces :data:`CATALOG`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        quirks: bool = False,
        rate_limits: bool | RateLimitTable = False,
        chunk_delay: float = 0.0,
        seed: int | None = 0,
        catalog: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.host = host
        self.token = token
        self.quirks = quirks
        self.chunk_delay = chunk_delay
        self.seed = seed
        source = CATALOG if catalog is None else catalog
        self.catalog: list[dict[str, Any]] = [dict(entry) for entry in source]
        self._models = catalog_index(self.catalog)
        table = rate_limits if isinstance(rate_limits, RateLimitTable) else RateLimitTable()
        self.rate_limiter = TierRateLimiter(table, enforce=rate_limits is not False)
        self.requests: list[RecordedRequest] = []
        self.scripts: list[ScriptRule] = []
        self.faults: list[FaultRule] = []
        self._port = port
        self._rng = random.Random(seed)
        self._counter = 0
        self._runner: web.AppRunner | None = None
        self.app = self._make_app()

    # -- lifecycle ---------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._json_errors], client_max_size=64 * 1024 * 1024)
        for prefix in ("/inference", "/orgs/{org}/inference", "/v1"):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_post(f"{prefix}/embeddings", self._embeddings)
        app.router.add_get("/catalog/models", self._catalog)
        app.router.add_get("/v1/models", self._catalog)  # the OpenAI list shape
        return app

    async def start(self) -> None:
        """Start listening (port 0 picks a free port)."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.25)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def close(self) -> None:
        """Stop the server and close its connections."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The listening port (valid once started)."""
        if self._runner is None:
            raise RuntimeError("FakeServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (valid once started)."""
        return f"http://{self.host}:{self.port}"

    # -- scripting -------------------------------------------------------------

    def script(
        self,
        reply: ReplySource,
        *,
        model: str | None = None,
        prompt_contains: str | None = None,
        times: int | None = None,
    ) -> ScriptRule:
        """Answer matching chat requests with ``reply`` (first registered match wins).

        ``reply`` is a :class:`Reply`, plain text, or a function of the request JSON.
        Matches on ``model`` and on text in the last user message; ``times=None`` = forever.
        """
        if model is not None and model not in self._models:
            raise ValueError(f"model {model!r} is not in the fake catalog")
        rule = ScriptRule(reply, model, prompt_contains, times)
        self.scripts.append(rule)
        return rule

    def inject(
        self,
        fault: Fault | str,
        *,
        times: int | None = 1,
        rate: float | None = None,
        path_contains: str | None = None,
    ) -> FaultRule:
        """Misbehave on matching requests: ``times`` of them (None = all), each with
        probability ``rate`` (seeded) if given. ``fault`` may be a name like ``"gone"``
        or ``"rate_limit;wait=2"``."""
        if isinstance(fault, str):
            parsed = parse_faults(fault)
            if len(parsed) != 1:
                raise ValueError("inject() takes exactly one fault")
            fault = parsed[0]
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be in [0, 1]")
        rule = FaultRule(fault, times, rate, path_contains)
        self.faults.append(rule)
        return rule

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent recorded request."""
        if not self.requests:
            raise LookupError("no request recorded")
        return self.requests[-1]

    def clear(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()

    def reset(self) -> None:
        """Forget requests, scripts, faults and rate-limit state; reseed randomness."""
        self.clear()
        self.scripts.clear()
        self.faults.clear()
        self.rate_limiter = TierRateLimiter(self.rate_limiter.table, self.rate_limiter.enforce)
        self._rng = random.Random(self.seed)
        self._counter = 0

    # -- request plumbing ------------------------------------------------------

    @web.middleware
    async def _json_errors(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            with contextlib.suppress(web.HTTPException):
                await self._record(request)
            code = _HTTP_CODES.get(exc.status, "http_error")
            err = FakeAPIError(exc.status, code, exc.reason)
            return self._error_response(err, self._request_id(), {})
        return response

    def _request_id(self) -> str:
        self._counter += 1
        digest = hashlib.sha256(f"{self.seed}:{self._counter}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16]))

    async def _record(self, request: web.Request) -> RecordedRequest:
        try:
            body = await request.read()
        except RequestPayloadError:  # e.g. a Content-Encoding the body does not match
            raise web.HTTPBadRequest(
                reason="The request body could not be read (bad Content-Encoding or cut short)"
            ) from None
        try:
            parsed: Any = msgspec.json.decode(body) if body else None
        except msgspec.DecodeError:
            parsed = None
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            body=body,
            json=parsed,
        )
        self.requests.append(rec)
        return rec

    def _user(self, request: web.Request) -> str:
        authorization = request.headers.get("Authorization")
        key = request.headers.get("api-key")
        if authorization is None and key is not None:  # Azure AI Foundry key auth
            scheme, token = "bearer", key.strip()
        else:
            scheme, _, token = (authorization or "").partition(" ")
            token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise FakeAPIError(401, "unauthorized", "Bad credentials: missing bearer token.")
        if token in MAGIC_TOKENS:
            raise FakeAPIError(401, "unauthorized", MAGIC_TOKENS[token])
        if self.token is not None and token != self.token:
            raise FakeAPIError(401, "unauthorized", "Bad credentials.")
        return token

    def _plan(self, request: web.Request) -> Plan:
        faults: list[Fault] = []
        header = request.headers.get(FAULT_HEADER)
        if header:
            try:
                faults.extend(parse_faults(header))
            except (ValueError, TypeError) as exc:
                raise FakeAPIError(400, "invalid_fake_fault", f"{FAULT_HEADER}: {exc}") from None
        for rule in self.faults:
            if rule.remaining is not None and rule.remaining <= 0:
                continue
            if rule.path_contains is not None and rule.path_contains not in request.path:
                continue
            if rule.rate is not None and self._rng.random() >= rule.rate:
                continue
            rule.hits += 1
            if rule.remaining is not None:
                rule.remaining -= 1
            faults.append(rule.fault)
        return make_plan(faults, quirks=self.quirks, chunk_delay=self.chunk_delay)

    def _headers(self, request_id: str, user: str, model: str | None) -> dict[str, str]:
        tier = self._models[model]["rate_limit_tier"] if model in self._models else None
        left, tokens = self.rate_limiter.remaining(user, model, tier)
        return {
            "x-request-id": request_id,
            "x-ratelimit-remaining-requests": str(left),
            "x-ratelimit-remaining-tokens": str(tokens),
        }

    def _error_response(
        self, err: FakeAPIError, request_id: str, headers: Mapping[str, str]
    ) -> web.Response:
        all_headers = {**headers, **err.headers, "x-request-id": request_id}
        if err.code == "bad_gateway" and err.shape == "github":
            html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(
                status=err.status, text=html, content_type="text/html", headers=all_headers
            )
        inner: dict[str, Any] = {"code": err.code, "message": err.message}
        if err.shape == "openai":
            kind = "invalid_request_error" if err.status < 500 else "server_error"
            inner = {"message": err.message, "type": kind, "param": None, "code": err.code}
        return web.Response(
            status=err.status,
            body=msgspec.json.encode({"error": inner}),
            content_type="application/json",
            headers=all_headers,
        )

    async def _serve(
        self,
        request: web.Request,
        answer: Callable[[RecordedRequest, str, Plan, str], Any],
    ) -> web.StreamResponse:
        """Record, authenticate, apply faults, then hand over to ``answer``."""
        rec = await self._record(request)
        request_id = self._request_id()
        user, model = "", rec.json.get("model") if isinstance(rec.json, dict) else None
        model = model if isinstance(model, str) else None
        try:
            user = self._user(request)
            org = request.match_info.get("org")
            if org is not None and (not valid_org_login(org) or org in MAGIC_ORGS):
                status, code, message = MAGIC_ORGS.get(
                    org, (404, "not_found", "Organization not found")
                )
                raise FakeAPIError(status, code, message)
            plan = self._plan(request)
            if plan.drop:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response()
            if plan.header_delay:
                await asyncio.sleep(plan.header_delay)
            if plan.errors:
                raise plan.errors[0].error(model)
            if request.method == "POST" and request.content_type != "application/json":
                raise FakeAPIError(
                    415, "unsupported_media_type", "Content-Type must be application/json."
                )
            if request.method == "POST" and rec.json is None:
                raise FakeAPIError(
                    400, "invalid_request_body", "The request body is not valid JSON."
                )
            response: web.StreamResponse = await answer(rec, user, plan, request_id)
            return response
        except FakeAPIError as err:
            return self._error_response(err, request_id, self._headers(request_id, user, model))

    # -- endpoints -------------------------------------------------------------

    async def _catalog(self, request: web.Request) -> web.StreamResponse:
        async def answer(
            rec: RecordedRequest, user: str, plan: Plan, request_id: str
        ) -> web.StreamResponse:
            if request.path.startswith("/v1/"):
                listing = [
                    {"id": entry["id"], "object": "model", "created": 0,
                     "owned_by": entry.get("publisher", "")}
                    for entry in self.catalog
                ]
                body = msgspec.json.encode({"object": "list", "data": listing})
            else:
                body = msgspec.json.encode(self.catalog)
            return await send_json(
                request, body, self._headers(request_id, user, None), plan, self._rng
            )

        return await self._serve(request, answer)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        async def answer(
            rec: RecordedRequest, user: str, plan: Plan, request_id: str
        ) -> web.StreamResponse:
            req = validate_chat(rec.json, self._models)
            entry = self._models[req.model]
            used = prompt_tokens(req.messages)
            if used > int(entry["limits"]["max_input_tokens"]):
                raise FakeAPIError(
                    413, "tokens_limit_reached",
                    f"Request body too large for {req.model} model. "
                    f"Max size: {entry['limits']['max_input_tokens']} tokens.",
                )  # fmt: skip
            tier = str(entry["rate_limit_tier"])
            self.rate_limiter.acquire(user, req.model, tier, used)
            total = used
            try:
                result = build_answer(req, self.scripts, rec.json, is_reasoning_model(entry))
                total += result.completion_tokens
                headers = self._headers(request_id, user, req.model)
                cid, created = "chatcmpl-" + request_id.replace("-", "")[:29], int(time.time())
                model = served_model_name(entry) if plan.quirks else req.model
                fingerprint = "fp_" + hashlib.sha256(req.model.encode()).hexdigest()[:10]
                if not req.stream:
                    body = completion_body(
                        result, cid=cid, created=created, model=model,
                        fingerprint=fingerprint, quirks=plan.quirks,
                    )  # fmt: skip
                    body_bytes = msgspec.json.encode(body)
                    return await send_json(request, body_bytes, headers, plan, self._rng)
                events = chunk_events(
                    result, cid=cid, created=created, model=model, fingerprint=fingerprint,
                    include_usage=req.include_usage, quirks=plan.quirks,
                )  # fmt: skip
                return await send_events(request, events, headers, plan, self._rng)
            finally:
                self.rate_limiter.release(user, req.model, tier, total)

        return await self._serve(request, answer)

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        async def answer(
            rec: RecordedRequest, user: str, plan: Plan, request_id: str
        ) -> web.StreamResponse:
            req = validate_embeddings(rec.json, self._models)
            entry = self._models[req.model]
            limit = int(entry["limits"]["max_input_tokens"])
            if any(count_tokens(text) > limit for text in req.inputs):
                raise FakeAPIError(
                    413, "tokens_limit_reached",
                    f"Request body too large for {req.model} model. Max size: {limit} tokens.",
                )  # fmt: skip
            tier = str(entry["rate_limit_tier"])
            tokens = sum(max(1, count_tokens(t)) for t in req.inputs)
            self.rate_limiter.acquire(user, req.model, tier, tokens)
            try:
                dims = req.dimensions or EMBEDDING_DIMENSIONS.get(req.model, 16)
                body = msgspec.json.encode(embeddings_body(req, dims))
                headers = self._headers(request_id, user, req.model)
                return await send_json(request, body, headers, plan, self._rng)
            finally:
                self.rate_limiter.release(user, req.model, tier, tokens)

        return await self._serve(request, answer)


async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ready: Callable[[FakeServer], object] | None = None,
    token: str | None = None,
    quirks: bool = False,
    rate_limits: bool | RateLimitTable = False,
    chunk_delay: float = 0.0,
    seed: int | None = 0,
) -> None:
    """Run a FakeServer until cancelled; ``ready(server)`` is called once it listens.

    Prints nothing: a CLI passes ``ready=lambda s: print(s.url)``.
    """
    server = FakeServer(
        host=host, port=port, token=token, quirks=quirks, rate_limits=rate_limits,
        chunk_delay=chunk_delay, seed=seed,
    )  # fmt: skip
    async with server:
        if ready is not None:
            ready(server)
        await asyncio.Event().wait()
