"""A loopback fake of the Telegram Bot API, good enough for an unmodified python-telegram-bot 22.

Point PTB at it with::

    async with FakeTelegramServer() as tg:
        app = (
            ApplicationBuilder()
            .token(tg.token)
            .base_url(f"{tg.url}/bot")
            .base_file_url(f"{tg.url}/file/bot")
            .build()
        )

Wire format (what PTB sends, what Telegram answers):

* ``POST /bot<token>/<method>``; parameters as form fields (``application/x-www-form-urlencoded`` or
  ``multipart/form-data`` when files are attached) where non-string values are JSON-encoded.  JSON bodies
  and query strings are accepted too, as the real Bot API does.  Method names are case-insensitive.
* Replies are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": "..."}``
  with the HTTP status equal to ``error_code`` (plus ``parameters.retry_after`` on 429).
* Files are downloaded from ``GET /file/bot<token>/<file_path>``.

Test-side controls: :meth:`FakeTelegramServer.push_message`, :meth:`~FakeTelegramServer.press_button`,
:attr:`~FakeTelegramServer.sent`, :attr:`~FakeTelegramServer.requests`, :meth:`~FakeTelegramServer.go_down`
/ :meth:`~FakeTelegramServer.come_up` and friends.  Every wait inside the server is bounded
(``max_long_poll``, ``hang_cap``, ``MAX_LATENCY``), and :meth:`~FakeTelegramServer.stop` releases all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from aiohttp import web

from .formatting import EntityParseError, FormattedText, find_bot_commands, parse_html, utf16_len
from .media import probe_image

__all__ = [
    "DEFAULT_TOKEN",
    "AnsweredCallback",
    "ApiError",
    "FakeTelegramServer",
    "OutageMode",
    "RecordedRequest",
    "SentMessage",
]

_LOGGER = logging.getLogger(__name__)

JSON = dict[str, Any]
OutageMode = Literal["502", "refuse", "timeout", "flood"]
SentKind = Literal["message", "photo", "edit_text", "edit_caption", "edit_reply_markup"]

DEFAULT_TOKEN = "123456:TEST-TOKEN-abcdefghijklmnop"
MAX_LATENCY = 5.0
MAX_WAIT = 30.0

MESSAGE_MAX_LENGTH = 4096
CAPTION_MAX_LENGTH = 1024
CALLBACK_DATA_MAX_BYTES = 64
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

# Update types delivered when allowed_updates was never set (or set to an empty list).
ALL_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {"chat_member", "message_reaction", "message_reaction_count"}

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTION_FIELDS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

# How string form fields are decoded before the method implementations see them.
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
        "entities",
        "caption_entities",
        "link_preview_options",
        "media",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "user_id",
        "cache_time",
        "message_thread_id",
        "reply_to_message_id",
        "from_chat_id",
        "max_connections",
    }
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_paid_broadcast",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_web_page_preview",
        "show_caption_above_media",
    }
)

_API_PATH = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[^/]*)$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]*)/(?P<path>.+)$")
_WELL_FORMED_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")

_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error reply; raised by method implementations, turned into the JSON error body."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class RecordedRequest:
    """One HTTP request the server saw (appended on arrival, completed when answered)."""

    method: str  # Bot API method name as sent (or "file:<path>" for downloads)
    params: JSON  # decoded parameters (JSON-encoded fields parsed, ints/bools converted)
    files: dict[str, int]  # uploaded file field -> size in bytes
    http_method: str
    received_at: float
    status: int | None = None  # HTTP status sent; None while in flight or if the connection was dropped
    description: str | None = None  # error description, if any
    outage: OutageMode | None = None  # the outage that answered this request, if any

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class SentMessage:
    """Something the bot put into a chat: a message, a photo or an edit of an earlier message."""

    kind: SentKind
    chat_id: int
    message_id: int
    text: str | None  # text or caption exactly as sent (markup included)
    plain_text: str | None  # text or caption after entity parsing, i.e. what the user sees
    parse_mode: str | None
    entities: list[JSON]
    disable_notification: bool
    reply_markup: JSON | None  # as sent (inline keyboards are also stored on the message)
    reply_to_message_id: int | None
    photo: bytes | None
    date: int
    params: JSON = field(repr=False)

    @property
    def caption(self) -> str | None:
        return self.text if self.kind in ("photo", "edit_caption") else None

    @property
    def callback_data(self) -> list[str]:
        """All ``callback_data`` values of an inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


@dataclass
class AnsweredCallback:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    answered_at: float


@dataclass
class _Outage:
    mode: OutageMode
    methods: frozenset[str] | None  # lower-case method names affected; None = all
    excluded: frozenset[str]
    retry_after: int
    hang_cap: float
    remaining: int | None  # affected requests left before coming up by itself; None = until come_up()

    def applies_to(self, method: str | None) -> bool:
        name = (method or "").lower()
        if name in self.excluded:
            return False
        return self.methods is None or name in self.methods


