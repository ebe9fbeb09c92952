"""Bad input from the exchange: hypothesis-generated payloads fed to the snapshot parsers.

Each venue (Binance USDⓈ-M, Bybit v5, OKX v5) starts from the replies our loopback fake sends
for an open isolated long and an open cross short. Hypothesis then drops keys, nulls and
corrupts values ("", "NaN", "inf", "-1", "1e308", "abc", lists, dicts, bools, numbers where
strings belong), flips side fields to unknown strings, truncates structures and replaces whole
replies with garbage.

Properties, at three levels:

* one row (``_position``) or one account reply (``_account``): a well-formed result, a skipped
  row (None, with a warning) or ``Malformed``, never another exception type;
* the whole per-cycle read (``fetch_futures`` on the loaded venue object, its two raw ccxt calls
  answered by the mutated replies): a ``FuturesState`` or ``Malformed``. Every position has
  finite contracts > 0, a side the row states, finite prices and a reported liquidation price
  that is None or finite > 0; account figures are finite or None (the margin ratio may also be
  +inf: maintenance with no equity left). A price that is not > 0 (the
  parsers pass "not given" through as 0) is never believed: ``assess`` names it untrusted and
  leaves the position out;
* end to end: the mutated positions reply served by the fake goes through
  ``CcxtAdapter.snapshot`` and the engine; the cycle ends with an assessment or a clean
  ``GuardError``, and never crashes.

The targeted properties after the three levels pin what the random search found, each a parser
bug fixed since (huge JSON integers, non-objects in lists of objects, unknown or unhashable side
fields and coin names, negative or unreadable sizes, account sums overflowing to infinity). Any
other exception escaping a parser fails the test.
"""

from __future__ import annotations

import asyncio
import copy
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App, build_app
from bot.assess import AssessConfig, assess
from bot.domain import AccountSnapshot, Position
from bot.errors import GuardError
from bot.exchanges.ccxt_adapter import CcxtAdapter
from bot.exchanges.venue import FuturesState, Malformed, Venue, num
from bot.notify.console import ConsoleNotifier
from tests.fakes.exchange import FakeExchangeServer
from tests.fakes.exchange.common import ApiRequest
from tests.integration.exchange_support import (
    BTC,
    ETH,
    ONE_BTC,
    POSITIONS,
    VENUES,
    account_config,
    market_for,
    settings_for,
)

pytestmark = pytest.mark.timeout(60)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
E2E = settings(FUZZ, max_examples=25)
TARGETED = settings(FUZZ, max_examples=50)  # narrow strategies: a counterexample comes within a few draws

# The raw ccxt calls of each venue's per-cycle read: (positions, account).
RAW_CALLS = {
    "binance": ("fapiPrivateV3GetPositionRisk", "fapiPrivateV3GetAccount"),
    "bybit": ("privateGetV5PositionList", "privateGetV5AccountWalletBalance"),
    "okx": ("privateGetAccountPositions", "privateGetAccountBalance"),
}
# fetch_futures hands a row to _position only when this field is a non-zero number.
SIZE_FIELD = {"binance": "positionAmt", "bybit": "size", "okx": "pos"}
# Numeric row fields _position reads unconditionally.
NUMERIC_FIELDS = {
    "binance": ["positionAmt", "isolatedWallet", "entryPrice", "markPrice", "leverage", "liquidationPrice",
                "maintMargin", "unRealizedProfit"],
    "bybit": ["size", "avgPrice", "markPrice", "leverage", "liqPrice", "positionMM", "unrealisedPnl"],
    "okx": ["pos", "avgPx", "markPx", "lever", "liqPx", "mmr", "upl"],
}  # fmt: skip
# Fields the parsers read (mutations favour them over the dozens of fields nobody reads).
READ_FIELDS = {
    "binance": {
        "symbol", "positionSide", "positionAmt", "isolatedWallet", "entryPrice", "markPrice", "marginAsset",
        "leverage", "liquidationPrice", "maintMargin", "unRealizedProfit", "totalMaintMargin",
        "totalMarginBalance", "totalPositionInitialMargin", "totalInitialMargin", "totalOpenOrderInitialMargin",
        "assets", "asset", "crossWalletBalance", "availableBalance",
    },
    "bybit": {
        "result", "list", "nextPageCursor", "symbol", "positionIdx", "side", "tradeMode", "liqPrice", "size",
        "avgPrice", "markPrice", "positionBalance", "leverage", "positionMM", "unrealisedPnl", "coin",
        "totalPositionIM", "totalPositionMM", "walletBalance", "availableToWithdraw", "totalAvailableBalance",
        "totalMaintenanceMargin", "accountMMRate", "totalEquity",
    },
    "okx": {
        "data", "instId", "pos", "posSide", "mgnMode", "avgPx", "markPx", "margin", "ccy", "lever", "liqPx",
        "mmr", "upl", "imr", "isoEq", "details", "cashBal", "availBal", "mgnRatio", "adjEq", "totalEq",
    },
}  # fmt: skip
SIDE_FIELDS = {"binance": ["positionSide"], "bybit": ["side", "positionIdx"], "okx": ["posSide"]}
ALL_SIDE_FIELDS = {"positionSide", "side", "positionIdx", "posSide", "mgnMode", "tradeMode"}


