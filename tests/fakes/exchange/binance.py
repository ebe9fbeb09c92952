"""Binance USDⓈ-M futures (fapi v1/v2/v3), spot account (api v3) and sapi wallet endpoints.

Signed requests: ``X-MBX-APIKEY`` header, HMAC-SHA256 hex ``signature`` over the query
string concatenated with the body (``signature`` excluded), ``timestamp`` must satisfy
``server - recvWindow <= timestamp < server + 1000`` (else ``-1021``).
"""

from __future__ import annotations

import hmac
from typing import Any, Literal, cast

from .binance_views import BinanceViews, decimals
from .common import ApiRequest, VenueError, flag, fnum
from .market import Account, MarginMode, MarketError, Order, PositionSide, Reason

ACCOUNT_IDS: dict[str, Account] = {"MAIN": "spot", "UMFUTURE": "futures", "FUNDING": "funding"}
ERRORS: dict[Reason, tuple[int, str]] = {
    Reason.INSUFFICIENT_MARGIN: (-2019, "Margin is insufficient."),
    Reason.INSUFFICIENT_BALANCE: (-5013, "Asset transfer failed: insufficient balance"),
    Reason.INSUFFICIENT_ISOLATED: (-4051, "Isolated balance insufficient."),
    Reason.REDUCE_ONLY_REJECTED: (-2022, "ReduceOnly Order is rejected."),
    Reason.POSITION_SIDE_MISMATCH: (-4061, "Order's position side does not match user's setting."),
    Reason.NO_POSITION: (-4054, "Cannot add position margin: position is 0."),
    Reason.NOT_ISOLATED: (-4049, "Add margin only support for isolated position."),
    Reason.DUPLICATE_CLIENT_ID: (-4116, "ClientOrderId is duplicated."),
    Reason.ORDER_NOT_FOUND: (-2013, "Order does not exist."),
    Reason.UNKNOWN_SYMBOL: (-1121, "Invalid symbol."),
    Reason.BAD_QUANTITY: (-4003, "Quantity less than or equal to zero."),
    Reason.MODE_CHANGE_REJECTED: (-4068, "Position side cannot be changed if there exists position."),
    Reason.NO_CHANGE: (-4059, "No need to change position side."),
}


def _split_signature(text: str) -> tuple[str, str | None]:
    if "signature=" not in text:
        return text, None
    head, _, sig = text.rpartition("signature=")
    return head[:-1] if head.endswith("&") else head, sig.split("&")[0]


