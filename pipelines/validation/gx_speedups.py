"""One Great Expectations inefficiency, removed without changing any result.

GX 1.24 rebuilds an expectation's configuration from its pydantic model (``self.dict()``, a
class-name regex, a new ``ExpectationConfiguration``) on every access of
``Expectation.configuration``, and its kwargs helpers access it once per key: about 95 times per
expectation per validation. At 1M rows that bookkeeping was a fifth of the GX thread's CPU.

``install()`` replaces those three helpers by copies that build the configuration once per call.
The configuration is a pure function of the expectation's fields, which nothing changes while a
helper runs, so every value they return is the same (tests/test_validation_fast_paths.py checks
the returned kwargs and whole validation results against GX's own helpers). Only the version this
was written against (the one ``uv.lock`` pins) is patched; any other version runs GX unchanged.
"""

from __future__ import annotations

from typing import Any

PATCHED_VERSION = "1.24.1"
_installed = False
_originals: dict[str, Any] = {}


def _pick(self, kwargs: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Each key's configured value, else the field default (GX's own rule)."""
    return {key: kwargs.get(key, self._get_default_value(key)) for key in keys}


def _get_domain_kwargs(self) -> dict[str, Any]:
    return _pick(self, self.configuration.kwargs, self.domain_keys)


def _success_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**_pick(self, kwargs, self.success_keys), **_pick(self, kwargs, self.domain_keys)}


def _get_success_kwargs(self) -> dict[str, Any]:
    return _success_kwargs(self, self.configuration.kwargs)


def _get_runtime_kwargs(self, runtime_configuration: dict | None = None) -> dict:
    from great_expectations.expectations.expectation import parse_result_format  # noqa: PLC0415

    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs
    success_kwargs = _success_kwargs(self, kwargs)

    def success_kwarg(key: str) -> Any:  # Expectation._get_success_kwarg on the one configuration
        if key in kwargs:
            return kwargs[key]
        field = self.__fields__.get(key)
        if field is not None:
            return field.default if not field.required else None
        return self._get_success_kwarg(key)  # GX's own path (it logs the unknown key)

    runtime_kwargs = {key: runtime_configuration.get(key, success_kwarg(key)) for key in self.runtime_keys}
    runtime_kwargs.update(success_kwargs)
    runtime_kwargs["result_format"] = parse_result_format(runtime_kwargs["result_format"])
    return runtime_kwargs


_REPLACEMENTS = {
    "_get_domain_kwargs": _get_domain_kwargs,
    "_get_success_kwargs": _get_success_kwargs,
    "_get_runtime_kwargs": _get_runtime_kwargs,
}


def install() -> bool:
    """Patch GX's Expectation helpers (once); False when GX is not the version this was written for."""
    global _installed
    if _installed:
        return True
    import great_expectations  # noqa: PLC0415
    from great_expectations.expectations.expectation import Expectation  # noqa: PLC0415

    if great_expectations.__version__ != PATCHED_VERSION:
        return False
    for name, function in _REPLACEMENTS.items():
        _originals[name] = Expectation.__dict__[name]
        setattr(Expectation, name, function)
    _installed = True
    return True


def uninstall() -> None:
    """Put GX's own helpers back (tests compare both)."""
    global _installed
    if not _installed:
        return
    from great_expectations.expectations.expectation import Expectation  # noqa: PLC0415

    for name, function in _originals.items():
        setattr(Expectation, name, function)
    _originals.clear()
    _installed = False