# -- the venues, loaded once per module ----------------------------------------------------------


@dataclass
class Rig:
    """One venue: the fake server, the app guarding one account on it, the valid replies."""

    name: str
    loop: asyncio.AbstractEventLoop
    server: FakeExchangeServer
    app: App
    positions: Any  # the positions reply exactly as ccxt hands it to the venue
    account: Any  # the futures-account reply

    @property
    def adapter(self) -> CcxtAdapter:
        adapter = self.app.adapters["acct"]
        assert isinstance(adapter, CcxtAdapter)
        return adapter

    @property
    def venue(self) -> Any:
        venue: Venue = self.adapter.venue
        return venue

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(rows_of(self.name, self.positions))

    @property
    def summary(self) -> dict[str, Any]:
        """The account object ``_account`` parses."""
        if self.name == "binance":
            return dict(self.account)
        if self.name == "bybit":
            return dict(self.account["result"]["list"][0])
        return dict(self.account["data"][0])

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


def rows_of(venue: str, positions: Any) -> list[dict[str, Any]]:
    """The row list inside a (valid) positions reply, itself: edits to it edit the reply."""
    if venue == "binance":
        rows: list[dict[str, Any]] = positions
    elif venue == "bybit":
        rows = positions["result"]["list"]
    else:
        rows = positions["data"]
    return rows


async def _start(venue: str, tmp: Path) -> Rig:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    market.open_position(ETH, "short", 10 * ONE_BTC[venue], 3_000, leverage=10, margin_mode="cross")
    server = FakeExchangeServer(venue, market)  # type: ignore[arg-type]
    await server.start()
    app: App | None = None
    try:
        settings = settings_for(tmp, [account_config(server)], rules=[{"strategy": "alert", "at": "watch"}])
        app = build_app(settings, notifier=ConsoleNotifier(file=io.StringIO()))
        result = await app.engine.run_cycle("acct")  # loads markets, modes and tiers
        assert result.error is None and result.risk is not None and not result.risk.untrusted, result
        assert {(p.symbol, p.margin_mode) for p in result.risk.positions} == {(BTC, "isolated"), (ETH, "cross")}
        adapter = app.adapters["acct"]
        assert isinstance(adapter, CcxtAdapter)
        ex = adapter.ex
        if venue == "binance":
            positions, account = await ex.fapiPrivateV3GetPositionRisk(), await ex.fapiPrivateV3GetAccount()
        elif venue == "bybit":
            request = {"category": "linear", "settleCoin": "USDT", "limit": 200}
            positions = await ex.privateGetV5PositionList(request)
            account = await ex.privateGetV5AccountWalletBalance({"accountType": adapter.venue.account_type})
        else:
            positions = await ex.privateGetAccountPositions({"instType": "SWAP"})
            account = await ex.privateGetAccountBalance()
        return Rig(venue, asyncio.get_running_loop(), server, app, positions, account)
    except BaseException:
        if app is not None:
            await app.close()
        await server.stop()
        raise


