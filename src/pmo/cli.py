"""The `pmo` command: serve, db, seed, accounts, tokens, export-openapi, demo."""

import json
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pmo.config import PROJECT_ROOT, get_settings

if TYPE_CHECKING:
    from alembic.config import Config

app = typer.Typer(
    help="pmo — 地方公共団体情報システム標準化 進捗管理",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts (who may sign in, with which role).", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens (shown once, stored only as a hash).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
outbox_app = typer.Typer(help="Messages to people (e-mail over PMO_SMTP_URL).", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(tokens_app, name="tokens")

CLI_ACTOR = "cli"


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _alembic_config() -> "Config":
    from alembic.config import Config

    return Config(str(PROJECT_ROOT / "alembic.ini"))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to a revision (default: head)."""
    from alembic import command

    command.upgrade(_alembic_config(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to a revision (e.g. base)."""
    from alembic import command

    command.downgrade(_alembic_config(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("create-stats-role")
def db_create_stats_role(
    name: Annotated[str, typer.Option(help="role name")] = "pmo_stats",
    password: Annotated[str | None, typer.Option(help="password (default: none, for trust or peer auth)")] = None,
) -> None:
    """PostgreSQL: create (or refresh) a role with SELECT on what statistics read, and nothing else."""
    import re

    from psycopg.sql import Literal
    from sqlalchemy import text

    from pmo.db import get_engine
    from pmo.stats import STATS_TABLES

    engine = get_engine()
    if engine.dialect.name != "postgresql":
        _fail("statistics roles are for PostgreSQL; on SQLite statistics already read through a read-only connection")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        _fail("role names are lower-case letters, digits and _")
    with engine.begin() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name})
        verb = "ALTER" if exists else "CREATE"
        # A utility statement takes no bound parameters: the password goes in as a properly quoted literal.
        secret = (
            "" if password is None else " PASSWORD " + Literal(password).as_string(conn.connection.driver_connection)
        )
        conn.execute(text(f"{verb} ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE{secret}"))
        database = conn.scalar(text("SELECT current_database()"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {name}"))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO {name}'))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {name}"))
        conn.execute(text(f"GRANT SELECT ON {', '.join(STATS_TABLES)} TO {name}"))
        conn.execute(text(f"ALTER ROLE {name} SET default_transaction_read_only = on"))
    url = engine.url.set(username=name, password=password)
    typer.echo(
        f"role {name} can read {', '.join(STATS_TABLES)}; set PMO_STATS_DATABASE_URL="
        f"{url.render_as_string(hide_password=True)}"
    )


@app.command()
def seed(
    seeds_dir: Annotated[Path | None, typer.Option(help="folder of bodies.csv, operations.csv, steps.csv")] = None,
) -> None:
    """Load master data (bodies, operations, steps) idempotently; all rows or none."""
    from pmo import caching
    from pmo.db import session_scope
    from pmo.directory.seed import SeedError, load_seeds

    try:
        with session_scope() as session:
            result = load_seeds(session, seeds_dir or get_settings().seeds_dir)
        caching.clear_all()  # in this process; a running server reads the new labels within CATALOG_SECONDS
    except SeedError as exc:
        typer.echo("seed refused; nothing was loaded:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    for table in result.inserted:
        typer.echo(f"{table}: {result.inserted[table]} inserted, {result.updated[table]} updated")


@accounts_app.command("create")
def accounts_create(
    name: str,
    role: Annotated[str, typer.Option(help="municipality, prefecture, helpdesk, admin, viewer, vendor or ministry")],
    body: Annotated[str | None, typer.Option(help="body code for municipality and prefecture roles")] = None,
    organization: Annotated[str | None, typer.Option(help="vendor company, or ministry (総務省 …)")] = None,
    operations: Annotated[str | None, typer.Option(help="vendor: comma-separated operation codes it supplies")] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
    administrator: Annotated[bool, typer.Option(help="it manages its body's accounts (a body's role only)")] = False,
) -> None:
    """Create an account bound to its role (and body or organisation)."""
    from pmo.accounts import service
    from pmo.db import session_scope
    from pmo.errors import PmoError

    try:
        with session_scope() as session:
            service.create_account(
                session,
                name,
                role,
                body,
                actor=CLI_ACTOR,
                display_name=display_name,
                organization=organization,
                operations=[o.strip() for o in operations.split(",") if o.strip()] if operations else None,
                administrator=administrator,
            )
    except PmoError as exc:
        _fail(exc.message)
    typer.echo(f"account {name} created ({role}{' ' + body if body else ''})")


@accounts_app.command("list")
def accounts_list() -> None:
    """List accounts with their role, body and live tokens."""
    from pmo.accounts import service
    from pmo.db import session_scope

    with session_scope(read_only=True) as session:
        for account, code, live in service.list_accounts(session):
            state = "disabled" if account.disabled_at else f"{live} live token(s)"
            typer.echo(f"{account.name}\t{account.role}\t{code or '-'}\t{state}")


@accounts_app.command("disable")
def accounts_disable(name: str) -> None:
    """Disable an account; its tokens stop working at once."""
    from pmo.accounts import service
    from pmo.db import session_scope
    from pmo.errors import PmoError

    try:
        with session_scope() as session:
            service.disable_account(session, name, actor=CLI_ACTOR)
    except PmoError as exc:
        _fail(exc.message)
    typer.echo(f"account {name} disabled")


@accounts_app.command("set-password")
def accounts_set_password(
    name: str,
    email: Annotated[str, typer.Option(help="the account's sign-in e-mail address")],
    password: Annotated[str | None, typer.Option(help="the new password (default: a random one, printed once)")] = None,
) -> None:
    """Give an account its sign-in e-mail and a password (every password session it had ends)."""
    from pmo.accounts import passwords, service
    from pmo.db import session_scope
    from pmo.errors import PmoError

    chosen = password or secrets.token_urlsafe(12)
    try:
        with session_scope() as session:
            passwords.set_password(session, service.get_account(session, name), email, chosen, actor=CLI_ACTOR)
    except PmoError as exc:
        _fail(exc.message)
    typer.echo(chosen if password is None else f"password of {name} set")


@accounts_app.command("invite")
def accounts_invite(
    name: str, email: Annotated[str, typer.Option(help="where the invitation goes (the sign-in e-mail)")]
) -> None:
    """Mail an account a one-time link (7 days) to set its password; prints the link too."""
    from pmo.accounts import links, service
    from pmo.db import session_scope
    from pmo.errors import PmoError

    try:
        with session_scope() as session:
            path = links.invite(session, service.get_account(session, name), email, actor=CLI_ACTOR)
    except PmoError as exc:
        _fail(exc.message)
    typer.echo(get_settings().site_url.rstrip("/") + path)


@outbox_app.command("deliver")
def outbox_deliver(
    limit: Annotated[int, typer.Option(help="send at most this many messages")] = 1000,
) -> None:
    """Send the outbox's due messages over PMO_SMTP_URL (safe to run from cron every minute)."""
    from pmo.outbox.delivery import deliver

    done = deliver(limit)
    typer.echo(f"sent {done.sent}, failed {done.failed}, waiting {done.waiting}")
    if done.failed:
        raise typer.Exit(code=1)


@app.command()
def remind(
    at: Annotated[
        str | None, typer.Option(help="as if at this ISO time (default now), e.g. to catch up a missed run")
    ] = None,
) -> None:
    """Write the reminders due now into the outbox (report due soon / today; missing municipalities to their
    prefecture); safe to run every hour: each is written once per period and person."""
    from datetime import datetime

    from pmo.db import session_scope, utcnow
    from pmo.outbox.reminders import remind as write_reminders

    try:
        now = datetime.fromisoformat(at) if at else utcnow()
    except ValueError:
        _fail(f"--at {at!r} is not an ISO time (e.g. 2026-12-04T09:00+09:00)")
    if now.tzinfo is None:
        _fail("--at needs a time zone (e.g. +09:00)")
    with session_scope() as session:
        written = write_reminders(session, now)
    typer.echo(", ".join(f"{kind} {n}" for kind, n in sorted(written.items())) or "no reminders due")


@tokens_app.command("issue")
def tokens_issue(
    name: Annotated[
        str | None, typer.Argument(help="account name; created when --role is given and it does not exist")
    ] = None,
    role: Annotated[str | None, typer.Option(help="create the account with this role first")] = None,
    body: Annotated[str | None, typer.Option(help="body code when creating a municipality/prefecture account")] = None,
    organization: Annotated[
        str | None, typer.Option(help="organisation when creating a vendor/ministry account")
    ] = None,
    days: Annotated[int | None, typer.Option(help="lifetime in days (default PMO_TOKEN_TTL_DAYS)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of the bare token")] = False,
) -> None:
    """Issue a token and print it once; with --role, create the account in the same step."""
    from pmo.accounts import service
    from pmo.db import session_scope
    from pmo.errors import NotFound, PmoError

    if name is None and role is None:
        _fail("give an account name, or --role to create one")
    if name is None:
        name = f"{role}-{body}" if body else f"{role}-{secrets.token_hex(3)}"
    try:
        with session_scope() as session:
            try:
                account = service.get_account(session, name)
                if role and account.role != role:
                    _fail(f"account {name} exists with role {account.role}, not {role}")
                if body and service.account_body_code(session, account) != body:
                    bound = service.account_body_code(session, account) or "no body"
                    _fail(f"account {name} exists bound to {bound}, not {body}")
            except NotFound:
                if role is None:
                    raise
                account = service.create_account(session, name, role, body, actor=CLI_ACTOR, organization=organization)
            issued = service.issue_token(
                session, account, actor=CLI_ACTOR, ttl_days=days or get_settings().token_ttl_days
            )
    except PmoError as exc:
        _fail(exc.message)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "account": issued.account,
                    "role": issued.role,
                    "body": issued.body_code,
                    "token": issued.token,
                    "token_id": issued.token_id,
                    "expires_at": issued.expires_at.isoformat(),
                }
            )
        )
    else:
        typer.echo(issued.token)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int | None, typer.Argument(help="token id (from `tokens issue --json`)")] = None,
    account: Annotated[str | None, typer.Option(help="revoke every live token of this account")] = None,
) -> None:
    """Revoke one token, or all tokens of an account."""
    from pmo.accounts import service
    from pmo.db import session_scope
    from pmo.errors import PmoError

    try:
        with session_scope() as session:
            count = service.revoke_tokens(session, actor=CLI_ACTOR, token_id=token_id, account_name=account)
    except PmoError as exc:
        _fail(exc.message)
    typer.echo(f"{count} token(s) revoked")


