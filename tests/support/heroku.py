"""Heroku in a box: a build like the Python buildpack's, dynos, add-ons and a router-side browser.

Each piece does what Heroku does, on 127.0.0.1, so that a test can deploy the real Procfile and
use the site the way a person would. See tests/system/test_deploy_simulation.py.
https://devcenter.heroku.com/articles/slug-compiler
https://devcenter.heroku.com/articles/dynos
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import psutil

from tests.support.processes import SHUTDOWN_GRACE_SECONDS as SHUTDOWN_GRACE_SECONDS  # re-exported for the tests
from tests.support.processes import ProcessTree
from tests.support.processes import read_procfile as read_procfile  # re-exported for the tests
from tests.support.processes import wait_until as poll_until

# A web dyno that does not bind $PORT within 60 s is killed (R10).
# https://devcenter.heroku.com/articles/error-codes#r10-boot-timeout
BOOT_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Build ------------------------------------------------------------------------------


def tracked_files(root: Path) -> list[Path]:
    """What `git push heroku` would send: tracked files, here in their working-tree versions."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    # A tracked file deleted in the working tree is simply not part of this build.
    return [Path(name) for name in listing.decode().split("\0") if name and (root / name).exists()]


def untracked_files(root: Path) -> list[str]:
    """Files git would not push (untracked, not ignored): the usual reason a slug lacks something."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--others", "--exclude-standard"], cwd=root, capture_output=True, check=True
    ).stdout
    return [name for name in listing.decode().split("\0") if name]


def copy_tracked_files(root: Path, slug: Path) -> int:
    files = tracked_files(root)
    for relative in files:
        target = slug / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target, follow_symlinks=False)
    return len(files)


@contextlib.contextmanager
def runtime_venv(requirements: Path, cache_root: Path) -> Iterator[Path]:
    """A virtualenv with requirements.txt alone (no dev tools), built once per requirements file.

    Cached under `cache_root`, keyed by the file's sha256 and the Python version, so a rerun
    skips pip; a half-built venv (interrupted run) is never reused: it is marked complete last.
    Console scripts carry the venv's absolute path in their shebangs, so it is built where it
    stays and never moved. A shared lock is held while it is in use, so no other run prunes it.
    """
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    venv = cache_root / f"py{sys.version_info.major}.{sys.version_info.minor}-{digest}"
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / f"{venv.name}.lock", "w") as lock:
        # Two test runs at once build it once.
        fcntl.flock(lock, fcntl.LOCK_EX)
        complete = venv / ".build-complete"
        if not complete.exists():
            shutil.rmtree(venv, ignore_errors=True)
            build_venv(requirements, venv)
            complete.write_text(digest)
        fcntl.flock(lock, fcntl.LOCK_SH)
        _prune_other_venvs(cache_root, keep=venv)
        yield venv


def _prune_other_venvs(cache_root: Path, *, keep: Path) -> None:
    # Every change to requirements.txt leaves a venv behind; remove those no run is using.
    for lock_path in cache_root.glob("py*.lock"):
        if lock_path.name == f"{keep.name}.lock":
            continue
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(cache_root / lock_path.name.removesuffix(".lock"), ignore_errors=True)
            lock_path.unlink()
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_venv(requirements: Path, venv: Path) -> None:
    run_build_step([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent, env=dict(os.environ))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    run_build_step([*pip, "-r", str(requirements)], cwd=venv.parent, env=dict(os.environ))


def run_build_step(argv: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"build step {argv} failed ({result.returncode}):\n{output}"
    return output


def base_env(venv: Path, home: Path) -> dict[str, str]:
    """A clean process environment: nothing leaks in from the test run's own variables."""
    return {
        # `python` and `gunicorn` resolve in the app's venv, as /app/.heroku/python/bin does on a dyno.
        "PATH": os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        # Heroku dynos run on UTC (the schedule reads cron strings in UTC whatever this says).
        "TZ": "UTC",
    }


def venv_snapshot(venv: Path) -> dict[str, tuple[int, int]]:
    """Every file in the venv with its size and mtime, to prove no dyno wrote into it."""
    snapshot: dict[str, tuple[int, int]] = {}
    for directory, _, files in os.walk(venv):
        for name in files:
            path = Path(directory, name)
            with contextlib.suppress(FileNotFoundError):
                stat = path.lstat()
                snapshot[str(path.relative_to(venv))] = (stat.st_size, stat.st_mtime_ns)
    return snapshot


# --- Procfile and dynos -----------------------------------------------------------------


