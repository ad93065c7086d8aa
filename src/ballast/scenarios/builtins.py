"""The built-in scenarios, each a shape of a real episode with its sources (docs/pegs.md).

They are shapes, not replays: the levels and durations are those the sources report at daily
closes, drawn as straight glides between them. Assets the bundled data lacks (USDC, DAI, UST)
are named as they were; map them onto yours with ``Scenario.renamed`` (``--as UST=USDC``).
"""

from __future__ import annotations

from ballast.scenarios.shocks import Bleed, Crash, DepegShape, GasSpike, Liquidity, Scenario

BUILTINS: dict[str, Scenario] = {
    "usdc-2023": Scenario(
        "usdc-2023",
        (
            DepegShape("2023-03-10", "USDC", to=0.88, days=2, recover=3),
            DepegShape("2023-03-10", "DAI", to=0.89, days=2, recover=3),
            Liquidity("2023-03-10", ("USDC", "DAI"), days=4, factor=0.2),
            GasSpike("2023-03-11", days=2, cost=20.0),
        ),
        source="Circle, 2023-03-10: $3.3B of USDC's ~$40B reserves held at Silicon Valley Bank; daily "
        "closes (CoinGecko): USDC 0.87-0.88 and DAI ~0.89 on 2023-03-11, back to ~1.00 by "
        "2023-03-14 after the 2023-03-12 joint statement (Treasury, Fed, FDIC).",
        description="USDC and DAI lose 12 % and 11 % over two days, recover in three; Curve-pool "
        "depth for them falls to a fifth; gas doubles.",
    ),
    "ust-2022": Scenario(
        "ust-2022",
        (
            DepegShape("2022-05-08", "UST", to=0.6, days=3),
            Bleed("2022-05-11", "UST", total=0.97, days=5),
            Liquidity("2022-05-08", ("UST",), days=10, factor=0.05),
        ),
        source="UST closes (CoinGecko): 0.98 on 2022-05-08, ~0.6 on 2022-05-10, a few cents by "
        "2022-05-16; the Curve UST-3pool emptied of everything but UST.",
        description="UST slides to 0.60 in three days, then bleeds 97 % more in five, never to recover.",
    ),
    "eth-2020-03-12": Scenario(
        "eth-2020-03-12",
        (
            Crash("2020-03-12", "ETH", drop=0.42),
            Crash("2020-03-12", "BTC", drop=0.37),
            Liquidity("2020-03-12", ("ETH", "BTC"), days=2, factor=0.3),
            GasSpike("2020-03-12", days=2, cost=10.0),
        ),
        source="The bundled closes: ETH 194.87 -> 112.35 (-42.3 %) and BTC 7911 -> 4971 (-37.2 %) "
        "from 2020-03-11 to 2020-03-12; Ethereum gas prices ~10x their norm that day "
        "(MakerDAO's 'Black Thursday' post-mortem).",
        description="A one-day crash of ETH (-42 %) and BTC (-37 %); on the historical date it "
        "reproduces the day, so move it with --at to ask what a repeat would do.",
    ),
    "ftx-2022": Scenario(
        "ftx-2022",
        (
            Bleed("2022-11-08", "BTC", total=0.23, days=2),
            Bleed("2022-11-08", "ETH", total=0.30, days=2),
            DepegShape("2022-11-10", "USDT", to=0.98, days=1, recover=3),
        ),
        source="The bundled closes: BTC 20603 -> 15881 (-22.9 %) and ETH 1569 -> 1100 (-29.9 %) from "
        "2022-11-07 to 2022-11-09; USDT traded near 0.97-0.98 on some venues on 2022-11-10.",
        description="BTC and ETH fall 23 % and 30 % over two days; USDT slips 2 % for a day.",
    ),
}


def builtin(name: str) -> Scenario:
    from dataclasses import replace

    try:
        return replace(BUILTINS[name], where=f"scenario {name}")
    except KeyError:
        raise ValueError(
            f"--scenario: unknown scenario {name!r}; built-ins: {', '.join(BUILTINS)} "
            "(or one of the file's [[scenarios]])"
        ) from None
