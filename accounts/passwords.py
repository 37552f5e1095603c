"""Argon2id password hashing (argon2-cffi), generated passwords and the password rule."""
from __future__ import annotations

import secrets
import string
from typing import Optional

from accounts.types import AuthError, AuthSettings

MIN_LENGTH = 10
MAX_LENGTH = 256
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


class Hasher:
    def __init__(self, settings: AuthSettings = AuthSettings()):
        from argon2 import PasswordHasher

        self._ph = PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                                  parallelism=settings.argon2_parallelism)
        self._dummy: Optional[str] = None   # made on first need: hashing costs a quarter second

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, stored: Optional[str], password: str) -> bool:
        """True when the password matches; with no stored hash (unknown user) it still spends the same time."""
        from argon2.exceptions import InvalidHashError, VerificationError

        if stored is None and self._dummy is None:
            self._dummy = self._ph.hash(secrets.token_hex(16))
        try:
            return self._ph.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._ph.check_needs_rehash(stored)
        except Exception:  # an unreadable hash: replace it at the next good login
            return True


def generate_password(length: int = 16) -> str:
    """Easy to read aloud: no 0/O, 1/l/I."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def check_password(password: str, username: str) -> None:
    """The password rule; raises AuthError with the reason."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise AuthError(f"密码太短 password too short: at least {MIN_LENGTH} characters", code="password_too_short",
                        params={"min": MIN_LENGTH})
    if len(password) > MAX_LENGTH:
        raise AuthError(f"密码太长 password too long: at most {MAX_LENGTH} characters", code="password_too_long",
                        params={"max": MAX_LENGTH})
    if password.strip() != password:
        raise AuthError("密码不能以空格开头或结尾 password must not start or end with spaces", code="password_spaces")
    if password.lower() == username.lower() or username.lower() in password.lower():
        raise AuthError("密码不能包含用户名 password must not contain the user name", code="password_has_name")
    if len(set(password)) < 4:
        raise AuthError("密码太简单 password too simple: use at least 4 different characters", code="password_too_simple")
