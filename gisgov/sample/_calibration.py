def calibration(*a, **k): return []
