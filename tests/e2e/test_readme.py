"""The README's walk-throughs, run as written against a real server, twice.

Each walk-through is a fenced ```sh block right after an HTML comment `<!-- walkthrough: NAME -->`;
the `setup` one (tokens and helpers) runs before each of the others, in one `bash -euo pipefail`
per walk-through, with $API pointing at `promo serve` on the embedded default (its own
redis-server and SQLite in a temp var dir) and $PROMO at this environment's `promo`. A non-zero
exit (a `curl -f` on a 4xx/5xx, an `expect` on another status) fails the test. Every walk-through
runs twice against the same server: the second time on a database the first one filled, so they
cannot lean on ids, dates or an empty database."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_demo_pages import Server
from tests.e2e.test_demo_pages import server as server

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- walkthrough: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)\n```", re.DOTALL)


def walkthroughs() -> dict[str, str]:
    found = {m["name"]: m["body"] for m in BLOCK.finditer(README.read_text(encoding="utf-8"))}
    return found


def test_the_readme_marks_its_walkthroughs() -> None:
    found = walkthroughs()
    assert {"setup", "wheel", "sign-in", "assist", "reservation", "engagement", "lists"} <= set(found), sorted(found)
    for name, text in found.items():
        # Nothing hard-coded that a second run or another day would break (in the commands; the
        # sample answers in comments show real values).
        body = "\n".join(line.split("  #")[0] for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b", body), f"{name}: a hard-coded date"
        assert "localhost:8000" not in body, f"{name}: use $API"
        assert not re.search(r"/activities/\d+", body), f"{name}: a hard-coded activity id"


@pytest.fixture(scope="module")
def promo() -> Iterator[str]:
    found = shutil.which("promo", path=str(Path(sys.executable).parent))
    assert found, "the promo command is not installed next to this python"
    yield found


NAMES = ["wheel", "sign-in", "assist", "reservation", "engagement", "lists"]


@pytest.mark.parametrize("run", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_a_walkthrough_runs_as_written(server: Server, promo: str, name: str, run: int, tmp_path: Path) -> None:
    blocks = walkthroughs()
    script = tmp_path / f"{name}-{run}.sh"
    script.write_text(blocks["setup"] + "\n" + blocks[name] + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {"API": server.url, "PROMO": promo, "PROMO_JWT_SECRET": server.secret}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", str(script)],
        env=env,
        cwd=README.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    (tmp_path / "stdout.txt").write_text(done.stdout)
    assert done.returncode == 0, (
        f"walk-through {name!r} (run {run}) failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
