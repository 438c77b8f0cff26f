#!/usr/bin/env python3
"""A crash server for tests/upload.rs: the documented contracts of Sentry's
minidump endpoint (POST /api/PROJECT/minidump/?sentry_key=KEY, multipart
field upload_file_minidump), its envelope endpoint (POST
/api/PROJECT/envelope/, an attachment item of attachment_type
event.minidump) and a Breakpad collector (POST /submit, multipart
upload_file_minidump with ProductName and Version, as Socorro requires;
answers CrashID=bp-...). Bodies may be gzipped (Content-Encoding: gzip).

Answers: 403 for a wrong sentry_key; 400 for a body without a minidump, a
minidump that does not start with MDMP, or a Breakpad upload without its
annotations; 413 for a minidump larger than --max-size; else 200. --script
CODES (comma-separated, e.g. 503,429,200) answers the first requests with
those codes whatever they hold (429 with Retry-After: --retry-after).

Every request is logged as one JSON line in RECORD/requests.jsonl; each
accepted minidump is written to RECORD/accepted-N.dmp. The port is written
to --port-file once the server listens.
"""

import argparse
import email.parser
import email.policy
import gzip
import http.server
import json
import os
import threading
import urllib.parse
import uuid

lock = threading.Lock()
state = {"count": 0, "accepted": 0}


def parse_multipart(ctype, body):
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
    )
    fields, files = {}, {}
    if not msg.is_multipart():
        return fields, files
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = data
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, files


def parse_envelope(body):
    """(header, [(item header, payload)]) of an envelope."""
    first, _, rest = body.partition(b"\n")
    header = json.loads(first)
    items = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        item = json.loads(line)
        length = item.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:]
            if rest.startswith(b"\n"):
                rest = rest[1:]
        items.append((item, payload))
    return header, items


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, text, headers=()):
        data = text.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        args = self.server.args
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        body = gzip.decompress(raw) if encoding == "gzip" else raw
        ctype = self.headers.get("Content-Type", "")
        with lock:
            n = state["count"]
            state["count"] += 1
        scripted = args.script[n] if n < len(args.script) else None
        log = {"n": n, "path": url.path, "query": query, "encoding": encoding,
               "content_type": ctype, "bytes": len(raw)}
        code, text, headers, dump = self.judge(url.path, query, ctype, body, log)
        if scripted is not None:
            code, dump = scripted, None
            text = "scripted"
            headers = [("Retry-After", str(args.retry_after))] if code == 429 else []
        log["status"] = code
        if dump is not None:
            with lock:
                k = state["accepted"]
                state["accepted"] += 1
            path = os.path.join(args.record, f"accepted-{k}.dmp")
            with open(path, "wb") as f:
                f.write(dump)
            log["saved"] = path
        with lock, open(os.path.join(args.record, "requests.jsonl"), "a") as f:
            f.write(json.dumps(log) + "\n")
        self.answer(code, text, headers)

    def judge(self, path, query, ctype, body, log):
        """(status, answer, headers, accepted minidump or None)."""
        args = self.server.args
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "api" and parts[2] in ("minidump", "envelope"):
            log["kind"] = parts[2]
            if parts[1] != args.project or query.get("sentry_key") != [args.key]:
                return 403, '{"detail":"invalid api key"}', [], None
            if parts[2] == "envelope":
                try:
                    header, items = parse_envelope(body)
                except (ValueError, json.JSONDecodeError) as e:
                    return 400, f'{{"detail":"invalid envelope: {e}"}}', [], None
                log["envelope_header"] = header
                log["items"] = [i for i, _ in items]
                dumps = [p for i, p in items if i.get("attachment_type") == "event.minidump"]
                fields = {}
                for i, p in items:
                    if i.get("type") == "event":
                        fields["sentry"] = p.decode()
                event_id = header.get("event_id", "")
            else:
                fields, files = parse_multipart(ctype, body)
                dumps = [files["upload_file_minidump"]] if "upload_file_minidump" in files else []
                event_id = uuid.uuid4().hex
            log["fields"] = fields
            ok = f'{{"id":"{event_id}"}}'
        elif path == "/submit":
            log["kind"] = "breakpad"
            fields, files = parse_multipart(ctype, body)
            log["fields"] = fields
            if not fields.get("ProductName") or not fields.get("Version"):
                return 400, "Discarded=malformed_no_annotations", [], None
            dumps = [files["upload_file_minidump"]] if "upload_file_minidump" in files else []
            ok = f"CrashID=bp-{uuid.uuid4()}\n"
        else:
            return 404, "not found", [], None
        if not dumps:
            return 400, '{"detail":"missing minidump"}', [], None
        dump = dumps[0]
        if dump[:2] == b"\x1f\x8b":
            dump = gzip.decompress(dump)
        log["minidump_bytes"] = len(dump)
        if not dump.startswith(b"MDMP"):
            return 400, '{"detail":"invalid minidump: bad magic"}', [], None
        if len(dump) > args.max_size:
            return 413, '{"detail":"payload too large"}', [], None
        return 200, ok, [], dump


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--key", default="public0key")
    p.add_argument("--project", default="42")
    p.add_argument("--max-size", type=int, default=1 << 20)
    p.add_argument("--retry-after", type=int, default=1)
    p.add_argument("--script", default="")
    args = p.parse_args()
    args.script = [int(c) for c in args.script.split(",") if c]
    os.makedirs(args.record, exist_ok=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.args = args
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
