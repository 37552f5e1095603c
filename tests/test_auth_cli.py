"""`xunlu users ...` as a user runs it, and the first-run admin of `xunlu serve`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.auth import FAST
from helpers.cli import xunlu

from accounts.service import AuthService
from accounts.types import LoginRefused


@pytest.fixture()
def home(tmp_path):
    (tmp_path / "config.toml").write_text(
        "[auth]\nargon2_time_cost = 1\nargon2_memory_kib = 8192\nargon2_parallelism = 1\n", encoding="utf-8")
    return tmp_path


def run_cli(*args: str, home, stdin=None) -> subprocess.CompletedProcess:
    """helpers.cli's xunlu(), with something on stdin."""
    exe = Path(sys.executable).with_name("xunlu")
    return subprocess.run([str(exe), *args], input=stdin or "", capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XUNLU_HOME": str(home)})


def can_login(home, name, password) -> bool:
    svc = AuthService(home, FAST)
    try:
        svc.login(name, password, "127.0.0.1")
        return True
    except LoginRefused:
        return False
    finally:
        svc.close()


def ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_add_list_disable_enable_passwd(home):
    def run(*args, stdin=None):
        return run_cli(*args, home=home, stdin=stdin)

    ok(run("users", "add", "zhangsan", "--role", "officer", "--display-name", "张三", "--password-stdin",
           stdin="first-secret-123\n"))
    assert can_login(home, "zhangsan", "first-secret-123")
    users = [json.loads(line) for line in ok(run("users", "list", "--json")).stdout.splitlines()]
    assert [(u["username"], u["role"], u["display_name"]) for u in users] == [("zhangsan", "officer", "张三")]
    ok(run("users", "disable", "zhangsan"))
    assert not can_login(home, "zhangsan", "first-secret-123")
    assert "disabled" in ok(run("users", "list")).stdout
    ok(run("users", "enable", "zhangsan"))
    assert can_login(home, "zhangsan", "first-secret-123")
    r = ok(run("users", "passwd", "zhangsan"))
    new = r.stdout.strip()
    assert len(new) >= 12 and "only once" in r.stderr
    assert not can_login(home, "zhangsan", "first-secret-123") and can_login(home, "zhangsan", new)
    ok(run("users", "passwd", "zhangsan", "--password-stdin", stdin="third-secret-456\n"))
    assert can_login(home, "zhangsan", "third-secret-456")
    ok(run("users", "role", "zhangsan", "supervisor"))
    assert "supervisor" in ok(run("users", "list")).stdout
    verify = ok(run("verify"))
    assert "audit chain" in verify.stdout
    from archive.store import Archive

    archive = Archive(home)
    acts = [(e.actor.split(":")[0], e.action) for e in archive.audit_entries() if e.action.startswith("user.")]
    archive.close()
    assert ("system", "user.add") in acts and ("system", "user.disable") in acts and ("system", "user.passwd") in acts


def test_generated_password_is_printed_once_with_default_argon2(tmp_path):
    r = ok(xunlu("users", "add", "fazhi", "--role", "supervisor", home=tmp_path, timeout=60))
    password = r.stdout.strip()
    assert len(password) == 16 and "\n" not in password
    assert password not in r.stderr
    svc = AuthService(tmp_path)    # default (full-cost) Argon2 parameters
    assert svc.store.password_hash("fazhi").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert svc.login("fazhi", password, "127.0.0.1")[0]
    svc.close()
    assert password not in ok(xunlu("users", "list", home=tmp_path, timeout=60)).stdout


@pytest.mark.parametrize("args,stdin,code,message", [
    (("users", "add", "x1", "--role", "boss"), None, 2, "--role must be one of"),
    (("users", "add", "a b", "--role", "officer"), None, 2, "不可用"),
    (("users", "add", "weak", "--role", "officer", "--password-stdin"), "short\n", 2, "too short"),
    (("users", "add", "empty", "--role", "officer", "--password-stdin"), "\n", 2, "no password"),
    (("users", "disable", "nobody"), None, 1, "no such user"),
    (("users", "passwd", "nobody"), None, 1, "no such user"),
    (("users", "role", "nobody", "admin"), None, 1, "no such user"),
])
def test_bad_input_is_one_clear_line(home, args, stdin, code, message):
    r = run_cli(*args, home=home, stdin=stdin)
    assert r.returncode == code, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_duplicate_and_last_admin_are_refused(home):
    assert xunlu("users", "add", "root", "--role", "admin", home=home, timeout=60).returncode == 0
    dup = xunlu("users", "add", "ROOT", "--role", "officer", home=home, timeout=60)
    assert dup.returncode == 2 and "already used" in dup.stderr
    last = xunlu("users", "disable", "root", home=home, timeout=60)
    assert last.returncode == 2 and "last" in last.stderr


def test_first_run_creates_admin_once_and_shows_the_password(home, capsys):
    from cli.users import first_run_admin

    assert first_run_admin(home, ask=False) == "admin"
    err = capsys.readouterr().err
    password = err.split("password", 1)[1].split()[0]
    assert can_login(home, "admin", password)
    assert first_run_admin(home, ask=False) is None
    assert capsys.readouterr().err == ""


def test_first_run_on_a_terminal_asks_for_the_password(home, monkeypatch, capsys):
    import typer

    from cli.users import first_run_admin

    answers = iter(["too-short", "too-short", "a-fine-password-1", "a-fine-password-1"])
    monkeypatch.setattr(typer, "prompt", lambda *a, **k: next(answers))
    assert first_run_admin(home, ask=True) == "admin"
    err = capsys.readouterr().err
    assert "too short" in err and "a-fine-password-1" not in err
    assert can_login(home, "admin", "a-fine-password-1")


def test_the_cli_confirms_what_a_web_admin_asked_for(home):
    """The CLI on the server is the site's root: it adds users directly, and confirms a web admin's request."""
    svc = AuthService(home, FAST)
    svc.add_user("root", "admin", "first-secret-123")
    svc.add_user("mole", "supervisor", "other-secret-123", actor="web:root", pending=True)   # as POST /api/users
    svc.close()
    listed = ok(run_cli("users", "list", home=home)).stdout
    assert "pending supervisor (asked by web:root)" in listed
    wrong = run_cli("users", "confirm", "mole", "--role", "officer", home=home)
    assert wrong.returncode == 2 and "not 'officer'" in wrong.stderr
    ok(run_cli("users", "confirm", "mole", "--role", "supervisor", home=home))
    users = {u["username"]: u for u in map(json.loads, ok(run_cli("users", "list", "--json", home=home))
                                           .stdout.splitlines())}
    assert users["mole"]["role"] == "supervisor" and users["mole"]["pending_role"] is None
    nothing = run_cli("users", "confirm", "mole", home=home)
    assert nothing.returncode == 2 and "nothing waits" in nothing.stderr
    from archive.store import Archive

    archive = Archive(home)
    confirmed = [e for e in archive.audit_entries() if e.action == "user.confirm"]
    archive.close()
    assert len(confirmed) == 1 and confirmed[0].actor.startswith("system:")
    assert confirmed[0].details["requested_by"] == ["web:root"]
