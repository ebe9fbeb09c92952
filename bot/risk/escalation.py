"""Escalation tiers: ok < watch < warning < danger < critical.

A tier is entered when *any* signal crosses its threshold (distance in % of mark, distance in
sigmas, or, as a fallback when there is no liquidation price, the margin ratio). Leaving a tier
needs every signal to clear the threshold by a hysteresis margin, so a position hovering at a
boundary does not flap between two tiers on every poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class RiskTier(IntEnum):
    OK = 0
    WATCH = 1
    WARNING = 2
    DANGER = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int | RiskTier) -> RiskTier:
        if isinstance(value, RiskTier):
            return value
        if isinstance(value, int):
            return cls(value)
        tier = _BY_LABEL.get(value)  # the common case (rules parse their tier every poll)
        if tier is not None:
            return tier
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(t.label for t in cls)
            raise ValueError(f"unknown tier {value!r}; use one of: {names}") from None


_BY_LABEL: dict[str, RiskTier] = {t.name.lower(): t for t in RiskTier}
_ESCALATING = (RiskTier.CRITICAL, RiskTier.DANGER, RiskTier.WARNING, RiskTier.WATCH)


@dataclass(frozen=True)
class EscalationThresholds:
    """``distance_pct[t]``: tier t is entered at or below this distance (percent of mark).
    ``sigma[t]``: ... at or below this many sigmas over the volatility horizon.
    ``margin_ratio[t]``: ... at or above this margin ratio (fallback signal, always applied)."""

    distance_pct: Mapping[RiskTier, float] = field(
        default_factory=lambda: {
            RiskTier.WATCH: 15.0,
            RiskTier.WARNING: 10.0,
            RiskTier.DANGER: 6.0,
            RiskTier.CRITICAL: 3.0,
        }
    )
    sigma: Mapping[RiskTier, float] = field(
        default_factory=lambda: {
            RiskTier.WATCH: 15.0,
            RiskTier.WARNING: 12.0,
            RiskTier.DANGER: 3.0,
            RiskTier.CRITICAL: 2.0,
        }
    )
    margin_ratio: Mapping[RiskTier, float] = field(
        default_factory=lambda: {
            RiskTier.WATCH: 0.3,
            RiskTier.WARNING: 0.5,
            RiskTier.DANGER: 0.7,
            RiskTier.CRITICAL: 0.85,
        }
    )
    hysteresis_pct: float = 1.0
    hysteresis_sigma: float = 0.25
    hysteresis_margin_ratio: float = 0.05


def _raw_tier(
    distance_pct: float | None,
    distance_sigma: float | None,
    margin_ratio: float | None,
    th: EscalationThresholds,
    slack: float,
) -> RiskTier:
    """Worst tier any signal points to; thresholds are loosened by ``slack`` x hysteresis."""
    for tier in _ESCALATING:
        limit = th.distance_pct.get(tier)
        if distance_pct is not None and limit is not None and distance_pct <= limit + slack * th.hysteresis_pct:
            return tier
        limit = th.sigma.get(tier)
        if distance_sigma is not None and limit is not None and distance_sigma <= limit + slack * th.hysteresis_sigma:
            return tier
        limit = th.margin_ratio.get(tier)
        if (
            margin_ratio is not None
            and limit is not None
            and margin_ratio >= limit - slack * th.hysteresis_margin_ratio
        ):
            return tier
    return RiskTier.OK


def classify(
    distance_pct: float | None,
    distance_sigma: float | None,
    margin_ratio: float | None,
    previous: RiskTier | None,
    thresholds: EscalationThresholds,
    *,
    floor: RiskTier = RiskTier.OK,
) -> RiskTier:
    """Tier for this observation. Escalation is immediate; de-escalation only past the
    hysteresis band. ``floor`` is the lowest tier allowed (e.g. WARNING when data is missing:
    missing data is never treated as safe)."""
    raw = max(_raw_tier(distance_pct, distance_sigma, margin_ratio, thresholds, 0.0), floor)
    if previous is None or raw >= previous:
        return raw
    sticky = max(_raw_tier(distance_pct, distance_sigma, margin_ratio, thresholds, 1.0), floor)
    return max(raw, min(previous, sticky))
