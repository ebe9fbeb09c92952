"""Dead-man checks that do not depend on the thing they watch.

* ``LoopWatchdog`` is a thread, outside the asyncio loop: if the loop stops ticking (a
  blocking call, a deadlock), the engine's own watchdog job cannot run, so this one tells the
  trader directly: a plain HTTPS call to the Bot API when Telegram is configured, and the log.
* ``HealthPinger`` GETs ``health.ping_url`` (healthchecks.io style) after good cycles, at most
  once a minute, so an outside service notices when the pings stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable

from bot.settings import Settings

log = logging.getLogger(__name__)


def telegram_sender(settings: Settings) -> Callable[[str], None] | None:
    """A blocking sender to every alert chat, independent of the event loop; None without a token."""
    if settings.telegram.token is None or not settings.telegram.chat_ids:
        return None
    url = f"{settings.telegram.base_url}{settings.telegram.token.get_secret_value()}/sendMessage"
    chats = list(settings.telegram.chat_ids)

    def send(text: str) -> None:
        for chat in chats:
            body = urllib.parse.urlencode({"chat_id": chat, "text": text}).encode()
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as reply:
                    json.load(reply)
            except Exception as e:  # never let the URL (it holds the token) reach the log
                log.error("dead-man message could not be sent to Telegram (%s)", type(e).__name__)

    return send


class LoopWatchdog(threading.Thread):
    def __init__(self, limit_s: float, send: Callable[[str], None] | None, *, check_every_s: float = 5.0):
        super().__init__(name="marginguard-watchdog", daemon=True)
        self.limit_s = limit_s
        self.send = send
        self.check_every_s = check_every_s
        self._tick = time.monotonic()
        self._halt = threading.Event()
        self.stalls = 0

    def tick(self) -> None:
        """Called from the event loop to prove it is alive."""
        self._tick = time.monotonic()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        reported = False
        while not self._halt.wait(self.check_every_s):
            stalled_for = time.monotonic() - self._tick
            if stalled_for > self.limit_s and not reported:
                reported = True
                self.stalls += 1
                text = (
                    f"⏰ marginguard: the guard loop has not moved for {stalled_for:.0f}s. "
                    "Positions are NOT being watched. Check the host / container."
                )
                log.critical(text)
                if self.send is not None:
                    self.send(text)
            elif stalled_for <= self.limit_s and reported:
                reported = False
                log.warning("guard loop moving again")
                if self.send is not None:
                    self.send("✅ marginguard: the guard loop is moving again.")


class HealthPinger:
    def __init__(self, url: str | None, *, every_s: float = 60.0):
        self.url = url
        self.every_s = every_s
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    def cycle_ok(self) -> None:
        now = time.monotonic()
        if self.url is None or now - self._last < self.every_s or (self._task and not self._task.done()):
            return
        self._last = now
        self._task = asyncio.get_running_loop().create_task(self._ping(self.url))

    async def _ping(self, url: str) -> None:
        import aiohttp

        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.get(url) as reply,
            ):
                if reply.status >= 400:
                    log.warning("health ping answered HTTP %s", reply.status)
        except Exception as e:
            log.warning("health ping failed (%s)", type(e).__name__)
