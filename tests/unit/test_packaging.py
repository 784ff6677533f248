"""What each distribution ships: `sfsync` (production) and `sfsync-emulator` (development)."""

import email
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.message import Message
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "emulator" / "sfsync_emulator"
DEV_ONLY = {"aiohttp", "trustme", "pytest", "sfsync-emulator"}


def test_every_package_under_src_is_declared():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(["sfsync", *init.parent.relative_to(ROOT / "src").parts])
        for init in (ROOT / "src").rglob("__init__.py")
    }
    assert found | {"sfsync.schemas"} == declared  # schemas/: the contract, as package data


def test_domain_and_services_import_no_infrastructure():
    banned = ("psycopg", "dramatiq", "httpx", "pika", "aiohttp", "structlog", "sfsync.adapters")
    offenders = []
    for folder in ("domain", "services"):
        for path in (ROOT / "src" / folder).rglob("*.py"):
            for line in path.read_text().splitlines():
                words = line.split()
                if words[:1] in (["import"], ["from"]) and words[1].startswith(banned):
                    offenders.append(f"{path.name}: {line.strip()}")
    assert offenders == []


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, zipfile.ZipFile]:
    """Both wheels, built from a copy of the sources (no stale build/ can slip in)."""
    sources = tmp_path_factory.mktemp("sources")
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(ROOT / "src", sources / "src", ignore=junk)
    shutil.copytree(ROOT / "emulator", sources / "emulator", ignore=junk)
    shutil.copytree(ROOT / "schemas", sources / "schemas", ignore=junk)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, sources / name)
    out = tmp_path_factory.mktemp("wheels")
    for project in (sources, sources / "emulator"):
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
            + ["--wheel-dir", str(out), str(project)],
            check=True,
            capture_output=True,
        )
    return {
        "sfsync": zipfile.ZipFile(next(out.glob("sfsync-*.whl"))),
        "sfsync-emulator": zipfile.ZipFile(next(out.glob("sfsync_emulator-*.whl"))),
    }


LOAD_SCHEMAS = """
import sfsync.schemas
from sfsync.entrypoints.validation import schema_file, validators
print(sfsync.schemas.__file__, *sorted(schema_file(*key) for key in validators()))
"""


def metadata(wheel: zipfile.ZipFile, file: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{file}")]
    return wheel.read(path).decode()


def requirements(wheel: zipfile.ZipFile) -> set[str]:
    """Names of what the wheel installs with it (extras such as `dev` left out)."""
    meta: Message = email.message_from_string(metadata(wheel, "METADATA"))
    found = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    return {r.name.lower() for r in found if r.marker is None}


class TestTheProductionWheel:
    def test_carries_no_emulator_and_no_demo(self, wheels):
        names = wheels["sfsync"].namelist()
        assert [n for n in names if "emulator" in n or "demo" in n or "pytest" in n] == []

    def test_carries_every_module_of_src_and_the_migrations(self, wheels):
        names = set(wheels["sfsync"].namelist())
        for path in (ROOT / "src").rglob("*"):
            if path.suffix in (".py", ".sql"):
                assert f"sfsync/{path.relative_to(ROOT / 'src').as_posix()}" in names

    def test_carries_the_message_schemas_and_the_worker_reads_them_from_it(self, wheels, tmp_path):
        """What `pip install .` puts in site-packages, read by the worker's own loader."""
        schemas = sorted(p.name for p in (ROOT / "schemas").glob("*.json"))
        names = set(wheels["sfsync"].namelist())
        assert {f"sfsync/schemas/{name}" for name in schemas} <= names
        wheels["sfsync"].extractall(tmp_path)
        loaded = subprocess.run(
            [sys.executable, "-c", LOAD_SCHEMAS],
            env={"PYTHONPATH": str(tmp_path), "PATH": ""},
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        assert loaded[0].startswith(str(tmp_path)) and loaded[1:] == schemas

    def test_requires_none_of_the_emulator_s_libraries(self, wheels):
        required = requirements(wheels["sfsync"])
        assert {"click", "dramatiq", "httpx"} <= required
        assert required.isdisjoint(DEV_ONLY)

    def test_registers_no_plugin_commands(self, wheels):
        entry_points = metadata(wheels["sfsync"], "entry_points.txt")
        assert "sfsync.commands" not in entry_points
        assert "sfsync = sfsync.entrypoints.cli:main" in entry_points


class TestTheEmulatorWheel:
    def test_carries_every_module_of_the_emulator(self, wheels):
        names = set(wheels["sfsync-emulator"].namelist())
        modules = {f"sfsync_emulator/{p.name}" for p in EMULATOR.glob("*.py")}
        assert {"sfsync_emulator/server.py", "sfsync_emulator/demo.py"} <= modules <= names
        assert [p for p in EMULATOR.rglob("*.py") if p.parent != EMULATOR] == []

    def test_requires_sfsync_and_its_server_libraries(self, wheels):
        assert {"sfsync", "aiohttp", "trustme"} <= requirements(wheels["sfsync-emulator"])

    def test_adds_the_demo_and_emulator_commands(self, wheels):
        entry_points = metadata(wheels["sfsync-emulator"], "entry_points.txt")
        assert "[sfsync.commands]" in entry_points
        assert "demo = sfsync_emulator.demo:demo" in entry_points
        assert "emulator = sfsync_emulator.cli:emulator" in entry_points
