"""Bybit v5 (linear USDT perpetuals, UTA or classic account, asset transfers).

Signed requests: headers ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW``,
``X-BAPI-SIGN`` = HMAC-SHA256 hex of ``timestamp + apiKey + recvWindow + (query | body)``;
``server - recvWindow <= timestamp < server + 1000`` else ``retCode 10002``.
Account mapping: UNIFIED / CONTRACT → futures wallet, SPOT → spot, FUND → funding.
"""

from __future__ import annotations

import hmac
import uuid
from typing import Any

from .bybit_views import BybitViews, oid
from .common import ApiRequest, VenueError, tnum
from .market import MarketError, Order, PositionSide, Reason

IDX_TO_SIDE: dict[str, PositionSide] = {"0": "both", "1": "long", "2": "short"}
ERRORS: dict[Reason, tuple[int, str]] = {
    Reason.INSUFFICIENT_MARGIN: (110007, "ab not enough for new order"),
    Reason.INSUFFICIENT_BALANCE: (131212, "Insufficient balance in the from account"),
    Reason.INSUFFICIENT_ISOLATED: (110044, "Available margin is insufficient"),
    Reason.REDUCE_ONLY_REJECTED: (110017, "Reduce-only rule not satisfied"),
    Reason.POSITION_SIDE_MISMATCH: (10001, "position idx not match position mode"),
    Reason.NO_POSITION: (10001, "position not exists"),
    Reason.NOT_ISOLATED: (10001, "cross margin position cannot add margin"),
    Reason.DUPLICATE_CLIENT_ID: (110072, "OrderLinkedID is duplicate"),
    Reason.ORDER_NOT_FOUND: (110001, "order not exists or too late to cancel"),
    Reason.UNKNOWN_SYMBOL: (10001, "params error: symbol invalid"),
    Reason.BAD_QUANTITY: (10001, "Qty invalid"),
    Reason.MODE_CHANGE_REJECTED: (110024, "You have an existing position, so position mode cannot be switched"),
    Reason.NO_CHANGE: (110025, "Position mode is not modified"),
}


