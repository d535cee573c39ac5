"""PostgreSQL itself refuses to change the audit trail, whichever client connects.

UPDATE, DELETE and TRUNCATE on audit_auditevent raise an error; the chain head may be advanced
(UPDATE) but never deleted or truncated. The genesis head row starts the chain.
"""

from django.db import migrations

GENESIS = "0" * 64

FORWARD = f"""
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_event_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_head_no_delete
    BEFORE DELETE ON audit_chainhead
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_head_no_truncate
    BEFORE TRUNCATE ON audit_chainhead
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

INSERT INTO audit_chainhead (id, sequence, hash, previous_hash) VALUES (1, 0, '{GENESIS}', '{GENESIS}');
"""  # nosec B608 # a constant: the genesis hash

BACKWARD = """
DROP TRIGGER audit_head_no_truncate ON audit_chainhead;
DROP TRIGGER audit_head_no_delete ON audit_chainhead;
DROP TRIGGER audit_event_no_truncate ON audit_auditevent;
DROP TRIGGER audit_event_no_update_delete ON audit_auditevent;
DROP FUNCTION audit_refuse_change();
DELETE FROM audit_chainhead;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
