"""Deleting recordings, and proving it: the nightly purge and erasure share one deletion core.

Invariants (docs/architecture.md, invariants 1-3):
- A held recording is never deleted: every deleting transaction takes the tenant's shared
  deletion lock (legal_hold_place takes it exclusively) and re-checks holds while it holds the
  rows' locks.
- Every deleted recording leaves exactly one signed certificate (unique recording id) and one
  audit event, written in the transaction that deletes the row and destroys its wrapped key.
- Files are removed after that commit. Each is first listed in PendingFileRemoval in the same
  transaction, so a crash between commit and unlink is finished by the next run, and no record
  ever claims a file that is gone. A run killed at any instant leaves either the whole batch
  done (and its files pending) or nothing of it.

Throughput (a million recordings a night): a batch is a handful of statements whatever its size
(the selection, a COPY of the certificates, one statement for the deletes and the pending files,
the audit events' COPY, the run's counts); certificates are built as tuples and signed without a
model instance per row; a thread removes the files of committed batches while the next batches
run; and a tenant's batches run on two connections at once, so that PostgreSQL works on one
batch while Python prepares the other.

The package, by concern:
- certificates: the signed text of a deletion certificate (one definition, for signing and for
  verifying) and the keyed hash of a call id;
- deletion: the core that deletes locked, unheld recordings with a certificate and an audit
  event each, in the caller's transaction;
- files: removing the audio files of committed deletions (threads, or the helper process of
  unlink.py);
- erasure: deleting one recording now, refused under a legal hold;
- schedule: the tenant's date today and at the next scheduled run;
- preview: what a run would delete and what holds keep back, counted in one statement;
- run: the nightly run, its batches and its worker connections;
- verification: checking the certificates, and sweeping files that no record claims.
"""
