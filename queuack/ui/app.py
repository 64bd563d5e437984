"""The dashboard's Starlette application and the uvicorn server that runs it (see __init__)."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
import threading
import time
from datetime import datetime, timezone
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import uvicorn
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..backend import THROUGHPUT_WINDOW, JobFilter
from ..errors import describe_exception, JobNotFoundError, QueuackError
from ..jobs import JobStatus
from ..queue import DuckQueue
from .graph import layout
from .metrics import metrics_text

CSRF_COOKIE = "queuack_csrf"
TOKEN_COOKIE = "queuack_token"


def token_cookie(request: Request) -> str:
    """The token cookie's name for the address the browser sees: a browser sends a host's cookies to
    every port of it, so dashboards on one host with different tokens would overwrite each other's."""
    port = request.url.port
    return f"{TOKEN_COOKIE}_{port}" if port else TOKEN_COOKIE
LIVE_HEADER = "x-queuack-live"  # the page script's polls: only the live part is rendered
PAGE_SIZE = 50
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
STATUSES = [s.value for s in JobStatus]
SHOWN_BYTES = 1 << 20  # a stored value bigger than this is not decoded for a page
SHOWN_CHARACTERS = 10_000  # a value's text is cut here: the page polls itself every two seconds
SHARED_SECONDS = 2.0  # how long one read of the counts serves the overview and /metrics


class Shared:
    """A read whose answer the requests of the next `seconds` share: the overview's counts by queue
    and status and the DAG runs by status, which a few open pages polling plus a Prometheus
    scraper would each ask for. Requests that arrive while the read runs wait for it rather than
    start their own. An action taken on this dashboard forgets the answer, so its result shows at
    once."""

    def __init__(self, read, seconds: float):
        self.read = read
        self.seconds = seconds
        self.lock = threading.Lock()
        self.answer: Any = None
        self.read_at = float("-inf")

    def __call__(self):
        with self.lock:
            if time.monotonic() - self.read_at >= self.seconds:
                self.answer = self.read()
                self.read_at = time.monotonic()
            return self.answer

    def forget(self) -> None:
        with self.lock:
            self.read_at = float("-inf")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# -- formatting for the templates -----------------------------------------------------------------
def when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(ts: float | None) -> str:
    if ts is None:
        return ""
    return f"{span(time.time() - ts)} ago"


