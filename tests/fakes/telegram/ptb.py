"""python-telegram-bot glue: point an ``ApplicationBuilder`` at the fake and run polling like the daemon."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from telegram.ext import Application, ApplicationBuilder

from .server import FakeTelegramServer

if TYPE_CHECKING:
    from telegram.ext._applicationbuilder import InitApplicationBuilder  # PTB exports no public alias

__all__ = ["application_builder", "polling"]

AppT = TypeVar("AppT", bound="Application[Any, Any, Any, Any, Any, Any]")


def application_builder(server: FakeTelegramServer) -> InitApplicationBuilder:
    """``ApplicationBuilder`` with the token and both base URLs of ``server`` (add your own options)."""
    return (
        ApplicationBuilder().token(server.token).base_url(f"{server.url}/bot").base_file_url(f"{server.url}/file/bot")
    )


@asynccontextmanager
async def polling(app: AppT, *, drop_pending_updates: bool = True, **start_polling_kwargs: Any) -> AsyncIterator[AppT]:
    """Run ``app`` with long polling inside the current event loop, then shut it down cleanly.

    Mirrors the daemon: ``initialize`` -> ``updater.start_polling`` -> ``start`` and
    ``updater.stop`` -> ``stop`` -> ``shutdown``.  If the server is still in a ``"timeout"`` outage at
    exit, PTB's final ``getUpdates`` hangs until its read timeout (or ``hang_cap``): call
    ``come_up()`` first to keep shutdown fast.
    """
    await app.initialize()
    if app.updater is None:
        raise RuntimeError("application was built without an Updater")
    try:
        await app.updater.start_polling(drop_pending_updates=drop_pending_updates, **start_polling_kwargs)
        await app.start()
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
