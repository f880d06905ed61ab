"""Debian's PostgreSQL for the tests: initdb into a temp dir, a free loopback port, durable
settings (fsync and synchronous_commit on), password authentication over TCP.

PostgreSQL refuses to run as root, and tests run as root in CI: then the cluster belongs to the
`postgres` system user the Debian package creates, and every server binary runs through
`runuser -u postgres --`. The data directory lives directly under the system temp dir (pytest's
own temp dirs are 0700 root's, which that user cannot enter).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.servers import free_port

PASSWORD = "pg-test-secret"
USER = "postgres"


def bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (make test installs Debian's "
                           "postgresql)")
    return Path(found[-1]).parent


class PostgresServer:
    """One PostgreSQL cluster; `url(db)` is a password URL on 127.0.0.1."""

    def __init__(self) -> None:
        self.bin = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="promwire-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log_path = self.root / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._initdb()

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as, *argv], check=True, capture_output=True, cwd=self.root)

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._as:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust",
                  "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                  "--no-instructions")
        pwfile.unlink()

    def start(self, timeout: float = 30.0) -> PostgresServer:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self._as, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
             "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=300",
             "-c", "shared_buffers=32MB"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited {self.proc.returncode}:\n{self.log()}")
            if self._answers():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready after {timeout}s:\n{self.log()}")

    def _answers(self) -> bool:
        ready = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p",
                                str(self.port), "-q"], check=False)
        return ready.returncode == 0

    def stop(self, timeout: float = 30.0) -> None:
        """A fast shutdown (SIGINT): sessions end, the data stays."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, 2)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL (psql: callable with or without a running loop)."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending its sessions. A database dropped has nothing left for the
        shutdown checkpoint to flush and sync, which otherwise grows with every one made."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def psql(self, command: str, database: str = "postgres") -> str:
        """Run one SQL command over TCP with the password; its unaligned output."""
        done = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER,
             "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", command],
            check=True, capture_output=True, text=True, env={**os.environ, "PGPASSWORD": PASSWORD})
        return done.stdout.strip()


@contextlib.contextmanager
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
