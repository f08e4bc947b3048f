"""Command-line interface: `testbed run|plan|list|clean ...`."""
