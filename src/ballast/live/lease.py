"""One runner per ledger: a lease with a heartbeat, an expiry and a fencing generation.

The lease is the single ``runner_lease`` row. Taking it is a conditional UPDATE — only when it is
free or its holder stopped renewing it (``expires_at`` passed) — which also bumps ``generation``.
The holder renews it every cycle, while sleeping, while polling orders and before each send, with
an UPDATE conditional on its own token and generation: when that matches no row, another runner
has taken over and this one stops (`LeaseLost`) before sending anything.

Fencing: every transaction of the holder's `Ledger` that writes (decisions and their orders,
paper-venue orders, fills, order states, claimed proposals) first re-reads the lease row in the
same transaction — ``FOR SHARE`` on PostgreSQL, so a takeover waits for that commit, and SQLite
serialises writers — and rolls back if the token or generation is no longer its own. A runner
paused past its expiry (GC, a suspended VM) therefore cannot record anything after a takeover.

Clocks: expiry times are written by the holder's clock and compared with the taker's; hosts
sharing a PostgreSQL ledger must keep their clocks within a small fraction of the expiry.
"""
from __future__ import annotations

import os
import secrets
import socket
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from ballast.live.ledger import Ledger, RunnerLease, utcnow

DEFAULT_EXPIRY = 60.0  # seconds; `[live] lease_expiry`
MIN_EXPIRY = 1.0


class LeaseError(RuntimeError):
    """The ledger's runner lease stops this runner (see the message)."""


class LeaseHeld(LeaseError):
    """Another runner holds the lease: this one must not start."""


class LeaseLost(LeaseError):
    """This runner's lease was taken over (it had expired): it must stop without sending."""


def describe(row: dict[str, Any]) -> str:
    """Who holds (or held) the lease, for messages: host, pid, strategy, since when."""
    return (f"runner {row['host']} pid {row['pid']} (strategy {row['strategy']!r}) since "
            f"{_fmt(row['acquired_at'])} UTC, last seen {_fmt(row['heartbeat_at'])} UTC")


def lease_info(session: Session, now: datetime | None = None) -> dict[str, Any] | None:
    """The lease row as a dict with ``running`` (held and not expired), or None before migration 0003."""
    row = session.get(RunnerLease, 1)
    if row is None:
        return None
    now = now or utcnow()
    running = row.holder is not None and row.expires_at is not None and row.expires_at > now
    return {"running": running, "held": row.holder is not None, "host": row.host, "pid": row.pid,
            "strategy": row.strategy, "generation": row.generation, "acquired_at": row.acquired_at,
            "heartbeat_at": row.heartbeat_at, "expires_at": row.expires_at, "released_at": row.released_at}


