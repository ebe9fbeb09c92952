"""The journal file: Alembic migrations produce exactly the models' schema, in WAL mode."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.journal  # noqa: F401  (registers the tables)
from bot.store import Store


def test_migrations_match_the_models_and_wal_is_on(tmp_path: Path) -> None:
    store = Store(tmp_path / "j.db")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == [], diff
    store.close()
    with sqlite3.connect(tmp_path / "j.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0002"


def test_reopening_an_existing_journal_is_idempotent(tmp_path: Path) -> None:
    Store(tmp_path / "j.db").close()
    store = Store(tmp_path / "j.db")  # upgrade head on an up-to-date file: no error, nothing lost
    store.put("k", "v")
    store.close()
    assert Store(tmp_path / "j.db").get("k") == "v"
