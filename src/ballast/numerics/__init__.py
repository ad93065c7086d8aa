"""Compiled numerical pieces the domain packages share (neutral ground: they import only numpy and numba).

- `projection` — Euclidean projection onto a box with a fixed sum (band-edge plans, bounded
  targets, minimum-variance start points);
- `windows` — statistics over a trailing window of returns (volatility targets and triggers).
"""
