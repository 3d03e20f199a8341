"""The image's pinned requirements and the package's `services` extra name the same packages."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=~!; ]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def test_image_requirements_pin_every_service_dependency() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["services"]
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "compose" / "requirements-services.txt").read_text().splitlines()
    ]
    pinned = [line for line in lines if line]
    assert all("==" in line for line in pinned)
    assert names(extra) <= names(pinned)
