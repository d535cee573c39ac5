"""The catalogue of dotted action names, which the admin offers as a filter (a SELECT DISTINCT
over 100 million rows would not be usable). Each slice adds the actions it records."""

ACTION_CHOICES = [
    ("auth.login", "Signed in"),
    ("auth.logout", "Signed out"),
    ("auth.login_failed", "Failed sign-in"),
    ("audit.exported", "Audit trail exported"),
    ("audit.chain_broken", "Audit chain verification failed"),
    ("demo.seeded", "Demo data seeded"),
]
