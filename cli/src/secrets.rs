//! The secrets of a deployment: from configuration, or, for the embedded default, from files
//! under the data directory that the first start creates.

use std::path::Path;

use anyhow::Context as _;
use boxoffice_auth::TokenKey;
use boxoffice_bookings::tickets::TicketSigner;
use boxoffice_config::Settings;

/// The file, under the data directory, that keeps the embedded default's access token secret.
pub const TOKEN_SECRET_FILE: &str = "jwt-hs256.key";
/// The file, under the data directory, that keeps the embedded default's ticket secret.
pub const TICKET_SECRET_FILE: &str = "ticket-hmac.key";

/// The secret that signs and verifies access tokens: from configuration, or, for the embedded
/// default, from a file under the data directory that the first start creates.
pub fn token_key(settings: &Settings) -> anyhow::Result<TokenKey> {
    let text =
        secret(settings, settings.jwt_secret.as_deref(), "BOXOFFICE_JWT_SECRET", TOKEN_SECRET_FILE, || {
            Ok(TokenKey::generate_secret())
        })?;
    let source = match settings.jwt_secret {
        Some(_) => "BOXOFFICE_JWT_SECRET".to_owned(),
        None => settings.data_dir.join(TOKEN_SECRET_FILE).display().to_string(),
    };
    TokenKey::new(&text).with_context(|| format!("reading the access token secret from {source}"))
}

/// The secret that signs ticket codes, found like [`token_key`].
pub fn ticket_signer(settings: &Settings) -> anyhow::Result<TicketSigner> {
    let text = secret(
        settings,
        settings.ticket_secret.as_deref(),
        "BOXOFFICE_TICKET_SECRET",
        TICKET_SECRET_FILE,
        || Ok(boxoffice_auth::random_token()),
    )?;
    TicketSigner::new(text.trim().as_bytes()).context("reading the ticket secret")
}

/// A secret from configuration; embedded, from a file under the data directory that the first
/// start creates with `generate`. With PostgreSQL every replica must share it, so it must be
/// configured.
fn secret(
    settings: &Settings,
    configured: Option<&str>,
    variable: &str,
    file: &str,
    generate: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    if let Some(text) = configured {
        return Ok(text.to_owned());
    }
    anyhow::ensure!(
        settings.is_embedded(),
        "{variable} must be set when BOXOFFICE_DATABASE_URL is, so that every replica uses the same \
         secret; create one with `boxoffice keys generate`"
    );
    load_or_create_secret_file(&settings.data_dir.join(file), generate)
}

fn load_or_create_secret_file(
    path: &Path,
    generate: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    let read =
        |path: &Path| std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()));
    if path.exists() {
        return read(path);
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    boxoffice_db::create_private_dir(parent)?;
    // The secret is written whole to a private file, then linked into place: two processes
    // starting at once (`serve` and `users add`, say) never see a half-written secret, and the
    // loser of the race uses the winner's.
    let secret = generate()?;
    let file_name = path.file_name().and_then(|name| name.to_str()).unwrap_or("secret");
    let temporary = parent.join(format!(".{file_name}.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).with_context(|| format!("creating {}", temporary.display()))?;
    std::io::Write::write_all(&mut file, secret.as_bytes())?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a secret");
            Ok(secret)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}
