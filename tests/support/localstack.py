"""Which S3 server the S3 tests talk to: moto (the default) or LocalStack's S3 (S3_TEST_SERVER=localstack).

moto 5.2.5 stores whatever a presigned POST brings (any key, any size, an expired policy) and
answers CORS preflights for every origin. LocalStack's S3 enforces the POST policy (the exact
key, the content-length-range, the expiry) and the bucket's CORS rule, as S3 does; it does not
verify the policy's signature. It runs from its own virtualenv (localstack-core pins a boto3
older than ours): `python3.13 -m venv .venv-localstack` and
`.venv-localstack/bin/pip install -r requirements-localstack.txt` (.ci/run does both), or name
another interpreter with LOCALSTACK_PYTHON. No docker: `python -m localstack.runtime.main`.

moto stays the default: it starts in-process in a few milliseconds, LocalStack in 2-3 s per
pytest process, and a leftover .venv-localstack should not change what a laptop's tests mean.
Asking for LocalStack without its virtualenv is an error, not a quiet fall-back to moto.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from devtools.processes import ROOT
from tests.support.web import free_port

SERVERS = ("moto", "localstack")
DEFAULT_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"
START_TIMEOUT_SECONDS = 90

# Where LocalStack's S3 keeps each bucket's objects: a fixed path, shared by every LocalStack on
# the machine (not under FILESYSTEM_ROOT), so each test session names its buckets apart.
SPOOL_DIR = Path("/tmp/localstack-s3-storage")


class LocalStackUnavailable(RuntimeError):
    pass


def selected_server() -> str:
    """moto or localstack, from S3_TEST_SERVER (unset: moto)."""
    server = os.environ.get("S3_TEST_SERVER", "").strip().lower() or "moto"
    if server not in SERVERS:
        raise LocalStackUnavailable(f"S3_TEST_SERVER={server!r}: use one of {', '.join(SERVERS)}")
    return server


def localstack_python() -> Path:
    python = Path(os.environ.get("LOCALSTACK_PYTHON") or DEFAULT_PYTHON)
    if not python.exists():
        raise LocalStackUnavailable(
            f"S3_TEST_SERVER=localstack needs LocalStack's virtualenv: {python} is missing. Make it with "
            "`python3.13 -m venv .venv-localstack && .venv-localstack/bin/pip install -r "
            "requirements-localstack.txt`, or set LOCALSTACK_PYTHON, or unset S3_TEST_SERVER for moto."
        )
    return python


def server_env(port: int, filesystem_root: Path) -> dict[str, str]:
    """Only what LocalStack needs: none of the tests' variables (AWS_*, PORT, DEBUG...) reach it."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(filesystem_root)),
        "LANG": "C.UTF-8",
        # hypercorn binds the address it is given; LocalStack's default server binds 0.0.0.0.
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_SERVER": "hypercorn",
        "SERVICES": "s3",
        "EAGER_SERVICE_LOADING": "1",
        # Nothing from the internet: no analytics, no certificate download, no DNS server.
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DNS_ADDRESS": "0",
        "PERSISTENCE": "0",
        # Its directories (cache, state, logs, /etc/localstack...) under a temporary root of this
        # server's own, even on a machine that is a container (where it would use /var/lib/localstack).
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(filesystem_root),
    }


def s3_status(endpoint: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as response:  # noqa: S310 - local
            return json.load(response).get("services", {}).get("s3")
    except (OSError, ValueError, urllib.error.URLError):
        return None


@contextmanager
def localstack_s3() -> Iterator[str]:
    """LocalStack's S3 alone, on a free port of 127.0.0.1, until the block ends; its endpoint URL."""
    python = localstack_python()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="tests-localstack-") as root:
        log_path = Path(root) / "localstack.log"
        filesystem_root = Path(root) / "filesystem"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [str(python), "-m", "localstack.runtime.main"],
                cwd=root,
                env=server_env(port, filesystem_root),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while s3_status(endpoint) not in {"running", "available"}:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise LocalStackUnavailable(
                        f"LocalStack's S3 did not come up on {endpoint} (exit {server.poll()}):\n"
                        + log_path.read_text(errors="replace")[-4000:]
                    )
                time.sleep(0.1)
            yield endpoint
        finally:
            stop(server)


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    # Its spool root, if no other LocalStack is using it (each bucket's folder went with the bucket).
    with suppress(OSError):
        SPOOL_DIR.rmdir()


def empty(endpoint: str) -> None:
    """Delete every object and bucket (LocalStack has no reset endpoint, unlike moto's /moto-api/reset)."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="localstack-cleanup",
        aws_secret_access_key="localstack-cleanup",
    )
    for bucket in client.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            items = page.get("Versions", []) + page.get("DeleteMarkers", [])
            if items:
                client.delete_objects(
                    Bucket=name,
                    Delete={"Objects": [{"Key": i["Key"], "VersionId": i["VersionId"]} for i in items]},
                )
        with suppress(ClientError):
            client.delete_bucket(Bucket=name)
    assert not client.list_buckets().get("Buckets"), "LocalStack kept a bucket"
