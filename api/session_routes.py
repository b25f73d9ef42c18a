"""Browser sign-in: ``/signin`` (the page a sign-in link opens), ``/auth/session``, sign-out.

A browser cannot send an API key when it opens ``/maps/…``, so ``gisgov keys add`` prints a
link ``/signin#code=…`` (and a QR code of it). The page posts the one-time code to
``POST /auth/session`` and gets an HttpOnly, ``SameSite=Lax`` session cookie (``Secure``
when the browser came over https, directly or through a trusted proxy), then goes to the
role's start page: ``/field`` for field staff, ``/maps/`` for everyone else. From then on
the maps, the field page and every GET of the API answer for that key's role and scope
(:func:`api.deps.get_principal`); requests that change anything still need the key itself,
so another site cannot act with the cookie. ``POST /auth/signout`` ends the session on the
server and clears the cookie. Sessions and codes are stored hashed (:mod:`gisgov.sessions`).

The page holds no data, and the routes return only the caller's own role and scope: the
policy matrix classifies them as such.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import SESSION_COOKIE, SIGNOUT_PATH, get_principal, get_state, reject_unknown_query
from api.errors import ApiProblemError
from gisgov.keys import InvalidKeyError
from gisgov.privacy import Principal
from gisgov.sessions import end_session, redeem_signin_code, start_session

__all__ = ["ROLE_NAMES", "home_for", "router"]

router = APIRouter(dependencies=[Depends(reject_unknown_query)], tags=["Sign-in 登录"])

#: How the pages name each role.
ROLE_NAMES = {"planner": "规划人员", "coordinator": "社区管理员", "field": "网格员",
              "public": "公众（未登录）"}


def home_for(principal: Principal) -> str:
    """The start page of a role: the field lookup for field staff, the maps for the others."""
    return "/field" if principal.role == "field" else "/maps/"


def _who(principal: Principal, request: Request) -> dict[str, Any]:
    session = getattr(request.state, "session", None)
    return {
        "role": principal.role,
        "role_name": ROLE_NAMES[principal.role],
        "signed_in": principal.role != "public",
        "by": "session" if session is not None else ("key" if principal.key_id else None),
        "key_id": principal.key_id,
        "grids": sorted(principal.grids or ()),
        "communities": sorted(principal.communities or ()),
        "subdistricts": sorted(principal.subdistricts or ()),
        "expires_at": session.expires_at if session is not None else None,
        "home": home_for(principal),
    }


def _same_origin(request: Request, what: str) -> None:
    """403 when a browser says the request comes from a page of another site (``Origin``):
    no other site may sign a user in (to its own key) or out. Clients that send no
    ``Origin`` (scripts, curl) are not browsers acting for someone else."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin and origin != "null" and origin.rstrip("/") != own:
        raise ApiProblemError(403, f"{what} must come from this service's own pages")


def _cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


_SIGNIN_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "code": {"type": "string", "maxLength": 200,
             "description": "The one-time code of a sign-in link (`gisgov keys add`)"},
    "key": {"type": "string", "maxLength": 200,
            "description": "An API key, traded for a session so the browser need not keep it"},
}}


@router.post("/auth/session", summary="Sign in a browser 浏览器登录",
             responses={401: {"description": "Unknown, used or expired code or key"}})
async def signin(request: Request,
                 body: dict[str, Any] = Body(..., json_schema_extra=_SIGNIN_BODY)) -> Response:
    """Trade a one-time sign-in code (or an API key) for a session cookie."""
    _same_origin(request, "sign-in")
    state = get_state(request)
    code, key = body.get("code"), body.get("key")
    if not (isinstance(code, str) and code) and not (isinstance(key, str) and key):
        raise ApiProblemError(400, "send {\"code\": …} from a sign-in link (or {\"key\": …})")
    if isinstance(code, str) and code:
        try:
            key_id = await run_in_threadpool(redeem_signin_code, state.ws, code)
        except InvalidKeyError as exc:
            raise ApiProblemError(401, str(exc)) from None
        principal = state.keys.principal_for_id(key_id)
    else:
        principal = state.keys.principal_for(str(key))
    if principal.key_id is None:
        raise ApiProblemError(400, "that key signs in as nobody")
    hours = state.settings.session_hours
    secret, session = await run_in_threadpool(start_session, state.ws, principal.key_id,
                                              hours=hours)
    if state.sessions is not None:
        state.sessions.invalidate()  # this process sees the new session at once
    state.audit.record(principal, action="signin", target="session",
                       detail=f"browser session until {session.expires_at:.0f} "
                              f"({'sign-in link' if code else 'API key'})")
    request.state.session = session
    response = JSONResponse(_who(principal, request))
    _cookie(response, request, secret, int(hours * 3600))
    return response


