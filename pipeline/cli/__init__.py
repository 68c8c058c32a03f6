"""The ``imaginem`` command: its subcommands, the demo (the main job) and its report."""

from pipeline.cli.main import main

__all__ = ["main"]
