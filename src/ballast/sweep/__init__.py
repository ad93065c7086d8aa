"""Parameter sweeps: many configurations through one batched kernel, locally or on Dask."""
from ballast.sweep.runner import sweep, walk_forward

__all__ = ["sweep", "walk_forward"]
