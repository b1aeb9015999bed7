"""Password hashing: argon2id (argon2-cffi), with its recommended parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id, RFC 9106's second recommended parameter set
# Verified against when the username is unknown, so that an unknown name costs as long as a wrong password.
_DUMMY = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; an absent hash is checked against a dummy, at the same cost."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


class Argon2Hasher:
    """The password-hasher port on argon2id."""

    def hash(self, password: str) -> str:
        return hash_password(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        return verify_password(password_hash, password)
