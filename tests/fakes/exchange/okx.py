"""OKX v5 (USDT-margined SWAP, trading account 18, funding account 6).

Signed requests: ``OK-ACCESS-KEY``, ``OK-ACCESS-PASSPHRASE``, ``OK-ACCESS-TIMESTAMP`` (ISO 8601)
and ``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 of ``timestamp + METHOD + requestPath(+?query) + body``.
Timestamps more than 30 s away from the server clock get ``50102``.

``acct_lv`` (``Okx.acct_lv``, default ``"3"`` multi-currency margin) controls whether the
account-level ``adjEq`` / ``imr`` / ``mmr`` / ``mgnRatio`` fields are filled: OKX leaves them
``""`` in single-currency margin mode (``"2"``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from .common import ApiRequest, VenueError, tnum
from .market import Account, MarginMode, MarketError, Order, PositionSide, Reason
from .okx_views import OkxViews

ACCOUNTS: dict[str, Account] = {"18": "futures", "6": "funding"}
ERRORS: dict[Reason, tuple[str, str]] = {
    Reason.INSUFFICIENT_MARGIN: ("51008", "Order failed. Insufficient USDT margin in account"),
    Reason.INSUFFICIENT_BALANCE: ("58350", "Insufficient balance"),
    Reason.INSUFFICIENT_ISOLATED: ("59301", "Margin adjustment failed for exceeding the max limit"),
    Reason.REDUCE_ONLY_REJECTED: (
        "51169",
        "Order failed because you don't have any positions in this direction for this contract to reduce or close.",
    ),
    Reason.POSITION_SIDE_MISMATCH: ("51000", "Parameter posSide error"),
    Reason.NO_POSITION: ("51023", "Position does not exist"),
    Reason.NOT_ISOLATED: ("51000", "Parameter mgnMode error"),
    Reason.DUPLICATE_CLIENT_ID: ("51016", "Duplicated clOrdId"),
    Reason.ORDER_NOT_FOUND: ("51603", "Order does not exist"),
    Reason.UNKNOWN_SYMBOL: ("51001", "Instrument ID does not exist"),
    Reason.BAD_QUANTITY: ("51000", "Parameter sz error"),
    Reason.MODE_CHANGE_REJECTED: (
        "59000",
        "Settings failed. Delete any open orders or positions before modifying settings.",
    ),
    Reason.NO_CHANGE: ("59000", "Settings failed. Position mode is already set."),
}
ORDER_PATHS = ("/api/v5/trade/order", "/api/v5/trade/batch-orders")


class Okx(OkxViews):
    name = "okx"

    def register(self) -> None:
        r = self.route
        r("GET", "/api/v5/public/time", lambda req: self.ok([{"ts": str(self.now())}]))
        r("GET", "/api/v5/public/instruments", self.instruments)
        r("GET", "/api/v5/public/mark-price", self.mark_price)
        r("GET", "/api/v5/market/ticker", self.tickers)
        r("GET", "/api/v5/market/tickers", self.tickers)
        r("GET", "/api/v5/public/position-tiers", self.position_tiers)
        r("GET", "/api/v5/asset/currencies", self.currencies, True)
        r("GET", "/api/v5/account/config", self.config, True)
        r("GET", "/api/v5/account/positions", self.positions, True)
        r("GET", "/api/v5/account/balance", self.balance, True)
        r("GET", "/api/v5/asset/balances", self.funding_balances, True)
        r("POST", "/api/v5/account/position/margin-balance", self.margin_balance, True)
        r("POST", "/api/v5/account/set-position-mode", self.set_position_mode, True)
        r("POST", "/api/v5/account/set-leverage", self.set_leverage, True)
        r("POST", "/api/v5/asset/transfer", self.transfer, True)
        r("GET", "/api/v5/account/bills", self.bills, True)
        r("GET", "/api/v5/account/bills-archive", self.bills, True)
        r("POST", "/api/v5/trade/order", self.place_order, True)
        r("POST", "/api/v5/trade/batch-orders", self.place_order, True)
        r("POST", "/api/v5/trade/cancel-order", self.cancel_order, True)
        r("GET", "/api/v5/trade/order", self.get_order, True)
        r("GET", "/api/v5/trade/orders-pending", self.pending_orders, True)
        r("GET", "/api/v5/trade/fills", self.fills, True)
        r("GET", "/api/v5/trade/fills-history", self.fills, True)

    def bad_request(self, message: str) -> VenueError:
        return self.error("51000", message)

    def not_found(self, req: ApiRequest) -> VenueError:
        return VenueError(404, {"code": "404", "msg": f"Not Found {req.path}", "data": []})

    def market_error(self, err: MarketError) -> VenueError:
        code, msg = ERRORS.get(err.reason, ("50000", err.message))
        return self.error(code, msg)

    def fault_error(self, kind: str) -> VenueError:
        if kind in ("http_429", "http_418"):
            return VenueError(429, {"msg": "Too Many Requests", "code": "50011"})
        if kind == "nonce_error":
            return VenueError(401, {"msg": "Timestamp request expired", "code": "50102"})
        return VenueError(401, {"msg": "Invalid OK-ACCESS-KEY", "code": "50111"})

    def malformed_body(self) -> str:
        return '{"code":"0","msg":"","data":[{"instId":"BTC-USDT-SWAP","pos":"1'

    def authenticate(self, req: ApiRequest) -> None:
        h = req.headers
        key, sign, ts, phrase = (
            h.get("OK-ACCESS-KEY"),
            h.get("OK-ACCESS-SIGN"),
            h.get("OK-ACCESS-TIMESTAMP"),
            h.get("OK-ACCESS-PASSPHRASE"),
        )
        if not key:
            raise VenueError(401, {"msg": "Request header OK-ACCESS-KEY cannot be empty.", "code": "50103"})
        if key != self.server.api_key:
            raise self.fault_error("auth_error")
        if not ts:
            raise VenueError(401, {"msg": "Request header OK-ACCESS-TIMESTAMP cannot be empty.", "code": "50107"})
        try:
            ts_ms = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            raise VenueError(401, {"msg": "Invalid OK-ACCESS-TIMESTAMP", "code": "50112"}) from None
        if abs(self.now() - ts_ms) > 30_000:
            raise self.fault_error("nonce_error")
        if phrase != self.server.password:
            raise VenueError(401, {"msg": "Invalid OK-ACCESS-PASSPHRASE", "code": "50105"})
        path = req.path + ("?" + req.raw_query if req.raw_query else "")
        expected = base64.b64encode(
            hmac.new(self.server.secret.encode(), (ts + req.method + path + req.body).encode(), hashlib.sha256).digest()
        ).decode()
        if not sign or not hmac.compare_digest(expected, sign):
            raise VenueError(401, {"msg": "Invalid Sign", "code": "50113"})

    def positions(self, req: ApiRequest) -> Any:
        wanted = {i.symbol for i in self.selected(req)}
        return self.ok([self.position_json(p) for p in self.market.positions.values() if p.symbol in wanted])

    def funding_balances(self, req: ApiRequest) -> Any:
        only = req.params.get("ccy")
        return self.ok(
            [
                {"availBal": tnum(v), "bal": tnum(v), "ccy": c, "frozenBal": "0"}
                for c, v in sorted(self.market.wallets["funding"].items())
                if only is None or c in str(only).split(",")
            ]
        )

    def _pside(self, raw: Any) -> PositionSide:
        value = str(raw or "net")
        if value not in ("net", "long", "short"):
            raise self.error("51000", "Parameter posSide error")
        return "both" if value == "net" else value  # type: ignore[return-value]

    def margin_balance(self, req: ApiRequest) -> Any:
        inst_id, pos_side, kind, amt = self.require(req.params, "instId", "posSide", "type", "amt")
        inst = self.inst(str(inst_id))
        if kind not in ("add", "reduce"):
            raise self.error("51000", "Parameter type error")
        self.market.adjust_margin(inst.symbol, self._pside(pos_side), self.num(amt, "amt"), kind)
        return self.ok(
            [
                {
                    "amt": tnum(float(amt)),
                    "ccy": inst.settle,
                    "instId": inst_id,
                    "leverage": "",
                    "posSide": pos_side,
                    "type": kind,
                }
            ]
        )

    def set_position_mode(self, req: ApiRequest) -> Any:
        (mode,) = self.require(req.params, "posMode")
        self.market.set_hedge_mode(mode == "long_short_mode")
        return self.ok([{"posMode": mode}])

    def set_leverage(self, req: ApiRequest) -> Any:
        inst_id, lever, mode = self.require(req.params, "instId", "lever", "mgnMode")
        self.market.set_leverage(self.inst(str(inst_id)).symbol, float(lever))
        return self.ok([{"lever": lever, "mgnMode": mode, "instId": inst_id, "posSide": "net"}])

    def transfer(self, req: ApiRequest) -> Any:
        ccy, amt, src, dst = self.require(req.params, "ccy", "amt", "from", "to")
        if str(req.params.get("type", "0")) != "0":
            raise self.error("58129", "Parameter type error: only transfers within the account are supported")
        if src not in ACCOUNTS or dst not in ACCOUNTS:
            raise self.error("58123", "Parameter from or to error")
        tr = self.market.transfer(
            str(ccy),
            self.num(amt, "amt"),
            ACCOUNTS[src],
            ACCOUNTS[dst],
            venue_type=f"{src}->{dst}",
            client_id=str(req.params.get("clientId") or ""),
        )
        return self.ok(
            [
                {
                    "transId": str(tr.transfer_id),
                    "ccy": ccy,
                    "clientId": tr.client_id,
                    "from": src,
                    "amt": tnum(tr.amount),
                    "to": dst,
                }
            ]
        )

    def bills(self, req: ApiRequest) -> Any:
        p = req.params
        rows: list[tuple[int, dict[str, Any]]] = []
        for t in self.market.transfers:
            src, _, dst = t.venue_type.partition("->")
            out = src == "18"
            rows.append(
                (
                    t.time_ms,
                    {
                        "bal": "",
                        "balChg": tnum(-t.amount if out else t.amount),
                        "billId": str(t.transfer_id),
                        "ccy": t.currency,
                        "execType": "",
                        "fee": "0",
                        "from": src,
                        "instId": "",
                        "instType": "",
                        "mgnMode": "",
                        "notes": "",
                        "ordId": "",
                        "pnl": "0",
                        "posBal": "0",
                        "posBalChg": "0",
                        "subType": "12" if out else "11",
                        "sz": tnum(t.amount),
                        "to": dst,
                        "ts": str(t.time_ms),
                        "type": "1",
                        "transId": str(t.transfer_id),
                    },
                )
            )
        for c in self.market.margin_changes:
            inst = self.market.instrument(c.symbol)
            chg = c.amount if c.kind == "add" else -c.amount
            rows.append(
                (
                    c.time_ms,
                    {
                        "bal": "",
                        "balChg": tnum(-chg),
                        "billId": str(c.change_id),
                        "ccy": inst.settle,
                        "execType": "",
                        "fee": "0",
                        "from": "",
                        "instId": self.iid(inst),
                        "instType": "SWAP",
                        "mgnMode": "isolated",
                        "notes": "",
                        "ordId": "",
                        "pnl": "0",
                        "posBal": "",
                        "posBalChg": tnum(chg),
                        "subType": "160" if chg > 0 else "161",
                        "sz": tnum(c.amount),
                        "to": "",
                        "ts": str(c.time_ms),
                        "type": "6",
                    },
                )
            )
        for key in ("type", "subType", "ccy", "mgnMode", "instType"):
            if p.get(key):
                rows = [r for r in rows if r[1].get(key) == str(p[key])]
        rows = [r for _, r in sorted(enumerate(rows), key=lambda ir: (ir[1][0], ir[0]), reverse=True)]
        return self.ok([r[1] for r in rows][: int(p.get("limit") or 100)])

    def _one_order(self, p: dict[str, Any]) -> dict[str, Any]:
        inst_id, td_mode, side, ord_type, sz = self.require(p, "instId", "tdMode", "side", "ordType", "sz")
        inst = self.inst(str(inst_id))
        if ord_type not in ("market", "limit", "ioc", "fok", "post_only") or side not in ("buy", "sell"):
            raise self.error("51000", "Parameter ordType error")
        price = None if ord_type == "market" else self.num(self.require(p, "px")[0], "px")
        pside = self._pside(p.get("posSide"))
        existing = self.market.positions.get((inst.symbol, pside))
        mode: MarginMode = "isolated" if td_mode == "isolated" else "cross"
        reduce_only = str(p.get("reduceOnly")).lower() == "true"
        if existing is not None and existing.margin_mode != mode:
            # OKX keeps cross and isolated positions of one instrument apart; the fake holds one per side.
            if reduce_only:
                raise MarketError(Reason.REDUCE_ONLY_REJECTED, f"no {mode} position to reduce")
            raise self.error("51000", f"Parameter tdMode error: position is {existing.margin_mode}")
        order = self.market.place_order(
            symbol=inst.symbol,
            side=side,
            order_type="market" if ord_type == "market" else "limit",
            contracts=self.num(sz, "sz"),
            price=price,
            reduce_only=reduce_only,
            position_side=pside,
            client_order_id=p.get("clOrdId") or None,
            margin_mode=mode,
            raw=p,
        )
        return {
            "clOrdId": order.client_order_id,
            "ordId": str(order.order_id),
            "tag": p.get("tag", ""),
            "ts": str(self.now()),
            "sCode": "0",
            "sMsg": "Order placed",
        }

    def place_order(self, req: ApiRequest) -> Any:
        batch = req.json if isinstance(req.json, list) else [req.json or {}]
        results, failed = [], 0
        for p in batch:
            try:
                results.append(self._one_order(p))
            except (MarketError, VenueError) as e:
                err = self.market_error(e) if isinstance(e, MarketError) else e
                failed += 1
                results.append(
                    {
                        "clOrdId": p.get("clOrdId", ""),
                        "ordId": "",
                        "tag": p.get("tag", ""),
                        "ts": str(self.now()),
                        "sCode": err.payload["code"],
                        "sMsg": err.payload["msg"],
                    }
                )
        code = "0" if not failed else ("1" if failed == len(batch) else "2")
        msg = "" if not failed else "All operations failed" if code == "1" else "Bulk operation partially succeeded"
        return {
            "code": code,
            "msg": msg,
            "data": results,
            "inTime": str(self.now() * 1000),
            "outTime": str(self.now() * 1000),
        }

    def _lookup(self, p: dict[str, Any]) -> Order:
        (inst_id,) = self.require(p, "instId")
        self.inst(str(inst_id))
        if not p.get("ordId") and not p.get("clOrdId"):
            raise self.error("51000", "Either parameter ordId or clOrdId is required")
        return self.market.find_order(p.get("ordId"), p.get("clOrdId"))

    def get_order(self, req: ApiRequest) -> Any:
        return self.ok([self.order_json(self._lookup(req.params))])

    def cancel_order(self, req: ApiRequest) -> Any:
        order = self.market.cancel_order(self._lookup(req.params).order_id)
        return self.ok(
            [
                {
                    "clOrdId": order.client_order_id,
                    "ordId": str(order.order_id),
                    "ts": str(self.now()),
                    "sCode": "0",
                    "sMsg": "",
                }
            ]
        )

    def pending_orders(self, req: ApiRequest) -> Any:
        wanted = {i.symbol for i in self.selected(req)}
        return self.ok([self.order_json(o) for o in self.market.open_orders() if o.symbol in wanted])

    def fills(self, req: ApiRequest) -> Any:
        wanted = {i.symbol for i in self.selected(req)}
        rows = []
        for f in reversed(self.market.fills):
            if f.symbol not in wanted:
                continue
            inst = self.market.instrument(f.symbol)
            o = self.market.orders.get(f.order_id)
            rows.append(
                {
                    "side": f.side,
                    "fillSz": tnum(f.contracts),
                    "fillPx": tnum(f.price),
                    "fillPxVol": "",
                    "fillFwdPx": "",
                    "fee": tnum(-f.fee),
                    "fillPnl": tnum(f.realized_pnl),
                    "ordId": str(f.order_id),
                    "feeRate": tnum(-(self.market.maker_fee if f.maker else self.market.taker_fee)),
                    "instType": "SWAP",
                    "fillPxUsd": "",
                    "instId": self.iid(inst),
                    "clOrdId": o.client_order_id if o else "",
                    "posSide": "net" if f.position_side == "both" else f.position_side,
                    "billId": str(f.trade_id),
                    "fillMarkVol": "",
                    "tag": "",
                    "fillTime": str(f.time_ms),
                    "execType": "M" if f.maker else "T",
                    "fillIdxPx": "",
                    "tradeId": str(f.trade_id),
                    "fillMarkPx": tnum(f.price),
                    "feeCcy": inst.settle,
                    "ts": str(f.time_ms),
                }
            )
        return self.ok(rows[: int(req.params.get("limit") or 100)])
