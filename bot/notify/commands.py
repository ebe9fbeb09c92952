"""The Telegram commands: one registry (``REGISTRY``) that the console turns into PTB
``CommandHandler``s, ``/help`` and ``setMyCommands``.

Handlers (``bot.notify.handlers``) only run for authorised users in authorised chats: the
console's gate runs first for every update. The shared wrapper here drops stale commands,
journals every command with its outcome, turns bad arguments into a short usage message and
sends the reply.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Bot, BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.journal import CommandRow
from bot.notify.confirm import keyboard
from bot.notify.formatting import MAX_CAPTION, Line, lines, paginate
from bot.notify.handlers import (
    Console,
    Ctx,
    Reply,
    UsageError,
    cmd_ack,
    cmd_chart,
    cmd_hedge,
    cmd_history,
    cmd_mode,
    cmd_pause,
    cmd_positions,
    cmd_reduce,
    cmd_resume,
    cmd_status,
    cmd_tiers,
    cmd_topup,
    cmd_version,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    handler: Callable[[Ctx], Awaitable[Reply]]


async def cmd_help(ctx: Ctx) -> Reply:
    return Reply(help_lines())


async def cmd_start(ctx: Ctx) -> Reply:
    mode = ctx.engine.mode.upper()
    return Reply(
        [
            Line(f"marginguard is guarding {len(ctx.engine.accounts)} account(s) in {mode} mode.", "b"),
            Line(""),
            *help_lines(),
        ]
    )


REGISTRY: tuple[Command, ...] = (
    Command("status", "", "risk table per account", cmd_status),
    Command("positions", "[account]", "every position in detail", cmd_positions),
    Command("history", "[n]", "the last n actions from the journal", cmd_history),
    Command("chart", "<symbol> [account]", "price and distance to liquidation, last 24 h", cmd_chart),
    Command("ack", "[account]", "silence re-alerts of the current tiers", cmd_ack),
    Command("pause", "[reason]", "stop protective actions (alerts continue)", cmd_pause),
    Command("resume", "", "allow protective actions again", cmd_resume),
    Command("mode", "[paper|live]", "show or switch paper/live", cmd_mode),
    Command("topup", "<account> <symbol> <amount> [futures|spot|funding]", "add margin (asks to confirm)", cmd_topup),
    Command("reduce", "<account> <symbol> <contracts|N%>", "reduce-only order (asks to confirm)", cmd_reduce),
    Command("hedge", "<account> <symbol> <contracts>", "open a hedge leg (asks to confirm)", cmd_hedge),
    Command("tiers", "", "the escalation thresholds in force", cmd_tiers),
    Command("version", "", "versions", cmd_version),
    Command("help", "", "this list", cmd_help),
    Command("start", "", "hello and this list", cmd_start),
)


def help_lines() -> list[Line]:
    out = [Line("commands", "b")]
    out.extend(Line(f"/{c.name}{' ' + c.usage if c.usage else ''}: {c.summary}") for c in REGISTRY)
    out.append(Line("symbols may be short (BTC); topup/reduce/hedge accept a trailing long|short", "i"))
    return out


def bot_commands() -> list[BotCommand]:
    return [BotCommand(c.name, (f"{c.usage} - " if c.usage else "") + c.summary) for c in REGISTRY]


# -- the shared wrapper --------------------------------------------------------------------------


def journal(console: Console, update: Update, *, accepted: bool, outcome: str) -> None:
    msg, user, chat = update.effective_message, update.effective_user, update.effective_chat
    text = (msg.text or msg.caption or "") if msg is not None else ""
    try:
        console.store.record_command(
            CommandRow(
                ts=console.clock(),
                chat_id=chat.id if chat else None,
                user_id=user.id if user else None,
                username=user.username if user else None,
                text=text[:300],
                accepted=accepted,
                outcome=outcome[:200],
            )
        )
    except Exception:
        log.exception("could not journal a command")


def callback_for(
    cmd: Command, console: Console
) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    async def run(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if msg is None or user is None or chat is None:
            return
        age = console.clock() - msg.date.timestamp()
        if age > console.settings.telegram.command_max_age_s:
            journal(console, update, accepted=False, outcome=f"ignored: sent {age:.0f}s ago")
            return
        ctx = Ctx(console, list(context.args or []), user.id, chat.id, user.username)
        try:
            reply = await cmd.handler(ctx)
        except UsageError as e:
            reply = Reply([Line(f"⚠️ {e}"), Line(f"usage: /{cmd.name} {cmd.usage}".rstrip())], outcome=f"usage: {e}")
        except Exception as e:
            log.exception("/%s failed", cmd.name)
            reply = Reply([Line(f"⚠️ /{cmd.name} failed: {console.safe(e)}")], outcome="error")
        journal(console, update, accepted=True, outcome=reply.outcome)
        await send_reply(context.bot, chat.id, reply, console)

    return run


async def unknown_command(console: Console, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    journal(console, update, accepted=True, outcome="unknown command")
    if chat is not None:
        await send_reply(context.bot, chat.id, Reply(lines("unknown command; /help lists them")), console)


async def send_reply(bot: Bot, chat_id: int, reply: Reply, console: Console) -> None:
    try:
        if reply.photo is not None:
            caption = paginate(reply.lines, MAX_CAPTION)[0]
            await bot.send_photo(chat_id, reply.photo, caption=caption, parse_mode=ParseMode.HTML)
            return
        parts = paginate(reply.lines)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            markup = keyboard(reply.confirmation) if reply.confirmation and last else None
            sent = await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup)
            if markup is not None and reply.confirmation:
                console.desk.remember(reply.confirmation, chat_id, sent.message_id)
    except TelegramError as e:
        log.warning("could not send a command reply: %s", console.safe(e))
