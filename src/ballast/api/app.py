"""The HTTP API and dashboard over the live ledger (``ballast serve``).

Reads are thin views of the `Ledger`'s queries; mutations go through the Ledger's conditional
UPDATEs, so approving a proposal twice, or from two browsers at once, changes it once: the loser
gets 409 and the service executes the proposal once. No SQL is built from strings anywhere here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ballast.api import models
from ballast.api.security import Access, RequestGuard, token_problem
from ballast.errors import InputError
from ballast.live.ledger import PROPOSAL_STATES, Ledger, LedgerUnavailable, ProposalRow

if TYPE_CHECKING:
    from ballast.strategy import Strategy

STATIC = Path(__file__).resolve().parent / "static"
MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL; a bigger one is a 422, not a DB error
Id = Annotated[int, PathParam(ge=1, le=MAX_ID, description="proposal id")]
Limit = Annotated[int, Query(ge=1, le=1000)]
EDGE_TOLERANCE = 1e-9
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.Problem, "description": "no bearer token"},
    403: {"model": models.Problem, "description": "wrong token, no token configured, or client not allowed"},
    413: {"model": models.Problem, "description": "request body larger than the API accepts"},
}
bearer = HTTPBearer(auto_error=False, description="the API token (BALLAST_API_TOKEN or --token-file)")


def create_app(
    ledger: Ledger, access: Access, strategy: "Strategy | None" = None, refresh_seconds: float = 5.0
) -> FastAPI:
    """The FastAPI app: JSON endpoints, the published OpenAPI schema and the dashboard page."""
    everywhere: dict[int | str, dict[str, Any]] = {
        400: {"model": models.Problem, "description": "the Host header does not name this machine"},
        403: {
            "model": models.Problem,
            "description": "client address not allowed (or, for a mutation, wrong or unconfigured token)",
        },
        503: {"model": models.Problem, "description": "the ledger database is unavailable"},
    }
    app = FastAPI(
        title="ballast",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        responses=everywhere,
        description="The live rebalancer's ledger: status, holdings against target, decisions, "
        "proposals (approve/reject), equity and alerts. Mutations need the bearer token.",
    )
    app.state.access = access
    # Host/client checks, the token of a mutation and the body cap, before any body is read;
    # CSP, X-Frame-Options and nosniff on every response.
    app.add_middleware(RequestGuard, access=access)

    @app.exception_handler(LedgerUnavailable)
    async def unavailable(_: Request, exc: LedgerUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    def writer(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        """Declares the bearer scheme in the schema; `RequestGuard` has refused a bad token already."""
        bad = token_problem(access, None if credentials is None else f"Bearer {credentials.credentials}")
        if bad is not None:
            raise HTTPException(bad[0], bad[1], headers={"WWW-Authenticate": "Bearer"} if bad[0] == 401 else None)

    Writer = Depends(writer)

    # ------------------------------------------------------------------ reads
    @app.get("/status", response_model=models.Status, tags=["read"])
    def status() -> dict[str, Any]:
        """Service state, last cycle, portfolio value, largest drift, record counts, runway, loans and
        the liquidity position (range, in range, fees) and the delta hedge (delta, band, perp)."""
        s = ledger.status()
        keys = ("service", "last_cycle", "value", "max_drift", "counts", "runway", "loans", "liquidity", "hedge")
        return {k: s[k] for k in keys}

    @app.get("/loans", response_model=list[models.LoanOut], tags=["read"])
    def loans() -> list[dict[str, Any]]:
        """Each loan: health factor, collateral, debt, net value, liquidation price and band."""
        loans: list[dict[str, Any]] = ledger.status()["loans"]
        return loans

    @app.get("/loans/health", response_model=list[models.LoanHealthPoint], tags=["read"])
    def loan_health(limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> list[dict[str, Any]]:
        """Each loan's health factor per observed cycle (after accrual and liquidations), oldest first."""
        return ledger.loan_health(limit)

    @app.get("/loans/events", response_model=list[models.LoanEventOut], tags=["read"])
    def loan_events(limit: Limit = 100) -> list[dict[str, Any]]:
        """Loan events (accruals, repays, boosts, liquidations with their amounts), newest first."""
        return ledger.loan_events(limit)

    @app.get("/holdings", response_model=list[models.Holding], tags=["read"])
    def holdings() -> list[dict[str, Any]]:
        """Ledger holdings (starting holdings + fills) at the last prices, against target and band."""
        rows = ledger.holdings_vs_target()
        widths = band_widths(strategy, rows)
        out = []
        for r in rows:
            hw = widths.get(r["asset"])
            # a band-edge plan leaves weights exactly on the edge: that is inside, not a rounding breach
            outside = None if hw is None or r["drift"] is None else abs(r["drift"]) > hw + EDGE_TOLERANCE
            out.append({**r, "band": hw, "outside_band": outside})
        return out

    @app.get("/targets", response_model=list[models.TargetLine], tags=["read"])
    def targets() -> list[dict[str, Any]]:
        """The last target weights with the band around each."""
        rows = [r for r in ledger.holdings_vs_target() if r["target"] is not None]
        widths = band_widths(strategy, rows)
        out = []
        for r in rows:
            hw = widths.get(r["asset"])
            out.append(
                {
                    "asset": r["asset"],
                    "target": r["target"],
                    "band": hw,
                    "lower": None if hw is None else max(r["target"] - hw, 0.0),
                    "upper": None if hw is None else min(r["target"] + hw, 1.0),
                }
            )
        return out

    @app.get("/decisions", response_model=list[models.DecisionOut], tags=["read"])
    def decisions(limit: Limit = 20) -> list[dict[str, Any]]:
        """Most recent decisions first, each with the trigger's reason."""
        return ledger.recent_decisions(limit)

    @app.get("/proposals", response_model=list[models.ProposalOut], tags=["read"])
    def proposals(
        state: Annotated[Literal[PROPOSAL_STATES] | None, Query()] = None,  # type: ignore[valid-type]
        limit: Limit = 100,
    ) -> list[ProposalRow]:
        """Proposals, newest first; ``state=pending`` for the ones waiting for a decision."""
        return ledger.proposals(state, limit)

    @app.get("/equity", response_model=list[models.EquityPoint], tags=["read"])
    def equity(limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> list[dict[str, Any]]:
        """Portfolio value per observed cycle, oldest first."""
        return ledger.equity_history(limit)

    @app.get("/drift", response_model=list[models.DriftPoint], tags=["read"])
    def drift(limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> list[dict[str, Any]]:
        """Pre-trade weight − target per asset at each observed cycle, oldest first."""
        from ballast.live.queries import drift_history

        return drift_history(ledger, limit)

    @app.get("/alerts", response_model=list[models.AlertOut], tags=["read"])
    def alerts(open_only: bool = False, limit: Limit = 100) -> list[dict[str, Any]]:
        """Guard alerts (stale or jumping prices, notional caps...), newest first."""
        return ledger.alerts(open_only, limit)

    # ------------------------------------------------------------------ mutations
    @app.post("/pause", response_model=models.Outcome, responses=PROBLEMS, tags=["write"], dependencies=[Writer])
    def pause(body: Annotated[models.PauseIn | None, Body()] = None) -> dict[str, Any]:
        """Stop trading from the next cycle (observation continues). Pausing twice is harmless."""
        return _outcome(ledger.pause(body.reason if body else None))

    @app.post("/resume", response_model=models.Outcome, responses=PROBLEMS, tags=["write"], dependencies=[Writer])
    def resume() -> dict[str, Any]:
        return _outcome(ledger.resume())

    conflict = {
        **PROBLEMS,
        404: {"model": models.Problem, "description": "no such proposal"},
        409: {"model": models.Problem, "description": "the proposal was already decided"},
    }

    @app.post(
        "/proposals/{proposal_id}/approve",
        response_model=models.Outcome,
        responses=conflict,
        tags=["write"],
        dependencies=[Writer],
    )
    def approve(proposal_id: Id, body: Annotated[models.DecideIn | None, Body()] = None) -> dict[str, Any]:
        """pending → approved; the service then executes it exactly once. Already decided: 409."""
        return _decide(ledger.approve_proposal, proposal_id, body)

    @app.post(
        "/proposals/{proposal_id}/reject",
        response_model=models.Outcome,
        responses=conflict,
        tags=["write"],
        dependencies=[Writer],
    )
    def reject(proposal_id: Id, body: Annotated[models.DecideIn | None, Body()] = None) -> dict[str, Any]:
        """pending → rejected (its decision is cancelled). Already decided: 409."""
        return _decide(ledger.reject_proposal, proposal_id, body)

    def _decide(action: Any, proposal_id: int, body: models.DecideIn | None) -> dict[str, Any]:
        if ledger.proposal(proposal_id) is None:
            raise HTTPException(404, f"no proposal with id {proposal_id}")
        by = f"api:{body.by}" if body and body.by else "api"
        try:
            out = action(proposal_id, by=by, note=body.note if body else None)
        except InputError as exc:
            raise HTTPException(409, str(exc)) from None
        if not out.changed:
            raise HTTPException(409, f"proposal {proposal_id} is already {out.state}")
        return _outcome(out)

    # ------------------------------------------------------------------ dashboard
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        page = (STATIC / "dashboard.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("__REFRESH_MS__", str(int(refresh_seconds * 1000))))

    assets = {
        "dashboard.js": STATIC / "dashboard.js",
        "dashboard.css": STATIC / "dashboard.css",
        "plotly.min.js": plotly_js_path(),
    }

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        path = assets.get(name)
        if path is None:
            raise HTTPException(404, "no such asset")
        return FileResponse(path, headers={"Cache-Control": "max-age=3600"})

    return app


def _outcome(out: Any) -> dict[str, Any]:
    return {"id": out.id, "state": out.state, "changed": out.changed}


def band_widths(strategy: "Strategy | None", rows: list[dict[str, Any]]) -> dict[str, float]:
    """Band half-width per asset from the strategy's drift band, at the ledger's current targets."""
    import numpy as np

    from ballast.strategy import first_band
    from ballast.triggers import Band

    band = first_band(strategy.trigger) if strategy is not None else None
    rows = [r for r in rows if r["target"] is not None]
    if band is None or not rows:
        return {}
    assets = tuple(r["asset"] for r in rows)
    # The same band restricted to the assets held (per-asset widths may name others).
    held = Band(
        band.width,
        kind=band.kind,
        floor=band.floor if band.kind == "hybrid" else None,
        per_asset={a: w for a, w in band.per_asset.items() if a in assets},
    )
    hw = held.half_widths(assets, np.array([r["target"] for r in rows], dtype=float))
    return {a: float(h) for a, h in zip(assets, hw, strict=True)}


def plotly_js_path() -> Path:
    """plotly.js as shipped in the plotly package: the dashboard needs no CDN."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def _version() -> str:
    from ballast import __version__

    return __version__
