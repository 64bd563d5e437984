"""The dashboard in a real headless browser: Debian's chromium driven by Playwright (never a
browser download: `make test` installs the chromium package when it is missing).

One scenario, as a user lives it: open the overview, follow a DAG run to its graph, read the failed
node's traceback, retry it from the page and watch the run finish; a POST without the CSRF token
is refused; a remote bind without a token is refused. It takes screenshots of the overview and of
the DAG run page; with QUEUACK_UPDATE_SCREENSHOTS=1 they replace the ones in docs/ that README.md
shows (otherwise a test run leaves the work tree as it was)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from queuack import DAG, DuckQueue, Worker
from queuack.errors import QueuackError
from queuack.ui import serve

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def screenshot(page, name: str, folder: Path) -> None:
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("QUEUACK_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(path, DOCS / name)


def extract(source):
    return list(range(5))


def clean(context):
    return [x for x in context.upstream("extract_orders")]


def transform(flag_path, context):
    if not os.path.exists(flag_path):
        raise ValueError("currency rate missing for EUR on 2026-11-30")
    return sum(context.upstream("clean"))


def publish(context):
    return "ok"


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package (make test does)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A file queue with a worker and the dashboard running in this process, and a DAG run whose
    transform node failed."""
    monkeypatch.chdir(tmp_path)  # the pages show the queue's path: keep it short in the screenshots
    flag = tmp_path / "rates-ready"
    queue = DuckQueue("jobs.duckdb", retry_backoff=0)
    for i in range(12):
        queue.enqueue(extract, args=(f"batch {i}",), queue="ingest")
    for i in range(3):
        queue.enqueue(extract, args=(f"report {i}",), queue="reports", delay_seconds=3600)
    with DAG("hourly-sync", queue=queue) as earlier:
        earlier.add_job(extract, name="pull", args=("crm",))
        earlier.add_job(publish, name="push", depends_on="pull")
    with DAG("nightly-etl", queue=queue) as dag:
        dag.add_job(extract, name="extract_users", args=("users",))
        dag.add_job(extract, name="extract_orders", args=("orders",))
        dag.add_job(clean, name="clean", depends_on=["extract_orders"])
        dag.add_job(extract, name="extract_rates", args=("rates",))
        dag.add_job(transform, name="transform", args=(str(flag),), depends_on=["clean", "extract_users", "extract_rates"],
                    max_attempts=1)
        dag.add_job(publish, name="publish", depends_on="transform")
        dag.add_job(publish, name="notify", depends_on="transform")
    worker = Worker(queue, concurrency=2)
    running = threading.Thread(target=worker.run, daemon=True)
    running.start()
    earlier.wait_for_completion(timeout=60)
    dag.wait_for_completion(timeout=60)
    server = serve(queue, port=0, announce=lambda line: None, in_thread=True)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    yield f"http://{host}:{port}", queue, dag, flag, tmp_path
    server.should_exit = True
    worker.stop()
    running.join(30)
    queue.close()


def test_follow_a_failed_run_to_its_traceback_and_retry_it(browser, served):
    address, queue, dag, flag, shots = served
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(address + "/")
    page.get_by_role("heading", name="Overview").wait_for()
    assert page.locator(".card.failed .n").inner_text() == "1"
    screenshot(page, "dashboard-overview.png", shots)

    page.get_by_role("link", name="nightly-etl").click()
    page.wait_for_url(f"**/runs/{dag.dag_run_id}")
    failed = page.locator('[data-node="transform"][data-status="failed"]')
    failed.wait_for()
    assert page.locator('[data-node="publish"]').get_attribute("data-status") == "skipped"
    screenshot(page, "dashboard-dag-run.png", shots)

    failed.click()
    page.get_by_role("heading", name="Traceback").wait_for()
    assert "currency rate missing for EUR" in page.locator(".traceback").inner_text()
    page.go_back()

    flag.touch()  # what the operator fixed before retrying
    page.get_by_role("row", name="transform").get_by_role("button", name="Retry").click()
    page.get_by_role("status").filter(has_text="pending again").wait_for()
    # the page updates itself: no reload
    page.locator('[data-node="transform"][data-status="done"]').wait_for(timeout=30_000)
    page.locator('[data-node="publish"][data-status="done"]').wait_for(timeout=30_000)
    page.locator('h1 .badge.done').wait_for(timeout=30_000)

    answer = page.request.post(address + "/actions/retry", form={"job_id": dag.get_job("transform").id})
    assert answer.status == 403 and "CSRF" in answer.text()


def test_a_remote_bind_without_a_token_is_refused(served):
    queue = served[1]
    with pytest.raises(QueuackError, match="give a token"):
        serve(queue, host="0.0.0.0", port=0, announce=lambda line: None, in_thread=True)
