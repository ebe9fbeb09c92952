"""Pure risk maths: liquidation prices, distances, sizing, escalation tiers. No I/O.

Stable public API (outside checks call it):

    bot.risk.liquidation_price(side, contracts, entry_price, wallet_balance, tiers, *,
                               contract_size=1, inverse=False, other_maintenance=0,
                               other_unrealized_pnl=0) -> float | None
    bot.risk.Tier(min_notional, max_notional, maintenance_margin_rate, maintenance_amount)
"""

from bot.risk.distance import (
    VolatilityState,
    annualised_volatility,
    distance_pct,
    distance_sigma,
    horizon_sigma,
    touch_probability,
    update_volatility,
)
from bot.risk.escalation import EscalationThresholds, RiskTier, classify
from bot.risk.liquidation import (
    Leg,
    liquidation_price,
    liquidation_price_fixed_maintenance,
    liquidation_prices_legs,
    maintenance_margin_at,
    margin_balance,
    margin_ratio,
    notional,
    unrealized_pnl,
)
from bot.risk.sizing import (
    collateral_to_liquidation_price,
    collateral_to_target,
    contracts_after_reduce_to_target,
    contracts_to_reduce_to_target,
    hedge_contracts,
    target_liquidation_price,
)
from bot.risk.tiers import Tier, TierTable, as_table, consistent_amounts, flat, maintenance_margin

__all__ = [
    "EscalationThresholds",
    "Leg",
    "RiskTier",
    "Tier",
    "TierTable",
    "VolatilityState",
    "annualised_volatility",
    "as_table",
    "classify",
    "collateral_to_liquidation_price",
    "collateral_to_target",
    "consistent_amounts",
    "contracts_after_reduce_to_target",
    "contracts_to_reduce_to_target",
    "distance_pct",
    "distance_sigma",
    "flat",
    "hedge_contracts",
    "horizon_sigma",
    "liquidation_price",
    "liquidation_price_fixed_maintenance",
    "liquidation_prices_legs",
    "maintenance_margin",
    "maintenance_margin_at",
    "margin_balance",
    "margin_ratio",
    "notional",
    "target_liquidation_price",
    "touch_probability",
    "unrealized_pnl",
    "update_volatility",
]
