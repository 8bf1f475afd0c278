"""Coordinators' accounts and their server-side sessions, in the store.

Passwords arrive here already hashed (review/passwords.py); session tokens are stored as their
SHA-256 only. Lock-out state lives in the store, so every replica enforces the same lock.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.store.records import Clock
from muara.store.review_tables import review_sessions, users


class Role(enum.StrEnum):
    """What an account may do at the desk."""

    COORDINATOR = "coordinator"
    ADMIN = "admin"


class UserExistsError(ValueError):
    """An account with that username exists already."""


class UnknownUserError(LookupError):
    """No account has that username."""


@dataclass(frozen=True, slots=True)
class User:
    """A person at the desk."""

    id: int
    username: str
    role: Role
    # None: every agency; otherwise only complaints suggested for (or routed to) these.
    agencies: frozenset[str] | None
    disabled: bool = False

    @property
    def actor(self) -> str:
        """How decisions and the audit log name this person."""
        return f"coordinator:{self.username}"

    def may_see(self, agency: str | None) -> bool:
        """Whether the complaint of this (suggested) agency is this person's to decide."""
        return self.agencies is None or (agency is not None and agency in self.agencies)


@dataclass(frozen=True, slots=True)
class LoginRecord:
    """An account as the login form needs it."""

    user: User
    password_hash: str
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session: whose it is and the token its forms must carry."""

    user: User
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _user(row: Any) -> User:
    agencies = row["agencies"]
    return User(
        id=int(row["id"]),
        username=row["username"],
        role=Role(row["role"]),
        agencies=None if agencies is None else frozenset(agencies),
        disabled=bool(row["disabled"]),
    )


class Accounts:
    """Accounts, lock-out and sessions."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def add(
        self,
        username: str,
        password_hash: str,
        role: Role = Role.COORDINATOR,
        agencies: frozenset[str] | None = None,
    ) -> User:
        """Create an account; `UserExistsError` if the name is taken."""
        now = self.clock()
        try:
            async with self.engine.begin() as conn:
                new_id = await conn.scalar(
                    users.insert()
                    .values(
                        username=username,
                        password_hash=password_hash,
                        role=role.value,
                        agencies=None if agencies is None else sorted(agencies),
                        disabled=False,
                        failed_logins=0,
                        created_at=now,
                        password_changed_at=now,
                    )
                    .returning(users.c.id)
                )
        except IntegrityError as err:
            raise UserExistsError(f"user {username!r} exists already") from err
        assert new_id is not None
        return User(int(new_id), username, role, agencies)

    async def login_record(self, username: str) -> LoginRecord | None:
        """The account behind a login attempt, if there is one."""
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(users).where(users.c.username == username)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return LoginRecord(_user(row), row["password_hash"], row["locked_until"])

    async def login_failed(self, user_id: int, *, limit: int, lock_for: timedelta) -> bool:
        """Count a failed login; lock the account at `limit` in a row. True: it is now locked."""
        async with self.engine.begin() as conn:
            failures = await conn.scalar(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_logins=users.c.failed_logins + 1)
                .returning(users.c.failed_logins)
            )
            if failures is None or failures < limit:
                return False
            await conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_logins=0, locked_until=self.clock() + lock_for)
            )
        return True

    async def login_succeeded(self, user_id: int) -> None:
        """A good password ends the run of failures."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_logins=0, locked_until=None)
            )

    async def set_password(self, username: str, password_hash: str) -> None:
        """Replace a password; every session of the account ends and any lock is lifted."""
        await self._change(
            username,
            password_hash=password_hash,
            password_changed_at=self.clock(),
            failed_logins=0,
            locked_until=None,
        )

    async def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable (or enable) an account; disabling ends its sessions."""
        await self._change(username, disabled=disabled)

    async def _change(self, username: str, **values: Any) -> None:
        async with self.engine.begin() as conn:
            user_id = await conn.scalar(
                update(users)
                .where(users.c.username == username)
                .values(**values)
                .returning(users.c.id)
            )
            if user_id is None:
                raise UnknownUserError(f"no user {username!r}")
            await conn.execute(delete(review_sessions).where(review_sessions.c.user_id == user_id))

    async def list_users(self) -> list[User]:
        """Every account, by name."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(users).order_by(users.c.username))
            return [_user(row) for row in rows.mappings()]

    # -- sessions ---------------------------------------------------------------------------------

    async def open_session(self, user_id: int, lifetime: timedelta) -> tuple[str, str]:
        """A new session; returns (cookie token, CSRF token). Only the token's hash is kept."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        async with self.engine.begin() as conn:
            # Expired sessions go as new ones come: the table never grows without bound.
            await conn.execute(delete(review_sessions).where(review_sessions.c.expires_at < now))
            await conn.execute(
                review_sessions.insert().values(
                    id=_digest(token),
                    user_id=user_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + lifetime,
                    last_seen_at=now,
                )
            )
        return token, csrf

    async def session(self, token: str, idle: timedelta) -> SessionInfo | None:
        """The live session of a cookie: not expired, not idle too long, account enabled."""
        now = self.clock()
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(
                            users,
                            review_sessions.c.csrf_token,
                            review_sessions.c.expires_at,
                            review_sessions.c.last_seen_at,
                        )
                        .join(users, users.c.id == review_sessions.c.user_id)
                        .where(review_sessions.c.id == _digest(token))
                    )
                )
                .mappings()
                .first()
            )
        if row is None or row["disabled"] or row["expires_at"] <= now:
            return None
        if row["last_seen_at"] + idle <= now:
            return None
        if now - row["last_seen_at"] >= timedelta(minutes=1):
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(review_sessions)
                    .where(review_sessions.c.id == _digest(token))
                    .values(last_seen_at=now)
                )
        return SessionInfo(_user(row), row["csrf_token"], row["expires_at"])

    async def close_session(self, token: str) -> None:
        """Log out."""
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(review_sessions).where(review_sessions.c.id == _digest(token))
            )
