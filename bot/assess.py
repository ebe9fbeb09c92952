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

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from bot.domain import AccountRisk, AccountSnapshot, LiquidationSource, Position, PositionRisk
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


def mark_jumped(mark: float, last: float | None, max_jump_pct: float) -> bool:
    """More move since the last poll than a mark can make: the data is not acted on (and not
    fed to the realised volatility)."""
    return last is not None and abs(mark / last - 1.0) * 100.0 > max_jump_pct


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
    return unrealized_pnl(
        p.side, p.contracts, p.entry_price, p.mark_price, contract_size=p.contract_size, inverse=p.inverse
    )


@dataclass
class _CrossPool:
    """Totals of the cross positions sharing one margin pool (see Position.margin_pool)."""

    wallet: float | None
    maintenance: float = 0.0
    upnl: float = 0.0
    complete: bool = True  # every position's maintenance margin was known


def _cross_pools(snapshot: AccountSnapshot) -> dict[str, _CrossPool]:
    pools: dict[str, _CrossPool] = {}
    for p in snapshot.positions:
        if p.margin_mode != "cross":
            continue
        pool = pools.get(p.margin_pool)
        if pool is None:
            pool = pools[p.margin_pool] = _CrossPool(wallet=snapshot.cross_wallet.get(p.margin_pool))
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
    pool = _cross_pools(snapshot).get(p.margin_pool)
    if pool is None or pool.wallet is None or not pool.complete:
        return None
    same = [
        o
        for o in snapshot.positions
        if o.margin_mode == "cross" and o.margin_pool == p.margin_pool and o.symbol == p.symbol
    ]
    other_mm = pool.maintenance - sum(_maintenance_at_mark(o) or 0.0 for o in same)
    other_upnl = pool.upnl - sum(_upnl(o) for o in same)
    # A hedge leg on the same symbol moves with the mark; sizing treats it as fixed, which is
    # conservative for the protected leg (its gains as the mark moves against us are ignored).
    for o in same:
        if o is not p and o.side != p.side:
            other_mm += _maintenance_at_mark(o) or 0.0
            other_upnl += _upnl(o)
    return CollateralTerms(pool.wallet, other_mm, other_upnl)