class Bybit(BybitViews):
    name = "bybit"

    def register(self) -> None:
        r = self.route
        r("GET", "/v5/market/time", self.time)
        r("GET", "/v5/market/instruments-info", self.instruments)
        r("GET", "/v5/market/tickers", self.tickers)
        r("GET", "/v5/market/risk-limit", self.risk_limit)
        r("GET", "/v5/user/query-api", self.query_api, True)
        r("GET", "/v5/account/info", self.account_info, True)
        r("GET", "/v5/asset/coin/query-info", self.coin_info, True)
        r("GET", "/v5/position/list", self.position_list, True)
        r("GET", "/v5/account/wallet-balance", self.wallet_balance, True)
        r("GET", "/v5/asset/transfer/query-account-coins-balance", self.coins_balance, True)
        r("GET", "/v5/asset/transfer/query-account-coin-balance", self.coins_balance, True)
        r("POST", "/v5/position/add-margin", self.add_margin, True)
        r("POST", "/v5/position/switch-mode", self.switch_mode, True)
        r("POST", "/v5/position/set-leverage", self.set_leverage, True)
        r("POST", "/v5/asset/transfer/inter-transfer", self.transfer, True)
        r("GET", "/v5/asset/transfer/query-inter-transfer-list", self.transfer_list, True)
        r("POST", "/v5/order/create", self.create_order, True)
        r("POST", "/v5/order/cancel", self.cancel_order, True)
        r("GET", "/v5/order/realtime", lambda req: self.orders(req, realtime=True), True)
        r("GET", "/v5/order/history", lambda req: self.orders(req, realtime=False), True)
        r("GET", "/v5/execution/list", self.executions, True)

    def bad_request(self, message: str) -> VenueError:
        return self.error(10001, message)

    def not_found(self, req: ApiRequest) -> VenueError:
        return VenueError(404, {"retCode": 10001, "retMsg": f"path not found: {req.path}"})

    def market_error(self, err: MarketError) -> VenueError:
        code, msg = ERRORS.get(err.reason, (10016, err.message))
        return self.error(code, msg)

    def fault_error(self, kind: str) -> VenueError:
        if kind in ("http_429", "http_418"):
            return self.error(10006, "Too many visits!", 429 if kind == "http_429" else 403)
        if kind == "nonce_error":
            return self.error(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{self.now() - 60000}],server_timestamp[{self.now()}],"
                "recv_window[5000]",
            )
        return self.error(10003, "API key is invalid.", 401)

    def malformed_body(self) -> str:
        return '{"retCode":0,"retMsg":"OK","result":{"list":[{"symbol":"BTCUSDT","size":"0.'

    def authenticate(self, req: ApiRequest) -> None:
        h = req.headers
        key, ts, recv, sign = (
            h.get("X-BAPI-API-KEY"),
            h.get("X-BAPI-TIMESTAMP"),
            h.get("X-BAPI-RECV-WINDOW", "5000"),
            h.get("X-BAPI-SIGN"),
        )
        if not key or key != self.server.api_key:
            raise self.fault_error("auth_error")
        if not ts or not sign:
            raise self.error(10004, "missing X-BAPI-TIMESTAMP or X-BAPI-SIGN header", 401)
        payload = ts + key + recv + (req.body if req.method == "POST" else req.raw_query)
        if not hmac.compare_digest(self.hmac_hex(payload), sign):
            raise self.error(10004, "error sign! origin_string[" + payload + "]", 401)
        now = self.now()
        if not (now - int(recv) <= int(ts) < now + 1000):
            raise self.error(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv}]",
            )

    def position_list(self, req: ApiRequest) -> Any:
        p = req.params
        if p.get("category") not in ("linear",):
            raise self.error(10001, "params error: category invalid")
        if not p.get("symbol") and not p.get("settleCoin") and not p.get("baseCoin"):
            raise self.error(10001, "symbol or settleCoin is required")
        wanted = {i.symbol for i in self.selected(req)}
        settle = p.get("settleCoin")
        rows = [
            self.position_json(pos)
            for pos in self.market.positions.values()
            if pos.symbol in wanted and (settle is None or self.market.instrument(pos.symbol).settle == settle)
        ]
        return self.ok({"list": rows, "nextPageCursor": "", "category": "linear"})

    def coins_balance(self, req: ApiRequest) -> Any:
        (atype,) = self.require(req.params, "accountType")
        account = self.account_of(str(atype))
        only = req.params.get("coin")
        rows = []
        for ccy, amount in sorted(self.market.wallets[account].items()):
            if only and ccy not in str(only).split(","):
                continue
            free = self.market.account(ccy).available if account == "futures" else amount
            rows.append({"coin": ccy, "walletBalance": tnum(amount), "transferBalance": tnum(free), "bonus": "0"})
        if req.path.endswith("coin-balance"):
            return self.ok(
                {
                    "accountType": atype,
                    "bizType": 1,
                    "accountId": "",
                    "memberId": "24617703",
                    "balance": rows[0]
                    if rows
                    else {"coin": only, "walletBalance": "0", "transferBalance": "0", "bonus": "0"},
                }
            )
        return self.ok({"memberId": "24617703", "accountType": atype, "balance": rows})

    def _pside(self, raw: Any) -> PositionSide:
        idx = str(raw if raw not in (None, "") else 0)
        if idx not in IDX_TO_SIDE:
            raise self.error(10001, "params error: positionIdx invalid")
        return IDX_TO_SIDE[idx]

    def add_margin(self, req: ApiRequest) -> Any:
        category, sid, margin = self.require(req.params, "category", "symbol", "margin")
        inst = self.inst(sid)
        amount = self.num(margin, "margin")
        pside = self._pside(req.params.get("positionIdx"))
        try:
            self.market.adjust_margin(inst.symbol, pside, abs(amount), "add" if amount > 0 else "reduce")
        except MarketError as e:
            if e.reason == Reason.INSUFFICIENT_MARGIN:
                raise self.error(110012, "Insufficient available balance") from None
            raise
        pos = self.market.positions[(inst.symbol, pside)]
        row = self.position_json(pos)
        keep = (
            "positionIdx",
            "riskId",
            "riskLimitValue",
            "size",
            "avgPrice",
            "liqPrice",
            "bustPrice",
            "markPrice",
            "positionValue",
            "leverage",
            "autoAddMargin",
            "positionStatus",
            "positionIM",
            "positionMM",
            "takeProfit",
            "stopLoss",
            "trailingStop",
            "unrealisedPnl",
            "cumRealisedPnl",
            "createdTime",
            "updatedTime",
        )
        return self.ok({"category": category, "symbol": sid, **{k: row[k] for k in keep}})

    def switch_mode(self, req: ApiRequest) -> Any:
        (mode,) = self.require(req.params, "mode")
        self.market.set_hedge_mode(str(mode) == "3")
        return self.ok({})

    def set_leverage(self, req: ApiRequest) -> Any:
        sid, buy = self.require(req.params, "symbol", "buyLeverage")
        inst = self.inst(sid)
        if self.market.leverage.get(inst.symbol) == float(buy):
            raise self.error(110043, "Set leverage not modified")
        self.market.set_leverage(inst.symbol, float(buy))
        return self.ok({})

    def transfer(self, req: ApiRequest) -> Any:
        tid, coin, amount, src, dst = self.require(
            req.params, "transferId", "coin", "amount", "fromAccountType", "toAccountType"
        )
        self.market.transfer(
            str(coin),
            self.num(amount, "amount"),
            self.account_of(str(src)),
            self.account_of(str(dst)),
            venue_type=f"{src}->{dst}",
            client_id=str(tid),
        )
        return self.ok({"transferId": tid, "status": "SUCCESS"}, "success")

    def transfer_list(self, req: ApiRequest) -> Any:
        coin = req.params.get("coin")
        rows = []
        for t in reversed(self.market.transfers):
            if coin and t.currency != coin:
                continue
            src, _, dst = t.venue_type.partition("->")
            rows.append(
                {
                    "transferId": t.client_id or str(t.transfer_id),
                    "coin": t.currency,
                    "amount": tnum(t.amount),
                    "fromAccountType": src,
                    "toAccountType": dst,
                    "timestamp": str(t.time_ms),
                    "status": "SUCCESS",
                }
            )
        return self.ok({"list": rows[: int(req.params.get("limit") or 20)], "nextPageCursor": ""}, "success")

    def create_order(self, req: ApiRequest) -> Any:
        p = req.params
        _, sid, side, otype, qty = self.require(p, "category", "symbol", "side", "orderType", "qty")
        inst = self.inst(sid)
        if otype not in ("Market", "Limit") or side not in ("Buy", "Sell"):
            raise self.error(10001, "params error: side or orderType invalid")
        price = self.num(self.require(p, "price")[0], "price") if otype == "Limit" else None
        order = self.market.place_order(
            symbol=inst.symbol,
            side="buy" if side == "Buy" else "sell",
            order_type="market" if otype == "Market" else "limit",
            contracts=self.num(qty, "qty") / inst.contract_size,
            price=price,
            reduce_only=bool(p.get("reduceOnly") in (True, "true")),
            position_side=self._pside(p.get("positionIdx")),
            client_order_id=p.get("orderLinkId"),
            time_in_force=str(p.get("timeInForce") or "GTC"),
            raw=p,
        )
        return self.ok({"orderId": oid(order), "orderLinkId": order.client_order_id})

    def _lookup(self, p: dict[str, Any]) -> Order:
        order_id, link_id = p.get("orderId"), p.get("orderLinkId")
        if order_id:
            try:
                found = self.market.find_order(uuid.UUID(str(order_id)).int)
            except ValueError:
                raise MarketError(Reason.ORDER_NOT_FOUND, str(order_id)) from None
            if link_id and found.client_order_id != link_id:
                raise MarketError(Reason.ORDER_NOT_FOUND, str(link_id))
            return found
        return self.market.find_order(None, link_id)

    def cancel_order(self, req: ApiRequest) -> Any:
        order = self.market.cancel_order(self._lookup(req.params).order_id)
        return self.ok({"orderId": oid(order), "orderLinkId": order.client_order_id})

    def orders(self, req: ApiRequest, realtime: bool) -> Any:
        p = req.params
        wanted = {i.symbol for i in self.selected(req)}
        if p.get("orderId") or p.get("orderLinkId"):
            try:
                found = [self._lookup(p)]
            except MarketError:
                found = []
        elif realtime and str(p.get("openOnly") or "0") == "0":
            found = [o for o in self.market.orders.values() if o.status == "new"]
        elif realtime:
            found = [o for o in self.market.orders.values() if o.status != "new"][-500:]
        else:
            found = list(self.market.orders.values())
        rows = [self.order_json(o) for o in reversed(found) if o.symbol in wanted]
        return self.ok({"list": rows[: int(p.get("limit") or 50)], "nextPageCursor": "", "category": "linear"})

    def executions(self, req: ApiRequest) -> Any:
        wanted = {i.symbol for i in self.selected(req)}
        rows = []
        for f in reversed(self.market.fills):
            if f.symbol not in wanted:
                continue
            inst = self.market.instrument(f.symbol)
            o = self.market.orders.get(f.order_id)
            qty = f.contracts * inst.contract_size
            rows.append(
                {
                    "symbol": self.sid(inst),
                    "orderType": o.order_type.capitalize() if o else "Market",
                    "underlyingPrice": "",
                    "orderLinkId": o.client_order_id if o else "",
                    "side": "Buy" if f.side == "buy" else "Sell",
                    "indexPrice": "",
                    "orderId": oid(o) if o else "",
                    "stopOrderType": "UNKNOWN",
                    "leavesQty": "0",
                    "execTime": str(f.time_ms),
                    "feeCurrency": "",
                    "isMaker": f.maker,
                    "execFee": tnum(f.fee),
                    "feeRate": tnum(self.market.maker_fee if f.maker else self.market.taker_fee),
                    "execId": str(uuid.UUID(int=f.trade_id)),
                    "tradeIv": "",
                    "blockTradeId": "",
                    "markPrice": tnum(f.price),
                    "execPrice": tnum(f.price),
                    "markIv": "",
                    "orderQty": tnum(qty),
                    "orderPrice": tnum(o.price or 0) if o else "0",
                    "execValue": tnum(qty * f.price),
                    "execType": "Trade",
                    "execQty": tnum(qty),
                    "closedSize": tnum(qty if f.realized_pnl else 0),
                    "seq": f.trade_id,
                }
            )
        return self.ok({"list": rows[: int(req.params.get("limit") or 50)], "nextPageCursor": "", "category": "linear"})
