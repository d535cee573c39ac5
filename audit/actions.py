"""The catalogue of dotted action names, which the admin offers as a filter (a SELECT DISTINCT
over 100 million rows would not be usable). Each slice adds the actions it records."""

ACTION_CHOICES = [
    ("auth.login", "Signed in"),
    ("auth.logout", "Signed out"),
    ("auth.login_failed", "Failed sign-in"),
    ("audit.exported", "Audit trail exported"),
    ("audit.chain_broken", "Audit chain verification failed"),
    ("demo.seeded", "Demo data seeded"),
    ("api.auth_failed", "API call refused: no usable API key"),
    ("recording.ingested", "Recording ingested"),
    ("recording.ingest_refused", "Recording refused at ingest"),
    ("recording.viewed", "Recording details viewed (full customer number)"),
    ("recording.access_granted", "Listening granted for a stated purpose"),
    ("recording.access_denied", "Listening refused"),
    ("recording.played", "Recording played"),
    ("recording.downloaded", "Recording downloaded"),
    ("recording.play_denied", "Playback or download refused: no valid grant"),
    ("consent.refused", "Consent decision refused at the API"),
    ("consent.receipt_viewed", "Consent receipt viewed (full customer number)"),
    ("consent.receipt_denied", "Consent receipt refused: no permission or not found"),
    ("recording.contract_outcome", "Insurance telesales: contract outcome recorded"),
]
