"""docs/console.md's nginx example, as written there, in front of the console: Debian's nginx
with the example's server blocks (only its ports, certificate files, allowed network and the
console's port changed for a test), TLS with a certificate made for the test, the console
with ``--secure-cookies`` as its unit runs it. An officer signs in over HTTPS; plain HTTP is
sent to HTTPS."""

from __future__ import annotations

import http.client
import re
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_harness import PASSWORDS, add_accounts, serving
from postfix_harness import REPO_ROOT, free_port, port_open, require, stop_process, wait_until

from govmilter.console.settings import ConsoleSettings
from govmilter.store import IncidentStore, open_store

NGINX = "/usr/sbin/nginx"
SERVER_NAME = "giamsat.example.gov.vn"


def documented_server_blocks() -> str:
    """The ```nginx block of docs/console.md."""
    text = (REPO_ROOT / "docs" / "console.md").read_text(encoding="utf-8")
    [block] = re.findall(r"^```nginx\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    return str(block)


def for_the_test(block: str, directory: Path, tls_port: int, plain_port: int,
                 console_port: int) -> str:
    """The example with the test's ports and files, and loopback as the agency's network."""
    changes = [
        ("listen 443 ssl", f"listen 127.0.0.1:{tls_port} ssl"),
        ("listen 80;", f"listen 127.0.0.1:{plain_port};"),
        (f"/etc/ssl/certs/{SERVER_NAME}.pem", str(directory / "cert.pem")),
        (f"/etc/ssl/private/{SERVER_NAME}.key", str(directory / "key.pem")),
        ("allow 10.0.0.0/8;", "allow 127.0.0.0/8;"),
        ("proxy_pass         http://127.0.0.1:8025;",
         f"proxy_pass         http://127.0.0.1:{console_port};"),
    ]
    for old, new in changes:
        assert old in block, f"the example no longer has {old!r}: update this test with it"
        block = block.replace(old, new)
    return block


@pytest.fixture
def nginx_dir() -> Iterator[Path]:
    require(Path(NGINX).exists(), "nginx is missing: scripts/setup.sh installs it")
    path = Path(tempfile.mkdtemp(prefix="gm-nginx-"))
    path.chmod(0o755)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={SERVER_NAME}", "-addext", f"subjectAltName=DNS:{SERVER_NAME}",
                    "-keyout", str(path / "key.pem"), "-out", str(path / "cert.pem")],
                   check=True, capture_output=True, timeout=120)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def running_nginx(directory: Path, servers: str) -> subprocess.Popen[bytes]:
    """nginx in the foreground with a configuration of its own around ``servers``."""
    conf = directory / "nginx.conf"
    conf.write_text(f"""
        pid {directory}/nginx.pid;
        error_log {directory}/error.log;
        worker_processes 1;
        events {{ worker_connections 64; }}
        http {{
            access_log {directory}/access.log;
            client_body_temp_path {directory}/body;
            proxy_temp_path {directory}/proxy;
            fastcgi_temp_path {directory}/fastcgi;
            uwsgi_temp_path {directory}/uwsgi;
            scgi_temp_path {directory}/scgi;
            {servers}
        }}
    """)
    checked = subprocess.run([NGINX, "-t", "-p", str(directory), "-c", str(conf)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stderr
    return subprocess.Popen([NGINX, "-p", str(directory), "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Https:
    """One officer's HTTPS requests through nginx, trusting the test's certificate."""

    def __init__(self, port: int, cafile: Path) -> None:
        self.port = port
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.context.check_hostname = False  # issued to the server's name, reached by address
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None
                ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                           context=self.context)
        headers = {"Host": SERVER_NAME}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        found = {k.lower(): v for k, v in answer.getheaders()}
        set_cookie = ", ".join(v for k, v in answer.getheaders() if k.lower() == "set-cookie")
        if set_cookie:
            found["set-cookie"] = set_cookie
            self.cookie = set_cookie.split(";", 1)[0]
        text = answer.read().decode("utf-8")
        conn.close()
        return answer.status, found, text


def test_the_documented_nginx_serves_the_console_over_tls_only(nginx_dir: Path) -> None:
    tls_port, plain_port = free_port(), free_port()
    with open_store(str(nginx_dir / "incidents.sqlite3")) as store:
        add_accounts(store)
        with serving(store, settings=ConsoleSettings(secure_cookies=True)) as base:
            console_port = int(base.rsplit(":", 1)[1])
            servers = for_the_test(documented_server_blocks(), nginx_dir, tls_port, plain_port,
                                   console_port)
            nginx = running_nginx(nginx_dir, servers)
            try:
                wait_until(lambda: port_open(tls_port) and port_open(plain_port), 30,
                           "nginx's ports")
                sign_in_over_tls(store, Https(tls_port, nginx_dir / "cert.pem"))
                plain = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=30)
                plain.request("GET", "/incidents", headers={"Host": SERVER_NAME})
                moved = plain.getresponse()
                assert (moved.status, moved.getheader("Location")) == (
                    301, f"https://{SERVER_NAME}/incidents")
            finally:
                stop_process(nginx, 10)  # type: ignore[arg-type]


def sign_in_over_tls(store: IncidentStore, officer: Https) -> None:
    status, headers, _ = officer.request("GET", "/")
    assert status == 302 and "/login" in headers["location"]
    assert headers["strict-transport-security"] == "max-age=31536000"
    status, headers, page = officer.request("GET", "/login")
    assert status == 200 and "secure" in headers["set-cookie"].lower()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    form = f"username=officer&password={PASSWORDS['officer']}&csrf={token[1]}&next=/"
    status, headers, _ = officer.request("POST", "/login", form)
    assert status == 302, headers
    status, _, page = officer.request("GET", "/")
    assert status == 200 and "/logout" in page
    assert [e.action for e in store.audit_entries(limit=5)].count("login") == 1