@app.command()
def demo(
    seed_value: Annotated[int, typer.Option("--seed", help="random seed; the same seed gives the same data")] = 2022,
    if_empty: Annotated[bool, typer.Option(help="do nothing when reports already exist")] = False,
    months: Annotated[
        int | None,
        typer.Option(min=1, help="keep only the last N months of history (benchmarks: 12 / 54 / 120)"),
    ] = None,
) -> None:
    """Generate a realistic national history of reports since 2022-06 (one transaction); a longer history
    needs a later clock (PMO_CLOCK_OFFSET_DAYS)."""
    import time

    from sqlalchemy import select

    from pmo.db import session_scope
    from pmo.demo import inquiries as inquiries_demo
    from pmo.demo import people as people_demo
    from pmo.demo import review as review_demo
    from pmo.demo.reports import generate
    from pmo.models import ReportRevision

    started = time.perf_counter()
    with session_scope() as session:
        if session.scalar(select(ReportRevision.id).limit(1)) is not None:
            if if_empty:
                typer.echo("demo: reports already exist; nothing to do")
                return
            _fail("the database already holds reports; demo data goes only into an empty database")
        result = generate(session, seed=seed_value, months=months)
        n_systems, n_follow_ups = review_demo.generate(session, seed=seed_value)
        people = people_demo.generate(session)
        asked = inquiries_demo.generate(session, seed=seed_value)
    typer.echo(
        f"demo: {result.bodies} bodies, {result.revisions} reports, {result.cell_versions} cell versions, "
        f"{result.first_period}–{result.last_period}, {n_systems} systems, {n_follow_ups} follow-ups, "
        f"{asked.inquiries} inquiries, {asked.faqs} FAQ entries, {asked.notices} notices, {people} people "
        f"in {time.perf_counter() - started:.1f} s"
    )


