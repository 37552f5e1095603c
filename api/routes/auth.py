"""Logging in and out, one's own logins, and user management for admins (/api/auth/..., /api/users/...).

Scripts: POST /api/auth/login {"username", "password"} -> {"token": ...}; then `Authorization: Bearer <token>`.
Browsers: the same with "cookie": true -> an HttpOnly, SameSite=Strict session cookie plus the xunlu_csrf
cookie, whose value goes into the X-CSRF-Token header of every POST/PUT/PATCH/DELETE.

Separation of duties: what an admin does here to give an account rights (add it, change its role, set its
password) leaves the account PENDING, with no rights at all, until a second person confirms it
(POST /api/grants/{username}/confirm: another admin or a supervisor, none of those who asked). The CLI on the
server (`xunlu users ...`) is the site's root and acts directly.
"""
from __future__ import annotations

from typing import Optional, Union

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from accounts import policy
from accounts.types import ADMIN, AuthError, LoginRefused, NotAllowed, UnknownUser, User
from api.auth.deps import (
    COOKIE,
    CSRF_COOKIE,
    Login,
    client_address,
    client_scheme,
    current_login,
    deny,
    get_auth,
    require,
    require_role,
)
from api.routes.answers import (
    BearerLogin,
    CookieLogin,
    LoggedOut,
    Me,
    MyToken,
    NewPassword,
    PasswordChanged,
    Revoked,
    TokenRecord,
    UserRecord,
)
from api.routes.errors import Refusal, body, language
from api.routes.openapi_errors import ERROR

router = APIRouter()
auth_router = APIRouter(prefix="/api/auth", tags=["auth"])
ADMIN_ONLY = require_role(ADMIN)
users_router = APIRouter(prefix="/api/users", tags=["users"], dependencies=[Depends(ADMIN_ONLY)])
SECOND_PERSON = require(policy.can_see_grants, "see or confirm role grants")
grants_router = APIRouter(prefix="/api/grants", tags=["users"], dependencies=[Depends(SECOND_PERSON)])


class LoginBody(BaseModel):
    username: str = Field(..., max_length=64)
    password: str = Field(..., max_length=256)
    cookie: bool = Field(False, description="true for a browser login: a session cookie instead of a token")


class PasswordChange(BaseModel):
    old_password: str = Field(..., max_length=256)
    new_password: str = Field(..., max_length=256)


class NewUser(BaseModel):
    username: str = Field(..., max_length=64)
    role: str = Field(..., description="officer, supervisor or admin")
    display_name: Optional[str] = Field(None, max_length=64, description="姓名 as in sessions' officer lists")
    password: Optional[str] = Field(None, max_length=256, description="left out: one is generated and returned")


class PasswordReset(BaseModel):
    password: Optional[str] = Field(None, max_length=256, description="left out: one is generated and returned")


class RoleChange(BaseModel):
    role: str


class Confirmation(BaseModel):
    role: str = Field(..., description="the role you confirm, as the pending request shows it (refused if it "
                                       "changed since)")


