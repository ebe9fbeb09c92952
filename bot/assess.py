"""assess: AccountSnapshot -> AccountRisk. Pure: no I/O, no clock (``now`` is passed in).

For each position it keeps both liquidation prices (the venue's and our recompute), flags
disagreement, and bases the tier on the *nearer* one. When neither exists it falls back to
maintenance margin vs equity, and when even that is missing the tier is floored at
``unknown_tier``: missing data is never treated as safe.

Data that must not be acted on (stale, a mark that jumped, a liquidation price on the wrong
side of the mark, non-positive equity, an uncorroborated empty position list) marks the
account ``untrusted``: alerts still go out, the guard refuses actions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain import AccountRisk, AccountSnapshot, Position, PositionRisk
from bot.risk.distance import distance_pct, distance_sigma, touch_probability
from bot.risk.escalation import EscalationThresholds, RiskTier, classify
from bot.risk.liquidation import (
    Leg,
    liquidation_price,
    liquidation_price_fixed_maintenance,
    liquidation_prices_legs,
    margin_ratio,
    unrealized_pnl,
)


@dataclass(frozen=True)
class AssessConfig:
    thresholds: EscalationThresholds = field(default_factory=EscalationThresholds)
    volatility_horizon_s: float = 3600.0
    default_volatility_annual: float = 0.8
    min_volatility_annual: float = 0.3
    disagreement_tolerance_pct: float = 0.5
    max_snapshot_age_s: float = 60.0
    max_mark_jump_pct: float = 20.0
    unknown_tier: RiskTier = RiskTier.WARNING


@dataclass(frozen=True)
class AssessMemory:
    """What assessment needs from earlier cycles (the engine owns and updates it)."""

    previous_tiers: Mapping[str, RiskTier] = field(default_factory=dict)  # position key -> tier
    last_marks: Mapping[str, float] = field(default_factory=dict)  # symbol -> last mark seen
    volatility: Mapping[str, float] = field(default_factory=dict)  # symbol -> realised, annual


_EMPTY_MEMORY = AssessMemory()


def _reported(value: float | None) -> float | None:
    """Venues report 0, None or '' for "no liquidation price" (Binance when none is possible,
    Bybit/OKX in cross mode); adapters pass None or 0 through, both mean "not given"."""
    if value is None or not math.isfinite(value) or value <= 0.0:
        return None
    return value


def _nearer(side: str, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if side == "long" else min(a, b)


def _maintenance_at_mark(p: Position) -> float | None:
    if p.maintenance_margin_reported is not None:
        return p.maintenance_margin_reported
    if p.tiers is None:
        return None
    q = p.contracts * p.contract_size
    n = q / p.mark_price if p.inverse else q * p.mark_price
    return p.tiers.maintenance_margin(n)


def _upnl(p: Position) -> float:
    if p.unrealized_pnl_reported is not None:
        return p.unrealized_pnl_reported
    return unrealized_pnl(p.side, p.contracts, p.entry_price, p.mark_price, contract_size=p.contract_size, inverse=p.inverse)


@dataclass
class _CrossPool:
    """Totals of the cross positions sharing one settlement currency."""

    wallet: float | None
    maintenance: float = 0.0
    upnl: float = 0.0
    complete: bool = True  # every position's maintenance margin was known


def _cross_pools(snapshot: AccountSnapshot) -> dict[str, _CrossPool]:
    pools: dict[str, _CrossPool] = {}
    for p in snapshot.positions:
        if p.margin_mode != "cross":
            continue
        pool = pools.get(p.settle)
        if pool is None:
            pool = pools[p.settle] = _CrossPool(wallet=snapshot.cross_wallet.get(p.settle))
        mm = _maintenance_at_mark(p)
        if mm is None:
            pool.complete = False
        else:
            pool.maintenance += mm
        pool.upnl += _upnl(p)
    return pools


@dataclass(frozen=True)
class CollateralTerms:
    """What backs a position in the liquidation equation (see bot.risk.liquidation)."""

    wallet: float
    other_maintenance: float = 0.0
    other_unrealized_pnl: float = 0.0


def collateral_terms(p: Position, snapshot: AccountSnapshot) -> CollateralTerms | None:
    """Wallet and other-position terms for sizing an action on ``p``; None if unknown."""
    if p.margin_mode == "isolated":
        return CollateralTerms(p.collateral) if p.collateral is not None else None
    pool = _cross_pools(snapshot).get(p.settle)
    if pool is None or pool.wallet is None or not pool.complete:
        return None
    same = [o for o in snapshot.positions if o.margin_mode == "cross" and o.settle == p.settle and o.symbol == p.symbol]
    other_mm = pool.maintenance - sum(_maintenance_at_mark(o) or 0.0 for o in same)
    other_upnl = pool.upnl - sum(_upnl(o) for o in same)
    # A hedge leg on the same symbol moves with the mark; sizing treats it as fixed, which is
    # conservative for the protected leg (its gains as the mark moves against us are ignored).
    for o in same:
        if o is not p and o.side != p.side:
            other_mm += _maintenance_at_mark(o) or 0.0
            other_upnl += _upnl(o)
    return CollateralTerms(pool.wallet, other_mm, other_upnl)


def _recompute(
    p: Position, snapshot: AccountSnapshot, pools: Mapping[str, _CrossPool]
) -> tuple[bool, float | None]:
    """(could_recompute, liquidation price or None if no liquidation is possible)."""
    if p.margin_mode == "isolated":
        if p.collateral is None:
            return False, None
        if p.liquidation_model == "entry_fixed":
            mm = p.maintenance_margin_reported
            if mm is None:
                if p.tiers is None:
                    return False, None
                q = p.contracts * p.contract_size
                mm = p.tiers.maintenance_margin(q / p.entry_price if p.inverse else q * p.entry_price)
            return True, liquidation_price_fixed_maintenance(
                p.side, p.contracts, p.entry_price, p.collateral, mm, contract_size=p.contract_size, inverse=p.inverse
            )
        if p.tiers is None:
            return False, None
        return True, liquidation_price(
            p.side, p.contracts, p.entry_price, p.collateral, p.tiers, contract_size=p.contract_size, inverse=p.inverse
        )
    pool = pools.get(p.settle)
    if pool is None or pool.wallet is None or not pool.complete or p.tiers is None:
        return False, None
    legs = [
        o
        for o in snapshot.positions
        if o.margin_mode == "cross" and o.settle == p.settle and o.symbol == p.symbol and o.tiers is not None
    ]
    group_mm = sum(_maintenance_at_mark(o) or 0.0 for o in legs)
    group_upnl = sum(_upnl(o) for o in legs)
    other_mm = pool.maintenance - group_mm
    other_upnl = pool.upnl - group_upnl
    if len(legs) == 1:
        return True, liquidation_price(
            p.side,
            p.contracts,
            p.entry_price,
            pool.wallet,
            p.tiers,
            contract_size=p.contract_size,
            inverse=p.inverse,
            other_maintenance=other_mm,
            other_unrealized_pnl=other_upnl,
        )
    below, above = liquidation_prices_legs(
        [Leg(o.side, o.contracts, o.entry_price, o.tiers, o.contract_size) for o in legs if o.tiers is not None],
        pool.wallet,
        p.mark_price,
        inverse=p.inverse,
        other_maintenance=other_mm,
        other_unrealized_pnl=other_upnl,
    )
    # The leg that loses as price moves against it is the one this position's tier is about.
    return True, below if p.side == "long" else above


def _margin_figures(
    p: Position, pools: Mapping[str, _CrossPool], snapshot: AccountSnapshot
) -> tuple[float | None, float | None, float | None]:
    """(margin ratio, maintenance margin, margin balance) for the position's margin pool."""
    if p.margin_mode == "isolated":
        mm = _maintenance_at_mark(p)
        if p.collateral is None or mm is None:
            return snapshot.account_margin_ratio, mm, None
        balance = p.collateral + _upnl(p)
        return margin_ratio(mm, balance), mm, balance
    pool = pools.get(p.settle)
    if pool is not None and pool.wallet is not None and pool.complete:
        balance = pool.wallet + pool.upnl
        ratio = margin_ratio(pool.maintenance, balance)
        if snapshot.account_margin_ratio is not None:
            ratio = max(ratio, snapshot.account_margin_ratio)
        return ratio, pool.maintenance, balance
    return snapshot.account_margin_ratio, _maintenance_at_mark(p), None


