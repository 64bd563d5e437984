"""The web dashboard through HTTP (Starlette's test client on the real app and a real queue), its
metrics, and `queuack ui` / `queuack worker --ui` as processes."""

from __future__ import annotations

import re
import subprocess
import sys
import http.cookiejar
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from queuack import DAG, DuckQueue, JobStatus, Worker
from queuack.ui import create_app, serve

from . import jobfuncs
from .conftest import python_process, subprocess_env

LOCAL = "http://127.0.0.1"


def client(queue, **options) -> TestClient:
    return TestClient(create_app(queue, **options), base_url=LOCAL, follow_redirects=False)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
def failed_run(queue):
    with DAG("etl", queue=queue) as dag:
        dag.add_job(jobfuncs.echo, name="extract", args=(1,))
        dag.add_job(jobfuncs.fail, name="transform", args=("bad row 7",), depends_on="extract", max_attempts=1)
    dag.execute(timeout=20)
    return dag


def test_overview_jobs_and_a_jobs_details(queue):
    queue.enqueue(jobfuncs.add, args=(1, 2), queue="math")
    failed = queue.enqueue(jobfuncs.fail, args=("disk on fire",), queue="risky", max_attempts=1)
    Worker(queue, queues=["risky"]).run(burst=True)
    http = client(queue)
    overview = http.get("/")
    assert overview.status_code == 200
    assert re.search(r'href="/jobs\?queue=math&status=pending">1<', overview.text)
    assert "1 failed in the last" in overview.text
    listing = http.get("/jobs", params={"status": "failed"}).text
    assert failed[:8] in listing and "disk on fire" in listing and "math" not in listing.split("<tbody>")[1]
    details = http.get(f"/jobs/{failed}").text
    assert "Traceback" in details and "disk on fire" in details and "1 of 1" in details
    assert http.get("/jobs/nope").status_code == 404
    assert "unknown status" in http.get("/jobs", params={"status": "lost"}).text


def test_arguments_are_decoded_only_as_the_loader_allows(db_path):
    with DuckQueue(db_path) as pickled:
        job_id = pickled.enqueue(jobfuncs.echo, args=({"k": 1},))
    with DuckQueue(db_path, serializer="json", allow=[]) as safe:
        page = client(safe).get(f"/jobs/{job_id}").text
        assert "stored with pickle" in page and "{&#39;k&#39;: 1}" not in page
    with DuckQueue(db_path) as trusting:
        assert "{&#39;k&#39;: 1}" in client(trusting).get(f"/jobs/{job_id}").text


def test_huge_arguments_and_results_are_shown_cut_short(queue):
    long_text = queue.enqueue(jobfuncs.echo, args=("A" * 3_000_000,))
    many = queue.enqueue(jobfuncs.echo, args=(list(range(30_000)),))
    Worker(queue).run(burst=True)
    http = client(queue)
    page = http.get(f"/jobs/{long_text}").text
    assert len(page) < 100_000 and "too large to show here" in page and "3,000,0" in page
    page = http.get(f"/jobs/{many}").text
    assert len(page) < 100_000 and "[0, 1, 2, 3" in page and "more characters" in page


def test_nul_bytes_and_non_ascii_tokens_are_refused_cleanly(queue):
    http = client(queue)
    for path in ("/jobs?queue=a%00b", "/jobs?function=%00", "/jobs/%00", "/runs/%00", "/jobs?run=%00"):
        answer = http.get(path)
        assert answer.status_code == 400 and "NUL" in answer.text, path
    guarded = client(queue, token="s3cret")
    assert guarded.get("/", params={"token": "\u00e9t\u00e9"}).status_code == 401
    assert guarded.get("/", headers={"Authorization": "Bearer \u00e9t\u00e9".encode("utf-8")}
                       ).status_code == 401
    http.get("/")
    answer = http.post("/actions/retry", data={"csrf": "\u00e9", "job_id": "x"})
    assert answer.status_code == 403


