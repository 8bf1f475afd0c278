"""Command line: `muara run|migrate|check-config|status|version|train|lapor-sim`."""


def main() -> int:
    """Entry point of the `muara` command."""
    return 0
