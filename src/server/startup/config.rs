//! All settings, loaded once at start-up into typed values. A bad setting stops start-up
//! with a message that names it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::RngCore;

use crate::domain::DEFAULT_PASSWORD_MIN_LENGTH;
use crate::server::store::is_postgres_url;

const MIN_SECRET_BYTES: usize = 32;
const SECRET_FILE: &str = "jwt_secret";

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

fn invalid(name: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        message: message.into(),
    }
}

/// The JWT signing secret. Neither `Debug` nor `Serialize` can reveal it.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// The site's public origin, which decides `Secure` cookies and the CSRF origin check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    /// `scheme://host[:port]` without a trailing slash.
    pub origin: String,
    pub https: bool,
}

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim().trim_end_matches('/');
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or("must start with http:// or https://")?;
        let https = match scheme {
            "https" => true,
            "http" => false,
            _ => return Err("must start with http:// or https://".into()),
        };
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err("must name a host, like https://accounts.example.com".into());
        }
        Ok(Self {
            origin: format!("{scheme}://{host}"),
            https,
        })
    }
}

/// How mail is sent and what the emailed links allow.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `SMTP_URL` in lettre's syntax; `None` writes `.eml` files to `$DATA_DIR/outbox/`.
    /// Kept out of `Debug` output: it may carry credentials.
    pub smtp_url: Option<SmtpUrl>,
    /// `MAIL_FROM`, e.g. `Gatehouse <accounts@example.com>`.
    pub from: String,
    /// `EMAIL_VERIFICATION=required` refuses logins until the address is confirmed.
    pub verification_required: bool,
    /// Lifetime of a password-reset link (`RESET_TOKEN_TTL`).
    pub reset_ttl: Duration,
    /// Lifetime of a confirmation link, for a new account or a new address
    /// (`VERIFY_TOKEN_TTL`).
    pub verify_ttl: Duration,
}

/// An SMTP URL, which may hold a password. Neither `Debug` nor `Display` shows it.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmtpUrl(<redacted>)")
    }
}

/// How long tokens and sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Lifetime of an access token (`ACCESS_TOKEN_TTL`).
    pub access_ttl: Duration,
    /// Lifetime of a "remember me" refresh token; slides with each renewal
    /// (`REFRESH_TOKEN_TTL`).
    pub refresh_ttl: Duration,
    /// Absolute limit of a session without "remember me" (`BROWSER_SESSION_TTL`).
    pub browser_session_ttl: Duration,
    /// A session unused for this long has expired (`SESSION_IDLE_TTL`).
    pub idle_ttl: Duration,
    /// No session outlives this, however often it is renewed (`SESSION_MAX_LIFETIME`).
    pub max_lifetime: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    /// The OpenID Provider's signing keys (`OIDC_KEYS_FILE`, else `DATA_DIR/oidc-keys.json`):
    /// every node of one service needs the same file.
    pub oidc_keys_file: PathBuf,
    pub database_url: String,
    pub jwt_secret: SigningSecret,
    pub sessions: SessionPolicy,
    pub public_url: PublicUrl,
    pub password_min_length: usize,
    pub max_concurrent_hashes: usize,
    /// Password checks that may wait for a hashing slot; beyond them, 503 at once
    /// (`HASH_QUEUE_LIMIT`).
    pub hash_queue_limit: usize,
    /// Registrations one client address may make per hour (`REGISTRATION_LIMIT`).
    pub registration_limit: usize,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers are believed
    /// (`TRUSTED_PROXIES`, a list of addresses or CIDR ranges; empty by default).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub mail: MailSettings,
    /// Audit events older than this are deleted (`AUDIT_RETENTION`).
    pub audit_retention: Duration,
    pub max_body_bytes: usize,
    /// A request still unanswered after this long gets 408 (`REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// Where `/metrics` is served (`METRICS_ADDR`); unset: nowhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// After SIGTERM, how long in-flight requests may take to finish (`SHUTDOWN_TIMEOUT`).
    pub shutdown_timeout: Duration,
    /// Scheduled backups (`BACKUP_DIR`, `BACKUP_INTERVAL`, `BACKUP_KEEP`); off when unset.
    pub backups: Option<BackupSchedule>,
}

#[derive(Clone, Debug)]
pub struct BackupSchedule {
    pub dir: PathBuf,
    pub interval: Duration,
    /// How many backups are kept; older ones are deleted.
    pub keep: usize,
}

/// Parses `90s`, `15m`, `12h`, `30d` or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (digits, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => raw.split_at(at),
        None => (raw, "s"),
    };
    let amount: u64 = digits
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration; use e.g. 90s, 15m, 12h or 30d"))?;
    let seconds = match unit {
        "s" => Some(amount),
        "m" => amount.checked_mul(60),
        "h" => amount.checked_mul(3600),
        "d" => amount.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{raw:?} is not a duration; use e.g. 90s, 15m, 12h or 30d"))?;
    if seconds == 0 {
        return Err("must be longer than zero".into());
    }
    Ok(Duration::from_secs(seconds))
}