def test_retry_all_shown_retries_the_others_when_one_was_retried_meanwhile(queue):
    dead = [queue.enqueue(jobfuncs.fail, args=(n,), max_attempts=1) for n in range(3)]
    Worker(queue).run(burst=True)
    http = client(queue)
    page = http.get("/dead-letters").text
    queue.retry_dead_letter(dead[0])  # someone else, since the page was drawn
    answer = http.post("/actions/retry", data={"csrf": csrf_of(page), "job_id": dead, "next": "/dead-letters"})
    assert "2 jobs pending again" in http.get(answer.headers["location"]).text
    assert {queue.get_job(i).status for i in dead} == {JobStatus.PENDING}


def test_a_run_page_draws_the_graph_and_retrying_a_failed_node_makes_it_run_again(queue, failed_run):
    http = client(queue)
    runs = http.get("/runs").text
    assert f'href="/runs/{failed_run.dag_run_id}"' in runs and "1/2" not in runs and "2/2" in runs
    page = http.get(f"/runs/{failed_run.dag_run_id}").text
    assert 'data-node="extract" data-status="done"' in page and 'data-node="transform" data-status="failed"' in page
    assert page.count('class="edge"') == 1
    transform = failed_run.get_job("transform").id
    answer = http.post("/actions/retry", data={"csrf": csrf_of(page), "job_id": transform,
                                               "next": f"/runs/{failed_run.dag_run_id}"})
    assert answer.status_code == 303 and answer.headers["location"].startswith(f"/runs/{failed_run.dag_run_id}?")
    assert queue.get_job(transform).status is JobStatus.PENDING
    assert "1 job pending again" in http.get(answer.headers["location"]).text


def test_an_edge_that_skips_columns_is_routed_below_the_nodes_between():
    from queuack.ui.graph import NODE_HEIGHT, ROW_GAP, layout

    nodes = [{"id": i} for i in "abc"]
    drawing = layout(nodes, [("b", "a"), ("c", "b"), ("c", "a")])
    assert [(x, y) for _, x, y in drawing.boxes] == [(12, 12), (262, 12), (512, 12)]
    straight, skipping = drawing.curves[0], drawing.curves[2]
    assert " L" not in straight and " 262,102 L442,102 " in skipping  # through the free slot under b
    assert drawing.height == 12 * 2 + 2 * (NODE_HEIGHT + ROW_GAP) - ROW_GAP


def test_a_post_without_the_csrf_token_is_refused(queue, failed_run):
    http = client(queue)
    http.get("/")  # sets the cookie
    transform = failed_run.get_job("transform").id
    for form in ({"job_id": transform}, {"job_id": transform, "csrf": "forged"}):
        answer = http.post("/actions/retry", data=form)
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert queue.get_job(transform).status is JobStatus.FAILED


def test_read_only_shows_no_actions_and_refuses_them(queue, failed_run):
    http = client(queue, read_only=True)
    page = http.get(f"/runs/{failed_run.dag_run_id}").text
    assert "<form method=\"post\"" not in page and "read-only" in page
    answer = http.post("/actions/retry", data={"csrf": http.cookies.get("queuack_csrf"),
                                               "job_id": failed_run.get_job("transform").id})
    assert answer.status_code == 403


def test_cancel_a_run_and_purge_finished_jobs(queue):
    with DAG("slow", queue=queue) as dag:
        dag.add_job(jobfuncs.echo, name="a", args=(1,))
        dag.add_job(jobfuncs.echo, name="b", args=(2,), depends_on="a")
    dag.submit()
    done = queue.enqueue(jobfuncs.echo, args=(3,), queue="other")
    Worker(queue, queues=["other"]).run(burst=True)
    http = client(queue)
    csrf = csrf_of(http.get("/").text)
    http.post("/actions/cancel", data={"csrf": csrf, "run_id": dag.dag_run_id})
    assert {dag.get_job(n).status for n in "ab"} == {JobStatus.SKIPPED}
    assert "cancelled" in http.get("/runs").text
    answer = http.post("/actions/purge", data={"csrf": csrf, "older_than_hours": "0", "next": "/"})
    assert "purged 3 finished jobs" in http.get(answer.headers["location"]).text
    assert queue.stats()["done"] == 0 and not queue._live_store().existing([done])


