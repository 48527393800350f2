"""Publishing to SFTP, against a real SFTP server (paramiko's server side) on 127.0.0.1, serving a
temporary folder. No network beyond the loopback interface."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import paramiko
import pytest

from pipelines.delivery import assemble_delivery, deliver
from pipelines.delivery.sample import sample_frames
from pipelines.errors import AutoclearError
from pipelines.ledger import Ledger

ROOT = Path(__file__).resolve().parents[1]
COUNTY = "LOS ANGELES"
USER, PASSWORD = "court", "made-up-password"


class _Auth(paramiko.ServerInterface):
    def check_auth_password(self, username, password):
        ok = (username, password) == (USER, PASSWORD)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "password"

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(paramiko.SFTPHandle):
    def stat(self):
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))


def _rooted(root: Path):
    class Rooted(paramiko.SFTPServerInterface):
        def _real(self, path):
            return str(root / os.path.normpath("/" + path).lstrip("/"))

        def list_folder(self, path):
            real = self._real(path)
            try:
                return [paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(real, n)), n) for n in os.listdir(real)]
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)

        def stat(self, path):
            try:
                return paramiko.SFTPAttributes.from_stat(os.stat(self._real(path)))
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)

        lstat = stat

        def open(self, path, flags, attr):
            real = self._real(path)
            try:
                fd = os.open(real, flags, 0o640)
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            mode = "rb" if not flags & (os.O_WRONLY | os.O_RDWR) else ("r+b" if flags & os.O_RDWR else "wb")
            f = os.fdopen(fd, mode)
            handle = _Handle(flags)
            handle.filename, handle.readfile, handle.writefile = real, f, f
            return handle

        def remove(self, path):
            try:
                os.remove(self._real(path))
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            return paramiko.SFTP_OK

        def rename(self, oldpath, newpath):
            try:
                os.rename(self._real(oldpath), self._real(newpath))
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            return paramiko.SFTP_OK

        def mkdir(self, path, attr):
            try:
                os.mkdir(self._real(path), 0o770)
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            return paramiko.SFTP_OK

        def rmdir(self, path):
            try:
                os.rmdir(self._real(path))
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            return paramiko.SFTP_OK

        def chattr(self, path, attr):
            try:
                if attr.st_mode is not None:
                    os.chmod(self._real(path), attr.st_mode & 0o7777)
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            return paramiko.SFTP_OK

    return Rooted


@pytest.fixture(scope="module")
def sftp_server(tmp_path_factory):
    """(port, host key line, served folder): an SFTP server on 127.0.0.1 for this module's tests."""
    root = tmp_path_factory.mktemp("sftp_root")
    host_key = paramiko.RSAKey.generate(2048)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.5)
    stop = threading.Event()
    transports: list[paramiko.Transport] = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            t = paramiko.Transport(conn)
            t.add_server_key(host_key)
            t.set_subsystem_handler("sftp", paramiko.SFTPServer, _rooted(root))
            try:
                t.start_server(server=_Auth())
            except (paramiko.SSHException, EOFError, OSError):
                continue
            transports.append(t)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], f"{host_key.get_name()} {host_key.get_base64()}", root
    stop.set()
    thread.join(timeout=5)
    for t in transports:
        t.close()
    listener.close()


def _connection(port: int, host_key: str) -> str:
    return f"sftp://{USER}:{quote(PASSWORD)}@127.0.0.1:{port}/?host_key={quote(host_key, safe='')}"


def _build(run_id="r1"):
    f = sample_frames(80)
    return assemble_delivery(f["determinations"], f["counts"], f["persons"], f["reconciled"], county=COUNTY,
                             run_id=run_id), f


def _complete(folder: Path) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(f["name"] for f in manifest["files"]),
                                                               "manifest.json"])
    return manifest


def test_publish_over_sftp_exactly_once(sftp_server, tmp_path, monkeypatch):
    port, host_key, root = sftp_server
    monkeypatch.setenv("AIRFLOW_CONN_COURT_SFTP", _connection(port, host_key))
    remote = f"la_{tmp_path.name}"
    build, f = _build()
    with Ledger(workdir=tmp_path) as ledger:
        result = deliver(build, county=COUNTY, ledger=ledger, run_id="r1", workdir=tmp_path,
                         target=f"sftp://court_sftp/{remote}", determinations=f["determinations"])
        assert result.status == "published"
        assert result.delivery.location == f"sftp://court_sftp/{remote}/los_angeles_00001"
        manifest = _complete(root / remote / "los_angeles_00001")
        assert manifest["rows"]["new"] == build.rows.height
        assert not any((root / remote / ".staging").iterdir())
        again = deliver(build, county=COUNTY, ledger=ledger, run_id="r1", workdir=tmp_path,
                        target=f"sftp://court_sftp/{remote}")
        assert again.status == "nothing_new"
        assert ledger.history(COUNTY)[0]["location"] == result.delivery.location
    assert PASSWORD not in json.dumps(result.summary())


def test_sftp_refuses_an_unknown_server_or_missing_connection(sftp_server, tmp_path, monkeypatch):
    port, _host_key, _root = sftp_server
    other = paramiko.RSAKey.generate(1024)
    monkeypatch.setenv("AIRFLOW_CONN_COURT_SFTP", _connection(port, f"{other.get_name()} {other.get_base64()}"))
    build, _ = _build()
    with Ledger(workdir=tmp_path) as ledger:
        with pytest.raises(AutoclearError, match="host key does not match"):
            deliver(build, county=COUNTY, ledger=ledger, run_id="r1", workdir=tmp_path, target="sftp://court_sftp/x")
        monkeypatch.delenv("AIRFLOW_CONN_COURT_SFTP")
        with pytest.raises(AutoclearError, match="not configured: set AIRFLOW_CONN_COURT_SFTP"):
            deliver(build, county=COUNTY, ledger=ledger, run_id="r1", workdir=tmp_path, target="sftp://court_sftp/x")
        # nothing reached the server: both attempts were rolled back at once, not left pending
        assert [h["status"] for h in ledger.history(COUNTY)] == ["rolled_back", "rolled_back"]
        assert ledger.pending(COUNTY) == []


def test_sigkill_mid_upload_leaves_nothing_visible_and_the_next_run_completes(sftp_server, tmp_path):
    port, host_key, root = sftp_server
    remote = f"la_{tmp_path.name}"
    env = {**os.environ, "AIRFLOW_CONN_COURT_SFTP": _connection(port, host_key), "AUTOCLEAR_CRASH_AT": "mid_upload"}
    env.pop("AUTOCLEAR_LEDGER_URL", None)
    killed = subprocess.run(
        [sys.executable, "-m", "pipelines.delivery.drill", "--workdir", str(tmp_path), "--counts", "80",
         "--target", f"sftp://court_sftp/{remote}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert killed.returncode == -9
    assert [p.name for p in (root / remote).iterdir()] == [".staging"]  # a partial upload, staged only
    assert any((root / remote / ".staging").iterdir())

    env.pop("AUTOCLEAR_CRASH_AT")
    rerun = subprocess.run(
        [sys.executable, "-m", "pipelines.delivery.drill", "--workdir", str(tmp_path), "--counts", "80",
         "--target", f"sftp://court_sftp/{remote}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert result["recovered"] == [{"delivery": "los_angeles_00001", "outcome": "rolled_back"}]
    assert result["delivery"] == "los_angeles_00002"
    assert sorted(p.name for p in (root / remote).iterdir()) == [".staging", "los_angeles_00002"]
    assert not any((root / remote / ".staging").iterdir())
    _complete(root / remote / "los_angeles_00002")