class Lease:
    """This process's claim on a ledger: ``acquire`` at start, ``renew``/``ensure`` while running,
    ``release`` at a clean exit. Installs the write fence on ``ledger``."""

    def __init__(self, ledger: Ledger, strategy: str, expiry: float = DEFAULT_EXPIRY) -> None:
        if not expiry >= MIN_EXPIRY:
            raise ValueError(f"lease expiry must be at least {MIN_EXPIRY:g} s, got {expiry!r}")
        self.ledger = ledger
        self.strategy = strategy
        self.expiry = float(expiry)
        self.renew_every = min(self.expiry / 4.0, 5.0)
        self.token = secrets.token_hex(16)
        self.generation: int | None = None
        self.fencing = False  # from acquire to release: this ledger writes only while it holds the lease
        self._renewed = 0.0  # time.monotonic() of the last successful renewal
        event.listen(ledger._sessions, "do_orm_execute", _note_write)
        event.listen(ledger._sessions, "after_flush", _note_flush)
        event.listen(ledger._sessions, "before_commit", self._fence)

    @property
    def held(self) -> bool:
        return self.generation is not None

    def acquire(self) -> None:
        """Take the lease if it is free or expired; else `LeaseHeld` naming the holder."""
        now = utcnow()
        with self.ledger.session() as s:
            s.info["lease"] = True
            n = s.execute(update(RunnerLease).where(
                RunnerLease.id == 1,
                (RunnerLease.holder.is_(None)) | (RunnerLease.expires_at < now) | (RunnerLease.holder == self.token))
                .values(holder=self.token, generation=RunnerLease.generation + 1, host=socket.gethostname(),
                        pid=os.getpid(), strategy=self.strategy, acquired_at=now, heartbeat_at=now,
                        expires_at=now + timedelta(seconds=self.expiry), released_at=None)).rowcount
            info = lease_info(s, now)
        assert info is not None
        if n != 1:
            raise LeaseHeld(f"ledger {self.ledger.safe_url} is in use by {describe(info)}; its lease expires at "
                            f"{_fmt(info['expires_at'])} UTC. Only one runner may trade on a ledger: stop the "
                            "other one (or wait for its lease to expire if it died) and start again.")
        self.generation = info["generation"]
        self.fencing = True
        self._renewed = time.monotonic()

    def renew(self) -> None:
        """Advance the heartbeat and the expiry; `LeaseLost` if another runner took over."""
        if self.generation is None:
            raise LeaseLost("this runner holds no lease on the ledger")
        now = utcnow()
        with self.ledger.session() as s:
            s.info["lease"] = True
            n = s.execute(update(RunnerLease).where(RunnerLease.id == 1, RunnerLease.holder == self.token,
                                                    RunnerLease.generation == self.generation)
                          .values(heartbeat_at=now, expires_at=now + timedelta(seconds=self.expiry))).rowcount
            info = lease_info(s, now) if n != 1 else None
        if info is not None:
            self._lost(info)
        self._renewed = time.monotonic()

    def beat(self) -> None:
        """The heartbeat of a running loop: renew at most twice a second (cheap in a fast replay)."""
        if time.monotonic() - self._renewed >= min(0.5, self.renew_every):
            self.renew()

    def ensure(self) -> None:
        """Before sending: renew when due, else re-read the row; `LeaseLost` if it is no longer ours."""
        if time.monotonic() - self._renewed >= self.renew_every:
            self.renew()
            return
        with self.ledger.session() as s:
            s.info["lease"] = True
            self._check(s)

    def release(self) -> None:
        """Give the lease up at a clean exit (a no-op if it was lost meanwhile)."""
        if self.generation is None:
            return
        now = utcnow()
        with self.ledger.session() as s:
            s.info["lease"] = True
            s.execute(update(RunnerLease).where(RunnerLease.id == 1, RunnerLease.holder == self.token,
                                                RunnerLease.generation == self.generation)
                      .values(holder=None, expires_at=now, heartbeat_at=now, released_at=now))
        self.generation = None
        self.fencing = False

    # ---------------------------------------------------------------- fencing
    def _fence(self, session: Session) -> None:
        if not self.fencing or session.info.get("lease") or not session.info.get("wrote"):
            return
        self._check(session)

    def _check(self, session: Session) -> None:
        q = select(RunnerLease.holder, RunnerLease.generation).where(RunnerLease.id == 1)
        holder, generation = session.execute(q.with_for_update(read=True)).one()
        if self.generation is None or holder != self.token or generation != self.generation:
            self._lost(lease_info(session) or {})

    def _lost(self, info: dict[str, Any]) -> None:
        self.generation = None
        by = describe(info) if info.get("held") else "nobody (it was released or broken)"
        raise LeaseLost(f"this runner lost its lease on ledger {self.ledger.safe_url} (it expired without a "
                        f"heartbeat); it is now held by {by}. Stopping without sending or recording anything.")


def _note_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True


def _note_flush(session: Session, _: Any) -> None:
    session.info["wrote"] = True


def _fmt(t: datetime | None) -> str:
    return "?" if t is None else t.strftime("%Y-%m-%d %H:%M:%S")
