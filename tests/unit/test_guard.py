"""bot.guard.review: one or more tests per rule of the module docstring (1-9)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import Action, ActionKind, PositionRisk
from bot.guard import GuardContext, review, utc_day_start
from bot.risk.escalation import RiskTier
from bot.settings import GuardSettings

CFG = GuardSettings(kill_switch_file=None)  # caps 1000 / 3000 / 5000, dust 5, reduce 50 %, 300 s, breaker 3
NOW = 1_700_000_000.0
MARK = 50_000.0
KEY = "BTC/USDT:USDT|both|long"


def ctx(**kw: object) -> GuardContext:
    return GuardContext(now=NOW, mode=kw.pop("mode", "paper"), **kw)  # type: ignore[arg-type]


def act(kind: ActionKind = ActionKind.TOP_UP, amount: float = 100.0, **kw: object) -> Action:
    fields: dict[str, object] = {
        "kind": kind,
        "account": "main",
        "symbol": "BTC/USDT:USDT",
        "side": "long",
        "position_side": "both",
        "amount": amount,
        "rule": "test",
        "reason": "because",
        "tier": RiskTier.DANGER,
        "strategy": {ActionKind.TOP_UP: "top_up", ActionKind.REDUCE: "deleverage"}.get(kind, "hedge"),
        "currency": "USDT" if kind is ActionKind.TOP_UP else None,
        "source": "futures" if kind is ActionKind.TOP_UP else None,
        "mark_price": MARK,
    }
    fields.update(kw)
    return Action(**fields)  # type: ignore[arg-type]


def risk(contracts: float = 2.0, side: str = "long", symbol: str = "BTC/USDT:USDT") -> PositionRisk:
    return PositionRisk(
        account="main", symbol=symbol, side=side, position_side="both", margin_mode="isolated",  # type: ignore[arg-type]
        settle="USDT", contracts=contracts, entry_price=60_000.0, mark_price=MARK, liquidation_price=48_000.0,
        liquidation_price_recomputed=48_000.0, liquidation_price_reported=None, liquidation_source="recomputed",
        distance_pct=4.0, distance_sigma=1.5, touch_probability=0.13, margin_ratio=0.1, maintenance_margin=500.0,
        margin_balance=5000.0, volatility_annual=0.8, tier=RiskTier.DANGER,
    )


def refused(verdict: object, code: str) -> None:
    assert not verdict.allowed, verdict  # type: ignore[attr-defined]
    assert verdict.code == code, verdict  # type: ignore[attr-defined]
    assert verdict.reason  # type: ignore[attr-defined]


# --- 1-5: gates -----------------------------------------------------------------------------------------


def test_paused_refuses_everything_and_comes_first() -> None:
    v = review(act(), risk(), ctx(paused="/pause by alice", account_broken="auth", untrusted=("stale",),
                                  open_actions=(7,), consecutive_failures=9), CFG)
    refused(v, "paused")
    assert "/pause by alice" in v.reason


def test_rules_are_checked_in_the_documented_order() -> None:
    everything = {
        "paused": "kill switch", "account_broken": "auth failed", "untrusted": ("stale snapshot",),
        "open_actions": (12,), "consecutive_failures": 3, "last_action": {KEY: (NOW - 10.0, RiskTier.DANGER)},
    }
    order = ["paused", "broken", "untrusted", "unknown_outcome", "breaker", "cooldown"]
    fields = ["paused", "account_broken", "untrusted", "open_actions", "consecutive_failures", "last_action"]
    for i, code in enumerate(order):
        kw = {f: everything[f] for f in fields[i:]}
        refused(review(act(), risk(), ctx(**kw), CFG), code)
    assert review(act(), risk(), ctx(), CFG).allowed


def test_broken_account() -> None:
    v = review(act(ActionKind.REDUCE, 0.1), risk(), ctx(account_broken="authentication failed"), CFG)
    refused(v, "broken")
    assert "authentication failed" in v.reason


def test_untrusted_data_lists_every_reason() -> None:
    v = review(act(), risk(), ctx(untrusted=("snapshot is 90s old", "mark jumped 25%")), CFG)
    refused(v, "untrusted")
    assert "snapshot is 90s old" in v.reason and "mark jumped 25%" in v.reason


def test_unknown_outcome_blocks_until_reconciled() -> None:
    v = review(act(), risk(), ctx(open_actions=(12, 13)), CFG)
    refused(v, "unknown_outcome")
    assert "#12" in v.reason and "#13" in v.reason


def test_circuit_breaker() -> None:
    refused(review(act(), risk(), ctx(consecutive_failures=CFG.max_consecutive_failures), CFG), "breaker")
    refused(review(act(), risk(), ctx(consecutive_failures=CFG.max_consecutive_failures + 5), CFG), "breaker")
    assert review(act(), risk(), ctx(consecutive_failures=CFG.max_consecutive_failures - 1), CFG).allowed


# --- 6: cooldown ----------------------------------------------------------------------------------------


def test_cooldown_per_position() -> None:
    recent = {KEY: (NOW - 100.0, RiskTier.DANGER)}
    v = review(act(tier=RiskTier.DANGER), risk(), ctx(last_action=recent), CFG)
    refused(v, "cooldown")
    assert "100s ago" in v.reason
    # a calmer tier than last time is also still cooling down
    refused(review(act(tier=RiskTier.WARNING), risk(), ctx(last_action=recent), CFG), "cooldown")
    # over once cooldown_s has passed
    done = {KEY: (NOW - CFG.cooldown_s, RiskTier.DANGER)}
    assert review(act(tier=RiskTier.DANGER), risk(), ctx(last_action=done), CFG).allowed
    # another position is not affected
    other = {"ETH/USDT:USDT|both|long": (NOW - 1.0, RiskTier.CRITICAL)}
    assert review(act(tier=RiskTier.DANGER), risk(), ctx(last_action=other), CFG).allowed


def test_worse_tier_overrides_cooldown() -> None:
    recent = {KEY: (NOW - 1.0, RiskTier.DANGER)}
    assert review(act(tier=RiskTier.CRITICAL), risk(), ctx(last_action=recent), CFG).allowed


def test_zero_amount_is_refused() -> None:
    refused(review(act(amount=0.0), risk(), ctx(), CFG), "empty")
    refused(review(act(ActionKind.REDUCE, -1.0), risk(), ctx(), CFG), "empty")


# --- 7: exposure ----------------------------------------------------------------------------------------


def test_reduce_never_more_than_held() -> None:
    refused(review(act(ActionKind.REDUCE, 2.5), risk(contracts=2.0), ctx(), CFG), "exposure")
    # exactly the position passes the exposure rule (the reduce share cap then applies)
    whole = CFG.model_copy(update={"max_reduce_pct_per_action": 100.0})
    v = review(act(ActionKind.REDUCE, 2.0), risk(contracts=2.0), ctx(), whole)
    assert v.allowed and v.action.amount == 2.0


def test_exposure_needs_the_position_and_its_side() -> None:
    refused(review(act(ActionKind.REDUCE, 0.5), None, ctx(), CFG), "exposure")
    refused(review(act(ActionKind.REDUCE, 0.5), risk(side="short"), ctx(), CFG), "exposure")
    refused(review(act(ActionKind.HEDGE, 0.01), None, ctx(), CFG), "exposure")
    # a top-up moves no exposure: no position needed
    assert review(act(ActionKind.TOP_UP, 100.0), None, ctx(), CFG).allowed


def test_hedge_only_from_the_hedge_strategy() -> None:
    for strategy in ("deleverage", "top_up", ""):
        refused(review(act(ActionKind.HEDGE, 0.01, strategy=strategy), risk(), ctx(), CFG), "exposure")
    assert review(act(ActionKind.HEDGE, 0.01, strategy="hedge"), risk(), ctx(), CFG).allowed
    # a manual command is not a rule: it may hedge
    assert review(act(ActionKind.HEDGE, 0.01, strategy="", origin="command"), risk(), ctx(), CFG).allowed


def test_hedge_never_above_the_position() -> None:
    big = CFG.model_copy(update={"max_action_quote": 1e9, "max_daily_quote_per_account": 1e9,
                                 "max_daily_quote_global": 1e9})
    refused(review(act(ActionKind.HEDGE, 2.1), risk(contracts=2.0), ctx(), big), "exposure")
    assert review(act(ActionKind.HEDGE, 2.0), risk(contracts=2.0), ctx(), big).allowed
    # counting the hedge already open
    refused(review(act(ActionKind.HEDGE, 1.0), risk(contracts=2.0), ctx(hedged_contracts={KEY: 1.5}), big), "exposure")
    assert review(act(ActionKind.HEDGE, 0.5), risk(contracts=2.0), ctx(hedged_contracts={KEY: 1.5}), big).allowed


def test_unwind_only_what_was_hedged() -> None:
    refused(review(act(ActionKind.UNWIND, 0.5), risk(), ctx(), CFG), "exposure")  # nothing hedged
    refused(review(act(ActionKind.UNWIND, 0.5), risk(), ctx(hedged_contracts={KEY: 0.4}), CFG), "exposure")
    v = review(act(ActionKind.UNWIND, 0.4), risk(), ctx(hedged_contracts={KEY: 0.4}), CFG)
    assert v.allowed and v.action.amount == 0.4  # not clipped by money caps (20 000 quote)


# --- 8: caps --------------------------------------------------------------------------------------------


def test_per_action_cap_clips_top_up() -> None:
    v = review(act(amount=1500.0), risk(), ctx(), CFG)
    assert v.allowed
    assert v.action.amount == pytest.approx(CFG.max_action_quote)
    assert "per-action cap" in v.reason and "clipped" in v.action.reason


def test_per_action_cap_holds_for_the_whole_cycle() -> None:
    c = ctx()
    first = review(act(amount=600.0), risk(), c, CFG)
    assert first.allowed and first.action.amount == 600.0
    c = c.after(KEY, ActionKind.TOP_UP.value, first.action.quote_value)
    assert c.spent_this_cycle[KEY] == 600.0 and c.spent_today_account == 600.0 and c.spent_today_global == 600.0
    second = review(act(amount=600.0, source="spot"), risk(), c, CFG)
    assert second.allowed and second.action.amount == pytest.approx(400.0)
    c = c.after(KEY, ActionKind.TOP_UP.value, second.action.quote_value)
    refused(review(act(amount=600.0, source="funding"), risk(), c, CFG), "caps")
    # another position has its own per-action budget, but shares the daily ones
    eth = act(amount=900.0, symbol="ETH/USDT:USDT")
    v = review(eth, risk(symbol="ETH/USDT:USDT"), c, CFG)
    assert v.allowed and v.action.amount == 900.0


def test_hedge_is_capped_in_quote() -> None:
    v = review(act(ActionKind.HEDGE, 1.0), risk(contracts=2.0), ctx(), CFG)  # 50 000 USDT of exposure
    assert v.allowed
    assert v.action.amount == pytest.approx(CFG.max_action_quote / MARK)
    assert v.action.quote_value == pytest.approx(CFG.max_action_quote)


def test_inverse_quote_value_is_in_coin() -> None:
    a = act(ActionKind.HEDGE, 100.0, contract_size=100.0, inverse=True)  # 10 000 USD of BTC at 50 000
    assert a.quote_value == pytest.approx(0.2)
    no_dust = CFG.model_copy(update={"min_action_quote": 0.0})
    assert review(a, risk(contracts=200.0), ctx(), no_dust).action.amount == 100.0
    # the defaults are in the settlement currency: 0.2 BTC is "dust" against min_action_quote 5
    refused(review(a, risk(contracts=200.0), ctx(), CFG), "caps")


def test_daily_caps_account_and_global() -> None:
    v = review(act(amount=500.0), risk(), ctx(spent_today_account=2800.0, spent_today_global=2800.0), CFG)
    assert v.allowed and v.action.amount == pytest.approx(200.0) and "daily cap (account)" in v.reason
    v = review(act(amount=500.0), risk(), ctx(spent_today_account=0.0, spent_today_global=4900.0), CFG)
    assert v.allowed and v.action.amount == pytest.approx(100.0) and "daily cap (global)" in v.reason
    refused(review(act(amount=500.0), risk(), ctx(spent_today_global=5200.0), CFG), "caps")


def test_clipped_below_dust_is_refused() -> None:
    v = review(act(amount=500.0), risk(), ctx(spent_today_account=CFG.max_daily_quote_per_account - 3.0), CFG)
    refused(v, "caps")
    assert "minimum action size" in v.reason
    refused(review(act(amount=4.0), risk(), ctx(), CFG), "caps")  # dust on its own
    assert review(act(amount=5.0), risk(), ctx(), CFG).allowed


def test_reduce_limited_by_share_not_by_money() -> None:
    spent = ctx(spent_today_account=1e9, spent_today_global=1e9, spent_this_cycle={KEY: 1e9})
    v = review(act(ActionKind.REDUCE, 0.9), risk(contracts=2.0), spent, CFG)  # 45 000 USDT notional
    assert v.allowed and v.action.amount == 0.9
    v = review(act(ActionKind.REDUCE, 1.5), risk(contracts=2.0), spent, CFG)
    assert v.allowed and v.action.amount == pytest.approx(1.0)  # 50 % of the position
    assert "50% of the position" in v.reason
    # a reduce spends nothing...
    after = spent.after(KEY, ActionKind.REDUCE.value, 45_000.0, 0.9)
    assert (after.spent_today_account, after.spent_today_global, after.spent_this_cycle) == (
        spent.spent_today_account, spent.spent_today_global, spent.spent_this_cycle)
    # ...but the share it closed counts for the rest of the poll: 0.9 of 2.0 closed, 0.1 left of 50 %
    v = review(act(ActionKind.REDUCE, 0.5), risk(contracts=1.1), after, CFG)
    assert v.allowed and v.action.amount == pytest.approx(0.1)
    # but dust is dust
    refused(review(act(ActionKind.REDUCE, 0.00005), risk(contracts=2.0), ctx(), CFG), "caps")


def test_unwind_does_not_consume_money_caps() -> None:
    # Unwinding our own hedge neither moves money nor adds exposure; the journal does not count
    # it either (bot.store.CAPPED_KINDS = top_up, hedge). Within a cycle, GuardContext.after
    # must agree, or an unwind would eat the day's top-up budget for every later position.
    c = ctx()
    after = c.after(KEY, ActionKind.UNWIND.value, 20_000.0)
    assert after.spent_today_account == 0.0 and after.spent_today_global == 0.0
    assert after.spent_this_cycle.get(KEY, 0.0) == 0.0
    # otherwise a top-up on another position later in the same cycle would be refused
    eth = act(amount=500.0, symbol="ETH/USDT:USDT")
    assert review(eth, risk(symbol="ETH/USDT:USDT"), after, CFG).allowed


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([ActionKind.TOP_UP, ActionKind.HEDGE]),
    st.floats(0.0, 10.0),
    st.floats(0.0, 4000.0),
    st.floats(0.0, 6000.0),
    st.floats(0.0, 1500.0),
)
def test_allowed_money_actions_never_exceed_any_cap(
    kind: ActionKind, size: float, account: float, total: float, cycle: float
) -> None:
    amount = size * 1000.0 if kind is ActionKind.TOP_UP else size
    c = ctx(spent_today_account=account, spent_today_global=total, spent_this_cycle={KEY: cycle})
    v = review(act(kind, amount), risk(contracts=20.0), c, CFG)
    if amount <= 0.0:
        refused(v, "empty")
        return
    if not v.allowed:
        assert v.code == "caps"
        return
    q = v.action.quote_value
    tol = 1e-9 * max(1.0, q)
    assert v.action.amount <= amount
    assert q <= CFG.max_action_quote - cycle + tol
    assert q <= CFG.max_daily_quote_per_account - account + tol
    assert q <= CFG.max_daily_quote_global - total + tol
    assert q >= CFG.min_action_quote - tol


# --- 9: mode ----------------------------------------------------------------------------------------------


def test_paper_unless_live() -> None:
    assert review(act(), risk(), ctx(mode="paper"), CFG).paper
    assert not review(act(), risk(), ctx(mode="live"), CFG).paper
    # refusals say which mode they were made in too
    assert not review(act(), risk(), ctx(mode="live", paused="x"), CFG).paper
    assert review(act(), risk(), ctx(mode="paper", paused="x"), CFG).paper


def test_confirmation_only_in_live_mode() -> None:
    assert review(act(), risk(), ctx(mode="live", needs_confirmation=True), CFG).needs_confirmation
    assert not review(act(), risk(), ctx(mode="paper", needs_confirmation=True), CFG).needs_confirmation
    assert not review(act(), risk(), ctx(mode="live", needs_confirmation=False), CFG).needs_confirmation
    assert not review(act(), risk(), ctx(mode="live", needs_confirmation=True, paused="x"), CFG).needs_confirmation


def test_review_does_not_change_an_unclipped_action() -> None:
    a = act(amount=250.0)
    v = review(a, risk(), ctx(), CFG)
    assert v.allowed and v.action is a and v.reason == ""


def test_utc_day_start() -> None:
    assert utc_day_start(86_400.0 * 3 + 5.0) == 86_400.0 * 3
    assert utc_day_start(NOW) <= NOW < utc_day_start(NOW) + 86_400.0
    assert replace(ctx(), now=utc_day_start(NOW)).now % 86_400.0 == 0.0