def test_purge_with_an_age_that_is_not_a_number_of_hours_purges_nothing(queue):
    done = queue.enqueue(jobfuncs.echo, args=(1,))
    Worker(queue).run(burst=True)
    http = client(queue)
    csrf = csrf_of(http.get("/").text)
    for hours in ("nan", "NaN", "soon"):
        answer = http.post("/actions/purge", data={"csrf": csrf, "older_than_hours": hours, "next": "/"})
        assert answer.status_code == 303
        assert "a number of hours" in http.get(answer.headers["location"]).text
    assert queue.get_job(done).status is JobStatus.DONE


def test_cancelling_a_run_that_does_not_exist_says_so(queue):
    http = client(queue)
    csrf = csrf_of(http.get("/").text)
    for form in ({"run_id": "no-such-run"}, {}):
        answer = http.post("/actions/cancel", data={"csrf": csrf, "next": "/runs", **form})
        assert "nothing cancelled" in http.get(answer.headers["location"]).text


def test_a_token_is_asked_for_and_the_host_must_be_local(queue):
    http = client(queue, token="s3cret")
    assert http.get("/").status_code == 401
    answer = http.get("/jobs", params={"token": "s3cret", "queue": "a"})
    assert answer.status_code == 303 and answer.headers["location"] == "/jobs?queue=a"
    assert http.get("/").status_code == 200  # the cookie now carries it
    assert TestClient(create_app(queue, token="s3cret"), base_url=LOCAL).get(
        "/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    rebound = TestClient(create_app(queue), base_url="http://evil.example")
    assert rebound.get("/").status_code == 421


def test_metrics_in_the_prometheus_text_format(queue, failed_run):
    queue.enqueue(jobfuncs.echo, args=(1,), queue="other")
    text = client(queue).get("/metrics").text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("queuack_jobs", (("queue", "other"), ("status", "pending")))] == 1
    assert samples[("queuack_jobs", (("queue", "default"), ("status", "failed")))] == 1
    assert samples[("queuack_jobs_completed_total", (("queue", "default"),))] == 1
    assert samples[("queuack_jobs_failed_total", (("queue", "default"),))] == 1
    assert samples[("queuack_claim_latency_seconds_count", ())] == 2
    assert samples[("queuack_claim_latency_seconds_sum", ())] >= 0
    assert samples[("queuack_dag_runs", (("status", "failed"),))] == 1
    assert samples[("queuack_dag_runs", (("status", "running"),))] == 0


def test_pages_and_scrapes_close_together_share_one_count_and_an_action_shows_at_once(queue, monkeypatch,
                                                                                       failed_run):
    monkeypatch.setattr("queuack.ui.app.SHARED_SECONDS", 3600.0)  # "close together", however slow the machine
    store = queue._live_store()
    reads = []
    real_overview = store.overview
    monkeypatch.setattr(store, "overview", lambda: reads.append(1) or real_overview())
    http = client(queue)
    csrf = csrf_of(http.get("/").text)
    http.get("/")
    pending = lambda: sum(s.value for family in text_string_to_metric_families(http.get("/metrics").text)  # noqa: E731
                          for s in family.samples if s.name == "queuack_jobs" and s.labels["status"] == "pending")
    assert pending() == 0 and len(reads) == 1  # two pages and a scrape: one count over the jobs
    http.post("/actions/retry", data={"csrf": csrf, "job_id": failed_run.get_job("transform").id})
    assert pending() == 1 and len(reads) == 2  # the action's effect, not the count from before it


def _serve(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "queuack", *args], env=subprocess_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        found = re.search(r"http://\S+/", line)
        if found:
            return process, found.group(0)
    raise AssertionError(f"no address printed; exit code {process.wait()}")


