"""Loaded by every child Python whose PYTHONPATH starts with this folder (tests only).

- ``AUTOCLEAR_TEST_LOG=<file>``: every log record of every logger, at DEBUG and above, is also
  written to the file, whatever levels, handlers or ``disabled`` flags the libraries set.
- ``AUTOCLEAR_TEST_NET=<file>``: every network attempt (a socket connect or send to anything but
  a local AF_UNIX socket, a name lookup) is written to the file and refused with an OSError.
  The record survives code that swallows the error.
"""

import ipaddress
import logging
import os
import socket
import sys

_LOG = os.environ.get("AUTOCLEAR_TEST_LOG")
_NET = os.environ.get("AUTOCLEAR_TEST_NET")

if _LOG:
    _capture = logging.FileHandler(_LOG, encoding="utf-8")
    _capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    _capture.setLevel(logging.DEBUG)
    logging.Logger.isEnabledFor = lambda self, level: level >= logging.DEBUG
    logging.Logger.getEffectiveLevel = lambda self: logging.DEBUG
    _original_handle = logging.Logger.handle

    def _handle(self, record):  # every record reaches the capture file first
        try:
            _capture.handle(record)
        finally:
            _original_handle(self, record)

    logging.Logger.handle = _handle

if _NET:
    _AF_UNIX = getattr(socket, "AF_UNIX", None)

    def _refuse(event, detail):
        with open(_NET, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {event} {detail!r}\n")
        raise PermissionError(f"network access blocked by the test: {event} {detail!r}")

    def _audit(event, args):
        if event in ("socket.connect", "socket.sendto"):
            sock, address = args[0], args[1]
            if getattr(sock, "family", None) != _AF_UNIX:
                _refuse(event, address)
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
            host = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            try:
                ipaddress.ip_address(host)  # a literal address needs no lookup: its connect is caught
            except ValueError:
                _refuse(event, args[0])

    sys.addaudithook(_audit)
