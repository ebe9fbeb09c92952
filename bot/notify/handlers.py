"""What each Telegram command does. Handlers get a :class:`Ctx` and return a :class:`Reply`;
they never talk to Telegram themselves (``bot.notify.commands`` sends, journals and turns a
:class:`UsageError` into a usage line).

Money-moving commands never act directly: they go through ``engine.propose_manual`` (the
guard) and then a confirmation button, unless listed in ``telegram.preauthorized``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import telegram

from bot import __version__
from bot.domain import ActionKind
from bot.journal import ActionRow
from bot.messages import action_report, fmt_pct
from bot.notify.charts import render_chart
from bot.notify.confirm import ConfirmationDesk, action_to_payload
from bot.notify.formatting import (
    Line,
    action_prompt,
    clock_str,
    describe_action,
    history_lines,
    position_detail,
    status_lines,
    tiers_lines,
)
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

CHART_WINDOW_S = 86400.0
SOURCES = ("futures", "spot", "funding")


class Console(Protocol):
    """What handlers may use of the Telegram console."""

    settings: Settings
    store: Store
    clock: Callable[[], float]
    desk: ConfirmationDesk

    @property
    def engine(self) -> Engine: ...

    def safe(self, error: BaseException) -> str: ...


class UsageError(ValueError):
    """Bad arguments: the message is shown with the command's usage line."""


@dataclass
class Ctx:
    console: Console
    args: list[str]
    user_id: int
    chat_id: int
    username: str | None = None

    @property
    def engine(self) -> Engine:
        return self.console.engine

    @property
    def who(self) -> str:
        return f"@{self.username} ({self.user_id})" if self.username else f"user {self.user_id}"


@dataclass
class Reply:
    lines: list[Line] = field(default_factory=list)
    outcome: str = "ok"
    photo: bytes | None = None  # sent with ``lines`` as the caption
    confirmation: str | None = None  # token: the last message carries its Confirm / Cancel keyboard


# -- argument helpers ----------------------------------------------------------------------------


def _number(text: str, what: str = "amount") -> float:
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise UsageError(f"{what} must be a number, not {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{what} must be a positive number")
    return value


def _account(ctx: Ctx, name: str) -> str:
    if name not in ctx.engine.accounts:
        raise UsageError(f"unknown account {name!r}; accounts: {', '.join(ctx.engine.accounts)}")
    return name


def resolve_symbol(engine: Engine, account: str | None, text: str) -> str:
    """Accept ``BTC/USDT:USDT`` as well as ``BTC``, ``BTCUSDT`` or ``BTC/USDT`` when unambiguous."""
    held = {p.symbol for name, risk in engine.latest.items() if account in (None, name) for p in risk.positions}
    want = text.strip().upper()
    for s in held:
        if s.upper() == want:
            return s

    def short_names(symbol: str) -> set[str]:
        base, _, rest = symbol.upper().partition("/")
        quote = rest.split(":")[0]
        return {base, base + quote, f"{base}/{quote}"}

    hits = sorted(s for s in held if want in short_names(s))
    if len(hits) > 1:
        raise UsageError(f"{text} is ambiguous: {', '.join(hits)}")
    return hits[0] if hits else text


def _extras(args: list[str], allow_source: bool) -> tuple[str | None, str]:
    side, source = None, "futures"
    for a in args:
        low = a.lower()
        if low in ("long", "short"):
            side = low
        elif allow_source and low in SOURCES:
            source = low
        else:
            raise UsageError(f"unexpected argument {a!r}")
    return side, source


# -- money-moving commands -----------------------------------------------------------------------


