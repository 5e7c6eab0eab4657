"""The service and its edges: `app` (FastAPI app, start-up), `routes` and `knowledge` (REST routes), `media`
(the media WebSocket formats), `hub` (live calls and the model worker), `guard` (token, limits), `client`
(the HTTP client the console and CLI use), `fake_client` (its in-memory stand-in for console tests and
demos), `sim` (replays a recording over the media socket).

May import: every domain package. Imported by: commands and the console (the console: `client` and
`fake_client` only).
"""
