"""Tests of the ``synthetic_data`` pipeline."""
