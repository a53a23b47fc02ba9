-- Retention deletes finished jobs oldest first (JobStore.deleteFinishedBefore).
CREATE INDEX jobs_finished_at ON jobs (finished_at) WHERE finished_at IS NOT NULL;
