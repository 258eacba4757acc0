"""Two replicas behind nginx, as docs/deploy.md runs them: production settings (DEBUG off, keys required), one
PostgreSQL, one Redis, one media store (a shared folder, or a bucket in moto's S3 server), deploy/nginx.conf in
front with least-connections balancing.

Used by tests/operations/test_replicas.py, and by hand for load runs (prints the URLs and an API key, then serves
until Ctrl-C):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME REDIS_URL=redis://127.0.0.1:6379/N \\
        .venv/bin/python -m tests.operations.deployment [--s3] [--model tiny-random]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.conftest import REPO_DIR, LiveServer, _free_port
from tests.nginx import Nginx

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "replica-tests",
    "CSM_REQUIRE_API_KEY": "1",
    "CSM_NUM_PROXIES": "1",  # behind nginx: the client's address is in X-Forwarded-For
    "CSM_HOUSEKEEPING_INTERVAL_SECONDS": "300",  # the default (tests/settings.py turns it off for other servers)
}
REGION = "us-east-1"


class MotoS3:
    """moto's S3-compatible server in a subprocess; `env` points django-storages at its bucket, which wait_ready()
    creates once the server answers."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = f"media-{uuid.uuid4().hex[:8]}"
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)  # noqa: SIM115 - open for the process's life
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.env = {
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.endpoint, timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"moto did not start: {Path(self.log.name).read_text()[-2000:]}") from None
                time.sleep(0.2)
        self.client().create_bucket(Bucket=self.bucket)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def storage(self):
        """A django-storages S3Storage on the bucket, as the replicas configure it."""
        from storages.backends.s3 import S3Storage

        return S3Storage(
            bucket_name=self.bucket,
            endpoint_url=self.endpoint,
            region_name=REGION,
            access_key="testing",
            secret_key="testing",
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass
class Deployment:
    replicas: list[LiveServer]
    nginx: Nginx
    media_root: Path
    s3: MotoS3 | None = None
    names: dict[int, str] = field(default_factory=dict)  # replica port -> CSM_SERVER_NAME

    def stop(self) -> None:
        self.nginx.stop()
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.process.terminate()  # all at once; stop() then waits for each
        for replica in self.replicas:
            replica.stop()
        if self.s3 is not None:
            self.s3.stop()


def start(
    *, database_url: str, redis_url: str, workdir: Path, s3: bool = False, extra_env: dict[str, str] | None = None
) -> Deployment:
    """Starts moto (with `s3`), two replicas named replica-a and replica-b, and nginx in front of them."""
    media_root = workdir / "media"
    env = {**PRODUCTION_ENV, "REDIS_URL": redis_url, "MEDIA_ROOT": str(media_root), **(extra_env or {})}
    moto = MotoS3() if s3 else None
    if moto is not None:
        env.update(moto.env)
    replicas: list[LiveServer] = []
    try:
        for name in ("replica-a", "replica-b"):  # started together, then waited for
            replicas.append(
                LiveServer(database_url=database_url, extra_env={**env, "CSM_SERVER_NAME": name}, wait=False)
            )
        if moto is not None:
            moto.wait_ready()
        for replica in replicas:
            replica.wait_ready()
        front = Nginx([replica.port for replica in replicas], workdir)
    except BaseException:
        for replica in replicas:
            replica.stop()
        if moto is not None:
            moto.stop()
        raise
    names = {replica.port: name for replica, name in zip(replicas, ("replica-a", "replica-b"), strict=True)}
    return Deployment(replicas=replicas, nginx=front, media_root=media_root, s3=moto, names=names)


def main() -> None:
    parser = argparse.ArgumentParser(description="Two replicas behind nginx, for load runs (see the docstring).")
    parser.add_argument("--s3", action="store_true", help="media in moto's S3 server (needs the replicas extra)")
    parser.add_argument("--model", default=os.environ.get("CSM_MODEL", "tiny-random"))
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        parser.error("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "tests.settings", "CSM_MODEL": args.model})
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO_DIR, check=True, env=os.environ)
    import django

    django.setup()
    from accounts.services import create_api_key

    key = create_api_key(name="load run")[1]
    deployment = start(database_url=database_url, redis_url=redis_url, workdir=Path(tempfile.mkdtemp()), s3=args.s3)
    for replica in deployment.replicas:
        print(f"{deployment.names[replica.port]}: {replica.url} (log {replica.log.name})")
    print(f"nginx: {deployment.nginx.url} (access log {deployment.nginx.access_log})")
    print(f"API key: {key}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        deployment.stop()


if __name__ == "__main__":
    main()
