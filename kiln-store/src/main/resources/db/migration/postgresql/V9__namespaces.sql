-- Jobs belong to a namespace (the caller's); submitted_by is the key id that submitted it (audit). Jobs from before
-- namespaces are in 'default'. Idempotency keys stay one unique column, stored scoped by namespace (IdempotencyKeys).
ALTER TABLE jobs ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default';
ALTER TABLE jobs ADD COLUMN submitted_by TEXT;
CREATE INDEX jobs_namespace_seq ON jobs (namespace, seq);