impl Config {
    /// Loads from the process environment (after `.env`, if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    /// Loads from any source of settings; tests pass a map.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let duration = |name: &'static str, default: &str| {
            parse_duration(&get(name).unwrap_or_else(|| default.to_string()))
                .map_err(|message| invalid(name, message))
        };
        let number = |name: &'static str, default: usize| match get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(name, format!("{raw:?} is not a positive whole number"))),
        };

        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "data".to_string()));
        create_private_dir(&data_dir).map_err(|e| {
            invalid(
                "DATA_DIR",
                format!("cannot create {} (mode 0700): {e}", data_dir.display()),
            )
        })?;
        let database_url = match get("DATABASE_URL") {
            Some(url) if url.starts_with("sqlite:") || is_postgres_url(&url) => url,
            Some(_) => {
                return Err(invalid(
                    "DATABASE_URL",
                    "must be a sqlite: URL, like sqlite://data/gatehouse.db, or a postgres:// \
                     (postgresql://) URL",
                ))
            }
            None => format!("sqlite://{}", data_dir.join("gatehouse.db").display()),
        };
        create_private_database(&database_url).map_err(|e| {
            invalid(
                "DATABASE_URL",
                format!("cannot create the database file (mode 0600): {e}"),
            )
        })?;
        let jwt_secret = match get("JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_SECRET_BYTES => {
                SigningSecret::new(secret.into_bytes())
            }
            Some(_) => {
                return Err(invalid(
                    "JWT_SECRET",
                    format!("must be at least {MIN_SECRET_BYTES} bytes long"),
                ))
            }
            None => load_or_create_secret(&data_dir)?,
        };
        let password_min_length = number("PASSWORD_MIN_LENGTH", DEFAULT_PASSWORD_MIN_LENGTH)?;
        if password_min_length > crate::domain::PASSWORD_MAX_LENGTH {
            return Err(invalid("PASSWORD_MIN_LENGTH", "must be at most 256"));
        }
        let public_url = PublicUrl::parse(
            &get("PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".to_string()),
        )
        .map_err(|message| invalid("PUBLIC_URL", message))?;

        let oidc_keys_file = match get("OIDC_KEYS_FILE") {
            Some(path) if !path.trim().is_empty() => PathBuf::from(path),
            Some(_) => return Err(invalid("OIDC_KEYS_FILE", "must name a file")),
            None => data_dir.join(crate::server::oidc::keys::FILE),
        };
        Ok(Self {
            oidc_keys_file,
            data_dir,
            database_url,
            jwt_secret,
            sessions: SessionPolicy {
                access_ttl: duration("ACCESS_TOKEN_TTL", "15m")?,
                refresh_ttl: duration("REFRESH_TOKEN_TTL", "30d")?,
                browser_session_ttl: duration("BROWSER_SESSION_TTL", "12h")?,
                idle_ttl: duration("SESSION_IDLE_TTL", "14d")?,
                max_lifetime: duration("SESSION_MAX_LIFETIME", "90d")?,
            },
            public_url,
            password_min_length,
            max_concurrent_hashes: number("MAX_CONCURRENT_HASHES", default_hashing_threads())?,
            hash_queue_limit: number("HASH_QUEUE_LIMIT", 32)?,
            registration_limit: number("REGISTRATION_LIMIT", 1000)?,
            trusted_proxies: parse_networks(&get("TRUSTED_PROXIES").unwrap_or_default())
                .map_err(|message| invalid("TRUSTED_PROXIES", message))?,
            audit_retention: duration("AUDIT_RETENTION", "365d")?,
            mail: MailSettings {
                smtp_url: get("SMTP_URL").map(|url| SmtpUrl(url.trim().to_string())),
                from: get("MAIL_FROM")
                    .unwrap_or_else(|| "Gatehouse <gatehouse@localhost>".to_string()),
                verification_required: match get("EMAIL_VERIFICATION").as_deref().map(str::trim) {
                    None | Some("optional") => false,
                    Some("required") => true,
                    Some(other) => {
                        return Err(invalid(
                            "EMAIL_VERIFICATION",
                            format!("{other:?} is neither \"optional\" nor \"required\""),
                        ))
                    }
                },
                reset_ttl: duration("RESET_TOKEN_TTL", "1h")?,
                verify_ttl: duration("VERIFY_TOKEN_TTL", "24h")?,
            },
            max_body_bytes: number("MAX_BODY_BYTES", 64 * 1024)?,
            request_timeout: duration("REQUEST_TIMEOUT", "30s")?,
            metrics_addr: match get("METRICS_ADDR") {
                None => None,
                Some(raw) => Some(raw.trim().parse().map_err(|_| {
                    invalid(
                        "METRICS_ADDR",
                        format!("{raw:?} is not an address and port, like 127.0.0.1:9090"),
                    )
                })?),
            },
            shutdown_timeout: duration("SHUTDOWN_TIMEOUT", "20s")?,
            backups: match get("BACKUP_DIR") {
                None => None,
                Some(dir) => Some(BackupSchedule {
                    dir: PathBuf::from(dir.trim()),
                    interval: duration("BACKUP_INTERVAL", "24h")?,
                    keep: number("BACKUP_KEEP", 7)?,
                }),
            },
        })
    }
}

