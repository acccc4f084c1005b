"""A local HTTP server speaking the part of Mailgun's API opsproject uses, for real-HTTP tests.

- `POST /v3/{domain}/messages`: Anymail's send; answers `{"id", "message": "Queued. Thank you."}`,
  or the status set in `fail_status[recipient]`.
- `GET /v4/domains/{domain}`: `{"domain": {"name", "state", "is_disabled"}}`.
- `GET /v3/{domain}/bounces|complaints|unsubscribes`: Mailgun's paging (`paging.next` URLs,
  `page=next&address=LAST`), at most `page_cap` items a page, an empty page at the end.

Every request needs basic auth `api:{key}`, else 401, like Mailgun.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

_ids = itertools.count(1)


@dataclass
class Sent:
    domain: str
    form: dict[str, list[str]]

    @property
    def to(self) -> list[str]:
        return self.form.get("to", [])

    def variables(self) -> dict[str, str]:
        return {k[2:]: v[-1] for k, v in self.form.items() if k.startswith("v:")}


@dataclass
class FakeMailgun:
    key: str = "key-test-0123456789abcdef"
    domain: str = "mg.example.com"
    state: str = "active"
    page_cap: int = 2
    lists: dict[str, list[dict]] = field(
        default_factory=lambda: {"bounces": [], "complaints": [], "unsubscribes": []}
    )
    fail_status: dict[str, int] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def start(self) -> FakeMailgun:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet test output
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, method: str, path_start: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(path_start))

    # --- the handler ------------------------------------------------------------------------

    def _reply(self, handler, status: int, body) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _authorized(self, handler) -> bool:
        expected = "Basic " + base64.b64encode(f"api:{self.key}".encode()).decode()
        return handler.headers.get("Authorization") == expected

    def _handle(self, handler, method: str) -> None:
        split = urlsplit(handler.path)
        self.requests.append((method, split.path))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if not self._authorized(handler):
            return self._reply(handler, 401, {"message": "Invalid private key"})
        parts = split.path.strip("/").split("/")
        if method == "GET" and parts[:2] == ["v4", "domains"] and len(parts) == 3:
            if parts[2] != self.domain:
                return self._reply(handler, 404, {"message": "Domain not found"})
            info = {"name": self.domain, "state": self.state, "is_disabled": self.state == "disabled"}
            return self._reply(
                handler, 200, {"domain": info, "receiving_dns_records": [], "sending_dns_records": []}
            )
        if len(parts) == 3 and parts[0] == "v3":
            if parts[1] != self.domain:
                return self._reply(handler, 404, {"message": "Domain not found"})
            if method == "POST" and parts[2] == "messages":
                return self._send(handler, body)
            if method == "GET" and parts[2] in self.lists:
                return self._page(handler, parts[2], parse_qs(split.query))
        return self._reply(handler, 404, {"message": "not here"})

    def _send(self, handler, body: bytes) -> None:
        form = _form(handler.headers.get("Content-Type", ""), body)
        for recipient in form.get("to", []):
            for address, status in self.fail_status.items():
                if address in recipient:
                    return self._reply(handler, status, {"message": f"refused for {address}"})
        self.sent.append(Sent(self.domain, form))
        message_id = f"<{next(_ids)}.fake@{self.domain}>"
        return self._reply(handler, 200, {"id": message_id, "message": "Queued. Thank you."})

    def _page(self, handler, kind: str, query: dict[str, list[str]]) -> None:
        items = sorted(self.lists[kind], key=lambda item: item["address"])
        limit = min(int(query.get("limit", ["100"])[0]), self.page_cap)
        after = query.get("address", [""])[0] if query.get("page", [""])[0] == "next" else ""
        page = [item for item in items if item["address"] > after][:limit]
        base = f"http://{handler.headers['Host']}/v3/{self.domain}/{kind}"
        last = page[-1]["address"] if page else after
        paging = {
            "first": f"{base}?{urlencode({'limit': limit})}",
            "next": f"{base}?{urlencode({'page': 'next', 'address': last, 'limit': limit})}",
            "previous": f"{base}?{urlencode({'page': 'previous', 'address': after, 'limit': limit})}",
            "last": f"{base}?{urlencode({'page': 'last', 'limit': limit})}",
        }
        return self._reply(handler, 200, {"items": page, "paging": paging})


def _form(content_type: str, body: bytes) -> dict[str, list[str]]:
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    form: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name and part.get_filename() is None:
            form.setdefault(name, []).append(part.get_content())
    return form
