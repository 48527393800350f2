"""County configs: the shipped ones load; every mistake names file, key and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.config import CA_COUNTIES, ROOT, CountyConfig, doj_county_name, list_counties, load_county
from pipelines.errors import ConfigError

SHIPPED = {"los_angeles", "san_francisco", "san_diego", "riverside", "san_bernardino", "sacramento", "san_joaquin",
           "contra_costa"}


def test_the_58_counties() -> None:
    assert len(CA_COUNTIES) == len(set(CA_COUNTIES)) == 58
    assert {"LOS ANGELES", "SAN LUIS OBISPO", "DEL NORTE", "EL DORADO"} <= set(CA_COUNTIES)
    assert all(c == c.upper() for c in CA_COUNTIES)


def test_shipped_counties_load_and_template_is_excluded() -> None:
    configs = list_counties()
    assert {c.name for c in configs} == SHIPPED
    for c in configs:
        assert isinstance(c, CountyConfig)
        assert c.doj_county_name in CA_COUNTIES
        assert c.court_layouts and c.policy and c.ledger_url_env
    la = load_county("los_angeles")
    assert (la.name, la.policy, la.doj_county_name) == ("los_angeles", "los_angeles", "LOS ANGELES")
    # The template itself is valid, just not listed.
    assert load_county(ROOT / "config" / "counties" / "_template.yaml").name == "example_county"


@pytest.mark.parametrize("spelling", ["los_angeles", "Los Angeles", "LOS ANGELES", "los-angeles"])
def test_load_by_any_spelling(spelling: str) -> None:
    assert load_county(spelling).name == "los_angeles"


def test_doj_county_name() -> None:
    assert doj_county_name("san_luis_obispo") == "SAN LUIS OBISPO"
    assert doj_county_name("Contra Costa") == "CONTRA COSTA"


def test_case_number_patterns_accept_the_documented_examples() -> None:
    import re

    la = load_county("los_angeles").case_number_pattern
    for n in ("BA336486", "GA039399-01", "KA057009", "93WF1745"):
        assert re.match(la, n), n
    assert re.match(load_county("sacramento").case_number_pattern, "13F07014")
    assert re.match(load_county("san_francisco").case_number_pattern, "305563")


@pytest.fixture()
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the config directory that a test may break."""
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    monkeypatch.setenv("AUTOCLEAR_CONFIG_DIR", str(target))
    return target


def _write(config_dir: Path, name: str, text: str) -> Path:
    path = config_dir / "counties" / f"{name}.yaml"
    path.write_text(text)
    return path


GOOD = """
name: {name}
display_name: Test County
doj_county_name: ALAMEDA
court_layouts: [generic_csv]
policy: configurable
"""


def test_minimal_config_gets_defaults(config_dir: Path) -> None:
    _write(config_dir, "alameda", GOOD.format(name="alameda"))
    c = load_county("alameda")
    assert c.delivery.layout == "delimited" and c.delivery.target.kind == "outbox"
    assert c.ledger_url_env == "AUTOCLEAR_LEDGER_URL" and c.schedule is None
    assert "alameda" in {x.name for x in list_counties()}


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ("doj_county_name: LOS ANGLES\n", "doj_county_name", "not a California county"),
        ("doj_county_name: Los Angeles\n", "doj_county_name", "did you mean 'LOS ANGELES'"),
        ("case_number_pattern: '([A-Z'\n", "case_number_pattern", "regular expression"),
        ("schedule: every monday\n", "schedule", "cron"),
        ("polcy: configurable\n", "polcy", "unknown key"),
        ("delivery: {target: {kind: ftp, path: x}}\n", "delivery.target", "ftp"),
        ("delivery: {target: {kind: sftp}}\n", "delivery.target.sftp.connection_env", "Field required"),
        ("ledger_url_env: postgresql://u:secret@db/ledger\n", "ledger_url_env", "password"),
        ("ledger_url_env: ledger url\n", "ledger_url_env", "should match pattern"),
        ("policy_parameters: {url: 'postgresql://u:secret@db/x'}\n", "policy_parameters.url", "password"),
        ("policy_parameters: {password: hunter2}\n", "policy_parameters.password", "credential"),
        ("court_layouts: [no_such_layout]\n", "court_layouts.0", "no_such_layout"),
        ("court_layouts: ['../etc/passwd']\n", "court_layouts.0", "should match pattern"),
        ("policy: no_such_policy\n", "policy", "no policy"),
        ("delivery: {layout: nope}\n", "delivery.layout", "no delivery layout"),
    ],
)
def test_mistakes_name_file_key_and_reason(config_dir: Path, extra: str, key: str, reason: str) -> None:
    lines = [line for line in GOOD.format(name="alameda").splitlines() if not line.startswith(extra.split(":")[0] + ":")]
    path = _write(config_dir, "alameda", "\n".join(lines) + "\n" + extra)
    with pytest.raises(ConfigError) as info:
        load_county("alameda")
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert reason in message


def test_name_must_match_file_and_yaml_errors_give_a_line(config_dir: Path) -> None:
    path = _write(config_dir, "alameda", GOOD.format(name="fresno"))
    with pytest.raises(ConfigError, match="differs from the file name"):
        load_county("alameda")
    path.write_text("name: alameda\n  bad: [indent\n")
    with pytest.raises(ConfigError, match=r"alameda.yaml, line \d+: invalid YAML"):
        load_county("alameda")


def test_names_cannot_escape_the_config_directory(config_dir: Path) -> None:
    for name in ("../layouts/generic_csv", "..", "nope"):
        with pytest.raises(ConfigError):
            load_county(name)
    # A symlink inside the directory that points outside it is refused too.
    outside = config_dir.parent / "outside.yaml"
    outside.write_text(GOOD.format(name="sneaky"))
    (config_dir / "counties" / "sneaky.yaml").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside"):
        load_county("sneaky")
