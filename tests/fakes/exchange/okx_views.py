"""Response builders for the OKX v5 emulation (instruments, tickers, position tiers, positions,
account balance, orders).  Field sets follow the OKX v5 docs."""

from __future__ import annotations

from typing import Any

from .common import ApiRequest, Venue, VenueError, tnum
from .market import Instrument, Order, Position

STATE = {"new": "live", "filled": "filled", "canceled": "canceled", "rejected": "canceled"}


class OkxViews(Venue):
    """Read-side of :class:`~.okx.Okx` (envelope, ids, public data, account JSON)."""

    acct_lv = "3"

    def ok(self, data: list[Any]) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": data}

    def error(self, code: str, msg: str, status: int = 200) -> VenueError:
        return VenueError(status, {"code": code, "msg": msg, "data": []})

    def iid(self, inst: Instrument) -> str:
        return f"{inst.base}-{inst.quote}-SWAP"

    def inst(self, inst_id: str) -> Instrument:
        for inst in self.market.instruments.values():
            if self.iid(inst) == inst_id:
                return inst
        raise self.error("51001", "Instrument ID does not exist")

    def selected(self, req: ApiRequest, key: str = "instId") -> list[Instrument]:
        if req.params.get("instType") not in (None, "SWAP"):
            return []
        ids = req.params.get(key)
        if ids:
            return [self.inst(i) for i in str(ids).split(",")]
        family = req.params.get("instFamily") or req.params.get("uly")
        return [i for i in self.market.instruments.values() if family in (None, f"{i.base}-{i.quote}")]

    def instruments(self, req: ApiRequest) -> Any:
        rows = []
        for i in self.selected(req):
            rows.append(
                {
                    "alias": "",
                    "auctionEndTime": "",
                    "baseCcy": "",
                    "category": "1",
                    "ctMult": "1",
                    "ctType": "linear",
                    "ctVal": tnum(i.contract_size),
                    "ctValCcy": i.base,
                    "expTime": "",
                    "instFamily": f"{i.base}-{i.quote}",
                    "instId": self.iid(i),
                    "instType": "SWAP",
                    "lever": tnum(i.max_leverage),
                    "listTime": "1573557408000",
                    "lotSz": tnum(i.lot_size),
                    "maxIcebergSz": "100000000",
                    "maxLmtAmt": "20000000",
                    "maxLmtSz": "100000000",
                    "maxMktAmt": "",
                    "maxMktSz": "12000",
                    "maxStopSz": "12000",
                    "maxTriggerSz": "100000000",
                    "maxTwapSz": "100000000",
                    "minSz": tnum(i.min_qty),
                    "optType": "",
                    "quoteCcy": "",
                    "settleCcy": i.settle,
                    "state": "live",
                    "ruleType": "normal",
                    "stk": "",
                    "tickSz": tnum(i.tick_size),
                    "uly": f"{i.base}-{i.quote}",
                }
            )
        return self.ok(rows)

    def mark_price(self, req: ApiRequest) -> Any:
        return self.ok(
            [
                {
                    "instType": "SWAP",
                    "instId": self.iid(i),
                    "markPx": tnum(self.market.mark(i.symbol)),
                    "ts": str(self.now()),
                }
                for i in self.selected(req)
            ]
        )

    def tickers(self, req: ApiRequest) -> Any:
        rows = []
        for i in self.selected(req):
            m = tnum(self.market.mark(i.symbol))
            rows.append(
                {
                    "instType": "SWAP",
                    "instId": self.iid(i),
                    "last": m,
                    "lastSz": "1",
                    "askPx": m,
                    "askSz": "100",
                    "bidPx": m,
                    "bidSz": "100",
                    "open24h": m,
                    "high24h": m,
                    "low24h": m,
                    "volCcy24h": "1000",
                    "vol24h": "100000",
                    "sodUtc0": m,
                    "sodUtc8": m,
                    "ts": str(self.now()),
                }
            )
        return self.ok(rows)

    def position_tiers(self, req: ApiRequest) -> Any:
        rows = []
        for i in self.selected(req):
            table = self.market.tier_table(i.symbol)
            per_ct = i.contract_size * (1.0 if table.unit == "base" else self.market.mark(i.symbol))
            for t in table.tiers:
                rows.append(
                    {
                        "baseMaxLoan": "",
                        "imr": tnum(t.imr),
                        "instFamily": f"{i.base}-{i.quote}",
                        "instId": "",
                        "maxLever": tnum(t.max_leverage),
                        "maxSz": tnum(t.cap / per_ct, 2),
                        "minSz": tnum(t.floor / per_ct, 2),
                        "mmr": tnum(t.mmr),
                        "optMgnFactor": "0",
                        "quoteMaxLoan": "",
                        "tier": str(t.tier),
                        "uly": f"{i.base}-{i.quote}",
                    }
                )
        return self.ok(rows)

    def currencies(self, req: ApiRequest) -> Any:
        coins = sorted({i.base for i in self.market.instruments.values()} | {"USDT"})
        return self.ok(
            [
                {
                    "ccy": c,
                    "name": c,
                    "chain": f"{c}-ERC20",
                    "canDep": True,
                    "canWd": True,
                    "canInternal": True,
                    "minWd": "1",
                    "maxWd": "1000000",
                    "wdTickSz": "6",
                    "wdQuota": "1000000",
                    "usedWdQuota": "0",
                    "minFee": "1",
                    "maxFee": "2",
                    "logoLink": "",
                    "mainNet": False,
                    "needTag": False,
                    "minDep": "0.00000001",
                    "minDepArrivalConfirm": "12",
                    "minWdUnlockConfirm": "12",
                    "depQuotaFixed": "",
                    "usedDepQuotaFixed": "",
                    "depQuoteDailyLayer2": "",
                }
                for c in coins
            ]
        )

    def config(self, req: ApiRequest) -> Any:
        return self.ok(
            [
                {
                    "acctLv": self.acct_lv,
                    "autoLoan": False,
                    "ctIsoMode": "automatic",
                    "greeksType": "PA",
                    "level": "Lv1",
                    "levelTmp": "",
                    "mgnIsoMode": "automatic",
                    "posMode": "long_short_mode" if self.market.hedge_mode else "net_mode",
                    "spotOffsetType": "",
                    "uid": "44705892343619584",
                    "label": "fake",
                    "roleType": "0",
                    "traderInsts": [],
                    "spotRoleType": "0",
                    "spotTraderInsts": [],
                    "opAuth": "0",
                    "kycLv": "2",
                    "ip": "",
                    "perm": "read_only,trade",
                    "mainUid": "44705892343619584",
                }
            ]
        )

    def position_json(self, p: Position) -> dict[str, Any]:
        m = self.market
        inst = m.instrument(p.symbol)
        iso = p.margin_mode == "isolated"
        upl = m.unrealized_pnl(p)
        im = m.initial_margin(p)
        mm = m.maintenance_margin(p)
        lp = m.liquidation_price(p)
        sign = -1 if (p.position_side == "both" and p.side == "short") else 1
        mark = tnum(m.mark(p.symbol))
        margin_base = p.isolated_margin if iso else im
        ratio = (p.isolated_margin + upl) / mm if iso and mm > 0 else None
        return {
            "adl": "1",
            "availPos": tnum(p.contracts) if iso or p.position_side != "both" else "",
            "avgPx": tnum(p.entry_price),
            "baseBal": "",
            "baseBorrowed": "",
            "baseInterest": "",
            "bePx": "",
            "bizRefId": "",
            "bizRefType": "",
            "cTime": str(p.created_ms),
            "ccy": inst.settle,
            "clSpotInUseAmt": "",
            "closeOrderAlgo": [],
            "deltaBS": "",
            "deltaPA": "",
            "fee": "0",
            "fundingFee": "0",
            "gammaBS": "",
            "gammaPA": "",
            "idxPx": mark,
            "imr": "" if iso else tnum(im),
            "instId": self.iid(inst),
            "instType": "SWAP",
            "interest": "",
            "last": mark,
            "lever": tnum(p.leverage),
            "liab": "",
            "liabCcy": "",
            "liqPenalty": "0",
            "liqPx": tnum(lp) if lp is not None else "",
            "margin": tnum(p.isolated_margin) if iso else "",
            "markPx": mark,
            "maxSpotInUseAmt": "",
            "mgnMode": p.margin_mode,
            "mgnRatio": tnum(ratio) if ratio is not None else "",
            "mmr": tnum(mm),
            "notionalUsd": tnum(m.notional(p)),
            "optVal": "",
            "pendingCloseOrdLiabVal": "",
            "pnl": "0",
            "pos": tnum(sign * p.contracts),
            "posCcy": "",
            "posId": str(p.position_id),
            "posSide": "net" if p.position_side == "both" else p.position_side,
            "quoteBal": "",
            "quoteBorrowed": "",
            "quoteInterest": "",
            "realizedPnl": tnum(p.realized_pnl),
            "spotInUseAmt": "",
            "spotInUseCcy": "",
            "thetaBS": "",
            "thetaPA": "",
            "tradeId": "",
            "uTime": str(p.updated_ms),
            "upl": tnum(upl),
            "uplLastPx": tnum(upl),
            "uplRatio": tnum(upl / margin_base if margin_base else 0),
            "uplRatioLastPx": tnum(upl / margin_base if margin_base else 0),
            "usdPx": "",
            "vegaBS": "",
            "vegaPA": "",
            "nonSettleAvgPx": "",
            "settledPnl": "",
        }

    def balance(self, req: ApiRequest) -> Any:
        m = self.market
        st = m.account()
        pos = list(m.positions.values())
        iso_upl = sum(m.unrealized_pnl(p) for p in pos if p.margin_mode == "isolated")
        cross_mm = sum(m.maintenance_margin(p) for p in pos if p.margin_mode == "cross")
        cross_eq = st.cross_wallet + st.cross_unrealized_pnl
        imr = st.cross_initial_margin + st.order_initial_margin
        ratio = tnum(cross_eq / cross_mm) if cross_mm > 0 else ""
        multi = self.acct_lv in ("3", "4")
        details = []
        for ccy in sorted(set(m.wallets["futures"]) | {"USDT"}):
            usdt = ccy == "USDT"
            cash = st.wallet_balance if usdt else m.balance("futures", ccy)
            eq = cash + (st.unrealized_pnl if usdt else 0.0)
            frozen = (st.isolated_wallet + imr) if usdt else 0.0
            details.append(
                {
                    "availBal": tnum(st.available if usdt else cash),
                    "availEq": tnum(st.available if usdt else cash),
                    "borrowFroz": "",
                    "cashBal": tnum(cash),
                    "ccy": ccy,
                    "crossLiab": "",
                    "disEq": tnum(eq),
                    "eq": tnum(eq),
                    "eqUsd": tnum(eq),
                    "smtSyncEq": "0",
                    "spotCopyTradingEq": "0",
                    "fixedBal": "0",
                    "frozenBal": tnum(frozen),
                    "imr": tnum(imr if usdt else 0),
                    "interest": "",
                    "isoEq": tnum(st.isolated_wallet + iso_upl if usdt else 0),
                    "isoLiab": "",
                    "isoUpl": tnum(iso_upl if usdt else 0),
                    "liab": "",
                    "maxLoan": "",
                    "mgnRatio": ratio if usdt else "",
                    "mmr": tnum(cross_mm if usdt else 0),
                    "notionalLever": "",
                    "ordFrozen": tnum(st.order_initial_margin if usdt else 0),
                    "rewardBal": "0",
                    "spotInUseAmt": "",
                    "clSpotInUseAmt": "",
                    "maxSpotInUse": "",
                    "spotIsoBal": "0",
                    "stgyEq": "0",
                    "twap": "0",
                    "uTime": str(self.now()),
                    "upl": tnum(st.unrealized_pnl if usdt else 0),
                    "uplLiab": "",
                    "spotBal": "",
                    "openAvgPx": "",
                    "accAvgPx": "",
                    "spotUpl": "",
                    "spotUplRatio": "",
                    "totalPnl": "",
                    "totalPnlRatio": "",
                }
            )
        return self.ok(
            [
                {
                    "adjEq": tnum(cross_eq) if multi else "",
                    "availEq": tnum(st.available) if multi else "",
                    "borrowFroz": "",
                    "details": details,
                    "imr": tnum(imr) if multi else "",
                    "isoEq": tnum(st.isolated_wallet + iso_upl),
                    "mgnRatio": ratio if multi else "",
                    "mmr": tnum(cross_mm) if multi else "",
                    "notionalUsd": tnum(sum(m.notional(p) for p in pos)),
                    "notionalUsdForBorrow": "0",
                    "notionalUsdForFutures": "0",
                    "notionalUsdForOption": "0",
                    "notionalUsdForSwap": tnum(sum(m.notional(p) for p in pos)),
                    "ordFroz": tnum(st.order_initial_margin),
                    "totalEq": tnum(st.margin_balance),
                    "uTime": str(self.now()),
                    "upl": tnum(st.unrealized_pnl),
                }
            ]
        )

    def order_json(self, o: Order) -> dict[str, Any]:
        inst = self.market.instrument(o.symbol)
        return {
            "accFillSz": tnum(o.filled),
            "algoClOrdId": "",
            "algoId": "",
            "attachAlgoClOrdId": "",
            "attachAlgoOrds": [],
            "avgPx": tnum(o.avg_price) if o.filled else "",
            "cTime": str(o.created_ms),
            "cancelSource": "",
            "cancelSourceReason": "",
            "category": "normal",
            "ccy": "",
            "clOrdId": o.client_order_id,
            "fee": tnum(-o.fee),
            "feeCcy": inst.settle,
            "fillPx": tnum(o.avg_price) if o.filled else "",
            "fillSz": tnum(o.filled),
            "fillTime": str(o.updated_ms) if o.filled else "",
            "instId": self.iid(inst),
            "instType": "SWAP",
            "isTpLimit": "false",
            "lever": tnum(o.leverage),
            "linkedAlgoOrd": {"algoId": ""},
            "ordId": str(o.order_id),
            "ordType": o.order_type,
            "pnl": tnum(o.realized_pnl),
            "posSide": "net" if o.position_side == "both" else o.position_side,
            "px": tnum(o.price),
            "pxType": "",
            "pxUsd": "",
            "pxVol": "",
            "quickMgnType": "",
            "rebate": "0",
            "rebateCcy": inst.settle,
            "reduceOnly": "true" if o.reduce_only else "false",
            "side": o.side,
            "slOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "source": "",
            "state": STATE[o.status],
            "stpId": "",
            "stpMode": "cancel_maker",
            "sz": tnum(o.contracts),
            "tag": "",
            "tdMode": o.margin_mode,
            "tgtCcy": "",
            "tpOrdPx": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "tradeId": "",
            "uTime": str(o.updated_ms),
        }
