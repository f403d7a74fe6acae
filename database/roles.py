"""Least-privilege database roles: each writer role writes its own table, the reader role reads.

The owner (``PIPELINE_POSTGRES_USER``) runs the migrations and then this module; consumers
connect as ``pipeline_<table>_writer``, the console, ``status`` and ``verify`` as ``pipeline_reader``.
Each writer also moves its group's offsets (``consumer_offsets``, in the batch's transaction) and
the orders writer the sales sums. The reader reads everything; the only tables it writes are
verify's own state (``VERIFY_STATE``), which a repeated run starts from.
A password is sent as a SCRAM-SHA-256 verifier computed here, so the server (and its log, should a
statement fail) never sees it in clear text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import psycopg
from psycopg import sql

from database.models import AGGREGATES, TABLES, VERIFY_STATE, ConsumerOffset, Order

READER = "pipeline_reader"
SCRAM_ITERATIONS = 4096
WRITE = ("SELECT", "INSERT", "UPDATE")  # an upsert: INSERT ... ON CONFLICT DO UPDATE, reading the version


def writer(table: str) -> str:
    """The role that writes ``table`` (its consumer group's)."""
    return f"pipeline_{table}_writer"


def wanted_privileges() -> dict[str, dict[str, tuple[str, ...]]]:
    """Role -> table -> privileges; nothing else is granted."""
    offsets = ConsumerOffset.__tablename__
    roles = {writer(table): {table: WRITE, offsets: WRITE} for table in TABLES}
    roles[writer(Order.__tablename__)] |= {table: WRITE for table in AGGREGATES}
    roles[READER] = {table: ("SELECT",) for table in (*TABLES, *AGGREGATES, offsets)}
    roles[READER] |= {table: (*WRITE, "DELETE") for table in VERIFY_STATE}
    return roles


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's stored form of a scram-sha-256 password (RFC 5802/7677)."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"


def ensure_roles(conninfo: str, passwords: dict[str, str]) -> None:
    """Create or update every role (login, password) and grant exactly its privileges; safe to rerun.

    ``conninfo`` is the owner's libpq connection string; ``passwords`` maps each role to its password.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        database = conn.execute("SELECT current_database()").fetchone()[0]
        for role, tables in wanted_privileges().items():
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = sql.SQL("ALTER" if exists else "CREATE")
            conn.execute(
                sql.SQL("{} ROLE {} LOGIN NOINHERIT PASSWORD {}").format(
                    verb, sql.Identifier(role), sql.Literal(scram_verifier(passwords[role]))
                )
            )
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), sql.Identifier(role))
            )
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
            if any(table in VERIFY_STATE for table in tables):  # verify_results numbers its rows
                conn.execute(
                    sql.SQL("GRANT USAGE ON SEQUENCE verify_results_id_seq TO {}").format(sql.Identifier(role))
                )
            for table, privileges in tables.items():
                conn.execute(
                    sql.SQL("GRANT {} ON {} TO {}").format(
                        sql.SQL(", ").join(sql.SQL(p) for p in privileges), sql.Identifier(table), sql.Identifier(role)
                    )
                )
