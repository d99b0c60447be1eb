"""Real servers for the tests and benchmarks, started on loopback by the test run itself.

- `MotoS3`: `moto_server` (moto in server mode, from PyPI, offline) as an S3-compatible
  endpoint; the standard AWS environment variables point delta-rs, pyarrow and boto3 at it.
- `Postgres`: Debian's PostgreSQL (`make postgres` installs it), a fresh cluster in a temporary
  folder on its own port, run as the `postgres` user when the tests run as root (the server
  refuses root).

Each runs in its own process group and is killed as a group, so nothing outlives the test run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO

MOTO_SERVER = Path(sys.executable).with_name("moto_server")


class MotoS3:
    """`moto_server` on 127.0.0.1, on a port the OS picks (read back from its output)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def __enter__(self) -> MotoS3:
        self._out: IO[bytes] = self.log.open("wb")
        self.process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", "0"],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(rb"Running on (http://127\.0\.0\.1:\d+)", self.log.read_bytes())
            if found:
                self.endpoint = found.group(1).decode()
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"moto_server did not start: {self.log.read_text(errors='replace')}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            _kill_group(self.process)
        self._out.close()

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables for this endpoint (moto accepts any credentials)."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def new_bucket(self) -> str:
        import boto3

        name = f"test-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, **_boto_credentials(self.env))
        client.create_bucket(Bucket=name)
        return name


def _boto_credentials(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_REGION"],
    }


PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (`make postgres`), newest version first."""
    for directory in PG_BIN_DIRS:
        if (directory / "postgres").exists():
            return directory
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class Postgres:
    """A throwaway PostgreSQL cluster: `initdb` into a new folder of its own under the system
    temporary folder, then `postgres` listening on a Unix socket in that folder only (no TCP
    port to collide with anything), trust authentication. `stop()`/`start()` restart it."""

    def __init__(self) -> None:
        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed: run `make postgres`")
        self.bin = binaries
        # not under pytest's tmp_path: its parents are private to the user running the tests,
        # and the server runs as `postgres`; a short path, as a socket path must be
        self.folder = Path(tempfile.mkdtemp(prefix="memgraph-pg-"))
        self.data = self.folder / "data"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        # psycopg2, the driver dagster-postgres speaks (see pipelines/instance.py)
        return f"postgresql+psycopg2://postgres@/postgres?host={self.folder}"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", "postgres", "--", *argv]

    def __enter__(self) -> Postgres:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        subprocess.run(
            self._as_owner(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.start()
        return self

    def start(self) -> None:
        log = self.folder / "server.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                self._as_owner(
                    [
                        str(self.bin / "postgres"),
                        "-D",
                        str(self.data),
                        "-c",
                        "listen_addresses=",
                        "-c",
                        f"unix_socket_directories={self.folder}",
                        "-c",
                        "fsync=off",
                    ]
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", str(self.folder)], capture_output=True
            )
            if ready.returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not start: " + log.read_text(errors="replace")[-2000:])

    def stop(self) -> None:
        """A fast shutdown (SIGINT: connections are cut, as in a server restart)."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _kill_group(self.process)
        self.process = None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
