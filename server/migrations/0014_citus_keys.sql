-- Keys ready for distribution by tenant_id (docs/scaling.md): a legal hold's primary
-- key starts with its tenant, as every tenant table's does. Hold ids are random UUIDs
-- made by the service, so (tenant_id, id) refuses nothing that (id) accepted; the
-- lookups by id alone (get_hold, release_hold) keep an index of their own.
ALTER TABLE privacy_legal_holds DROP CONSTRAINT privacy_legal_holds_pkey;
ALTER TABLE privacy_legal_holds ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX privacy_legal_holds_id_idx ON privacy_legal_holds (id);
