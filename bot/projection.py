"""project: the account as it would look right after an action filled at the mark. Pure.

The engine re-assesses the projection to get an action's expected distance and to let the
next rule size only what is still missing. The venue's reported figures no longer hold for
what the action touched, so they are dropped there and our recompute speaks alone.
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain import AccountSnapshot, Action, ActionKind, Position, opposite
from bot.risk.liquidation import notional, unrealized_pnl


def _fresh(p: Position, **changes: object) -> Position:
    return replace(
        p,
        liquidation_price_reported=None,
        maintenance_margin_reported=None,
        unrealized_pnl_reported=None,
        **changes,  # type: ignore[arg-type]
    )


def _touches(p: Position, action: Action, target: Position) -> bool:
    if p is target:
        return True
    return target.margin_mode == "cross" and p.margin_mode == "cross" and p.margin_pool == target.margin_pool


def project(snapshot: AccountSnapshot, action: Action, taker_fee: float = 0.0) -> AccountSnapshot:
    target = next((p for p in snapshot.positions if p.key == action.position_key), None)
    if target is None:
        return snapshot
    positions = list(snapshot.positions)
    cross_wallet = dict(snapshot.cross_wallet)
    available = {w: dict(c) for w, c in snapshot.available.items()}
    settle, pool = target.settle, target.margin_pool

    if action.kind is ActionKind.TOP_UP:
        source = action.source or "futures"
        available.setdefault(source, {})[settle] = available.get(source, {}).get(settle, 0.0) - action.amount
        if target.margin_mode == "isolated":
            positions = [
                _fresh(p, collateral=(p.collateral or 0.0) + action.amount) if p is target else p for p in positions
            ]
        else:
            cross_wallet[pool] = cross_wallet.get(pool, 0.0) + action.amount
    elif action.kind in (ActionKind.REDUCE, ActionKind.UNWIND):
        if action.kind is ActionKind.UNWIND:
            leg_side = opposite(action.side)
            leg = next((p for p in positions if p.symbol == action.symbol and p.side == leg_side), None)
            if leg is None or action.hedge_account:
                return snapshot
            target = leg
        amount = min(action.amount, target.contracts)
        realised = unrealized_pnl(
            target.side,
            amount,
            target.entry_price,
            target.mark_price,
            contract_size=target.contract_size,
            inverse=target.inverse,
        )
        fee = taker_fee * notional(
            amount, target.mark_price, contract_size=target.contract_size, inverse=target.inverse
        )
        remaining = target.contracts - amount
        new: list[Position] = []
        for p in positions:
            if p is target:
                if remaining <= 1e-12 * max(1.0, target.contracts):
                    continue
                collateral = p.collateral
                if p.margin_mode == "isolated" and collateral is not None:
                    collateral = (
                        collateral + realised - fee
                        if action.retain_margin
                        else ((collateral + realised - fee) * remaining / p.contracts)
                    )
                new.append(_fresh(p, contracts=remaining, collateral=collateral))
            else:
                new.append(_fresh(p) if _touches(p, action, target) else p)
        positions = new
        if target.margin_mode == "cross":
            cross_wallet[pool] = cross_wallet.get(pool, 0.0) + realised - fee
    elif action.kind is ActionKind.HEDGE:
        if action.hedge_account:
            return snapshot  # the leg lives on another account: this one is unchanged
        fee = taker_fee * notional(
            action.amount, target.mark_price, contract_size=target.contract_size, inverse=target.inverse
        )
        leg = replace(
            target,
            side=opposite(target.side),
            position_side=opposite(target.side),
            contracts=action.amount,
            entry_price=target.mark_price,
            collateral=(
                notional(action.amount, target.mark_price, contract_size=target.contract_size, inverse=target.inverse)
                / (target.leverage or 10.0)
                if target.margin_mode == "isolated"
                else None
            ),
            is_hedge_leg=True,
            liquidation_price_reported=None,
            maintenance_margin_reported=None,
            unrealized_pnl_reported=None,
        )
        positions = [_fresh(p) if _touches(p, action, target) else p for p in positions] + [leg]
        if target.margin_mode == "cross":
            cross_wallet[pool] = cross_wallet.get(pool, 0.0) - fee
        else:  # the leg's own margin and the fee come out of the free futures balance
            futures = available.setdefault("futures", {})
            futures[settle] = futures.get(settle, 0.0) - (leg.collateral or 0.0) - fee
    return replace(snapshot, positions=tuple(positions), cross_wallet=cross_wallet, available=available)
