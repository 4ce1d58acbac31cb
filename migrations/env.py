"""Alembic environment: the URL is PMO_DATABASE_URL, the target is every table in pmo.models."""

from alembic import context

import pmo.models  # noqa: F401  (registers every table)
from pmo.db import Base, get_engine

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine().connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `pmo db upgrade`")
run_migrations()
