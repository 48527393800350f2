"""Security review of the CLI and the dashboard server, as tests.

- Path traversal: county, court-layout, policy and delivery-layout references are names inside
  the configuration folders, or explicit .yaml paths; a name such as ``../../etc/passwd`` is
  refused without being read, and a symbolic link out of a configuration folder is refused.
- Shell injection: nothing in the project runs a shell; hostile file names (spaces, quotes, ``;``,
  ``$(...)``, backquotes) are read as names, never executed.
- ``autoclear serve`` listens on 127.0.0.1 by default and serves only regular files inside the
  dashboard folder: no parent references (plain or encoded), no symbolic links out, no hidden
  files, no folder listings, no writes.
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
AUTOCLEAR = Path(sys.executable).with_name("autoclear")
SECRET_LINE = "root:x:0:0"  # the start of /etc/passwd: must never be echoed


# ---- path traversal ---------------------------------------------------------------------------


def _loaders():
    from pipelines.config import load_county
    from pipelines.delivery.layouts import load_layout as load_delivery_layout
    from pipelines.eligibility import load_policy
    from pipelines.sources.court import load_layout as load_court_layout

    return {"county": load_county, "court layout": load_court_layout, "policy": load_policy,
            "delivery layout": load_delivery_layout}


HOSTILE_REFERENCES = ["../../etc/passwd", "../../../../../../etc/passwd", "/etc/passwd", "..", "../counties/los_angeles",
                      "los_angeles/../../../etc/passwd", "~root/.ssh/id_rsa", "%2e%2e/%2e%2e/etc/passwd"]


@pytest.mark.parametrize("kind", ["county", "court layout", "policy", "delivery layout"])
@pytest.mark.parametrize("reference", HOSTILE_REFERENCES)
def test_a_name_cannot_reach_outside_the_configuration(kind: str, reference: str, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # relative references resolve from here: nothing to find
    opened: list[str] = []
    real_open = Path.read_text

    def spy(self, *args, **kwargs):
        opened.append(str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", spy)
    with pytest.raises(ConfigError) as err:
        _loaders()[kind](reference)
    assert SECRET_LINE not in str(err.value)
    assert not [p for p in opened if "passwd" in p or "id_rsa" in p], f"{kind} {reference!r} was read: {opened}"


def test_a_symbolic_link_out_of_the_configuration_folder_is_refused(monkeypatch, tmp_path) -> None:
    from pipelines.sources.court import load_layout

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    outside = tmp_path / "outside.yaml"
    outside.write_text((ROOT / "config" / "layouts" / "generic_csv.yaml").read_text())
    (config / "layouts" / "sneaky.yaml").symlink_to(outside)
    monkeypatch.setenv("AUTOCLEAR_CONFIG_DIR", str(config))
    with pytest.raises(ConfigError, match="resolves outside"):
        load_layout("sneaky")


def test_a_sql_query_file_must_be_inside_the_sql_folder() -> None:
    from pydantic import ValidationError

    from pipelines.sources.court import SqlSpec

    for query in ("../config/counties/los_angeles.yaml", "/etc/passwd", "../../etc/passwd.sql"):
        with pytest.raises(ValidationError, match="inside|end in .sql"):
            SqlSpec(query=query)


def test_the_cli_refuses_traversal_with_a_clear_message(tmp_path) -> None:
    doj = tmp_path / "doj.dat"
    doj.write_text("")
    for args in (["run", "--county", "../../etc/passwd", "--doj", str(doj), "--court", str(doj),
                  "--compute-at", "2020-07-01", "--workdir", str(tmp_path / "w")],
                 ["check-layout", "--layout", "../../etc/passwd", str(doj)]):
        proc = subprocess.run([str(AUTOCLEAR), *args], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                              check=False)
        assert proc.returncode in (1, 2), proc.stderr
        assert "error" in proc.stderr.lower() and "Traceback" not in proc.stderr
        assert SECRET_LINE not in proc.stdout + proc.stderr


# ---- shell injection --------------------------------------------------------------------------


def _python_files() -> list[Path]:
    return [p for d in ("pipelines", "dags", "scripts", "bench") for p in (ROOT / d).rglob("*.py")]


def test_nothing_runs_a_shell() -> None:
    findings = []
    for path in _python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in ("os.system", "os.popen", "os.execl", "os.execlp", "os.spawnl", "commands.getoutput",
                        "subprocess.getoutput", "subprocess.getstatusoutput", "pty.spawn"):
                findings.append(f"{where} {name}")
            for kw in node.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    findings.append(f"{where} shell={ast.unparse(kw.value)}")
            if name.startswith("subprocess.") and node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr):
                findings.append(f"{where} {name} with a command string")
    assert findings == [], findings
    assert len(_python_files()) > 50


HOSTILE_NAMES = ["doj file with spaces.dat", "doj 'quoted' \"twice\".dat", "doj; touch PWNED_SEMI.dat",
                 "doj $(touch PWNED_SUBST).dat", "doj `touch PWNED_TICK`.dat", "doj && rm -rf ~ #.dat"]


def test_hostile_file_names_are_read_as_names(tmp_path) -> None:
    """Through the flow's planning and reading stages and the CLI: files named like shell code are
    read, named in the lineage as given, and nothing they spell is run."""
    from pipelines.flow import RunSpec, plan_run, run_stage
    from tests.fuzz.runs import generate

    base = tmp_path / "in"
    doj, court = generate(base / "gen", rows=300, seed=31)
    courts = []
    for i, (doj_name, court_name) in enumerate(zip(HOSTILE_NAMES[::2], HOSTILE_NAMES[1::2], strict=True)):
        hostile_doj, hostile_court = base / doj_name, base / court_name.replace(".dat", ".csv")
        shutil.copy(doj, hostile_doj)
        shutil.copy(court, hostile_court)
        courts.append(hostile_court)
        spec = RunSpec(county="los_angeles", doj=[str(hostile_doj)], court=[str(hostile_court)],
                       compute_at="2020-07-01", workdir=str(tmp_path / "work" / str(i)))
        run_dir = plan_run(spec)
        assert run_stage("read_doj", run_dir)["rows_accepted"] > 0
        assert run_stage("read_court", run_dir)["rows_accepted"] > 0
        spec_json = json.loads((run_dir / "spec.json").read_text())
        assert spec_json["doj"] == [str(hostile_doj)] and hostile_doj.name in spec_json["input_fingerprints"]
    proc = subprocess.run([str(AUTOCLEAR), "check-layout", "--layout", "generic_csv", "--json", *map(str, courts)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert [f["file"] for f in json.loads(proc.stdout)["files"]] == [c.name for c in courts]
    pwned = [p for d in (tmp_path, ROOT, Path.home()) for p in d.glob("PWNED*")]
    assert pwned == [], pwned


# ---- autoclear serve ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`autoclear serve` on a small dashboard folder, default host, a free port."""
    tmp_path = tmp_path_factory.mktemp("serve")
    dashboard = tmp_path / "work" / "dashboard"
    (dashboard / "los_angeles").mkdir(parents=True)
    (dashboard / "index.html").write_text("<h1>dashboard</h1>")
    (dashboard / "los_angeles" / "index.html").write_text("<h1>county</h1>")
    (dashboard / ".lock").write_text("")
    (dashboard / "los_angeles" / "escape.html").symlink_to("/etc/passwd")
    (dashboard / "outside").symlink_to(tmp_path)
    (tmp_path / "work" / "ledger.sqlite").write_text("not served")
    proc = subprocess.Popen([str(AUTOCLEAR), "serve", "--workdir", str(tmp_path / "work"), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        line = ""
        while "dashboard:" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        match = re.search(r"http://([\d.]+):(\d+)/", line)
        assert match, line
        yield match.group(1), int(match.group(2)), proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(host: str, port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)  # the path goes out exactly as written
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def _listening_addresses(port: int) -> list[str]:
    """Local addresses of the sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.append(address)
    return found


def test_serve_listens_on_localhost_only_by_default(served) -> None:
    host, port, _ = served
    assert host == "127.0.0.1"
    assert _listening_addresses(port) == ["0100007F"]  # 127.0.0.1, little-endian hex
    assert _get(host, port, "/")[0] == 200


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
    "/los_angeles/../../ledger.sqlite", "/los_angeles/escape.html", "/outside/work/ledger.sqlite", "/.lock",
    "/los_angeles/%00index.html", "/..\\..\\etc\\passwd", "/los_angeles/", "//etc/passwd",
])
def test_serve_serves_nothing_outside_its_folder(served, path: str) -> None:
    host, port, _ = served
    status, body = _get(host, port, path)
    if path == "/los_angeles/":
        assert status == 200 and b"county" in body  # a folder's own index page, never a listing
        return
    assert status == 404, (path, status)
    assert SECRET_LINE.encode() not in body and b"not served" not in body


def test_serve_is_read_only(served) -> None:
    host, port, _ = served
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert _get(host, port, "/index.html", method)[0] == 405
