-- An execution's lease: renewed by the replica that holds its node's connection while the node is alive; once it
-- has lapsed (the node or its replica died), the housekeeping replica takes the execution back. Epoch ms.
ALTER TABLE executions ADD COLUMN lease_expires_at BIGINT;
CREATE INDEX executions_running_lease ON executions (lease_expires_at) WHERE status = 'running';
