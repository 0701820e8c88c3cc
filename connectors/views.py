"""Analyst views: the SQL files in sql/views, created over the raw tables of both platforms."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from promosync.connectors.warehouse import DDL_LOCK, SQL_DIR, Warehouse

VIEWS_DIR = SQL_DIR / "views"


def view_files() -> list[Path]:
    """The view definitions, one file per view named after it."""
    return sorted(VIEWS_DIR.glob("*.sql"))


def create_views(warehouse: Warehouse) -> list[str]:
    """Create or replace every analyst view in one transaction; return their names."""
    with warehouse.engine.begin() as conn:
        if warehouse.dialect == "postgresql":  # like the tables: two steps at once would race
            conn.exec_driver_sql(DDL_LOCK)
        for path in view_files():
            conn.exec_driver_sql(path.read_text())
    return [path.stem for path in view_files()]


def count_rows(warehouse: Warehouse, views: list[str]) -> dict[str, int]:
    """Rows in each view."""
    with warehouse.engine.connect() as conn:
        return {
            view: conn.execute(sa.select(sa.func.count()).select_from(sa.table(view))).scalar_one()
            for view in views
        }
