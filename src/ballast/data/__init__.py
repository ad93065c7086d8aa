"""Data: price files in, validated prices out; the bundled datasets."""

from ballast.data.bundled import DATASETS, bundled_path
from ballast.data.loaders import load_prices

__all__ = ["DATASETS", "bundled_path", "load_prices"]
