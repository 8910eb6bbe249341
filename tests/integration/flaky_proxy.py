#!/usr/bin/env python3
"""A flaky HTTP proxy in front of an S3 peer, for retry tests.

usage: flaky_proxy.py UPSTREAM_PORT SEED
Prints "PORT <n>" once listening on 127.0.0.1 (kernel-chosen port).
Each PUT, at random (seeded):
  25%  503 SlowDown, not forwarded
  15%  forwarded (the object IS stored), then 500 InternalError to the client
  10%  the connection is dropped before any answer (not forwarded)
  rest forwarded normally.
Everything else is forwarded untouched. Counts go to stderr on exit.
"""
import http.client, random, signal, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

UP = int(sys.argv[1])
rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
lock = threading.Lock()
stats = {"put": 0, "slowdown": 0, "stored_then_500": 0, "dropped": 0, "ok": 0}

ERR = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
       '<Message>%s</Message><RequestId>flaky</RequestId></Error>')


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _forward(self, body):
        c = http.client.HTTPConnection("127.0.0.1", UP, timeout=30)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        hdrs["Content-Length"] = str(len(body))
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        out = [(k, v) for k, v in r.getheaders() if k.lower() not in ("connection", "transfer-encoding", "content-length")]
        c.close()
        return r.status, out, data

    def _reply(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _handle(self):
        body = self._body()
        if self.command == "PUT":
            with lock:
                stats["put"] += 1
                x = rnd.random()
            if x < 0.25:
                with lock: stats["slowdown"] += 1
                msg = (ERR % ("SlowDown", "Please reduce your request rate.")).encode()
                return self._reply(503, [("Content-Type", "application/xml")], msg)
            if x < 0.40:
                self._forward(body)
                with lock: stats["stored_then_500"] += 1
                msg = (ERR % ("InternalError", "We encountered an internal error. Please try again.")).encode()
                return self._reply(500, [("Content-Type", "application/xml")], msg)
            if x < 0.50:
                with lock: stats["dropped"] += 1
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            with lock: stats["ok"] += 1
        self._reply(*self._forward(body))

    do_PUT = do_GET = do_HEAD = do_POST = do_DELETE = _handle


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print("PORT %d" % srv.server_address[1], flush=True)


def stop(*_):
    threading.Thread(target=srv.shutdown).start()


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
srv.serve_forever()
print("flaky_proxy: %s" % stats, file=sys.stderr, flush=True)
