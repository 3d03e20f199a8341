"""`python -m mafa_cli` runs the CLI."""

from mafa_cli.cli import main

main()
