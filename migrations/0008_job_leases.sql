-- When each scheduled job may run next: the process that moves the mark runs the job, so
-- several processes on one database run it once per interval between them.
CREATE TABLE job_leases (
    name        TEXT    PRIMARY KEY,
    next_run_at INTEGER NOT NULL
);
