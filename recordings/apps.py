from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recordings"

    def ready(self) -> None:
        from audit.keys import keyed_records_register

        # Certificates store the key id of their signature and call-id hash: a key rotation
        # must keep that key listed.
        keyed_records_register("deletion certificates", "recordings.DeletionCertificate", "key_id")
