"""The service's run loop: one cycle per observation, paced by the replay speed or the live
interval, the lease renewed while waiting, and what the terminal shows after each cycle. A mixin
of `LiveService` (which supplies `cycle`, `start` and `run_approved`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from ballast.live.lease import Lease
from ballast.live.records import CycleStatus
from ballast.live.repository import Ledger
from ballast.live.sources import Observation, Source, SourceUnavailable

log = logging.getLogger("ballast.live")


@dataclass
class CycleView:
    """What the terminal status shows after each cycle."""

    observed_at: datetime | None = None
    period: int | None = None
    status: str = "starting"
    note: str | None = None
    value: float | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    last_decision: str | None = None
    decisions: int = 0
    guarded: int = 0
    cycles: int = 0


class RunLoop:
    """Looping over observations (mixed into `LiveService`)."""

    ledger: Ledger
    source: Source
    lease: Lease
    view: CycleView
    interval: float
    speed: float | None
    started: bool
    start: Callable[[], None]
    cycle: Callable[[Observation], str]
    run_approved: Callable[[dict[str, float] | None, datetime | None], None]

    def run(
        self,
        until_end: bool = True,
        max_cycles: int | None = None,
        on_cycle: Callable[[Self], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> int:
        """Loop until the replay ends (``until_end``), ``max_cycles`` or ``stop()``; returns cycles run."""
        if not self.started:
            self.start()
        elif not self.lease.held:
            self.lease.acquire()
        try:
            return self._loop(until_end, max_cycles, on_cycle, stop)
        finally:
            self.lease.release()  # a clean exit frees the ledger at once (a kill lets it expire)

    def _loop(
        self,
        until_end: bool,
        max_cycles: int | None,
        on_cycle: Callable[[Self], None] | None,
        stop: Callable[[], bool] | None,
    ) -> int:
        done = 0
        after = self.ledger.last_observed() if self.source.replay else None
        while max_cycles is None or done < max_cycles:
            if stop is not None and stop():
                break
            t0 = time.monotonic()
            self.lease.beat()
            try:
                obs = self.source.next(after)
            except SourceUnavailable as exc:
                log.warning("no prices this cycle: %s", exc, extra={"event": "source_unavailable"})
                self.ledger.add_alert("source_unavailable", str(exc), "warning")
                self._sleep(self.interval, stop)
                continue
            after = None
            if obs is None:
                if until_end:
                    log.info("replay finished after %d cycles", done, extra={"event": "end", "cycles": done})
                    break
                self.run_approved(None, None)
                self.view.status, self.view.note = "waiting", "the replay has ended (Ctrl-C to stop)"
                if on_cycle:
                    on_cycle(self)
                self._sleep(0.5, stop)
                continue
            self.cycle(obs)
            done += 1
            self.view.cycles += 1
            if on_cycle:
                on_cycle(self)
            pause = (1.0 / self.speed if self.speed else 0.0) if self.source.replay else self.interval
            rest = pause - (time.monotonic() - t0)
            if rest > 0:
                self._sleep(rest, stop)
        return done

    def _sleep(self, seconds: float, stop: Callable[[], bool] | None) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if stop is not None and stop():
                return
            time.sleep(min(left, 0.5))
            self.lease.beat()

    def _show(
        self,
        obs: Observation,
        t: int | None,
        status: CycleStatus,
        note: str | None,
        value: float | None,
        lines: list[dict[str, Any]],
    ) -> None:
        v = self.view
        v.observed_at, v.period, v.status, v.note = obs.time, t, status, note
        if value is not None:
            v.value = value
        if lines:
            v.lines = lines
        if status == CycleStatus.GUARDED:
            v.guarded += 1
