"""Rate-limit presets for the GitHub Models tiers and a limiter that picks them per model.

The catalog gives each model a ``rate_limit_tier`` (``low``, ``high``, ``embeddings``,
``custom`` for reasoning models); :class:`TierLimiter` maps a model to its tier's
published free-tier budgets, from a mapping you give or from ``GET /catalog/models``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

import msgspec

from ._errors import ConfigurationError, ValidationError
from ._limiter import Limiter, Limits
from .types import CatalogModel

__all__ = ["TIER_LIMITS", "TierLimiter", "tier_of"]

#: Published free-tier budgets per user and model (API reference, "Published free-tier
#: limits"); for reasoning models the lower end of the published ranges (1-2/min,
#: 8-12/day). ``burst`` = the per-minute figure: as many starts at once as the minute
#: allows, then each as an earlier one leaves the window (what "N per minute" means).
TIER_LIMITS: Final[Mapping[str, Limits]] = {
    "low": Limits(requests_per_minute=15, max_concurrency=5, requests_per_day=150, burst=15),
    "high": Limits(requests_per_minute=10, max_concurrency=2, requests_per_day=50, burst=10),
    "embeddings": Limits(requests_per_minute=15, max_concurrency=5, requests_per_day=150, burst=15),
    "reasoning": Limits(requests_per_minute=1, max_concurrency=1, requests_per_day=8),
}

# o1, o3, o4-mini, gpt-5... and DeepSeek-R1: the reasoning families, for ids outside the catalog.
_REASONING_ID = re.compile(r"(^|/)(o\d|gpt-5|deepseek-r\d)", re.IGNORECASE)


def tier_of(model: CatalogModel) -> str:
    """The preset name for a catalog entry: its ``rate_limit_tier``, with ``custom``
    (and any model tagged ``reasoning`` without a tier) mapped to ``reasoning``."""
    if not isinstance(model, CatalogModel):
        raise ValidationError(
            f"tier_of takes a CatalogModel (from client.models.list()), got {model!r}"[:300],
            field="model",
        )
    tier = (model.rate_limit_tier or "").lower()
    if tier == "custom" or (not tier and "reasoning" in model.tags):
        return "reasoning"
    if not tier and "embeddings" in model.supported_output_modalities:
        return "embeddings"
    return tier or "high"


class _Catalog(Protocol):
    async def list(self) -> list[CatalogModel]: ...


class _HasModels(Protocol):
    @property
    def models(self) -> _Catalog: ...


class TierLimiter(Limiter):
    """A :class:`Limiter` whose budgets per model come from the model's tier.

    ``tiers`` maps model ids to tier names; :meth:`load_catalog` fills it from a
    client's catalog (one ``GET /catalog/models``). A model not in the mapping gets
    ``default_tier``, except ids of the reasoning families (``o1``, ``o3``, ``gpt-5``,
    ``deepseek-r1``...), which get ``reasoning``. ``presets`` replaces :data:`TIER_LIMITS`
    (e.g. scaled budgets for a test). Other keywords are those of :class:`Limiter`.
    """

    def __init__(
        self,
        tiers: Mapping[str, str] | None = None,
        *,
        presets: Mapping[str, Limits] = TIER_LIMITS,
        default_tier: str = "high",
        **options: Any,
    ) -> None:
        default_tier = "reasoning" if default_tier == "custom" else default_tier
        if "limits" in options or "per_model" in options:
            raise ConfigurationError("TierLimiter takes presets=, not limits= or per_model=")
        presets = dict(presets)
        for name, value in presets.items():
            if not isinstance(value, Limits):
                raise ConfigurationError(f"presets[{name!r}] must be a Limits")
        if default_tier not in presets:
            raise ConfigurationError(
                f"default_tier {default_tier!r} is not a preset ({', '.join(sorted(presets))})"
            )
        self.presets = presets
        self.default_tier = default_tier
        self.tiers: dict[str, str] = {}
        super().__init__(presets[default_tier], **options)
        self.set_tiers(tiers or {})

    def set_tiers(self, tiers: Mapping[str, str]) -> None:
        """Add ``model id → tier`` entries (tier names as in the catalog or presets)."""
        if not isinstance(tiers, Mapping):
            raise ConfigurationError(f"tiers must map model ids to tier names, got {tiers!r}")
        for model, tier in tiers.items():
            if not isinstance(model, str) or not isinstance(tier, str):
                raise ConfigurationError(
                    f"tiers must map model ids to tier names, got {model!r}: {tier!r}"
                )
            name = "reasoning" if tier == "custom" else tier
            if name not in self.presets:
                known = ", ".join(sorted(self.presets))
                raise ConfigurationError(f"unknown tier {tier!r} for {model!r}; presets: {known}")
            self.tiers[model] = name
            self.tiers.setdefault(model.rsplit("/", 1)[-1].lower(), name)
        self._reconfigure()

    def learn_catalog(self, catalog: Iterable[CatalogModel | Mapping[str, Any]]) -> None:
        """Take the tiers of catalog entries (``CatalogModel``s or their JSON objects)."""
        try:
            entries = [msgspec.convert(entry, CatalogModel) for entry in catalog]
        except (TypeError, msgspec.ValidationError) as exc:
            raise ValidationError(f"not a catalog: {exc}", field="catalog") from None
        tiers = {entry.id: tier_of(entry) for entry in entries if entry.id}
        self.set_tiers({model: tier for model, tier in tiers.items() if tier in self.presets})

    async def load_catalog(self, client: _HasModels) -> None:
        """Fetch ``client.models.list()`` once and take each model's tier (the catalog
        request itself is never paced)."""
        models = getattr(client, "models", None)
        if models is None or not callable(getattr(models, "list", None)):
            raise ValidationError(
                f"load_catalog needs a Client (with .models.list()), got {client!r}",
                field="client",
            )
        self.learn_catalog(await models.list())

    def tier_for(self, model: str) -> str:
        """The tier preset applied to ``model``."""
        tier = self.tiers.get(model) or self.tiers.get(model.rsplit("/", 1)[-1].lower())
        if tier is not None:
            return tier
        if _REASONING_ID.search(model) and "reasoning" in self.presets:
            return "reasoning"
        return self.default_tier

    def limits_for(self, key: str) -> Limits:
        """The budgets of ``key``'s tier."""
        return self.presets[self.tier_for(key)]
