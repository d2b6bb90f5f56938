"""Another process holding SQLite's write lock (BEGIN EXCLUSIVE), as a backup job or a stray
admin shell would. Run as `python -m tests.faults.sqlite_lock DB SECONDS`: it prints `locked`
once it holds the lock, and commits after SECONDS or as soon as a line arrives on stdin."""

from __future__ import annotations

import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


class SqliteLock:
    def __init__(self, db_path: Path, seconds: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.sqlite_lock", str(db_path), str(seconds)],
            cwd=Path(__file__).resolve().parent.parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "locked":
            self.process.kill()
            raise RuntimeError(f"could not lock {db_path}: {line!r}")
        self.locked_at = time.monotonic()

    def release(self) -> None:
        """Commit now (if still held) and wait for the process to end."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write("release\n")
                self.process.stdin.flush()
            except BrokenPipeError:
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait(self, timeout_s: float) -> None:
        self.process.wait(timeout=timeout_s)


def main(db_path: str, seconds: float) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    select.select([sys.stdin], [], [], seconds)  # a line on stdin, or the time is up
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