@app.command("backup")
def backup_command(target: Annotated[Path, typer.Argument(help="file to write")]) -> None:
    """Write a consistent copy of the database (online; SQLite backup API or pg_dump)."""
    from pmo.backup import BackupError, backup

    try:
        backup(target)
    except BackupError as exc:
        _fail(str(exc))
    typer.echo(f"backup written to {target}")


@app.command("restore")
def restore_command(source: Annotated[Path, typer.Argument(help="file written by `pmo backup`")]) -> None:
    """Replace the database's contents with a backup (stop the service first)."""
    from pmo.backup import BackupError, restore

    try:
        restore(source)
    except BackupError as exc:
        _fail(str(exc))
    typer.echo(
        f"restored from {source} (without GRANTs: on PostgreSQL re-run `pmo db create-stats-role` if statistics "
        "read through their own role)"
    )


@app.command("export-openapi")
def export_openapi(
    output: Annotated[Path, typer.Option(help="where to write; - for stdout")] = PROJECT_ROOT
    / "openapi"
    / "openapi.json",
) -> None:
    """Write the OpenAPI document generated from the app."""
    from pmo.app import openapi_text

    text = openapi_text()
    if str(output) == "-":
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Serve the API and pages with uvicorn."""
    import os
    import shutil

    import uvicorn

    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers are separate processes: their request metrics meet in files that /metrics merges.
        metrics_dir = PROJECT_ROOT / "var" / f"prometheus-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        uvicorn.run(
            "pmo.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            log_level="info",
            access_log=False,
            log_config=None,
        )  # pmo logs each request itself, as JSON with its request id
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)  # this run's metric files: nothing reads them after it


if __name__ == "__main__":
    app()