async def _manual(
    ctx: Ctx,
    command: str,
    kind: ActionKind,
    account: str,
    symbol: str,
    amount: float,
    side: str | None,
    source: str = "futures",
) -> Reply:
    eng = ctx.engine
    try:
        verdict = eng.propose_manual(account, symbol, kind, amount, side=side, source=source, requested_by=ctx.user_id)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not verdict.allowed:
        return Reply(
            [Line(f"✋ {describe_action(verdict.action)}: not taken: {verdict.reason}")],
            outcome=f"refused: {verdict.code}",
        )
    if command in ctx.console.settings.telegram.preauthorized:
        result = await eng.run_confirmed(verdict.action, requested_by=ctx.user_id)
        if isinstance(result, ActionRow):
            return Reply([Line("pre-authorised: " + action_report(result).split("\n", 1)[0])], outcome=result.status)
        return Reply([Line(f"✋ not taken: {result.reason}")], outcome=f"refused: {result.code}")
    row = ctx.console.desk.create(
        "action",
        action_to_payload(verdict.action),
        user_id=ctx.user_id,
        chat_id=ctx.chat_id,
        summary=describe_action(verdict.action),
    )
    note = f"only {ctx.who} can answer" + (f"; {verdict.reason}" if verdict.reason else "")
    return Reply(
        action_prompt(verdict.action, mode=eng.mode, expires_at=row.expires_at, note=note),
        outcome="asked for confirmation",
        confirmation=row.token,
    )


async def cmd_topup(ctx: Ctx) -> Reply:
    if len(ctx.args) < 3:
        raise UsageError("missing arguments")
    account = _account(ctx, ctx.args[0])
    side, source = _extras(ctx.args[3:], allow_source=True)
    symbol = resolve_symbol(ctx.engine, account, ctx.args[1])
    return await _manual(ctx, "topup", ActionKind.TOP_UP, account, symbol, _number(ctx.args[2]), side, source)


async def cmd_reduce(ctx: Ctx) -> Reply:
    if len(ctx.args) < 3:
        raise UsageError("missing arguments")
    account = _account(ctx, ctx.args[0])
    side, _ = _extras(ctx.args[3:], allow_source=False)
    symbol = resolve_symbol(ctx.engine, account, ctx.args[1])
    raw = ctx.args[2]
    if raw.endswith("%"):
        pct = _number(raw[:-1], "percentage")
        if pct > 100:
            raise UsageError("a percentage must be at most 100%")
        risk = ctx.engine.latest.get(account)
        held = [
            p
            for p in (risk.positions if risk else ())
            if p.symbol == symbol and not p.is_hedge_leg and side in (None, p.side)
        ]
        if len(held) != 1:
            hint = " (say long or short)" if held else ""
            raise UsageError(f"no single open position in {symbol} on {account}{hint}")
        amount = held[0].contracts * pct / 100.0
    else:
        amount = _number(raw, "contracts")
    return await _manual(ctx, "reduce", ActionKind.REDUCE, account, symbol, amount, side)


async def cmd_hedge(ctx: Ctx) -> Reply:
    if len(ctx.args) < 3:
        raise UsageError("missing arguments")
    account = _account(ctx, ctx.args[0])
    side, _ = _extras(ctx.args[3:], allow_source=False)
    symbol = resolve_symbol(ctx.engine, account, ctx.args[1])
    return await _manual(ctx, "hedge", ActionKind.HEDGE, account, symbol, _number(ctx.args[2], "contracts"), side)


async def cmd_mode(ctx: Ctx) -> Reply:
    eng, cfg = ctx.engine, ctx.console.settings.telegram
    if not ctx.args:
        live = "asks for a confirmation" if cfg.allow_live_switch else "is disabled (telegram.allow_live_switch)"
        return Reply(
            [
                Line(f"mode: {eng.mode.upper()}", "b"),
                Line(
                    f"/mode paper switches at once; /mode live {live}. A restart uses the config's mode "
                    f"({ctx.console.settings.mode})."
                ),
            ]
        )
    target = ctx.args[0].lower()
    if target == "paper":
        eng.set_mode("paper")
        return Reply([Line("mode is now PAPER: actions are simulated, nothing is sent to the exchanges", "b")])
    if target != "live" or len(ctx.args) > 1:
        raise UsageError("say paper or live")
    if eng.mode == "live":
        return Reply([Line("already in LIVE mode")], outcome="unchanged")
    if not cfg.allow_live_switch:
        return Reply(
            [Line("switching to LIVE from Telegram is disabled (telegram.allow_live_switch: false)")],
            outcome="refused: live switch disabled",
        )
    row = ctx.console.desk.create(
        "mode", json.dumps({"mode": "live"}), user_id=ctx.user_id, chat_id=ctx.chat_id, summary="switch to LIVE mode"
    )
    return Reply(
        [
            Line("🛎 Switch to LIVE mode?", "b"),
            Line("Protective actions will then be sent to the exchanges: real money moves."),
            Line(f"only {ctx.who} can answer; expires at {clock_str(row.expires_at)} UTC", "i"),
        ],
        outcome="asked for confirmation",
        confirmation=row.token,
    )