def assess_position(
    p: Position,
    snapshot: AccountSnapshot,
    pools: Mapping[str, _CrossPool],
    config: AssessConfig,
    memory: AssessMemory,
) -> tuple[PositionRisk, list[str]]:
    """Risk of one position, plus reasons (if any) not to act on this account's data."""
    reasons: list[str] = []
    untrusted: list[str] = []
    mark = p.mark_price
    recomputed_ok, recomputed = _recompute(p, snapshot, pools)
    reported = _reported(p.liquidation_price_reported)
    liq = _nearer(p.side, recomputed if recomputed_ok else None, reported)
    if recomputed_ok and reported is None and recomputed is None:
        source = "none"  # the collateral covers any move: no liquidation possible
    elif liq is None:
        source = "account"
    elif recomputed_ok and liq == recomputed:
        source = "recomputed"
    else:
        source = "reported"

    disagreement = None
    if recomputed_ok and recomputed is not None and reported is not None and math.isfinite(recomputed):
        disagreement = abs(recomputed - reported) / mark * 100.0
        if disagreement > config.disagreement_tolerance_pct:
            reasons.append(
                f"reported liquidation {reported:.6g} and recomputed {recomputed:.6g} differ by {disagreement:.2f}% of mark"
            )
    if reported is not None and ((p.side == "long" and reported >= mark) or (p.side == "short" and reported <= mark)):
        untrusted.append(f"{p.symbol}: reported liquidation price {reported:.6g} is on the wrong side of mark {mark:.6g}")

    vol = memory.volatility.get(p.symbol)
    vol = config.default_volatility_annual if vol is None else max(vol, config.min_volatility_annual)
    dist = distance_pct(p.side, mark, liq)
    sigmas = distance_sigma(p.side, mark, liq, vol, config.volatility_horizon_s) if liq is not None else None
    ratio, mm, balance = _margin_figures(p, pools, snapshot)
    if balance is not None and balance <= 0.0:
        untrusted.append(f"{p.symbol}: margin balance {balance:.6g} is not positive")

    floor = RiskTier.OK
    if source == "account":
        if ratio is None:
            floor = config.unknown_tier
            reasons.append("no liquidation price and no maintenance data: cannot assess, assuming the worst")
        else:
            reasons.append("no liquidation price: assessed from maintenance margin vs equity")
    if dist is not None and dist <= 0.0:
        reasons.append("mark is at or past the liquidation price")
    previous = memory.previous_tiers.get(p.key)
    tier = classify(dist, sigmas, ratio, previous, config.thresholds, floor=floor)
    risk = PositionRisk(
        account=snapshot.account,
        symbol=p.symbol,
        side=p.side,
        position_side=p.position_side,
        margin_mode=p.margin_mode,
        settle=p.settle,
        contracts=p.contracts,
        entry_price=p.entry_price,
        mark_price=mark,
        liquidation_price=liq,
        liquidation_price_recomputed=recomputed,
        liquidation_price_reported=reported,
        liquidation_source=source,  # type: ignore[arg-type]
        distance_pct=dist,
        distance_sigma=sigmas,
        touch_probability=touch_probability(sigmas),
        margin_ratio=ratio,
        maintenance_margin=mm,
        margin_balance=balance,
        volatility_annual=vol,
        tier=tier,
        reasons=tuple(reasons),
        disagreement_pct=disagreement,
        is_hedge_leg=p.is_hedge_leg,
    )
    return risk, untrusted


