"""Answer a JSONL file of prompts with Ray Data, every actor under one Redis rate limit.

    python docs/examples/ray_batch.py prompts.jsonl answers/ \\
        --redis-url redis://127.0.0.1:6379/0 --base-url http://127.0.0.1:8000 \\
        --rpm 600 --actors 4

Each input line is ``{"id": ..., "prompt": ..., "model": ...}`` (``model`` optional).
The job is ``read_json`` -> ``map_batches`` -> ``write_json``: a pool of actors, each
holding one ``Client`` and one ``RedisRateLimiter`` on the same key, so the budget is
shared by every actor on every machine of the cluster, and a 429's ``retry-after``
pauses all of them. A request that fails is kept as a row with its ``status`` (the
error's type name) and ``error`` instead of failing the block. Rerunning with the same
output directory skips ids already written (``ok`` or not; delete those rows' files to
retry them), so an interrupted job resumes where it stopped.

The token comes from ``GITHUB_TOKEN`` in the actors' environment (on a cluster: set it
on every node or in the job's ``runtime_env``); it is never written to the output.
Needs ``pip install 'ghmodels_async[redis,ray]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "openai/gpt-4.1-mini"


def written_ids(out_dir: Path) -> set[str]:
    """Ids already in ``out_dir``'s JSONL files (a torn last line is ignored)."""
    done: set[str] = set()
    if not out_dir.is_dir():
        return done
    for path in out_dir.glob("*.json"):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    done.add(str(json.loads(line)["id"]))
                except (ValueError, KeyError, TypeError):
                    continue
    return done


class Answerer:
    """One Ray actor: a Client and a RedisRateLimiter, made in the actor's own event loop
    on the first batch, answering each batch's rows concurrently."""

    def __init__(self, *, base_url: str, path_prefix: str, redis_url: str, key: str,
                 rpm: float | None, tpm: float | None, max_concurrency: int | None,
                 model: str) -> None:
        self.settings = dict(base_url=base_url, path_prefix=path_prefix, redis_url=redis_url,
                             key=key, rpm=rpm, tpm=tpm, max_concurrency=max_concurrency)
        self.model = model
        self.client: Any = None

    async def _client(self) -> Any:
        if self.client is None:
            from ghmodels_async import Client
            from ghmodels_async.ratelimit import RedisRateLimiter

            s = self.settings
            limiter = RedisRateLimiter(
                s["redis_url"], key=s["key"], requests_per_minute=s["rpm"],
                tokens_per_minute=s["tpm"], max_concurrency=s["max_concurrency"],
            )
            self.client = Client(base_url=s["base_url"], path_prefix=s["path_prefix"],
                                 rate_limiter=limiter)
        return self.client

    async def _one(self, row_id: str, prompt: str, model: str) -> dict[str, Any]:
        from ghmodels_async import GHModelsError

        client = await self._client()
        try:
            answer = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}]
            )
        except GHModelsError as exc:
            return {"id": row_id, "status": type(exc).__name__, "answer": None,
                    "error": str(exc), "tokens": None}
        usage = answer.usage
        return {"id": row_id, "status": "ok", "answer": answer.choices[0].message.content,
                "error": None, "tokens": usage.total_tokens if usage else None}

    async def __call__(self, batch: dict[str, Any]) -> AsyncIterator[dict[str, list[Any]]]:
        ids = [str(x) for x in batch["id"]]
        prompts = [str(x) for x in batch["prompt"]]
        models = [str(x) if x else self.model for x in batch.get("model", [None] * len(ids))]
        rows = await asyncio.gather(*map(self._one, ids, prompts, models))
        yield {name: [row[name] for row in rows]
               for name in ("id", "status", "answer", "error", "tokens")}


def run(in_path: str, out_dir: str, *, base_url: str, path_prefix: str = "/inference",
        redis_url: str, key: str = "ray-batch", rpm: float | None = None,
        tpm: float | None = None, max_concurrency: int | None = None, actors: int = 2,
        batch_size: int = 32, model: str = DEFAULT_MODEL) -> int:
    """Run the job; return how many rows it answered (ok or failed) in this run."""
    import ray

    done = written_ids(Path(out_dir))
    ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    ds = ray.data.read_json(in_path)
    if done:
        ds = ds.filter(lambda row: str(row["id"]) not in done)
    answered = ds.map_batches(
        Answerer,
        fn_constructor_kwargs=dict(base_url=base_url, path_prefix=path_prefix,
                                   redis_url=redis_url, key=key, rpm=rpm, tpm=tpm,
                                   max_concurrency=max_concurrency, model=model),
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=0.25,  # the actors wait on the network; leave the CPUs to read/write
        batch_size=batch_size,
    )
    answered = answered.materialize()
    count = answered.count()
    if count:
        answered.write_json(out_dir)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="JSONL file (or directory) of {id, prompt[, model]}")
    parser.add_argument("output", help="directory of JSONL answer files (resumable)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL",
                                                              "redis://127.0.0.1:6379/0"))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--path-prefix", default="/inference")
    parser.add_argument("--key", default="ray-batch", help="the shared limiter's key")
    parser.add_argument("--rpm", type=float, default=None, help="requests per minute, all actors")
    parser.add_argument("--tpm", type=float, default=None, help="tokens per minute, all actors")
    parser.add_argument("--max-concurrency", type=int, default=None)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    count = run(args.input, args.output, base_url=args.base_url, path_prefix=args.path_prefix,
                redis_url=args.redis_url, key=args.key, rpm=args.rpm, tpm=args.tpm,
                max_concurrency=args.max_concurrency, actors=args.actors,
                batch_size=args.batch_size, model=args.model)
    print(f"answered {count} rows into {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