@pytest.fixture(scope="module", params=VENUES)
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """A fake venue, the app on it after one good cycle (markets, modes and tiers loaded) and the
    valid replies; its own event loop, so the sync hypothesis tests can drive it."""
    venue: str = request.param
    loop = asyncio.new_event_loop()
    try:
        rig = loop.run_until_complete(_start(venue, tmp_path_factory.mktemp(f"fuzz-{venue}")))
        try:
            yield rig
        finally:
            try:
                loop.run_until_complete(rig.app.close())
            finally:
                loop.run_until_complete(rig.server.stop())
    finally:
        loop.close()


# -- garbage -------------------------------------------------------------------------------------

NASTY: list[Any] = [
    None, "", " ", "NaN", "nan", "-nan", "inf", "-inf", "Infinity", "-1", "0", "-0", "0.0", "1e308",
    "-1e308", "1e-320", "abc", "1,5", "0x1A", "null", "None", "true", True, False, 0, -1, 1, 1e308, -1e308,
    float("nan"), float("inf"), float("-inf"), [], {}, [None], ["60000"], {"value": "60000"}, [[]], {"": {}},
]  # fmt: skip
UNKNOWN_SIDES: list[Any] = [
    "LONG", "SHORT", "BOTH", "long", "short", "both", "net", "Buy", "Sell", "buy", "sell", "None", "",
    "garbage", "isolated", "cross", "ISOLATED", "0", "1", "2", "3", 0, 1, 2, 3, -1, None,
]  # fmt: skip
NON_SCALARS: list[Any] = [[], {}, ["Buy"], ["USDT"], {"side": "Buy"}, [None]]
HUGE_INTS = [10**400, -(10**400)]  # JSON integers too big for a float (json.loads keeps them exact)

scalars = st.one_of(
    st.sampled_from(NASTY),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=6),
    st.sampled_from(HUGE_INTS),
)
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5,
)
WHOLE_REPLIES: list[Any] = [
    None, "", "abc", "<html>502 Bad Gateway</html>", "[", "{", 0, [], {}, [None], ["abc"], [[]], [{}],
    {"code": -1}, {"code": -1, "msg": "x"}, {"code": "0"}, {"code": "0", "data": {}}, {"code": "0", "data": "x"},
    {"code": "0", "data": [None]}, {"code": "0", "data": [[]]}, {"retCode": 0}, {"retCode": 0, "result": []},
    {"retCode": 0, "result": {}}, {"retCode": 0, "result": {"list": {}}}, {"retCode": 0, "result": {"list": "x"}},
    {"retCode": 0, "result": {"list": [None]}}, {"retCode": 0, "result": {"list": [{}]}},
]  # fmt: skip

TreePath = tuple[Any, ...]


def _paths(tree: Any, path: TreePath = ()) -> Iterator[TreePath]:
    yield path
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*path, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _paths(value, (*path, i))


def _get(tree: Any, path: TreePath) -> Any:
    for step in path:
        tree = tree[step]
    return tree


def _retype(value: Any) -> Any:
    """Same value, other JSON type: "60000" -> 60000, 1.5 -> "1.5", "Buy" -> ["Buy"], True -> "true"."""
    if isinstance(value, str):
        x = num(value)
        if x is None:
            return [value]
        return int(x) if x.is_integer() and abs(x) < 2**53 else x
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@st.composite
def mutated(draw: st.DrawFn, tree: Any, read: set[str], max_ops: int = 4) -> Any:
    """``tree`` with 1..max_ops corruptions, favouring the fields the parser reads."""
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, max_ops))):
        paths = list(_paths(tree))
        wanted = [p for p in paths if p and (p[-1] in read or isinstance(p[-1], int))]
        path = draw(st.sampled_from(wanted) if wanted and draw(st.integers(0, 3)) else st.sampled_from(paths))
        op = draw(st.sampled_from(["drop", "garbage", "side", "retype", "truncate"]))
        if op == "side" or (op == "garbage" and path and path[-1] in ALL_SIDE_FIELDS and draw(st.booleans())):
            value: Any = draw(st.sampled_from(UNKNOWN_SIDES) | st.text(max_size=5))
        elif op == "retype":
            value = _retype(_get(tree, path))
        elif op == "truncate" and isinstance(_get(tree, path), list | dict):
            node = _get(tree, path)
            cut = draw(st.integers(0, max(len(node) - 1, 0)))
            value = node[:cut] if isinstance(node, list) else dict(list(node.items())[:cut])
        else:
            value = draw(garbage)
        value = copy.deepcopy(value)  # never the shared constants above: later ops edit in place
        if not path:
            return None if op == "drop" else value
        parent = _get(tree, path[:-1])
        if op == "drop":
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return tree


