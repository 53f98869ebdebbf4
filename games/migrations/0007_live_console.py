# The live console: kicks, messages to a match and broadcasts in the audit log (a
# broadcast's target is the site), and the permissions of the console's actions.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("games", "0006_bots"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="match",
            options={
                "permissions": [
                    ("abort_match", "Can abort matches"),
                    ("kick_player", "Can remove players from live matches"),
                    ("message_match", "Can send a message to a live match's players"),
                    ("broadcast", "Can send a message to every connected player"),
                ],
                "verbose_name_plural": "matches",
            },
        ),
        migrations.RemoveConstraint(
            model_name="auditentry",
            name="audit_action_valid",
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("ban", "Ban"),
                    ("unban", "Unban"),
                    ("abort", "Abort match"),
                    ("claim_report", "Claim report"),
                    ("resolve_report", "Resolve report"),
                    ("warn", "Warn"),
                    ("mute", "Mute"),
                    ("clear_cooldown", "Clear cooldown"),
                    ("kick", "Kick from a match"),
                    ("message", "Message a match"),
                    ("broadcast", "Broadcast"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="target_type",
            field=models.CharField(help_text="player, match, or site (a broadcast)", max_length=16),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "action__in",
                        [
                            "ban",
                            "unban",
                            "abort",
                            "claim_report",
                            "resolve_report",
                            "warn",
                            "mute",
                            "clear_cooldown",
                            "kick",
                            "message",
                            "broadcast",
                        ],
                    )
                ),
                name="audit_action_valid",
            ),
        ),
    ]
