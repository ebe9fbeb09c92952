"""Venue liquidation-price and maintenance-margin formulas, written from each venue's
own documentation and deliberately independent of ``bot/``.

* Binance USDⓈ-M (FAQ "How to calculate liquidation price", one-way and hedge)::

    LP = (WB - TMM1 + UPNL1 + cumB + cumL + cumS - Side1*P1*EP1 - P2*EP2 + P3*EP3)
         / (P1*MMR_B + P2*MMR_L + P3*MMR_S - Side1*P1 - P2 + P3)

  WB is the isolated wallet (isolated) or the cross wallet balance (cross); TMM1/UPNL1 are
  the maintenance margin / unrealised PnL of all *other* cross contracts (0 for isolated).
  The maintenance tier (MMR, cum) is the one whose notional band contains the notional at
  the liquidation price.  Reported as ``"0"`` when no positive liquidation price exists.

* Bybit (isolated, USDT perpetual)::

    long  LP = entry - (IM + extra margin - MM) / size
    short LP = entry + (IM + extra margin - MM) / size

  IM + extra margin is the position's own margin (``positionBalance``); MM is computed at
  the entry price from the risk-limit tier (value * mmr - mmDeduction).  Cross: ``""``.

* OKX (isolated, USDT-margined swap)::

    long  LP = (margin - ctVal*|pos|*avgPx) / (ctVal*|pos|*(mmr + fee - 1))
    short LP = (margin + ctVal*|pos|*avgPx) / (ctVal*|pos|*(mmr + fee + 1))

  mmr from the position tier containing the position size, fee = taker fee rate.
  Cross: ``""``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .market import FakeMarket, Position


def maintenance(market: FakeMarket, pos: Position, price: float | None = None) -> tuple[float, float, float]:
    """(maintenance margin, mmr, cum) of ``pos`` valued at ``price`` (default: mark)."""
    px = market.mark(pos.symbol) if price is None else price
    inst = market.instrument(pos.symbol)
    base = pos.contracts * inst.contract_size
    notional = base * px
    table = market.tier_table(pos.symbol)
    if table.unit == "base":
        tier = table.for_value(base)
        return notional * tier.mmr, tier.mmr, 0.0
    tier = table.for_value(notional)
    return max(notional * tier.mmr - tier.cum, 0.0), tier.mmr, tier.cum


def liquidation_price(market: FakeMarket, pos: Position) -> float | None:
    """Venue-reported liquidation price, ``None`` when the venue reports none."""
    venue = market.venue or "binance"
    if venue == "bybit":
        return _bybit(market, pos)
    if venue == "okx":
        return _okx(market, pos)
    return _binance(market, pos)


# --------------------------------------------------------------------------- Binance
def _binance(market: FakeMarket, pos: Position) -> float | None:
    inst = market.instrument(pos.symbol)
    table = market.tier_table(pos.symbol)
    if pos.margin_mode == "isolated":
        legs = [pos]
        wb, tmm1, upnl1 = pos.isolated_margin, 0.0, 0.0
    else:
        legs = [p for p in market.positions.values() if p.symbol == pos.symbol and p.margin_mode == "cross"]
        others = [p for p in market.positions.values() if p.symbol != pos.symbol and p.margin_mode == "cross"]
        wb = market.cross_wallet()
        tmm1 = sum(maintenance(market, p)[0] for p in others)
        upnl1 = sum(market.unrealized_pnl(p) for p in others)

    def solve(tiers: list[tuple[float, float]]) -> float | None:
        num = wb - tmm1 + upnl1
        den = 0.0
        for leg, (mmr, cum) in zip(legs, tiers, strict=True):
            qty = leg.contracts * inst.contract_size
            num += cum
            if leg.position_side == "both":
                side = 1.0 if leg.side == "long" else -1.0
                num -= side * qty * leg.entry_price
                den += qty * mmr - side * qty
            elif leg.position_side == "long":
                num -= qty * leg.entry_price
                den += qty * mmr - qty
            else:
                num += qty * leg.entry_price
                den += qty * mmr + qty
        if den == 0:
            return None
        return num / den

    def tier_at(leg: Position, price: float) -> tuple[float, float]:
        t = table.for_value(leg.contracts * inst.contract_size * max(price, 0.0))
        return t.mmr, t.cum

    lp: float | None = None
    if len(legs) == 1 and table.unit == "notional":
        qty = legs[0].contracts * inst.contract_size
        for t in table.tiers:  # exact: pick the tier consistent with the notional at LP
            cand = solve([(t.mmr, t.cum)])
            if cand is not None and cand > 0 and t.floor <= qty * cand < t.cap:
                lp = cand
                break
    if lp is None:
        price = market.mark(pos.symbol)
        for _ in range(50):  # fixed-point iteration for hedge legs / fallback
            cand = solve([tier_at(leg, price) for leg in legs])
            if cand is None or abs(cand - price) < 1e-9:
                break
            price = cand
        lp = solve([tier_at(leg, price) for leg in legs])
    if lp is None or lp <= 0:
        return None
    return lp


# --------------------------------------------------------------------------- Bybit
def _bybit(market: FakeMarket, pos: Position) -> float | None:
    if pos.margin_mode != "isolated" or pos.contracts <= 0:
        return None
    inst = market.instrument(pos.symbol)
    size = pos.contracts * inst.contract_size
    value = size * pos.entry_price
    tier = market.tier_table(pos.symbol).for_value(value)
    mm = value * tier.mmr - tier.cum
    cushion = (pos.isolated_margin - mm) / size  # (IM + extra margin - MM) / size
    lp = pos.entry_price - cushion if pos.side == "long" else pos.entry_price + cushion
    return lp if lp > 0 else None


# --------------------------------------------------------------------------- OKX
def _okx(market: FakeMarket, pos: Position) -> float | None:
    if pos.margin_mode != "isolated" or pos.contracts <= 0:
        return None
    inst = market.instrument(pos.symbol)
    q = inst.contract_size * pos.contracts
    table = market.tier_table(pos.symbol)
    mmr = table.for_value(q if table.unit == "base" else q * pos.entry_price).mmr
    fee = market.taker_fee
    if pos.side == "long":
        lp = (pos.isolated_margin - q * pos.entry_price) / (q * (mmr + fee - 1))
    else:
        lp = (pos.isolated_margin + q * pos.entry_price) / (q * (mmr + fee + 1))
    return lp if lp > 0 else None