class Binance(BinanceViews):
    name = "binance"

    def register(self) -> None:
        r = self.route
        r("GET", "/fapi/v1/ping", lambda req: {})
        r("GET", "/fapi/v1/time", self.time)
        r("GET", "/api/v3/time", self.time)
        r("GET", "/fapi/v1/exchangeInfo", self.exchange_info)
        r("GET", "/fapi/v1/premiumIndex", self.premium_index)
        r("GET", "/fapi/v1/ticker/24hr", self.ticker_24hr)
        r("GET", "/fapi/v1/ticker/price", self.ticker_price)
        r("GET", "/fapi/v1/leverageBracket", self.leverage_bracket, True)
        r("GET", "/fapi/v2/positionRisk", lambda req: self.position_risk(req, 2), True)
        r("GET", "/fapi/v3/positionRisk", lambda req: self.position_risk(req, 3), True)
        r("GET", "/fapi/v2/account", lambda req: self.account(2), True)
        r("GET", "/fapi/v3/account", lambda req: self.account(3), True)
        r("GET", "/fapi/v2/balance", self.balance, True)
        r("GET", "/fapi/v3/balance", self.balance, True)
        r("POST", "/fapi/v1/positionMargin", self.position_margin, True)
        r("GET", "/fapi/v1/positionMargin/history", self.position_margin_history, True)
        r("GET", "/fapi/v1/positionSide/dual", lambda req: {"dualSidePosition": self.market.hedge_mode}, True)
        r("POST", "/fapi/v1/positionSide/dual", self.set_dual, True)
        r("POST", "/fapi/v1/leverage", self.set_leverage, True)
        r("POST", "/fapi/v1/marginType", self.set_margin_type, True)
        r("POST", "/fapi/v1/order", self.new_order, True)
        r("GET", "/fapi/v1/order", self.query_order, True)
        r("DELETE", "/fapi/v1/order", self.cancel_order, True)
        r("GET", "/fapi/v1/openOrders", self.open_orders, True)
        r("GET", "/fapi/v1/allOrders", self.all_orders, True)
        r("GET", "/fapi/v1/userTrades", self.user_trades, True)
        r("GET", "/api/v3/account", self.spot_account, True)
        r("GET", "/sapi/v1/capital/config/getall", self.capital_config, True)
        r("POST", "/sapi/v1/asset/get-funding-asset", self.funding_asset, True)
        r("POST", "/sapi/v1/asset/transfer", self.transfer, True)
        r("GET", "/sapi/v1/asset/transfer", self.transfer_history, True)

    def bad_request(self, message: str) -> VenueError:
        return self.error(-1102, message)

    def not_found(self, req: ApiRequest) -> VenueError:
        return VenueError(404, {"code": -1000, "msg": f"Unknown path {req.method} {req.path}"})

    def market_error(self, err: MarketError) -> VenueError:
        code, msg = ERRORS.get(err.reason, (-1000, err.message))
        return self.error(code, msg)

    def fault_error(self, kind: str) -> VenueError:
        if kind == "http_429":
            return self.error(
                -1003,
                "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per "
                "minute. Please use the websocket for live updates to avoid polling the API.",
                429,
            )
        if kind == "http_418":
            return self.error(
                -1003,
                f"Way too many requests; IP(127.0.0.1) banned until {self.now() + 120000}. "
                "Please use the websocket for live updates to avoid bans.",
                418,
            )
        if kind == "nonce_error":
            return self.error(-1021, "Timestamp for this request is outside of the recvWindow.")
        return self.error(-2015, "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1", 401)

    def authenticate(self, req: ApiRequest) -> None:
        key = req.headers.get("X-MBX-APIKEY")
        if not key:
            raise self.error(-2014, "API-key format invalid.", 401)
        if key != self.server.api_key:
            raise self.fault_error("auth_error")
        query, qsig = _split_signature(req.raw_query)
        body, bsig = _split_signature(req.body)
        sig = qsig or bsig
        if not sig:
            raise self.bad_request("Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        if not hmac.compare_digest(self.hmac_hex(query + body), sig):
            raise self.error(-1022, "Signature for this request is not valid.")
        params = req.params
        (ts,) = self.require(params, "timestamp")
        recv = int(params.get("recvWindow") or 5000)
        if recv > 60000:
            raise self.error(-1131, "recvWindow must be less than 60000")
        now = self.now()
        if int(ts) >= now + 1000:
            raise self.error(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - int(ts) > recv:
            raise self.error(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _pside(self, req: ApiRequest) -> PositionSide:
        raw = str(req.params.get("positionSide") or "BOTH").lower()
        if raw not in ("both", "long", "short"):
            raise self.error(-4006, "Position side is invalid.")
        return raw  # type: ignore[return-value]

    def position_margin(self, req: ApiRequest) -> Any:
        sid, amount, kind = self.require(req.params, "symbol", "amount", "type")
        inst = self.inst(sid)
        amt = self.num(amount, "amount")
        if str(kind) not in ("1", "2"):
            raise self.error(-1130, "Data sent for parameter 'type' is not valid.")
        try:
            self.market.adjust_margin(inst.symbol, self._pside(req), amt, "add" if str(kind) == "1" else "reduce")
        except MarketError as e:
            if e.reason == Reason.INSUFFICIENT_MARGIN:
                raise self.error(-4050, "Cross balance insufficient.") from None
            raise
        return {"amount": amt, "code": 200, "msg": "Successfully modify position margin.", "type": int(kind)}

    def position_margin_history(self, req: ApiRequest) -> Any:
        (sid,) = self.require(req.params, "symbol")
        inst = self.inst(sid)
        kind = req.params.get("type")
        rows = [
            c
            for c in self.market.margin_changes
            if c.symbol == inst.symbol and (kind is None or (c.kind == "add") == (str(kind) == "1"))
        ]
        limit = int(req.params.get("limit") or 500)
        return [
            {
                "symbol": sid,
                "type": 1 if c.kind == "add" else 2,
                "deltaType": "USER_ADJUST",
                "amount": fnum(c.amount),
                "asset": "USDT",
                "time": c.time_ms,
                "positionSide": c.position_side.upper(),
            }
            for c in rows
        ][:limit]

    def set_dual(self, req: ApiRequest) -> Any:
        (value,) = self.require(req.params, "dualSidePosition")
        self.market.set_hedge_mode(flag(value))
        return {"code": 200, "msg": "success"}

    def set_leverage(self, req: ApiRequest) -> Any:
        sid, lev = self.require(req.params, "symbol", "leverage")
        inst = self.inst(sid)
        self.market.set_leverage(inst.symbol, int(lev))
        cap = next((t.cap for t in self.market.tier_table(inst.symbol).tiers if t.max_leverage >= int(lev)), 0.0)
        return {"leverage": int(lev), "maxNotionalValue": fnum(cap, 0), "symbol": sid}

    def set_margin_type(self, req: ApiRequest) -> Any:
        sid, mtype = self.require(req.params, "symbol", "marginType")
        inst = self.inst(sid)
        mode: MarginMode = "isolated" if str(mtype).upper() == "ISOLATED" else "cross"
        if self.market.margin_mode.get(inst.symbol, "cross") == mode:
            raise self.error(-4046, "No need to change margin type.")
        if any(p.symbol == inst.symbol for p in self.market.positions.values()):
            raise self.error(-4048, "Margin type cannot be changed if there exists position.")
        self.market.margin_mode[inst.symbol] = mode
        return {"code": 200, "msg": "success"}

    def new_order(self, req: ApiRequest) -> Any:
        p = req.params
        sid, side, otype = self.require(p, "symbol", "side", "type")
        inst = self.inst(sid)
        if str(otype).upper() not in ("MARKET", "LIMIT"):
            raise self.error(-1116, "Invalid orderType.")
        if str(side).upper() not in ("BUY", "SELL"):
            raise self.error(-1117, "Invalid side.")
        pside = self._pside(req)
        if pside != "both" and "reduceOnly" in p:
            raise self.error(-1106, "Parameter 'reduceonly' sent when not required.")
        (qty,) = self.require(p, "quantity")
        price = None
        if str(otype).upper() == "LIMIT":
            (raw_price,) = self.require(p, "price", "timeInForce")[:1]
            price = self.num(raw_price, "price")
        order = self.market.place_order(
            symbol=inst.symbol,
            side=cast(Literal["buy", "sell"], str(side).lower()),
            order_type=cast(Literal["market", "limit"], str(otype).lower()),
            contracts=self.num(qty, "quantity") / inst.contract_size,
            price=price,
            reduce_only=flag(p.get("reduceOnly", False)),
            position_side=pside,
            client_order_id=p.get("newClientOrderId"),
            time_in_force=str(p.get("timeInForce") or "GTC"),
            raw=p,
        )
        return self.order_json(order)

    def _find(self, req: ApiRequest) -> Order:
        (sid,) = self.require(req.params, "symbol")
        self.inst(sid)
        oid, cid = req.params.get("orderId"), req.params.get("origClientOrderId")
        if not oid and not cid:
            raise self.bad_request("Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return self.market.find_order(oid, cid)

    def query_order(self, req: ApiRequest) -> Any:
        return self.order_json(self._find(req))

    def cancel_order(self, req: ApiRequest) -> Any:
        o = self._find(req)
        return self.order_json(self.market.cancel_order(o.order_id))

    def open_orders(self, req: ApiRequest) -> Any:
        inst = self.symbol_param(req)
        return [self.order_json(o) for o in self.market.open_orders(inst.symbol if inst else None)]

    def all_orders(self, req: ApiRequest) -> Any:
        (sid,) = self.require(req.params, "symbol")
        inst = self.inst(sid)
        return [self.order_json(o) for o in self.market.orders.values() if o.symbol == inst.symbol]

    def user_trades(self, req: ApiRequest) -> Any:
        (sid,) = self.require(req.params, "symbol")
        inst = self.inst(sid)
        out = []
        for f in self.market.fills:
            if f.symbol != inst.symbol:
                continue
            qty = f.contracts * inst.contract_size
            out.append(
                {
                    "buyer": f.side == "buy",
                    "commission": fnum(f.fee),
                    "commissionAsset": "USDT",
                    "id": f.trade_id,
                    "maker": f.maker,
                    "orderId": f.order_id,
                    "price": fnum(f.price, decimals(inst.tick_size)),
                    "qty": fnum(qty, 3),
                    "quoteQty": fnum(qty * f.price, 5),
                    "realizedPnl": fnum(f.realized_pnl),
                    "side": f.side.upper(),
                    "positionSide": f.position_side.upper(),
                    "symbol": sid,
                    "time": f.time_ms,
                }
            )
        return out

    def transfer(self, req: ApiRequest) -> Any:
        ttype, asset, amount = self.require(req.params, "type", "asset", "amount")
        src, _, dst = str(ttype).partition("_")
        if "ISOLATED" in str(ttype):
            raise self.error(-11001, "Isolated margin account does not exist.")
        if src not in ACCOUNT_IDS or dst not in ACCOUNT_IDS:
            raise self.error(-1002, f"Transfer type {ttype} is not supported by the fake exchange.")
        tr = self.market.transfer(
            str(asset),
            self.num(amount, "amount"),
            ACCOUNT_IDS[src],
            ACCOUNT_IDS[dst],
            venue_type=str(ttype),
        )
        return {"tranId": tr.transfer_id}

    def transfer_history(self, req: ApiRequest) -> Any:
        (ttype,) = self.require(req.params, "type")
        start, end = req.params.get("startTime"), req.params.get("endTime")
        rows = [
            t
            for t in self.market.transfers
            if t.venue_type == ttype
            and (start is None or t.time_ms >= int(start))
            and (end is None or t.time_ms <= int(end))
        ]
        size = int(req.params.get("size") or 10)
        return {
            "total": len(rows),
            "rows": [
                {
                    "asset": t.currency,
                    "amount": fnum(t.amount),
                    "type": t.venue_type,
                    "status": "CONFIRMED",
                    "tranId": t.transfer_id,
                    "timestamp": t.time_ms,
                }
                for t in reversed(rows)
            ][:size],
        }

    def capital_config(self, req: ApiRequest) -> Any:
        """Used by ccxt ``fetch_currencies`` (skipped with ``options.fetchCurrencies=False``)."""
        coins = sorted({i.base for i in self.market.instruments.values()} | {"USDT"})
        return [
            {
                "coin": c,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "name": c,
                "free": "0",
                "locked": "0",
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "trading": True,
                "networkList": [
                    {
                        "network": "ETH",
                        "coin": c,
                        "withdrawIntegerMultiple": "0.00000001",
                        "isDefault": True,
                        "depositEnable": True,
                        "withdrawEnable": True,
                        "depositDesc": "",
                        "withdrawDesc": "",
                        "name": "Ethereum (ERC20)",
                        "resetAddressStatus": False,
                        "withdrawFee": "1",
                        "withdrawMin": "2",
                        "withdrawMax": "9999999999",
                        "depositDust": "0.00000001",
                        "minConfirm": 6,
                        "unLockConfirm": 64,
                        "sameAddress": False,
                        "busy": False,
                    }
                ],
            }
            for c in coins
        ]
