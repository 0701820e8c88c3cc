"""The wheel as a user installs it: built from the repository, installed (not editable) into a
fresh virtual environment, it holds every SQL file and `promosync sync` reaches exact parity.

Cheap by design: `pip wheel --no-deps --no-build-isolation` of a copy of the sources, and a
fresh environment that reaches the test environment's dependencies through a .pth file (added
after the install, so pip never sees the editable promosync), where the editable promosync is
not importable: a .pth file's path is only added, its own .pth files (the editable finder) are
not run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from promosync.connectors.warehouse import Warehouse

from tests.reliability.checks import talon_one_parity, voucherify_parity
from tests.reliability.cli import env_for, small

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "promosync", "connectors", "pipelines", "sandbox", "sql")
# What the installed package says about itself, printed as JSON by the fresh interpreter.
INSPECT = """
import importlib.metadata, importlib.resources, json, promosync, promosync.pipelines.definitions
sql = importlib.resources.files("promosync") / "sql"
print(json.dumps({
    "module": promosync.__file__,
    "sql": sorted(str(p.relative_to(sql)) for p in sql.rglob("*.sql")),
    "recorded": sorted(str(f) for f in importlib.metadata.files("promosync") if f.suffix == ".sql"),
    "top_level": sorted(
        p.name for p in importlib.resources.files("promosync").parent.iterdir()
        if p.name in ("connectors", "pipelines", "sandbox", "sql")
    ),
}))
"""


def run(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    sources = root / "src"
    sources.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, sources / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(REPO / name, sources / name)
    python = sys.executable
    run(python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
        "--disable-pip-version-check", "-w", str(root / "dist"), str(sources))  # fmt: skip
    (wheel,) = (root / "dist").glob("promosync-*.whl")
    fresh = root / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    bin_dir = fresh / "bin"
    run(python, "-m", "pip", "--python", str(bin_dir / "python"), "install", "--no-deps",
        "--quiet", "--disable-pip-version-check", str(wheel))  # fmt: skip
    site = run(
        str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
    )
    ours = sysconfig.get_path("purelib")  # the test environment's dependencies
    (Path(site.stdout.strip()) / "test-dependencies.pth").write_text(ours + "\n")
    return bin_dir


def test_the_installed_package_lists_every_sql_file(installed: Path, tmp_path: Path) -> None:
    done = run(str(installed / "python"), "-c", INSPECT, cwd=tmp_path)
    found = json.loads(done.stdout)
    assert Path(found["module"]).is_relative_to(installed.parent)  # not the editable one
    expected = sorted(str(p.relative_to(REPO / "sql")) for p in (REPO / "sql").rglob("*.sql"))
    assert expected and found["sql"] == expected
    assert found["recorded"] == [f"promosync/sql/{name}" for name in expected]
    assert found["top_level"] == []  # no generic top-level module beside `promosync`


def test_promosync_sync_from_the_wheel_reaches_parity(
    installed: Path, sandbox, voucherify_admin, talon_one_admin, tmp_path: Path
) -> None:
    small(sandbox, 40)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    env = {**os.environ, **env_for(sandbox, url)}
    env.pop("PYTHONPATH", None)
    run(str(installed / "promosync"), "sync", env=env, cwd=tmp_path)
    store = Warehouse(url)
    try:
        for verdict in (
            voucherify_parity(voucherify_admin, store),
            talon_one_parity(talon_one_admin, store),
        ):
            assert verdict.lost == verdict.duplicated == verdict.stale == 0, str(verdict)
    finally:
        store.dispose()
