"""CLI sub-commands, one module per area; see `assistant/cli.py`.

May import: anything in `assistant` (this is the top layer; nothing imports it but `cli`). A command
may defer a heavy import (the FastAPI app) into its function; the layer contract still sees it.
"""
