"""The ``ballast`` command: backtest, datasets, demo (and the runners of the other issues).

User mistakes (bad files, fields, prices) print one clear message and exit 2, never a traceback.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ballast.errors import InputError

# Help texts are plain text: "[live]" and "[sweep]" name TOML sections, they are not rich markup.
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="ballast: dynamic asset rebalancing — backtest, sweep and run a strategy.")
console = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"ballast {version('ballast')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            from ballast import __version__

            print(f"ballast {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """ballast: dynamic asset rebalancing — backtest, sweep and run a strategy."""


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # "[live] x" is not markup
    raise typer.Exit(code)


def user_errors() -> tuple[type[BaseException], ...]:
    from pydantic import ValidationError

    from ballast.errors import InputError

    return (InputError, ValueError, KeyError, FileNotFoundError, ValidationError)


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


# Cost flags and the [costs] field each one overrides.
COST_FLAGS = {"fee_bps": "fee_bps", "fixed_cost": "fixed", "min_trade": "min_trade"}


def resolve_strategy(strategy_file: Path | None, overrides: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Strategy from the TOML file (if any) with CLI flags on top; returns (strategy, data options)."""
    from ballast.config import load_strategy_file
    from ballast.strategy import build_strategy

    keywords: dict[str, Any] = {}
    data: dict[str, Any] = {"prices": "crypto", "relatives": False, "fill": None, "assets": None,
                            "start": None, "end": None, "periods_per_year": None, "dayfirst": False}
    set_flags = {k: v for k, v in overrides.items() if v is not None}
    if strategy_file is not None:
        cfg = load_strategy_file(strategy_file)
        # A cost flag overrides only the field it names; the rest of the file's [costs] stays.
        named = {field: set_flags.pop(flag) for flag, field in COST_FLAGS.items() if flag in set_flags}
        if named:
            cfg = cfg.with_costs(**named)
        keywords = cfg.keywords()
        data.update(cfg.data.model_dump())
        data["prices"] = cfg.prices_path()
    if ("band" in set_flags or "rebalance" in set_flags) and "rebalance" not in set_flags:
        keywords["rebalance"] = None
    for k in ("prices", "relatives", "fill", "dayfirst"):
        if k in set_flags and set_flags[k] is not False:
            data[k] = set_flags.pop(k)
        set_flags.pop(k, None)
    keywords.update(set_flags)
    if data.pop("dayfirst"):  # DD/MM/YYYY dates: parsed here, the engine gets the dated table
        from ballast.data.loaders import read_dated

        data["prices"] = read_dated(data["prices"], dayfirst=True)
    return build_strategy(**keywords), data


