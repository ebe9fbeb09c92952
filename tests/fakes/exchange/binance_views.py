"""Response builders for the Binance emulation (exchangeInfo, positionRisk v2/v3, account v2/v3,
orders, spot/funding wallets).  Field sets follow the Binance USDⓈ-M REST docs."""

from __future__ import annotations

import math
from typing import Any

from .common import ApiRequest, Venue, VenueError, fnum
from .market import Instrument, Order, Position, PositionSide

STATUS = {"new": "NEW", "filled": "FILLED", "canceled": "CANCELED", "rejected": "REJECTED"}


def decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0


class BinanceViews(Venue):
    """Read-side of :class:`~.binance.Binance` (ids, public data, account/position JSON)."""

    def error(self, code: int, msg: str, status: int = 400) -> VenueError:
        return VenueError(status, {"code": code, "msg": msg})

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
                for key in ("leverage", "marginType", "isolated"):
                    row.pop(key, None)
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
