"""Publishing a delivery folder to its target, atomically: the court sees all of it or none of it.

Outbox (default): the folder is staged in ``<outbox>/.staging/<name>`` (same filesystem), every
file and the folder fsync'd, the manifest written last, then the folder is renamed to
``<outbox>/<name>`` and the outbox fsync'd. A rename within one filesystem is atomic, so a crash
leaves either no folder or a complete one; staging leftovers are removed by the next run.

SFTP (``sftp://<connection>/<remote dir>``): the files are uploaded into
``<remote dir>/.staging/<name>/`` (manifest last), then that folder is renamed into place.
Connection details come from the environment only: ``AIRFLOW_CONN_<CONNECTION>`` (an Airflow
connection URI, e.g. ``sftp://user@host:22/?key_file=/path/key``) or ``AUTOCLEAR_SFTP_<CONNECTION>``
with the same form.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from pipelines.delivery.faults import crash_point
from pipelines.delivery.files import MANIFEST, fsync_dir, write_bytes
from pipelines.errors import AutoclearError, ConfigError

STAGING = ".staging"
DIR_MODE = 0o770


@dataclass(frozen=True)
class PublishedDelivery:
    """A delivery folder complete at its target."""

    name: str
    location: str  # outbox path, or sftp://<connection>/<remote path>
    files: tuple[str, ...]
    manifest_sha256: str


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()


class Target(Protocol):
    description: str

    def staging_dir(self, name: str) -> Path: ...
    def publish(self, staging_dir: Path) -> PublishedDelivery: ...
    def published_manifest_sha(self, name: str) -> str | None: ...
    def discard(self, name: str) -> None: ...
    def clean_staging(self, prefix: str, keep: set[str]) -> list[str]: ...


class OutboxTarget:
    """A local (or mounted) folder the court picks deliveries up from."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).resolve()
        self.description = str(self.path)

    def _ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        (self.path / STAGING).mkdir(exist_ok=True, mode=DIR_MODE)

    def staging_dir(self, name: str) -> Path:
        """A fresh, empty staging folder for `name` on the outbox's filesystem."""
        _check_name(name)
        self._ensure()
        staging = self.path / STAGING / name
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(mode=DIR_MODE)
        return staging

    def publish(self, staging_dir: Path) -> PublishedDelivery:
        staging_dir = Path(staging_dir)
        name = staging_dir.name
        _check_name(name)
        manifest = staging_dir / MANIFEST
        if not manifest.is_file():
            raise AutoclearError(f"{staging_dir}: no {MANIFEST}; a delivery is published with its manifest")
        self._ensure()
        if staging_dir.parent.resolve() != (self.path / STAGING).resolve():
            # Staged elsewhere: copy into this outbox's staging first, so the final step is a rename.
            local = self.staging_dir(name)
            for f in sorted(staging_dir.iterdir()):
                if f.name != MANIFEST:
                    write_bytes(local / f.name, f.read_bytes())
            write_bytes(local / MANIFEST, manifest.read_bytes())
            fsync_dir(local)
            staging_dir = local
        final = self.path / name
        if final.exists():
            raise AutoclearError(f"{final} already exists: a delivery folder is never overwritten")
        fsync_dir(staging_dir)
        os.rename(staging_dir, final)
        fsync_dir(self.path)
        fsync_dir(self.path / STAGING)
        files = tuple(sorted(p.name for p in final.iterdir()))
        return PublishedDelivery(name, str(final), files, sha256_file(final / MANIFEST))

    def published_manifest_sha(self, name: str) -> str | None:
        manifest = self.path / name / MANIFEST
        return sha256_file(manifest) if manifest.is_file() else None

    def discard(self, name: str) -> None:
        _check_name(name)
        shutil.rmtree(self.path / STAGING / name, ignore_errors=True)

    def clean_staging(self, prefix: str, keep: set[str]) -> list[str]:
        """Remove staging folders a killed run left for this county (names starting with prefix)."""
        root = self.path / STAGING
        if not root.is_dir():
            return []
        removed = []
        for entry in sorted(root.iterdir()):
            if entry.name.startswith(prefix) and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
        return removed


