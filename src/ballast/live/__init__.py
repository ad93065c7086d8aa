"""The live rebalancer: sources of prices, executors of trades, the ledger, and the service loop.

Nothing here is imported by ``import ballast``: SQLAlchemy, Alembic and ccxt load on first use.
"""
