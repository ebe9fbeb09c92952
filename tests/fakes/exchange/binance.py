"""Binance USDⓈ-M futures (fapi v1/v2/v3), spot account (api v3) and sapi wallet endpoints.

Signed requests: ``X-MBX-APIKEY`` header, HMAC-SHA256 hex ``signature`` over the query
string concatenated with the body (``signature`` excluded), ``timestamp`` must satisfy
``server - recvWindow <= timestamp < server + 1000`` (else ``-1021``).
"""

from __future__ import annotations

import hmac
import math
from typing import Any

from .common import ApiRequest, Venue, VenueError, flag, fnum
from .market import Instrument, MarketError, Order, Position, PositionSide, Reason

ACCOUNT_IDS: dict[str, str] = {"MAIN": "spot", "UMFUTURE": "futures", "FUNDING": "funding"}
STATUS = {"new": "NEW", "filled": "FILLED", "canceled": "CANCELED", "rejected": "REJECTED"}
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


def decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0


def _split_signature(text: str) -> tuple[str, str | None]:
    if "signature=" not in text:
        return text, None
    head, _, sig = text.rpartition("signature=")
    return head[:-1] if head.endswith("&") else head, sig.split("&")[0]


class Binance(Venue):
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
        r("POST", "/sapi/v1/asset/get-funding-asset", self.funding_asset, True)
        r("POST", "/sapi/v1/asset/transfer", self.transfer, True)
        r("GET", "/sapi/v1/asset/transfer", self.transfer_history, True)

    # ------------------------------------------------------------------ errors / auth
    def error(self, code: int, msg: str, status: int = 400) -> VenueError:
        return VenueError(status, {"code": code, "msg": msg})

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

    # ------------------------------------------------------------------ ids
    def sid(self, inst: Instrument) -> str:
        return inst.base + inst.quote

    def inst(self, symbol_id: str) -> Instrument:
        for inst in self.market.instruments.values():
            if self.sid(inst) == symbol_id:
                return inst
        raise self.error(-1121, "Invalid symbol.")

    def symbol_param(self, req: ApiRequest) -> Instrument | None:
        sid = req.params.get("symbol")
        return self.inst(sid) if sid else None

    # ------------------------------------------------------------------ public
    def time(self, req: ApiRequest) -> Any:
        return {"serverTime": self.now()}

    def exchange_info(self, req: ApiRequest) -> Any:
        symbols = []
        for inst in self.market.instruments.values():
            pd, qd = decimals(inst.tick_size), decimals(inst.lot_size)
            symbols.append(
                {
                    "symbol": self.sid(inst),
                    "pair": self.sid(inst),
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000,
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": inst.base,
                    "quoteAsset": inst.quote,
                    "marginAsset": inst.settle,
                    "pricePrecision": pd,
                    "quantityPrecision": qd,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": ["PoW"],
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500",
                    "marketTakeBound": "0.05",
                    "maxMoveOrderLimit": 10000,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": fnum(inst.tick_size, pd),
                            "maxPrice": "4529764",
                            "tickSize": fnum(inst.tick_size, pd),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": fnum(inst.min_qty, qd),
                            "maxQty": "1000",
                            "stepSize": fnum(inst.lot_size, qd),
                        },
                        {
                            "filterType": "MARKET_LOT_SIZE",
                            "minQty": fnum(inst.min_qty, qd),
                            "maxQty": "120",
                            "stepSize": fnum(inst.lot_size, qd),
                        },
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": "5"},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": "1.0500",
                            "multiplierDown": "0.9500",
                            "multiplierDecimal": "4",
                        },
                    ],
                    "orderTypes": [
                        "LIMIT",
                        "MARKET",
                        "STOP",
                        "STOP_MARKET",
                        "TAKE_PROFIT",
                        "TAKE_PROFIT_MARKET",
                        "TRAILING_STOP_MARKET",
                    ],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
                    "permissionSet": ["GRID", "COPY"],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.now(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": symbols,
        }

    def _per_symbol(self, req: ApiRequest, fn: Any) -> Any:
        one = self.symbol_param(req)
        if one is not None:
            return fn(one)
        return [fn(i) for i in self.market.instruments.values()]

    def premium_index(self, req: ApiRequest) -> Any:
        def row(inst: Instrument) -> dict[str, Any]:
            mark = self.market.mark(inst.symbol)
            return {
                "symbol": self.sid(inst),
                "markPrice": fnum(mark),
                "indexPrice": fnum(mark),
                "estimatedSettlePrice": fnum(mark),
                "lastFundingRate": "0.00010000",
                "interestRate": "0.00010000",
                "nextFundingTime": (self.now() // 28_800_000 + 1) * 28_800_000,
                "time": self.now(),
            }

        return self._per_symbol(req, row)

    def ticker_24hr(self, req: ApiRequest) -> Any:
        def row(inst: Instrument) -> dict[str, Any]:
            m = self.market.mark(inst.symbol)
            pd = decimals(inst.tick_size)
            return {
                "symbol": self.sid(inst),
                "priceChange": fnum(0, pd),
                "priceChangePercent": "0.000",
                "weightedAvgPrice": fnum(m, pd),
                "lastPrice": fnum(m, pd),
                "lastQty": "0.010",
                "openPrice": fnum(m, pd),
                "highPrice": fnum(m, pd),
                "lowPrice": fnum(m, pd),
                "volume": "1000.000",
                "quoteVolume": fnum(1000 * m, 2),
                "openTime": self.now() - 86_400_000,
                "closeTime": self.now(),
                "firstId": 1,
                "lastId": 1000,
                "count": 1000,
            }

        return self._per_symbol(req, row)

    def ticker_price(self, req: ApiRequest) -> Any:
        return self._per_symbol(
            req,
            lambda i: {
                "symbol": self.sid(i),
                "price": fnum(self.market.mark(i.symbol), decimals(i.tick_size)),
                "time": self.now(),
            },
        )

    # ------------------------------------------------------------------ risk / account
    def leverage_bracket(self, req: ApiRequest) -> Any:
        def row(inst: Instrument) -> dict[str, Any]:
            tiers = self.market.tier_table(inst.symbol).tiers
            return {
                "symbol": self.sid(inst),
                "notionalCoef": 1.0,
                "brackets": [
                    {
                        "bracket": t.tier,
                        "initialLeverage": int(t.max_leverage),
                        "notionalCap": t.cap,
                        "notionalFloor": t.floor,
                        "maintMarginRatio": t.mmr,
                        "cum": t.cum,
                    }
                    for t in tiers
                ],
            }

        return self._per_symbol(req, row)

    def _pos_fields(self, p: Position) -> dict[str, Any]:
        m = self.market
        sign = 1 if p.side == "long" else -1
        upnl = m.unrealized_pnl(p)
        lp = m.liquidation_price(p)
        iso = p.margin_mode == "isolated"
        return {
            "symbol": self.sid(m.instrument(p.symbol)),
            "positionSide": p.position_side.upper(),
            "positionAmt": fnum(sign * m.base_qty(p), 3),
            "entryPrice": fnum(p.entry_price),
            "breakEvenPrice": fnum(p.entry_price * (1 + sign * 2 * m.taker_fee)),
            "markPrice": fnum(m.mark(p.symbol)),
            "unRealizedProfit": fnum(upnl),
            "liquidationPrice": fnum(lp) if lp is not None else "0",
            "isolatedMargin": fnum(p.isolated_margin + upnl) if iso else "0",
            "notional": fnum(sign * m.notional(p)),
            "marginAsset": "USDT",
            "isolatedWallet": fnum(p.isolated_margin) if iso else "0",
            "initialMargin": fnum(m.initial_margin(p)),
            "maintMargin": fnum(m.maintenance_margin(p)),
            "positionInitialMargin": fnum(m.initial_margin(p)),
            "openOrderInitialMargin": "0",
            "adl": 1,
            "bidNotional": "0",
            "askNotional": "0",
            "updateTime": p.updated_ms,
        }

    def _zero_fields(self, inst: Instrument, pside: PositionSide, lev: float) -> dict[str, Any]:
        mode = self.market.margin_mode.get(inst.symbol, "cross")
        return {
            "symbol": self.sid(inst),
            "positionSide": pside.upper(),
            "positionAmt": "0.000",
            "entryPrice": "0.0",
            "breakEvenPrice": "0.0",
            "markPrice": fnum(self.market.mark(inst.symbol)),
            "unRealizedProfit": "0.00000000",
            "liquidationPrice": "0",
            "isolatedMargin": "0.00000000",
            "notional": "0",
            "marginAsset": "USDT",
            "isolatedWallet": "0",
            "initialMargin": "0",
            "maintMargin": "0",
            "positionInitialMargin": "0",
            "openOrderInitialMargin": "0",
            "adl": 0,
            "bidNotional": "0",
            "askNotional": "0",
            "updateTime": 0,
            "leverage": str(int(lev)),
            "marginType": mode,
            "isolated": mode == "isolated",
        }

    def _v2(self, row: dict[str, Any], lev: float, mode: str, cap: float) -> dict[str, Any]:
        keep = (
            "symbol",
            "positionAmt",
            "entryPrice",
            "breakEvenPrice",
            "markPrice",
            "unRealizedProfit",
            "liquidationPrice",
            "isolatedMargin",
            "notional",
            "isolatedWallet",
            "positionSide",
            "updateTime",
        )
        out = {k: row[k] for k in keep}
        out.update(
            {
                "leverage": str(int(lev)),
                "maxNotionalValue": fnum(cap, 0),
                "marginType": mode,
                "isAutoAddMargin": "false",
            }
        )
        return out

    def _slots(self) -> list[tuple[Instrument, PositionSide]]:
        sides: tuple[PositionSide, ...] = ("long", "short") if self.market.hedge_mode else ("both",)
        return [(i, s) for i in self.market.instruments.values() for s in sides]

    def position_risk(self, req: ApiRequest, version: int) -> Any:
        only = self.symbol_param(req)
        out: list[dict[str, Any]] = []
        for inst, pside in self._slots():
            if only is not None and inst.symbol != only.symbol:
                continue
            pos = self.market.positions.get((inst.symbol, pside))
            lev = pos.leverage if pos else self.market.leverage.get(inst.symbol, 20.0)
            mode = pos.margin_mode if pos else self.market.margin_mode.get(inst.symbol, "cross")
            cap = next((t.cap for t in self.market.tier_table(inst.symbol).tiers if t.max_leverage >= lev), 0.0)
            if pos is not None:
                row = self._pos_fields(pos)
            elif version == 3:
                if not self.market.open_orders(inst.symbol):
                    continue  # v3 lists only symbols with a position or open orders
                row = self._zero_fields(inst, pside, lev)
            else:
                row = self._zero_fields(inst, pside, lev)
            out.append(row if version == 3 else self._v2(row, lev, mode, cap))
        if version == 3:
            for row in out:
                row.pop("leverage", None), row.pop("marginType", None), row.pop("isolated", None)
        return out

    def _totals(self) -> dict[str, str]:
        st = self.market.account()
        return {
            "totalInitialMargin": fnum(st.position_initial_margin + st.order_initial_margin),
            "totalMaintMargin": fnum(st.maint_margin),
            "totalWalletBalance": fnum(st.wallet_balance),
            "totalUnrealizedProfit": fnum(st.unrealized_pnl),
            "totalMarginBalance": fnum(st.margin_balance),
            "totalPositionInitialMargin": fnum(st.position_initial_margin),
            "totalOpenOrderInitialMargin": fnum(st.order_initial_margin),
            "totalCrossWalletBalance": fnum(st.cross_wallet),
            "totalCrossUnPnl": fnum(st.cross_unrealized_pnl),
            "availableBalance": fnum(st.available),
            "maxWithdrawAmount": fnum(min(st.available, st.cross_wallet)),
        }

    def _assets(self, version: int) -> list[dict[str, Any]]:
        out = []
        for ccy in sorted(set(self.market.wallets["futures"]) | {"USDT"}):
            st = self.market.account(ccy)
            row = {
                "asset": ccy,
                "walletBalance": fnum(st.wallet_balance),
                "unrealizedProfit": fnum(st.unrealized_pnl),
                "marginBalance": fnum(st.margin_balance),
                "maintMargin": fnum(st.maint_margin),
                "initialMargin": fnum(st.position_initial_margin + st.order_initial_margin),
                "positionInitialMargin": fnum(st.position_initial_margin),
                "openOrderInitialMargin": fnum(st.order_initial_margin),
                "crossWalletBalance": fnum(st.cross_wallet),
                "crossUnPnl": fnum(st.cross_unrealized_pnl),
                "availableBalance": fnum(st.available),
                "maxWithdrawAmount": fnum(min(st.available, st.cross_wallet)),
                "updateTime": self.now(),
            }
            if version == 2:
                row["marginAvailable"] = True
            out.append(row)
        return out

    def account(self, version: int) -> Any:
        m = self.market
        positions = []
        for inst, pside in self._slots():
            pos = m.positions.get((inst.symbol, pside))
            if pos is None and version == 3:
                continue
            lev = pos.leverage if pos else m.leverage.get(inst.symbol, 20.0)
            row = self._pos_fields(pos) if pos else self._zero_fields(inst, pside, lev)
            entry = {
                "symbol": row["symbol"],
                "positionSide": row["positionSide"],
                "positionAmt": row["positionAmt"],
                "unrealizedProfit": row["unRealizedProfit"],
                "isolatedMargin": row["isolatedMargin"],
                "notional": row["notional"],
                "isolatedWallet": row["isolatedWallet"],
                "initialMargin": row["initialMargin"],
                "maintMargin": row["maintMargin"],
                "updateTime": row["updateTime"],
            }
            if version == 2:
                entry.update(
                    {
                        "positionInitialMargin": row["positionInitialMargin"],
                        "openOrderInitialMargin": "0",
                        "leverage": str(int(lev)),
                        "isolated": (pos.margin_mode if pos else m.margin_mode.get(inst.symbol, "cross")) == "isolated",
                        "entryPrice": row["entryPrice"],
                        "breakEvenPrice": row["breakEvenPrice"],
                        "maxNotional": "1000000",
                        "bidNotional": "0",
                        "askNotional": "0",
                    }
                )
            positions.append(entry)
        out: dict[str, Any] = dict(self._totals())
        if version == 2:
            out.update(
                {
                    "feeTier": 0,
                    "feeBurn": True,
                    "canTrade": True,
                    "canDeposit": True,
                    "canWithdraw": True,
                    "updateTime": 0,
                    "multiAssetsMargin": False,
                    "tradeGroupId": -1,
                }
            )
        out["assets"] = self._assets(version)
        out["positions"] = positions
        return out

    def balance(self, req: ApiRequest) -> Any:
        return [
            {
                "accountAlias": "SgsR",
                "asset": a["asset"],
                "balance": a["walletBalance"],
                "crossWalletBalance": a["crossWalletBalance"],
                "crossUnPnl": a["crossUnPnl"],
                "availableBalance": a["availableBalance"],
                "maxWithdrawAmount": a["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": a["updateTime"],
            }
            for a in self._assets(2)
        ]

    # ------------------------------------------------------------------ margin / mode
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
        mode = "isolated" if str(mtype).upper() == "ISOLATED" else "cross"
        if self.market.margin_mode.get(inst.symbol, "cross") == mode:
            raise self.error(-4046, "No need to change margin type.")
        if any(p.symbol == inst.symbol for p in self.market.positions.values()):
            raise self.error(-4048, "Margin type cannot be changed if there exists position.")
        self.market.margin_mode[inst.symbol] = mode
        return {"code": 200, "msg": "success"}

    # ------------------------------------------------------------------ orders
    def order_json(self, o: Order) -> dict[str, Any]:
        inst = self.market.instrument(o.symbol)
        pd, qd = decimals(inst.tick_size), decimals(inst.lot_size)
        return {
            "orderId": o.order_id,
            "symbol": self.sid(inst),
            "status": STATUS[o.status],
            "clientOrderId": o.client_order_id,
            "price": fnum(o.price or 0, pd),
            "avgPrice": fnum(o.avg_price, pd),
            "origQty": fnum(o.contracts, qd),
            "executedQty": fnum(o.filled, qd),
            "cumQty": fnum(o.filled, qd),
            "cumQuote": fnum(o.filled * o.avg_price, 5),
            "timeInForce": o.time_in_force,
            "type": o.order_type.upper(),
            "reduceOnly": o.reduce_only,
            "closePosition": False,
            "side": o.side.upper(),
            "positionSide": o.position_side.upper(),
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": o.order_type.upper(),
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "time": o.created_ms,
            "updateTime": o.updated_ms,
        }

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
            side=str(side).lower(),
            order_type=str(otype).lower(),  # type: ignore[arg-type]
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

    # ------------------------------------------------------------------ wallets
    def spot_account(self, req: ApiRequest) -> Any:
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00100000",
                "taker": "0.00100000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.now(),
            "accountType": "SPOT",
            "balances": [
                {"asset": c, "free": fnum(v), "locked": "0.00000000"}
                for c, v in sorted(self.market.wallets["spot"].items())
            ],
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def funding_asset(self, req: ApiRequest) -> Any:
        only = req.params.get("asset")
        return [
            {"asset": c, "free": fnum(v), "locked": "0", "freeze": "0", "withdrawing": "0", "btcValuation": "0"}
            for c, v in sorted(self.market.wallets["funding"].items())
            if (only is None or c == only) and v > 0
        ]

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
            ACCOUNT_IDS[src],  # type: ignore[arg-type]
            ACCOUNT_IDS[dst],
            venue_type=str(ttype),
        )  # type: ignore[arg-type]
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