class Dyno(ProcessTree):
    """One dyno: `bash -c "<command>"` in its own directory and process group, output in a log file."""

    def __init__(self, name: str, command: str, *, cwd: Path, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.command = command
        self.cwd = cwd
        self.started_at = time.monotonic()
        log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        super().__init__(["bash", "-c", command], env, log_path, cwd=cwd, stdin=subprocess.DEVNULL)

    def tail(self, lines: int = 150) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


@dataclass
class HerokuApp:
    """An app's slug, venv and config vars, and every dyno started from them."""

    slug: Path
    venv: Path
    workdir: Path
    config_vars: dict[str, str]
    procfile: dict[str, str]
    dynos: list[Dyno] = field(default_factory=list)
    generation: int = 0

    def new_generation(self) -> None:
        # A restart gives every dyno a fresh copy of the slug: nothing written on disk survives.
        self.generation += 1

    def dyno_dir(self, process_type: str) -> Path:
        directory = self.workdir / f"gen{self.generation}" / process_type
        # Each dyno gets its own copy of the slug; the venv (outside the slug) is shared read-only,
        # because console scripts such as bin/gunicorn carry the venv's absolute path in their
        # shebang: a copied venv would still run the original's Python (`venv --copies` copies
        # the interpreter, not that path). The test checks that no dyno writes into it.
        shutil.copytree(self.slug, directory, symlinks=True)
        return directory

    def runtime_env(self, dyno_name: str, directory: Path, *, port: int | None = None) -> dict[str, str]:
        env = {
            **base_env(self.venv, directory),
            **self.config_vars,
            # What the dyno manager and the Python buildpack's .profile.d set on every dyno.
            # https://devcenter.heroku.com/articles/dynos#local-environment-variables
            # https://devcenter.heroku.com/articles/python-gunicorn
            "DYNO": dyno_name,
            "WEB_CONCURRENCY": "2",
            "FORWARDED_ALLOW_IPS": "*",
            "GUNICORN_CMD_ARGS": "--access-logfile -",
            "PYTHONUNBUFFERED": "1",
        }
        if port is not None:
            env["PORT"] = str(port)
        return env

    def start(self, process_type: str, dyno_name: str, *, port: int | None = None, extra_env: dict[str, str]) -> Dyno:
        directory = self.dyno_dir(process_type)
        env = {**self.runtime_env(dyno_name, directory, port=port), **extra_env}
        dyno = Dyno(dyno_name, self.procfile[process_type], cwd=directory, env=env, log_dir=self.workdir)
        self.dynos.append(dyno)
        return dyno

    def logs(self) -> str:
        return "\n".join(f"===== {dyno.name} ({dyno.command}) =====\n{dyno.tail()}" for dyno in self.dynos)


def stop_all(dynos: list[Dyno]) -> None:
    """Stop every dyno at once (SIGTERM together, then SIGKILL stragglers), e.g. after a failure."""
    for dyno in dynos:
        if dyno.poll() is None:
            dyno.signal_dyno(signal.SIGTERM)
    for dyno in dynos:
        dyno.stop(grace=10)


def wait_until[T](condition: Callable[[], T], timeout: float, message: str, every: float = 0.25) -> T:
    """Poll `condition` until it returns something truthy, which is returned."""
    return poll_until(condition, timeout, message, every)


def listening_addresses(dyno: Dyno) -> set[tuple[str, int]]:
    return {
        (conn.laddr.ip, conn.laddr.port)
        for process in dyno.processes()
        for conn in _connections(process)
        if conn.status == psutil.CONN_LISTEN
    }


def holders_by_local_port(dynos: list[Dyno], server_port: int) -> dict[int, str]:
    """Which dyno process holds each client connection to `server_port`, by its local port.

    A forked child inherits its parent's sockets, so a socket open in both is the parent's
    (processes are listed parent first).
    """
    owners: dict[int, str] = {}
    for dyno in dynos:
        for process in dyno.processes():
            for conn in _connections(process):
                if conn.raddr and conn.raddr.port == server_port:
                    owners.setdefault(conn.laddr.port, f"{dyno.name} {_role(dyno, process)}")
    return owners


def _connections(process: psutil.Process) -> list:
    try:
        return process.net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _role(dyno: Dyno, process: psutil.Process) -> str:
    process_type = dyno.name.partition(".")[0]
    if process.pid == dyno.popen.pid:
        return {"web": "gunicorn master", "worker": "rqworker-pool and its scheduler"}.get(process_type, "main")
    if process_type == "web":
        return f"gunicorn worker {process.pid}"
    if process_type == "worker":
        # The work horse calls setpgrp(); the scheduler (a forked multiprocessing child) does not.
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(process.pid) == process.pid:
                return f"work horse {process.pid}"
        return f"rq scheduler {process.pid}"
    return f"child {process.pid}"


# --- Add-ons ----------------------------------------------------------------------------


@contextlib.contextmanager
def tls_redis(directory: Path, *, password: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Debian's redis-server on a free TLS port with a throwaway self-signed certificate and a
    password, like Heroku Redis: `rediss://:<password>@host:port/0`, no plain-text port."""
    import trustme

    server = shutil.which("redis-server")
    assert server is not None
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(directory / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    port = free_port()
    args = [server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(directory), "--requirepass", password, "--logfile", str(directory / "redis.log")]
    args += ["--tls-cert-file", str(directory / "cert.pem"), "--tls-key-file", str(directory / "key.pem")]
    args += ["--tls-ca-cert-file", str(directory / "ca.pem"), "--tls-auth-clients", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:

        def accepting() -> bool:
            assert process.poll() is None, (directory / "redis.log").read_text(errors="replace")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_until(accepting, 10, "the TLS redis-server to accept connections", every=0.05)
        yield f"rediss://:{password}@127.0.0.1:{port}/0", process
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A database of our own on the server `server_url` points at; dropped afterwards.

    Only the database created here is ever dropped.
    """
    import psycopg
    from psycopg import sql

    parts = urlsplit(server_url)
    name = f"heroku_sim_{secrets.token_hex(6)}"
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            # FORCE ends connections a killed dyno may have left open.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def app_json_config_vars(app_json: Path) -> dict[str, str]:
    """The config vars the deploy button sets from app.json: values, and generated secrets."""
    config: dict[str, str] = {}
    for name, spec in json.loads(app_json.read_text())["env"].items():
        if isinstance(spec, str):
            config[name] = spec
        elif spec.get("generator") == "secret":
            config[name] = secrets.token_hex(32)
        elif "value" in spec:
            config[name] = spec["value"]
    return config


# --- A browser behind Heroku's router ---------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def set_cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []

    def form_token(self) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.text)
        assert match, f"no CSRF token in the form at {self.url} ({self.status}):\n{self.text[:2000]}"
        return match.group(1)


class Browser:
    """A browser at https://<app>.herokuapp.com, with Heroku's router in between.

    The router ends TLS and forwards plain HTTP to the web dyno's $PORT with X-Forwarded-Proto
    (and -For, -Port); so the browser side keeps https:// URLs, which is also what lets the
    cookie jar send Secure cookies back, as a real browser would.
    https://devcenter.heroku.com/articles/http-routing#heroku-headers
    """

    def __init__(self, host: str, port: int, *, client_ip: str = "203.0.113.7") -> None:
        self.host = host
        self.port = port
        # Each person arrives from their own address (rate limits count per client IP).
        self.client_ip = client_ip
        self.jar = CookieJar()

    @property
    def origin(self) -> str:
        return f"https://{self.host}"

    def url(self, path: str) -> str:
        return urljoin(self.origin + "/", path)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        forwarded_proto: str | None = "https",
    ) -> Response:
        url = self.url(url)
        # Never opened: it is what the cookie jar reads and writes; http.client sends the request.
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
        request.add_header("User-Agent", "heroku-sim-browser/1.0")
        self.jar.add_cookie_header(request)
        parts = urlsplit(url)
        sent = {name.title(): value for name, value in request.header_items()}
        sent["Host"] = parts.netloc
        if forwarded_proto is not None:
            # What the router adds; without it the request looks like plain HTTP to the app.
            sent |= {"X-Forwarded-Proto": forwarded_proto, "X-Forwarded-For": self.client_ip}
            sent["X-Forwarded-Port"] = "443" if forwarded_proto == "https" else "80"
            sent["X-Request-Id"] = str(uuid.uuid4())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, path or "/", body=body, headers=sent)
            raw = connection.getresponse()
            response = Response(raw.status, raw.headers, raw.read(), url)
            self.jar.extract_cookies(raw, request)
        finally:
            connection.close()
        return response

    def get(self, url: str, *, follow: bool = True, **kwargs: object) -> Response:
        response = self.request("GET", url, **kwargs)  # type: ignore[arg-type]
        for _ in range(10):
            if not follow or response.status not in (301, 302, 303, 307, 308):
                return response
            response = self.request("GET", urljoin(response.url, response.header("Location")))
        raise AssertionError(f"too many redirects from {url}")

    def submit(
        self,
        page: Response,
        action: str,
        fields: dict[str, str],
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Response:
        """POST a form from `page` with its CSRF token, as a browser would (Origin, Referer)."""
        fields = {"csrfmiddlewaretoken": page.form_token(), **fields}
        if files:
            body, content_type = multipart(fields, files)
        else:
            body, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
        headers = {"Content-Type": content_type, "Origin": self.origin, "Referer": page.url}
        return self.request("POST", urljoin(page.url, action), body=body, headers=headers)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = f"----heroku-sim-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
