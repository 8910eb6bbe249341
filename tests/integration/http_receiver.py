#!/usr/bin/env python3
"""HTTP endpoint receiver for integration tests (Firehose spec section 5).

Listens on 127.0.0.1, checks every request against the spec (method,
headers, body shape, base64) and answers as told. Every request is appended
to a JSONL file, one object per line:

  {"time": ms, "path": "/x?q", "requestId": "...", "headers": {...},
   "records": ["<base64>", ...], "status": 200, "mode": "ok",
   "duplicate": false, "problems": ["..."]}

"problems" lists spec violations (then the answer is 400); "duplicate" is
true when this requestId was already answered 200 before.

Modes (--mode, or at run time POST /control {"mode": M, "count": N}):
  ok               200 with {"requestId", "timestamp"}
  fail-500         500 with an errorMessage, 'count' times (default: always),
                   then ok
  413              413 Payload Too Large
  bad-request-id   200 echoing a different requestId
  not-json         200 with a text body
  hang             sleep --hang-seconds before answering 200
GET /control answers {"requests", "records", "accepted_records",
"request_ids", "mode", "remaining"}. The port is printed as "PORT <n>" on
stdout and written to --port-file when given.

  python3 http_receiver.py --out req.jsonl --port-file port [--mode fail-500
      --count 2] [--access-key K] [--source-arn ARN] [--path /ingest]
"""
import argparse
import base64
import binascii
import gzip
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UUIDISH = re.compile(r"^[0-9a-fA-F-]{1,64}$")
ARN = re.compile(r"^arn:aws[a-z-]*:firehose:[a-z0-9-]+:\d{12}:"
                 r"deliverystream/[A-Za-z0-9_.-]{1,64}$")
MODES = ("ok", "fail-500", "413", "bad-request-id", "not-json", "hang")


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.mode = args.mode
        self.remaining = args.count     # -1: forever
        self.requests = 0
        self.records = 0
        self.accepted_records = 0
        self.accepted_ids = set()
        self.out = open(args.out, "a", buffering=1) if args.out else None

    def next_mode(self):
        """The mode for this request; counted modes fall back to ok."""
        with self.lock:
            self.requests += 1
            mode = self.mode
            if mode != "ok" and self.remaining == 0:
                return "ok"
            if mode != "ok" and self.remaining > 0:
                self.remaining -= 1
            return mode


