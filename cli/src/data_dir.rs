//! The data directory of the embedded default: one serving process at a time, and saying where
//! data went.

use std::fs::{File, TryLockError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use boxoffice_config::Settings;

/// The file under the data directory that a serving process holds locked.
pub const LOCK_FILE: &str = "boxoffice.lock";
/// How long a start waits for the lock before it gives up. A lock is held a moment longer than
/// its process serves: by a process that is still exiting, or by a child that another thread of
/// the process was starting (it holds a copy of every open file until it runs its program).
const LOCK_WAIT: Duration = Duration::from_secs(2);
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// An exclusive lock on the data directory, held while `serve` runs.
///
/// A process that keeps state in its own memory (the inventory and the revocation list without
/// Redis) must be the only one serving that data: a second `serve` on the same directory would
/// sell from an inventory of its own, and accept tokens the first one revoked. The operator CLI
/// (`users add`, `migrate`) takes no lock, so it may run beside the server.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock when this process keeps state in its own memory or in SQLite files: that
    /// is, unless it runs on both PostgreSQL and Redis, where replicas share everything.
    pub async fn acquire_if_needed(settings: &Settings) -> anyhow::Result<Option<Self>> {
        if settings.database_url.is_some() && settings.redis_url.is_some() {
            return Ok(None);
        }
        Self::acquire(&settings.data_dir).await.map(Some)
    }

    async fn acquire(data_dir: &std::path::Path) -> anyhow::Result<Self> {
        boxoffice_db::create_private_dir(data_dir)?;
        let path = data_dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(DataDirLock { _file: file }),
                Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                    tokio::time::sleep(LOCK_RETRY).await;
                }
                Err(TryLockError::WouldBlock) => anyhow::bail!(
                    "another boxoffice is already serving the data directory {} (it holds {}); stop it, \
                 or give this one another BOXOFFICE_DATA_DIR",
                    absolute(data_dir).display(),
                    LOCK_FILE
                ),
                Err(TryLockError::Error(error)) => {
                    return Err(error).with_context(|| format!("locking {}", path.display()));
                }
            }
        }
    }
}

/// Whether an operator command is about to create the embedded data directory: asked before
/// anything is written, for [`where_it_went`].
pub fn data_dir_is_new(settings: &Settings) -> bool {
    settings.is_embedded() && !settings.data_dir.exists()
}

/// What an operator command that wrote to `services`' databases tells its user: where each one
/// is, and, when the command made the data directory (as when run from another directory than
/// the server's), that a server elsewhere does not see what it wrote.
pub fn where_it_went(settings: &Settings, services: &[&str], data_dir_was_new: bool) -> String {
    let mut lines: Vec<String> = services
        .iter()
        .map(|service| format!("{service}: {}", describe_database(settings, service)))
        .collect();
    if data_dir_was_new {
        lines.push(format!(
            "note: the data directory {} did not exist and was created now; a server that runs \
             elsewhere does not see this (set BOXOFFICE_DATA_DIR to its data directory)",
            absolute(&settings.data_dir).display()
        ));
    }
    lines.join("\n")
}

/// Where `service` keeps its data, for people: the SQLite file, or the PostgreSQL database and
/// schema (without the password of its URL).
pub fn describe_database(settings: &Settings, service: &str) -> String {
    match &settings.database_url {
        Some(url) => format!("PostgreSQL {} (schema {service})", without_password(url)),
        None => format!("SQLite {}", absolute(&settings.sqlite_path(service)).display()),
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) =
        rest.split_once('/').map_or((rest, None), |(authority, path)| (authority, Some(path)));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or(user_info, |(user, _)| user);
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    match path {
        Some(path) => format!("{scheme}://{authority}/{path}"),
        None => format!("{scheme}://{authority}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_is_shown_without_its_password() {
        assert_eq!(without_password("postgres://app:s3cret@db:5432/box"), "postgres://app@db:5432/box");
        assert_eq!(
            without_password("postgres://postgres@127.0.0.1/box"),
            "postgres://postgres@127.0.0.1/box"
        );
        assert_eq!(
            without_password("postgres://db/box?sslmode=require"),
            "postgres://db/box?sslmode=require"
        );
    }

    #[tokio::test]
    async fn a_second_lock_on_one_directory_is_refused_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("boxoffice-lock-{}", std::process::id()));
        let first = DataDirLock::acquire(&dir).await.unwrap();
        let error = DataDirLock::acquire(&dir).await.unwrap_err().to_string();
        assert!(error.contains("already serving the data directory"), "{error}");
        // A lock given up while a start waits for it is taken.
        let waiting = tokio::spawn({
            let dir = dir.clone();
            async move { DataDirLock::acquire(&dir).await }
        });
        tokio::time::sleep(LOCK_RETRY * 2).await;
        drop(first);
        waiting.await.unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
