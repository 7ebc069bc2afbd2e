"""Check GraphiQL in a real headless browser (Debian's chromium), against a running server:
the page loads with no request leaving the server, the schema loads with the token from the
header editor, and a subscription run from the IDE shows a ticket change made meanwhile.

    .venv/bin/python scripts/check_graphiql.py --url http://127.0.0.1:8000 \
        --username admin --password admin-demo-pass [--screenshot graphiql.png]

Not a test (the suite does not need a browser); it exits 0 when every step passed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from base64 import b64decode
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

SUBSCRIPTION = "subscription { ticketUpdates { position type ticket { number status } } }"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Page:
    """A minimal Chrome DevTools Protocol client for one tab."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, seconds: float, what: str) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise SystemExit(f"FAILED: {what} (after {seconds:.0f} s)")


def graphql(url: str, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin-demo-pass")
    parser.add_argument("--province", default="GD", help="of the ticket the check drafts")
    parser.add_argument("--screenshot", type=Path, default=Path("graphiql-check.png"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    url = args.url.rstrip("/")

    login = graphql(
        url,
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {"
        " session { token } userErrors { code message } } }",
        {"u": args.username, "p": args.password},
    )
    token = login["data"]["login"]["session"]["token"]
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    page_url = f"{url}/graphql?" + urllib.parse.urlencode(
        {"query": SUBSCRIPTION, "headers": headers}
    )

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profile = tempfile.mkdtemp(prefix="spoa-chromium-")
    browser = subprocess.Popen(  # noqa: S603 - the browser the operator named
        [args.chromium, *FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                tabs = httpx.get(f"http://127.0.0.1:{port}/json").json()
                target = next(t for t in tabs if t.get("type") == "page")
                break
            except (httpx.HTTPError, StopIteration):
                if time.monotonic() > deadline:
                    raise SystemExit("FAILED: chromium did not start") from None
                time.sleep(0.25)
        with connect(target["webSocketDebuggerUrl"], max_size=None) as devtools:
            check(Page(devtools), url, page_url, token, args)
    finally:
        browser.terminate()
        browser.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def check(page: Page, url: str, page_url: str, token: str, args: argparse.Namespace) -> None:
    page.call("Network.enable")
    page.call("Page.enable")
    page.call("Page.navigate", url=page_url)
    page.wait_for("!!document.querySelector('.graphiql-execute-button')", 30, "the IDE")
    # The schema loaded (introspection with the header editor's token): docs are there.
    page.wait_for(
        "!!document.querySelector('.graphiql-doc-explorer-search') ||"
        " !document.querySelector('.graphiql-spinner')",
        30,
        "the schema",
    )
    page.evaluate("document.querySelector('.graphiql-execute-button').click()")
    time.sleep(2)  # the socket opens and subscribes
    drafted = graphql(
        url,
        'mutation($p: Province) { saveTicketDraft(input: {title: "GraphiQL check",'
        ' body: "from the browser check", category: OTHER, priority: LOW, province: $p})'
        " { position userErrors { code message } } }",
        {"p": args.province},
        token,
    )
    print("drafted:", json.dumps(drafted["data"]))
    shown = page.wait_for(
        "(document.querySelector('.result-window') || {}).innerText || ''"
        " ? ((document.querySelector('.result-window').innerText.includes('TicketDrafted'))"
        " && document.querySelector('.result-window').innerText) : ''",
        30,
        "the subscription's update in the result pane",
    )
    print("result pane:", " ".join(str(shown).split())[:300])
    shot = page.call("Page.captureScreenshot", format="png")
    args.screenshot.write_bytes(b64decode(shot["data"]))
    requests = [
        e["params"]["request"]["url"]
        for e in page.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    origin = urllib.parse.urlsplit(url)
    foreign = [
        r
        for r in requests
        if urllib.parse.urlsplit(r).netloc != origin.netloc and not r.startswith("data:")
    ]
    print(f"requests: {len(requests)}, to other hosts: {foreign or 'none'}")
    if foreign:
        raise SystemExit("FAILED: the page loaded something from elsewhere")
    print(f"OK: GraphiQL loaded offline and ran a subscription; screenshot {args.screenshot}")


if __name__ == "__main__":
    sys.exit(main())
