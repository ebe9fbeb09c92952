"""OKX v5, USDT-margined perpetual swaps (ccxt id ``okx``).

Per cycle: ``GET /api/v5/account/positions?instType=SWAP`` + ``GET /api/v5/account/balance``.
Slow: ``/api/v5/account/config`` (position mode) and ``/api/v5/public/position-tiers`` per
instrument family. Wallets: ``/api/v5/asset/balances`` (funding account 6); spot shares the
trading account 18 with swaps, so there is no separate spot wallet to draw from.

Quirks handled here:

* position tiers are by SIZE (contracts), not notional: ccxt labels ``minSz``/``maxSz`` as
  min/maxNotional. The tier for a position is the one holding its size, which does not move
  with price, so the maintenance rate is flat for that position;
* OKX's liquidation price includes the taker fee of closing:
  ``margin + upl(LP) = |pos| * ctVal * LP * (mmr + fee)``, i.e. exactly our mark-tiered formula
  with a one-tier table at ``mmr + taker fee`` (verified against the fake's liquidation.py and
  its ``liqPx``). We use the same table for cross positions, where OKX reports no liquidation
  price: it adds the closing fee to the maintenance, which is slightly conservative;
* ``mgnRatio`` is equity / maintenance (liquidation at <= 1): the account ratio is its inverse;
* ``add_margin`` in ccxt 4.5.90 raises TypeError after OKX applied the margin: the raw
  ``POST /api/v5/account/position/margin-balance`` is used; margin history comes from the bills
  (type 6, subType 160 "manual margin increase");
* orders need ``tdMode`` = the position's margin mode (ccxt defaults to cross) and, in
  long/short mode, ``posSide`` (reduceOnly only applies in net mode);
* a bare HTTP 429 comes out of ccxt as ExchangeNotAvailable: it still means "not executed".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ccxt

from bot.domain import MarginMode, Position, PositionSide, Side
from bot.errors import ActionRejected
from bot.exchanges.venue import (
    FuturesState,
    Malformed,
    OrderState,
    Venue,
    account_state,
    expect_dict,
    num,
    num0,
    objects,
    order_state,
    positive,
    row_size,
)
from bot.risk.tiers import TierTable, flat

SLACK_MS = 60_000
SizeTier = tuple[float, float, float]  # (min contracts, max contracts, maintenance rate)


def _data(reply: Any, what: str) -> list[dict[str, Any]]:
    body = expect_dict(reply, what)
    data = body.get("data")
    if not isinstance(data, list):
        raise Malformed(f"{what}: reply without data")
    return [d for d in data if isinstance(d, dict)]


class Okx(Venue):
    name = "okx"
    dedicated = True

    def __init__(self, ex: Any, account: Any):
        super().__init__(ex, account)
        # acctLv: 1 spot, 2 single-currency margin, 3 multi-currency margin, 4 portfolio margin
        self.account_level: str | None = None
        self.size_tiers: dict[str, list[SizeTier]] = {}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        options = {"defaultType": "swap", "fetchMarkets": {"types": ["swap"]}}
        return {"options": options, "has": {"fetchCurrencies": False}}

    def refused_without_effect(self, error: Exception) -> bool:
        return isinstance(error, ccxt.ExchangeNotAvailable) and " 429 " in str(error)

    # -- tiers --------------------------------------------------------------------------------

    def has_tiers(self, symbol: str) -> bool:
        return symbol in self.size_tiers

    def taker_fee(self, symbol: str) -> float:
        return num(self.market(symbol).get("taker")) or 0.0005

    def tiers_for(self, symbol: str, contracts: float) -> TierTable | None:
        tiers = self.size_tiers.get(symbol)
        if not tiers:
            return None
        rate = tiers[-1][2]
        for low, high, mmr in tiers:
            if low <= contracts < high:
                rate = mmr
                break
        return flat(rate + self.taker_fee(symbol))

    async def load_modes(self) -> None:
        config = _data(await self.ex.privateGetAccountConfig(), "account config")
        if config:
            self.hedge_mode = config[0].get("posMode") == "long_short_mode"
            self.account_level = str(config[0].get("acctLv") or "") or None

    async def load_tiers(self, symbols: Iterable[str]) -> None:
        families: dict[str, list[str]] = {}
        for symbol in symbols:
            family = self.market(symbol)["info"].get("instFamily")
            if family:
                families.setdefault(family, []).append(symbol)
        for family, members in families.items():
            request = {"instType": "SWAP", "tdMode": "cross", "instFamily": family}
            rows = _data(await self.ex.publicGetPublicPositionTiers(request), "position tiers")
            tiers = sorted(
                (num0(r.get("minSz")), num(r.get("maxSz")) or float("inf"), num0(r.get("mmr"))) for r in rows
            )
            for symbol in members:
                self.size_tiers[symbol] = tiers

    async def fetch_wallets(self) -> dict[str, dict[str, float]]:
        rows = _data(await self.ex.privateGetAssetBalances(), "funding balances")
        return {"funding": {r["ccy"]: num0(r.get("availBal")) for r in rows if num(r.get("availBal"))}, "spot": {}}

    # -- the per-cycle read -------------------------------------------------------------------

    async def fetch_futures(self) -> FuturesState:
        warnings: list[str] = []
        try:
            rows: list[dict[str, Any]] | None = [
                r
                for r in _data(await self.ex.privateGetAccountPositions({"instType": "SWAP"}), "positions")
                if row_size(r.get("pos"), "positions")
            ]
        except Malformed as e:
            rows, warnings = None, [f"{e}: positions unknown"]
        balance = _data(await self.ex.privateGetAccountBalance(), "account balance")
        if not balance:
            raise Malformed("account balance: empty data")
        state = self._account(balance[0], rows or [])
        state.warnings = warnings
        if rows is None:
            state.margin_in_use = 0.0
            return state
        state.rows = len(rows)
        sides = {str(r.get("posSide") or "net") for r in rows}
        state.hedge_mode = bool(sides - {"net"}) if sides else self.hedge_mode
        for row in rows:
            position = self._position(row, warnings)
            if position is not None and self.wanted(position.symbol):
                state.positions.append(position)
        return state

    def _position(self, row: dict[str, Any], warnings: list[str]) -> Position | None:
        market = self.market_by_id(str(row.get("instId")))
        if market is None:
            warnings.append(f"position in unknown instrument {row.get('instId')}: markets need a reload")
            return None
        symbol = market["symbol"]
        pos = num0(row.get("pos"))
        raw_side = str(row.get("posSide") or "net")
        if raw_side not in ("long", "short", "net"):
            raise Malformed(f"positions: {symbol} has posSide {raw_side!r}")
        position_side: PositionSide = "long" if raw_side == "long" else "short" if raw_side == "short" else "both"
        side: Side = "short" if raw_side == "short" or (raw_side == "net" and pos < 0) else "long"
        isolated = row.get("mgnMode") == "isolated"
        mode: MarginMode = "isolated" if isolated else "cross"
        contracts = abs(pos)
        inverse = bool(market.get("inverse"))
        return Position(
            symbol=symbol,
            side=side,
            contracts=contracts,
            entry_price=num0(row.get("avgPx")),
            mark_price=num0(row.get("markPx")),
            margin_mode=mode,
            tiers=None if inverse else self.tiers_for(symbol, contracts),
            collateral=num(row.get("margin")) if isolated else None,
            contract_size=self.contract_size(market),
            inverse=inverse,
            settle=str(market.get("settle") or row.get("ccy") or "USDT"),
            leverage=num(row.get("lever")),
            position_side=position_side,
            liquidation_price_reported=positive(row.get("liqPx")),
            maintenance_margin_reported=num(row.get("mmr")),
            unrealized_pnl_reported=num(row.get("upl")),
            liquidation_model="mark_tiered",
        )

    def _account(self, account: dict[str, Any], rows: list[dict[str, Any]]) -> FuturesState:
        isolated: dict[str, float] = {}
        for row in rows:
            if row.get("mgnMode") == "isolated":
                ccy = str(row.get("ccy") or "USDT")
                isolated[ccy] = isolated.get(ccy, 0.0) + num0(row.get("margin"))
        cross: dict[str, float] = {}
        free: dict[str, float] = {}
        ratios: list[float] = []
        in_use = max(num0(account.get(k)) for k in ("imr", "mmr", "isoEq"))
        for d in objects(account.get("details"), "account balance details"):
            ccy = str(d.get("ccy"))
            cross[ccy] = num0(d.get("cashBal")) - isolated.get(ccy, 0.0)
            free[ccy] = max(0.0, num0(d.get("availBal")))
            in_use = max(in_use, *(num0(d.get(k)) for k in ("imr", "mmr", "isoEq")))
            if positive(d.get("mgnRatio")):
                ratios.append(1.0 / num0(d.get("mgnRatio")))
        # Multi-currency and portfolio margin: cross positions draw on the account's adjusted
        # equity in USD (adjEq, which only those modes report), not on one currency's cash.
        usd_pool = None
        adj_eq = num(account.get("adjEq"))
        multi = self.account_level in ("3", "4") if self.account_level else adj_eq is not None
        if multi and adj_eq is not None:
            upl = num(account.get("upl"))
            if upl is None:
                upl = sum(num0(r.get("upl")) for r in rows if r.get("mgnMode") == "cross")
            usd_pool = adj_eq - upl
        account_ratio = positive(account.get("mgnRatio"))
        ratio = 1.0 / account_ratio if account_ratio else max(ratios, default=None)
        return account_state(
            cross_wallet=cross,
            free=free,
            usd_pool=usd_pool,
            margin_ratio=ratio,
            equity=num(account.get("adjEq")) or num(account.get("totalEq")),
            maintenance=num(account.get("mmr")),
            margin_in_use=in_use,
        )

    # -- money-moving calls -------------------------------------------------------------------

    @staticmethod
    def _pos_side(position_side: PositionSide) -> str:
        return "net" if position_side == "both" else position_side

    async def add_margin(self, symbol: str, position_side: PositionSide, amount: float) -> str | None:
        request = {
            "instId": self.market(symbol)["id"],
            "posSide": self._pos_side(position_side),
            "type": "add",
            "amt": self.ex.number_to_string(amount),
        }
        if not _data(await self.ex.privatePostAccountPositionMarginBalance(request), "margin balance"):
            raise Malformed("margin balance: empty data")
        return None

    async def transfer(self, currency: str, amount: float, source: str, client_id: str) -> str | None:
        if source != "funding":
            raise ActionRejected(f"okx: no transfer from {source!r} (allowed: funding; spot is the trading account)")
        request = {
            "ccy": currency,
            "amt": self.ex.number_to_string(amount),
            "from": "6",
            "to": "18",
            "type": "0",
            "clientId": client_id,
        }
        rows = _data(await self.ex.privatePostAssetTransfer(request), "asset transfer")
        if not rows or not rows[0].get("transId"):
            raise Malformed("asset transfer: no transId in the reply")
        return str(rows[0]["transId"])

    def order_params(
        self, *, margin_mode: MarginMode, position_side: PositionSide, reduce_only: bool, client_id: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": client_id, "marginMode": margin_mode}
        if position_side != "both":
            params["posSide"] = position_side
        elif reduce_only:
            params["reduceOnly"] = True
        return params

    # -- lookups for reconcile ----------------------------------------------------------------

    async def order_by_client_id(self, symbol: str, client_id: str) -> OrderState | None:
        try:
            order = await self.ex.fetch_order(None, symbol, {"clOrdId": client_id})
        except ccxt.OrderNotFound:
            return None
        return order_state(order)

    async def margin_added(self, symbol: str, position_side: PositionSide, amount: float, since: float) -> bool | None:
        request = {"instType": "SWAP", "type": "6", "subType": "160", "begin": str(int(since * 1000) - SLACK_MS)}
        inst = self.market(symbol)["id"]
        for row in _data(await self.ex.privateGetAccountBills(request), "bills"):
            size = num0(row.get("sz")) or abs(num0(row.get("posBalChg")))
            late_enough = num0(row.get("ts")) >= since * 1000 - SLACK_MS
            if row.get("instId") == inst and late_enough and abs(size - amount) <= 1e-6 * max(1.0, amount):
                return True
        return False

    async def transfer_done(
        self, currency: str, amount: float, source: str, client_id: str, since: float
    ) -> bool | None:
        try:
            rows = _data(await self.ex.privateGetAssetTransferState({"clientId": client_id}), "transfer state")
        except (ccxt.ExchangeNotAvailable, ccxt.BadRequest):
            rows = None  # no transfer-state endpoint behind this URL: fall back to the bills
        except ccxt.ExchangeError:
            return None  # an answer we cannot read as "never happened": still unknown
        if rows is not None:
            if not rows:
                return False
            state = str(rows[0].get("state"))
            return True if state == "success" else False if state == "failed" else None
        request = {"type": "1", "ccy": currency, "begin": str(int(since * 1000) - SLACK_MS)}
        for row in _data(await self.ex.privateGetAccountBills(request), "bills"):
            moved = num0(row.get("balChg"))
            late_enough = num0(row.get("ts")) >= since * 1000 - SLACK_MS
            if late_enough and moved > 0 and abs(moved - amount) <= 1e-6 * max(1.0, amount):
                return True
        return False
