"""A private PostgreSQL server for the local runtime: data under the ignored runtime folder.

Every connection authenticates with scram-sha-256, over TCP and over the UNIX socket.

PostgreSQL refuses to run as root, so when we are root the cluster is initialised and run as
an unprivileged system user (``postgres`` when the Debian package created it, else ``nobody``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from apps.runtime.errors import RuntimeProblem

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, postgres) not found: install them with "
    "'apt-get install -y postgresql' or point PIPELINE_DATABASE_URL at an existing server"
)

POSTGRESQL_CONF = """\
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
shared_buffers = 256MB
work_mem = 16MB
maintenance_work_mem = 128MB
wal_level = replica
synchronous_commit = on
fsync = on
max_wal_size = 2GB
checkpoint_timeout = 15min
wal_compression = lz4
log_destination = 'stderr'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_connections = off
"""

# Every connection proves its password, on TCP and on the socket alike: no ``trust`` anywhere.
PG_HBA_CONF = """\
local   all  all                scram-sha-256
host    all  all  127.0.0.1/32  scram-sha-256
host    all  all  ::1/128       scram-sha-256
"""


def find_bindir() -> Path:
    """Directory holding initdb and postgres: PATH first, then Debian's versioned folders."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    raise RuntimeProblem(INSTALL_HINT)


def service_user() -> str | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeProblem("running as root and no unprivileged user ('postgres' or 'nobody') to run PostgreSQL")


class PostgresServer:
    """Files and commands for one private server; the supervisor runs ``command()``."""

    def __init__(self, home: Path, port: int, user: str, password: str, database: str) -> None:
        self.home = home
        self.data_dir = home / "data"
        self.socket_dir = home / "socket"
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.os_user = service_user()

    def _demote(self) -> dict[str, object]:
        """Subprocess arguments that run a command as the service user."""
        if self.os_user is None:
            return {}
        entry = pwd.getpwnam(self.os_user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def provision(self) -> None:
        """Initdb once (skipped when the data directory exists), then (re)write the config."""
        bindir = find_bindir()
        for path in (self.home, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            self._chown(path)
        if not (self.data_dir / "PG_VERSION").exists():
            if not self.password:
                raise RuntimeProblem("PIPELINE_POSTGRES_PASSWORD is empty: set it in .env (see .env.example)")
            pwfile = self.home / ".pwfile"
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
            self._chown(pwfile)
            result = subprocess.run(
                [
                    str(bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user, "--pwfile", str(pwfile),
                    "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                ],
                capture_output=True, text=True, check=False, cwd=self.home, **self._demote(),
            )  # fmt: skip
            pwfile.unlink()
            if result.returncode != 0:
                raise RuntimeProblem(f"initdb failed: {result.stderr.strip().splitlines()[-1:]}")
        conf = self.data_dir / "postgresql.auto.conf"
        conf.write_text(POSTGRESQL_CONF.format(port=self.port, socket_dir=self.socket_dir))
        self._chown(conf)
        hba = self.data_dir / "pg_hba.conf"  # rewritten, so a data dir from an older version loses its trust
        hba.write_text(PG_HBA_CONF)
        hba.chmod(0o600)
        self._chown(hba)

    def command(self) -> list[str]:
        # commit timestamps: the benchmarks time each event to its transaction's commit (a few bytes per commit)
        return [str(find_bindir() / "postgres"), "-D", str(self.data_dir), "-c", "track_commit_timestamp=on"]

    def create_database(self) -> None:
        """Create the application database once the server accepts connections."""
        import psycopg

        conninfo = f"host={self.socket_dir} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(conninfo, password=self.password, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')
