"""The build maps src/ to the `sfsync` package: every subpackage must be listed."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_under_src_is_declared():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(["sfsync", *init.parent.relative_to(ROOT / "src").parts])
        for init in (ROOT / "src").rglob("__init__.py")
    }
    assert found == declared


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