def check(handler, st, body):
    """Spec 5.1 checks; returns (problems, request_id, records)."""
    p = []
    h = handler.headers
    a = st.args
    if a.path and handler.path != a.path:
        p.append("path %s, want %s" % (handler.path, a.path))
    if h.get("Content-Type") != "application/json":
        p.append("Content-Type is %r" % h.get("Content-Type"))
    if h.get("X-Amz-Firehose-Protocol-Version") != "1.0":
        p.append("X-Amz-Firehose-Protocol-Version is %r"
                 % h.get("X-Amz-Firehose-Protocol-Version"))
    rid = h.get("X-Amz-Firehose-Request-Id") or ""
    if not UUIDISH.match(rid):
        p.append("X-Amz-Firehose-Request-Id is %r" % rid)
    arn = h.get("X-Amz-Firehose-Source-Arn") or ""
    if a.source_arn and arn != a.source_arn:
        p.append("X-Amz-Firehose-Source-Arn %r, want %r" % (arn, a.source_arn))
    elif not ARN.match(arn):
        p.append("X-Amz-Firehose-Source-Arn is %r" % arn)
    key = h.get("X-Amz-Firehose-Access-Key")
    if a.access_key is not None and key != a.access_key:
        p.append("X-Amz-Firehose-Access-Key is wrong")
    if a.no_access_key and key is not None:
        p.append("X-Amz-Firehose-Access-Key should be absent")
    attrs = h.get("X-Amz-Firehose-Common-Attributes")
    if attrs is not None:
        try:
            ca = json.loads(attrs)
            if list(ca) != ["commonAttributes"] or not all(
                    isinstance(v, str) for v in ca["commonAttributes"].values()):
                raise ValueError
        except (ValueError, AttributeError, TypeError):
            p.append("X-Amz-Firehose-Common-Attributes is %r" % attrs)
    enc = h.get("Content-Encoding")
    if enc == "gzip":
        try:
            body = gzip.decompress(body)
        except OSError:
            p.append("Content-Encoding gzip, but the body is not gzip")
            return p, rid, []
    elif enc is not None:
        p.append("Content-Encoding is %r" % enc)
    if len(body) > 64 * 1024 * 1024:
        p.append("body above 64 MiB")
    records = []
    try:
        doc = json.loads(body)
        if not isinstance(doc, dict) or set(doc) != {
                "requestId", "timestamp", "records"}:
            raise ValueError("keys are %r" % sorted(doc))
        if doc["requestId"] != rid:
            p.append("body requestId %r differs from the header"
                     % doc["requestId"])
        if not isinstance(doc["timestamp"], int) or isinstance(
                doc["timestamp"], bool):
            p.append("timestamp is not an integer")
        recs = doc["records"]
        if not isinstance(recs, list) or not 1 <= len(recs) <= 10000:
            raise ValueError("records must be a list of 1-10000")
        for i, r in enumerate(recs):
            if not isinstance(r, dict) or list(r) != ["data"] or \
                    not isinstance(r["data"], str):
                raise ValueError("records[%d] is not {\"data\": str}" % i)
            base64.b64decode(r["data"], validate=True)
            records.append(r["data"])
    except (ValueError, binascii.Error) as e:
        p.append("body: %s" % e)
    return p, rid, records


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj=None, text=None):
        data = text.encode() if text is not None else \
            json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        if text is None:
            self.send_header("Content-Type", "application/json")
        else:
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        st = self.server.st
        if self.path != "/control":
            return self.reply(404, {"errorMessage": "not found"})
        with st.lock:
            self.reply(200, {
                "requests": st.requests, "records": st.records,
                "accepted_records": st.accepted_records,
                "request_ids": len(st.accepted_ids), "mode": st.mode,
                "remaining": st.remaining})

    def do_POST(self):
        st = self.server.st
        body = self.body()
        if self.path == "/control":
            try:
                c = json.loads(body)
                if c.get("mode", st.mode) not in MODES:
                    raise ValueError("mode must be one of %s" % (MODES,))
                with st.lock:
                    st.mode = c.get("mode", st.mode)
                    st.remaining = int(c.get("count", -1))
            except (ValueError, TypeError, AttributeError) as e:
                return self.reply(400, {"errorMessage": str(e)})
            return self.reply(200, {"mode": st.mode})
        problems, rid, records = check(self, st, body)
        mode = st.next_mode()
        ts = int(time.time() * 1000)
        with st.lock:
            st.records += len(records)
            duplicate = rid in st.accepted_ids
        if problems:
            status, ans = 400, {"requestId": rid, "timestamp": ts,
                                "errorMessage": "; ".join(problems)[:8192]}
        elif mode == "fail-500":
            status, ans = 500, {"requestId": rid, "timestamp": ts,
                                "errorMessage": "induced failure"}
        elif mode == "413":
            status, ans = 413, {"requestId": rid, "timestamp": ts,
                                "errorMessage": "Payload Too Large"}
        elif mode == "bad-request-id":
            status, ans = 200, {"requestId": "not-" + rid, "timestamp": ts}
        elif mode == "not-json":
            status, ans = 200, None
        else:
            if mode == "hang":
                time.sleep(st.args.hang_seconds)
            status, ans = 200, {"requestId": rid, "timestamp": ts}
        if status == 200 and mode in ("ok", "hang"):
            with st.lock:
                if not duplicate:
                    st.accepted_records += len(records)
                st.accepted_ids.add(rid)
        if st.out:
            line = json.dumps({
                "time": ts, "path": self.path, "requestId": rid,
                "headers": {k: v for k, v in self.headers.items()
                            if k.lower() != "x-amz-firehose-access-key"},
                "records": records, "status": status, "mode": mode,
                "duplicate": duplicate, "problems": problems})
            with st.lock:
                st.out.write(line + "\n")
        try:
            if mode == "not-json" and not problems:
                self.reply(200, text="OK")
            else:
                self.reply(status, ans)
        except (BrokenPipeError, ConnectionResetError):
            pass    # the client gave up (hang mode)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--out", help="JSONL file of every request")
    ap.add_argument("--mode", choices=MODES, default="ok")
    ap.add_argument("--count", type=int, default=-1,
                    help="requests the mode applies to (-1: all)")
    ap.add_argument("--hang-seconds", type=float, default=30.0)
    ap.add_argument("--access-key", help="expected X-Amz-Firehose-Access-Key")
    ap.add_argument("--no-access-key", action="store_true",
                    help="the Access-Key header must be absent")
    ap.add_argument("--source-arn", help="expected X-Amz-Firehose-Source-Arn")
    ap.add_argument("--path", help="expected request path (with query)")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.st = State(args)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    print("PORT %d" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
