"""The Report every output format and publisher reads; formats live one per module."""
