"""What the live adapter does with an Action (a mixin of ``CcxtAdapter``): execute it, and
reconcile it later when its outcome was unknown. Venue specifics stay in the ``Venue``.

* top-up: a whitelisted transfer into the futures/trading account when the source is spot or
  funding, then (isolated) add margin to the position. "Transfer done, add margin failed" is
  reported as failed with the funds' whereabouts, never as done;
* reduce / unwind: reduce-only, limit IOC at most ``max_slippage_pct`` from the mark, amount
  rounded up to the venue's step but never above the position (it can never flip); after a
  partial close of an isolated position with ``retain_margin``, the margin the venue released is
  put back so that ``wallet_after = wallet_before + realised PnL - fee``;
* hedge: an opposite leg in hedge mode, or a plain order on the hedge account;
* reconcile: order by our client id, margin history / bills, transfer by client id or history,
  or the isolated wallet compared with the one kept before the call; None when still unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import ccxt

from bot.domain import (
    AccountSnapshot,
    Action,
    ActionKind,
    ActionResult,
    MarginMode,
    Position,
    PositionSide,
    Side,
    opposite,
)
from bot.errors import ActionRejected, AuthFailed, BadReply, GuardError, OutcomeUnknown, Transient
from bot.exchanges.venue import STABLES, OrderState, Venue, num, order_state
from bot.settings import AccountSettings, PollSettings

log = logging.getLogger(__name__)
KIND = {ActionRejected: "rejected", AuthFailed: "auth", OutcomeUnknown: "unknown", Transient: "transient"}


def to_step(x: float, step: float, direction: Callable[[float], float]) -> float:
    """Round ``x`` to a multiple of ``step`` with ``math.ceil`` / ``math.floor`` / ``round``."""
    if step <= 0:
        return x
    units = direction(round(x / step, 6))  # float noise is not a unit
    digits = max(0, -math.floor(math.log10(step)) + 2)
    return round(units * step, digits)


def kind_of(error: GuardError) -> str:
    return next((k for cls, k in KIND.items() if isinstance(error, cls)), "error")


class LiveActions:
    """Needs the attributes below, provided by ``CcxtAdapter``."""

    account: str
    ex: Any
    venue: Venue
    settings: AccountSettings
    poll: PollSettings
    clock: Callable[[], float]
    max_slippage_pct: float
    taker_fee: float
    _last: AccountSnapshot | None
    _wallets_at: float | None
    _sent: dict[str, float]  # client id -> top-up amount actually sent
    _pre: dict[str, float]  # client id -> isolated wallet before an add-margin
    _hedge_legs: dict[str, float]  # position key -> contracts of hedge legs we opened

    def _mapped(self, what: str, *, money: bool) -> contextlib.AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def _refresh_static(self) -> None:
        raise NotImplementedError

    async def _positions(self) -> tuple[Position, ...]:
        raise NotImplementedError

    def _step(self, market: Mapping[str, Any], key: str) -> float:
        value = num((market.get("precision") or {}).get(key))
        if value is None:
            return 0.0
        return value if self.ex.precisionMode == ccxt.TICK_SIZE else 10.0**-value

    def _money(self, amount: float, currency: str, cap: float | None) -> float:
        step = 0.01 if currency in STABLES else 1e-8
        up = to_step(amount, step, math.ceil)
        return to_step(cap, step, math.floor) if cap is not None and up > cap + 1e-12 else up

    # -- actions ----------------------------------------------------------------------------------

    async def execute(self, action: Action, client_id: str) -> ActionResult:
        try:
            async with self._mapped("markets", money=False):
                await self._refresh_static()
            if action.kind is ActionKind.TOP_UP:
                return await self._top_up(action, client_id)
            if action.kind is ActionKind.REDUCE:
                return await self._reduce(action, client_id)
            if action.kind is ActionKind.HEDGE:
                return await self._hedge(action, client_id)
            if action.kind is ActionKind.UNWIND:
                return await self._unwind(action, client_id)
            raise ActionRejected(f"unsupported action {action.kind}")
        except BadReply as e:  # only reads before sending map to BadReply: nothing was sent
            raise Transient(f"nothing sent: {e}") from None
        finally:
            self._wallets_at = None  # spot/funding balances are re-read after any action

    async def _top_up(self, a: Action, client_id: str) -> ActionResult:
        market = self.ex.market(a.symbol)
        currency = a.currency or str(market.get("settle") or "USDT")
        position = next((p for p in await self._positions() if p.key == a.position_key), None)
        mode: MarginMode = position.margin_mode if position is not None else a.margin_mode
        source = a.source or "futures"
        if mode == "isolated" and position is None:
            raise ActionRejected(f"no {a.position_key} position to add margin to")
        wallet = self._last.free(source, currency) if self._last is not None else None
        amount = self._money(a.amount, currency, wallet if wallet else None)
        if amount <= 0:
            raise ActionRejected(f"top-up of {a.amount} {currency} rounds to nothing")
        self._sent[client_id] = amount
        details: dict[str, Any] = {"amount": amount, "currency": currency, "source": source}
        if source in ("spot", "funding"):
            async with self._mapped(f"transfer {amount:g} {currency} {source}->futures", money=True):
                ref = await self.venue.transfer(currency, amount, source, client_id)
            details["transfer"] = ref or "done"
            if mode == "cross":
                return ActionResult(status="done", exchange_ref=ref, filled=amount, details=details)
        elif mode == "cross":
            raise ActionRejected("a cross position's collateral already is the futures wallet: nothing to move")
        moved = source in ("spot", "funding")
        assert position is not None
        try:
            self._pre[client_id] = position.collateral or 0.0
            async with self._mapped(f"add margin {amount:g} {currency} to {a.symbol}", money=True):
                ref = await self.venue.add_margin(a.symbol, position.position_side, amount)
        except GuardError as e:
            if not moved:
                raise
            where = {**details, "funds_now_in": "futures"}
            if isinstance(e, OutcomeUnknown):
                return ActionResult(status="unknown", error=f"transfer done; {e}", error_kind="unknown", details=where)
            text = f"transfer done, add margin failed: {e}; {amount:g} {currency} now sit in the futures wallet"
            return ActionResult(status="failed", error=text, error_kind=kind_of(e), details=where)
        return ActionResult(status="done", exchange_ref=ref or details.get("transfer"), filled=amount, details=details)

    def _hedge_mode(self) -> bool:
        if self._last is not None:
            return self._last.hedge_mode
        return bool(self.venue.hedge_mode if self.venue.hedge_mode is not None else self.settings.hedge_mode)

    async def _reduce(self, a: Action, client_id: str) -> ActionResult:
        position = next((p for p in await self._positions() if p.key == a.position_key), None)
        if position is None:
            raise ActionRejected(f"no {a.position_key} position to reduce")
        market = self.ex.market(a.symbol)
        step = self._step(market, "amount")
        minimum = num(((market.get("limits") or {}).get("amount") or {}).get("min")) or 0.0
        amount = min(max(to_step(a.amount, step, math.ceil), minimum), position.contracts)  # never flips
        side = "sell" if position.side == "long" else "buy"
        result, state = await self._order(a.symbol, side, amount, position, reduce_only=True, client_id=client_id)
        if state is None or state.filled <= 0 or not a.retain_margin or position.margin_mode != "isolated":
            return result
        if state.filled >= position.contracts * (1 - 1e-9) or position.inverse:
            return result
        retained = await self._retain(position, state)
        error = retained.pop("error", None)
        return replace(result, details={**result.details, "retain_margin": retained}, error=error)

    async def _retain(self, before: Position, state: OrderState) -> dict[str, Any]:
        """Put back the margin the venue released on a partial close of an isolated position: the
        wallet should end at ``wallet_before + realised PnL - fee``, backing what is left."""
        price = state.average or before.mark_price
        qty = state.filled * before.contract_size
        realised = (price - before.entry_price) * qty * (1.0 if before.side == "long" else -1.0)
        fee = state.fee if state.fee is not None else self.taker_fee * qty * price
        target = (before.collateral or 0.0) + realised - fee
        info: dict[str, Any] = {"wallet_before": before.collateral, "realised_pnl": realised, "fee": fee}
        info["target_wallet"] = target
        try:
            after = next((p for p in await self._positions() if p.key == before.key), None)
            if after is None or after.collateral is None:
                return {**info, "added": 0.0, "note": "position not found after the fill"}
            info["wallet_after_fill"] = after.collateral
            amount = self._money(max(0.0, target - after.collateral), before.settle, None)
            if amount <= 0.0:
                return {**info, "added": 0.0}
            async with self._mapped(f"retain margin {amount:g} on {before.symbol}", money=True):
                await self.venue.add_margin(before.symbol, before.position_side, amount)
            return {**info, "added": amount}
        except GuardError as e:
            return {**info, "added": 0.0, "error": f"reduce done; putting the released margin back failed: {e}"}

    async def _mark(self, symbol: str, fallback: float) -> float:
        positions = await self._positions()
        return next((p.mark_price for p in positions if p.symbol == symbol and p.mark_price > 0), fallback)

    async def _hedge(self, a: Action, client_id: str) -> ActionResult:
        leg: Side = opposite(a.side)
        hedge_mode = self._hedge_mode()
        if a.hedge_account in (None, "") and not hedge_mode:
            raise ActionRejected("one-way mode: an opposite order would reduce, not hedge (enable hedge mode)")
        position_side: PositionSide = leg if hedge_mode else "both"
        market = self.ex.market(a.symbol)
        amount = to_step(a.amount, self._step(market, "amount"), math.floor)  # never above the plan
        if amount <= 0 or amount < (num(((market.get("limits") or {}).get("amount") or {}).get("min")) or 0.0):
            raise ActionRejected(f"hedge of {a.amount:g} contracts is below the venue's minimum order size")
        mode = a.margin_mode if a.hedge_account in (None, "") else (self.settings.margin_mode or a.margin_mode)
        template = Position(
            symbol=a.symbol,
            side=leg,
            contracts=amount,
            entry_price=0.0,
            mark_price=await self._mark(a.symbol, a.mark_price),
            margin_mode=mode,
            tiers=None,
            collateral=None,
            position_side=position_side,
        )
        side = "buy" if leg == "long" else "sell"
        result, state = await self._order(a.symbol, side, amount, template, reduce_only=False, client_id=client_id)
        if state is not None and state.filled > 0:
            self._track_leg(a, state.filled)
        return result

    async def _unwind(self, a: Action, client_id: str) -> ActionResult:
        leg_side: Side = opposite(a.side)
        position_side: PositionSide = leg_side if self._hedge_mode() else "both"
        key = f"{a.symbol}|{position_side}|{leg_side}"
        leg = next((p for p in await self._positions() if p.key == key), None)
        if leg is None:
            raise ActionRejected(f"no {key} hedge leg open to close")
        amount = min(to_step(a.amount, self._step(self.ex.market(a.symbol), "amount"), round), leg.contracts)
        side = "buy" if leg_side == "short" else "sell"
        result, state = await self._order(a.symbol, side, amount, leg, reduce_only=True, client_id=client_id)
        if state is not None and state.filled > 0:
            self._track_leg(a, state.filled)
        return result

    async def _order(
        self, symbol: str, side: str, amount: float, position: Position, *, reduce_only: bool, client_id: str
    ) -> tuple[ActionResult, OrderState | None]:
        """Limit IOC at most ``max_slippage_pct`` from the mark (market without a mark or IOC)."""
        market = self.ex.market(symbol)
        params = self.venue.order_params(
            margin_mode=position.margin_mode,
            position_side=position.position_side,
            reduce_only=reduce_only,
            client_id=client_id,
        )
        price: float | None = None
        if position.mark_price > 0 and self.venue.supports_ioc:
            s = self.max_slippage_pct / 100.0
            tick = self._step(market, "price")
            if side == "sell":  # never below the cap
                price = to_step(position.mark_price * (1.0 - s), tick, math.ceil)
            else:
                price = to_step(position.mark_price * (1.0 + s), tick, math.floor)
            params["timeInForce"] = "IOC"
        what = f"{'reduce-only ' if reduce_only else ''}{side} {amount:g} {symbol}"
        async with self._mapped(what, money=True):
            placed = await self.ex.create_order(symbol, "limit" if price else "market", side, amount, price, params)
        state = order_state(placed) if isinstance(placed, dict) else None
        if state is None or not state.final or placed.get("filled") is None:
            state = await self._await_fill(symbol, client_id, state.order_id if state else None)
        details: dict[str, Any] = {"client_id": client_id, "amount": amount, "limit_price": price}
        details.update({"average": state.average, "fee": state.fee, "status": state.status})
        if state.filled <= 0:
            error = f"{what}: nothing filled within {self.max_slippage_pct:g}% of mark {position.mark_price:g}"
            return (
                ActionResult(
                    status="failed",
                    exchange_ref=state.order_id,
                    filled=0.0,
                    error=error,
                    error_kind="rejected",
                    details=details,
                ),
                state,
            )
        return ActionResult(status="done", exchange_ref=state.order_id, filled=state.filled, details=details), state

    async def _await_fill(self, symbol: str, client_id: str, order_id: str | None) -> OrderState:
        """The order was accepted: read its fill by client id (an IOC is final at once)."""
        for attempt in range(4):
            try:
                async with self._mapped("order lookup", money=False):
                    state = await self.venue.order_by_client_id(symbol, client_id)
            except GuardError as e:
                raise OutcomeUnknown(f"order {order_id or client_id} accepted, fill not readable: {e}") from None
            if state is not None and state.final:
                return state
            await asyncio.sleep(0.2 * (attempt + 1))
        raise OutcomeUnknown(f"order {order_id or client_id} accepted, not final yet: reconcile will read it")

    # -- reconcile ----------------------------------------------------------------------------------

    def _given_time(self, since: float) -> bool:
        """Long enough since the intent that a call which never arrived will not arrive any more."""
        return self.clock() - since >= max(3.0, 2.0 * self.poll.request_timeout_s)

    async def reconcile(self, action: Action, client_id: str, since: float) -> ActionResult | None:
        try:
            async with self._mapped("reconcile", money=False):
                await self._refresh_static()
                if action.kind is ActionKind.TOP_UP:
                    return await self._reconcile_top_up(action, client_id, since)
                state = await self.venue.order_by_client_id(action.symbol, client_id)
        except GuardError as e:
            log.warning("%s: reconcile %s still open: %s", self.account, client_id, e)
            return None
        if state is None:
            if not self._given_time(since):
                return None
            return ActionResult(
                status="failed", error="the venue has no order with our client id: never placed", error_kind="not_sent"
            )
        if not state.final:
            return None
        details = {
            "client_id": client_id,
            "average": state.average,
            "fee": state.fee,
            "status": state.status,
            "reconciled": True,
        }
        if action.kind is ActionKind.REDUCE and action.retain_margin:
            details["retain_margin"] = "not run (the outcome was unknown when it was due)"
        if state.filled <= 0:
            return ActionResult(
                status="failed",
                exchange_ref=state.order_id,
                filled=0.0,
                details=details,
                error="order found, nothing filled",
                error_kind="rejected",
            )
        if action.kind in (ActionKind.HEDGE, ActionKind.UNWIND):
            self._track_leg(action, state.filled)
        return ActionResult(status="done", exchange_ref=state.order_id, filled=state.filled, details=details)

    def _track_leg(self, a: Action, filled: float) -> None:
        """Remember the hedge legs this process opened, so snapshots mark them as such."""
        leg: Side = opposite(a.side)
        key = f"{a.symbol}|{leg if self._hedge_mode() else 'both'}|{leg}"
        change = filled if a.kind is ActionKind.HEDGE else -filled
        self._hedge_legs[key] = max(0.0, self._hedge_legs.get(key, 0.0) + change)

    async def _reconcile_top_up(self, a: Action, client_id: str, since: float) -> ActionResult | None:
        currency = a.currency or str(self.ex.market(a.symbol).get("settle") or "USDT")
        amount = self._sent.get(client_id) or self._money(a.amount, currency, None)
        source = a.source or "futures"
        details: dict[str, Any] = {"amount": amount, "currency": currency, "source": source, "reconciled": True}
        moved = source in ("spot", "funding")
        if moved:
            done = await self.venue.transfer_done(currency, amount, source, client_id, since)
            if done is None or (done is False and not self._given_time(since)):
                return None
            if done is False:
                return ActionResult(
                    status="failed",
                    error="the transfer never happened: nothing moved",
                    error_kind="not_sent",
                    details=details,
                )
            details["transfer"] = "done"
            if a.margin_mode == "cross":
                return ActionResult(status="done", filled=amount, details=details)
        added = await self.venue.margin_added(a.symbol, a.position_side, amount, since)
        if added is None:
            added = await self._added_by_prestate(a, client_id, amount)
        if added is None or (added is False and not self._given_time(since)):
            return None
        if added:
            return ActionResult(status="done", filled=amount, details=details)
        where = f"; {amount:g} {currency} now sit in the futures wallet" if moved else ""
        return ActionResult(
            status="failed",
            error=f"no margin was added{where}",
            error_kind="not_sent",
            details={**details, "funds_now_in": "futures"} if moved else details,
        )

    async def _added_by_prestate(self, a: Action, client_id: str, amount: float) -> bool | None:
        """No margin history at this venue: compare the isolated wallet with the one before."""
        before = self._pre.get(client_id, a.collateral_before)  # journalled with the intent: survives restarts
        if before is None:
            return None  # not known: the trader decides
        position = next((p for p in await self._positions() if p.key == a.position_key), None)
        if position is None or position.collateral is None:
            return None
        delta = position.collateral - before
        if abs(delta - amount) <= 0.02 * amount + 0.01:
            return True
        return False if abs(delta) <= 0.02 * amount else None
