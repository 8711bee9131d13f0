#!/usr/bin/env python3
"""A small stateful double of Duo's Admin API for Reclaim's Duo connector tests.

Every request to /admin/ is verified with the signing code of Duo's own reference client,
duo_client (PyPI duo-client 5.7.0, BSD, Cisco Systems / Duo Security): the server rebuilds
the Authorization header with duo_client.client.sign() from what it received (date,
method, host, path, query parameters, body) and the keys it was started with, and refuses
a request whose header differs, with a 401 and Duo's error body, as Duo does. The signing
is never re-implemented here.

Only the endpoints the connector uses are served, with the fields it reads. State lives in
memory; the tests seed it and read it back through /_control/ (not signed), where they
also script faults:

  POST /_control/seed     {"users": [...], "phones": [...], "tokens": [...],
                           "webauthn": [...], "bypass_codes": [...], "groups": {...}}
  GET  /_control/state    the whole state
  POST /_control/grants   {"read_resource": bool, "write_resource": bool}
  POST /_control/faults   [{"method": "GET", "path": "/admin/v1/users", "times": 1,
                            "action": "status" | "drop_after_apply" | "delay" | "tamper",
                            "status": 503, "code": 50301, "message": "...",
                            "seconds": 2}]
  GET  /_control/log      [{"method", "path", "query", "verified"}]

Usage: duo_server.py --port P --ikey IKEY --skey SKEY --host API_HOSTNAME
"""

import argparse
import base64
import hmac
import json
import secrets
import socketserver
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from duo_client import client as duo

LOCK = threading.Lock()
STATE = {
    "users": {},
    "phones": {},
    "tokens": {},
    "webauthn": {},
    "bypass_codes": {},
    "groups": {},
}
GRANTS = {"read_resource": True, "write_resource": True}
FAULTS = []
LOG = []
ARGS = None


def fail(status, code, message, detail=None):
    body = {"stat": "FAIL", "code": code, "message": message}
    if detail is not None:
        body["message_detail"] = detail
    return status, body


def ok(response, metadata=None):
    body = {"stat": "OK", "response": response}
    if metadata:
        body["metadata"] = metadata
    return 200, body


def page(items, params):
    limit = int(params.get("limit", ["100"])[0])
    offset = int(params.get("offset", ["0"])[0])
    chunk = items[offset:offset + limit]
    meta = {"total_objects": len(items)}
    if offset + limit < len(items):
        meta["next_offset"] = offset + limit
    return ok(chunk, meta)