def replies(rig: Rig, which: str) -> st.SearchStrategy[Any]:
    """The valid reply (``which``: positions/account), a mutated one, or whole-reply garbage."""
    valid = rig.positions if which == "positions" else rig.account
    return st.one_of(st.just(valid), mutated(valid, READ_FIELDS[rig.name]), st.sampled_from(WHOLE_REPLIES), garbage)


# -- properties ----------------------------------------------------------------------------------


def finite(x: Any) -> bool:
    return isinstance(x, float | int) and not isinstance(x, bool) and math.isfinite(x)


def check_position(rig: Rig, p: Any) -> None:
    assert isinstance(p, Position), p
    assert p.symbol in rig.adapter.ex.markets, p.symbol
    assert p.side in ("long", "short"), p.side
    assert p.position_side in ("both", "long", "short"), p.position_side
    assert p.margin_mode in ("isolated", "cross"), p.margin_mode
    assert isinstance(p.contracts, float) and math.isfinite(p.contracts) and p.contracts > 0, p.contracts
    assert finite(p.entry_price) and finite(p.mark_price), (p.entry_price, p.mark_price)
    lp = p.liquidation_price_reported
    assert lp is None or (finite(lp) and lp > 0), lp
    assert finite(p.contract_size) and p.contract_size > 0, p.contract_size
    for name in ("collateral", "leverage", "maintenance_margin_reported", "unrealized_pnl_reported"):
        value = getattr(p, name)
        assert value is None or finite(value), (name, value)
    assert isinstance(p.settle, str) and p.settle, p.settle


def check_state(rig: Rig, state: Any) -> None:
    assert isinstance(state, FuturesState), state
    for p in state.positions:
        check_position(rig, p)
    assert isinstance(state.rows, int) and state.rows >= 0, state.rows
    assert len(state.positions) <= state.rows, (len(state.positions), state.rows)
    for wallet in (state.cross_wallet, state.free):
        for ccy, amount in wallet.items():
            assert isinstance(ccy, str) and finite(amount), (ccy, amount)
    # usd_pool: multi-collateral accounts, the shared USD cross pool
    for name in ("equity", "maintenance", "usd_pool"):
        value = getattr(state, name)
        assert value is None or finite(value), (name, value)
    assert finite(state.margin_in_use), state.margin_in_use
    # +inf is binance.py's deliberate "maintenance and no margin balance left"
    ratio = state.margin_ratio
    assert ratio is None or ratio == math.inf or finite(ratio), ratio
    assert state.hedge_mode in (None, True, False), state.hedge_mode
    assert all(isinstance(w, str) for w in state.warnings), state.warnings


def check_not_believed(rig: Rig, state: FuturesState) -> None:
    """What the engine makes of the read: a position whose numbers are not > 0 is named untrusted
    and left out of the assessment, and assessing never raises."""
    now = 1_800_000_000.0
    state.pool_cross_positions()  # as CcxtAdapter._read does before building the snapshot
    snapshot = AccountSnapshot(
        account="acct",
        exchange=rig.name,
        fetched_at=now,
        positions=tuple(state.positions),
        cross_wallet=state.cross_wallet,
        available={"futures": state.free},
        account_margin_ratio=state.margin_ratio,
        account_equity=state.equity,
        account_maintenance=state.maintenance,
        warnings=tuple(state.warnings),
    )
    risk = assess(snapshot, AssessConfig(), now)
    assessed = {r.key for r in risk.positions}
    for p in state.positions:
        if p.entry_price > 0 and p.mark_price > 0 and p.contracts > 0:
            continue
        assert p.key not in assessed or any(q.key == p.key and q is not p for q in state.positions), p
        assert any(u.startswith(f"{p.symbol}: unusable numbers") for u in risk.untrusted), risk.untrusted
    for r in risk.positions:
        check_assessed(r)


