"""autoclear: automatic cannabis-conviction relief pipeline."""

from importlib.metadata import PackageNotFoundError, version


def autoclear_version() -> str:
    """The installed distribution's version ("unknown" when run from a bare source tree)."""
    try:
        return version("autoclear")
    except PackageNotFoundError:
        return "unknown"
