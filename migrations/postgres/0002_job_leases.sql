-- When each scheduled job may run next: the node that moves the mark runs the job, so several
-- nodes on one database run it once per interval between them.
CREATE TABLE job_leases (
    name        TEXT   PRIMARY KEY,
    next_run_at BIGINT NOT NULL
);
