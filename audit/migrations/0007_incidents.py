"""Personal-data breach incidents, their playbook checklists, and the platform's default crisis
playbooks (tenants may write their own per nature; audit/incidents.py::playbook_for)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# The platform's crisis playbooks, by nature of incident: (action, mandatory). Drawn from the
# EDPB's Guidelines 9/2022 on personal data breach notification and 01/2021 on examples of
# breach notification; each tenant may replace a nature's list with its own.
PLAYBOOKS = {
    "account_compromise": [
        ("Disable the compromised account and end its sessions", True),
        ("Reset its password and second factor; check for other accounts affected", True),
        ("List from the audit trail what the account accessed since the compromise", True),
        ("Assess the risk to the callers whose recordings were reached", True),
        ("Decide on notifying the supervisory authority within 72 hours (Art. 33)", True),
        ("Decide on informing the data subjects (Art. 34)", True),
    ],
    "unauthorised_listening": [
        ("Suspend the person's listening rights pending the investigation", True),
        ("List from the audit trail the recordings played and the purposes stated", True),
        ("Hear the person and their manager; keep a written record", True),
        ("Assess the risk to the callers concerned", True),
        ("Decide on notifying the supervisory authority within 72 hours (Art. 33)", True),
        ("Decide on informing the data subjects (Art. 34)", True),
        ("Refresh the team's training on listening purposes", False),
    ],
    "data_exfiltration": [
        ("Contain: block the channel and the accounts or keys used", True),
        ("Preserve evidence (logs, audit trail export) before anything is changed", True),
        ("Establish which recordings and metadata left, and for how many callers", True),
        ("Revoke and rotate the API keys and credentials concerned", True),
        ("Decide on notifying the supervisory authority within 72 hours (Art. 33)", True),
        ("Decide on informing the data subjects (Art. 34)", True),
        ("File a complaint with the police where a crime is suspected", False),
    ],
    "lost_device": [
        ("Record when, where and by whom the device was lost or stolen", True),
        ("Wipe the device remotely and revoke its sessions and credentials", True),
        ("Establish whether it held recordings or personal data, and whether encrypted", True),
        ("Decide on notifying the supervisory authority within 72 hours (Art. 33)", True),
        ("Decide on informing the data subjects (Art. 34)", True),
        ("Report a theft to the police", False),
    ],
    "ransomware": [
        ("Isolate the affected systems from the network", True),
        ("Preserve evidence; do not pay before legal advice", True),
        ("Establish whether data was exfiltrated as well as encrypted", True),
        ("Restore from backups and verify the audit chain and recordings' integrity", True),
        ("Decide on notifying the supervisory authority within 72 hours (Art. 33)", True),
        ("Decide on informing the data subjects (Art. 34)", True),
        ("Report to the police and the national CSIRT", False),
    ],
    "other": [
        ("Contain the breach and preserve evidence", True),
        ("Establish the data and the people concerned", True),
        ("Decide on notifying the supervisory authority within 72 hours (Art. 33)", True),
        ("Decide on informing the data subjects (Art. 34)", True),
    ],
}


def create_playbooks(apps, schema_editor):
    action_model = apps.get_model("audit", "PlaybookAction")
    for nature, steps in PLAYBOOKS.items():
        for position, (text, mandatory) in enumerate(steps):
            action_model.objects.get_or_create(
                tenant=None,
                nature=nature,
                text=text,
                defaults={"position": position, "mandatory": mandatory},
            )


def remove_playbooks(apps, schema_editor):
    apps.get_model("audit", "PlaybookAction").objects.filter(tenant__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0006_alert_rules'),
        ('compliance', '0013_api_limits'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Incident',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=200, verbose_name='title')),
                ('nature', models.CharField(choices=[('account_compromise', 'Account compromise'), ('unauthorised_listening', 'Unauthorised listening'), ('data_exfiltration', 'Data exfiltration'), ('lost_device', 'Lost or stolen device'), ('ransomware', 'Ransomware'), ('other', 'Other')], max_length=30, verbose_name='nature')),
                ('status', models.CharField(choices=[('open', 'Open'), ('closed', 'Closed')], default='open', max_length=10, verbose_name='status')),
                ('opened_at', models.DateTimeField(verbose_name='opened at')),
                ('aware_at', models.DateTimeField(verbose_name='aware since')),
                ('description', models.TextField(blank=True, max_length=4000, verbose_name='what happened')),
                ('data_categories', models.TextField(blank=True, max_length=2000, verbose_name='categories of data subjects and records')),
                ('subjects_approximate', models.PositiveIntegerField(blank=True, null=True, verbose_name='approximate number of data subjects')),
                ('records_approximate', models.PositiveIntegerField(blank=True, null=True, verbose_name='approximate number of records')),
                ('dpo_contact', models.CharField(blank=True, max_length=300, verbose_name='DPO or other contact point')),
                ('likely_consequences', models.TextField(blank=True, max_length=4000, verbose_name='likely consequences')),
                ('measures', models.TextField(blank=True, max_length=4000, verbose_name='measures taken or proposed')),
                ('authority_notified_at', models.DateTimeField(blank=True, null=True, verbose_name='supervisory authority notified at')),
                ('authority_reference', models.CharField(blank=True, max_length=100, verbose_name="supervisory authority's reference")),
                ('subjects_informed', models.BooleanField(default=False, verbose_name='data subjects informed')),
                ('subjects_not_informed_reason', models.TextField(blank=True, max_length=2000, verbose_name='why the data subjects were not informed')),
                ('reminder_sent_at', models.DateTimeField(blank=True, null=True, verbose_name='deadline reminder sent at')),
                ('closed_at', models.DateTimeField(blank=True, null=True, verbose_name='closed at')),
                ('closing_note', models.TextField(blank=True, max_length=2000, verbose_name='closing note')),
                ('alerts', models.ManyToManyField(blank=True, related_name='incidents', to='audit.alert')),
                ('closed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('opened_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='compliance.tenant')),
            ],
            options={
                'verbose_name': 'incident',
                'verbose_name_plural': 'incidents',
                'ordering': ('-opened_at',),
            },
        ),
        migrations.CreateModel(
            name='IncidentAction',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('text', models.CharField(max_length=300, verbose_name='action')),
                ('mandatory', models.BooleanField(default=True, verbose_name='mandatory')),
                ('done_at', models.DateTimeField(blank=True, null=True, verbose_name='done at')),
                ('done_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('incident', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='actions', to='audit.incident')),
            ],
            options={
                'ordering': ('position', 'id'),
            },
        ),
        migrations.CreateModel(
            name='PlaybookAction',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('nature', models.CharField(choices=[('account_compromise', 'Account compromise'), ('unauthorised_listening', 'Unauthorised listening'), ('data_exfiltration', 'Data exfiltration'), ('lost_device', 'Lost or stolen device'), ('ransomware', 'Ransomware'), ('other', 'Other')], max_length=30, verbose_name='nature')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='order')),
                ('text', models.CharField(max_length=300, verbose_name='action')),
                ('mandatory', models.BooleanField(default=True, verbose_name='mandatory')),
                ('tenant', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='compliance.tenant')),
            ],
            options={
                'verbose_name': 'playbook action',
                'verbose_name_plural': 'playbook actions',
                'ordering': ('nature', 'position', 'id'),
            },
        ),
        migrations.AddIndex(
            model_name='incident',
            index=models.Index(fields=['tenant', 'status', 'aware_at'], name='audit_incident_open'),
        ),
        migrations.RunPython(create_playbooks, remove_playbooks),
    ]
