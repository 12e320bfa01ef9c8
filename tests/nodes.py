#!/usr/bin/env python3
"""Many nodes: two Gatehouse processes on one PostgreSQL database behind nginx (round-robin,
loopback only), checked from outside with real HTTP (SPEC §10).

Run by `make nodes` through tests/postgres.sh, which starts a throwaway PostgreSQL and names it
in GATEHOUSE_TEST_POSTGRES (and how to stop and start it in GATEHOUSE_TEST_PG_CTL). Needs the
debug build (`cargo leptos build`), Debian's nginx and the aiosmtpd of `make e2e-deps`.

Checks: both nodes answer through the proxy; a session ended on one node is refused by the
other on the next request; refresh rotation, the grace answer and reuse detection whichever node
answers; the login throttle counts across nodes; every queued mail is delivered once; a node
killed with SIGKILL while registrations go through the proxy loses no acknowledged account;
/ready answers 503 while the database is down and 200 again once it is back, without a restart;
`gatehouse backup` on PostgreSQL refuses clearly and writes no file.
"""

import concurrent.futures
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = os.path.join(TARGET, "debug", "gatehouse")
DATABASE_URL = os.environ["GATEHOUSE_TEST_POSTGRES"]
PG_CTL = shlex.split(os.environ["GATEHOUSE_TEST_PG_CTL"])
PASSWORD = "correct horse battery staple"
SECRET = "n" * 48


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(base, method, path, body=None, token=None, timeout=30):
    """One request; answers (status, headers, parsed JSON or text)."""
    headers = {"accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with OPENER.open(req, timeout=timeout) as res:
            status, hdrs, raw = res.status, res.headers, res.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, err.headers, err.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, hdrs, parsed


def expect(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
    print(f"ok  {what}")


def wait_for(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Node:
    def __init__(self, name, work, smtp_port, public_url):
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = os.path.join(work, name)
        os.makedirs(self.data, exist_ok=True)
        self.log = open(os.path.join(work, f"{name}.log"), "wb")
        self.env = dict(
            os.environ,
            DATABASE_URL=DATABASE_URL,
            JWT_SECRET=SECRET,
            DATA_DIR=self.data,
            PUBLIC_URL=public_url,
            TRUSTED_PROXIES="127.0.0.1",
            LEPTOS_SITE_ADDR=f"127.0.0.1:{self.port}",
            LEPTOS_SITE_ROOT=os.path.join(TARGET, "site")
            if os.path.isdir(os.path.join(TARGET, "site"))
            else os.path.join(ROOT, "target", "site"),
            LEPTOS_OUTPUT_NAME="gatehouse",
            SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            MAIL_FROM="gatehouse@example.com",
            REGISTRATION_LIMIT="1000",
            RUST_LOG="warn",
        )
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([BINARY], env=self.env, stdout=self.log, stderr=self.log)
        wait_for(f"{self.name} ready", lambda: call(self.base, "GET", "/ready")[0] == 200)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
user root;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    upstream gatehouse {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=5s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=5s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://gatehouse;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def main():
    work = tempfile.mkdtemp(prefix="gatehouse-nodes-")
    os.chmod(work, 0o755)
    procs = []
    nodes = []
    try:
        smtp_port = free_port()
        maildir = os.path.join(work, "mail")
        smtp = subprocess.Popen(
            [os.path.join(ROOT, "end2end", "smtp.sh"), str(smtp_port), maildir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(smtp)
        wait_for("the SMTP sink", lambda: socket.create_connection(("127.0.0.1", smtp_port)).close() or True)

        proxy_port = free_port()
        proxy = f"http://127.0.0.1:{proxy_port}"
        a = Node("a", work, smtp_port, proxy)
        b = Node("b", work, smtp_port, proxy)
        nodes = [a, b]
        # One after the other: the first runs the migrations, the second finds them done.
        a.start()
        b.start()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(work=work, a=a.port, b=b.port, port=proxy_port))
        nginx = subprocess.Popen(["nginx", "-c", conf, "-p", work], stderr=subprocess.DEVNULL)
        procs.append(nginx)
        wait_for("nginx", lambda: call(proxy, "GET", "/ready")[0] == 200)

        upstreams = {call(proxy, "GET", "/ready")[1]["X-Upstream"] for _ in range(4)}
        expect("the proxy sends requests to both nodes", len(upstreams), 2)

        # --- A session ended on one node is refused by the other at once.
        status, _, _ = call(proxy, "POST", "/api/v1/auth/register", {"email": "ada@example.com", "password": PASSWORD})
        expect("registration through the proxy", status, 201)
        status, _, pair = call(proxy, "POST", "/api/v1/auth/login", {"email": "ada@example.com", "password": PASSWORD})
        expect("login through the proxy", status, 200)
        token = pair["access_token"]
        expect("node a knows the session", call(a.base, "GET", "/api/v1/users/me", token=token)[0], 200)
        expect("node b knows the session", call(b.base, "GET", "/api/v1/users/me", token=token)[0], 200)
        expect("logout on node b", call(b.base, "POST", "/api/v1/auth/logout", token=token)[0], 204)
        expect("node a refuses the ended session", call(a.base, "GET", "/api/v1/users/me", token=token)[0], 401)

        # --- Refresh rotation, grace and reuse across nodes.
        login = lambda: call(proxy, "POST", "/api/v1/auth/login", {"email": "ada@example.com", "password": PASSWORD})[2]
        renew = lambda node, refresh: call(node.base, "POST", "/api/v1/auth/refresh", {"refresh_token": refresh})
        first = login()["refresh_token"]
        status, _, second = renew(a, first)
        expect("renewal on node a", status, 200)
        status, _, again = renew(b, first)
        expect("node b answers the just-spent token (grace)", status, 200)
        expect("with the session's current refresh token", again["refresh_token"], second["refresh_token"])
        status, _, third = renew(b, second["refresh_token"])
        expect("the next renewal on node b", status, 200)
        expect("an older token on node a is reuse", renew(a, first)[0], 401)
        expect("and reuse ended the session everywhere", renew(b, third["refresh_token"])[0], 401)
        shared = login()["refresh_token"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            x, y = pool.map(lambda node: renew(node, shared), [a, b])
        expect("parallel renewals on both nodes", (x[0], y[0]), (200, 200))
        expect("get one pair", x[2]["refresh_token"], y[2]["refresh_token"])

        # --- The login throttle counts across nodes.
        call(proxy, "POST", "/api/v1/auth/register", {"email": "bob@example.com", "password": PASSWORD})
        for i in range(5):
            node = nodes[i % 2]
            status = call(node.base, "POST", "/api/v1/auth/login", {"email": "bob@example.com", "password": "wrong password!"})[0]
            expect(f"wrong password {i + 1} on node {node.name}", status, 401)
        for node in nodes:
            status, headers, _ = call(node.base, "POST", "/api/v1/auth/login", {"email": "bob@example.com", "password": PASSWORD})
            expect(f"node {node.name} refuses a sixth guess", status, 429)
            expect("with Retry-After", headers.get("Retry-After") is not None, True)

        # --- Each queued mail is delivered once.
        for i in range(12):
            call(proxy, "POST", "/api/v1/auth/register", {"email": f"mail{i}@example.com", "password": PASSWORD})
            call(proxy, "POST", "/api/v1/auth/password/forgot", {"email": f"mail{i}@example.com"})
        outbox = lambda: psql("SELECT count(*), count(sent_at) FROM outbox").split("|")
        wait_for("every queued mail sent", lambda: outbox()[0] == outbox()[1], timeout=60)
        queued = int(outbox()[0])
        delivered = lambda: len(os.listdir(os.path.join(maildir, "new")))
        wait_for("the sink to store every message", lambda: delivered() >= queued, timeout=30)
        time.sleep(1)
        expect(f"{queued} queued mails delivered exactly once", delivered(), queued)

        # --- A node killed while registrations go through the proxy loses nothing acknowledged.
        acknowledged = []
        lock = threading.Lock()

        def register(i):
            email = f"load{i}@example.com"
            status = call(proxy, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})[0]
            if status == 201:
                with lock:
                    acknowledged.append(email)
            return status

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(register, i) for i in range(60)]
            time.sleep(0.5)
            a.kill()
            statuses = [f.result() for f in futures]
        print(f"    registrations while node a was killed: {sorted(statuses)}")
        if len(acknowledged) < 20:
            raise AssertionError(f"too few registrations went through: {statuses}")
        for email in acknowledged:
            status = call(b.base, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})[0]
            if status != 200:
                raise AssertionError(f"acknowledged account {email} cannot log in: {status}")
        expect(f"all {len(acknowledged)} acknowledged accounts survive the SIGKILL", True, True)
        a.start()

        # --- /ready while the database is down, and back without a restart.
        subprocess.run(PG_CTL + ["-m", "fast", "stop"], check=True, stdout=subprocess.DEVNULL)
        for node in nodes:
            started = time.monotonic()
            status, _, body = call(node.base, "GET", "/ready")
            took = time.monotonic() - started
            expect(f"node {node.name} is not ready without its database", status, 503)
            expect("and says why", body["database"], "unreachable")
            expect("within the probe's patience", took < 5, True)
            expect(f"node {node.name}'s /health agrees", call(node.base, "GET", "/health")[0], 503)
        status = call(proxy, "POST", "/api/v1/auth/login", {"email": "ada@example.com", "password": PASSWORD})[0]
        expect("a login meanwhile is answered 503 (try again), not a crash", status, 503)
        subprocess.run(PG_CTL + ["-w", "start"], check=True, stdout=subprocess.DEVNULL)
        for node in nodes:
            wait_for(f"node {node.name} ready again", lambda: call(node.base, "GET", "/ready")[0] == 200, timeout=30)
        expect("a login works again through the proxy", login() is not None and "access_token" in login(), True)

        # --- gatehouse backup on PostgreSQL.
        target = os.path.join(work, "backup.db")
        res = subprocess.run([BINARY, "backup", target], env=a.env, capture_output=True, text=True)
        expect("gatehouse backup on PostgreSQL exits non-zero", res.returncode != 0, True)
        expect("and names the database's own tool", "pg_dump" in res.stderr, True)
        expect("and writes no file", os.path.exists(target), False)
        print("many-nodes test passed")
    except BaseException:
        for node in nodes:
            node.log.flush()
            print(f"--- node {node.name} log (tail):", file=sys.stderr)
            with open(node.log.name, "rb") as f:
                sys.stderr.write(f.read()[-4000:].decode(errors="replace"))
        raise
    finally:
        for node in nodes:
            node.stop()
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["rm", "-rf", work])


def psql(sql):
    out = subprocess.run(
        ["psql", "-X", "-A", "-t", DATABASE_URL, "-c", sql], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


if __name__ == "__main__":
    main()
