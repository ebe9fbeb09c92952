"""Venue-agnostic scriptable market + single account behind the fake exchange.

Symbols are ccxt unified symbols (``"BTC/USDT:USDT"``); venue modules translate them
to venue ids.  Wallet accounts are ``"futures"`` (Binance UM futures wallet / Bybit
UNIFIED|CONTRACT / OKX trading account), ``"spot"`` and ``"funding"``.  The futures
wallet holds the *cross* wallet balance; every isolated position carries its own
``isolated_margin`` (its isolated wallet), so total wallet = cross + isolated.

Money-moving operations (orders, margin adjustments, transfers, liquidations) are
appended to :attr:`FakeMarket.actions` with their parameters so tests can assert
exactly what arrived.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from . import liquidation as liq
from .models import (
    ACCOUNTS,
    EPS,
    Account,
    AccountState,
    Action,
    Fill,
    Instrument,
    Liquidation,
    MarginChange,
    MarginMode,
    MarketError,
    Order,
    Position,
    PositionSide,
    Reason,
    Side,
    Transfer,
    default_instruments,
)
from .tiers import TierTable, default_tiers
from .trading import TradingMixin

__all__ = [
    "ACCOUNTS",
    "EPS",
    "Account",
    "AccountState",
    "Action",
    "FakeMarket",
    "Fill",
    "Instrument",
    "Liquidation",
    "MarginChange",
    "MarginMode",
    "MarketError",
    "Order",
    "Position",
    "PositionSide",
    "Reason",
    "Side",
    "Transfer",
    "default_instruments",
]


class FakeMarket(TradingMixin):
    def __init__(
        self,
        venue: str | None = None,
        *,
        instruments: Iterable[Instrument] | None = None,
        marks: dict[str, float] | None = None,
        taker_fee: float = 0.0005,
        maker_fee: float = 0.0002,
        hedge_mode: bool = False,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.venue = venue
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        self.hedge_mode = hedge_mode
        self.clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self.instruments: dict[str, Instrument] = {}
        self.tiers: dict[str, TierTable] = {}
        for inst in instruments if instruments is not None else default_instruments(venue):
            self.add_instrument(inst)
        self.marks: dict[str, float] = {"BTC/USDT:USDT": 60_000.0, "ETH/USDT:USDT": 3_000.0}
        self.marks.update(marks or {})
        self.wallets: dict[Account, dict[str, float]] = {a: {} for a in ACCOUNTS}
        self.positions: dict[tuple[str, PositionSide], Position] = {}
        self.leverage: dict[str, float] = {}
        self.margin_mode: dict[str, MarginMode] = {}
        self.orders: dict[int, Order] = {}
        self.fills: list[Fill] = []
        self.transfers: list[Transfer] = []
        self.margin_changes: list[MarginChange] = []
        self.liquidations: list[Liquidation] = []
        self.actions: list[Action] = []
        self.price_paths: dict[str, list[float]] = {}
        self._ids = itertools.count(8_389_765_000_000_000_001)
        self._last_event_ms = 0
        self._small_ids = itertools.count(1)

    # ------------------------------------------------------------------ setup
    def add_instrument(self, inst: Instrument, tiers: TierTable | None = None) -> None:
        self.instruments[inst.symbol] = inst
        self.tiers[inst.symbol] = tiers or default_tiers(self.venue, inst.base)

    def set_venue(self, venue: str) -> None:
        """Adopt a venue's conventions (contract sizes, tier tables) if still default."""
        if self.venue == venue:
            return
        self.venue = venue
        if not self.positions:
            defaults = {i.symbol: i for i in default_instruments(venue)}
            for sym, inst in list(self.instruments.items()):
                if sym in defaults:
                    self.add_instrument(defaults[sym])
                else:
                    self.tiers[sym] = default_tiers(venue, inst.base)

    def set_tiers(self, symbol: str, table: TierTable) -> None:
        self.tiers[self.norm(symbol)] = table

    def norm(self, symbol: str) -> str:
        if symbol in self.instruments:
            return symbol
        if ":" not in symbol and f"{symbol}:{symbol.split('/')[-1]}" in self.instruments:
            return f"{symbol}:{symbol.split('/')[-1]}"
        raise MarketError(Reason.UNKNOWN_SYMBOL, symbol)

    def instrument(self, symbol: str) -> Instrument:
        return self.instruments[self.norm(symbol)]

    def tier_table(self, symbol: str) -> TierTable:
        return self.tiers[self.norm(symbol)]

    def set_wallet(self, account: Account, currency: str, amount: float) -> None:
        self.wallets[account][currency] = float(amount)

    def balance(self, account: Account, currency: str = "USDT") -> float:
        return self.wallets[account].get(currency, 0.0)

    def now(self) -> int:
        """Event time in ms, never the same twice: two transfers or fills booked within one
        millisecond would tie, and a history sorted by time would come back in either order."""
        self._last_event_ms = max(self.clock(), self._last_event_ms + 1)
        return self._last_event_ms

    def next_id(self) -> int:
        return next(self._ids)

    def next_small_id(self) -> int:
        return next(self._small_ids)

    def open_position(
        self,
        symbol: str,
        side: Side,
        contracts: float,
        entry_price: float,
        *,
        leverage: float = 10.0,
        margin_mode: MarginMode = "isolated",
        isolated_margin: float | None = None,
        position_side: PositionSide | None = None,
    ) -> Position:
        """Seed a position directly (wallets untouched).  ``isolated_margin`` defaults to
        the initial margin at entry (notional / leverage)."""
        sym = self.norm(symbol)
        inst = self.instruments[sym]
        pside: PositionSide = position_side or (side if self.hedge_mode else "both")
        if isolated_margin is None:
            isolated_margin = contracts * inst.contract_size * entry_price / leverage
        now = self.now()
        pos = Position(
            sym,
            side,
            float(contracts),
            float(entry_price),
            margin_mode,
            float(leverage),
            pside,
            float(isolated_margin) if margin_mode == "isolated" else 0.0,
            0.0,
            now,
            now,
            self.next_small_id(),
        )
        self.positions[pos.key] = pos
        self.leverage[sym] = float(leverage)
        self.margin_mode[sym] = margin_mode
        return pos

    def get_position(self, symbol: str, position_side: PositionSide | None = None) -> Position | None:
        sym = self.norm(symbol)
        if position_side is not None:
            return self.positions.get((sym, position_side))
        for p in self.positions.values():
            if p.symbol == sym:
                return p
        return None

    # ------------------------------------------------------------------ prices
    def mark(self, symbol: str) -> float:
        return self.marks[self.norm(symbol)]

    def set_mark(self, symbol: str, price: float) -> None:
        self.marks[self.norm(symbol)] = float(price)
        self._match_limit_orders()
        self.check_liquidations()

    def script(self, symbol: str, prices: Iterable[float]) -> None:
        """Queue a price path consumed one point per :meth:`step`."""
        self.price_paths[self.norm(symbol)] = [float(p) for p in prices]

    def step(self) -> dict[str, float]:
        moved: dict[str, float] = {}
        for sym, path in self.price_paths.items():
            if path:
                moved[sym] = path.pop(0)
                self.marks[sym] = moved[sym]
        if moved:
            self._match_limit_orders()
            self.check_liquidations()
        return moved

    def crash(self, symbol: str, pct: float) -> float:
        """Move the mark by ``-pct`` percent (e.g. ``crash(sym, 20)``)."""
        new = self.mark(symbol) * (1 - pct / 100.0)
        self.set_mark(symbol, new)
        return new

    # ------------------------------------------------------------------ metrics
    def base_qty(self, pos: Position) -> float:
        return pos.contracts * self.instruments[pos.symbol].contract_size

    def notional(self, pos: Position) -> float:
        return self.base_qty(pos) * self.mark(pos.symbol)

    def unrealized_pnl(self, pos: Position) -> float:
        sign = 1.0 if pos.side == "long" else -1.0
        return sign * self.base_qty(pos) * (self.mark(pos.symbol) - pos.entry_price)

    def initial_margin(self, pos: Position) -> float:
        return self.notional(pos) / pos.leverage

    def maintenance_margin(self, pos: Position) -> float:
        return liq.maintenance(self, pos)[0]

    def maintenance_rate(self, pos: Position) -> float:
        return liq.maintenance(self, pos)[1]

    def liquidation_price(self, pos: Position) -> float | None:
        return liq.liquidation_price(self, pos)

    def cross_wallet(self, currency: str = "USDT") -> float:
        return self.balance("futures", currency)

    def order_initial_margin(self) -> float:
        total = 0.0
        for o in self.orders.values():
            if o.status == "new" and not o.reduce_only and o.price is not None:
                inst = self.instruments[o.symbol]
                total += (o.contracts - o.filled) * inst.contract_size * o.price / o.leverage
        return total

    def account(self, currency: str = "USDT") -> AccountState:
        cross = self.cross_wallet(currency)
        pos = list(self.positions.values())
        iso = sum(p.isolated_margin for p in pos)
        upnl = sum(self.unrealized_pnl(p) for p in pos)
        cross_upnl = sum(self.unrealized_pnl(p) for p in pos if p.margin_mode == "cross")
        mm = sum(self.maintenance_margin(p) for p in pos)
        pim = sum(self.initial_margin(p) for p in pos)
        cim = sum(self.initial_margin(p) for p in pos if p.margin_mode == "cross")
        oim = self.order_initial_margin()
        avail = max(cross + cross_upnl - cim - oim, 0.0)
        wallet = cross + iso
        return AccountState(cross, iso, wallet, upnl, cross_upnl, wallet + upnl, mm, pim, cim, oim, avail)

    # ------------------------------------------------------------------ logging
    def _log(
        self, kind: Any, params: dict[str, Any], applied: bool, result: Any = None, error: str | None = None
    ) -> None:
        self.actions.append(Action(kind, dict(params), applied, result, error, self.now()))

    def actions_of(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    # ------------------------------------------------------------------ margin / transfers
    def adjust_margin(
        self, symbol: str, position_side: PositionSide, amount: float, kind: Literal["add", "reduce"]
    ) -> MarginChange:
        params = {"symbol": symbol, "position_side": position_side, "amount": amount, "kind": kind}
        try:
            change = self._adjust_margin(symbol, position_side, amount, kind)
        except MarketError as e:
            self._log("margin", params, False, error=e.reason.value)
            raise
        self._log("margin", params, True, result=change.change_id)
        return change

    def _adjust_margin(
        self, symbol: str, position_side: PositionSide, amount: float, kind: Literal["add", "reduce"]
    ) -> MarginChange:
        sym = self.norm(symbol)
        pos = self.positions.get((sym, position_side))
        if pos is None:
            raise MarketError(Reason.NO_POSITION, "position is 0")
        if pos.margin_mode != "isolated":
            raise MarketError(Reason.NOT_ISOLATED, "margin adjustment only for isolated positions")
        if amount <= 0:
            raise MarketError(Reason.BAD_QUANTITY, f"amount {amount}")
        settle = self.instruments[sym].settle
        if kind == "add":
            if amount > self.account(settle).available + EPS:
                raise MarketError(Reason.INSUFFICIENT_MARGIN, "available balance insufficient")
            self.wallets["futures"][settle] = self.cross_wallet(settle) - amount
            pos.isolated_margin += amount
        else:
            removable = pos.isolated_margin + min(self.unrealized_pnl(pos), 0.0) - self.initial_margin(pos)
            if amount > removable + EPS:
                raise MarketError(Reason.INSUFFICIENT_ISOLATED, "isolated balance insufficient")
            pos.isolated_margin -= amount
            self.wallets["futures"][settle] = self.cross_wallet(settle) + amount
        pos.updated_ms = self.now()
        change = MarginChange(self.next_small_id(), sym, position_side, float(amount), kind, self.now())
        self.margin_changes.append(change)
        self.check_liquidations()
        return change

    def transfer(
        self,
        currency: str,
        amount: float,
        from_account: Account,
        to_account: Account,
        venue_type: str = "",
        client_id: str = "",
    ) -> Transfer:
        params = {
            "currency": currency,
            "amount": amount,
            "from": from_account,
            "to": to_account,
            "venue_type": venue_type,
            "client_id": client_id,
        }
        futures = from_account == "futures"
        avail = self.account(currency).available if futures else self.balance(from_account, currency)
        if amount <= 0 or amount > avail + EPS or from_account == to_account:
            reason = Reason.BAD_QUANTITY if amount <= 0 or from_account == to_account else (Reason.INSUFFICIENT_BALANCE)
            self._log("transfer", params, False, error=reason.value)
            raise MarketError(reason, f"cannot move {amount} {currency} from {from_account}")
        self.wallets[from_account][currency] = self.balance(from_account, currency) - amount
        self.wallets[to_account][currency] = self.balance(to_account, currency) + amount
        tr = Transfer(
            self.next_small_id() + 13_526_853_000,
            currency,
            float(amount),
            from_account,
            to_account,
            self.now(),
            venue_type,
            client_id,
        )
        self.transfers.append(tr)
        self._log("transfer", params, True, result=tr.transfer_id)
        return tr

    def set_hedge_mode(self, hedged: bool) -> None:
        if hedged == self.hedge_mode:
            raise MarketError(Reason.NO_CHANGE, "no need to change position side")
        if self.positions or self.open_orders():
            raise MarketError(Reason.MODE_CHANGE_REJECTED, "positions or open orders exist")
        self.hedge_mode = hedged
        self._log("mode", {"hedged": hedged}, True)

    def set_leverage(self, symbol: str, leverage: float) -> None:
        sym = self.norm(symbol)
        self.leverage[sym] = float(leverage)
        for p in self.positions.values():
            if p.symbol == sym:
                p.leverage = float(leverage)

    # ------------------------------------------------------------------ liquidation
    def check_liquidations(self) -> list[Liquidation]:
        done: list[Liquidation] = []
        for pos in list(self.positions.values()):
            if pos.margin_mode != "isolated":
                continue
            lp = self.liquidation_price(pos)
            mark = self.mark(pos.symbol)
            if lp is not None and ((pos.side == "long" and mark <= lp) or (pos.side == "short" and mark >= lp)):
                done.append(self._liquidate(pos, lp, pos.isolated_margin))
        cross = [p for p in self.positions.values() if p.margin_mode == "cross"]
        if cross:
            st = self.account()
            cross_mm = sum(self.maintenance_margin(p) for p in cross)
            if st.cross_wallet + st.cross_unrealized_pnl <= cross_mm:
                for pos in cross:
                    lp = self.liquidation_price(pos)
                    loss = -self.unrealized_pnl(pos)
                    settle = self.instruments[pos.symbol].settle
                    self.wallets["futures"][settle] = max(self.cross_wallet(settle) - loss, 0.0)
                    done.append(self._liquidate(pos, lp, loss))
        return done

    def _liquidate(self, pos: Position, lp: float | None, loss: float) -> Liquidation:
        del self.positions[pos.key]
        rec = Liquidation(
            pos.symbol,
            pos.side,
            pos.contracts,
            pos.entry_price,
            lp,
            self.mark(pos.symbol),
            pos.margin_mode,
            loss,
            self.now(),
        )
        self.liquidations.append(rec)
        self._log("liquidation", {"symbol": pos.symbol, "side": pos.side, "contracts": pos.contracts}, True, result=rec)
        return rec
