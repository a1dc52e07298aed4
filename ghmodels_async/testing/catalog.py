"""The model catalog served by the fake GitHub Models server (see :mod:`ghmodels_async.testing`).

The entries mirror the shape of ``GET https://models.github.ai/catalog/models``.
Nothing here imports the client: the fake server checks the wire on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "CATALOG",
    "EMBEDDING_DIMENSIONS",
    "catalog_index",
    "is_embeddings_model",
    "is_reasoning_model",
]

_CHAT_CAPS: Final = ["streaming", "tool-calling"]


def _entry(
    model_id: str,
    name: str,
    publisher: str,
    registry: str,
    summary: str,
    version: str,
    *,
    tier: str,
    limits: tuple[int, int],
    inputs: Sequence[str] = ("text",),
    outputs: Sequence[str] = ("text",),
    capabilities: Sequence[str] = _CHAT_CAPS,
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    slug = model_id.split("/", 1)[1].replace(".", "-")
    return {
        "id": model_id,
        "name": name,
        "publisher": publisher,
        "registry": registry,
        "summary": summary,
        "html_url": f"https://github.com/marketplace/models/{registry}/{slug}",
        "version": version,
        "capabilities": list(capabilities),
        "limits": {"max_input_tokens": limits[0], "max_output_tokens": limits[1]},
        "rate_limit_tier": tier,
        "supported_input_modalities": list(inputs),
        "supported_output_modalities": list(outputs),
        "tags": list(tags),
    }


#: The catalog answered by ``GET /catalog/models`` (treat as read-only).
CATALOG: Final[tuple[dict[str, Any], ...]] = (
    _entry(
        "openai/gpt-4.1", "OpenAI GPT-4.1", "OpenAI", "azure-openai",
        "gpt-4.1 outperforms gpt-4o across the board, with major gains in coding.",
        "2025-04-14", tier="high", limits=(1048576, 32768), inputs=("text", "image"),
        tags=("multipurpose", "multilingual", "multimodal"),
    ),
    _entry(
        "openai/gpt-4.1-mini", "OpenAI GPT-4.1-mini", "OpenAI", "azure-openai",
        "gpt-4.1-mini outperforms gpt-4o-mini across the board.",
        "2025-04-14", tier="low", limits=(1048576, 32768), inputs=("text", "image"),
        tags=("multipurpose", "multilingual", "multimodal"),
    ),
    _entry(
        "openai/gpt-4o", "OpenAI GPT-4o", "OpenAI", "azure-openai",
        "OpenAI's most advanced multimodal model in the gpt-4o family.",
        "2024-11-20", tier="high", limits=(131072, 16384), inputs=("text", "image", "audio"),
        tags=("multipurpose", "multilingual", "multimodal"),
    ),
    _entry(
        "openai/o3-mini", "OpenAI o3-mini", "OpenAI", "azure-openai",
        "o3-mini includes the o1 features with significant cost-efficiencies.",
        "2025-01-31", tier="custom", limits=(200000, 100000),
        tags=("reasoning", "multilingual", "coding"),
    ),
    _entry(
        "openai/text-embedding-3-small", "OpenAI Text Embedding 3 (small)", "OpenAI",
        "azure-openai", "Text-embedding-3 series models are the latest embedding models.",
        "1", tier="embeddings", limits=(8191, 0), outputs=("embeddings",),
        capabilities=(), tags=("rag", "multilingual"),
    ),
    _entry(
        "meta/llama-3.3-70b-instruct", "Llama-3.3-70B-Instruct", "Meta", "azureml-meta",
        "Llama 3.3 70B Instruct offers enhanced reasoning, math, and instruction following.",
        "5", tier="high", limits=(128000, 4096), capabilities=("streaming",),
        tags=("conversation",),
    ),
    _entry(
        "mistral-ai/mistral-small-2503", "Mistral Small 3.1", "Mistral AI", "azureml-mistral",
        "Enhanced Mistral Small 3 with multimodal capabilities and a 128k context length.",
        "1", tier="low", limits=(128000, 4096), inputs=("text", "image"),
        tags=("low latency", "multilingual"),
    ),
    _entry(
        "microsoft/phi-4", "Phi-4", "Microsoft", "azureml",
        "Phi-4 14B, a highly capable model for low latency scenarios.",
        "7", tier="low", limits=(16384, 16384), capabilities=("streaming",),
        tags=("reasoning", "understanding", "low latency"),
    ),
    _entry(
        "deepseek/deepseek-r1", "DeepSeek-R1", "DeepSeek", "azureml-deepseek",
        "DeepSeek-R1 excels at reasoning tasks using a step-by-step training process.",
        "1", tier="custom", limits=(128000, 4096), capabilities=("streaming",),
        tags=("reasoning", "coding"),
    ),
    _entry(
        "cohere/cohere-command-a", "Cohere Command A", "Cohere", "azureml-cohere",
        "Command A is a highly efficient generative model that excels at agentic use cases.",
        "1", tier="low", limits=(131072, 4096), tags=("rag", "multilingual"),
    ),
    _entry(
        "cohere/cohere-embed-v3-multilingual", "Cohere Embed v3 Multilingual", "Cohere",
        "azureml-cohere", "Cohere Embed Multilingual is the market's leading multimodal model.",
        "3", tier="embeddings", limits=(512, 0), outputs=("embeddings",),
        capabilities=(), tags=("rag", "multilingual"),
    ),
)  # fmt: skip

#: Default vector length per embeddings model (when the request has no ``dimensions``).
EMBEDDING_DIMENSIONS: Final[Mapping[str, int]] = {
    "openai/text-embedding-3-small": 32,
    "cohere/cohere-embed-v3-multilingual": 24,
}


def catalog_index(catalog: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Map model id → catalog entry."""
    return {str(entry["id"]): entry for entry in catalog}


def is_embeddings_model(entry: Mapping[str, Any]) -> bool:
    """True for models served by the embeddings endpoint."""
    return entry.get("rate_limit_tier") == "embeddings" or "embeddings" in entry.get(
        "supported_output_modalities", ()
    )


def is_reasoning_model(entry: Mapping[str, Any]) -> bool:
    """True for reasoning models (they report ``reasoning_tokens`` in usage)."""
    return "reasoning" in entry.get("tags", ()) and entry.get("rate_limit_tier") == "custom"
