"""Alerts over the audit trail: the rules (rules.py), their evaluation over the events that
arrived since the last run (engine.py), and raising or merging an alert (raising.py)."""
