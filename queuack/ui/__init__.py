"""The web dashboard (`queuack ui`, `queuack worker --ui`) and its Prometheus metrics.

Decisions:
- Starlette (ASGI) served by uvicorn, pages rendered by Jinja2 templates; the CSS and the few lines
  of JavaScript ship in the package (no CDN: it works offline).
- Live updates by polling: the page script fetches its own URL every two seconds and swaps the
  part marked live, so each page has one renderer and no separate JSON API to keep in step.
- Every read goes through the backend's dashboard methods (overview, list_jobs, list_runs,
  run_graph): bounded, keyset-paginated queries, never a scan per row shown.
- Arguments and results are decoded only through the queue's Loader: with the json serializer
  (the default of `queuack ui`) nothing is ever unpickled, and pickled values are shown as such.
- Actions are POSTs checked against a CSRF token (a random value in an HttpOnly, SameSite=Strict
  cookie that each form repeats); --read-only removes them. On loopback the Host header must be a
  loopback name (against DNS rebinding); any other bind address requires a token.
"""

from .app import create_app, serve

__all__ = ["create_app", "serve"]
