"""Engine: the compiled path walk, the pure-Python twin, metrics and the Result."""
