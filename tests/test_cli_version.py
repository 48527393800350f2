"""`autoclear --version`: what a county reports when it asks for help."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_installed_distribution_and_runs_nothing():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    done = CliRunner().invoke(app, ["--version"])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"autoclear {declared}"


def test_version_is_listed_in_help_and_commands_still_run():
    runner = CliRunner()
    assert re.search(r"--version", runner.invoke(app, ["--help"]).output)
    listed = runner.invoke(app, ["layouts"])
    assert listed.exit_code == 0 and "generic_csv" in listed.output
