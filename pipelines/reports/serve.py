"""`autoclear serve`: the dashboard folder over HTTP on this machine (127.0.0.1 by default).

Only regular files inside the dashboard folder are served: a path that leaves it (``..``,
encoded or not, or a symbolic link pointing out) gets 404, folders are not listed, and nothing
is logged but the method, the status and the path.
"""

from __future__ import annotations

import os
import posixpath
import sys
import urllib.parse
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class DashboardHandler(SimpleHTTPRequestHandler):
    """Static files under `directory`, and nothing else."""

    server_version = "autoclear-dashboard"
    sys_version = ""

    def __init__(self, *args, directory: str, **kwargs) -> None:
        self.root = Path(directory).resolve()
        super().__init__(*args, directory=str(self.root), **kwargs)

    def resolve(self, url_path: str) -> Path | None:
        """The file a URL path names, or None when it is not a file inside the root."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path, errors="strict")
        if "\x00" in path or "\\" in path:
            return None
        parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
        if any(p in ("..", ".") or p.startswith(".") for p in parts):
            return None  # no parent references, no hidden files (the lock, temp files)
        target = self.root.joinpath(*parts)
        if target.is_dir():
            target = target / "index.html"
        try:
            real = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.root) or not real.is_file():
            return None
        return real

    def send_head(self):  # noqa: ANN201 - the base class's contract
        real = self.resolve(self.path)
        if real is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        try:
            handle = open(real, "rb")  # noqa: SIM115 - the base class closes it after copying
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        size = os.fstat(handle.fileno()).st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(str(real)))
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        return handle

    def list_directory(self, path):  # noqa: ANN001, ANN201
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")
        return None

    def do_POST(self) -> None:  # noqa: N802
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "Read only")

    do_PUT = do_DELETE = do_PATCH = do_POST  # noqa: N815

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The default log line carries the client address and request line; method, status and path do.
        code = getattr(code, "value", code)
        sys.stderr.write(f"{self.command} {code} {urllib.parse.urlsplit(self.path).path}\n")

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


def make_server(directory: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for the dashboard folder (not started: call serve_forever / shutdown)."""
    root = Path(directory)
    if not (root / "index.html").is_file():
        from pipelines.errors import AutoclearError  # noqa: PLC0415

        raise AutoclearError(f"{root}: no dashboard here yet (no index.html); run a county (autoclear run) "
                             "or `autoclear report --run-dir DIR` first")
    handler = partial(DashboardHandler, directory=str(root))
    return ThreadingHTTPServer((host, port), handler)
