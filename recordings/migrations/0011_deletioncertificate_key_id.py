"""Each deletion certificate names the key of its signature and call-id hash, so that both verify
after an AUDIT_HMAC_KEY rotation. Existing certificates were made with the key configured now."""

from django.conf import settings
from django.db import migrations, models

from audit.chain import key_id_of


def name_current_key(apps, schema_editor):
    certificate = apps.get_model("recordings", "DeletionCertificate")
    certificate.objects.filter(key_id="").update(key_id=key_id_of(settings.AUDIT_HMAC_KEY))


class Migration(migrations.Migration):
    dependencies = [("recordings", "0010_bounded_access_justification")]

    operations = [
        migrations.AddField(
            model_name="deletioncertificate",
            name="key_id",
            field=models.CharField(default="", max_length=16),
            preserve_default=False,
        ),
        migrations.RunPython(name_current_key, migrations.RunPython.noop),
    ]