def check_assessed(r: Any) -> None:
    """A PositionRisk: believed numbers only. Its liquidation price may be 0.0 when the wallet is
    gone ("mark is at or past the liquidation price"), never negative or NaN; a reported one is
    None or > 0."""
    assert finite(r.mark_price) and r.mark_price > 0 and r.contracts > 0 and r.entry_price > 0, r
    assert r.liquidation_price is None or (finite(r.liquidation_price) and r.liquidation_price >= 0), r
    rep = r.liquidation_price_reported
    assert rep is None or (finite(rep) and rep > 0), r


def stated_side(venue: str, row: dict[str, Any]) -> str | None:
    """The side the row states per the venue's documentation; None: it states none."""
    size = num(row.get(SIZE_FIELD[venue])) or 0.0
    if venue == "binance":
        pside = str(row.get("positionSide") or "BOTH").upper()
        return {"LONG": "long", "SHORT": "short"}.get(pside, "short" if size < 0 else "long")
    if venue == "bybit":
        by_idx = {"1": "long", "2": "short"}.get(str(row.get("positionIdx")))
        side = row.get("side")
        return {"Buy": "long", "Sell": "short"}.get(side, by_idx) if isinstance(side, str) else by_idx
    pos_side = row.get("posSide")
    if not pos_side or pos_side == "net":
        return "short" if size < 0 else "long"
    return pos_side if pos_side in ("long", "short") else None


def parse_row(rig: Rig, row: Any) -> Position | None:
    """The parsed row, or None when the parser skipped it (saying why) or refused it as Malformed."""
    warnings: list[str] = []
    try:
        position = rig.venue._position(row, warnings)
    except Malformed:
        return None
    if position is None:
        assert warnings, "a skipped row must say why"
    return position


def fetch(rig: Rig, positions: Any, account: Any) -> FuturesState:
    """The venue's per-cycle read with its two raw ccxt calls answered by these replies."""
    venue = rig.venue
    pos_call, acct_call = RAW_CALLS[rig.name]

    async def answer_positions(params: Any = None, *_: Any) -> Any:
        params = params if isinstance(params, dict) else {}
        if rig.name == "bybit" and (params.get("cursor") or params.get("settleCoin") != "USDT"):
            return {"retCode": 0, "retMsg": "OK", "result": {"list": [], "nextPageCursor": "", "category": "linear"}}
        return copy.deepcopy(positions)

    async def answer_account(*_: Any) -> Any:
        return copy.deepcopy(account)

    saved = (set(getattr(venue, "settle_coins", ())), venue.hedge_mode)
    try:
        with (
            mock.patch.object(venue.ex, pos_call, answer_positions),
            mock.patch.object(venue.ex, acct_call, answer_account),
        ):
            state: FuturesState = rig.run(venue.fetch_futures())
        return state
    finally:
        if rig.name == "bybit":  # a wallet coin with margin in use widens the settle coins for good
            venue.settle_coins = saved[0]
        venue.hedge_mode = saved[1]


def checked_fetch(rig: Rig, positions: Any, account: Any) -> FuturesState | None:
    """:func:`fetch`, its state checked for sanity; None when the parser refused the replies."""
    try:
        state = fetch(rig, positions, account)
    except Malformed:
        return None
    check_state(rig, state)
    return state