def _recompute(p: Position, snapshot: AccountSnapshot, pools: Mapping[str, _CrossPool]) -> tuple[bool, float | None]:
    """(could_recompute, liquidation price or None if no liquidation is possible)."""
    if p.margin_mode == "isolated":
        if p.collateral is None:
            return False, None
        if p.liquidation_model == "entry_fixed":
            # Maintenance at the entry notional from the tiers (the model the sizing solves);
            # the venue's own figure only when it gives no tiers.
            if p.tiers is not None:
                q = p.contracts * p.contract_size
                mm = p.tiers.maintenance_margin(q / p.entry_price if p.inverse else q * p.entry_price)
            elif p.maintenance_margin_reported is not None:
                mm = p.maintenance_margin_reported
            else:
                return False, None
            return True, liquidation_price_fixed_maintenance(
                p.side, p.contracts, p.entry_price, p.collateral, mm, contract_size=p.contract_size, inverse=p.inverse
            )
        if p.tiers is None:
            return False, None
        return True, liquidation_price(
            p.side, p.contracts, p.entry_price, p.collateral, p.tiers, contract_size=p.contract_size, inverse=p.inverse
        )
    pool = pools.get(p.margin_pool)
    if pool is None or pool.wallet is None or not pool.complete or p.tiers is None:
        return False, None
    legs = [
        o
        for o in snapshot.positions
        if o.margin_mode == "cross" and o.margin_pool == p.margin_pool and o.symbol == p.symbol and o.tiers is not None
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
    pool = pools.get(p.margin_pool)
    if pool is not None and pool.wallet is not None and pool.complete:
        balance = pool.wallet + pool.upnl
        ratio = margin_ratio(pool.maintenance, balance)
        if snapshot.account_margin_ratio is not None:
            ratio = max(ratio, snapshot.account_margin_ratio)
        return ratio, pool.maintenance, balance
    return snapshot.account_margin_ratio, _maintenance_at_mark(p), None


@dataclass(slots=True)
class _Figures:
    """The numbers of one position's assessment, from the scalar or the vector path."""

    recomputed_ok: bool
    recomputed: float | None
    reported: float | None
    liq: float | None
    dist: float | None
    sigmas: float | None
    touch: float
    ratio: float | None
    mm: float | None
    balance: float | None
    vol: float
    tier: RiskTier


def _volatility(p: Position, config: AssessConfig, memory: AssessMemory) -> float:
    vol = memory.volatility.get(p.symbol)
    return config.default_volatility_annual if vol is None else max(vol, config.min_volatility_annual)


def _source(f: _Figures) -> LiquidationSource:
    if f.recomputed_ok and f.reported is None and f.recomputed is None:
        return "none"  # the collateral covers any move: no liquidation possible
    if f.liq is None:
        return "account"
    if f.recomputed_ok and f.liq == f.recomputed:
        return "recomputed"
    return "reported"


def _scalar_figures(
    p: Position, snapshot: AccountSnapshot, pools: Mapping[str, _CrossPool], config: AssessConfig, memory: AssessMemory
) -> _Figures:
    recomputed_ok, recomputed = _recompute(p, snapshot, pools)
    reported = _reported(p.liquidation_price_reported)
    liq = _nearer(p.side, recomputed if recomputed_ok else None, reported)
    vol = _volatility(p, config, memory)
    dist = distance_pct(p.side, p.mark_price, liq)
    sigmas = distance_sigma(p.side, p.mark_price, liq, vol, config.volatility_horizon_s) if liq is not None else None
    ratio, mm, balance = _margin_figures(p, pools, snapshot)
    f = _Figures(
        recomputed_ok,
        recomputed,
        reported,
        liq,
        dist,
        sigmas,
        touch_probability(sigmas),
        ratio,
        mm,
        balance,
        vol,
        RiskTier.OK,
    )
    floor = config.unknown_tier if _source(f) == "account" and ratio is None else RiskTier.OK
    f.tier = classify(dist, sigmas, ratio, memory.previous_tiers.get(p.key), config.thresholds, floor=floor)
    return f


BATCH_MIN = 64  # below this many positions the scalar path is as fast


def _batchable(p: Position) -> bool:
    return (
        p.margin_mode == "isolated"
        and p.collateral is not None
        and p.tiers is not None
        and p.liquidation_model == "mark_tiered"
    )


_TIERS = tuple(RiskTier)


def _vector_figures(ps: list[Position], config: AssessConfig, memory: AssessMemory) -> list[_Figures | None]:
    """Figures for isolated positions sharing a tier table and contract type; None where the
    kernel cannot resolve (inconsistent table) and the scalar path must answer."""
    import numpy as np

    from bot.risk import batch

    table = ps[0].tiers
    assert table is not None
    inverse = ps[0].inverse
    nan = math.nan
    prev_tiers = memory.previous_tiers
    vol_of, default_vol, min_vol = memory.volatility.get, config.default_volatility_annual, config.min_volatility_annual
    inputs = (
        (
            1.0 if p.side == "long" else -1.0,
            p.contracts * p.contract_size,
            p.entry_price,
            p.collateral,
            p.mark_price,
            _reported(p.liquidation_price_reported) or nan,
            nan if p.unrealized_pnl_reported is None else p.unrealized_pnl_reported,
            nan if p.maintenance_margin_reported is None else p.maintenance_margin_reported,
            default_vol if (vol := vol_of(p.symbol)) is None else max(vol, min_vol),  # = _volatility()
            float(prev_tiers.get(p.key, -1)) if prev_tiers else -1.0,
        )
        for p in ps
    )
    # fromiter over a flat stream is ~2x faster than np.array over a list of tuples
    cols = np.fromiter(itertools.chain.from_iterable(inputs), dtype=np.float64, count=10 * len(ps)).reshape(-1, 10).T
    sign, q, entry, wallet, mark, reported, reported_upnl, reported_mm, vols, prev = cols
    recomputed, resolved = batch.liquidation_prices(sign, q, entry, wallet, table, inverse=inverse)
    nearer = np.where(sign > 0, np.fmax(recomputed, reported), np.fmin(recomputed, reported))
    no_liq = np.isnan(nearer)
    dist = np.where(no_liq, np.nan, batch.distances(sign, mark, nearer))
    sig = np.where(no_liq, np.nan, batch.sigmas(sign, mark, nearer, vols, config.volatility_horizon_s))
    touch = batch.touch_probabilities(np.where(no_liq, np.inf, sig))
    notional = q / mark if inverse else q * mark
    k = np.maximum(np.searchsorted(np.asarray(table.mins), notional, side="right") - 1, 0)
    mm = notional * np.asarray(table.rates)[k] - np.asarray(table.amounts)[k]
    mm = np.where(np.isnan(reported_mm), mm, reported_mm)
    upnl = sign * q * (1.0 / entry - 1.0 / mark) if inverse else sign * q * (mark - entry)
    balance = wallet + np.where(np.isnan(reported_upnl), upnl, reported_upnl)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(balance <= 0.0, np.inf, mm / balance)
    tiers = batch.classify(
        dist, sig, ratio, prev.astype(np.int64), config.thresholds, np.zeros(len(ps), dtype=np.int64)
    )

    def opt(values: list[float]) -> list[float | None]:
        return [None if v != v else v for v in values]  # NaN -> None

    rows = zip(
        resolved.tolist(),
        opt(recomputed.tolist()),
        opt(reported.tolist()),
        opt(nearer.tolist()),
        opt(dist.tolist()),
        opt(sig.tolist()),
        touch.tolist(),
        ratio.tolist(),
        mm.tolist(),
        balance.tolist(),
        vols.tolist(),
        tiers.tolist(),
        strict=True,
    )
    return [
        _Figures(True, rec, rep, liq, d, sg, tp, ra, m, b, v, _TIERS[t]) if ok else None
        for ok, rec, rep, liq, d, sg, tp, ra, m, b, v, t in rows
    ]


# PositionRisk is built positionally below (keyword matching costs microseconds per position
# at thousands of positions per cycle); this pins the field order that code relies on.
assert tuple(fld.name for fld in fields(PositionRisk)) == (
    "account",
    "symbol",
    "side",
    "position_side",
    "margin_mode",
    "settle",
    "contracts",
    "entry_price",
    "mark_price",
    "liquidation_price",
    "liquidation_price_recomputed",
    "liquidation_price_reported",
    "liquidation_source",
    "distance_pct",
    "distance_sigma",
    "touch_probability",
    "margin_ratio",
    "maintenance_margin",
    "margin_balance",
    "volatility_annual",
    "tier",
    "reasons",
    "disagreement_pct",
    "is_hedge_leg",
), "PositionRisk fields changed: update _position_risk"


_NONE: list[str] = []  # shared "no reasons not to act"; never appended to


def _position_risk(p: Position, f: _Figures, account: str, config: AssessConfig) -> tuple[PositionRisk, list[str]]:
    """Build the PositionRisk and its reasons; the second item lists reasons not to act."""
    mark = p.mark_price
    source = _source(f)
    rec, rep = f.recomputed, f.reported
    disagreement = None
    if f.recomputed_ok and rec is not None and rep is not None and math.isfinite(rec):
        disagreement = abs(rec - rep) / mark * 100.0
    wrong_side = rep is not None and ((p.side == "long" and rep >= mark) or (p.side == "short" and rep <= mark))
    reasons: list[str] = []
    untrusted: list[str] = _NONE
    if (
        wrong_side
        or source == "account"
        or (disagreement is not None and disagreement > config.disagreement_tolerance_pct)
        or (f.balance is not None and f.balance <= 0.0)
        or (f.dist is not None and f.dist <= 0.0)
    ):
        untrusted = []
        if disagreement is not None and disagreement > config.disagreement_tolerance_pct:
            reasons.append(
                f"reported liquidation {rep:.6g} and recomputed {rec:.6g} differ by {disagreement:.2f}% of mark"
            )
        if wrong_side:
            untrusted.append(
                f"{p.symbol}: reported liquidation price {rep:.6g} is on the wrong side of mark {mark:.6g}"
            )
        if f.balance is not None and f.balance <= 0.0:
            untrusted.append(f"{p.symbol}: margin balance {f.balance:.6g} is not positive")
        if source == "account":
            if f.ratio is None:
                reasons.append("no liquidation price and no maintenance data: cannot assess, assuming the worst")
            else:
                reasons.append("no liquidation price: assessed from maintenance margin vs equity")
        if f.dist is not None and f.dist <= 0.0:
            reasons.append("mark is at or past the liquidation price")
    risk = PositionRisk(
        account,
        p.symbol,
        p.side,
        p.position_side,
        p.margin_mode,
        p.settle,
        p.contracts,
        p.entry_price,
        mark,
        f.liq,
        rec,
        rep,
        source,
        f.dist,
        f.sigmas,
        f.touch,
        f.ratio,
        f.mm,
        f.balance,
        f.vol,
        f.tier,
        tuple(reasons) if reasons else (),
        disagreement,
        p.is_hedge_leg,
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
    usable: list[Position] = []
    for p in snapshot.positions:
        if not (math.isfinite(p.mark_price) and p.mark_price > 0 and p.contracts > 0 and p.entry_price > 0):
            untrusted.append(
                f"{p.symbol}: unusable numbers (mark {p.mark_price}, size {p.contracts}, entry {p.entry_price})"
            )
            continue
        last = memory.last_marks.get(p.symbol)
        if last is not None and mark_jumped(p.mark_price, last, config.max_mark_jump_pct):
            jump = abs(p.mark_price / last - 1) * 100
            untrusted.append(f"{p.symbol}: mark {p.mark_price:.6g} jumped {jump:.1f}% from {last:.6g}")
        usable.append(p)
    figures: dict[int, _Figures] = {}
    if len(usable) >= BATCH_MIN:
        groups: dict[tuple[int, bool], list[int]] = {}
        for i, p in enumerate(usable):
            if _batchable(p):
                groups.setdefault((id(p.tiers), p.inverse), []).append(i)
        for idx in groups.values():
            if len(idx) >= BATCH_MIN:
                for i, f in zip(idx, _vector_figures([usable[i] for i in idx], config, memory), strict=True):
                    if f is not None:
                        figures[i] = f
    risks: list[PositionRisk] = []
    account = snapshot.account
    for i, p in enumerate(usable):
        f = figures.get(i)
        if f is None:
            f = _scalar_figures(p, snapshot, pools, config, memory)
        risk, bad = _position_risk(p, f, account, config)
        risks.append(risk)
        if bad:
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


def assess_position(
    p: Position,
    snapshot: AccountSnapshot,
    config: AssessConfig,
    memory: AssessMemory = _EMPTY_MEMORY,
) -> PositionRisk:
    """One position through the scalar path (the reference the vector path is tested against)."""
    f = _scalar_figures(p, snapshot, _cross_pools(snapshot), config, memory)
    return _position_risk(p, f, snapshot.account, config)[0]
