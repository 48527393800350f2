"""No network, and credentials only from the environment.

The whole-run proof (a full ``autoclear run`` with sockets refused and traced) is in
tests/test_confidentiality.py; here the guard it relies on is shown to catch what it must, and
database credentials are shown to come from the environment or Airflow connections only:
never from a file in the repository, never written into a run folder, never printed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.errors import AutoclearError, ConfigError

ROOT = Path(__file__).resolve().parents[1]
GUARD = ROOT / "tests" / "fuzz" / "guard"

_ATTEMPTS = """
import socket
for attempt in (lambda: socket.create_connection(("127.0.0.1", 9), timeout=1),
                lambda: socket.getaddrinfo("example.org", 443),
                lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"x", ("::1", 9))):
    try:
        attempt()
    except PermissionError as exc:
        print("refused:", exc)
    except OSError:
        pass  # code that swallows network errors: the attempt is recorded all the same
a, b = socket.socketpair()  # local AF_UNIX sockets stay allowed
a.sendall(b"ok")
print("local:", b.recv(2).decode())
"""


def test_the_guard_records_and_refuses_every_network_attempt(tmp_path) -> None:
    record = tmp_path / "network.txt"
    env = {"PYTHONPATH": f"{GUARD}:{ROOT}", "AUTOCLEAR_TEST_NET": str(record), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", _ATTEMPTS], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("refused:") == 3 and "local: ok" in proc.stdout
    lines = record.read_text().splitlines()
    assert [line.split()[1] for line in lines] == ["socket.connect", "socket.getaddrinfo", "socket.sendto"]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_strace_sees_connections_the_audit_hook_cannot(tmp_path) -> None:
    """Compiled code bypasses Python's audit hooks; the trace the whole-run test reads does not."""
    trace = tmp_path / "trace.txt"
    code = "import ctypes, socket\ns = socket.socket()\ntry:\n    s.connect(('127.0.0.1', 9))\nexcept OSError:\n    pass\n"
    subprocess.run([shutil.which("strace"), "-f", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg", "-o",
                    str(trace), sys.executable, "-c", code], capture_output=True, timeout=60, check=True)
    assert re.search(r"connect\(\d+, \{sa_family=AF_INET, sin_port=htons\(9\)", trace.read_text())


# ---- credentials --------------------------------------------------------------------------------

# scheme://user:password@host with a literal password (an ${ENV} reference is fine).
# Documentation placeholders, and references to the environment, are not passwords.
_PLACEHOLDER = re.compile(r"^(?:password|pass|secret|\*+|x+|<[^>]*>|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*)$", re.I)
_URL_WITH_PASSWORD = re.compile(r"[A-Za-z][\w+.\-]*://[^\s/:@'\"]*:([^\s/@'\"]+)@")
# Configuration the project ships: everything but Python code and Markdown (whose examples are prose).
_SCANNED = ("config", "dags", "docker", "sql", "scripts", "expectations", "pipelines")


def _passwords(text: str) -> list[str]:
    return [m.group(0) for m in _URL_WITH_PASSWORD.finditer(text) if not _PLACEHOLDER.match(m.group(1))]


def test_no_file_in_the_repository_holds_a_database_password() -> None:
    files = [p for d in _SCANNED for p in (ROOT / d).rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc", ".md") and "__pycache__" not in p.parts]
    files += [ROOT / "Makefile", ROOT / "pyproject.toml"]
    assert any(p.suffix == ".yaml" for p in files) and any(p.parent.name == "docker" for p in files)
    found = [f"{p.relative_to(ROOT)}: {hit}" for p in files for hit in _passwords(p.read_text(errors="ignore"))]
    assert found == [], found
    assert _passwords("url: postgresql+psycopg://autoclear:hunter2@db/ledger")  # the scan works
    assert not _passwords("postgresql+psycopg://airflow:${POSTGRES_PASSWORD}@postgres/airflow")


def test_county_configs_name_environment_variables_and_refuse_urls_with_passwords(tmp_path) -> None:
    from pipelines.config import list_counties, load_county

    for county in list_counties():
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", county.ledger_url_env)
    template = (ROOT / "config" / "counties" / "los_angeles.yaml").read_text()
    leaky = tmp_path / "los_angeles.yaml"
    leaky.write_text(template + "\nledger_url: postgresql+psycopg://autoclear:hunter2@db/ledger\n")
    with pytest.raises(ConfigError, match="password") as err:
        load_county(leaky)
    assert "hunter2" not in str(err.value)


def test_ledger_url_comes_from_the_environment_or_an_airflow_connection(monkeypatch, tmp_path) -> None:
    from pipelines.ledger.store import AIRFLOW_CONN_ENV, LEDGER_URL_ENV, resolve_ledger_url

    monkeypatch.delenv(LEDGER_URL_ENV, raising=False)
    monkeypatch.delenv(AIRFLOW_CONN_ENV, raising=False)
    assert resolve_ledger_url(workdir=tmp_path) == f"sqlite:///{tmp_path.resolve() / 'ledger.sqlite'}"
    monkeypatch.setenv(AIRFLOW_CONN_ENV, '{"conn_type": "postgres", "login": "u", "password": "p", "host": "db", '
                                         '"port": 5432, "schema": "ledger"}')
    assert resolve_ledger_url() == "postgresql+psycopg://u:p@db:5432/ledger"
    monkeypatch.setenv(LEDGER_URL_ENV, "postgresql+psycopg://v:q@db2/ledger")
    assert resolve_ledger_url() == "postgresql+psycopg://v:q@db2/ledger"


def test_a_ledger_password_is_never_written_to_the_run_folder_or_printed(monkeypatch, tmp_path) -> None:
    from pipelines.flow import RunSpec, plan_run
    from pipelines.ledger import Ledger

    doj = tmp_path / "doj.dat"
    doj.write_text("")
    secret_url = "postgresql+psycopg://autoclear:hunter2@127.0.0.1:1/ledger"
    spec = dict(county="los_angeles", doj=[str(doj)], court=[], compute_at="2020-07-01", workdir=str(tmp_path / "w"))
    with pytest.raises(ConfigError, match="AUTOCLEAR_LEDGER_URL") as err:
        plan_run(RunSpec(**spec, ledger_url=secret_url))  # a parameter: refused, not stored
    assert "hunter2" not in str(err.value)
    monkeypatch.setenv("AUTOCLEAR_LEDGER_URL", secret_url)
    run_dir = plan_run(RunSpec(**spec, ledger_url=secret_url))  # from the environment: used, not stored
    assert "hunter2" not in (run_dir / "spec.json").read_text()
    with pytest.raises(AutoclearError) as err:  # nothing listens on port 1: the message masks the password
        Ledger(secret_url)
    assert "hunter2" not in str(err.value) and "autoclear:***@" in str(err.value)
