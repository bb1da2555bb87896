"""The local server under test (started with AUTH=iam by test/clients/python/pytest.test.ts, which
runs this suite from npm test), and small real HTTP stand-ins for what a healthy server never does."""
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.credentials import Credentials

from modelship_client import Client


@pytest.fixture(scope="session")
def server():
    url = os.environ.get("MODELSHIP_TEST_URL")
    if not url:
        pytest.fail("MODELSHIP_TEST_URL is not set: run these tests through npm test (test/clients/python/pytest.test.ts), which starts the local server with AUTH=iam")
    return {"url": url, "credentials": Credentials(os.environ["MODELSHIP_TEST_ACCESS_KEY_ID"], os.environ["MODELSHIP_TEST_SECRET_ACCESS_KEY"]), "root": os.environ["MODELSHIP_TEST_ROOT"]}


@pytest.fixture
def client(server):
    with Client(server["url"], region="us-east-1", credentials=server["credentials"]) as c:
        yield c


class StandIn:
    """Answers each request with the next scripted reply: (status, headers), "drop" (closes the connection) or ("sleep", seconds)."""

    def __init__(self, replies):
        self.replies = replies
        self.arrivals = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                stand_in.arrivals.append(time.monotonic())
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                reply = stand_in.replies[min(len(stand_in.arrivals), len(stand_in.replies)) - 1]
                if reply == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if reply[0] == "sleep":
                    time.sleep(reply[1])
                    reply = (200, {})
                status, headers = reply
                body = json.dumps({"live": True} if status < 400 else {"error": "failure %d" % status}).encode()
                self.send_response(status)
                for k, v in dict({"Content-Type": "application/json"}, **headers).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer
            do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stand_in():
    started = []

    def start(replies):
        s = StandIn(replies)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()
