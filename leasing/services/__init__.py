"""Writes: every change to Lease Desk data goes through a function in this package.

The dashboard, the partner API and the management commands all call these, so a rule
lives in exactly one place. Each function owns its transaction and row locks.

Row locks are taken FOR NO KEY UPDATE (`select_for_update(no_key=True)`): no write here
changes a primary key, and the weaker lock does not block the key-share locks PostgreSQL
takes on a row when another transaction inserts a row that references it. With plain FOR
UPDATE, a release (account, then an audit event referencing the partner) and an
assignment for the same partner (partner, then account) deadlocked.
"""