@dataclass
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


class _Params:
    """Decoded request parameters with Bot-API-flavoured accessors."""

    def __init__(self, values: JSON, files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def get_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def get_int(self, name: str, *, missing: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if missing is not None:
                raise _bad_request(missing)
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_request(f'invalid parameter "{name}": integer expected')
        return value

    def get_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad_request(f'invalid parameter "{name}": number expected')
        return float(value)

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name) or False)

    def chat_id(self) -> int:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_request("chat not found")  # e.g. "@channelusername": the fake knows no usernames
        return value


def _decode_params(raw: Mapping[str, Any]) -> JSON:
    """Turn form strings into the types Telegram would read them as."""
    decoded: JSON = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            decoded[name] = value
        elif name in _JSON_PARAMS:
            try:
                decoded[name] = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if name == "reply_markup" else name.replace("_", " ")
                raise _bad_request(f"can't parse {what} JSON object") from None
        elif name in _INT_PARAMS and re.fullmatch(r"-?\d+", value.strip()):
            decoded[name] = int(value)
        elif name in _FLOAT_PARAMS and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
            decoded[name] = float(value)
        elif name in _BOOL_PARAMS and value.strip().lower() in ("true", "false", "1", "0"):
            decoded[name] = value.strip().lower() in ("true", "1")
        else:
            decoded[name] = value
    return decoded


def _json_response(payload: JSON, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(payload, ensure_ascii=False), status=status, content_type="application/json")


def _error_payload(error: ApiError) -> JSON:
    payload: JSON = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        payload["parameters"] = error.parameters
    return payload


def _to_epoch(date: int | float | datetime | None, clock: Callable[[], float]) -> int:
    if date is None:
        return int(clock())
    if isinstance(date, datetime):
        return int(date.timestamp())
    return int(date)


