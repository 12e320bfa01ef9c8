//! For operators: Prometheus metrics and backups.

pub mod backup;
pub mod metrics;