@app.command()
def backtest(
    strategy_file: Annotated[Path | None, typer.Argument(help="Strategy TOML file (flags override it).")] = None,
    prices: Annotated[str | None, typer.Option(help="CSV/Parquet file or bundled dataset name.")] = None,
    relatives: Annotated[bool, typer.Option("--relatives", help="Rows are price relatives p[t]/p[t-1].")] = False,
    fill: Annotated[str | None, typer.Option(help="'forward' to carry the last price over gaps.")] = None,
    dayfirst: Annotated[bool, typer.Option("--dayfirst", help="Dates are DD/MM/YYYY.")] = False,
    target: Annotated[str | None, typer.Option(help="'equal' or A=0.5,B=0.5")] = None,
    rebalance: Annotated[str | None, typer.Option(help="never|daily|weekly|monthly|quarterly|yearly|N")] = None,
    band: Annotated[float | None, typer.Option(help="Band half-width (0.05 = 5 points or 5 %).")] = None,
    band_kind: Annotated[str | None, typer.Option(help="absolute|relative|hybrid")] = None,
    plan: Annotated[str | None, typer.Option(help="full|band-edge|cost-aware")] = None,
    risk_aversion: Annotated[float | None, typer.Option(help="cost-aware: value of reducing Σ(w−target)² by 1, "
                                                              "as a fraction of the portfolio (default 0.05).")] = None,
    fee_bps: Annotated[float | None, typer.Option(help="Proportional fee in basis points (replaces only [costs] fee_bps).")] = None,
    fixed_cost: Annotated[float | None, typer.Option(help="Fixed cost per trade, currency (replaces only [costs] fixed).")] = None,
    min_trade: Annotated[float | None, typer.Option(help="Skip smaller trades (replaces only [costs] min_trade).")] = None,
    cash: Annotated[str | None, typer.Option(help="The cash/quote asset (added at price 1 if absent).")] = None,
    capital: Annotated[float | None, typer.Option(help="Starting value (default 1,000,000).")] = None,
    convention: Annotated[str | None, typer.Option(help="exact|bt accounting")] = None,
    allow_short: Annotated[bool, typer.Option("--allow-short", help="Accept negative target weights.")] = False,
    yields: Annotated[str | None, typer.Option("--yield", help="Constant APYs: USDC=0.05,ETH=0.03 (replaces [yield]).")] = None,
    spend: Annotated[str | None, typer.Option(help="A recurring outflow: 50000/month (adds to [[flows]]).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write equity/weights/trades/rebalances CSV here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML tearsheet here.")] = None,
    png: Annotated[Path | None, typer.Option(help="Write each report figure as PNG into this folder.")] = None,
) -> None:
    """Backtest a strategy and compare it with buy-and-hold."""
    from ballast.engine.backtest import backtest as run

    no_png = png_warning(png)
    try:
        options = file_report_options(strategy_file)
        strategy, data = resolve_strategy(strategy_file, {
            "prices": prices, "relatives": relatives or None, "fill": fill, "dayfirst": dayfirst or None,
            "target": target,
            "rebalance": rebalance, "band": band, "band_kind": band_kind, "plan": plan,
            "risk_aversion": risk_aversion,
            "fee_bps": fee_bps, "fixed_cost": fixed_cost, "min_trade": min_trade, "cash": cash,
            "capital": capital, "convention": convention, "allow_short": allow_short or None,
            "yields": yields, "spend": spend})
        announce_compile()
        with console.status("compiling and running the backtest…", spinner="dots") if not as_json else _null():
            result = run(data["prices"], strategy, relatives=data["relatives"], fill=data["fill"],
                         periods_per_year=data.get("periods_per_year"), start=data.get("start"),
                         end=data.get("end"), assets=data.get("assets"))
            result.metrics  # noqa: B018  (evaluate inside the spinner)
            result.baseline  # noqa: B018
        check_formed(result)
    except user_errors() as exc:
        fail(_message(exc))
    if as_json:
        print(json.dumps({**result.metrics, "baseline": result.baseline.metrics if result.baseline else None,
                          "strategy": result.strategy.describe(), "conventions": result.conventions},
                         default=str))
    else:
        from ballast.report.terminal import print_summary

        print_summary(result, console)
    if out is not None:
        try:
            files = result.write_csv(str(out))
        except OSError as exc:
            fail(f"cannot write the CSV files to {out}: {exc.strerror or exc}")
        if not as_json:
            console.print(f"wrote {', '.join(files)}")
    written = write_report(result, report, options, quiet=as_json) if report is not None else None
    if png is not None:
        from ballast.report.html import write_pngs

        try:
            if no_png is not None:
                raise InputError(no_png + (f"; the HTML report was written to {written}" if written else ""))
            pngs = write_pngs([result], png, vol_window=options.vol_window)
        except user_errors() as exc:
            fail(_message(exc))
        if not as_json:
            console.print(f"PNG: {', '.join(str(p) for p in pngs)}")


def check_formed(result: Any, source: Path | None = None) -> None:
    """A portfolio that was never formed (the capital cannot pay the costs of forming it) is a
    mistake in the inputs, not a flat backtest."""
    if not result.raw.weights[0].any():  # nothing held after the first close
        s = result.strategy
        where = f"{source}: " if source is not None else ""
        raise InputError(f"{where}the portfolio was never formed: capital {s.capital:,.2f} cannot pay the costs "
                         f"of buying {result.market.n_assets} assets ({s.costs.describe()}); raise [portfolio] "
                         "capital or lower the fixed costs")


def file_report_options(strategy_file: Path | None) -> Any:
    """The file's [report] section (title, vol_window), honoured by every command that draws it."""
    from ballast.config import load_strategy_file
    from ballast.report.options import ReportOptions, report_options

    if strategy_file is None:
        return ReportOptions()
    return report_options(load_strategy_file(strategy_file).report, strategy_file)


def png_warning(png: Path | None) -> str | None:
    """Say before any work when --png cannot be honoured (no kaleido or browser); returns why."""
    if png is None:
        return None
    from ballast.report.png import png_unavailable

    problem = png_unavailable()
    if problem is not None:
        err.print(f"[yellow]--png: {escape(problem)}; the HTML and the summary are still written[/]")
    return problem


