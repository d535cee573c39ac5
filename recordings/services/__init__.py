"""Business operations on recordings: ingestion, listening, integrity, key rotation."""