# -- level 1: one row, one account reply ---------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_position_row_parses_skips_or_is_malformed(rig: Rig, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(rig.rows), label="valid row")
    row = data.draw(mutated(base, READ_FIELDS[rig.name]), label="row")
    if not isinstance(row, dict):
        return  # fetch_futures hands _position dicts only (the per-cycle test covers the rest)
    position = parse_row(rig, row)
    if position is None or not num(row.get(SIZE_FIELD[rig.name])):
        return  # a zero/missing size never reaches _position in fetch_futures
    check_position(rig, position)
    assert position.side == stated_side(rig.name, row), (position.side, stated_side(rig.name, row))


@FUZZ
@given(data=st.data())
def test_account_reply_parses_or_is_malformed(rig: Rig, data: st.DataObject) -> None:
    summary = data.draw(mutated(rig.summary, READ_FIELDS[rig.name]), label="account")
    if not isinstance(summary, dict):
        return  # fetch_futures refuses a non-object account itself (the per-cycle test covers it)
    rows = [r for r in rig.rows if num(r.get(SIZE_FIELD[rig.name]))]
    try:
        state = rig.venue._account(summary) if rig.name == "binance" else rig.venue._account(summary, rows)
    except Malformed:
        return
    check_state(rig, state)


# -- level 2: the whole per-cycle read ------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_cycle_read_is_a_good_state_or_malformed(rig: Rig, data: st.DataObject) -> None:
    positions = data.draw(replies(rig, "positions"), label="positions reply")
    account = data.draw(replies(rig, "account"), label="account reply")
    state = checked_fetch(rig, positions, account)
    if state is None:
        return
    check_not_believed(rig, state)


def test_unmutated_replies_read_as_both_positions(rig: Rig) -> None:
    """The baseline the mutations start from really is a good read."""
    state = fetch(rig, rig.positions, rig.account)
    check_state(rig, state)
    assert {(p.symbol, p.side, p.margin_mode) for p in state.positions} == {
        (BTC, "long", "isolated"),
        (ETH, "short", "cross"),
    }
    assert all(p.entry_price > 0 and p.mark_price > 0 for p in state.positions)
    assert state.equity and state.maintenance and state.margin_ratio and not state.warnings


# -- level 3: end to end, the fake serves the mutated positions reply -----------------------------

GUARD_ERRORS = {"GuardError", *(cls.__name__ for cls in GuardError.__subclasses__()), "ClockSkew"}


def serving(rig: Rig, reply: Any) -> Callable[[ApiRequest], Any]:
    venue_api: Any = rig.server.venue

    def handler(req: ApiRequest) -> Any:
        if rig.name == "bybit" and (req.params.get("cursor") or req.params.get("settleCoin") != "USDT"):
            return venue_api.ok({"list": [], "nextPageCursor": "", "category": "linear"})
        return reply

    return handler


@E2E
@given(data=st.data())
def test_mutated_positions_reply_through_adapter_and_engine(rig: Rig, data: st.DataObject) -> None:
    reply = data.draw(replies(rig, "positions"), label="positions reply")
    engine = rig.app.engine
    route = rig.server.venue.routes[("GET", POSITIONS[rig.name])]
    real = route.handler
    engine.backoff_until.clear()  # the test does not wait out the engine's backoff
    route.handler = serving(rig, reply)
    try:
        result = rig.run(engine.run_cycle("acct"))
    finally:
        route.handler = real
    assert not any("internal error" in a.text for a in result.alerts), [a.text for a in result.alerts]
    if result.error is not None:
        assert result.error.split(":", 1)[0] in GUARD_ERRORS, result.error
        assert result.risk is None and result.actions == []
        return
    assert result.risk is not None
    for r in result.risk.positions:
        check_assessed(r)
    assert result.actions == []  # alert-only rules


# -- targeted properties: what the random search found, pinned ------------------------------------


@TARGETED
@given(data=st.data())
def test_huge_json_integer_is_no_number(rig: Rig, data: st.DataObject) -> None:
    """json.loads keeps a 400-digit integer exact and float() of it raises OverflowError: it is
    "not a number" like any other garbage, never an escaping exception."""
    row = dict(data.draw(st.sampled_from(rig.rows), label="valid row"))
    field = data.draw(st.sampled_from(NUMERIC_FIELDS[rig.name]), label="field")
    row[field] = data.draw(st.sampled_from(HUGE_INTS), label="value")
    assert num(row[field]) is None
    position = parse_row(rig, row)
    if position is not None and num(row.get(SIZE_FIELD[rig.name])):
        check_position(rig, position)


