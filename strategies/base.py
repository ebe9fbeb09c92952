"""The strategy interface.

A strategy looks at one position's risk and proposes protective actions for one rule:

    class MyStrategy:
        name = "my_strategy"
        def decide(self, risk: PositionRisk, ctx: PlanContext) -> list[Action]: ...

It is pure: no I/O, no clock. A rule fires on the tier this cycle *observed*; the strategy
sizes with ``bot.risk`` on the *projected* position (``risk`` and ``ctx.position`` already
include this cycle's earlier actions), so that the action lands the position at the rule's
target. The guard may clip it; the engine then projects again and asks again, so a later leg
or rule (say, deleverage after a top-up limited by the caps) only covers what is missing.

Add a strategy: one new file here with a class like the above, registered in
``strategies/__init__.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from bot.assess import CollateralTerms, collateral_terms
from bot.domain import AccountSnapshot, Action, Position, PositionRisk
from bot.risk.distance import horizon_sigma
from bot.risk.escalation import RiskTier
from bot.risk.tiers import TierTable
from bot.settings import RuleSettings


@dataclass(frozen=True)
class PlanContext:
    rule: RuleSettings
    position: Position  # as projected after this cycle's earlier actions
    snapshot: AccountSnapshot  # likewise
    observed_tier: RiskTier  # the tier this cycle observed: rules fire on it, not on projections
    hedge_mode: bool = False
    hedge_account: str | None = None
    hedged_contracts: Mapping[str, float] = field(default_factory=dict)  # position key -> our open hedge
    taker_fee: float = 0.0
    volatility_horizon_s: float = 3600.0  # the horizon of a rule's target_distance_sigma
    # Things the trader should hear about that are not actions ("a top-up is needed but no
    # wallet has funds"); the engine turns them into de-duplicated notices.
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    @property
    def terms(self) -> CollateralTerms | None:
        return collateral_terms(self.position, self.snapshot)

    def fires(self) -> bool:
        return rule_fires(self.rule, self.observed_tier)


def rule_fires(rule: RuleSettings, observed_tier: RiskTier) -> bool:
    """A rule acts only when enabled and the tier observed this cycle is at or above its ``at``."""
    return rule.enabled and observed_tier >= RiskTier.parse(rule.at)


def target_distance(risk: PositionRisk, ctx: PlanContext) -> float | None:
    """The rule's target distance to liquidation, percent of mark: ``target_distance_pct``, or
    ``target_distance_sigma`` sigmas of the mark's realised volatility over the horizon when that
    is further (a log-price move of k sigmas, as a distance for the side), never beyond
    ``target_distance_max_pct``."""
    rule = ctx.rule
    target = rule.target_distance_pct
    if target is None or rule.target_distance_sigma is None:
        return target
    log_move = rule.target_distance_sigma * horizon_sigma(risk.volatility_annual, ctx.volatility_horizon_s)
    by_vol = (1.0 - math.exp(-log_move)) * 100.0 if risk.side == "long" else math.expm1(log_move) * 100.0
    return max(target, min(by_vol, rule.target_distance_max_pct))


@dataclass(frozen=True)
class SizingInputs:
    target_distance_pct: float
    terms: CollateralTerms
    tiers: TierTable


def short_of_target(risk: PositionRisk, ctx: PlanContext, what: str) -> SizingInputs | None:
    """The common precondition of the sizing strategies: the rule fires, the position (not a
    hedge leg) is closer to liquidation than the rule's target, and the venue gave what sizing
    needs (otherwise the trader gets a note, not silence)."""
    p, target = ctx.position, target_distance(risk, ctx)
    if not ctx.fires() or target is None or p.is_hedge_leg:
        return None
    if risk.distance_pct is not None and risk.distance_pct >= target:
        return None
    terms = ctx.terms
    if terms is None or p.tiers is None:
        ctx.note(f"cannot size a {what}: the venue gave no collateral or tier data")
        return None
    return SizingInputs(target, terms, p.tiers)


class Strategy(Protocol):
    name: ClassVar[str]

    def decide(self, risk: PositionRisk, ctx: PlanContext) -> list[Action]: ...


def base_action_fields(risk: PositionRisk, ctx: PlanContext, strategy: str) -> dict[str, object]:
    p = ctx.position
    return {
        "account": risk.account,
        "symbol": risk.symbol,
        "side": risk.side,
        "position_side": risk.position_side,
        "rule": ctx.rule.name,
        "strategy": strategy,
        "tier": ctx.observed_tier,
        "margin_mode": p.margin_mode,
        "mark_price": p.mark_price,
        "contract_size": p.contract_size,
        "inverse": p.inverse,
        "distance_before": risk.distance_pct,
        "collateral_before": p.collateral,
    }