class SftpTarget:
    """A folder on the court's SFTP server (paramiko). Files are staged locally first."""

    def __init__(self, connection: str, remote_dir: str, *, local_staging: str | os.PathLike) -> None:
        if not connection:
            raise ConfigError("an sftp target needs a connection name: sftp://<connection>/<remote dir>")
        self.connection = connection
        self.remote_dir = PurePosixPath(remote_dir or ".")
        self.local = OutboxTarget(local_staging)
        # Re-creatable from the ledger (recovery) and free of secrets: the connection is a name.
        self.description = f"sftp://{connection}/{str(self.remote_dir).lstrip('/')}"

    def _connection_uri(self) -> str:
        name = self.connection
        candidates = [name] if name.isupper() else []
        candidates += [f"AIRFLOW_CONN_{name.upper()}", f"AUTOCLEAR_SFTP_{name.upper()}"]
        for var in candidates:
            if os.environ.get(var):
                return os.environ[var]
        raise ConfigError(
            f"sftp connection {name!r} is not configured: set {' or '.join(candidates)} in the environment "
            "(e.g. sftp://user@host:22/?key_file=/path/to/key&host_key=ssh-ed25519%20AAAA...)"
        )

    def _connect(self):  # noqa: ANN202 - paramiko types are imported lazily
        import paramiko  # noqa: PLC0415

        uri = self._connection_uri()
        if uri.lstrip().startswith("{"):
            data = json.loads(uri)
            extra = data.get("extra") or {}
            extra = json.loads(extra) if isinstance(extra, str) else extra
            host, port, user, password = data.get("host"), data.get("port") or 22, data.get("login"), data.get(
                "password")
        else:
            parts = urlsplit(uri)
            extra = {k: v[0] for k, v in parse_qs(parts.query).items()}
            host, port = parts.hostname, parts.port or 22
            user = unquote(parts.username) if parts.username else None
            password = unquote(parts.password) if parts.password else None
        transport = paramiko.Transport((host, int(port)))
        try:
            transport.start_client(timeout=30)
            # Check the server before sending any credential to it.
            known = extra.get("host_key")
            remote = transport.get_remote_server_key()
            if known:
                # host_key: "<type> <base64>" as in known_hosts (URL-encoded in a URI); refuse any other server
                if f"{remote.get_name()} {remote.get_base64()}" != known.strip():
                    raise AutoclearError(f"sftp connection {self.connection!r}: the server's host key does not match "
                                         "the connection's host_key; not sending credentials")
            elif str(extra.get("no_host_key_check", "")).lower() != "true":
                raise ConfigError(
                    f"sftp connection {self.connection!r}: set host_key (the server's public key, as in "
                    "known_hosts) in the connection's extra, or no_host_key_check=true for a test server"
                )
            key_file = extra.get("key_file")
            if key_file:
                transport.auth_publickey(user, paramiko.PKey.from_path(key_file))
            else:
                transport.auth_password(user, password or "")
            return transport, paramiko.SFTPClient.from_transport(transport)
        except paramiko.SSHException as e:
            transport.close()
            raise AutoclearError(f"sftp connection {self.connection!r}: {e}") from None
        except Exception:
            transport.close()
            raise

    def staging_dir(self, name: str) -> Path:
        return self.local.staging_dir(name)

    def _mkdirs(self, sftp: Any, path: PurePosixPath) -> None:
        current = PurePosixPath("/") if path.is_absolute() else PurePosixPath(".")
        for part in path.parts[1:] if path.is_absolute() else path.parts:
            current = current / part
            try:
                sftp.stat(str(current))
            except FileNotFoundError:
                sftp.mkdir(str(current), mode=DIR_MODE)

    def publish(self, staging_dir: Path) -> PublishedDelivery:
        staging_dir = Path(staging_dir)
        name = staging_dir.name
        _check_name(name)
        try:
            transport, sftp = self._connect()
        except AutoclearError as e:
            e.nothing_published = True  # deliver() may roll back at once: nothing reached the server
            raise
        try:
            remote_staging = self.remote_dir / STAGING / name
            final = self.remote_dir / name
            self._mkdirs(sftp, remote_staging.parent)
            _sftp_rmtree(sftp, str(remote_staging))
            sftp.mkdir(str(remote_staging), mode=DIR_MODE)
            files = sorted(p for p in staging_dir.iterdir() if p.name != MANIFEST)
            for i, f in enumerate([*files, staging_dir / MANIFEST]):  # manifest last
                sftp.put(str(f), str(remote_staging / f.name), confirm=True)
                sftp.chmod(str(remote_staging / f.name), 0o640)
                if i == 0:
                    crash_point("mid_upload")
            try:
                sftp.stat(str(final))
                raise AutoclearError(f"{self.description}/{name} already exists: never overwritten")
            except FileNotFoundError:
                pass
            sftp.rename(str(remote_staging), str(final))
            manifest_sha = sha256_file(staging_dir / MANIFEST)
        finally:
            sftp.close()
            transport.close()
        shutil.rmtree(staging_dir, ignore_errors=True)
        return PublishedDelivery(name, f"{self.description}/{name}",
                                 tuple(sorted([*(f.name for f in files), MANIFEST])), manifest_sha)

    def published_manifest_sha(self, name: str) -> str | None:
        transport, sftp = self._connect()
        try:
            with sftp.open(str(self.remote_dir / name / MANIFEST), "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()
        except FileNotFoundError:
            return None
        finally:
            sftp.close()
            transport.close()

    def discard(self, name: str) -> None:
        self.local.discard(name)
        transport, sftp = self._connect()
        try:
            _sftp_rmtree(sftp, str(self.remote_dir / STAGING / name))
        finally:
            sftp.close()
            transport.close()

    def clean_staging(self, prefix: str, keep: set[str]) -> list[str]:
        """Local staging leftovers only: an upload starts after the ledger records the delivery as
        pending, so a remote leftover always belongs to a pending delivery and `discard` removes
        it. A run with nothing to deliver therefore never needs the server."""
        return self.local.clean_staging(prefix, keep)


def _sftp_rmtree(sftp: Any, path: str) -> None:
    try:
        entries = sftp.listdir_attr(path)
    except FileNotFoundError:
        return
    for entry in entries:
        child = f"{path}/{entry.filename}"
        if stat.S_ISDIR(entry.st_mode or 0):
            _sftp_rmtree(sftp, child)
        else:
            sftp.remove(child)
    sftp.rmdir(path)


def _check_name(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or name in ("..",):
        raise AutoclearError(f"invalid delivery folder name {name!r}")


def make_target(target: Any = None, *, workdir: str | os.PathLike | None = None) -> Target:
    """The delivery target: a folder path (default ``<workdir>/outbox``; relative paths are under the
    workdir), ``sftp://<connection>/<remote dir>``, a county config's ``delivery.target`` object
    (kind outbox / sftp), or a Target as is."""
    base = Path(workdir or "work")
    kind = getattr(target, "kind", None)
    if kind == "outbox":
        target = str(target.path)
    elif kind == "sftp":
        target = f"sftp://{target.connection_env}/{str(target.remote_dir).lstrip('/')}"
    elif target is not None and not isinstance(target, str | os.PathLike):
        return target
    if target is None or str(target) == "":
        return OutboxTarget(base / "outbox")
    text = str(target)
    if text.startswith("sftp://"):
        parts = urlsplit(text)
        if "@" in parts.netloc or ":" in parts.netloc:
            raise ConfigError("an sftp target names a connection, never a user, password or port: "
                              "sftp://<connection>/<remote dir>")
        remote = unquote(parts.path).lstrip("/") or "."
        return SftpTarget(parts.netloc, remote, local_staging=base / "sftp_staging" / parts.netloc.lower())
    if "://" in text:
        raise ConfigError(f"unknown delivery target {text!r}: use a folder path or sftp://<connection>/<dir>")
    path = Path(text)
    return OutboxTarget(path if path.is_absolute() else base / path)


def publish(staging_dir: str | os.PathLike, target: str | os.PathLike | Target) -> PublishedDelivery:
    """Publish a staged delivery folder (it must hold its manifest) to `target`, atomically."""
    return make_target(target).publish(Path(staging_dir))