# Lists of objects the parsers iterate: (reply, path, how to break it): "item" slips a non-object
# into the list, "container" replaces the list by a non-empty object.
OBJECT_LISTS: dict[str, list[tuple[str, TreePath, str]]] = {
    "binance": [("positions", (), "item"), ("account", ("assets",), "item"), ("account", ("assets",), "container")],
    "bybit": [
        ("positions", ("result", "list"), "item"),
        ("account", ("result", "list"), "container"),
        ("account", ("result", "list", 0, "coin"), "item"),
        ("account", ("result", "list", 0, "coin"), "container"),
    ],
    "okx": [
        ("positions", ("data",), "item"),
        ("account", ("data", 0, "details"), "item"),
        ("account", ("data", 0, "details"), "container"),
    ],
}


@TARGETED
@given(data=st.data())
def test_non_object_in_a_list_of_objects_is_never_silently_read(rig: Rig, data: st.DataObject) -> None:
    """A non-object where the venue documents a list of objects: ``Malformed``, or a read that
    carries a warning ("positions unknown"), or one where the stray item was dropped."""
    which, path, how = data.draw(st.sampled_from(OBJECT_LISTS[rig.name]), label="where")
    replies_ = {"positions": copy.deepcopy(rig.positions), "account": copy.deepcopy(rig.account)}
    node = _get(replies_[which], path)
    if how == "item":
        item = data.draw(st.sampled_from([None, "abc", 0, 1.5, True, [], ["x"]]), label="item")
        node.insert(data.draw(st.integers(0, len(node)), label="at"), copy.deepcopy(item))
    else:
        junk = data.draw(st.dictionaries(st.text(min_size=1, max_size=3), scalars, min_size=1, max_size=2))
        _get(replies_[which], path[:-1])[path[-1]] = junk
    state = checked_fetch(rig, replies_["positions"], replies_["account"])
    if state is None:
        return
    if state.warnings:
        return
    # okx.py _data drops non-objects from a data list: the two real rows must still be there
    assert {(p.symbol, p.side) for p in state.positions} == {(BTC, "long"), (ETH, "short")}, state


@TARGETED
@given(data=st.data())
def test_side_is_taken_from_the_row_never_guessed(rig: Rig, data: st.DataObject) -> None:
    """A side field outside the venue's vocabulary (Bybit side Buy/Sell, OKX posSide
    long/short/net) is Malformed, not a position with a made-up side: a long read as a short puts
    the liquidation on the wrong side of the mark. Binance's signed positionAmt always decides."""
    row = dict(data.draw(st.sampled_from(rig.rows), label="valid row"))
    for field in SIDE_FIELDS[rig.name]:
        row[field] = data.draw(st.sampled_from(UNKNOWN_SIDES) | st.text(max_size=5), label=field)
    position = parse_row(rig, row)
    if position is not None:
        assert stated_side(rig.name, row) is not None and position.side == stated_side(rig.name, row), row


@TARGETED
@given(data=st.data())
def test_negative_size_is_never_negative_contracts(rig: Rig, data: st.DataObject) -> None:
    """Binance/OKX sizes are signed (a negative one is a short); Bybit documents ``size`` as
    absolute, so a negative one there is garbage. Either way: contracts > 0, the stated side."""
    row = dict(data.draw(st.sampled_from(rig.rows), label="valid row"))
    size = data.draw(st.floats(-1e6, -1e-8) | st.integers(-(10**6), -1), label="size")
    row[SIZE_FIELD[rig.name]] = data.draw(st.sampled_from([str(size), size]), label="as")
    position = parse_row(rig, row)
    if position is not None:
        check_position(rig, position)
        assert position.side == stated_side(rig.name, row), (position.side, row)


