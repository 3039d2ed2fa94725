"""The LLM judge against a fake OpenAI-compatible server, and the error when nothing answers."""

from __future__ import annotations

import doctest
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from studio import evaluation, generation, judge
from tests.factories import free_port


class FakeServer(BaseHTTPRequestHandler):
    replies: list[str] = []
    requests: list[dict] = []

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: dict | str):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": "grader"}]})
        else:
            self._send(404, "not here")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if body.get("model") == "missing":
            self._send(404, '{"error": "model missing not found"}')
            return
        reply = type(self).replies.pop(0) if type(self).replies else '{"score": 3, "reason": "default"}'
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": reply}}]})


@pytest.fixture
def server():
    FakeServer.replies, FakeServer.requests = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), FakeServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_scores_an_answer_with_the_rubric(server):
    FakeServer.replies = ['{"score": 4, "reason": "Versioning set; no encryption."}']
    grader = judge.Judge(server + "/v1/", model="grader", api_key="k")
    assert grader.check() == ["grader"]
    result = grader.score("An S3 bucket for logs, versioned", "```hcl\n...\n```", "terraform", "Name: logs")
    assert result == judge.JudgeScore(4, "Versioning set; no encryption.")
    sent = FakeServer.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k" and sent["temperature"] == 0
    assert "score from 1 to 5" in sent["messages"][0]["content"] and "Terraform" in sent["messages"][0]["content"]
    assert "An S3 bucket for logs, versioned\n\nName: logs" in sent["messages"][1]["content"]


def test_an_unreachable_judge_fails_fast_and_names_the_url():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    grader = judge.Judge(url, timeout_s=2)
    started = time.monotonic()
    with pytest.raises(judge.JudgeUnavailable, match=f"judge at {url}/v1/chat/completions cannot be reached"):
        grader.score("A bucket", "x", "terraform")
    with pytest.raises(judge.JudgeUnavailable, match=f"{url}/v1/models"):
        grader.check()
    assert time.monotonic() - started < 5


def test_server_errors_and_bad_urls_are_named(server):
    with pytest.raises(judge.JudgeUnavailable, match="HTTP 404.*model missing not found"):
        judge.Judge(server, model="missing").score("A bucket", "x", "terraform")
    with pytest.raises(ValueError, match="must start with http"):
        judge.Judge("localhost:8080")


def test_reply_parsing_examples():
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(judge.parse_reply, globs={"parse_reply": judge.parse_reply}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted == 4 and result.failed == 0


def test_evaluation_keeps_the_judges_scores(server, tiny_llama):
    FakeServer.replies = ['{"score": 2, "reason": "no code"}', "Score: 4"]
    rows = evaluation.load_rows(evaluation.EVAL_SPLIT)[:2]
    results = evaluation.evaluate(rows, evaluation.candidates(str(tiny_llama)),
                                  generation.Settings(max_new_tokens=4), judge=judge.Judge(server))
    scores = [record["answers"]["base"][0]["judge"]["score"] for record in results.rows]
    assert scores == [2, 4]
    assert results.summary["models"][0]["judge"] == {"mean_score": 3.0, "answers": 2}


def test_the_compare_tab_asks_the_judge_about_both_answers(server):
    from studio import chat
    from studio.ui import compare as compare_tab

    FakeServer.replies = ['{"score": 1, "reason": "boto3"}', '{"score": 5, "reason": "right"}']
    pair = {"messages": chat.messages_for("A bucket", "kubernetes"), "kind": "kubernetes", "left": "x", "right": "y"}
    shown = compare_tab._ask_judge(server, "grader", pair)
    assert shown == "- **Base**: 1/5: boto3\n- **Fine-tuned**: 5/5: right"
    assert "Kubernetes YAML" in FakeServer.requests[0]["messages"][0]["content"]
    with pytest.raises(Exception, match="cannot be reached"):
        compare_tab._ask_judge(f"http://127.0.0.1:{free_port()}", "grader", pair)


# -- on a Space (issue 16): an allow-list, and no server's reply quoted back ----------------------------------


@pytest.fixture
def on_a_space(monkeypatch):
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "alice/inframind")
    monkeypatch.delenv(judge.JUDGE_URLS_ENV, raising=False)


def test_on_a_space_the_judge_calls_only_the_listed_servers(on_a_space, monkeypatch, server):
    for url in (server, "http://169.254.169.254/latest/meta-data", "http://10.0.0.1:8080"):
        with pytest.raises(ValueError, match="may only call the servers listed in INFRAMIND_JUDGE_URLS"):
            judge.Judge(url)
    monkeypatch.setenv(judge.JUDGE_URLS_ENV, f"{server}/v1, http://judge.internal:8000")
    assert judge.Judge(server + "/v1/").base_url == server
    with pytest.raises(ValueError, match="not one of them"):
        judge.Judge("http://169.254.169.254")


def test_on_a_space_a_servers_reply_is_not_echoed(on_a_space, monkeypatch, server):
    monkeypatch.setenv(judge.JUDGE_URLS_ENV, server)
    with pytest.raises(judge.JudgeUnavailable) as refused:
        judge.Judge(server, model="missing").score("A bucket", "x", "terraform")
    assert "HTTP 404" in str(refused.value) and "model missing not found" not in str(refused.value)
