"""deploy/: what can be checked here of the files a production deployment runs (no container engine runs here, so
the compose file and the Dockerfile are checked as text, not run; nginx.conf is run by test_replicas.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO_DIR
from tests.nginx import NGINX

DEPLOY = REPO_DIR / "deploy"


def test_the_compose_file_runs_the_server_on_a_gpu_with_postgres_redis_and_nginx():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"server", "postgres", "redis", "nginx"}
    server = services["server"]
    assert server["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (DEPLOY / "Dockerfile").exists()
    devices = server["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert server["environment"]["DATABASE_URL"].endswith("@postgres:5432/csm")
    assert server["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert set(server["depends_on"]) == {"postgres", "redis"}


def test_the_compose_nginx_rewrites_lines_that_deploy_nginx_conf_has():
    """The nginx service runs deploy/nginx.conf with sed edits: each line it edits must still be in the config."""
    command = " ".join(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]["nginx"]["command"])
    config = (DEPLOY / "nginx.conf").read_text()
    for line in ("server 127.0.0.1:8000;", "server 127.0.0.1:8001;", "/var/log/nginx/csm-voice-api.log"):
        assert line in command and line in config


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")
def test_nginx_accepts_the_configuration():
    result = subprocess.run([NGINX, "-t", "-c", str(DEPLOY / "nginx.conf")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (systemd)")
def test_systemd_accepts_the_unit(tmp_path):
    """systemd-analyze verify on an instance of the template (port 8000), with this machine's Python in place of
    /opt/csm-voice-api/.venv/bin/python (it checks that the command exists); any warning fails."""
    unit = (DEPLOY / "csm-voice-api@.service").read_text()
    assert "/opt/csm-voice-api/.venv/bin/python -m config.server -b 127.0.0.1 -p %i" in unit
    instance = tmp_path / "csm-voice-api@8000.service"
    instance.write_text(unit.replace("/opt/csm-voice-api/.venv/bin/python", sys.executable))
    result = subprocess.run(["systemd-analyze", "verify", str(instance)], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_image_installs_the_torch_the_makefile_tests_with():
    """Two places name the torch version (make install, the image): they must not drift apart."""
    makefile = (REPO_DIR / "Makefile").read_text()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    version = next(line.split("?=")[1].strip() for line in makefile.splitlines() if line.startswith("TORCH_VERSION"))
    assert f"ARG TORCH_VERSION={version}\n" in dockerfile
    assert "pip install torch==${TORCH_VERSION}" in dockerfile