def write_report(result: Any, path: Path, options: Any, quiet: bool = False) -> Path | None:
    try:
        from ballast.report.html import write_tearsheet
    except ImportError:
        fail("the HTML report is not available in this installation")
    try:
        written = write_tearsheet([result], path, title=options.title, vol_window=options.vol_window)
    except user_errors() as exc:
        fail(_message(exc))
    if not quiet:
        console.print(f"report: {written}")
    return written


_announced = [False]


def announce_compile() -> None:
    """In a pipe or CI no spinner shows, so say once, on stderr, why the first run is silent for
    a while: when numba's cache for the walk is cold (or cannot be read), the kernel compiles."""
    if _announced[0] or console.is_terminal:
        return
    _announced[0] = True
    try:
        from ballast.engine.kernel import simulate

        if simulate._cache._cache_file._load_index():  # numba's index of compiled versions, if current
            return
    except Exception:  # noqa: BLE001  (a private numba detail: when unsure, say it)
        pass
    print("compiling the kernel (first run only, up to ~1 min)...", file=sys.stderr, flush=True)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@app.command()
def report(
    strategy_files: Annotated[list[Path], typer.Argument(help="One or more strategy TOML files to compare.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    png: Annotated[Path | None, typer.Option(help="Also write each figure as PNG into this folder.")] = None,
    title: Annotated[str | None, typer.Option(help="Page heading (default: the strategy names).")] = None,
) -> None:
    """Backtest one or several strategy files and write one HTML tearsheet comparing them."""
    from ballast.config import load_strategy_file
    from ballast.engine.backtest import backtest as run
    from ballast.report.html import write_pngs, write_tearsheet
    from ballast.report.options import report_options
    from ballast.report.terminal import print_summary

    results = []
    options = []
    no_png = png_warning(png)
    try:
        for path in strategy_files:
            cfg = load_strategy_file(path)
            options.append(report_options(cfg.report, path))
            strategy, data = resolve_strategy(path, {})
            announce_compile()
            with console.status(f"backtesting {path}…", spinner="dots"):
                result = run(data["prices"], strategy, relatives=data["relatives"], fill=data["fill"],
                             periods_per_year=data.get("periods_per_year"), start=data.get("start"),
                             end=data.get("end"))
                result.baseline  # noqa: B018
            check_formed(result, path)
            results.append(result)
        # The first file that sets a report option decides it; --title beats every file.
        heading = title or next((o.title for o in options if o.title), None)
        window = next((o.vol_window for o in options if o.vol_window), None)
        with console.status("writing the report…", spinner="dots"):
            written = write_tearsheet(results, out, title=heading, vol_window=window)
            pngs = write_pngs(results, png, vol_window=window) if png is not None and no_png is None else []
    except user_errors() as exc:
        fail(_message(exc))
    for result in results:
        print_summary(result, console)
    console.print(f"[bold]report:[/] {written}")
    if no_png is not None:
        fail(f"no PNG written: {no_png}; the HTML report was written to {written}")
    if pngs:
        console.print(f"PNG: {', '.join(str(p) for p in pngs)}")


@app.command()
def serve(
    db: Annotated[str | None, typer.Option(help="The live ledger: a SQLite file or postgresql://... "
                                                "(default: $BALLAST_DB or ballast.db).")] = None,
    host: Annotated[str, typer.Option(help="Bind address (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    token_file: Annotated[Path | None, typer.Option(help="File with the API token (else BALLAST_API_TOKEN).")] = None,
    allow_network_reads: Annotated[bool, typer.Option("--allow-network-reads",
                                                      help="Answer reads from the local network too.")] = False,
    strategy: Annotated[Path | None, typer.Option(help="Strategy TOML, to show its bands.")] = None,
    refresh: Annotated[float, typer.Option(min=1.0, help="Dashboard refresh interval, seconds.")] = 5.0,
) -> None:
    """The HTTP API and dashboard over the live ledger (needs the 'server' extra)."""
    try:
        from ballast.api.server import bind_warning, build
        from ballast.api.server import serve as run_server
    except ImportError as exc:
        fail(f"ballast serve needs the server extra: pip install 'ballast[server]' ({exc.name} missing)")
    from ballast.live.ledger import LedgerUnavailable

    try:
        api = build(_db(db), token_file, allow_network_reads, strategy, refresh, bind=host)
    except (*user_errors(), LedgerUnavailable) as exc:
        fail(_message(exc))
    from ballast.api.security import TOKEN_ENV

    if api.state.access.token is None:
        err.print(f"[yellow]no API token ({TOKEN_ENV} or --token-file): the API is read-only[/]")
    warning = bind_warning(host, allow_network_reads)
    if warning:
        err.print(f"[yellow]{warning}[/]")
    console.print(f"dashboard: http://{host}:{port}/   API schema: http://{host}:{port}/openapi.json")
    run_server(api, host, port)


@app.command()
def datasets() -> None:
    """List the datasets bundled with ballast (usable as --prices NAME)."""
    from rich.table import Table

    from ballast.data.bundled import DATASETS

    table = Table("name", "description", "source", title="bundled datasets", title_justify="left")
    for d in DATASETS.values():
        table.add_row(d.name, d.description, d.source)
    console.print(table)


@app.command()
def demo(out: Annotated[Path, typer.Option(help="Where the report, CSVs and the demo ledger go.")] = Path("demo-out"),
         live_days: Annotated[int, typer.Option(help="Days of history to replay through the live service (0: skip).")] = 365,
         ) -> None:
    """The main job on bundled real data: backtest the DAO treasury (yields, spend, revenue), write
    its report with the yield, flow and runway panels, and replay the last year of the treasury
    strategy through the live service (paper broker) into a ledger for the dashboard."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ballast.config import load_strategy_file
    from ballast.data.bundled import demo_strategy_path, treasury_example_path
    from ballast.engine.backtest import backtest as run
    from ballast.report.terminal import print_summary

    from ballast.report.files import make_folder

    path = demo_strategy_path()
    cfg = load_strategy_file(treasury_example_path())
    try:
        make_folder(out)
    except InputError as exc:
        fail(str(exc))
    announce_compile()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("compiling the engine and backtesting the DAO treasury on bundled crypto data",
                                 total=None)
        result = run(cfg.prices_path(), cfg.to_strategy(), start=cfg.data.start, end=cfg.data.end)
        result.metrics  # noqa: B018
        result.baseline  # noqa: B018
        progress.update(task, description="writing the report")
        files = result.write_csv(str(out))
        report_path = write_report_file(result, out / "report.html")
        progress.remove_task(task)
        db = replay_demo_ledger(path, out, live_days, progress) if live_days > 0 else None
    print_summary(result, console)
    console.print(f"CSV: {', '.join(files)}")
    if report_path is not None:
        console.print(f"[bold]report:[/] {report_path}")
    if db is not None:
        console.print(f"[bold]ledger:[/] {db} — the last {live_days} days replayed through the live service; "
                      f"see it with [bold]ballast status --db {db}[/] or the dashboard: "
                      f"[bold]ballast serve --db {db} --strategy {path.resolve()}[/]")


def write_report_file(result: Any, path: Path) -> Path | None:
    """The HTML tearsheet, or None when the report dependencies are missing."""
    try:
        from ballast.report.html import write_tearsheet
    except ImportError:
        return None
    return write_tearsheet([result], path)


def replay_demo_ledger(strategy_file: Path, out: Path, days: int, progress: Any) -> Path:
    """Replay the last ``days`` closes of the strategy's prices through the live service (paper)."""
    from ballast.config import load_strategy_file
    from ballast.data.loaders import load_prices
    from ballast.live.service import RunSettings, open_service, strategy_assets

    cfg = load_strategy_file(strategy_file)
    assets = list(strategy_assets(cfg, cfg.to_strategy()))
    prices = load_prices(cfg.prices_path(), assets=assets).iloc[-days:]
    replay = out / "replay.csv"
    prices.rename_axis("date").to_csv(replay)
    db = out / "ballast.db"
    db.unlink(missing_ok=True)  # the demo's own ledger: start it afresh
    svc = open_service(str(strategy_file), RunSettings(db=str(db), source="replay", executor="paper",
                                                       speed="max", replay_file=str(replay)))
    task = progress.add_task("replaying the last year through the live service (paper broker)", total=len(prices))
    svc.run(until_end=True, on_cycle=lambda _: progress.advance(task))
    return db


# ---------------------------------------------------------------- live service (issue 6)
DB_HELP = "Ledger database: a SQLite file or postgresql://... (default: $BALLAST_DB or ballast.db)."


def _db(db: str | None) -> str:
    import os

    return db or os.environ.get("BALLAST_DB") or "ballast.db"


def _ledger(db: str | None) -> Any:
    from ballast.live.ledger import Ledger

    return Ledger(_db(db), must_exist=True)


def live_errors() -> tuple[type[BaseException], ...]:
    from ballast.live.lease import LeaseError
    from ballast.live.ledger import LedgerUnavailable

    return (*user_errors(), LedgerUnavailable, LeaseError)


@app.command()
def run(
    strategy_file: Annotated[Path, typer.Argument(help="Strategy TOML with a [live] section.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    source: Annotated[str | None, typer.Option(help="replay|ccxt|json (default: [live] source).")] = None,
    executor: Annotated[str | None, typer.Option(help="paper|ccxt|propose (default: [live] executor).")] = None,
    speed: Annotated[str | None, typer.Option(help="Replay speed: cycles per second, or 'max'.")] = None,
    until_end: Annotated[bool, typer.Option("--until-end", help="Exit when the replayed file ends.")] = False,
    prices: Annotated[str | None, typer.Option(help="Replay this price file instead of [live.replay] file.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and record, send nothing.")] = False,
    cycles: Annotated[int | None, typer.Option(help="Stop after this many cycles.")] = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="Structured JSON logs on stderr.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No live status panel (logs only).")] = False,
) -> None:
    """Run a strategy live: observe, decide, execute or propose — every step in the ledger."""
    import os

    import signal

    from ballast.live.service import RunSettings, open_service, setup_logging

    setup_logging(log_json)
    # `kill` / `systemctl stop` is a clean exit too: the runner lease is released, not left to expire
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        svc = open_service(str(strategy_file), RunSettings(db=db or os.environ.get("BALLAST_DB"), source=source,
                                                          executor=executor, speed=speed, dry_run=dry_run,
                                                          replay_file=prices))
        if quiet or log_json or not console.is_terminal:
            svc.run(until_end=until_end, max_cycles=cycles)
        else:
            from rich.live import Live

            from ballast.live.display import running_view

            last = [0.0]
            with Live(running_view(svc), console=console, refresh_per_second=8, redirect_stderr=True) as live:
                import time

                def show(s: Any) -> None:
                    now = time.monotonic()
                    if now - last[0] > 0.1:
                        live.update(running_view(s))
                        last[0] = now

                svc.start()
                svc.run(until_end=until_end, max_cycles=cycles, on_cycle=show)
                live.update(running_view(svc))
    except live_errors() as exc:
        fail(_message(exc))


@app.command()
def status(
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object for scripts.")] = False,
    limit: Annotated[int, typer.Option(help="How many recent decisions to show.")] = 10,
) -> None:
    """Holdings vs target, drift, recent decisions, open orders, proposals and alerts."""
    try:
        with _ledger(db) as led:
            st = led.status()
            if as_json:
                print(json.dumps(st, default=str))
                return
            from ballast.live.display import status_view

            console.print(status_view(st, led.recent_decisions(limit), led.open_orders(),
                                      led.alerts(open_only=True, limit=20), led.proposals("pending", limit=20)))
    except live_errors() as exc:
        fail(_message(exc))


@app.command()
def approve(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id (see `ballast proposals list`).")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    by: Annotated[str | None, typer.Option(help="Who approves (recorded).")] = None,
) -> None:
    """Approve a pending proposal; the running service executes it once (approving twice is harmless)."""
    try:
        with _ledger(db) as led:
            out = led.approve_proposal(proposal_id, by=by)
    except live_errors() as exc:
        fail(_message(exc))
    console.print(f"proposal {proposal_id}: {out.state}" + ("" if out.changed else " (already)"))


@app.command()
def reject(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    by: Annotated[str | None, typer.Option(help="Who rejects (recorded).")] = None,
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Reject a pending proposal (its decision is cancelled)."""
    try:
        with _ledger(db) as led:
            out = led.reject_proposal(proposal_id, by=by, note=note)
    except live_errors() as exc:
        fail(_message(exc))
    console.print(f"proposal {proposal_id}: {out.state}" + ("" if out.changed else " (already)"))


@app.command()
def pause(
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    reason: Annotated[str | None, typer.Option(help="Recorded with the pause.")] = None,
) -> None:
    """Stop trading from the next cycle on (prices are still observed and recorded)."""
    try:
        with _ledger(db) as led:
            out = led.pause(reason)
    except live_errors() as exc:
        fail(_message(exc))
    console.print("paused" if out.changed else "already paused")


@app.command()
def resume(db: Annotated[str | None, typer.Option(help=DB_HELP)] = None) -> None:
    """Resume trading after `ballast pause`."""
    try:
        with _ledger(db) as led:
            out = led.resume()
    except live_errors() as exc:
        fail(_message(exc))
    console.print("resumed" if out.changed else "already running")


flow_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Record deposits and withdrawals made by hand.")
app.add_typer(flow_app, name="flow")


@flow_app.command("add", context_settings={"ignore_unknown_options": True})  # AMOUNT may be negative
def flow_add(
    asset: Annotated[str, typer.Argument(help="The asset that arrived or left, e.g. USDC.")],
    amount: Annotated[str, typer.Argument(help="Units: positive a deposit, negative a withdrawal.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    note: Annotated[str | None, typer.Option(help="Why (recorded with the entry).")] = None,
    at: Annotated[str | None, typer.Option(help="When it happened, UTC (default: now), e.g. 2024-03-01T12:00.")] = None,
) -> None:
    """Record an external flow in the ledger: holdings = start + fills + flows + accruals."""
    from ballast.live.treasury import add_flow, parse_flow_input

    try:
        units, when = parse_flow_input(amount, at)
        with _ledger(db) as led:
            e = add_flow(led, asset, units, note, when)
    except live_errors() as exc:
        fail(_message(exc))
    console.print(f"{e['kind']} of {abs(e['units']):,.8g} {asset} recorded (entry {e['id']}); "
                  f"{asset} now {e['holding']:,.8g}")


proposals_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                          help="List and export proposals (the propose executor).")
app.add_typer(proposals_app, name="proposals")


@proposals_app.command("list")
def proposals_list(
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    state: Annotated[str | None, typer.Option(help="pending|approved|exported|executing|executed|settled|expired|rejected|failed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Proposals, newest first."""
    try:
        with _ledger(db) as led:
            items = led.proposals(state)
    except live_errors() as exc:
        fail(_message(exc))
    if as_json:
        print(json.dumps(items, default=str))
        return
    from rich.table import Table
    from rich.text import Text

    t = Table("id", "decision", "state", "trades", "notional", "reason", title="proposals", title_justify="left")
    for p in items:
        t.add_row(str(p["id"]), str(p["decision_id"]), p["state"], str(len(p["payload"].get("trades", []))),
                  f"{p['payload'].get('notional', 0):,.2f}", Text(str(p["payload"].get("reason", ""))))
    console.print(t)


@proposals_app.command("export")
def proposals_export(
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    out: Annotated[Path | None, typer.Option(help="Write the batch here instead of stdout.")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Show the batch without marking it exported.")] = False,
) -> None:
    """Approved proposals as one JSON batch (e.g. for a multisig transaction builder); they become
    exported, so no later export repeats them — record their execution with `proposals settle`."""
    try:
        with _ledger(db) as led:
            batch = led.export_approved(mark=not preview)
    except live_errors() as exc:
        fail(_message(exc))
    text = json.dumps(batch, indent=2, default=str)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {len(batch['proposals'])} approved proposal(s) to {out}")


@proposals_app.command("settle")
def proposals_settle(
    proposal_id: Annotated[int, typer.Argument(help="An approved or exported proposal.")],
    fill: Annotated[list[str] | None, typer.Option(help="ASSET=QUANTITY@PRICE executed, e.g. BTC=0.5@60000 (repeat).")] = None,
    fills: Annotated[Path | None, typer.Option(help="JSON list or CSV of fills: asset, quantity, price, fee.")] = None,
    fee: Annotated[float, typer.Option(help="Total fee in currency, shared over the --fill trades by value.")] = 0.0,
    by: Annotated[str | None, typer.Option(help="Recorded with the settlement.")] = None,
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
) -> None:
    """Record what was executed for a proposal outside ballast (then = "none"); trades without a
    fill are booked as not executed. Until settled, no new proposal overlaps it."""
    from ballast.errors import InputError
    from ballast.live.proposals import read_fills, settle_proposal, spread_fee

    try:
        if (fill is None) == (fills is None):
            raise InputError("give the fills either as --fill ASSET=QUANTITY@PRICE (repeated) or as --fills FILE")
        if fills is not None:
            if fee:
                raise InputError("--fee goes with --fill; a --fills file carries a fee column")
            booked = read_fills(fills)
        else:
            booked = spread_fee(fill or [], fee)
        with _ledger(db) as led:
            out = settle_proposal(led, proposal_id, booked, by=by)
    except live_errors() as exc:
        fail(_message(exc))
    console.print(f"proposal {proposal_id}: settled" + ("" if out.changed else " (already)"))


ledger_app = typer.Typer(no_args_is_help=True, help="Back up and restore a SQLite ledger.")
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("backup")
def ledger_backup(
    out: Annotated[Path, typer.Argument(help="The backup file to write.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """A consistent copy of the ledger (safe while the service runs), checked before it is kept."""
    from ballast.live.backup import backup

    try:
        path = backup(_db(db), out, force)
    except live_errors() as exc:
        fail(_message(exc))
    console.print(f"backed up {_db(db)} to {path}")


@ledger_app.command("restore")
def ledger_restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `ballast ledger backup`.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing ledger (it is kept, renamed).")] = False,
) -> None:
    """Make the ledger a copy of a backup (refused while a runner uses it)."""
    from ballast.live.backup import restore

    try:
        moved = restore(backup_file, _db(db), force)
    except live_errors() as exc:
        fail(_message(exc))
    console.print(f"restored {_db(db)} from {backup_file}" + (f"; the previous file is now {moved}" if moved else ""))


@app.command()
def sweep(
    strategy_file: Annotated[Path, typer.Argument(help="Strategy TOML with a [sweep] section.")],
    out: Annotated[Path, typer.Option(help="Parquet file for the results (streamed, one row per configuration).")] = Path("sweep.parquet"),
    workers: Annotated[int | None, typer.Option(help="Start a local Dask cluster with N worker processes.")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Use an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")] = None,
    bootstrap: Annotated[int | None, typer.Option(help="Block-bootstrap paths per configuration (p5/median/p95).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the bootstrap paths.")] = None,
    walk_forward: Annotated[bool, typer.Option("--walk-forward", help="Choose on rolling training windows, report the next.")] = False,
    train: Annotated[int | None, typer.Option(help="Walk-forward training window, periods.")] = None,
    test: Annotated[int | None, typer.Option(help="Walk-forward test window, periods.")] = None,
    metric: Annotated[str | None, typer.Option(help="Metric that picks the best configuration.")] = None,
    chunk_size: Annotated[int | None, typer.Option(help="Configurations per chunk/task.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the cost/tracking-error frontier here (HTML, plus PNG).")] = None,
) -> None:
    """Backtest every configuration of the file's [sweep] grid; Ctrl-C keeps finished rows."""
    from ballast.sweep.command import run_sweep_command

    try:
        code = run_sweep_command(strategy_file, out, console, workers, scheduler, bootstrap, seed,
                                 walk_forward, train, test, metric, chunk_size, plot)
    except user_errors() as exc:
        fail(_message(exc))
    if code:
        raise typer.Exit(code)


study_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                      help="Reproducible studies on the bundled data.")
app.add_typer(study_app, name="study")


@study_app.command("costs")
def study_costs(
    out: Annotated[Path, typer.Option(help="Folder for cost-study.csv/.md/.html/.png.")] = Path("cost-study"),
    end: Annotated[str | None, typer.Option(help="Stop the data at this date (quick runs).")] = None,
) -> None:
    """Calendar, band and cost-aware rules under CEX, mainnet-DEX and L2 costs, for 1 M and 100 M USD."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ballast.report.study import n_runs, run_study, winners, write_study

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("compiling the engine…", total=n_runs())

        def step(label: str) -> None:
            progress.update(task, advance=1, description=label)

        try:
            df = run_study(step, end=end)
        except user_errors() as exc:
            fail(_message(exc))
        progress.update(task, description="writing the table and the charts…")
        files = write_study(df, out)
    from rich.table import Table

    table = Table("regime", "capital", "best final wealth", "cheapest", title="cost study: winners",
                  title_justify="left")
    for r in winners(df).itertuples(index=False):
        table.add_row(r.regime, f"{r.capital / 1e6:g} M", f"{r.best} ({r.wealth:.2f}×)",
                      f"{r.cheapest} ({r.cheapest_costs:,.0f})")
    console.print(table)
    console.print(f"wrote {', '.join(map(str, files))}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
