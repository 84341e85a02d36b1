from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import redis

from queues.config import queue_config
from tests.support.processes import ROOT
from tests.support.web import static_files_lock


def settings_env(**overrides: str) -> dict[str, str]:
    """The environment of a fresh deploy: none of the project's variables, no local .env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_")) and k != "CI"}
    return {**env, "DJANGO_ENV_FILE": os.devnull, **overrides}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_missing_secret_key_outside_debug_fails_naming_the_variable():
    result = run_manage("check", env=settings_env())

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_for():
    code = "from django.conf import settings; print(settings.DEBUG)"
    off = run_manage("shell", "--no-imports", "-c", code, env=settings_env(DJANGO_SECRET_KEY="x" * 50))
    on = run_manage("shell", "--no-imports", "-c", code, env=settings_env(DJANGO_DEBUG="1"))

    assert off.stdout.strip() == "False"
    assert on.stdout.strip() == "True"


def test_collectstatic_runs_at_build_time_without_reachable_services(tmp_path):
    # Heroku's build has config vars but no reachable add-ons.
    env = settings_env(
        DJANGO_SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://nobody:nothing@127.0.0.1:9/none",
        REDIS_URL="rediss://:nothing@127.0.0.1:9/0",
    )
    with static_files_lock():
        result = run_manage("collectstatic", "--noinput", env=env)

    assert result.returncode == 0, result.stderr
    assert (ROOT / "staticfiles" / "staticfiles.json").exists()


def test_production_settings_pass_the_deploy_checks():
    env = settings_env(DJANGO_SECRET_KEY="p" + "0123456789abcdefghijklmnopqrstuvwxyz" * 2)
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr


def test_database_url_selects_postgres_with_persistent_health_checked_connections():
    code = (
        "from django.conf import settings; d = settings.DATABASES['default'];"
        "print(d['ENGINE'], d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], d['OPTIONS'].get('sslmode'))"
    )
    env = settings_env(DJANGO_SECRET_KEY="x" * 50, DATABASE_URL="postgres://u:p@db.example.com:5432/app", DYNO="web.1")
    result = run_manage("shell", "--no-imports", "-c", code, env=env)

    assert result.stdout.split() == ["django.db.backends.postgresql", "600", "True", "require"]


def test_heroku_ci_reaches_its_in_dyno_postgres_without_tls():
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'].get('sslmode'))"
    env = settings_env(
        DJANGO_SECRET_KEY="x" * 50, DATABASE_URL="postgres://u:p@localhost:5432/ci", DYNO="run.1", CI="true"
    )
    result = run_manage("shell", "--no-imports", "-c", code, env=env)

    assert result.stdout.split() == ["None"], result.stdout + result.stderr


def test_a_local_env_file_fills_in_what_the_environment_does_not_set(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# local\nDJANGO_DEBUG=1\nDEFAULT_FROM_EMAIL=dev@example.com\n")
    code = "from django.conf import settings; print(settings.DEBUG, settings.DEFAULT_FROM_EMAIL)"

    from_file = run_manage("shell", "--no-imports", "-c", code, env=settings_env(DJANGO_ENV_FILE=str(env_file)))
    overridden = run_manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        env=settings_env(DJANGO_ENV_FILE=str(env_file), DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50),
    )

    assert from_file.stdout.split() == ["True", "dev@example.com"]
    assert overridden.stdout.split() == ["False", "dev@example.com"]


def test_plain_redis_url_gets_no_tls_options():
    assert "SSL_CERT_REQS" not in queue_config("redis://127.0.0.1:6379/0")


@pytest.fixture
def tls_redis(tmp_path):
    """Debian's redis-server on a free TLS port with a throwaway self-signed certificate."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("needs a redis-server binary built with TLS (Debian's package); CI has one")
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(tmp_path), "--requirepass", "s3cret"]
    args += ["--tls-cert-file", str(tmp_path / "cert.pem"), "--tls-key-file", str(tmp_path / "key.pem")]
    args += ["--tls-ca-cert-file", str(tmp_path / "ca.pem"), "--tls-auth-clients", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert process.poll() is None and time.monotonic() < deadline, "TLS redis-server did not start"
            time.sleep(0.05)
        yield f"rediss://:s3cret@127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


def test_rediss_url_connects_despite_the_self_signed_certificate(tls_redis):
    from django_rq.connection_utils import get_redis_connection

    assert get_redis_connection(queue_config(tls_redis)).ping()

    without_the_setting = {k: v for k, v in queue_config(tls_redis).items() if k != "SSL_CERT_REQS"}
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        get_redis_connection(without_the_setting).ping()


def test_worker_command_reaches_a_rediss_url(tls_redis):
    env = settings_env(DJANGO_SECRET_KEY="x" * 50, REDIS_URL=tls_redis)
    result = run_manage("rqstats", "--json", env=env)

    assert result.returncode == 0, result.stderr
    assert '"name": "default"' in result.stdout or '"default"' in result.stdout