# Two finite numbers whose difference overflows: (reply, path, sign) per venue.
OVERFLOW: dict[str, list[tuple[str, TreePath, int]]] = {
    "binance": [("account", ("totalInitialMargin",), 1), ("account", ("totalOpenOrderInitialMargin",), -1)],
    "bybit": [("account", ("result", "list", 0, "coin", 0, "walletBalance"), 1),
              ("positions", ("result", "list", 0, "positionBalance"), -1)],  # the isolated BTC row
    "okx": [("account", ("data", 0, "details", 0, "cashBal"), -1),
            ("positions", ("data", 0, "margin"), 1)],  # the isolated BTC row
}  # fmt: skip


@TARGETED
@given(big=st.floats(1e308, 1.7e308))
def test_account_sums_never_overflow_to_infinity(rig: Rig, big: float) -> None:
    """Each number finite, their difference not (1e308 - -1e308): Malformed, never an infinite
    wallet or margin in use."""
    replies_ = {"positions": copy.deepcopy(rig.positions), "account": copy.deepcopy(rig.account)}
    if rig.name == "binance":
        del replies_["account"]["totalPositionInitialMargin"]  # so the parser subtracts the two
    for which, path, sign in OVERFLOW[rig.name]:
        _get(replies_[which], path[:-1])[path[-1]] = str(sign * big)
    state = checked_fetch(rig, replies_["positions"], replies_["account"])
    if state is None:
        return


@TARGETED
@given(data=st.data())
def test_unhashable_side_value_is_malformed_or_stated(rig: Rig, data: st.DataObject) -> None:
    """A side field holding a list or an object (``"side": ["Buy"]``) is no side: Malformed like
    an unknown string, never a TypeError from hashing it (Binance's sign still decides)."""
    row = dict(data.draw(st.sampled_from(rig.rows), label="valid row"))
    for field in SIDE_FIELDS[rig.name]:
        row[field] = copy.deepcopy(data.draw(st.sampled_from(NON_SCALARS), label=field))
    position = parse_row(rig, row)
    if position is not None:
        assert stated_side(rig.name, row) is not None and position.side == stated_side(rig.name, row), row


# The currency name of the first wallet/asset entry (an entry with margin in use), per venue.
CURRENCY_NAME: dict[str, TreePath] = {
    "binance": ("assets", 0, "asset"),
    "bybit": ("result", "list", 0, "coin", 0, "coin"),
    "okx": ("data", 0, "details", 0, "ccy"),
}


@TARGETED
@given(name=st.sampled_from(NON_SCALARS))
def test_unhashable_coin_name_is_read_or_malformed(rig: Rig, name: Any) -> None:
    """A currency name that is a list or an object: a read (under some name) or Malformed, never
    a TypeError (Bybit looks the name up in its set of settle coins)."""
    account = copy.deepcopy(rig.account)
    path = CURRENCY_NAME[rig.name]
    _get(account, path[:-1])[path[-1]] = copy.deepcopy(name)
    state = checked_fetch(rig, rig.positions, account)
    if state is None:
        return


# -- an open row whose size cannot be read is never dropped as if it were closed ---------------------

NOT_A_SIZE: list[Any] = ["abc", "NaN", "inf", "-inf", "1e400", 10**400, [], ["1"], {"a": 1}, True]


@TARGETED
@given(data=st.data())
def test_an_open_row_with_an_unreadable_size_never_vanishes_silently(rig: Rig, data: st.DataObject) -> None:
    """A size that is not a number (as opposed to the documented "0" of a closed slot) is not the
    documented structure: Malformed ("positions unknown"), or at least a warning, never a
    position silently gone (the guard would stop watching it)."""
    positions = copy.deepcopy(rig.positions)
    rows = rows_of(rig.name, positions)
    victim = data.draw(st.integers(0, len(rows) - 1), label="row")
    rows[victim][SIZE_FIELD[rig.name]] = copy.deepcopy(data.draw(st.sampled_from(NOT_A_SIZE), label="size"))
    state = checked_fetch(rig, positions, rig.account)
    if state is None:
        return
    assert state.warnings or len(state.positions) == len(rows), (state.positions, state.warnings)
