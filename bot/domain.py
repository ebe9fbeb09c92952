"""The nouns of the guard loop, as plain immutable data (no I/O).

snapshot (AccountSnapshot of Positions) -> assess (AccountRisk of PositionRisks) -> plan
(Actions) -> guard (Verdicts) -> execute (ActionResults) -> record -> notify (Alerts).

Money is float64 throughout (see bot.risk.liquidation for why); amounts are rounded to the
venue's precision only when an order or transfer is built, in the exchange adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from bot.risk.escalation import RiskTier
from bot.risk.tiers import TierTable

Side = Literal["long", "short"]
MarginMode = Literal["isolated", "cross"]
PositionSide = Literal["both", "long", "short"]
# How the venue defines maintenance for its own liquidation price: Binance/OKX/Hyperliquid use
# the tiered maintenance at the mark ("mark_tiered"); Bybit isolated fixes it at entry.
LiquidationModel = Literal["mark_tiered", "entry_fixed"]
# Where the liquidation price a tier is based on came from.
LiquidationSource = Literal["recomputed", "reported", "account", "none"]


def opposite(side: Side) -> Side:
    return "short" if side == "long" else "long"


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    side: Side
    contracts: float
    entry_price: float
    mark_price: float
    margin_mode: MarginMode
    tiers: TierTable | None
    # Isolated: the position's own wallet (margin put in, excluding unrealised PnL).
    # Cross: None, the account's cross wallet for ``margin_pool`` backs it.
    collateral: float | None
    contract_size: float = 1.0
    inverse: bool = False
    settle: str = "USDT"
    leverage: float | None = None
    position_side: PositionSide = "both"
    liquidation_price_reported: float | None = None
    maintenance_margin_reported: float | None = None
    unrealized_pnl_reported: float | None = None
    liquidation_model: LiquidationModel = "mark_tiered"
    is_hedge_leg: bool = False
    # The cross pool, when it is not the settle coin: "USD" in multi-collateral accounts
    # (Binance Multi-Assets mode, Bybit unified cross, OKX multi-currency/portfolio margin),
    # where every stablecoin-margined cross position draws on one USD-valued pool.
    pool: str | None = None

    @property
    def margin_pool(self) -> str:
        """Key of ``AccountSnapshot.cross_wallet`` that backs this position when it is cross."""
        return self.pool or self.settle

    @property
    def key(self) -> str:
        """Stable identity of a position within an account (symbol plus hedge-mode leg)."""
        return f"{self.symbol}|{self.position_side}|{self.side}"

    @property
    def base_quantity(self) -> float:
        return self.contracts * self.contract_size


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    account: str
    exchange: str
    fetched_at: float  # unix seconds, when the exchange data was read
    positions: tuple[Position, ...]
    # Cross wallet balance per margin pool (excluding unrealised PnL): the settle coin, or "USD"
    # for a multi-collateral account (see Position.pool).
    cross_wallet: Mapping[str, float] = field(default_factory=dict)
    # Free funds usable for a top-up: account type ("futures", "spot", "funding") -> ccy -> amount.
    available: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # Venue's account-level maintenance / equity (Binance totalMaintMargin/totalMarginBalance,
    # Bybit accountMMRate, OKX 1/mgnRatio). 1.0 means liquidation.
    account_margin_ratio: float | None = None
    account_equity: float | None = None
    account_maintenance: float | None = None
    hedge_mode: bool = False
    # Things the adapter noticed while parsing (uncorroborated empty position list, odd fields).
    warnings: tuple[str, ...] = ()

    def free(self, wallet: str, currency: str) -> float:
        return float(self.available.get(wallet, {}).get(currency, 0.0))


@dataclass(slots=True)
class PositionRisk:
    """One position's assessment. Treat as read-only (not frozen only because assessing
    thousands of positions per cycle pays for every frozen-dataclass setattr)."""

    account: str
    symbol: str
    side: Side
    position_side: PositionSide
    margin_mode: MarginMode
    settle: str
    contracts: float
    entry_price: float
    mark_price: float
    # The liquidation price the tier is based on: the nearer of ours and the venue's.
    liquidation_price: float | None
    liquidation_price_recomputed: float | None
    liquidation_price_reported: float | None
    liquidation_source: LiquidationSource
    distance_pct: float | None
    distance_sigma: float | None
    touch_probability: float
    margin_ratio: float | None
    maintenance_margin: float | None
    margin_balance: float | None
    volatility_annual: float
    tier: RiskTier
    reasons: tuple[str, ...] = ()
    disagreement_pct: float | None = None
    is_hedge_leg: bool = False

    @property
    def key(self) -> str:
        return f"{self.symbol}|{self.position_side}|{self.side}"

    def as_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side,
            "position_side": self.position_side,
            "margin_mode": self.margin_mode,
            "settle": self.settle,
            "contracts": self.contracts,
            "entry_price": self.entry_price,
            "mark_price": self.mark_price,
            "liquidation_price": self.liquidation_price,
            "liquidation_price_recomputed": self.liquidation_price_recomputed,
            "liquidation_price_reported": self.liquidation_price_reported,
            "liquidation_source": self.liquidation_source,
            "distance_pct": self.distance_pct,
            "distance_sigma": _finite_or_none(self.distance_sigma),
            "touch_probability": self.touch_probability,
            "margin_ratio": _finite_or_none(self.margin_ratio),
            "maintenance_margin": self.maintenance_margin,
            "margin_balance": self.margin_balance,
            "volatility_annual": self.volatility_annual,
            "tier": self.tier.label,
            "reasons": list(self.reasons),
            "disagreement_pct": self.disagreement_pct,
            "is_hedge_leg": self.is_hedge_leg,
        }


def _finite_or_none(x: float | None) -> float | None:
    if x is None or x != x or x in (float("inf"), float("-inf")):
        return None
    return x


@dataclass(frozen=True, slots=True)
class AccountRisk:
    account: str
    exchange: str
    fetched_at: float
    positions: tuple[PositionRisk, ...]
    tier: RiskTier
    account_margin_ratio: float | None = None
    # Reasons the data must not be acted on (stale, inconsistent); alerts still go out.
    untrusted: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    def position(self, key: str) -> PositionRisk | None:
        for p in self.positions:
            if p.key == key:
                return p
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "exchange": self.exchange,
            "fetched_at": self.fetched_at,
            "tier": self.tier.label,
            "account_margin_ratio": _finite_or_none(self.account_margin_ratio),
            "untrusted": list(self.untrusted),
            "reasons": list(self.reasons),
            "positions": [p.as_json() for p in self.positions],
        }


class ActionKind(StrEnum):
    TOP_UP = "top_up"  # add collateral: isolated add_margin, or transfer into the futures wallet
    REDUCE = "reduce"  # reduce-only order on the position
    HEDGE = "hedge"  # opposite leg (hedge mode or hedge account): the one kind that adds exposure
    UNWIND = "unwind"  # close a hedge leg we opened


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    account: str
    symbol: str
    side: Side  # side of the *protected* position
    position_side: PositionSide
    amount: float  # top_up: currency units; reduce / hedge / unwind: contracts
    rule: str
    reason: str
    tier: RiskTier
    strategy: str = ""  # the strategy that proposed it (hedge legs may only come from "hedge")
    currency: str | None = None  # top_up currency (the position's settlement currency)
    source: str | None = None  # top_up: "futures" (free futures balance), "spot" or "funding"
    margin_mode: MarginMode = "isolated"
    mark_price: float = 0.0
    contract_size: float = 1.0
    inverse: bool = False
    distance_before: float | None = None
    target_distance_pct: float | None = None
    expected_distance_after: float | None = None
    retain_margin: bool = False  # isolated reduce: put the released margin back in
    # The position's isolated wallet when the action was planned: journalled with the intent so a
    # restarted process can tell whether an add-margin happened at venues without margin history.
    collateral_before: float | None = None
    hedge_account: str | None = None
    origin: Literal["rule", "command"] = "rule"

    @property
    def position_key(self) -> str:
        return f"{self.symbol}|{self.position_side}|{self.side}"

    @property
    def quote_value(self) -> float:
        """Size in the settlement currency, for caps: top-up amount or order notional."""
        if self.kind is ActionKind.TOP_UP:
            return self.amount
        qty = self.amount * self.contract_size
        if self.inverse:  # notional in coin; caps for inverse accounts are in coin as well
            return qty / self.mark_price if self.mark_price else 0.0
        return qty * self.mark_price

    def with_amount(self, amount: float, note: str | None = None) -> Action:
        reason = f"{self.reason}; {note}" if note else self.reason
        return replace(self, amount=amount, reason=reason)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guard's answer for one proposed action."""

    action: Action
    allowed: bool
    reason: str = ""
    # Short, stable category of a refusal (paused, cooldown, caps, ...) for de-duplicating notices.
    code: str = ""
    needs_confirmation: bool = False
    paper: bool = True


ActionStatus = Literal["intent", "done", "failed", "unknown", "refused", "pending_confirmation", "expired"]


@dataclass(frozen=True, slots=True)
class ActionResult:
    status: Literal["done", "failed", "unknown"]
    exchange_ref: str | None = None
    filled: float | None = None
    error: str | None = None
    # Which failure this was, so the engine can map it to behaviour (see bot.errors).
    error_kind: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