class FakeTelegramServer:
    """In-process fake Telegram Bot API server on 127.0.0.1 (see module docstring)."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "marginguard_test_bot",
        bot_first_name: str = "MarginGuard Test",
        host: str = "127.0.0.1",
        port: int = 0,
        max_long_poll: float = 1.0,
        hang_cap: float = 10.0,
        strict_html_ampersand: bool = True,
        require_known_chats: bool = False,
        first_update_id: int = 700_000_001,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """
        Args:
            token: the only token accepted in URLs; the bot id is the part before ``:``.
            max_long_poll: server-side cap (seconds) on ``getUpdates(timeout=...)`` waits.
            hang_cap: default cap (seconds) on how long a request hangs in ``"timeout"`` outage mode.
            strict_html_ampersand: reject a bare ``&`` in HTML (real Telegram keeps it literally).
            require_known_chats: sending to a chat never seen (push/``add_chat``) gives "chat not found".
            clock: source of ``date`` fields (epoch seconds).
        """
        bot_id, _, _ = token.partition(":")
        if not bot_id.isdigit():
            raise ValueError(f"token must look like '<bot id>:<secret>', got {token!r}")
        self.token = token
        self.bot_id = int(bot_id)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.host = host
        self.max_long_poll = max_long_poll
        self.hang_cap = hang_cap
        self.strict_html_ampersand = strict_html_ampersand
        self.require_known_chats = require_known_chats
        self.clock = clock

        # Inspection surface for tests.
        self.requests: list[RecordedRequest] = []
        self.counts: Counter[str] = Counter()
        self.sent: list[SentMessage] = []
        self.answered_callbacks: list[AnsweredCallback] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.deleted_messages: list[tuple[int, int]] = []
        self.pushed_updates: list[JSON] = []
        self.dropped_updates: list[JSON] = []  # pushed while their type was not in allowed_updates
        self.blocked_chats: set[int] = set()

        # Bot API state.
        self._port = port
        self._updates: list[JSON] = []
        self._next_update_id = first_update_id
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._webhook: JSON | None = None
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._last_message_id: dict[int, int] = {}
        self._pending_callbacks: dict[str, JSON] = {}
        self._callback_ids = itertools.count(4_617_349_107_221_001)
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_counter = itertools.count(1)

        # Transport and control state.
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._outage: _Outage | None = None
        self._latency = 0.0
        self._stopping = False
        self._changed = asyncio.Event()  # replaced on every state change ("bump")
        self._active_poll: object | None = None
        self._superseded_polls: set[object] = set()
        self._hung: set[asyncio.Event] = set()
        self._inflight: set[asyncio.Task[Any]] = set()

        self._methods: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            name.lower(): impl
            for name, impl in {
                "getMe": self._get_me,
                "logOut": self._log_out,
                "close": self._close,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendChatAction": self._send_chat_action,
                "getFile": self._get_file,
            }.items()
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeTelegramServer already started")
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        self._stopping = False
        await self._bind()

    async def stop(self) -> None:
        """Stop serving: wake every waiter, cancel what is still running, close all sockets."""
        if self._runner is None:
            return
        self._stopping = True
        self._release_hung()
        self._bump()
        await asyncio.sleep(0)
        for task in list(self._inflight):
            task.cancel()
        self._abort_connections()
        await self._runner.cleanup()
        self._runner = None
        self._site = None

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; stays the same across ``go_down("refuse")`` / ``come_up()``."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Full method base URL including the token, e.g. for raw HTTP clients."""
        return f"{self.url}/bot{self.token}"

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def _bind(self) -> None:
        """Listen on the configured port (0 = pick one, then keep it for later re-binds)."""
        assert self._runner is not None
        last_error: OSError | None = None
        for _ in range(40):  # the port may briefly be taken by an outgoing connection's ephemeral port
            site = web.TCPSite(self._runner, self.host, self._port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                last_error = exc
                await asyncio.sleep(0.05)
                continue
            self._site = site
            if not self._port:
                self._port = int(self._runner.addresses[0][1])
            return
        raise RuntimeError(f"could not re-bind {self.host}:{self._port}") from last_error

    def _abort_connections(self) -> None:
        server = self._runner.server if self._runner is not None else None
        for handler in server.connections if server is not None else []:
            if handler.transport is not None:
                handler.transport.abort()

    # ------------------------------------------------------------------ outage control

    async def go_down(
        self,
        mode: OutageMode,
        *,
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
        hang_cap: float | None = None,
        times: int | None = None,
    ) -> None:
        """Simulate an outage until :meth:`come_up` (or for ``times`` affected requests).

        * ``"502"``: nginx-style ``502 Bad Gateway`` HTML page (PTB: ``NetworkError``).
        * ``"refuse"``: stop listening and reset open connections; connects fail (``NetworkError``).
        * ``"timeout"``: requests hang without an answer until :meth:`come_up` or ``hang_cap`` seconds,
          then the connection is dropped unanswered; the request is *not* processed (PTB: ``TimedOut``
          when its read timeout is shorter, else ``NetworkError``).
        * ``"flood"``: ``429 Too Many Requests: retry after N`` with ``parameters.retry_after``
          (PTB: ``RetryAfter``).  Unless ``methods`` is given, ``getUpdates`` is spared, as on Telegram.

        ``methods`` limits the outage to those Bot API methods (not for ``"refuse"``).
        """
        if mode not in get_args(OutageMode):
            raise ValueError(f"unknown outage mode {mode!r}")
        if mode == "refuse" and (methods is not None or times is not None):
            raise ValueError("'refuse' affects the whole listener; methods/times do not apply")
        if retry_after < 1:
            raise ValueError("retry_after must be a positive integer (Telegram sends whole seconds)")
        if self._outage is not None:
            await self.come_up()
        self._outage = _Outage(
            mode=mode,
            methods=frozenset(m.lower() for m in methods) if methods is not None else None,
            excluded=frozenset({"getupdates"}) if mode == "flood" and methods is None else frozenset(),
            retry_after=retry_after,
            hang_cap=min(hang_cap if hang_cap is not None else self.hang_cap, MAX_WAIT),
            remaining=times,
        )
        if mode == "refuse" and self._site is not None:
            await self._site.stop()
            self._site = None
            self._abort_connections()
            self._bump()  # let long polls on the dead connections finish
        _LOGGER.debug("fake telegram: down (%s)", mode)

    async def come_up(self) -> None:
        """End the current outage; after ``"refuse"`` the same port is bound again."""
        outage, self._outage = self._outage, None
        self._release_hung()
        if outage is not None and outage.mode == "refuse" and self._runner is not None and self._site is None:
            await self._bind()
        self._bump()
        _LOGGER.debug("fake telegram: up")

    @property
    def outage(self) -> OutageMode | None:
        return self._outage.mode if self._outage is not None else None

    @property
    def latency(self) -> float:
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        """Extra delay before every request is processed (capped at ``MAX_LATENCY``)."""
        self._latency = max(0.0, min(float(seconds), MAX_LATENCY))

    def block(self, chat_id: int) -> None:
        """Sends to ``chat_id`` now fail with 403 (the user blocked the bot / bot was kicked)."""
        self.blocked_chats.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked_chats.discard(chat_id)

    def _release_hung(self) -> None:
        for event in list(self._hung):
            event.set()

    def _bump(self) -> None:
        """Wake everything waiting for a state change (long polls, ``wait_for``)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_changed(self, timeout: float) -> None:
        event = self._changed
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    # ------------------------------------------------------------------ test-side input

    def add_chat(
        self,
        chat_id: int,
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSON:
        """Register a chat (private for positive ids, group/supergroup for negative ones)."""
        chat: JSON = {"id": chat_id}
        if chat_id > 0:
            chat["type"] = "private"
            chat["first_name"] = first_name or f"User{chat_id}"
            if username:
                chat["username"] = username
        else:
            chat["type"] = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
            chat["title"] = title or f"Test group {chat_id}"
        self._chats[chat_id] = chat
        return dict(chat)

    def _user(self, user_id: int, username: str | None = None, first_name: str | None = None) -> JSON:
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
            user["language_code"] = "en"
            self._users[user_id] = user
        if username:
            user["username"] = username
        if first_name:
            user["first_name"] = first_name
        return dict(user)

    def _chat(self, chat_id: int) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None:
            user = self._users.get(chat_id, {})
            chat = self.add_chat(chat_id, username=user.get("username"), first_name=user.get("first_name"))
        return dict(chat)

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def push_update(self, payload: JSON) -> JSON:
        """Queue a raw update (anything but ``update_id``, which is assigned here); returns it.

        Like Telegram, an update whose type is excluded by the last ``allowed_updates`` is never
        created: it lands in :attr:`dropped_updates` instead of the queue.
        """
        update = {"update_id": self._next_update_id, **copy.deepcopy(payload)}
        self._next_update_id += 1
        self.pushed_updates.append(update)
        kind = next((k for k in update if k != "update_id"), None)
        if kind not in self._allowed_updates:
            self.dropped_updates.append(update)
        else:
            self._updates.append(update)
        self._bump()
        return update

    def push_message(
        self,
        user_id: int,
        chat_id: int,
        text: str,
        *,
        date: int | float | datetime | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSON:
        """Queue an incoming text message from ``user_id`` in ``chat_id``; returns the update.

        ``/commands`` anywhere in the text get ``bot_command`` entities, as Telegram adds them
        (``/cmd@botname args`` included), so PTB's ``CommandHandler`` matches.  ``date`` (epoch
        seconds or datetime, default now) lets tests send stale commands.
        """
        sender = self._user(user_id, username, first_name)
        if chat_id == user_id and chat_id not in self._chats:
            self.add_chat(chat_id, username=sender.get("username"), first_name=sender["first_name"])
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": self._chat(chat_id),
            "date": _to_epoch(date, self.clock),
            "text": text,
        }
        entities = find_bot_commands(text)
        if entities:
            message["entities"] = entities
        self._messages[(chat_id, message["message_id"])] = message
        return self.push_update({"message": message})

    def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        username: str | None = None,
        check_keyboard: bool = True,
    ) -> str:
        """Queue a ``callback_query`` for an inline button on a message the bot sent; returns its id.

        The update carries the message as it currently is (after edits), like Telegram.  With
        ``check_keyboard`` the ``callback_data`` must be on that message's keyboard.
        """
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        if check_keyboard:
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            available = [b.get("callback_data") for row in rows for b in row]
            if callback_data not in available:
                raise ValueError(f"callback_data {callback_data!r} is not on message {message_id}: {available}")
        query_id = str(next(self._callback_ids))
        query: JSON = {
            "id": query_id,
            "from": self._user(user_id, username),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(chat_id) * 7919 + 1_234_567),
            "data": callback_data,
        }
        self._pending_callbacks[query_id] = query
        self.push_update({"callback_query": query})
        return query_id

    # ------------------------------------------------------------------ test-side inspection

    @property
    def long_polling(self) -> bool:
        """True while a getUpdates call is parked waiting for updates."""
        return self._active_poll is not None

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return copy.deepcopy(self._updates)

    def messages_to(self, chat_id: int, *, include_edits: bool = False) -> list[SentMessage]:
        kinds = {"message", "photo"}
        return [s for s in self.sent if s.chat_id == chat_id and (include_edits or s.kind in kinds)]

    def calls(self, method: str) -> list[RecordedRequest]:
        """Recorded requests for a Bot API method (case-insensitive)."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def message(self, chat_id: int, message_id: int) -> JSON:
        """The current state of a stored message (after edits)."""
        return copy.deepcopy(self._messages[(chat_id, message_id)])

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    def clear_history(self) -> None:
        """Forget recorded requests/sent messages/answers (chat state and the update queue stay)."""
        self.requests.clear()
        self.counts.clear()
        self.sent.clear()
        self.answered_callbacks.clear()
        self.chat_actions.clear()
        self.deleted_messages.clear()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; re-checked on every server state change (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, MAX_WAIT)
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            await self._wait_changed(min(remaining, 0.1))

    async def wait_for_messages(self, n: int, timeout: float = 5.0, *, chat_id: int | None = None) -> list[SentMessage]:
        """Wait until at least ``n`` new messages/photos (not edits) were sent; returns all of them."""

        def matching() -> list[SentMessage]:
            return [
                s for s in self.sent if s.kind in ("message", "photo") and (chat_id is None or s.chat_id == chat_id)
            ]

        try:
            await self.wait_for(lambda: len(matching()) >= n, timeout)
        except TimeoutError:
            got = [s.plain_text for s in matching()]
            raise TimeoutError(f"expected {n} message(s) within {timeout}s, got {len(got)}: {got}") from None
        return matching()

    async def wait_for_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until ``method`` was answered at least ``n`` times (any status)."""

        def done() -> list[RecordedRequest]:
            return [r for r in self.calls(method) if r.status is not None]

        await self.wait_for(lambda: len(done()) >= n, timeout)
        return done()

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            return await self._handle_inner(request)
        finally:
            if task is not None:
                self._inflight.discard(task)
            self._bump()

    async def _handle_inner(self, request: web.Request) -> web.StreamResponse:
        api_match = _API_PATH.match(request.path)
        file_match = _FILE_PATH.match(request.path) if api_match is None else None
        method = api_match["method"] if api_match else (f"file:{file_match['path']}" if file_match else None)
        record = RecordedRequest(
            method=method or request.path,
            params={},
            files={},
            http_method=request.method,
            received_at=self.clock(),
        )
        self.requests.append(record)
        if method is not None:
            self.counts[method] += 1

        def answer(payload: JSON, status: int = 200) -> web.Response:
            record.status = status
            if not payload.get("ok", True):
                record.description = payload.get("description")
            return _json_response(payload, status)

        try:
            raw, uploads = await self._read_params(request)
            record.files = {name: len(upload.data) for name, upload in uploads.items()}
            record.params = dict(raw)
            values = _decode_params(raw)
            record.params = values
        except ApiError as error:
            return answer(_error_payload(error), error.code)

        outage = self._outage
        if outage is not None and outage.mode != "refuse" and outage.applies_to(method):
            if outage.remaining is not None:
                outage.remaining -= 1
                if outage.remaining <= 0 and self._outage is outage:
                    self._outage = None
            record.outage = outage.mode
            return await self._answer_outage(request, record, outage)

        if self._latency:
            await asyncio.sleep(self._latency)

        if file_match is not None:
            return self._serve_file(file_match["token"], file_match["path"], record)
        if api_match is None:
            return answer({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        if api_match["token"] != self.token:
            if _WELL_FORMED_TOKEN.match(api_match["token"]):
                return answer({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
            return answer({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        impl = self._methods.get(api_match["method"].lower())
        if impl is None:
            return answer({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        try:
            result = await impl(_Params(values, uploads))
        except ApiError as error:
            return answer(_error_payload(error), error.code)
        payload: JSON = {"ok": True, "result": result}
        if isinstance(result, _WithDescription):
            payload = {"ok": True, "result": result.result, "description": result.description}
        return answer(payload)

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, _Upload]]:
        values: JSON = dict(request.query)
        uploads: dict[str, _Upload] = {}
        if not request.can_read_body:
            return values, uploads
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad_request("can't parse JSON encoded request body") from None
            if not isinstance(body, dict):
                raise _bad_request("JSON object expected as request body")
            values.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[name] = _Upload(value.filename, value.content_type, value.file.read())
                else:
                    values[name] = value
        return values, uploads

    async def _answer_outage(
        self, request: web.Request, record: RecordedRequest, outage: _Outage
    ) -> web.StreamResponse:
        if outage.mode == "502":
            record.status = 502
            return web.Response(status=502, text=_BAD_GATEWAY_PAGE, content_type="text/html")
        if outage.mode == "flood":
            error = ApiError(
                429,
                f"Too Many Requests: retry after {outage.retry_after}",
                {"retry_after": outage.retry_after},
            )
            record.status = 429
            record.description = error.description
            return _json_response(_error_payload(error), 429)
        # "timeout": hold the request unanswered, then drop the connection without a reply.
        released = asyncio.Event()
        self._hung.add(released)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), outage.hang_cap)
        finally:
            self._hung.discard(released)
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing can be written any more; let aiohttp drop the handler

    def _serve_file(self, token: str, file_path: str, record: RecordedRequest) -> web.Response:
        stored = next((f for f in self._files.values() if f.file_path == file_path), None)
        if token != self.token or stored is None:
            record.status = 404
            return _json_response({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        record.status = 200
        return web.Response(body=stored.data, content_type="application/octet-stream")

    # ------------------------------------------------------------------ shared helpers

    def _check_can_send(self, chat_id: int) -> None:
        if chat_id in self.blocked_chats:
            if chat_id > 0:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        if self.require_known_chats and chat_id not in self._chats:
            raise _bad_request("chat not found")

    def _format(self, text: str, parse_mode: str | None, entities: Any) -> FormattedText:
        if entities is not None:
            if not isinstance(entities, list):
                raise _bad_request("can't parse entities JSON object")
            return FormattedText(text, entities)
        if not parse_mode:
            return FormattedText(text)
        mode = parse_mode.lower()
        if mode == "html":
            try:
                return parse_html(text, strict_ampersand=self.strict_html_ampersand)
            except EntityParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from None
        if mode in ("markdown", "markdownv2"):
            return FormattedText(text)  # accepted but not interpreted by the fake
        raise _bad_request("unsupported parse_mode")

    def _reply_markup(self, params: _Params) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad_request("can't parse inline keyboard button: InlineKeyboardMarkup expected")
            for row in rows:
                for button in row:
                    self._check_button(button)
        elif not any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise _bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
        actions = [name for name in _BUTTON_ACTION_FIELDS if name in button]
        if not actions:
            raise _bad_request("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not re.match(r"^(https?://|tg://)\S+$", url):
                raise _bad_request("BUTTON_URL_INVALID")

    def _reply_target(self, params: _Params, chat_id: int) -> JSON | None:
        reply = params.get("reply_parameters")
        legacy = params.get_int("reply_to_message_id")
        if reply is None and legacy is None:
            return None
        if reply is None:
            reply = {"message_id": legacy, "allow_sending_without_reply": params.flag("allow_sending_without_reply")}
        if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
            raise _bad_request("can't parse reply parameters JSON object")
        target_chat = reply.get("chat_id", chat_id)
        target = self._messages.get((target_chat, reply["message_id"])) if isinstance(target_chat, int) else None
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise _bad_request("message to be replied not found")
        quoted = copy.deepcopy(target)
        quoted.pop("reply_to_message", None)
        return quoted

    def _new_bot_message(self, chat_id: int, content: JSON) -> JSON:
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(self.clock()),
            **content,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _record_sent(
        self,
        kind: SentKind,
        message: JSON,
        params: _Params,
        *,
        text: str | None,
        formatted: FormattedText | None,
        markup: JSON | None,
        photo: bytes | None = None,
    ) -> None:
        reply_to = message.get("reply_to_message")
        self.sent.append(
            SentMessage(
                kind=kind,
                chat_id=message["chat"]["id"],
                message_id=message["message_id"],
                text=text,
                plain_text=formatted.text if formatted is not None else None,
                parse_mode=params.get_str("parse_mode"),
                entities=list(formatted.entities) if formatted is not None else [],
                disable_notification=params.flag("disable_notification"),
                reply_markup=copy.deepcopy(markup),
                reply_to_message_id=reply_to["message_id"] if reply_to else None,
                photo=photo,
                date=int(message.get("edit_date") or message["date"]),
                params=dict(params.values),
            )
        )

    def _editable_message(self, params: _Params) -> JSON:
        if params.get("inline_message_id") is not None:
            raise _bad_request("inline messages are not supported by the fake server")
        chat_id = params.chat_id()
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        assert message_id is not None
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise _bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("message can't be edited")
        return message

    @staticmethod
    def _set_optional(message: JSON, key: str, value: Any) -> None:
        if value:
            message[key] = value
        else:
            message.pop(key, None)

    # ------------------------------------------------------------------ Bot API methods

    async def _get_me(self, params: _Params) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _log_out(self, params: _Params) -> bool:
        return True

    async def _close(self, params: _Params) -> bool:
        return True

    async def _set_webhook(self, params: _Params) -> _WithDescription:
        url = params.get_str("url") or ""
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self._webhook = None
            return _WithDescription(True, "Webhook was deleted")
        self._webhook = {"url": url, "max_connections": params.get_int("max_connections") or 40}
        if params.get("allowed_updates") is not None:
            self._set_allowed_updates(params.get("allowed_updates"))
        return _WithDescription(True, "Webhook was set")

    async def _delete_webhook(self, params: _Params) -> _WithDescription:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        was_set, self._webhook = self._webhook is not None, None
        return _WithDescription(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _get_webhook_info(self, params: _Params) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        if self._webhook is not None:
            info.update(self._webhook)
            if self._allowed_updates != DEFAULT_UPDATE_TYPES:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _set_allowed_updates(self, allowed: Any) -> None:
        if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
            raise _bad_request("can't parse allowed updates JSON object")
        self._allowed_updates = frozenset(allowed) & ALL_UPDATE_TYPES or DEFAULT_UPDATE_TYPES

    async def _get_updates(self, params: _Params) -> list[JSON]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get_int("offset") or 0
        limit = max(1, min(params.get_int("limit") or 100, 100))
        timeout = max(0.0, min(params.get_float("timeout") or 0.0, self.max_long_poll))
        if params.get("allowed_updates") is not None:
            self._set_allowed_updates(params.get("allowed_updates"))
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

        # Only one getUpdates may wait at a time; a newer one terminates the older with 409.
        if self._active_poll is not None:
            self._superseded_polls.add(self._active_poll)
        poll = object()
        self._active_poll = poll
        self._bump()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if poll in self._superseded_polls:
                    self._superseded_polls.discard(poll)
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                remaining = deadline - loop.time()
                refused = self._outage is not None and self._outage.mode == "refuse"
                if self._updates or remaining <= 0 or self._stopping or refused:
                    return copy.deepcopy(self._updates[:limit])
                await self._wait_changed(remaining)
        finally:
            if self._active_poll is poll:
                self._active_poll = None

    async def _send_message(self, params: _Params) -> JSON:
        chat_id = params.chat_id()
        text = params.get_str("text")
        if not text:
            raise _bad_request("message text is empty")
        self._check_can_send(chat_id)
        formatted = self._format(text, params.get_str("parse_mode"), params.get("entities"))
        if not formatted.text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(formatted.text) > MESSAGE_MAX_LENGTH:
            raise _bad_request("message is too long")
        markup = self._reply_markup(params)
        reply_to = self._reply_target(params, chat_id)
        content: JSON = {"text": formatted.text}
        if formatted.entities:
            content["entities"] = formatted.entities
        if reply_to is not None:
            content["reply_to_message"] = reply_to
        if markup is not None and "inline_keyboard" in markup:
            content["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        message = self._new_bot_message(chat_id, content)
        self._record_sent("message", message, params, text=text, formatted=formatted, markup=markup)
        return copy.deepcopy(message)

    async def _send_photo(self, params: _Params) -> JSON:
        chat_id = params.chat_id()
        self._check_can_send(chat_id)
        stored = self._photo_input(params)
        caption = params.get_str("caption")
        formatted: FormattedText | None = None
        content: JSON = {}
        if caption:
            formatted = self._format(caption, params.get_str("parse_mode"), params.get("caption_entities"))
            if utf16_len(formatted.text) > CAPTION_MAX_LENGTH:
                raise _bad_request("message caption is too long")
            content["caption"] = formatted.text
            if formatted.entities:
                content["caption_entities"] = formatted.entities
        markup = self._reply_markup(params)
        reply_to = self._reply_target(params, chat_id)
        info = probe_image(stored.data)
        assert info is not None
        content["photo"] = self._photo_sizes(stored, info.width, info.height)
        if params.flag("has_spoiler"):
            content["has_media_spoiler"] = True
        if reply_to is not None:
            content["reply_to_message"] = reply_to
        if markup is not None and "inline_keyboard" in markup:
            content["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        message = self._new_bot_message(chat_id, content)
        self._record_sent("photo", message, params, text=caption, formatted=formatted, markup=markup, photo=stored.data)
        return copy.deepcopy(message)

    def _photo_input(self, params: _Params) -> _StoredFile:
        """Resolve the ``photo`` parameter: an upload (direct or ``attach://``) or a known file_id."""
        reference = params.get_str("photo")
        upload = params.files.get("photo")
        if reference and reference.startswith("attach://"):
            upload = params.files.get(reference[len("attach://") :])
            if upload is None:
                raise _bad_request("wrong file identifier/HTTP URL specified")
        if upload is None:
            if not reference:
                raise _bad_request("there is no photo in the request")
            known = self._files.get(reference)
            if known is None:  # unknown file_id, or a URL the fake cannot fetch
                raise _bad_request("wrong file identifier/HTTP URL specified")
            return known
        if len(upload.data) > MAX_PHOTO_BYTES:
            raise _bad_request("file is too big")
        info = probe_image(upload.data)
        if info is None:
            raise _bad_request("IMAGE_PROCESS_FAILED")
        if info.width + info.height > 10_000 or max(info.width, info.height) > 20 * min(info.width, info.height):
            raise _bad_request("PHOTO_INVALID_DIMENSIONS")
        number = next(self._file_counter)
        stored = _StoredFile(
            file_id=f"AgACAgIAAxkDAAI{number:04d}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{number:04d}{secrets.token_urlsafe(6)}",
            file_path=f"photos/file_{number}.{'png' if info.format == 'png' else 'jpg'}",
            data=upload.data,
        )
        self._files[stored.file_id] = stored
        return stored

    @staticmethod
    def _photo_sizes(stored: _StoredFile, width: int, height: int) -> list[JSON]:
        """Thumbnails Telegram would generate (90/320/800/1280 px), then the full size (max 2560 px)."""
        longest = max(width, height)
        sizes: list[JSON] = []
        for index, limit in enumerate((90, 320, 800, 1280, 2560)):
            if limit < longest and limit != 2560:
                scale = limit / longest
                dims = (max(1, round(width * scale)), max(1, round(height * scale)))
            elif not sizes or sizes[-1]["width"] != min(width, 2560):
                scale = min(1.0, 2560 / longest)
                dims = (max(1, round(width * scale)), max(1, round(height * scale)))
            else:
                continue
            sizes.append(
                {
                    "file_id": f"{stored.file_id}{index}" if limit < longest else stored.file_id,
                    "file_unique_id": f"{stored.file_unique_id}{index}",
                    "file_size": len(stored.data),
                    "width": dims[0],
                    "height": dims[1],
                }
            )
            if limit >= longest:
                break
        return sizes

    async def _edit_message_text(self, params: _Params) -> JSON:
        message = self._editable_message(params)
        text = params.get_str("text")
        if not text:
            raise _bad_request("message text is empty")
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        formatted = self._format(text, params.get_str("parse_mode"), params.get("entities"))
        if not formatted.text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(formatted.text) > MESSAGE_MAX_LENGTH:
            raise _bad_request("message is too long")
        markup = self._reply_markup(params)
        keyboard = {"inline_keyboard": markup["inline_keyboard"]} if markup and "inline_keyboard" in markup else None
        # Like Telegram: editing without reply_markup removes the inline keyboard.
        if (
            message["text"] == formatted.text
            and message.get("entities", []) == formatted.entities
            and message.get("reply_markup") == keyboard
        ):
            raise _bad_request(_NOT_MODIFIED[len("Bad Request: ") :])
        message["text"] = formatted.text
        self._set_optional(message, "entities", formatted.entities)
        self._set_optional(message, "reply_markup", keyboard)
        message["edit_date"] = int(self.clock())
        self._record_sent("edit_text", message, params, text=text, formatted=formatted, markup=markup)
        return copy.deepcopy(message)

    async def _edit_message_caption(self, params: _Params) -> JSON:
        message = self._editable_message(params)
        if "photo" not in message:
            raise _bad_request("there is no caption in the message to edit")
        caption = params.get_str("caption") or ""
        formatted = self._format(caption, params.get_str("parse_mode"), params.get("caption_entities"))
        if utf16_len(formatted.text) > CAPTION_MAX_LENGTH:
            raise _bad_request("message caption is too long")
        markup = self._reply_markup(params)
        keyboard = {"inline_keyboard": markup["inline_keyboard"]} if markup and "inline_keyboard" in markup else None
        if (
            message.get("caption", "") == formatted.text
            and message.get("caption_entities", []) == formatted.entities
            and message.get("reply_markup") == keyboard
        ):
            raise _bad_request(_NOT_MODIFIED[len("Bad Request: ") :])
        self._set_optional(message, "caption", formatted.text)
        self._set_optional(message, "caption_entities", formatted.entities)
        self._set_optional(message, "reply_markup", keyboard)
        message["edit_date"] = int(self.clock())
        self._record_sent("edit_caption", message, params, text=caption, formatted=formatted, markup=markup)
        return copy.deepcopy(message)

    async def _edit_message_reply_markup(self, params: _Params) -> JSON:
        message = self._editable_message(params)
        markup = self._reply_markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad_request("inline keyboard expected")
        keyboard = {"inline_keyboard": markup["inline_keyboard"]} if markup else None
        if message.get("reply_markup") == keyboard:
            raise _bad_request(_NOT_MODIFIED[len("Bad Request: ") :])
        self._set_optional(message, "reply_markup", keyboard)
        message["edit_date"] = int(self.clock())
        self._record_sent("edit_reply_markup", message, params, text=None, formatted=None, markup=markup)
        return copy.deepcopy(message)

    async def _delete_message(self, params: _Params) -> bool:
        chat_id = params.chat_id()
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        assert message_id is not None
        if self._messages.pop((chat_id, message_id), None) is None:
            raise _bad_request("message to delete not found")
        self.deleted_messages.append((chat_id, message_id))
        return True

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.get_str("callback_query_id")
        if not query_id or self._pending_callbacks.pop(query_id, None) is None:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        text = params.get_str("text")
        if text is not None and len(text) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self.answered_callbacks.append(
            AnsweredCallback(
                callback_query_id=query_id,
                text=text,
                show_alert=params.flag("show_alert"),
                url=params.get_str("url"),
                cache_time=params.get_int("cache_time"),
                answered_at=self.clock(),
            )
        )
        return True

    @staticmethod
    def _commands_key(scope: Any, language_code: str | None) -> tuple[str, str]:
        if scope is not None and not (isinstance(scope, dict) and isinstance(scope.get("type"), str)):
            raise _bad_request("can't parse BotCommandScope JSON object")
        return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad_request("too many commands")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_NAME.match(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get_str("language_code"))
        stored = [{"command": c["command"], "description": c["description"]} for c in commands]
        if stored:
            self._commands[key] = stored
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSON]:
        key = self._commands_key(params.get("scope"), params.get_str("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    async def _delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(self._commands_key(params.get("scope"), params.get_str("language_code")), None)
        return True

    async def _send_chat_action(self, params: _Params) -> bool:
        chat_id = params.chat_id()
        action = params.get_str("action")
        if action not in CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self._check_can_send(chat_id)
        self.chat_actions.append((chat_id, action))
        return True

    async def _get_file(self, params: _Params) -> JSON:
        file_id = params.get_str("file_id") or ""
        stored = self._files.get(file_id) or next(
            (f for f in self._files.values() if file_id.startswith(f.file_id)), None
        )
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }


@dataclass(frozen=True)
class _WithDescription:
    """A successful result that Telegram accompanies with a ``description`` (deleteWebhook & co)."""

    result: Any
    description: str
