"""Business operations of the compliance app, one module per concern. Each writes its audit event
in its transaction.

- memberships: a person's role in a tenant, granted and revoked, their groups kept in step;
- api_keys: the recorders' and dialers' keys, created, revoked and authenticated;
- policies: purposes and retention policies, saved with their old and new values;
- consents: a caller's decisions, checked and recorded, and what a withdrawal ends;
- legal_holds: holds checked, placed, released and counted.

The consents, legal_holds and policies modules act on recordings, which sit above compliance,
by name only: the deliberate seam of docs/architecture.md ("Deliberate seams").
"""
