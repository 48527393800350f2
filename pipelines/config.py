"""County configuration: one YAML file per county in ``config/counties/``, parsed into typed objects.

A county config says who the county is (its name as DOJ writes it), which court layouts its
extracts use, which eligibility policy applies, where deliveries go, where input files are
dropped, when the refresh runs, and which environment variable holds the ledger's database URL.
Credentials never live in these files: only the *names* of environment variables that hold them.

    load_county("los_angeles")             # config/counties/los_angeles.yaml
    load_county("LOS ANGELES")             # the DOJ spelling or the display name work too
    load_county("path/to/county.yaml")     # an explicit file
    list_counties()                        # every shipped county (files starting with "_" excluded)

Every mistake is a ``ConfigError`` naming the file, the key and the reason. The configuration
directory is ``<project>/config`` unless ``AUTOCLEAR_CONFIG_DIR`` names another one; query files
for SQL court sources live in ``<project>/sql`` unless ``AUTOCLEAR_SQL_DIR`` says otherwise.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
# libyaml's safe loader where PyYAML was built with it: the same documents, parsed ~10x faster
# (suite, policy and county files are read on every run).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The 58 California counties, as DOJ writes them in STP_ORI_CNTY_NAME.
CA_COUNTIES: tuple[str, ...] = (
    "ALAMEDA", "ALPINE", "AMADOR", "BUTTE", "CALAVERAS", "COLUSA", "CONTRA COSTA", "DEL NORTE",
    "EL DORADO", "FRESNO", "GLENN", "HUMBOLDT", "IMPERIAL", "INYO", "KERN", "KINGS", "LAKE",
    "LASSEN", "LOS ANGELES", "MADERA", "MARIN", "MARIPOSA", "MENDOCINO", "MERCED", "MODOC",
    "MONO", "MONTEREY", "NAPA", "NEVADA", "ORANGE", "PLACER", "PLUMAS", "RIVERSIDE",
    "SACRAMENTO", "SAN BENITO", "SAN BERNARDINO", "SAN DIEGO", "SAN FRANCISCO", "SAN JOAQUIN",
    "SAN LUIS OBISPO", "SAN MATEO", "SANTA BARBARA", "SANTA CLARA", "SANTA CRUZ", "SHASTA",
    "SIERRA", "SISKIYOU", "SOLANO", "SONOMA", "STANISLAUS", "SUTTER", "TEHAMA", "TRINITY",
    "TULARE", "TUOLUMNE", "VENTURA", "YOLO", "YUBA",
)
assert len(CA_COUNTIES) == 58

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# A URL with a password in it ("scheme://user:secret@host"): never allowed in a config file.
_CREDENTIAL_RE = re.compile(r"://[^/\s:@]*:[^/\s@]+@")
_SECRET_KEYS = {"password", "passwd", "secret", "token", "api_key", "private_key"}
_CRON_MACROS = {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@once"}
_CRON_FIELD_RE = re.compile(r"^[0-9A-Za-z*?/,\-#LW]+$")


def config_dir() -> Path:
    """The configuration directory (``AUTOCLEAR_CONFIG_DIR`` or ``<project>/config``)."""
    return Path(os.environ.get("AUTOCLEAR_CONFIG_DIR") or ROOT / "config")


def sql_dir() -> Path:
    """Where CMS extraction queries live (``AUTOCLEAR_SQL_DIR`` or ``<project>/sql``)."""
    return Path(os.environ.get("AUTOCLEAR_SQL_DIR") or ROOT / "sql")


def county_slug(name: str) -> str:
    """``"Los Angeles"`` / ``"LOS ANGELES"`` / ``"los-angeles"`` -> ``"los_angeles"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def doj_county_name(county: str) -> str:
    """The DOJ spelling (``"LOS ANGELES"``) of a county given as slug, display name or DOJ name.

    Names that are not one of the 58 counties are upper-cased with ``_`` read as a space, so
    synthetic or test counties still get a stable spelling.
    """
    spelled = county_slug(county).replace("_", " ").upper()
    return spelled


