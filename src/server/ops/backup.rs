//! Online backups: `Store::copy_to` (SQLite's `VACUUM INTO`) writes a consistent copy of the live database (one read
//! transaction, so every write committed before it began is in the copy) while the server
//! keeps serving. `gatehouse backup FILE` takes one; `BACKUP_DIR` takes one every
//! `BACKUP_INTERVAL` and keeps the newest `BACKUP_KEEP`.

use std::path::{Path, PathBuf};

use crate::server::startup::config::{create_private_dir, write_private_file, BackupSchedule};
use crate::server::startup::state::AppState;
use crate::server::store::Store;

const PREFIX: &str = "gatehouse-";
const SUFFIX: &str = ".db";

/// Writes a backup of `db` to `target`, which must not exist yet. The copy is written next to
/// it under a temporary name (mode 0600) and renamed when complete, so `target` is never a
/// partial file. Returns its size in bytes.
pub async fn backup_to(db: &Store, target: &Path) -> Result<u64, String> {
    if db.is_postgres() {
        // Refused before any file is made (PostgreSQL has its own backup tools).
        return db.copy_to("").await.map(|()| 0);
    }
    if target.exists() {
        return Err(format!(
            "{} already exists; choose a new file name",
            target.display()
        ));
    }
    let name = target
        .file_name()
        .ok_or_else(|| format!("{} is not a file name", target.display()))?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(name);
    partial_name.push(".partial");
    let partial = target.with_file_name(partial_name);
    let _ = std::fs::remove_file(&partial);
    // VACUUM INTO accepts an existing empty file: creating it first decides its mode.
    write_private_file(&partial, b"")
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let path = partial
        .to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", partial.display()))?;
    if let Err(e) = db.copy_to(path).await {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("backup failed: {e}"));
    }
    std::fs::rename(&partial, target)
        .map_err(|e| format!("cannot rename the backup to {}: {e}", target.display()))?;
    std::fs::metadata(target)
        .map(|m| m.len())
        .map_err(|e| e.to_string())
}

/// The file name a scheduled backup taken at `unix` seconds gets; names sort by time.
fn scheduled_name(unix: i64) -> String {
    let stamp = time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string());
    format!("{PREFIX}{stamp}{SUFFIX}")
}

/// Scheduled backups in `dir`, oldest first.
fn scheduled_backups(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Takes one scheduled backup and deletes the oldest beyond `keep`. Returns the new file.
pub async fn take_scheduled(
    state: &AppState,
    schedule: &BackupSchedule,
) -> Result<PathBuf, String> {
    create_private_dir(&schedule.dir)
        .map_err(|e| format!("BACKUP_DIR: cannot create {}: {e}", schedule.dir.display()))?;
    let target = schedule.dir.join(scheduled_name(state.now()));
    backup_to(&state.db, &target).await?;
    let all = scheduled_backups(&schedule.dir).map_err(|e| e.to_string())?;
    let excess = all.len().saturating_sub(schedule.keep);
    for old in &all[..excess] {
        if let Err(e) = std::fs::remove_file(old) {
            tracing::warn!(file = %old.display(), error = %e, "cannot delete an old backup");
        }
    }
    Ok(target)
}

/// Runs scheduled backups while the database is open, the first one after one interval.
pub fn spawn_scheduled(state: AppState) {
    let Some(schedule) = state.config.backups.clone() else {
        return;
    };
    tokio::spawn(async move {
        let mut every = tokio::time::interval(schedule.interval);
        every.tick().await;
        loop {
            every.tick().await;
            if state.db.is_closed() {
                break;
            }
            // One backup per interval among all processes on the database.
            let interval = crate::server::store::secs(schedule.interval);
            let turn = match state.db.acquire().await {
                Ok(mut conn) => {
                    crate::server::store::jobs::take_turn(
                        &mut conn,
                        "backup",
                        state.now(),
                        interval,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            if !turn.unwrap_or(false) {
                continue;
            }
            match take_scheduled(&state, &schedule).await {
                Ok(file) => tracing::info!(file = %file.display(), "backup written"),
                Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_names_sort_by_time() {
        assert_eq!(scheduled_name(0), "gatehouse-19700101T000000Z.db");
        let (a, b) = (scheduled_name(1_700_000_000), scheduled_name(1_800_000_000));
        assert!(a < b);
    }
}