def test_queuack_ui_serves_on_a_free_port_and_refuses_a_remote_bind_without_a_token(db_path):
    with DuckQueue(db_path) as q:
        q.enqueue(jobfuncs.echo, args=(1,))
    refused = subprocess.run([sys.executable, "-m", "queuack", "ui", db_path, "--host", "0.0.0.0"],
                             env={**subprocess_env(), "QUEUACK_UI_TOKEN": ""}, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 2 and "give a token with --token or QUEUACK_UI_TOKEN" in refused.stderr
    process, address = _serve("ui", db_path, "--read-only")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", address)
        with urllib.request.urlopen(address + "jobs", timeout=30) as page:
            assert "jobfuncs.echo" in page.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_ui_on_a_file_a_worker_holds_says_to_serve_it_from_the_worker(db_path):
    DuckQueue(db_path).close()
    holder = python_process(
        "import sys\nfrom queuack import DuckQueue\n"
        f"q = DuckQueue({db_path!r})\nprint('ready', flush=True)\nsys.stdin.readline()\n",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = subprocess.run([sys.executable, "-m", "queuack", "ui", db_path], env=subprocess_env(),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and f"queuack worker {db_path} --ui" in result.stderr
    finally:
        holder.communicate("\n", timeout=30)


def test_a_worker_asked_to_serve_off_loopback_without_a_token_names_its_own_option(db_path):
    from click.testing import CliRunner

    from queuack.cli import cli

    DuckQueue(db_path).close()
    result = CliRunner().invoke(cli, ["worker", db_path, "--burst", "--ui", "0.0.0.0:0"], env={"QUEUACK_UI_TOKEN": ""})
    assert result.exit_code == 2 and "--ui-token" in result.output and "processed" not in result.output


def test_a_worker_serves_the_dashboard_of_the_file_it_holds(db_path):
    with DuckQueue(db_path) as q:
        job_id = q.enqueue(jobfuncs.echo, args=(1,))
    process, address = _serve("worker", db_path, "--ui", "127.0.0.1:0")
    try:
        with urllib.request.urlopen(address + f"jobs/{job_id}", timeout=30) as page:
            assert job_id in page.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(address + "actions/retry", data=b"job_id=x"), timeout=30)
        assert refused.value.code == 403
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_two_dashboards_on_one_host_keep_their_own_tokens(tmp_path):
    """A browser sends a host's cookies to all its ports: opening the second dashboard's token link
    must not log the first one out."""
    with DuckQueue() as first_queue, DuckQueue() as second_queue:
        addresses, servers = [], []
        for queue, token in ((first_queue, "first-token"), (second_queue, "second-token")):
            servers.append(serve(queue, token=token, in_thread=True,
                                 announce=lambda line: addresses.append(line.split(" at ")[1])))
        try:
            # like a browser's, this cookie jar sends a host's cookies to every port of it
            browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            for address in addresses:  # each token link, in turn
                assert browser.open(address, timeout=30).status == 200
            for address in addresses:
                assert browser.open(address.split("?")[0], timeout=30).status == 200, address
        finally:
            for server in servers:
                server.should_exit = True


def test_a_worker_does_not_log_its_dashboard_token(db_path):
    DuckQueue(db_path).close()
    env = {k: v for k, v in subprocess_env().items() if k != "QUEUACK_UI_TOKEN"}
    for options, extra_env, where in ((["--ui-token", "s3cret-value"], {}, "given with --ui-token"),
                                      ([], {"QUEUACK_UI_TOKEN": "s3cret-value"}, "in $QUEUACK_UI_TOKEN")):
        result = subprocess.run([sys.executable, "-m", "queuack", "worker", db_path, "--burst",
                                 "--ui", "127.0.0.1:0", *options], env={**env, **extra_env},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "s3cret-value" not in result.stdout + result.stderr
        assert re.search(r"dashboard of .* at http://127\.0\.0\.1:\d+/ \(it asks for the token " + re.escape(where),
                         result.stderr), result.stderr
