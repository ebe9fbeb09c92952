"""Response builders for the Bybit v5 emulation (instruments, tickers, risk limits, positions,
wallet balances, orders).  Field sets follow the Bybit v5 docs."""

from __future__ import annotations

import uuid
from typing import Any

from .common import ApiRequest, Venue, VenueError, tnum
from .market import Account, Instrument, Order, Position

ACCOUNTS: dict[str, Account] = {"UNIFIED": "futures", "CONTRACT": "futures", "SPOT": "spot", "FUND": "funding"}
STATUS = {"new": "New", "filled": "Filled", "canceled": "Cancelled", "rejected": "Rejected"}
SIDE_TO_IDX = {"both": 0, "long": 1, "short": 2}


def oid(order: Order) -> str:
    return str(uuid.UUID(int=order.order_id))


class BybitViews(Venue):
    """Read-side of :class:`~.bybit.Bybit` (envelope, ids, public data, account JSON)."""

    def ok(self, result: Any, msg: str = "OK") -> dict[str, Any]:
        return {"retCode": 0, "retMsg": msg, "result": result, "retExtInfo": {}, "time": self.now()}

    def error(self, code: int, msg: str, status: int = 200) -> VenueError:
        return VenueError(status, {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": self.now()})

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

    def time(self, req: ApiRequest) -> Any:
        now = self.now()
        return self.ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    def instruments(self, req: ApiRequest) -> Any:
        rows = []
        if req.params.get("status") != "PreLaunch":
            for inst in self.selected(req):
                rows.append(
                    {
                        "symbol": self.sid(inst),
                        "contractType": "LinearPerpetual",
                        "status": "Trading",
                        "baseCoin": inst.base,
                        "quoteCoin": inst.quote,
                        "launchTime": "1585526400000",
                        "deliveryTime": "0",
                        "deliveryFeeRate": "",
                        "priceScale": str(len(tnum(inst.tick_size)) - 2),
                        "leverageFilter": {
                            "minLeverage": "1",
                            "maxLeverage": f"{inst.max_leverage:.2f}",
                            "leverageStep": "0.01",
                        },
                        "priceFilter": {
                            "minPrice": tnum(inst.tick_size),
                            "maxPrice": "1999999.80",
                            "tickSize": tnum(inst.tick_size),
                        },
                        "lotSizeFilter": {
                            "maxOrderQty": "1190.000",
                            "minOrderQty": tnum(inst.min_qty),
                            "qtyStep": tnum(inst.lot_size),
                            "postOnlyMaxOrderQty": "1190.000",
                            "maxMktOrderQty": "500.000",
                            "minNotionalValue": "5",
                        },
                        "unifiedMarginTrade": True,
                        "fundingInterval": 480,
                        "settleCoin": inst.settle,
                        "copyTrading": "both",
                        "upperFundingRate": "0.00375",
                        "lowerFundingRate": "-0.00375",
                        "isPreListing": False,
                        "preListingInfo": None,
                        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
                    }
                )
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    def tickers(self, req: ApiRequest) -> Any:
        rows = []
        for inst in self.selected(req):
            m = tnum(self.market.mark(inst.symbol), 2)
            rows.append(
                {
                    "symbol": self.sid(inst),
                    "lastPrice": m,
                    "indexPrice": m,
                    "markPrice": m,
                    "prevPrice24h": m,
                    "price24hPcnt": "0",
                    "highPrice24h": m,
                    "lowPrice24h": m,
                    "prevPrice1h": m,
                    "openInterest": "50000",
                    "openInterestValue": "0",
                    "turnover24h": "0",
                    "volume24h": "0",
                    "fundingRate": "0.0001",
                    "nextFundingTime": str((self.now() // 28_800_000 + 1) * 28_800_000),
                    "predictedDeliveryPrice": "",
                    "basisRate": "",
                    "deliveryFeeRate": "",
                    "deliveryTime": "0",
                    "ask1Size": "1",
                    "bid1Price": m,
                    "ask1Price": m,
                    "bid1Size": "1",
                    "basis": "",
                }
            )
        return self.ok({"category": "linear", "list": rows})

    def risk_limit(self, req: ApiRequest) -> Any:
        rows = []
        for inst in self.selected(req):
            for t in self.market.tier_table(inst.symbol).tiers:
                rows.append(
                    {
                        "id": t.tier,
                        "symbol": self.sid(inst),
                        "riskLimitValue": tnum(t.cap),
                        "maintenanceMargin": tnum(t.mmr),
                        "initialMargin": tnum(t.imr),
                        "isLowestRisk": 1 if t.tier == 1 else 0,
                        "maxLeverage": f"{t.max_leverage:.2f}",
                        "mmDeduction": tnum(t.cum) if t.cum else "",
                    }
                )
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    def query_api(self, req: ApiRequest) -> Any:
        return self.ok(
            {
                "id": "13770661",
                "note": "fake",
                "apiKey": self.server.api_key,
                "readOnly": 0,
                "secret": "",
                "permissions": {
                    "ContractTrade": ["Order", "Position"],
                    "Spot": ["SpotTrade"],
                    "Wallet": ["AccountTransfer"],
                    "Options": [],
                    "Derivatives": [],
                    "Exchange": [],
                    "NFT": [],
                    "BlockTrade": [],
                    "Affiliate": [],
                    "CopyTrading": [],
                },
                "ips": ["*"],
                "type": 1,
                "deadlineDay": 83,
                "expiredAt": "2099-01-01T00:00:00Z",
                "createdAt": "2024-01-01T00:00:00Z",
                "unified": 0,
                "uta": 1 if self.server.bybit_unified else 0,
                "userID": 24617703,
                "inviterID": 0,
                "vipLevel": "No VIP",
                "mktMakerLevel": "0",
                "affiliateID": 0,
                "rsaPublicKey": "",
                "isMaster": True,
                "parentUid": "0",
                "kycLevel": "LEVEL_1",
                "kycRegion": "",
            }
        )

    def account_info(self, req: ApiRequest) -> Any:
        iso = any(p.margin_mode == "isolated" for p in self.market.positions.values()) or (
            "isolated" in self.market.margin_mode.values()
        )
        return self.ok(
            {
                "marginMode": "ISOLATED_MARGIN" if iso else "REGULAR_MARGIN",
                "updatedTime": str(self.now()),
                "unifiedMarginStatus": 6 if self.server.bybit_unified else 1,
                "dcpStatus": "OFF",
                "timeWindow": 0,
                "smpGroup": 0,
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
            }
        )

    def coin_info(self, req: ApiRequest) -> Any:
        coins = sorted({i.base for i in self.market.instruments.values()} | {"USDT"})
        return self.ok(
            {
                "rows": [
                    {
                        "name": c,
                        "coin": c,
                        "remainAmount": "1000000",
                        "chains": [
                            {
                                "chainType": "ETH",
                                "confirmation": "12",
                                "withdrawFee": "1",
                                "depositMin": "0",
                                "withdrawMin": "1",
                                "chain": "ETH",
                                "chainDeposit": "1",
                                "chainWithdraw": "1",
                                "minAccuracy": "8",
                                "withdrawPercentageFee": "0",
                                "contractAddress": "",
                                "safeConfirmNumber": "6",
                            }
                        ],
                    }
                    for c in coins
                ]
            }
        )

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
            bust = (
                p.entry_price - p.isolated_margin / size
                if p.side == "long"
                else (p.entry_price + p.isolated_margin / size)
            )
        mm = m.maintenance_margin(p)
        return {
            "positionIdx": SIDE_TO_IDX[p.position_side],
            "riskId": tier.tier,
            "riskLimitValue": tnum(tier.cap),
            "symbol": self.sid(inst),
            "side": "Buy" if p.side == "long" else "Sell",
            "size": tnum(size),
            "avgPrice": tnum(p.entry_price),
            "positionValue": tnum(value),
            "tradeMode": 1 if iso else 0,
            "positionStatus": "Normal",
            "autoAddMargin": 0,
            "adlRankIndicator": 2,
            "leverage": tnum(p.leverage),
            "positionBalance": tnum(p.isolated_margin if iso else im),
            "markPrice": tnum(m.mark(p.symbol), 2),
            "liqPrice": tnum(lp, 2) if lp is not None else "",
            "bustPrice": tnum(bust, 2) if bust else "",
            "positionMM": tnum(mm),
            "positionMMByMp": tnum(mm),
            "positionIM": tnum(p.isolated_margin if iso else im),
            "positionIMByMp": tnum(p.isolated_margin if iso else im),
            "tpslMode": "Full",
            "takeProfit": "0",
            "stopLoss": "0",
            "trailingStop": "0",
            "unrealisedPnl": tnum(m.unrealized_pnl(p)),
            "curRealisedPnl": tnum(p.realized_pnl),
            "cumRealisedPnl": tnum(p.realized_pnl),
            "seq": p.updated_ms,
            "isReduceOnly": False,
            "mmrSysUpdatedTime": "",
            "leverageSysUpdatedTime": "",
            "sessionAvgPrice": "",
            "createdTime": str(p.created_ms),
            "updatedTime": str(p.updated_ms),
        }

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
                coins.append(
                    {
                        "coin": ccy,
                        "equity": tnum(s.margin_balance),
                        "usdValue": tnum(s.margin_balance),
                        "walletBalance": tnum(s.wallet_balance),
                        "free": "",
                        "locked": "0",
                        "spotHedgingQty": "0",
                        "borrowAmount": "0",
                        "availableToWithdraw": "" if self.server.bybit_unified else tnum(s.available),
                        "availableToBorrow": "",
                        "accruedInterest": "0",
                        "totalOrderIM": tnum(s.order_initial_margin if usdt else 0),
                        "totalPositionIM": tnum(s.position_initial_margin if usdt else 0),
                        "totalPositionMM": tnum(s.maint_margin if usdt else 0),
                        "unrealisedPnl": tnum(s.unrealized_pnl),
                        "cumRealisedPnl": "0",
                        "bonus": "0",
                        "marginCollateral": True,
                        "collateralSwitch": True,
                        "spotBorrow": "0",
                    }
                )
            mb = st.margin_balance
            im = st.position_initial_margin + st.order_initial_margin
            summary = {
                "totalEquity": tnum(mb),
                "accountIMRate": tnum(im / mb if mb > 0 else 0, 4),
                "accountIMRateByMp": tnum(im / mb if mb > 0 else 0, 4),
                "totalMarginBalance": tnum(mb),
                "totalInitialMargin": tnum(im),
                "totalInitialMarginByMp": tnum(im),
                "accountType": str(atype),
                "totalAvailableBalance": tnum(st.available),
                "accountMMRate": tnum(st.maint_margin / mb if mb > 0 else 0, 4),
                "accountMMRateByMp": tnum(st.maint_margin / mb if mb > 0 else 0, 4),
                "totalPerpUPL": tnum(st.unrealized_pnl),
                "totalWalletBalance": tnum(st.wallet_balance),
                "accountLTV": "0",
                "totalMaintenanceMargin": tnum(st.maint_margin),
                "totalMaintenanceMarginByMp": tnum(st.maint_margin),
            }
        else:
            for ccy, amount in sorted(m.wallets[account].items()):
                coins.append(
                    {
                        "coin": ccy,
                        "equity": tnum(amount),
                        "usdValue": tnum(amount),
                        "walletBalance": tnum(amount),
                        "free": tnum(amount),
                        "locked": "0",
                        "availableToWithdraw": tnum(amount),
                        "totalOrderIM": "0",
                        "totalPositionIM": "0",
                        "totalPositionMM": "0",
                        "unrealisedPnl": "0",
                        "cumRealisedPnl": "0",
                    }
                )
            total = sum(m.wallets[account].values())
            summary = {
                "totalEquity": tnum(total),
                "accountType": str(atype),
                "totalWalletBalance": tnum(total),
                "totalMarginBalance": tnum(total),
                "totalAvailableBalance": tnum(total),
                "accountIMRate": "0",
                "accountMMRate": "0",
                "totalInitialMargin": "0",
                "totalMaintenanceMargin": "0",
                "totalPerpUPL": "0",
                "accountLTV": "0",
            }
        only = req.params.get("coin")
        if only:
            coins = [c for c in coins if c["coin"] in str(only).split(",")]
        return self.ok({"list": [{**summary, "coin": coins}]})

    def order_json(self, o: Order) -> dict[str, Any]:
        inst = self.market.instrument(o.symbol)
        qty = o.contracts * inst.contract_size
        filled = o.filled * inst.contract_size
        return {
            "orderId": oid(o),
            "orderLinkId": o.client_order_id,
            "blockTradeId": "",
            "symbol": self.sid(inst),
            "price": tnum(o.price or 0),
            "qty": tnum(qty),
            "side": "Buy" if o.side == "buy" else "Sell",
            "isLeverage": "",
            "positionIdx": SIDE_TO_IDX[o.position_side],
            "orderStatus": STATUS[o.status],
            "cancelType": "UNKNOWN",
            "rejectReason": "EC_NoError",
            "avgPrice": tnum(o.avg_price) if filled else "",
            "leavesQty": tnum(qty - filled if o.status == "new" else 0),
            "leavesValue": tnum((qty - filled) * (o.price or 0) if o.status == "new" else 0),
            "cumExecQty": tnum(filled),
            "cumExecValue": tnum(filled * o.avg_price),
            "cumExecFee": tnum(o.fee),
            "timeInForce": "IOC" if o.order_type == "market" else o.time_in_force,
            "orderType": o.order_type.capitalize(),
            "stopOrderType": "",
            "orderIv": "",
            "triggerPrice": "0",
            "takeProfit": "0",
            "stopLoss": "0",
            "tpTriggerBy": "",
            "slTriggerBy": "",
            "triggerDirection": 0,
            "triggerBy": "",
            "lastPriceOnCreated": tnum(self.market.mark(o.symbol)),
            "reduceOnly": o.reduce_only,
            "closeOnTrigger": False,
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "tpslMode": "",
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "placeType": "",
            "createdTime": str(o.created_ms),
            "updatedTime": str(o.updated_ms),
        }
