"""The HTTP API and dashboard over the live ledger (extra ``server``: FastAPI + uvicorn)."""
