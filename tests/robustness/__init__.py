"""Robustness: bad input, faults, interruptions, reruns, determinism, secrets.

See docs/guarantees.md.
"""
