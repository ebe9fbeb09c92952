"""Proof that an unmodified python-telegram-bot 22 Application works against FakeTelegramServer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fakes.telegram import (
    EntityParseError,
    FakeTelegramServer,
    application_builder,
    parse_html,
    polling,
    tiny_png,
)

pytestmark = pytest.mark.timeout(10)

USER = 4242
CHAT = 4242


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


def build_app(tg: FakeTelegramServer, *, rate_limiter: bool = False) -> Application:  # type: ignore[type-arg]
    """Token plus both base URLs (see ``application_builder``) and nothing else."""
    builder = application_builder(tg)
    if rate_limiter:
        return builder.rate_limiter(AIORateLimiter()).build()
    return builder.build()


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Acknowledge", callback_data="ack:7"),
                InlineKeyboardButton("Mute", callback_data="mute:7"),
            ]
        ]
    )


def add_alert_handlers(app: Application, seen: list[Update]) -> None:  # type: ignore[type-arg]
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            "<b>MarginGuard</b> is watching &lt;3 positions", reply_markup=keyboard(), disable_notification=True
        )

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)
        query = update.callback_query
        assert query is not None
        await query.answer("Acknowledged")
        await query.edit_message_text(f"<i>{query.data}</i> handled", parse_mode="HTML")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))


# --------------------------------------------------------------------------- basics


async def test_get_me_and_token_checks(tg: FakeTelegramServer) -> None:
    app = build_app(tg)
    await app.initialize()
    try:
        me = await app.bot.get_me()
        assert me.id == tg.bot_id and me.is_bot and me.username == tg.bot_username
        assert app.bot.username == tg.bot_username  # initialize() itself called getMe
        with pytest.raises(EndPointNotFound):
            await app.bot.do_api_request("definitelyNotAMethod")
    finally:
        await app.shutdown()

    wrong = Bot("999:WRONG-token", base_url=f"{tg.url}/bot")
    with pytest.raises(InvalidToken):
        await wrong.get_me()
    assert tg.calls("getMe")[-1].status == 401
    assert tg.counts["getMe"] == 3


async def test_command_reply_and_button_press(tg: FakeTelegramServer) -> None:
    seen: list[Update] = []
    app = build_app(tg)
    add_alert_handlers(app, seen)
    async with polling(app):
        stale = int(time.time()) - 600
        tg.push_message(USER, CHAT, "/start@marginguard_test_bot now", username="alice", date=stale)

        [reply] = await tg.wait_for_messages(1, timeout=5)
        assert seen[0].effective_message is not None
        assert seen[0].effective_message.date.timestamp() == stale
        assert seen[0].effective_user is not None and seen[0].effective_user.username == "alice"
        assert reply.chat_id == CHAT
        assert reply.parse_mode == "HTML"
        assert reply.text == "<b>MarginGuard</b> is watching &lt;3 positions"
        assert reply.plain_text == "MarginGuard is watching <3 positions"
        assert reply.entities == [{"type": "bold", "offset": 0, "length": 11}]
        assert reply.disable_notification is True
        assert reply.reply_to_message_id is None
        assert reply.callback_data == ["ack:7", "mute:7"]
        assert tg.messages_to(CHAT) == [reply]

        query_id = tg.press_button(USER, CHAT, reply.message_id, "ack:7")
        await tg.wait_for(lambda: any(s.kind == "edit_text" for s in tg.sent), timeout=5)

    [answer] = tg.answered_callbacks
    assert answer.callback_query_id == query_id and answer.text == "Acknowledged"
    assert seen[1].callback_query is not None and seen[1].callback_query.data == "ack:7"
    edited = tg.message(CHAT, reply.message_id)
    assert edited["text"] == "ack:7 handled" and "reply_markup" not in edited  # edit without markup drops it
    assert tg.pending_updates == []  # both updates confirmed via offset


async def test_rate_limited_application_and_commands(tg: FakeTelegramServer) -> None:
    seen: list[Update] = []
    app = build_app(tg, rate_limiter=True)
    add_alert_handlers(app, seen)
    async with polling(app):
        await app.bot.set_my_commands([("start", "Start watching"), ("status", "Show positions")])
        tg.push_message(USER, CHAT, "/start")
        [reply] = await tg.wait_for_messages(1, timeout=5, chat_id=CHAT)
        assert reply.plain_text.startswith("MarginGuard")  # type: ignore[union-attr]
        assert [c.command for c in await app.bot.get_my_commands()] == ["start", "status"]

    [call] = tg.calls("setMyCommands")
    assert call.params["commands"] == [
        {"command": "start", "description": "Start watching"},
        {"command": "status", "description": "Show positions"},
    ]
    assert tg.commands() == call.params["commands"]


async def test_drop_pending_updates_discards_backlog(tg: FakeTelegramServer) -> None:
    seen: list[Update] = []
    app = build_app(tg)
    add_alert_handlers(app, seen)
    tg.push_message(USER, CHAT, "/start queued while we were offline")
    assert len(tg.pending_updates) == 1
    async with polling(app):
        assert tg.pending_updates == []
        assert tg.calls("deleteWebhook")[0].params["drop_pending_updates"] is True
        tg.push_message(USER, CHAT, "/start fresh")
        await tg.wait_for_messages(1, timeout=5)
        await asyncio.sleep(0.2)  # give a wrongly delivered backlog update a chance to show up
    assert [u.effective_message.text for u in seen if u.effective_message] == ["/start fresh"]
    assert len(tg.sent) == 1


async def test_send_photo_uploads_png(tg: FakeTelegramServer) -> None:
    png = tiny_png(4, 3)
    async with Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot") as bot:
        message = await bot.send_photo(CHAT, png, caption="<b>Margin</b> chart", parse_mode="HTML")
        assert message.caption == "Margin chart"
        assert (message.photo[-1].width, message.photo[-1].height) == (4, 3)
        downloaded = await (await message.photo[-1].get_file()).download_as_bytearray()
        assert bytes(downloaded) == png
        with pytest.raises(BadRequest, match="Image_process_failed"):
            await bot.send_photo(CHAT, b"GIF89a not a png", caption="nope")

    [photo] = [s for s in tg.sent if s.kind == "photo"]
    assert photo.photo == png and photo.caption == "<b>Margin</b> chart" and photo.plain_text == "Margin chart"
    assert tg.calls("sendPhoto")[0].files == {"photo": len(png)}


async def test_html_and_length_validation(tg: FakeTelegramServer) -> None:
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(CHAT, "equity < maintenance", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r'(?i)can.t find end tag corresponding to start tag "b"'):
            await bot.send_message(CHAT, "<b>unclosed", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)unescaped"):
            await bot.send_message(CHAT, "BTC & ETH", parse_mode="HTML")
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(CHAT, "<b>x</b>" + "y" * 4096, parse_mode="HTML")
        ok = await bot.send_message(CHAT, "<b>x</b>" + "y" * 4095, parse_mode="HTML")  # 4096 after parsing
        assert len(ok.text or "") == 4096
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="z" * 65)]])
            await bot.send_message(CHAT, "too much callback data", reply_markup=markup)
    # PTB capitalises the description; the wire carries Telegram's exact wording.
    assert tg.calls("sendMessage")[0].description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 7'
    )
    assert [s.plain_text for s in tg.sent] == ["x" + "y" * 4095]


async def test_edits_replies_actions_and_errors(tg: FakeTelegramServer) -> None:
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
        first = await bot.send_message(CHAT, "position opened", reply_markup=keyboard())
        reply = await bot.send_message(CHAT, "liq distance 4%", reply_parameters=ReplyParameters(first.message_id))
        assert reply.reply_to_message is not None and reply.reply_to_message.message_id == first.message_id
        assert reply.message_id == first.message_id + 1
        with pytest.raises(BadRequest, match="Message to be replied not found"):
            await bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(999))

        edited = await bot.edit_message_reply_markup(CHAT, first.message_id, reply_markup=None)
        assert isinstance(edited, Message) and edited.reply_markup is None
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_reply_markup(CHAT, first.message_id, reply_markup=None)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", CHAT, 999)

        assert await bot.send_chat_action(CHAT, ChatAction.TYPING)
        assert await bot.delete_my_commands()

        tg.block(CHAT)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "nobody listens")
        tg.unblock(CHAT)

        tg.push_message(USER, CHAT, "/status")
        assert (await bot.get_webhook_info()).pending_update_count == 1
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert (await bot.get_webhook_info()).pending_update_count == 0

    assert tg.chat_actions == [(CHAT, "typing")]
    assert [s.kind for s in tg.sent] == ["message", "message", "edit_reply_markup"]
    assert tg.sent[1].reply_to_message_id == first.message_id


def test_html_parser_matches_telegram() -> None:
    parsed = parse_html('🏟 <i>a &amp; <a href="https://t.me/x?a=1&amp;b=2">b</a></i>')
    assert parsed.text == "🏟 a & b"
    assert parsed.entities == [
        {"type": "italic", "offset": 3, "length": 5},
        {"type": "text_link", "offset": 7, "length": 1, "url": "https://t.me/x?a=1&b=2"},
    ]
    pre = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert pre.entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]
    for bad, message in [
        ("<i>a</b>", 'Unmatched end tag at byte offset 4, expected "</i>", found "</b>"'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ]:
        with pytest.raises(EntityParseError) as info:
            parse_html(bad)
        assert str(info.value) == message
    assert parse_html("AT&T", strict_ampersand=False).text == "AT&T"  # what real Telegram does


# --------------------------------------------------------------------------- long polling


async def test_long_poll_is_bounded_and_wakes_on_push(tg: FakeTelegramServer) -> None:
    tg.max_long_poll = 0.3
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
        # Capped server-side: the bound is far below the 30 s asked for (no wall-clock assertion).
        assert await asyncio.wait_for(bot.get_updates(timeout=30), 8) == ()

        tg.max_long_poll = 30
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await tg.wait_for(lambda: tg.long_polling, timeout=5)
        tg.push_message(USER, CHAT, "hello")
        [update] = await asyncio.wait_for(poll, 8)  # woken by the push, not by the 30 s timeout
        assert update.message is not None and update.message.text == "hello"
        assert update.message.entities == ()

        # Not confirmed yet: redelivered; offset confirms and discards it.
        assert [u.update_id for u in await bot.get_updates()] == [update.update_id]
        assert await bot.get_updates(offset=update.update_id + 1) == ()
        assert tg.pending_updates == []


async def test_second_poller_terminates_first_with_conflict(tg: FakeTelegramServer) -> None:
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as first, Bot(tg.token, base_url=f"{tg.url}/bot") as second:
        tg.max_long_poll = 5
        older = asyncio.create_task(first.get_updates(timeout=5))
        await tg.wait_for(lambda: tg.long_polling, timeout=5)
        await second.get_updates(timeout=0)
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await older


# --------------------------------------------------------------------------- outages


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # AIORateLimiter reads .retry_after
async def test_flood_gives_retry_after_and_rate_limiter_retries(tg: FakeTelegramServer) -> None:
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
        await tg.go_down("flood", retry_after=1)
        with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
            await bot.send_message(CHAT, "alert")
        await tg.come_up()
        await bot.send_message(CHAT, "alert")
    assert tg.calls("sendMessage")[0].status == 429 and tg.calls("sendMessage")[0].outage == "flood"

    # One 429, then AIORateLimiter(max_retries=1) waits retry_after and succeeds.
    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(f"{tg.url}/bot")
        .rate_limiter(AIORateLimiter(max_retries=1))
        .build()
    )
    await app.initialize()
    try:
        await tg.go_down("flood", retry_after=1, times=1)
        started = time.monotonic()
        await app.bot.send_message(CHAT, "retried")
        assert time.monotonic() - started >= 1
    finally:
        await app.shutdown()
    assert [s.plain_text for s in tg.sent] == ["alert", "retried"]


async def test_bad_gateway_and_timeout_modes(tg: FakeTelegramServer) -> None:
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
        await tg.go_down("502")
        with pytest.raises(NetworkError, match=r"Bad Gateway \(502\)"):
            await bot.send_message(CHAT, "x")

        await tg.go_down("timeout", hang_cap=30)
        with pytest.raises(TimedOut):  # the client's read timeout, not the 30 s hang
            await asyncio.wait_for(bot.send_message(CHAT, "lost", read_timeout=0.3), 8)
        await tg.come_up()
        assert (await bot.send_message(CHAT, "back")).text == "back"
    assert [s.plain_text for s in tg.sent] == ["back"]  # hung requests are never processed
    assert [r.outage for r in tg.calls("sendMessage")] == ["502", "timeout", None]


async def test_refused_connections_then_recovery_on_same_port(tg: FakeTelegramServer) -> None:
    seen: list[Update] = []
    app = build_app(tg)
    add_alert_handlers(app, seen)
    url = tg.url
    async with polling(app):
        tg.push_message(USER, CHAT, "/start")
        await tg.wait_for_messages(1, timeout=5)

        await tg.go_down("refuse")
        async with httpx.AsyncClient() as raw:
            with pytest.raises(httpx.ConnectError):
                await raw.post(f"{tg.api_url}/getMe")
        with pytest.raises(NetworkError):
            await app.bot.send_message(CHAT, "during outage")

        await tg.come_up()
        assert tg.url == url
        assert (await app.bot.send_message(CHAT, "after outage")).text == "after outage"
        # The updater's polling loop (backing off after the errors) recovers by itself.
        tg.push_message(USER, CHAT, "/start again")
        await tg.wait_for_messages(3, timeout=6)
    assert [s.plain_text for s in tg.messages_to(CHAT)][1] == "after outage"
    assert len(seen) == 2