@router.get("/auth/session", summary="Who am I? 当前登录")
def whoami(request: Request, principal: Principal = Depends(get_principal)) -> Response:
    """The caller's role and scope (``public`` when not signed in), and the session's expiry."""
    return JSONResponse(_who(principal, request))


@router.post(SIGNOUT_PATH, summary="Sign out 退出登录")
async def signout(request: Request, principal: Principal = Depends(get_principal)) -> Response:
    """End this browser's session on the server and clear its cookie.

    Refused (403) when the request comes from a page of another site (its ``Origin``), so no
    other site can sign a user out either.
    """
    _same_origin(request, "sign-out")
    state = get_state(request)
    secret = request.cookies.get(SESSION_COOKIE)
    ended = False
    if secret:
        ended = await run_in_threadpool(end_session, state.ws, secret)
        if state.sessions is not None:
            state.sessions.invalidate()
    if ended:
        state.audit.record(principal, action="signout", target="session")
    response = JSONResponse({"signed_out": ended, "home": "/field"})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")
    return response


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · 网格责任查询</title>
<style>body{font:17px/1.6 "Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
margin:0;background:#f4f4f4;color:#222}header{background:#b71c1c;color:#fff;padding:10px 14px;
font-size:19px}main{margin:16px;background:#fff;border-radius:8px;padding:14px;
box-shadow:0 1px 3px rgba(0,0,0,.25)}.err{color:#b71c1c}button,a.btn{font-size:17px;
padding:10px 16px;border:0;border-radius:6px;background:#c62828;color:#fff;
text-decoration:none;display:inline-block;margin-top:8px}</style></head>
<body><header>网格责任查询 · 登录</header><main id="msg"><p>正在登录…</p></main>
<script>
(function () {
  var HOME = __HOME__;
  var msg = document.getElementById("msg");
  function say(text, cls) { msg.innerHTML = ""; var p = document.createElement("p");
    p.textContent = text; if (cls) { p.className = cls; } msg.appendChild(p); return p; }
  function link(href, text) { var a = document.createElement("a"); a.href = href;
    a.className = "btn"; a.textContent = text; msg.appendChild(a); }
  var m = /(?:^#|&)(code|key)=([^&]+)/.exec(location.hash);
  // The code is in the fragment, which no server or proxy log sees; it is used once.
  history.replaceState(null, "", location.pathname);
  if (!m) {
    say("请打开管理员发给您的登录链接（或扫描登录二维码）。");
    link(HOME, "不登录，继续查询");
    return;
  }
  var body = {}; body[m[1]] = decodeURIComponent(m[2]);
  fetch("/auth/session", {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify(body)})
    .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, b: b}; }); })
    .then(function (res) {
      if (res.ok) { say("已登录：" + res.b.role_name + "。正在打开…"); location.replace(res.b.home); }
      else { say((res.b && res.b.detail) || "登录失败", "err"); link(HOME, "不登录，继续查询"); }
    })
    .catch(function () { say("网络错误，请稍后重试", "err"); });
})();
</script></body></html>
"""


@router.get("/signin", response_class=HTMLResponse, summary="Sign-in page (a sign-in link opens it)")
def signin_page() -> Response:
    """The page a sign-in link opens: trades the code in the link for a session, then goes on.

    It holds no data; the code stays in the URL fragment (never sent to the server in the
    request line, so never in a log).
    """
    return HTMLResponse(_PAGE.replace("__HOME__", json.dumps("/field")),
                        headers={"Cache-Control": "no-store",
                                 "Referrer-Policy": "no-referrer"})