def assess(
    snapshot: AccountSnapshot,
    config: AssessConfig,
    now: float,
    memory: AssessMemory = _EMPTY_MEMORY,
) -> AccountRisk:
    untrusted: list[str] = list(snapshot.warnings)
    age = now - snapshot.fetched_at
    if age > config.max_snapshot_age_s:
        untrusted.append(f"snapshot is {age:.0f}s old (limit {config.max_snapshot_age_s:.0f}s)")
    pools = _cross_pools(snapshot)
    risks: list[PositionRisk] = []
    for p in snapshot.positions:
        if not (math.isfinite(p.mark_price) and p.mark_price > 0 and p.contracts > 0 and p.entry_price > 0):
            untrusted.append(f"{p.symbol}: unusable numbers (mark {p.mark_price}, size {p.contracts}, entry {p.entry_price})")
            continue
        last = memory.last_marks.get(p.symbol)
        if last is not None and abs(p.mark_price / last - 1.0) * 100.0 > config.max_mark_jump_pct:
            untrusted.append(
                f"{p.symbol}: mark {p.mark_price:.6g} jumped {abs(p.mark_price / last - 1) * 100:.1f}% from {last:.6g}"
            )
        risk, bad = assess_position(p, snapshot, pools, config, memory)
        risks.append(risk)
        untrusted.extend(bad)
    account_ratio = snapshot.account_margin_ratio
    account_reasons: list[str] = []
    tier = max((r.tier for r in risks), default=RiskTier.OK)
    if account_ratio is not None:
        by_ratio = classify(None, None, account_ratio, None, config.thresholds)
        if by_ratio > tier:
            account_reasons.append(f"account margin ratio {account_ratio:.1%}")
            tier = by_ratio
    if untrusted:
        tier = max(tier, config.unknown_tier)
    return AccountRisk(
        account=snapshot.account,
        exchange=snapshot.exchange,
        fetched_at=snapshot.fetched_at,
        positions=tuple(risks),
        tier=tier,
        account_margin_ratio=account_ratio,
        untrusted=tuple(untrusted),
        reasons=tuple(account_reasons),
    )