def span(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 0.001:
        return "<1ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m" + (f" {seconds % 60:.0f}s" if round(seconds % 60) else "")
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h {seconds % 3600 // 60:.0f}m"
    return f"{seconds // 86400:.0f}d {seconds % 86400 // 3600:.0f}h"


def took(job: dict) -> str:
    """How long a job ran (its last attempt), or has been running."""
    if job.get("claimed_at") is None:
        return ""
    end = job.get("completed_at") if job["status"] not in ("pending", "claimed", "delayed") else time.time()
    return span((end or time.time()) - job["claimed_at"])


def same(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any text (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


class Dashboard:
    """The state the routes share: the queue, what is allowed, and the templates."""

    def __init__(self, queue: DuckQueue, read_only: bool = False, token: str | None = None):
        self.queue = queue
        self.read_only = read_only
        self.token = token
        self.shared_overview = Shared(lambda: self.backend.overview(), SHARED_SECONDS)
        self.shared_run_counts = Shared(lambda: self.backend.run_status_counts(), SHARED_SECONDS)
        self.templates = Environment(
            loader=FileSystemLoader(str(resources.files("queuack.ui").joinpath("templates"))),
            autoescape=select_autoescape(["html"]))
        self.templates.filters.update(when=when, ago=ago, span=span, took=took, first_line=first_line)

    @property
    def backend(self):
        return self.queue._live_store()

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        live = request.headers.get(LIVE_HEADER) == "1"
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        html = self.templates.get_template(name).render(
            request=request, csrf=csrf, read_only=self.read_only, live=live, location=self.backend.path,
            message=request.query_params.get("message"), statuses=STATUSES, **context)
        response = HTMLResponse(html, status_code=status_code)
        if request.cookies.get(CSRF_COOKIE) != csrf:
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
        return response

    # -- pages ------------------------------------------------------------------------------------
    async def overview(self, request: Request) -> Response:
        return await self._threaded(request, self._overview)

    def _overview(self, request: Request) -> Response:
        view = self.shared_overview()
        totals = {s: sum(c.get(s, 0) for c in view.counts.values()) for s in STATUSES}
        runs = self.backend.list_runs(limit=10)
        return self.render(request, "overview.html", page="overview", view=view, totals=totals, runs=runs,
                           per_minute=(view.done_recently + view.failed_recently) * 60 / THROUGHPUT_WINDOW,
                           window=span(THROUGHPUT_WINDOW))

    async def jobs(self, request: Request) -> Response:
        return await self._threaded(request, self._jobs)

    def _jobs(self, request: Request) -> Response:
        params = request.query_params
        where = JobFilter(queue=params.get("queue") or None, status=params.get("status") or None,
                          dag_run_id=params.get("run") or None, function=params.get("function") or None)
        if where.status is not None and where.status not in STATUSES:
            return self.render(request, "error.html", 400, page="jobs",
                               problem=f"unknown status {where.status!r}: choose one of {', '.join(STATUSES)}")
        try:
            before = int(params["before"]) if params.get("before") else None
        except ValueError:
            return self.render(request, "error.html", 400, page="jobs", problem="'before' must be a job's seq number")
        jobs = self.backend.list_jobs(where, before, PAGE_SIZE)
        filters = {k: v for k, v in params.items() if k in ("queue", "status", "run", "function") and v}
        older = (f"?{urlencode({**filters, 'before': jobs[-1]['seq']})}" if len(jobs) == PAGE_SIZE else None)
        return self.render(request, "jobs.html", page="jobs", jobs=jobs, filters=filters, older=older,
                           queues=self.backend.queue_names(), first_page=before is None)

    async def job(self, request: Request) -> Response:
        return await self._threaded(request, self._job)

    def _job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        try:
            job = self.backend.get_job(job_id)
        except JobNotFoundError:
            return self.render(request, "error.html", 404, page="jobs", problem=f"no job with id {job_id}")
        return self.render(request, "job.html", page="jobs", job=job, args=self._shown(job.args, job.codec),
                           kwargs=self._shown(job.kwargs, job.codec),
                           result=self._shown(job.result, job.codec) if job.status is JobStatus.DONE else None,
                           parents=self.backend.parents([job.id])[job.id])

    def _shown(self, blob: bytes | None, codec: str) -> str:
        """A stored value as text, decoded only as the queue's Loader allows (never unpickled with json),
        and cut short when it is big."""
        if blob is not None and len(blob) > SHOWN_BYTES:
            return f"({len(blob):,} bytes stored: too large to show here)"
        try:
            text = repr(self.queue.loader.value(blob, codec))
        except QueuackError:
            return f"(stored with {codec}: shown only by a dashboard started with --serializer {codec})"
        except Exception as exc:  # a value whose class cannot be imported here
            return f"(cannot be decoded here: {describe_exception(exc)})"
        if len(text) > SHOWN_CHARACTERS:
            return f"{text[:SHOWN_CHARACTERS]}… ({len(text) - SHOWN_CHARACTERS:,} more characters)"
        return text

    async def runs(self, request: Request) -> Response:
        return await self._threaded(request, self._runs)

    def _runs(self, request: Request) -> Response:
        try:
            before = float(request.query_params["before"]) if request.query_params.get("before") else None
        except ValueError:
            return self.render(request, "error.html", 400, page="runs", problem="'before' must be a time in unix seconds")
        runs = self.backend.list_runs(before, PAGE_SIZE)
        older = f"?before={runs[-1].created_at!r}" if len(runs) == PAGE_SIZE else None
        return self.render(request, "runs.html", page="runs", runs=runs, older=older)

    async def run(self, request: Request) -> Response:
        return await self._threaded(request, self._run)

    def _run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        graph = self.backend.run_graph(run_id)
        if graph is None:
            return self.render(request, "error.html", 404, page="runs", problem=f"no DAG run with id {run_id}")
        return self.render(request, "run.html", page="runs", graph=graph, drawing=layout(graph.nodes, graph.edges))

    async def dead_letters(self, request: Request) -> Response:
        return await self._threaded(request, self._dead_letters)

    def _dead_letters(self, request: Request) -> Response:
        return self.render(request, "dead_letters.html", page="dead", jobs=self.backend.dead_letters(PAGE_SIZE))

    async def metrics(self, request: Request) -> Response:
        text = await self._in_thread(metrics_text, self.backend, self.shared_overview, self.shared_run_counts)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- actions ----------------------------------------------------------------------------------
    async def action(self, request: Request) -> Response:
        if self.read_only:
            return PlainTextResponse("this dashboard is read-only (started with --read-only)", 403)
        form = await request.form()
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not same(str(form.get("csrf", "")), cookie):
            return PlainTextResponse("missing or wrong CSRF token: reload the page and try again", 403)
        kind = request.path_params["action"]
        handler = {"retry": self._retry, "cancel": self._cancel, "purge": self._purge}.get(kind)
        if handler is None:
            return PlainTextResponse(f"unknown action {kind!r}", 404)
        try:
            message = await self._in_thread(handler, form)
        except QueuackError as exc:
            message = str(exc)
        for shared in (self.shared_overview, self.shared_run_counts):
            shared.forget()
        back = str(form.get("next", "/"))
        if not back.startswith("/") or back.startswith("//"):  # only back to a page of this dashboard
            back = "/"
        back = back.split("?")[0] + "?" + urlencode({"message": message})
        return RedirectResponse(back, status_code=303)

    def _retry(self, form) -> str:
        retried = resumed = gone = 0
        for job_id in form.getlist("job_id"):
            try:
                resumed += len(self.queue.retry_dead_letter(job_id))
                retried += 1
            except QueuackError:  # retried or purged since the page was drawn: retry the others
                gone += 1
        return (f"{retried} job{'s' if retried != 1 else ''} pending again"
                + (f", with {resumed} skipped job{'s' if resumed != 1 else ''} that depended on it" if resumed else "")
                + (f"; {gone} no longer a dead letter" if gone else ""))

    def _cancel(self, form) -> str:
        run_id = str(form.get("run_id", ""))
        if self.backend.dag_run(run_id) is None:
            return f"no DAG run with id {run_id!r}: nothing cancelled"
        skipped = self.backend.cancel_run(run_id)
        return f"DAG run cancelled: {skipped} job{'s' if skipped != 1 else ''} skipped, running ones finish"

    def _purge(self, form) -> str:
        try:
            hours = float(form.get("older_than_hours", 24))
            purged = self.queue.purge(status=["done", "skipped"], older_than_hours=hours)
        except ValueError:
            return "older than: give a number of hours"
        return f"purged {purged} finished job{'s' if purged != 1 else ''} older than {hours:g}h"

    # -- plumbing ---------------------------------------------------------------------------------
    async def _threaded(self, request: Request, page) -> Response:
        # backends block: read in a worker thread so that the server keeps answering
        return await self._in_thread(page, request)

    @staticmethod
    async def _in_thread(func, *args):
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(func, *args)


class Guard(BaseHTTPMiddleware):
    """The token (when one is set) and, on loopback, the Host header."""

    def __init__(self, app, dashboard: Dashboard, loopback: bool):
        super().__init__(app)
        self.dashboard = dashboard
        self.loopback = loopback

    async def dispatch(self, request: Request, call_next):
        if self.loopback and request.url.hostname not in LOOPBACK_NAMES:
            return PlainTextResponse("this dashboard answers only to localhost", 421)
        if "\x00" in request.scope["path"] or any("\x00" in k + v for k, v in request.query_params.multi_items()):
            # no queue name, id or function holds one (PostgreSQL text cannot)
            return PlainTextResponse("the address contains a NUL character: no job, run or queue has one", 400)
        token = self.dashboard.token
        if token is None or request.url.path.startswith("/static/"):
            return await call_next(request)
        given = request.query_params.get("token")
        if given is not None and same(given, token):
            # keep it in a cookie and take it out of the address bar
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
            response.set_cookie(token_cookie(request), token, httponly=True, samesite="strict")
            return response
        bearer = request.headers.get("authorization", "")
        presented = bearer[7:] if bearer.lower().startswith("bearer ") else request.cookies.get(token_cookie(request), "")
        if presented and same(presented, token):
            return await call_next(request)
        return PlainTextResponse("a token is required: open the address queuack printed (it ends in ?token=...), "
                                 "or send Authorization: Bearer TOKEN", 401)


def create_app(queue: DuckQueue, read_only: bool = False, token: str | None = None,
               loopback: bool = True) -> Starlette:
    """The dashboard of this queue. loopback: the server listens on a loopback address only."""
    dashboard = Dashboard(queue, read_only, token)
    static = StaticFiles(directory=str(resources.files("queuack.ui").joinpath("static")))
    routes = [
        Route("/", dashboard.overview),
        Route("/jobs", dashboard.jobs),
        Route("/jobs/{job_id}", dashboard.job),
        Route("/runs", dashboard.runs),
        Route("/runs/{run_id}", dashboard.run),
        Route("/dead-letters", dashboard.dead_letters),
        Route("/metrics", dashboard.metrics),
        Route("/actions/{action}", dashboard.action, methods=["POST"]),
        Mount("/static", static, name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, dashboard=dashboard, loopback=loopback)])


def check_bind(host: str, token: str | None, how: str = "--token or QUEUACK_UI_TOKEN") -> None:
    """`how`: where the command that binds takes its token."""
    if not is_loopback(host) and not token:
        raise QueuackError(f"binding the dashboard to {host} makes it reachable from other machines: give a "
                           f"token with {how} (or bind to 127.0.0.1)")


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound before the server starts, so that port 0 becomes a free port we can print."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise QueuackError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    return sock


def address(sock: socket.socket, token: str | None) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(queue: DuckQueue, host: str = "127.0.0.1", port: int = 0, read_only: bool = False,
          token: str | None = None, announce=print, in_thread: bool = False, token_from: str | None = None):
    """Serve the dashboard until interrupted; in_thread: in a daemon thread, returning the uvicorn
    Server (set its should_exit to stop it) once it listens. The announced address carries the
    token, unless token_from says where the user gave it (a log line is no place for a secret)."""
    check_bind(host, token)
    sock = listening_socket(host, port)
    app = create_app(queue, read_only, token, loopback=is_loopback(host))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    where = (f"{address(sock, None)} (it asks for the token {token_from}: open the address with "
             "?token=TOKEN once, or send Authorization: Bearer TOKEN)") if token and token_from else address(sock, token)
    announce(f"dashboard of {queue._live_store().path} at {where}")
    if not in_thread:
        server.run(sockets=[sock])
        return server
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="queuack-ui", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    return server