# ---------------------------------------------------------------------------------------------
# YAML loading with errors that name file, key and reason.


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; syntax errors become ConfigError with file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None


def validation_error(path: Path | str, exc: ValidationError) -> ConfigError:
    """Turn a pydantic ValidationError into one ConfigError listing every key and reason."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err.get("loc", ()))
        msg = err.get("msg", "invalid")
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key (misspelt, or not supported here)"
        lines.append(f"key '{key}': {msg}" if key else msg)
    return ConfigError(f"{path}: " + "; ".join(lines))


def resolve_config_file(kind: str, name_or_path: str | os.PathLike) -> Path:
    """Find ``config/<kind>/<name>.yaml`` for a bare name, or accept an explicit YAML path.

    A bare name must be a slug (lower-case letters, digits, underscores), so a name can never
    point outside the configuration directory; explicit paths must end in .yaml or .yml.
    """
    base = config_dir() / kind
    text = os.fspath(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or os.sep in text or text.endswith(
        (".yaml", ".yml")
    )
    if looks_like_path:
        path = Path(text)
        if path.suffix not in (".yaml", ".yml"):
            raise ConfigError(f"{path}: a {kind} file must be a .yaml or .yml file")
        if not path.is_file():
            raise ConfigError(f"{path}: no such {kind} file")
        return path
    if not SLUG_RE.match(text):
        raise ConfigError(
            f"{kind} name {text!r}: names are lower-case letters, digits and underscores "
            f"(the file name in {base} without .yaml), or give a path to a .yaml file"
        )
    path = base / f"{text}.yaml"
    # Even a slug could be a symlink pointing elsewhere: keep resolution inside the directory.
    if path.exists() and not path.resolve().is_relative_to(base.resolve()):
        raise ConfigError(f"{path}: resolves outside {base}")
    if not path.is_file():
        known = sorted(p.stem for p in base.glob("*.yaml") if not p.stem.startswith("_")) if base.is_dir() else []
        raise ConfigError(f"{kind} {text!r}: no file {path}" + (f" (known: {', '.join(known)})" if known else ""))
    return path


def _scan_for_credentials(value: Any, key: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{key}.{k}" if key else str(k)
            if str(k).lower() in _SECRET_KEYS:
                raise ValueError(f"key '{sub}' looks like a credential: keep secrets in environment variables")
            _scan_for_credentials(v, sub)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _scan_for_credentials(v, f"{key}.{i}")
    elif isinstance(value, str) and _CREDENTIAL_RE.search(value):
        raise ValueError(
            f"key '{key}' holds a URL with a password: put the URL in an environment variable "
            "and name the variable instead"
        )


# ---------------------------------------------------------------------------------------------
# The county config model.

Slug = Annotated[str, Field(pattern=SLUG_RE.pattern, description="lower-case name, digits, underscores")]
EnvName = Annotated[str, Field(pattern=ENV_NAME_RE.pattern, description="an environment variable name")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutboxTarget(_Strict):
    """Deliveries are written to a folder the court collects from (or a mounted share)."""

    kind: Literal["outbox"] = "outbox"
    path: str = "outbox"  # relative paths are relative to the run's workdir


class SftpTarget(_Strict):
    """Deliveries are uploaded by SFTP; the connection URL (with credentials) is in an env var."""

    kind: Literal["sftp"]
    connection_env: EnvName  # e.g. AUTOCLEAR_SFTP_LOS_ANGELES = sftp://user@host:22
    remote_dir: str = "."


class Delivery(_Strict):
    layout: Slug = "delimited"  # a court delivery layout, config/delivery/<layout>.yaml
    target: Annotated[OutboxTarget | SftpTarget, Field(discriminator="kind")] = OutboxTarget()


class DropFolders(_Strict):
    """Where new input files arrive (watched by the scheduled refresh)."""

    doj: str | None = None
    court: str | None = None


class CountyConfig(_Strict):
    """One county's configuration. The flow uses ``.name``, ``.policy`` and ``.doj_county_name``."""

    name: Slug
    display_name: str
    doj_county_name: str
    court_layouts: list[Slug] = Field(default_factory=list)
    policy: Slug
    policy_parameters: dict[str, Any] = Field(default_factory=dict)
    case_number_pattern: str | None = None
    delivery: Delivery = Delivery()
    drop_folders: DropFolders = DropFolders()
    schedule: str | None = None
    ledger_url_env: EnvName = "AUTOCLEAR_LEDGER_URL"
    source_path: str | None = Field(default=None, exclude=True)  # set by load_county

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        _scan_for_credentials(data)
        return data

    @field_validator("doj_county_name")
    @classmethod
    def _known_county(cls, value: str) -> str:
        if value not in CA_COUNTIES:
            close = [c for c in CA_COUNTIES if c.replace(" ", "") == value.upper().replace(" ", "")]
            hint = f" (did you mean {close[0]!r}?)" if close else " (one of the 58 counties, upper case, as DOJ writes it)"
            raise ValueError(f"{value!r} is not a California county name as DOJ writes it{hint}")
        return value

    @field_validator("case_number_pattern")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        import polars as pl  # noqa: PLC0415 (Polars' regex dialect is the one that will run it)

        try:
            pl.Series([""], dtype=pl.String).str.contains(value)
        except Exception as exc:  # noqa: BLE001 (any engine complaint is a config mistake)
            raise ValueError(f"not a regular expression Polars accepts: {exc}") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip()
        if text in _CRON_MACROS:
            return text
        fields = text.split()
        if len(fields) != 5 or not all(_CRON_FIELD_RE.match(f) for f in fields):
            raise ValueError(f"{value!r} is not a cron expression (5 fields, e.g. '0 2 * * 1', or @daily)")
        return text

    @property
    def slug(self) -> str:
        return self.name


