"""Writes: every change to Lease Desk data goes through a function in this package.

The dashboard, the partner API and the management commands all call these, so a rule
lives in exactly one place. Each function owns its transaction and row locks.
"""
