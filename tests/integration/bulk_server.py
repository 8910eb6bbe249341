#!/usr/bin/env python3
"""A small OpenSearch-like _bulk server for integration tests (spec 6).

POST /_bulk takes NDJSON (action line + document line, trailing newline;
actions "index" and "create"), stores each document in memory by
(_index, _id) (an _id is generated when the action has none) and answers
per item the way OpenSearch documents it:

  {"took": 1, "errors": true, "items": [
    {"index": {"_index": "i", "_id": "a", "_version": 1, "result": "created",
               "status": 201}},
    {"index": {"_index": "i", "_id": "b", "status": 429, "error": {
        "type": "es_rejected_execution_exception", "reason": "..."}}}]}

A document that is not a JSON object, or has a top-level _id, fails with
400 mapper_parsing_exception. Chosen ids fail on demand:
  --fail ID=429[:N]   (N times, default always; also 400, 500, 503)
or at run time POST /_control {"fail": {"ID": [429, N]}, "mode": M}, where
mode is "ok", "503" (whole request answers 503) or "hang" (sleep
--hang-seconds). GET /_dump returns, and --dump FILE receives on every
request and at exit:
  {"requests": n, "received": n_items, "docs": [{"_index", "_id",
   "_source", "version"}]}
("version" counts how often a document was written: a retry that re-sends
a stored document shows up as version 2). --basic USER:PASS requires that
HTTP basic auth. The port is printed as "PORT <n>" and written to
--port-file.
"""
import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.mode = "ok"
        self.fail = {}          # id -> [status, remaining (-1 = always)]
        for f in args.fail:
            fid, _, rule = f.partition("=")
            status, _, n = rule.partition(":")
            self.fail[fid] = [int(status), int(n) if n else -1]
        self.docs = {}          # (index, id) -> [source, version]
        self.requests = 0
        self.received = 0

    def dump(self):
        with self.lock:
            return {"requests": self.requests, "received": self.received,
                    "docs": [{"_index": k[0], "_id": k[1], "_source": v[0],
                              "version": v[1]}
                             for k, v in sorted(self.docs.items())]}

    def write_dump(self):
        if not self.args.dump:
            return
        data = json.dumps(self.dump())
        with open(self.args.dump + ".tmp", "w") as f:
            f.write(data)
        os.replace(self.args.dump + ".tmp", self.args.dump)

    def scripted(self, doc_id):
        rule = self.fail.get(doc_id)
        if rule is None or rule[1] == 0:
            return 0
        if rule[1] > 0:
            rule[1] -= 1
        return rule[0]


ERRORS = {
    429: ("es_rejected_execution_exception",
          "rejected execution of coordinating operation"),
    400: ("mapper_parsing_exception", "failed to parse"),
    500: ("internal_server_error", "induced failure"),
    503: ("unavailable_shards_exception", "primary shard is not active"),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, etype, reason):
        self.reply(status, {"error": {"root_cause": [
            {"type": etype, "reason": reason}], "type": etype,
            "reason": reason}, "status": status})

    def do_GET(self):
        if self.path.startswith("/_dump"):
            return self.reply(200, self.server.st.dump())
        return self.error(404, "index_not_found_exception", "no such index")

    def authorized(self):
        want = self.server.st.args.basic
        if not want:
            return True
        return self.headers.get("Authorization") == \
            "Basic " + base64.b64encode(want.encode()).decode()

    def do_POST(self):
        st = self.server.st
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/_control":
            try:
                c = json.loads(body)
                with st.lock:
                    st.mode = c.get("mode", st.mode)
                    for fid, rule in c.get("fail", {}).items():
                        st.fail[fid] = [int(rule[0]), int(rule[1])]
            except (ValueError, TypeError, AttributeError, IndexError) as e:
                return self.error(400, "parse_exception", str(e))
            return self.reply(200, {"acknowledged": True})
        if self.path.split("?")[0] != "/_bulk":
            return self.error(400, "invalid_index_name_exception",
                              "only POST /_bulk is served")
        if not self.authorized():
            return self.error(401, "security_exception",
                              "missing authentication credentials")
        with st.lock:
            st.requests += 1
            mode = st.mode
        if mode == "503":
            return self.error(503, "cluster_block_exception",
                              "blocked by: [SERVICE_UNAVAILABLE]")
        if mode == "hang":
            time.sleep(st.args.hang_seconds)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        if ctype not in ("application/x-ndjson", "application/json"):
            return self.error(406, "content_type_exception",
                              "Content-Type %r is not supported" % ctype)
        if not body.endswith(b"\n"):
            return self.error(400, "illegal_argument_exception",
                              "The bulk request must be terminated by a "
                              "newline [\\n]")
        lines = body.split(b"\n")[:-1]
        if len(lines) % 2:
            return self.error(400, "illegal_argument_exception",
                              "an action line without its document")
        items, errors = [], False
        t0 = time.time()
        for i in range(0, len(lines), 2):
            try:
                action = json.loads(lines[i])
                (verb, meta), = action.items()
                if verb not in ("index", "create") or "_index" not in meta:
                    raise ValueError
            except (ValueError, AttributeError):
                return self.error(400, "illegal_argument_exception",
                                  "Malformed action/metadata line [%d]"
                                  % (i + 1))
            index = meta["_index"]
            doc_id = meta.get("_id") or uuid.uuid4().hex
            item = {"_index": index, "_id": doc_id}
            try:
                doc = json.loads(lines[i + 1])
            except ValueError:
                doc = None
            with st.lock:
                st.received += 1
                status = st.scripted(doc_id)
                if status == 0 and not isinstance(doc, dict):
                    status, reason = 400, "failed to parse: not an object"
                elif status == 0 and "_id" in doc:
                    status, reason = 400, ("Field [_id] is a metadata field "
                                           "and cannot be added inside a "
                                           "document.")
                else:
                    reason = None
                if status == 0:
                    key = (index, doc_id)
                    old = st.docs.get(key)
                    st.docs[key] = [doc, old[1] + 1 if old else 1]
                    item.update({"_version": st.docs[key][1],
                                 "result": "updated" if old else "created",
                                 "status": 200 if old else 201})
                else:
                    errors = True
                    etype, ereason = ERRORS.get(status, ERRORS[500])
                    item.update({"status": status, "error": {
                        "type": etype, "reason": reason or ereason}})
            items.append({verb: item})
        st.write_dump()
        self.reply(200, {"took": int((time.time() - t0) * 1000),
                         "errors": errors, "items": items})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--dump", help="file that receives the documents")
    ap.add_argument("--fail", action="append", default=[],
                    metavar="ID=STATUS[:N]")
    ap.add_argument("--basic", metavar="USER:PASS")
    ap.add_argument("--hang-seconds", type=float, default=30.0)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.st = State(args)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    print("PORT %d" % port, flush=True)

    def stop(signum, frame):
        srv.st.write_dump()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        srv.st.write_dump()
    return 0


if __name__ == "__main__":
    sys.exit(main())
