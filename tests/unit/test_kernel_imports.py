"""The kernel (activities/) imports no gameplay package: every one of its modules is imported in a
fresh interpreter and no gameplay (nor the API, which lists them) is loaded by it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import activities
from api.gameplays import GAMEPLAYS

ROOT = Path(__file__).resolve().parents[2]
# Run by Alembic only (it reads Alembic's context, and finds the gameplays through the registry).
NOT_IMPORTABLE = {"activities.migrations.env"}


def _kernel_modules() -> list[str]:
    found = [
        info.name
        for info in pkgutil.walk_packages(activities.__path__, prefix="activities.")
        if info.name not in NOT_IMPORTABLE and ".versions." not in info.name
    ]
    return sorted(found)


def test_the_registry_names_every_gameplay_package() -> None:
    packages = {gameplay.build.__module__.partition(".")[0] for gameplay in GAMEPLAYS}
    assert {"lottery", "checkin", "assist", "reservation"} <= packages
    assert "activities" not in packages


def test_no_kernel_module_imports_a_gameplay() -> None:
    modules = _kernel_modules()
    assert "activities.service" in modules and "activities.store" in modules and len(modules) > 20
    forbidden = sorted({gameplay.build.__module__.partition(".")[0] for gameplay in GAMEPLAYS} | {"api", "analytics"})
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.partition('.')[0] in {forbidden!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the kernel imports gameplay code: {result.stdout.strip()}"
