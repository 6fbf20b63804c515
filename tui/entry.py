"""The `jobdeck` console script: dependencies' deprecation notices are silenced (monitor.quiet)
before anything imports the libraries that raise them."""

from __future__ import annotations

from monitor.quiet import quiet_dependencies


def main() -> None:
    quiet_dependencies()
    from tui.cli import main as cli

    cli()
