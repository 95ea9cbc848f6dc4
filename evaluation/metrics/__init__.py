"""Metric kernels: score-threshold tuning, HOTA, CLEAR-MOTA and balanced accuracy."""