/// Reads the generated secret, or creates it once (mode 0600) so restarts keep sessions.
fn load_or_create_secret(data_dir: &Path) -> Result<SigningSecret, ConfigError> {
    let path = data_dir.join(SECRET_FILE);
    let fail = |e: std::io::Error| {
        invalid(
            "JWT_SECRET",
            format!(
                "unset, and the generated secret at {} is unusable: {e}",
                path.display()
            ),
        )
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            if readable_by_others(&path).map_err(fail)? {
                return Err(invalid(
                    "JWT_SECRET",
                    format!(
                        "unset, and {} may be read by other users; run `chmod 600 {}`",
                        path.display(),
                        path.display()
                    ),
                ));
            }
            let bytes = hex::decode(text.trim()).map_err(|_| {
                invalid(
                    "JWT_SECRET",
                    format!("unset, and {} is not a hex secret", path.display()),
                )
            })?;
            if bytes.len() < MIN_SECRET_BYTES {
                return Err(invalid(
                    "JWT_SECRET",
                    format!(
                        "unset, and {} holds a secret that is too short",
                        path.display()
                    ),
                ));
            }
            Ok(SigningSecret::new(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = vec![0u8; 64];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            write_private_file(&path, hex::encode(&bytes).as_bytes()).map_err(fail)?;
            Ok(SigningSecret::new(bytes))
        }
        Err(e) => Err(fail(e)),
    }
}

/// One per core. Hashing runs at idle priority, so pages still come first: measured on 2 cores
/// (`make bench-hostile`), two hashing threads kept `/profile`'s p99 at 1.5× quiet during a
/// login flood and logins during a registration flood at p99 51 ms, while right-password
/// logins rose from 61 to 81 a second (`make bench`). At normal priority a second thread had
/// slowed pages to 3.1× quiet.
fn default_hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Parses `TRUSTED_PROXIES`: addresses or CIDR ranges separated by commas or spaces.
pub fn parse_networks(raw: &str) -> Result<Vec<ipnet::IpNet>, String> {
    raw.split([',', ' '])
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let part = part.trim();
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{part:?} is not an IP address or CIDR range"))
        })
        .collect()
}

/// The data directory holds the database and the signing secret: only its owner may enter.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(path)
}

/// Creates the SQLite file with mode 0600 before SQLite does (SQLite would use the umask);
/// its `-wal` and `-shm` files then take the same mode.
fn create_private_database(database_url: &str) -> std::io::Result<()> {
    if is_postgres_url(database_url) {
        return Ok(());
    }
    let path = database_url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" || Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn readable_by_others(path: &Path) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    Ok(false)
}

pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn durations_accept_units_and_bare_seconds() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(2_592_000)
        );
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("0").is_err());
    }

    #[test]
    fn short_jwt_secret_stops_start_up_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&[
            ("DATA_DIR", dir.path().to_str().unwrap()),
            ("JWT_SECRET", "too-short"),
        ])
        .unwrap_err();
        assert_eq!(err.name, "JWT_SECRET");
        assert!(!err.to_string().contains("too-short"), "the secret leaked");
    }

    #[cfg(unix)]
    #[test]
    fn data_directory_and_database_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        load(&[("DATA_DIR", data.to_str().unwrap())]).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("gatehouse.db")), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_others_can_read_stops_start_up() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        load(&[("DATA_DIR", data)]).unwrap();
        let secret = dir.path().join(SECRET_FILE);
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(&[("DATA_DIR", data)]).unwrap_err();
        assert_eq!(err.name, "JWT_SECRET");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn trusted_proxies_accept_addresses_and_ranges() {
        let nets = parse_networks("10.0.0.0/8, 192.168.1.1 ::1").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[0].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
        assert!(nets[2].contains(&"::1".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_networks("").unwrap().is_empty());
        assert!(parse_networks("10.0.0.0/33").is_err());
        assert!(parse_networks("proxy.example").is_err());
    }

    #[test]
    fn generated_secret_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let first = load(&[("DATA_DIR", data)]).unwrap();
        let second = load(&[("DATA_DIR", data)]).unwrap();
        assert_eq!(first.jwt_secret.expose(), second.jwt_secret.expose());
        assert!(first.jwt_secret.expose().len() >= MIN_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            !format!("{:?}", first.jwt_secret).contains(&hex::encode(first.jwt_secret.expose()))
        );
    }

    #[test]
    fn bad_settings_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        for (name, value) in [
            ("ACCESS_TOKEN_TTL", "later"),
            ("PUBLIC_URL", "ftp://example.com"),
            ("PASSWORD_MIN_LENGTH", "-1"),
            ("DATABASE_URL", "mysql://x"),
        ] {
            let err = load(&[("DATA_DIR", data), (name, value)]).unwrap_err();
            assert_eq!(err.name, name);
        }
    }

    #[test]
    fn https_public_url_is_detected() {
        let url = PublicUrl::parse("https://accounts.example.com/").unwrap();
        assert!(url.https);
        assert_eq!(url.origin, "https://accounts.example.com");
    }
}
