"""A webhook receiver on this machine, and a sweep that runs the delivery tasks it queues."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from arbiter.sweeper import run_sweep
from arbiter.tasks import run_ready_tasks


def sweep() -> None:
    """A sweep, then the delivery tasks it queued (a worker would run them)."""
    run_sweep()
    run_ready_tasks()


class Receiver:
    """A local HTTP server that answers with the given statuses, then 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.delay = 0.0  # seconds before answering: a slow receiver
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": body})
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/arbiter"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