def _county_from_file(path: Path) -> CountyConfig:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a county config is a mapping of keys to values")
    try:
        config = CountyConfig.model_validate({**data, "source_path": str(path)})
    except ValidationError as exc:
        raise validation_error(path, exc) from None
    if path.stem != config.name and not path.stem.startswith("_"):
        raise ConfigError(f"{path}: key 'name': {config.name!r} differs from the file name {path.stem!r}")
    # Policies and delivery layouts belong to other areas; check only that the files exist.
    policies = ROOT / "pipelines" / "eligibility" / "policies"
    if policies.is_dir() and not (policies / f"{config.policy}.yaml").is_file():
        known = ", ".join(sorted(p.stem for p in policies.glob("*.yaml")))
        raise ConfigError(f"{path}: key 'policy': no policy {config.policy!r} (known: {known})")
    deliveries = config_dir() / "delivery"
    if deliveries.is_dir() and not (deliveries / f"{config.delivery.layout}.yaml").is_file():
        known = ", ".join(sorted(p.stem for p in deliveries.glob("*.yaml")))
        raise ConfigError(f"{path}: key 'delivery.layout': no delivery layout {config.delivery.layout!r} (known: {known})")
    from pipelines.sources.court import load_layout  # noqa: PLC0415 (config must stay light to import)

    for i, layout in enumerate(config.court_layouts):
        try:
            load_layout(layout)
        except ConfigError as exc:
            raise ConfigError(f"{path}: key 'court_layouts.{i}': {exc}") from None
    return config


def load_county(name_or_path: str | os.PathLike) -> CountyConfig:
    """Load and validate a county config by name (slug, display or DOJ name) or by path."""
    text = os.fspath(name_or_path)
    if not ("/" in text or os.sep in text or text.endswith((".yaml", ".yml"))):
        text = county_slug(text)
    return _county_from_file(resolve_config_file("counties", text))


def list_counties() -> list[CountyConfig]:
    """Every county config in ``config/counties`` (templates starting with ``_`` excluded), by name."""
    base = config_dir() / "counties"
    files = sorted(p for p in base.glob("*.yaml") if not p.name.startswith("_")) if base.is_dir() else []
    return [_county_from_file(p) for p in files]
