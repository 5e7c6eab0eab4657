"""CLI sub-commands, one module per area; see `assistant/cli.py`."""
