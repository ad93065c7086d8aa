"""Stress scenarios: shocks applied to a price history (shapes, pool depth, gas) and the
built-in episodes (usdc-2023, ust-2022, eth-2020-03-12, ftx-2022). Pure domain: the runner that
backtests a strategy under a scenario is ballast/report/stress.py."""