# -- read-only and control commands --------------------------------------------------------------


async def cmd_status(ctx: Ctx) -> Reply:
    eng, now = ctx.engine, ctx.console.clock()
    reason = eng.pause_reason()
    out = [Line(f"mode {eng.mode.upper()}; " + (f"PAUSED: {reason}" if reason else "actions enabled"), "b")]
    for name in eng.accounts:
        failures = eng.failures.get(name, 0)
        problem = eng.broken.get(name) or (f"{failures} failed polls in a row" if failures else None)
        out.append(Line(""))
        out.extend(status_lines(name, eng.latest.get(name), now, problem))
    return Reply(out)


async def cmd_positions(ctx: Ctx) -> Reply:
    wanted = _account(ctx, ctx.args[0]) if ctx.args else None
    out: list[Line] = []
    for name, risk in ctx.engine.latest.items():
        if wanted in (None, name):
            for r in risk.positions:
                out.extend([*position_detail(r), Line("")])
    return Reply(out or [Line("no open positions (or no data yet)", "i")])


async def cmd_history(ctx: Ctx) -> Reply:
    n = 10
    if ctx.args:
        if not ctx.args[0].isdigit() or not 1 <= int(ctx.args[0]) <= 50:
            raise UsageError("n must be a whole number from 1 to 50")
        n = int(ctx.args[0])
    return Reply(history_lines(ctx.console.store.actions(limit=n)))


async def cmd_chart(ctx: Ctx) -> Reply:
    if not 1 <= len(ctx.args) <= 2:
        raise UsageError("name one symbol")
    account = _account(ctx, ctx.args[1]) if len(ctx.args) > 1 else None
    symbol = resolve_symbol(ctx.engine, account, ctx.args[0])
    store, now = ctx.console.store, ctx.console.clock()
    try:
        store.flush_samples()  # include the newest buffered samples
    except Exception:
        log.warning("could not flush risk samples before charting")
    samples = store.samples(account=account, symbol=symbol, since=now - CHART_WINDOW_S)
    if not samples:
        return Reply([Line(f"no risk samples for {symbol} in the last 24 h")], outcome="no data")
    title = f"{symbol} ({account or 'all accounts'}), last 24 h"
    png = await asyncio.to_thread(render_chart, samples, title)
    caption = (
        f"{symbol}: {len(samples)} samples since {clock_str(samples[0].ts)} UTC; "
        f"latest distance to liquidation {fmt_pct(samples[-1].distance_pct)}"
    )
    return Reply([Line(caption)], photo=png)


async def cmd_pause(ctx: Ctx) -> Reply:
    reason = " ".join(ctx.args)[:200] or "no reason given"
    ctx.engine.pause(f"{reason} (/pause by {ctx.who})")
    return Reply([Line("⏸ Paused: no protective action will be taken. Alerts continue. /resume to undo.", "b")])


async def cmd_resume(ctx: Ctx) -> Reply:
    ctx.engine.resume()
    still = ctx.engine.pause_reason()
    if still:
        return Reply([Line(f"still paused: {still}", "b")], outcome="still paused")
    return Reply([Line("▶️ Resumed: protective actions are enabled again (circuit breakers reset).", "b")])


async def cmd_ack(ctx: Ctx) -> Reply:
    account = _account(ctx, ctx.args[0]) if ctx.args else None
    n = ctx.engine.acknowledge(account)
    return Reply([Line(f"🔕 Acknowledged {n} position(s): no re-alerts until their tier changes.")])


async def cmd_tiers(ctx: Ctx) -> Reply:
    settings = ctx.console.settings
    out = tiers_lines("escalation thresholds (global)", settings.escalation)
    for acc in settings.accounts:
        if acc.escalation is not None and acc.enabled:
            out.extend([Line(""), *tiers_lines(f"escalation thresholds ({acc.name})", acc.escalation)])
    return Reply(out)


async def cmd_version(ctx: Ctx) -> Reply:
    return Reply(
        [
            Line(
                f"marginguard {__version__}; python-telegram-bot {telegram.__version__}; "
                f"Python {platform.python_version()}"
            )
        ]
    )