def json_only(request: Request) -> None:
    """A cross-site HTML form cannot send application/json, so login cannot be forged from another site."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise Refusal(415, "send the login as JSON (Content-Type: application/json)", "login_not_json")


def permissions(user: User) -> dict[str, bool]:
    return {"record": policy.can_record(user), "import": policy.can_import(user),
            "search": policy.can_search(user), "audit": policy.can_read_audit(user),
            "warnings": policy.can_see_warnings(user), "admin": policy.can_admin(user)}


def _secure(request: Request) -> bool:
    forced = get_auth(request).settings.secure_cookies
    return forced if forced is not None else client_scheme(request) == "https"


def _refused(exc: LoginRefused, request: Request) -> JSONResponse:
    lang = language(request)
    if exc.retry_after:
        return JSONResponse(body(429, str(exc), exc.code, lang, exc.params), status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})
    return JSONResponse(body(401, str(exc), exc.code, lang, exc.params), status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


@auth_router.post("/login", summary="Log in: a bearer token for scripts, or a session cookie for browsers",
                  dependencies=[Depends(json_only)], response_model=Union[BearerLogin, CookieLogin],
                  responses={401: ERROR("Wrong user name or password, or the user is disabled"),
                             415: ERROR("The login was not sent as JSON"),
                             429: ERROR("Locked out after failed attempts; Retry-After says for how long")})
def login(body: LoginBody, request: Request, response: Response):
    auth = get_auth(request)
    try:
        secret, csrf, token, user = auth.login(body.username, body.password, client_address(request),
                                               "cookie" if body.cookie else "bearer")
    except LoginRefused as exc:
        return _refused(exc, request)
    answer = {"user": user.to_json(), "permissions": permissions(user), "login": token.id,
              "expires_at": token.expires_at}
    if not body.cookie:
        return {"token": secret, "token_type": "bearer", **answer}
    max_age = int(token.expires_at - token.created_at)
    secure = _secure(request)
    response.set_cookie(COOKIE, secret, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure,
                        path="/")
    return {"csrf_token": csrf, **answer}


@auth_router.post("/logout", summary="Log out: this login stops working at once", response_model=LoggedOut)
def logout(request: Request, response: Response, login: Login = Depends(current_login)):
    get_auth(request).logout(login.token, login.user, client_address(request))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict", secure=_secure(request))
    return {"logged_out": True}


@auth_router.get("/me", summary="Who is logged in, and what they may do", response_model=Me)
def me(login: Login = Depends(current_login)):
    return {"user": login.user.to_json(), "permissions": permissions(login.user), "login": login.token.id,
            "via": login.via, "expires_at": login.token.expires_at}


@auth_router.get("/tokens", summary="My live logins (browser sessions and script tokens)",
                 response_model=list[MyToken])
def my_tokens(request: Request, login: Login = Depends(current_login)):
    return [dict(t.to_json(), current=t.id == login.token.id)
            for t in get_auth(request).store.tokens(login.user.username)]


@auth_router.post("/tokens/{token_id}/revoke", summary="Revoke one of my logins (admins: anyone's)",
                  response_model=TokenRecord)
def revoke_token(token_id: str, request: Request, login: Login = Depends(current_login)):
    try:
        token = get_auth(request).revoke(login.user, token_id, client_address(request))
    except AuthError as exc:
        raise Refusal(404, str(exc), exc.code) from exc
    return token.to_json()


@auth_router.post("/password", summary="Change my password (every login of mine ends, this one too)",
                  response_model=PasswordChanged)
def change_password(body: PasswordChange, request: Request, login: Login = Depends(current_login)):
    auth = get_auth(request)
    if not auth.hasher.verify(auth.store.password_hash(login.user.username), body.old_password):
        auth.audit(login.user.actor, "auth.denied", f"users/{login.user.username}",
                   {"address": client_address(request), "reason": "wrong old password"})
        raise Refusal(403, "旧密码错误 the old password is wrong", "wrong_old_password")
    try:
        auth.set_password(login.user.username, body.new_password, actor=login.user.actor,
                          address=client_address(request))
    except AuthError as exc:
        raise Refusal(400, str(exc), exc.code, params=exc.params) from exc
    return {"changed": True}


def _by(admin: User, request: Request) -> dict:
    return {"actor": admin.actor, "address": client_address(request)}


def _user_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except NotAllowed as exc:
        raise Refusal(403, str(exc), exc.code, params=exc.params) from exc
    except UnknownUser as exc:
        raise Refusal(404, str(exc), exc.code, params=exc.params) from exc
    except AuthError as exc:
        raise Refusal(400, str(exc), exc.code, params=exc.params) from exc


@users_router.get("", summary="All users, with lockout state", response_model=list[UserRecord])
def list_users(request: Request):
    return [u.to_json() for u in get_auth(request).store.list()]


@users_router.post("", status_code=201, summary="Add a user (a password is generated when none is given); the "
                   "account has no rights until a second person confirms its role", response_model=NewPassword)
def add_user(body: NewUser, request: Request, admin: User = Depends(ADMIN_ONLY)):
    user, generated = _user_call(get_auth(request).add_user, body.username, body.role, body.password,
                                 body.display_name, pending=True, **_by(admin, request))
    return {"user": user.to_json(), "password": generated}


@users_router.get("/{username}", summary="One user", response_model=UserRecord)
def get_user(username: str, request: Request):
    return _user_call(get_auth(request).store.require, username).to_json()


@users_router.post("/{username}/disable", summary="Disable a user: their logins end at once",
                   response_model=UserRecord)
def disable_user(username: str, request: Request, admin: User = Depends(ADMIN_ONLY)):
    return _user_call(get_auth(request).set_disabled, username, True, **_by(admin, request)).to_json()


@users_router.post("/{username}/enable", summary="Enable a disabled user", response_model=UserRecord)
def enable_user(username: str, request: Request, admin: User = Depends(ADMIN_ONLY)):
    return _user_call(get_auth(request).set_disabled, username, False, **_by(admin, request)).to_json()


@users_router.post("/{username}/unlock", summary="Lift a lockout after failed logins", response_model=UserRecord)
def unlock_user(username: str, request: Request, admin: User = Depends(ADMIN_ONLY)):
    return _user_call(get_auth(request).unlock, username, **_by(admin, request)).to_json()


@users_router.post("/{username}/password", summary="Set a new password (generated when none is given); another "
                   "user's role then waits for a second person's confirmation", response_model=NewPassword)
def reset_password(username: str, body: PasswordReset, request: Request,
                   admin: User = Depends(ADMIN_ONLY)):
    own = username.casefold() == admin.username.casefold()
    user, generated = _user_call(get_auth(request).set_password, username, body.password, pending=not own,
                                 **_by(admin, request))
    return {"user": user.to_json(), "password": generated}


@users_router.post("/{username}/role", summary="Ask for a role change (their logins end; the account has no "
                   "rights until a second person confirms it)", response_model=UserRecord)
def change_role(username: str, body: RoleChange, request: Request, admin: User = Depends(ADMIN_ONLY)):
    return _user_call(get_auth(request).set_role, username, body.role, pending=True,
                      **_by(admin, request)).to_json()


@users_router.get("/{username}/tokens", summary="A user's live logins", response_model=list[TokenRecord])
def user_tokens(username: str, request: Request):
    user = _user_call(get_auth(request).store.require, username)
    return [t.to_json() for t in get_auth(request).store.tokens(user.username)]


@users_router.post("/{username}/revoke", summary="End every login of a user at once", response_model=Revoked)
def revoke_user(username: str, request: Request, admin: User = Depends(ADMIN_ONLY)):
    return {"revoked": _user_call(get_auth(request).revoke_all, username, **_by(admin, request))}


@grants_router.get("", summary="Accounts whose role waits for a second person's confirmation (admins and "
                   "supervisors)", response_model=list[UserRecord])
def pending_grants(request: Request):
    return [u.to_json() for u in get_auth(request).store.pending()]


@grants_router.post("/{username}/confirm", summary="Confirm a pending role: another admin or a supervisor, not "
                    "one who asked for it", response_model=UserRecord,
                    responses={403: ERROR("You asked for this grant, or it is your own account"),
                               404: ERROR("No such user"),
                               409: ERROR("Nothing waits for confirmation, or the request is not that role")})
def confirm_grant(username: str, body: Confirmation, request: Request, user: User = Depends(SECOND_PERSON)):
    auth = get_auth(request)
    try:
        return auth.confirm(username, user, body.role, address=client_address(request)).to_json()
    except NotAllowed as exc:
        deny(request, user, str(exc), f"users/{username}")
    except UnknownUser as exc:
        raise Refusal(404, str(exc), exc.code) from exc
    except AuthError as exc:
        raise Refusal(409, str(exc), exc.code, params=exc.params) from exc


router.include_router(auth_router)
router.include_router(users_router)
router.include_router(grants_router)
