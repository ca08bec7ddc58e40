"""A small fake of Twilio's REST API (call updates only) on 127.0.0.1 that records requests.

Answers ``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` as Twilio does
(https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource): HTTP basic
auth must be the account SID and :attr:`FakeTwilio.auth_token` (else 401, Twilio's error
20003); a call in :attr:`FakeTwilio.ended` is a 404 (error 20404); otherwise 200 with the
call's JSON.  Every request, authenticated or not, is recorded in :attr:`FakeTwilio.updates`.
Point ``$TWILIO_API_BASE_URL`` at :attr:`FakeTwilio.base_url`.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field

from aiohttp import web

ACCOUNT_SID = "AC00000000000000000000000000000001"


@dataclass(frozen=True)
class CallUpdate:
    """One recorded request: the path's account and call, the form, and whether the basic
    auth was right."""

    account_sid: str
    call_sid: str
    form: dict[str, str]
    authorised: bool


@dataclass
class FakeTwilio:
    """The fake server; :meth:`start` runs it in a thread with its own event loop."""

    auth_token: str
    account_sid: str = ACCOUNT_SID
    updates: list[CallUpdate] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    """Call SIDs answered with 404 (the call is over)."""
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def _authorised(self, request: web.Request, account_sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return account_sid == self.account_sid and header == f"Basic {expected}"

    async def _update(self, request: web.Request) -> web.Response:
        account_sid, call_sid = request.match_info["account"], request.match_info["call"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        authorised = self._authorised(request, account_sid)
        self.updates.append(CallUpdate(account_sid, call_sid, form, authorised))
        if not authorised:
            return web.json_response({"code": 20003, "message": "Authenticate",
                                      "status": 401}, status=401)
        if call_sid in self.ended:
            return web.json_response({"code": 20404, "message": "Not found",
                                      "status": 404}, status=404)
        return web.json_response({"sid": call_sid, "account_sid": account_sid,
                                  "status": "in-progress"})

    def start(self) -> FakeTwilio:
        """Start serving; returns once the port is bound."""
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json",
                                self._update)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def close(self) -> None:
        """Stop the server and its thread."""
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
