"""Order placement and matching for :class:`~.market.FakeMarket` (market orders fill at the mark,
limit orders rest until the mark crosses them; reduce-only never opens, increases or flips)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from .models import (
    EPS,
    AccountState,
    Fill,
    Instrument,
    MarginMode,
    MarketError,
    Order,
    Position,
    PositionSide,
    Reason,
    Side,
)


class TradingMixin:
    """Needs the attributes below, provided by :class:`~.market.FakeMarket`."""

    hedge_mode: bool
    taker_fee: float
    maker_fee: float
    instruments: dict[str, Instrument]
    positions: dict[tuple[str, PositionSide], Position]
    orders: dict[int, Order]
    fills: list[Fill]
    wallets: dict[Any, dict[str, float]]
    leverage: dict[str, float]
    margin_mode: dict[str, MarginMode]
    marks: dict[str, float]
    norm: Callable[[str], str]
    now: Callable[[], int]
    next_id: Callable[[], int]
    next_small_id: Callable[[], int]
    mark: Callable[[str], float]
    account: Callable[..., AccountState]
    cross_wallet: Callable[..., float]
    get_position: Callable[..., Position | None]
    _log: Callable[..., None]

    def place_order(
        self,
        *,
        symbol: str,
        side: Literal["buy", "sell"],
        order_type: Literal["market", "limit"],
        contracts: float,
        price: float | None = None,
        reduce_only: bool = False,
        position_side: PositionSide = "both",
        client_order_id: str | None = None,
        time_in_force: str = "GTC",
        margin_mode: MarginMode | None = None,
        raw: dict[str, Any] | None = None,
    ) -> Order:
        """Place an order; ``margin_mode`` (OKX ``tdMode``) applies when opening a position."""
        if margin_mode is not None and self.get_position(symbol, position_side) is None:
            self.margin_mode[self.norm(symbol)] = margin_mode
        params: dict[str, Any] = {
            "symbol": symbol,
            "side": side,
            "type": order_type,
            "contracts": contracts,
            "price": price,
            "reduce_only": reduce_only,
            "position_side": position_side,
            "client_order_id": client_order_id,
            "raw": dict(raw or {}),
        }
        try:
            order = self._place(
                symbol, side, order_type, contracts, price, reduce_only, position_side, client_order_id, time_in_force
            )
        except MarketError as e:
            self._log("order", params, False, error=e.reason.value)
            raise
        self._log("order", params, True, result=order.order_id)
        return order

    def _place(
        self,
        symbol: str,
        side: Literal["buy", "sell"],
        order_type: Literal["market", "limit"],
        contracts: float,
        price: float | None,
        reduce_only: bool,
        position_side: PositionSide,
        client_order_id: str | None,
        time_in_force: str,
    ) -> Order:
        sym = self.norm(symbol)
        if contracts <= 0:
            raise MarketError(Reason.BAD_QUANTITY, f"quantity {contracts}")
        if (position_side == "both") == self.hedge_mode:
            raise MarketError(Reason.POSITION_SIDE_MISMATCH, f"position side {position_side}")
        if client_order_id and any(o.client_order_id == client_order_id for o in self.orders.values()):
            raise MarketError(Reason.DUPLICATE_CLIENT_ID, client_order_id)
        pos = self.positions.get((sym, position_side))
        if reduce_only:
            closing = "sell" if pos is not None and pos.side == "long" else "buy"
            if pos is None or side != closing:
                raise MarketError(Reason.REDUCE_ONLY_REJECTED, "reduce-only order would open/increase")
        now = self.now()
        lev = pos.leverage if pos else self.leverage.get(sym, 20.0)
        mode: MarginMode = pos.margin_mode if pos else self.margin_mode.get(sym, "cross")
        order = Order(
            self.next_id(),
            client_order_id or f"fake-{self.next_small_id()}",
            sym,
            side,
            order_type,
            float(contracts),
            price,
            reduce_only,
            position_side,
            time_in_force,
            "new",
            0.0,
            0.0,
            0.0,
            0.0,
            now,
            now,
            mode,
            lev,
        )
        mark = self.mark(sym)
        marketable = order_type == "market" or (
            price is not None and ((side == "buy" and price >= mark) or (side == "sell" and price <= mark))
        )
        if marketable:
            self._fill(order, mark, maker=False)
        else:
            if price is None:
                raise MarketError(Reason.BAD_QUANTITY, "limit order without price")
            if not reduce_only:
                need = contracts * self.instruments[sym].contract_size * price / lev
                if need > self.account().available + EPS:
                    raise MarketError(Reason.INSUFFICIENT_MARGIN, "insufficient margin for order")
        self.orders[order.order_id] = order
        return order

    def _fill(self, order: Order, px: float, maker: bool) -> None:
        inst = self.instruments[order.symbol]
        key = (order.symbol, order.position_side)
        pos = self.positions.get(key)
        qty = order.contracts - order.filled
        fee_rate = self.maker_fee if maker else self.taker_fee
        if order.position_side == "both":
            reducing = pos is not None and ((pos.side == "long") != (order.side == "buy"))
        else:
            reducing = (order.position_side == "long") != (order.side == "buy")
            if reducing and pos is None:
                raise MarketError(Reason.REDUCE_ONLY_REJECTED, "no position to close")
        close_qty = min(qty, pos.contracts) if (reducing and pos is not None) else 0.0
        open_qty = qty - close_qty
        if order.reduce_only or order.position_side != "both":
            open_qty = 0.0 if reducing else open_qty  # reduce-only / hedge close: capped, never flips
        if open_qty > 0:
            need = open_qty * inst.contract_size * px * (1 / order.leverage + fee_rate)
            if need > self.account().available + EPS:
                raise MarketError(Reason.INSUFFICIENT_MARGIN, "insufficient margin")
        cross = self.cross_wallet(inst.settle)
        realized = 0.0
        fee = (close_qty + open_qty) * inst.contract_size * px * fee_rate
        if close_qty > 0 and pos is not None:
            sign = 1.0 if pos.side == "long" else -1.0
            realized = sign * close_qty * inst.contract_size * (px - pos.entry_price)
            released = 0.0
            if pos.margin_mode == "isolated":
                released = pos.isolated_margin * close_qty / pos.contracts
                pos.isolated_margin -= released
            cross += released + realized
            pos.contracts -= close_qty
            pos.realized_pnl += realized
            pos.updated_ms = self.now()
            if pos.contracts <= EPS:
                del self.positions[key]
                pos = None
        if open_qty > 0:
            im = open_qty * inst.contract_size * px / order.leverage
            if pos is None:
                new_side: Side = "long" if order.side == "buy" else "short"
                now = self.now()
                pos = Position(
                    order.symbol,
                    new_side,
                    0.0,
                    px,
                    order.margin_mode,
                    order.leverage,
                    order.position_side,
                    0.0,
                    0.0,
                    now,
                    now,
                    self.next_small_id(),
                )
                self.positions[key] = pos
            pos.entry_price = (pos.entry_price * pos.contracts + px * open_qty) / (pos.contracts + open_qty)
            pos.contracts += open_qty
            pos.updated_ms = self.now()
            if pos.margin_mode == "isolated":
                cross -= im
                pos.isolated_margin += im
        cross -= fee
        self.wallets["futures"][inst.settle] = cross
        filled = close_qty + open_qty
        order.avg_price = px
        order.filled += filled
        order.fee += fee
        order.realized_pnl += realized
        order.status = "filled"
        order.updated_ms = self.now()
        self.fills.append(
            Fill(
                self.next_small_id(),
                order.order_id,
                order.symbol,
                order.side,
                filled,
                px,
                fee,
                realized,
                maker,
                order.position_side,
                self.now(),
            )
        )

    def _match_limit_orders(self) -> None:
        for order in list(self.orders.values()):
            if order.status != "new" or order.price is None:
                continue
            mark = self.marks[order.symbol]
            if (order.side == "buy" and mark <= order.price) or (order.side == "sell" and mark >= order.price):
                try:
                    self._fill(order, order.price, maker=True)
                except MarketError:
                    order.status = "canceled"

    def find_order(self, order_id: int | str | None = None, client_order_id: str | None = None) -> Order:
        if order_id not in (None, ""):
            order = self.orders.get(int(str(order_id)))
            if order is not None:
                return order
        elif client_order_id:
            for order in self.orders.values():
                if order.client_order_id == client_order_id:
                    return order
        raise MarketError(Reason.ORDER_NOT_FOUND, f"{order_id or client_order_id}")

    def cancel_order(self, order_id: int | str | None = None, client_order_id: str | None = None) -> Order:
        order = self.find_order(order_id, client_order_id)
        if order.status != "new":
            raise MarketError(Reason.ORDER_NOT_FOUND, "order not open")
        order.status = "canceled"
        order.updated_ms = self.now()
        self._log("order", {"cancel": order.order_id}, True, result=order.order_id)
        return order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        sym = self.norm(symbol) if symbol else None
        return [o for o in self.orders.values() if o.status == "new" and (sym is None or o.symbol == sym)]
