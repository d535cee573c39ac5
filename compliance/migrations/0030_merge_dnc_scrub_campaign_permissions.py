# The scrubs' table (0029, this branch) and the campaigns' permissions (0032, merged from main)
# both follow 0028: one line of migrations again.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0029_dnc_scrub"),
        ("compliance", "0032_campaign_permissions"),
    ]

    operations = []
