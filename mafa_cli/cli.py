"""The `mafa` command line: parse, call the library, turn errors into exit codes. No logic here."""

from __future__ import annotations

import typer

from mafa_cli import __version__

app = typer.Typer(
    name="mafa",
    help="Stand up, load and watch an asynchronous, failure-prone microservice stack.",
    no_args_is_help=True,
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mafa {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """mafa: see how an asynchronous, failure-prone microservice stack behaves under load."""


def main() -> None:
    app()
