-- A submission's audit entry is chained at its commit (issue 21, figure 5). The
-- chain is one row per tenant (privacy_audit_heads), locked by each append until
-- its transaction ends: appended as a submission's last statement, the lock was
-- still held while the answer went back to the service and its COMMIT came in,
-- a round trip through a busy event loop, and every other submission of the tenant
-- waited for it (2.9 ms of the append's 3.1 ms a submission at 64 callers, by
-- pg_stat_statements; 0.45 ms with this migration).
--
-- Now the submission only records its entry here, and a deferred constraint
-- trigger appends it when the transaction commits (privacy_audit_append, as
-- before: the same chain, the same hashes). PostgreSQL runs deferred triggers inside
-- COMMIT, before the commit record: the head is locked from there to the end of
-- the commit, with no round trip in between, and the job and its entry still
-- commit together or not at all (a failing append fails the commit). The rows are
-- deleted by the same trigger: nothing stays here past its transaction, so the
-- table is UNLOGGED (no WAL for it; a crash empties it, which holds nothing then).
CREATE UNLOGGED TABLE privacy_audit_pending (
    tenant_id     text NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    actor         text NOT NULL,
    action        text NOT NULL,
    job_id        uuid,
    subject_hash  text NOT NULL,
    data_type     text NOT NULL,
    details       jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE FUNCTION privacy_audit_append_pending() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM privacy_audit_append(NEW.tenant_id, NEW.actor, NEW.action, NEW.job_id,
                                 NEW.subject_hash, NEW.data_type, NEW.details);
    DELETE FROM privacy_audit_pending WHERE tenant_id = NEW.tenant_id AND id = NEW.id;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER privacy_audit_pending_append
    AFTER INSERT ON privacy_audit_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION privacy_audit_append_pending();
