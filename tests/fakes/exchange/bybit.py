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

from .common import ApiRequest, Venue, VenueError, tnum
from .market import Account, Instrument, MarketError, Order, Position, PositionSide, Reason

ACCOUNTS: dict[str, Account] = {"UNIFIED": "futures", "CONTRACT": "futures", "SPOT": "spot", "FUND": "funding"}
STATUS = {"new": "New", "filled": "Filled", "canceled": "Cancelled", "rejected": "Rejected"}
IDX_TO_SIDE: dict[str, PositionSide] = {"0": "both", "1": "long", "2": "short"}
SIDE_TO_IDX = {"both": 0, "long": 1, "short": 2}
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


def oid(order: Order) -> str:
    return str(uuid.UUID(int=order.order_id))


class Bybit(Venue):
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

    # ------------------------------------------------------------------ envelope / errors
    def ok(self, result: Any, msg: str = "OK") -> dict[str, Any]:
        return {"retCode": 0, "retMsg": msg, "result": result, "retExtInfo": {}, "time": self.now()}

    def error(self, code: int, msg: str, status: int = 200) -> VenueError:
        return VenueError(status, {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {},
                                   "time": self.now()})

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
            return self.error(10002, "invalid request, please check your server timestamp or recv_window param. "
                              f"req_timestamp[{self.now() - 60000}],server_timestamp[{self.now()}],"
                              "recv_window[5000]")
        return self.error(10003, "API key is invalid.", 401)

    def authenticate(self, req: ApiRequest) -> None:
        h = req.headers
        key, ts, recv, sign = (h.get("X-BAPI-API-KEY"), h.get("X-BAPI-TIMESTAMP"), h.get("X-BAPI-RECV-WINDOW", "5000"),
                               h.get("X-BAPI-SIGN"))
        if not key or key != self.server.api_key:
            raise self.fault_error("auth_error")
        if not ts or not sign:
            raise self.error(10004, "missing X-BAPI-TIMESTAMP or X-BAPI-SIGN header", 401)
        payload = ts + key + recv + (req.body if req.method == "POST" else req.raw_query)
        if not hmac.compare_digest(self.hmac_hex(payload), sign):
            raise self.error(10004, "error sign! origin_string[" + payload + "]", 401)
        now = self.now()
        if not (now - int(recv) <= int(ts) < now + 1000):
            raise self.error(10002, "invalid request, please check your server timestamp or recv_window param. "
                             f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv}]")

    # ------------------------------------------------------------------ helpers
    def sid(self, inst: Instrument) -> str:
        return inst.base + inst.quote

    def inst(self, symbol_id: str) -> Instrument:
        for inst in self.market.instruments.values():
            if self.sid(inst) == symbol_id:
                return inst
        raise self.error(10001, "params error: symbol invalid")

    def selected(self, req: ApiRequest) -> list[Instrument]:
        category = req.params.get("category")
        if category not in (None, "linear"):
            return []
        sid = req.params.get("symbol")
        return [self.inst(sid)] if sid else list(self.market.instruments.values())

    def account_of(self, account_type: str) -> Account:
        if account_type not in ACCOUNTS:
            raise self.error(10001, f"accountType {account_type} invalid")
        return ACCOUNTS[account_type]

    # ------------------------------------------------------------------ public
    def time(self, req: ApiRequest) -> Any:
        now = self.now()
        return self.ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    def instruments(self, req: ApiRequest) -> Any:
        rows = []
        if req.params.get("status") != "PreLaunch":
            for inst in self.selected(req):
                rows.append({
                    "symbol": self.sid(inst), "contractType": "LinearPerpetual", "status": "Trading",
                    "baseCoin": inst.base, "quoteCoin": inst.quote, "launchTime": "1585526400000",
                    "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": str(len(tnum(inst.tick_size)) - 2),
                    "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{inst.max_leverage:.2f}",
                                       "leverageStep": "0.01"},
                    "priceFilter": {"minPrice": tnum(inst.tick_size), "maxPrice": "1999999.80",
                                    "tickSize": tnum(inst.tick_size)},
                    "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": tnum(inst.min_qty),
                                      "qtyStep": tnum(inst.lot_size), "postOnlyMaxOrderQty": "1190.000",
                                      "maxMktOrderQty": "500.000", "minNotionalValue": "5"},
                    "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": inst.settle,
                    "copyTrading": "both", "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375",
                    "isPreListing": False, "preListingInfo": None,
                    "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}})
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    def tickers(self, req: ApiRequest) -> Any:
        rows = []
        for inst in self.selected(req):
            m = tnum(self.market.mark(inst.symbol), 2)
            rows.append({"symbol": self.sid(inst), "lastPrice": m, "indexPrice": m, "markPrice": m,
                         "prevPrice24h": m, "price24hPcnt": "0", "highPrice24h": m, "lowPrice24h": m,
                         "prevPrice1h": m, "openInterest": "50000", "openInterestValue": "0",
                         "turnover24h": "0", "volume24h": "0", "fundingRate": "0.0001",
                         "nextFundingTime": str((self.now() // 28_800_000 + 1) * 28_800_000),
                         "predictedDeliveryPrice": "", "basisRate": "", "deliveryFeeRate": "", "deliveryTime": "0",
                         "ask1Size": "1", "bid1Price": m, "ask1Price": m, "bid1Size": "1", "basis": ""})
        return self.ok({"category": "linear", "list": rows})

    def risk_limit(self, req: ApiRequest) -> Any:
        rows = []
        for inst in self.selected(req):
            for t in self.market.tier_table(inst.symbol).tiers:
                rows.append({"id": t.tier, "symbol": self.sid(inst), "riskLimitValue": tnum(t.cap),
                             "maintenanceMargin": tnum(t.mmr), "initialMargin": tnum(t.imr),
                             "isLowestRisk": 1 if t.tier == 1 else 0, "maxLeverage": f"{t.max_leverage:.2f}",
                             "mmDeduction": tnum(t.cum) if t.cum else ""})
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    # ------------------------------------------------------------------ account probes
    def query_api(self, req: ApiRequest) -> Any:
        return self.ok({"id": "13770661", "note": "fake", "apiKey": self.server.api_key, "readOnly": 0,
                        "secret": "", "permissions": {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"],
                                                      "Wallet": ["AccountTransfer"], "Options": [], "Derivatives": [],
                                                      "Exchange": [], "NFT": [], "BlockTrade": [], "Affiliate": [],
                                                      "CopyTrading": []},
                        "ips": ["*"], "type": 1, "deadlineDay": 83, "expiredAt": "2099-01-01T00:00:00Z",
                        "createdAt": "2024-01-01T00:00:00Z", "unified": 0, "uta": 1 if self.server.bybit_unified else 0,
                        "userID": 24617703, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
                        "affiliateID": 0, "rsaPublicKey": "", "isMaster": True, "parentUid": "0",
                        "kycLevel": "LEVEL_1", "kycRegion": ""})

    def account_info(self, req: ApiRequest) -> Any:
        iso = any(p.margin_mode == "isolated" for p in self.market.positions.values()) or (
            "isolated" in self.market.margin_mode.values())
        return self.ok({"marginMode": "ISOLATED_MARGIN" if iso else "REGULAR_MARGIN",
                        "updatedTime": str(self.now()), "unifiedMarginStatus": 6 if self.server.bybit_unified else 1,
                        "dcpStatus": "OFF", "timeWindow": 0, "smpGroup": 0, "isMasterTrader": False,
                        "spotHedgingStatus": "OFF"})

    def coin_info(self, req: ApiRequest) -> Any:
        coins = sorted({i.base for i in self.market.instruments.values()} | {"USDT"})
        return self.ok({"rows": [{"name": c, "coin": c, "remainAmount": "1000000", "chains": [
            {"chainType": "ETH", "confirmation": "12", "withdrawFee": "1", "depositMin": "0", "withdrawMin": "1",
             "chain": "ETH", "chainDeposit": "1", "chainWithdraw": "1", "minAccuracy": "8",
             "withdrawPercentageFee": "0", "contractAddress": "", "safeConfirmNumber": "6"}]} for c in coins]})

    # ------------------------------------------------------------------ positions / balances
    def position_json(self, p: Position) -> dict[str, Any]:
        m = self.market
        inst = m.instrument(p.symbol)
        size = m.base_qty(p)
        value = size * p.entry_price
        tier = m.tier_table(p.symbol).for_value(value)
        lp = m.liquidation_price(p)
        iso = p.margin_mode == "isolated"
        im = m.initial_margin(p)
        bust = None
        if iso:
            bust = p.entry_price - p.isolated_margin / size if p.side == "long" else (
                p.entry_price + p.isolated_margin / size)
        mm = m.maintenance_margin(p)
        return {
            "positionIdx": SIDE_TO_IDX[p.position_side], "riskId": tier.tier, "riskLimitValue": tnum(tier.cap),
            "symbol": self.sid(inst), "side": "Buy" if p.side == "long" else "Sell", "size": tnum(size),
            "avgPrice": tnum(p.entry_price), "positionValue": tnum(value), "tradeMode": 1 if iso else 0,
            "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": 2, "leverage": tnum(p.leverage),
            "positionBalance": tnum(p.isolated_margin if iso else im), "markPrice": tnum(m.mark(p.symbol), 2),
            "liqPrice": tnum(lp, 2) if lp is not None else "", "bustPrice": tnum(bust, 2) if bust else "",
            "positionMM": tnum(mm), "positionMMByMp": tnum(mm), "positionIM": tnum(p.isolated_margin if iso else im),
            "positionIMByMp": tnum(p.isolated_margin if iso else im), "tpslMode": "Full", "takeProfit": "0",
            "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": tnum(m.unrealized_pnl(p)),
            "curRealisedPnl": tnum(p.realized_pnl), "cumRealisedPnl": tnum(p.realized_pnl), "seq": p.updated_ms,
            "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "sessionAvgPrice": "",
            "createdTime": str(p.created_ms), "updatedTime": str(p.updated_ms),
        }

    def position_list(self, req: ApiRequest) -> Any:
        p = req.params
        if p.get("category") not in ("linear",):
            raise self.error(10001, "params error: category invalid")
        if not p.get("symbol") and not p.get("settleCoin") and not p.get("baseCoin"):
            raise self.error(10001, "symbol or settleCoin is required")
        wanted = {i.symbol for i in self.selected(req)}
        settle = p.get("settleCoin")
        rows = [self.position_json(pos) for pos in self.market.positions.values()
                if pos.symbol in wanted and (settle is None or self.market.instrument(pos.symbol).settle == settle)]
        return self.ok({"list": rows, "nextPageCursor": "", "category": "linear"})

    def wallet_balance(self, req: ApiRequest) -> Any:
        (atype,) = self.require(req.params, "accountType")
        account = self.account_of(str(atype))
        if account == "funding":
            raise self.error(10001, "accountType only support UNIFIED/CONTRACT/SPOT")
        m = self.market
        coins = []
        if account == "futures":
            st = m.account()
            wallet_ccys = sorted(set(m.wallets["futures"]) | {"USDT"})
            for ccy in wallet_ccys:
                s = m.account(ccy)
                usdt = ccy == "USDT"
                coins.append({"coin": ccy, "equity": tnum(s.margin_balance), "usdValue": tnum(s.margin_balance),
                              "walletBalance": tnum(s.wallet_balance), "free": "", "locked": "0",
                              "spotHedgingQty": "0", "borrowAmount": "0",
                              "availableToWithdraw": "" if self.server.bybit_unified else tnum(s.available),
                              "availableToBorrow": "", "accruedInterest": "0",
                              "totalOrderIM": tnum(s.order_initial_margin if usdt else 0),
                              "totalPositionIM": tnum(s.position_initial_margin if usdt else 0),
                              "totalPositionMM": tnum(s.maint_margin if usdt else 0),
                              "unrealisedPnl": tnum(s.unrealized_pnl), "cumRealisedPnl": "0", "bonus": "0",
                              "marginCollateral": True, "collateralSwitch": True, "spotBorrow": "0"})
            mb = st.margin_balance
            im = st.position_initial_margin + st.order_initial_margin
            summary = {"totalEquity": tnum(mb), "accountIMRate": tnum(im / mb if mb > 0 else 0, 4),
                       "accountIMRateByMp": tnum(im / mb if mb > 0 else 0, 4), "totalMarginBalance": tnum(mb),
                       "totalInitialMargin": tnum(im), "totalInitialMarginByMp": tnum(im),
                       "accountType": str(atype), "totalAvailableBalance": tnum(st.available),
                       "accountMMRate": tnum(st.maint_margin / mb if mb > 0 else 0, 4),
                       "accountMMRateByMp": tnum(st.maint_margin / mb if mb > 0 else 0, 4),
                       "totalPerpUPL": tnum(st.unrealized_pnl), "totalWalletBalance": tnum(st.wallet_balance),
                       "accountLTV": "0", "totalMaintenanceMargin": tnum(st.maint_margin),
                       "totalMaintenanceMarginByMp": tnum(st.maint_margin)}
        else:
            for ccy, amount in sorted(m.wallets[account].items()):
                coins.append({"coin": ccy, "equity": tnum(amount), "usdValue": tnum(amount),
                              "walletBalance": tnum(amount), "free": tnum(amount), "locked": "0",
                              "availableToWithdraw": tnum(amount), "totalOrderIM": "0", "totalPositionIM": "0",
                              "totalPositionMM": "0", "unrealisedPnl": "0", "cumRealisedPnl": "0"})
            total = sum(m.wallets[account].values())
            summary = {"totalEquity": tnum(total), "accountType": str(atype), "totalWalletBalance": tnum(total),
                       "totalMarginBalance": tnum(total), "totalAvailableBalance": tnum(total),
                       "accountIMRate": "0", "accountMMRate": "0", "totalInitialMargin": "0",
                       "totalMaintenanceMargin": "0", "totalPerpUPL": "0", "accountLTV": "0"}
        only = req.params.get("coin")
        if only:
            coins = [c for c in coins if c["coin"] in str(only).split(",")]
        return self.ok({"list": [{**summary, "coin": coins}]})

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
            return self.ok({"accountType": atype, "bizType": 1, "accountId": "", "memberId": "24617703",
                            "balance": rows[0] if rows else {"coin": only, "walletBalance": "0",
                                                             "transferBalance": "0", "bonus": "0"}})
        return self.ok({"memberId": "24617703", "accountType": atype, "balance": rows})

    # ------------------------------------------------------------------ margin / mode / transfers
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
        keep = ("positionIdx", "riskId", "riskLimitValue", "size", "avgPrice", "liqPrice", "bustPrice", "markPrice",
                "positionValue", "leverage", "autoAddMargin", "positionStatus", "positionIM", "positionMM",
                "takeProfit", "stopLoss", "trailingStop", "unrealisedPnl", "cumRealisedPnl", "createdTime",
                "updatedTime")
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
        tid, coin, amount, src, dst = self.require(req.params, "transferId", "coin", "amount", "fromAccountType",
                                                   "toAccountType")
        self.market.transfer(str(coin), self.num(amount, "amount"), self.account_of(str(src)),
                             self.account_of(str(dst)), venue_type=f"{src}->{dst}", client_id=str(tid))
        return self.ok({"transferId": tid, "status": "SUCCESS"}, "success")

    def transfer_list(self, req: ApiRequest) -> Any:
        coin = req.params.get("coin")
        rows = []
        for t in reversed(self.market.transfers):
            if coin and t.currency != coin:
                continue
            src, _, dst = t.venue_type.partition("->")
            rows.append({"transferId": t.client_id or str(t.transfer_id), "coin": t.currency,
                         "amount": tnum(t.amount), "fromAccountType": src, "toAccountType": dst,
                         "timestamp": str(t.time_ms), "status": "SUCCESS"})
        return self.ok({"list": rows[: int(req.params.get("limit") or 20)], "nextPageCursor": ""}, "success")

    # ------------------------------------------------------------------ orders
    def order_json(self, o: Order) -> dict[str, Any]:
        inst = self.market.instrument(o.symbol)
        qty = o.contracts * inst.contract_size
        filled = o.filled * inst.contract_size
        return {"orderId": oid(o), "orderLinkId": o.client_order_id, "blockTradeId": "", "symbol": self.sid(inst),
                "price": tnum(o.price or 0), "qty": tnum(qty), "side": "Buy" if o.side == "buy" else "Sell",
                "isLeverage": "", "positionIdx": SIDE_TO_IDX[o.position_side], "orderStatus": STATUS[o.status],
                "cancelType": "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": tnum(o.avg_price) if filled else "",
                "leavesQty": tnum(qty - filled if o.status == "new" else 0),
                "leavesValue": tnum((qty - filled) * (o.price or 0) if o.status == "new" else 0),
                "cumExecQty": tnum(filled), "cumExecValue": tnum(filled * o.avg_price), "cumExecFee": tnum(o.fee),
                "timeInForce": "IOC" if o.order_type == "market" else o.time_in_force,
                "orderType": o.order_type.capitalize(), "stopOrderType": "", "orderIv": "", "triggerPrice": "0",
                "takeProfit": "0", "stopLoss": "0", "tpTriggerBy": "", "slTriggerBy": "", "triggerDirection": 0,
                "triggerBy": "", "lastPriceOnCreated": tnum(self.market.mark(o.symbol)), "reduceOnly": o.reduce_only,
                "closeOnTrigger": False, "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "",
                "tpLimitPrice": "", "slLimitPrice": "", "placeType": "", "createdTime": str(o.created_ms),
                "updatedTime": str(o.updated_ms)}

    def create_order(self, req: ApiRequest) -> Any:
        p = req.params
        _, sid, side, otype, qty = self.require(p, "category", "symbol", "side", "orderType", "qty")
        inst = self.inst(sid)
        if otype not in ("Market", "Limit") or side not in ("Buy", "Sell"):
            raise self.error(10001, "params error: side or orderType invalid")
        price = self.num(self.require(p, "price")[0], "price") if otype == "Limit" else None
        order = self.market.place_order(
            symbol=inst.symbol, side="buy" if side == "Buy" else "sell",
            order_type="market" if otype == "Market" else "limit",
            contracts=self.num(qty, "qty") / inst.contract_size, price=price,
            reduce_only=bool(p.get("reduceOnly") in (True, "true")), position_side=self._pside(p.get("positionIdx")),
            client_order_id=p.get("orderLinkId"), time_in_force=str(p.get("timeInForce") or "GTC"), raw=p)
        return self.ok({"orderId": oid(order), "orderLinkId": order.client_order_id})

    def _lookup(self, p: dict[str, Any]) -> Order:
        order_id = p.get("orderId")
        return self.market.find_order(uuid.UUID(order_id).int if order_id else None, p.get("orderLinkId"))

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
            rows.append({"symbol": self.sid(inst), "orderType": o.order_type.capitalize() if o else "Market",
                         "underlyingPrice": "", "orderLinkId": o.client_order_id if o else "",
                         "side": "Buy" if f.side == "buy" else "Sell", "indexPrice": "",
                         "orderId": oid(o) if o else "", "stopOrderType": "UNKNOWN", "leavesQty": "0",
                         "execTime": str(f.time_ms), "feeCurrency": "", "isMaker": f.maker, "execFee": tnum(f.fee),
                         "feeRate": tnum(self.market.maker_fee if f.maker else self.market.taker_fee),
                         "execId": str(uuid.UUID(int=f.trade_id)), "tradeIv": "", "blockTradeId": "",
                         "markPrice": tnum(f.price), "execPrice": tnum(f.price), "markIv": "",
                         "orderQty": tnum(qty), "orderPrice": tnum(o.price or 0) if o else "0",
                         "execValue": tnum(qty * f.price), "execType": "Trade", "execQty": tnum(qty),
                         "closedSize": tnum(qty if f.realized_pnl else 0), "seq": f.trade_id})
        return self.ok({"list": rows[: int(req.params.get("limit") or 50)], "nextPageCursor": "",
                        "category": "linear"})
