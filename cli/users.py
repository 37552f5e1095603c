"""`xunlu users`: add, list, disable, enable, unlock, passwd, role, confirm. Also the first-run admin of `xunlu serve`.

The CLI runs on the server as the site's root: what it does takes effect directly. The web app's admins only ask
for roles; a second person confirms (`xunlu users confirm`, or another admin or a supervisor on the web)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from cli.common import HomeOpt, fail
from core.config import home_dir

users_app = typer.Typer(no_args_is_help=True,
                        help="Users and roles (officer 办案民警, supervisor 法制员, admin 管理员).")


def _service(home: Optional[str]):
    from accounts.config import load_settings
    from accounts.service import AuthService
    from accounts.types import AuthError

    try:
        path = home_dir(home)
        return AuthService(path, load_settings(path))
    except AuthError as exc:
        fail(str(exc))


def _actor() -> str:
    from archive.store import system_actor

    return system_actor()


def _run(fn, *args, **kwargs):
    from accounts.types import AuthError, UnknownUser
    from archive.types import ArchiveError

    try:
        return fn(*args, **kwargs)
    except UnknownUser as exc:
        fail(str(exc), 1)
    except (AuthError, ArchiveError) as exc:
        fail(str(exc))


def _read_password(from_stdin: bool) -> Optional[str]:
    if not from_stdin:
        return None
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        fail("--password-stdin: no password on stdin")
    return password


def _show_once(username: str, password: str) -> None:
    typer.echo(f"用户 {username} 的密码 (只显示这一次 shown only once; it is stored only as a hash):",
               err=True)
    typer.echo(password)


@users_app.command("add")
def add_cmd(name: str = typer.Argument(..., help="Login name: letters, digits, Chinese, '.', '-', '_'."),
            role: str = typer.Option(..., "--role", help="officer, supervisor or admin."),
            display_name: Optional[str] = typer.Option(None, "--display-name",
                                                       help="姓名 as written in sessions' --officers (张三)."),
            password_stdin: bool = typer.Option(False, "--password-stdin",
                                                help="Read the password from stdin (else one is generated)."),
            home: Optional[str] = HomeOpt) -> None:
    """Add a user. Without --password-stdin a password is generated and printed once."""
    from accounts.types import ROLES

    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    password = _read_password(password_stdin)
    service = _service(home)
    user, generated = _run(service.add_user, name, role, password, display_name, actor=_actor())
    typer.echo(f"已添加 added {user.username} ({user.role}"
               + (f", {user.display_name}" if user.display_name else "") + ")", err=True)
    if generated:
        _show_once(user.username, generated)


@users_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="One JSON object per user, per line."),
             home: Optional[str] = HomeOpt) -> None:
    """List users, their roles and whether they are disabled, waiting after failed logins, or pending."""
    import time

    users = _run(_service(home).store.list)
    if not users:
        typer.echo("no users yet: xunlu serve creates the first admin, or xunlu users add NAME --role admin",
                   err=True)
    for user in users:
        if as_json:
            typer.echo(json.dumps(user.to_json(), ensure_ascii=False))
            continue
        state = "disabled" if user.disabled else (
            f"pending {user.pending_role} (asked by {', '.join(user.pending_by)})" if user.pending_role else
            "delayed (failed logins)" if user.locked_until and user.locked_until > time.time() else "active")
        typer.echo(f"{user.username}\t{user.role}\t{user.display_name or '-'}\t{state}\t"
                   f"last login {user.last_login or 'never'}")


@users_app.command("disable")
def disable_cmd(name: str, home: Optional[str] = HomeOpt) -> None:
    """Disable a user: every login of theirs ends at once. Their past actions stay in the audit trail."""
    user = _run(_service(home).set_disabled, name, True, actor=_actor())
    typer.echo(f"已停用 disabled {user.username}", err=True)


@users_app.command("enable")
def enable_cmd(name: str, home: Optional[str] = HomeOpt) -> None:
    """Enable a disabled user."""
    user = _run(_service(home).set_disabled, name, False, actor=_actor())
    typer.echo(f"已启用 enabled {user.username}", err=True)


@users_app.command("unlock")
def unlock_cmd(name: str, home: Optional[str] = HomeOpt) -> None:
    """Forget a user's failed logins from every address: no address has to wait before trying again."""
    user = _run(_service(home).unlock, name, actor=_actor())
    typer.echo(f"已解锁 unlocked {user.username}", err=True)


@users_app.command("passwd")
def passwd_cmd(name: str,
               password_stdin: bool = typer.Option(False, "--password-stdin",
                                                   help="Read the new password from stdin (else one is generated)."),
               home: Optional[str] = HomeOpt) -> None:
    """Set a new password; every login of the user ends at once."""
    password = _read_password(password_stdin)
    user, generated = _run(_service(home).set_password, name, password, actor=_actor())
    typer.echo(f"已更改 password changed for {user.username}; their logins were ended", err=True)
    if generated:
        _show_once(user.username, generated)


@users_app.command("role")
def role_cmd(name: str, role: str = typer.Argument(..., help="officer, supervisor or admin."),
             home: Optional[str] = HomeOpt) -> None:
    """Change a user's role at once (and end any pending request); their logins end."""
    user = _run(_service(home).set_role, name, role, actor=_actor())
    typer.echo(f"{user.username} is now {user.role}", err=True)


@users_app.command("confirm")
def confirm_cmd(name: str,
                role: Optional[str] = typer.Option(None, "--role", help="The role you expect the request to be "
                                                                         "(refused when it is another)."),
                home: Optional[str] = HomeOpt) -> None:
    """Confirm the role a web admin asked for (a new account, a role change, a password they set): until then
    the account has no rights. Audited."""
    user = _run(_service(home).confirm, name, None, role, actor=_actor())
    typer.echo(f"已确认 confirmed: {user.username} is now {user.role}", err=True)


def first_run_admin(home: Path, ask: Optional[bool] = None) -> Optional[str]:
    """For `xunlu serve`: when there are no users yet, create `admin`. On a terminal it asks for the
    password (empty: generate one); otherwise it generates one. A generated password is printed once, to
    stderr. Returns the admin's name when one was made."""
    from accounts.setup import ensure_admin

    service = _service(str(home))
    if service.store.count():
        return None
    ask = sys.stdin.isatty() if ask is None else ask
    password = None
    if ask:
        typer.echo("首次运行 first run: set the password of the administrator 'admin' (empty: generate one)",
                   err=True)
        while True:
            entered = typer.prompt("admin password", default="", hide_input=True, show_default=False,
                                   err=True)
            if not entered:
                break
            if typer.prompt("again", hide_input=True, err=True) != entered:
                typer.echo("the two entries differ; try again", err=True)
                continue
            from accounts.passwords import check_password
            from accounts.types import AuthError

            try:
                check_password(entered, "admin")
            except AuthError as exc:
                typer.echo(str(exc), err=True)
                continue
            password = entered
            break
    user, generated = _run(ensure_admin, home, password, service)
    if user is None:
        return None
    if generated:
        typer.echo(f"首次运行 first run: created the administrator '{user.username}' with password  {generated}\n"
                   "  (shown only this once; change it with xunlu users passwd admin)", err=True)
    else:
        typer.echo(f"首次运行 first run: created the administrator '{user.username}'", err=True)
    return user.username
