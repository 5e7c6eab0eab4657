"""Offline model files: where each bundled model lives and how it is rebuilt and verified (`files`).

May import: the basics only (config, errors). Imported by: speech, knowledge, commands.
"""
