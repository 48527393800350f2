"""Errors the pipeline raises on purpose. Messages name file, line and reason, never personal data."""


class AutoclearError(Exception):
    """Base class for errors a user can act on."""


class InputError(AutoclearError):
    """An input file cannot be read (strict mode), or cannot be read at all."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 kind: str = "PARSING"):
        self.file, self.line, self.kind = file, line, kind
        where = f"{file}" + (f", line {line}" if line is not None else "") if file else ""
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(AutoclearError):
    """A policy, layout or county config is wrong. Names file, line or key, and reason."""


class ValidationFailed(AutoclearError):
    """A critical expectation failed: delivery is blocked."""


class ConservationError(AutoclearError):
    """rows read != rows accepted + rows quarantined."""