def user_view(u):
    return {k: v for k, v in u.items() if k != "groups"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the tests read /_control/log
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        path, _, query = self.path.partition("?")
        body = self.read_body()
        if path.startswith("/_control/"):
            return self.send_json(*control(method, path, body))
        fault = take_fault(method, path)
        if fault and fault["action"] == "tamper":
            # A man in the middle changes what was signed: the first parameter's value,
            # or the body.
            if body:
                body = body.replace(b'"active"', b'"disabled"').replace(b'"1"', b'"9"')
            elif query:
                k, _, v = query.partition("&")[0].partition("=")
                query = query.replace(k + "=" + v, k + "=" + v + "x", 1)
        verified, refusal = verify(method, path, query, body, self.headers)
        with LOCK:
            LOG.append({"method": method, "path": path, "query": query, "verified": verified})
        if not verified:
            return self.send_json(*refusal)
        if fault and fault["action"] == "status":
            return self.send_json(*fail(fault["status"], fault.get("code", fault["status"] * 100),
                                        fault.get("message", "Scripted failure")))
        if fault and fault["action"] == "delay":
            time.sleep(float(fault.get("seconds", 1)))
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        if method == "POST":
            try:
                params = {k: [v] for k, v in json.loads(body or b"{}").items()}
            except ValueError:
                return self.send_json(*fail(400, 40002, "Invalid request parameters"))
        with LOCK:
            status, answer = admin(method, path, params)
        if fault and fault["action"] == "drop_after_apply":
            # The change took effect; the answer is lost.
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_json(status, answer)


def take_fault(method, path):
    with LOCK:
        for f in FAULTS:
            if f["times"] > 0 and f.get("method", method) == method and path.startswith(f["path"]):
                f["times"] -= 1
                return dict(f)
    return None


def verify(method, path, query, body, headers):
    auth = headers.get("Authorization")
    date = headers.get("Date")
    if not auth or not date:
        return False, fail(401, 40101, "Missing request credentials")
    try:
        scheme, _, b64 = auth.partition(" ")
        ikey = base64.b64decode(b64).decode().partition(":")[0]
    except Exception:
        return False, fail(401, 40101, "Missing request credentials")
    if scheme != "Basic" or ikey != ARGS.ikey:
        return False, fail(401, 40102, "Invalid integration key in request credentials")
    if method in ("POST", "PUT", "PATCH"):
        params, signed_body = {}, body.decode("utf-8", "replace")
        if signed_body:
            # What duo_client itself would have sent for these parameters.
            try:
                if duo.Client.canon_json(json.loads(signed_body)) != signed_body:
                    return False, fail(400, 40002, "Invalid request parameters",
                                       "body is not duo_client's canonical JSON")
            except ValueError:
                return False, fail(400, 40002, "Invalid request parameters")
    else:
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        signed_body = ""
    extra = {k: v for k, v in headers.items() if k.lower().startswith("x-duo-")}
    expected = duo.sign(ARGS.ikey, ARGS.skey, method, ARGS.host, path, date, 5, params,
                        body=signed_body, additional_headers=extra)
    if not hmac.compare_digest(expected.encode(), auth.encode()):
        return False, fail(401, 40103, "Invalid signature in request credentials")
    return True, None


def need(grant):
    if not GRANTS.get(grant):
        # Duo's answer does not say which permission is missing; the connector must.
        return fail(403, 40301, "Access forbidden")
    return None


def admin(method, path, params):
    parts = path.strip("/").split("/")
    if parts[:2] != ["admin", "v1"]:
        return fail(404, 40401, "Resource not found")
    rest = parts[2:]
    write = method in ("POST", "DELETE")
    refusal = need("write_resource" if write else "read_resource")
    if refusal:
        return refusal
    users = STATE["users"]
    one = lambda k: params.get(k, [None])[0]
    if rest == ["users"] and method == "GET":
        found = list(users.values())
        if one("username") is not None:
            want = one("username").lower()
            found = [u for u in found if u["username"].lower() == want
                     or want in [a.lower() for a in u.get("aliases", {}).values()]]
            return ok([user_view(u) for u in found])
        if one("email") is not None:
            found = [u for u in found if (u.get("email") or "").lower() == one("email").lower()]
            return ok([user_view(u) for u in found])
        return page([user_view(u) for u in found], params)
    if rest == ["info", "summary"] and method == "GET":
        return ok({"user_count": len(users)})
    if len(rest) >= 2 and rest[0] == "users":
        u = users.get(rest[1])
        if u is None:
            return fail(404, 40401, "Resource not found")
        uid = u["user_id"]
        sub = rest[2:]
        if sub == [] and method == "GET":
            return ok(user_view(u))
        if sub == [] and method == "POST":
            status = one("status")
            if status is not None:
                if status not in ("active", "bypass", "disabled"):
                    return fail(400, 40002, "Invalid request parameters", "status")
                u["status"] = status
            return ok(user_view(u))
        if sub == ["phones"] and method == "GET":
            return page([p for p in STATE["phones"].values() if uid in p["users"]], params)
        if len(sub) == 2 and sub[0] == "phones" and method == "DELETE":
            p = STATE["phones"].get(sub[1])
            if p is None:
                return fail(404, 40401, "Resource not found")
            if uid in p["users"]:
                p["users"].remove(uid)
            return ok("")
        if sub == ["tokens"] and method == "GET":
            return page([t for t in STATE["tokens"].values() if uid in t["users"]], params)
        if len(sub) == 2 and sub[0] == "tokens" and method == "DELETE":
            t = STATE["tokens"].get(sub[1])
            if t is None:
                return fail(404, 40401, "Resource not found")
            if uid in t["users"]:
                t["users"].remove(uid)
            return ok("")
        if sub == ["webauthncredentials"] and method == "GET":
            return page([w for w in STATE["webauthn"].values() if w["user_id"] == uid], params)
        if sub == ["bypass_codes"] and method == "GET":
            return page([{k: v for k, v in c.items() if k != "code"}
                         for c in STATE["bypass_codes"].values() if c["user_id"] == uid], params)
        if sub == ["bypass_codes"] and method == "POST":
            count = int(one("count") or "10")
            valid = int(one("valid_secs") or "0")
            reuse = int(one("reuse_count") or "1")
            if one("preserve_existing") not in ("true", True):
                for k in [k for k, c in STATE["bypass_codes"].items() if c["user_id"] == uid]:
                    del STATE["bypass_codes"][k]
            now = int(time.time())
            codes = []
            for _ in range(count):
                code = "".join(str(secrets.randbelow(10)) for _ in range(9))
                cid = "DB" + secrets.token_hex(9).upper()
                STATE["bypass_codes"][cid] = {
                    "bypass_code_id": cid, "user_id": uid, "code": code, "created": now,
                    "expiration": now + valid if valid else None, "reuse_count": reuse,
                    "valid_secs": valid,
                }
                codes.append(code)
            return ok(codes)
        if sub == ["groups"] and method == "GET":
            return page([{"group_id": "DG" + str(i), "name": g}
                         for i, g in enumerate(u.get("groups", []))], params)
    if len(rest) == 2 and rest[0] == "webauthncredentials" and method == "DELETE":
        STATE["webauthn"].pop(rest[1], None)
        return ok("")
    if len(rest) == 2 and rest[0] == "bypass_codes" and method == "DELETE":
        if STATE["bypass_codes"].pop(rest[1], None) is None:
            return fail(404, 40401, "Resource not found")
        return ok("")
    return fail(404, 40401, "Resource not found")


def control(method, path, body):
    data = json.loads(body or b"null")
    with LOCK:
        if path == "/_control/seed" and method == "POST":
            STATE["users"] = {u["user_id"]: dict({"status": "active", "aliases": {}}, **u)
                              for u in data.get("users", [])}
            STATE["phones"] = {p["phone_id"]: p for p in data.get("phones", [])}
            STATE["tokens"] = {t["token_id"]: t for t in data.get("tokens", [])}
            STATE["webauthn"] = {w["webauthnkey"]: w for w in data.get("webauthn", [])}
            STATE["bypass_codes"] = {c["bypass_code_id"]: c for c in data.get("bypass_codes", [])}
            return 200, {"ok": True}
        if path == "/_control/state" and method == "GET":
            return 200, STATE
        if path == "/_control/grants" and method == "POST":
            GRANTS.update(data)
            return 200, GRANTS
        if path == "/_control/faults" and method == "POST":
            FAULTS.extend(data)
            return 200, {"ok": True}
        if path == "/_control/log" and method == "GET":
            return 200, LOG
    return 404, {"error": "no such control"}


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ikey", required=True)
    parser.add_argument("--skey", required=True)
    parser.add_argument("--host", required=True)
    ARGS = parser.parse_args()
    socketserver.TCPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    print("duo_server ready on 127.0.0.1:%d (duo_client %s)" % (ARGS.port, duo.__version__), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
