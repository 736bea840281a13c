//! The assistant over HTTP: the JSON API, its OpenAPI document and a small
//! page, on 127.0.0.1.
//!
//! ```sh
//! cargo run --release --example serve [-- --addr 127.0.0.1:8080] [--db FILE] [--key FILE]
//!     [--database postgres://...] [--data DIR] [--now RFC3339] [--icloud-server URL]
//!     [--cache-ttl SECS] [--refresh-every SECS] [--lease SECS]
//! ```
//!
//! - Storage is a SQLite file (`--db`, default `target/serve/assistant.sqlite3`)
//!   holding the sealed credentials and the records, so a restart loses
//!   nothing. The vault's master key is a development key file (`--key`,
//!   default beside the database, created with mode 0600 on first start).
//!   Bring your own key in production.
//! - `--database postgres://user@host/db` keeps everything in PostgreSQL
//!   instead (built with `--features postgres`; no TLS, so loopback or a
//!   private network only). Without it (and without `--db`),
//!   `DATABASE_URL` is used if set: prefer it for a URL with a password,
//!   which the process list would show. Start several `serve` with the same database
//!   and the same `--key` file and they share records, credentials and
//!   busy times, each participant refreshed by one of them per TTL (see
//!   "Running several instances" in the README).
//! - `--cache-ttl` (default 600 s) is how long busy times are reused,
//!   `--refresh-every` (default 60 s) how often stale ones are refreshed in
//!   the background, `--lease` (default 60 s) how long an instance's claim
//!   to refresh a participant lasts before another may take it over.
//! - `GOOGLE_AUTH_URL`, `GOOGLE_TOKEN_URL`, `GOOGLE_API_URL`,
//!   `MICROSOFT_AUTHORITY` and `MICROSOFT_GRAPH_URL` point the providers at
//!   other endpoints (a stand-in server in tests).
//! - On first start it seeds the demo's program, people, pair and circle
//!   (`examples/data`). Nobody is connected: sign in on the page and
//!   connect.
//! - iCloud is, by default, the demo's stand-in: the shipped `.ics` files,
//!   an Apple ID being the participant's email (`maya@example.org`, any
//!   password). With `--icloud-server URL` it is a real CalDAV server
//!   (`https://caldav.icloud.com/`), logins checked by discovery.
//! - Google and Microsoft connect by OAuth when their app is configured:
//!   `GOOGLE_CLIENT_ID` (and `GOOGLE_CLIENT_SECRET`), `MICROSOFT_CLIENT_ID`
//!   (and `MICROSOFT_CLIENT_SECRET`, `MICROSOFT_TENANT`, default `common`).
//!   Register `http://ADDR/api/oauth/callback` as the redirect URI.
//! - `--now` fixes the clock (the demo data is in March 2026).
//! - Booked meetings are sent as iTIP email with `--smtp HOST[:PORT]
//!   --smtp-from ADDRESS` (implicit TLS on 465 by default; `--smtp-security
//!   starttls` for 587, `loopback-plain` for a relay on this machine), with
//!   `SMTP_USER` and `SMTP_PASSWORD` from the environment if the server
//!   wants a login. Without them, booking answers `invitations_not_configured`.
//!
//! - `--allowed-host NAME[:PORT]` (repeatable) adds a `Host` the server
//!   answers for (421 otherwise; `localhost`, `127.0.0.1` and `[::1]` always
//!   are); `--secure` says it is reached over TLS through a proxy (cookies
//!   `Secure` and `__Host-`, HSTS).
//! - `--sign-ins-per-minute N` and `--connects-per-minute N` (default 10
//!   each) are the per-client-address rate limits (429 beyond them).
//! - `--extra-root FILE` (repeatable) trusts the PEM certificates in FILE,
//!   besides the platform's roots, for Google and Microsoft (a private CA,
//!   a stand-in server). Exchange on-premise takes its own roots in its
//!   settings.
//! - Organisation integrations are enabled at run time by an
//!   administrator, on the page (`/admin`) or the API (`/api/admin/`), and
//!   restored on every start. `--org-config FILE` enables them at start
//!   instead: a JSON object from kind (`google_workspace`,
//!   `exchange_online`, `exchange_on_premise`) to the body of `POST
//!   /api/admin/integrations/{kind}`; a kind already enabled is left as it
//!   is. The file holds secrets, so it must be the user's own and mode
//!   0600, like the key file.
//! - Its files are its own: the directory of the database is created with
//!   mode 0700, the database and key file are made 0600, and an existing
//!   database or key file owned by another user or readable by others is
//!   refused (exit 2, naming the file and the fix).
//!
//! Prints `serving on http://ADDR/` and serves until Ctrl-C. Exits 2 with a
//! one-line error on bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use scheduling_assistant::http::{DemoConfig, HttpConfig, ServeConfig, router, serve};
use scheduling_assistant::{
    Assistant, Clock, FixedClock, KeyId, KeyRing, MasterKey, Provider, SecretStore, SecretString,
    SqliteStore, Store, SystemClock, Vault,
};
use scheduling_assistant::{DiscoveryValidator, GoogleConnector, MicrosoftConnector};
use scheduling_assistant::{ParticipantZones, VaultCalDavLogins, VaultTokens};

#[path = "support/demo_data.rs"]
mod demo_data;

const USAGE: &str = "usage: serve [--addr 127.0.0.1:PORT] [--db FILE] [--key FILE] \
                     [--database postgres://...] [--data DIR] [--now RFC3339] \
                     [--icloud-server URL] [--cache-ttl SECS] [--refresh-every SECS] [--lease SECS] \
                     [--smtp HOST[:PORT] --smtp-from ADDRESS [--smtp-security tls|starttls|loopback-plain]] \
                     [--allowed-host NAME[:PORT]]... [--secure] [--extra-root FILE]... \
                     [--sign-ins-per-minute N] [--connects-per-minute N] [--org-config FILE]";

struct Args {
    addr: std::net::SocketAddr,
    db: PathBuf,
    key: Option<PathBuf>,
    data: PathBuf,
    now: Option<jiff::Timestamp>,
    icloud_server: Option<String>,
    database: Option<String>,
    cache_ttl: Duration,
    refresh_every: Duration,
    lease: Duration,
    smtp: Option<String>,
    smtp_from: Option<String>,
    smtp_security: scheduling_assistant::invite::SmtpSecurity,
    allowed_hosts: Vec<String>,
    secure: bool,
    extra_roots: Vec<PathBuf>,
    limits: scheduling_assistant::http::Limits,
    org_config: Option<PathBuf>,
}

fn seconds(name: &str, v: &str) -> Result<Duration, String> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "{name} {v:?}: expected a whole number of seconds above 0"
        )),
    }
}

fn per_minute(name: &str, v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name} {v:?}: expected a whole number above 0")),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:8080".parse().map_err(|e| format!("{e}"))?,
        db: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/serve/assistant.sqlite3"),
        key: None,
        data: demo_data::default_data(),
        now: None,
        icloud_server: None,
        database: None,
        cache_ttl: Duration::from_secs(600),
        refresh_every: Duration::from_secs(60),
        lease: Duration::from_secs(60),
        smtp: None,
        smtp_from: None,
        smtp_security: scheduling_assistant::invite::SmtpSecurity::Tls,
        allowed_hosts: Vec::new(),
        secure: false,
        extra_roots: Vec::new(),
        limits: scheduling_assistant::http::Limits::default(),
        org_config: None,
    };
    let mut db_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => {
                let v = value("--addr")?;
                args.addr = v.parse().map_err(|e| format!("--addr {v:?}: {e}"))?;
                if !args.addr.ip().is_loopback() {
                    return Err("--addr must be a loopback address (127.0.0.1)".to_owned());
                }
            }
            "--db" => {
                args.db = PathBuf::from(value("--db")?);
                db_given = true;
            }
            "--key" => args.key = Some(PathBuf::from(value("--key")?)),
            "--data" => args.data = PathBuf::from(value("--data")?),
            "--now" => {
                let v = value("--now")?;
                args.now = Some(v.parse().map_err(|e| format!("--now {v:?}: {e}"))?);
            }
            "--icloud-server" => args.icloud_server = Some(value("--icloud-server")?),
            "--database" => {
                args.database = Some(postgres_url("--database", value("--database")?)?);
            }
            "--cache-ttl" => args.cache_ttl = seconds("--cache-ttl", &value("--cache-ttl")?)?,
            "--refresh-every" => {
                args.refresh_every = seconds("--refresh-every", &value("--refresh-every")?)?;
            }
            "--lease" => args.lease = seconds("--lease", &value("--lease")?)?,
            "--smtp" => args.smtp = Some(value("--smtp")?),
            "--smtp-from" => args.smtp_from = Some(value("--smtp-from")?),
            "--smtp-security" => {
                use scheduling_assistant::invite::SmtpSecurity;
                args.smtp_security = match value("--smtp-security")?.as_str() {
                    "tls" => SmtpSecurity::Tls,
                    "starttls" => SmtpSecurity::StartTls,
                    "loopback-plain" => SmtpSecurity::LoopbackPlain,
                    other => {
                        return Err(format!(
                            "--smtp-security {other:?}: expected tls, starttls or loopback-plain"
                        ));
                    }
                };
            }
            "--allowed-host" => args.allowed_hosts.push(value("--allowed-host")?),
            "--secure" => args.secure = true,
            "--org-config" => args.org_config = Some(PathBuf::from(value("--org-config")?)),
            "--sign-ins-per-minute" => {
                args.limits.sign_ins_per_minute =
                    per_minute("--sign-ins-per-minute", &value("--sign-ins-per-minute")?)?;
            }
            "--connects-per-minute" => {
                args.limits.connects_per_minute =
                    per_minute("--connects-per-minute", &value("--connects-per-minute")?)?;
            }
            "--extra-root" => args.extra_roots.push(PathBuf::from(value("--extra-root")?)),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if args.database.is_none()
        && !db_given
        && let Some(url) = env("DATABASE_URL")
    {
        args.database = Some(postgres_url("DATABASE_URL", url)?);
    }
    Ok(args)
}

/// The email sender of `--smtp HOST[:PORT]` and `--smtp-from`.
fn email_invitations(
    smtp: &str,
    args: &Args,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn scheduling_assistant::MeetingSender>, String> {
    use scheduling_assistant::invite::{EmailInvitations, SmtpSecurity, SmtpSettings};
    let from = args
        .smtp_from
        .clone()
        .ok_or("--smtp needs --smtp-from ADDRESS (who invitations come from)")?;
    let (host, port) = match smtp.rsplit_once(':') {
        Some((host, port)) => (
            host.to_owned(),
            port.parse::<u16>()
                .map_err(|e| format!("--smtp {smtp:?}: the port: {e}"))?,
        ),
        None => (
            smtp.to_owned(),
            match args.smtp_security {
                SmtpSecurity::StartTls => 587,
                SmtpSecurity::LoopbackPlain => 25,
                _ => 465,
            },
        ),
    };
    let mut settings = SmtpSettings::new(host, scheduling_assistant::Person::new(from))
        .port(port)
        .security(args.smtp_security);
    if let (Some(user), Some(password)) = (env("SMTP_USER"), env("SMTP_PASSWORD")) {
        settings = settings.login(user, SecretString::new(password));
    }
    let sender = EmailInvitations::new(settings, clock).map_err(|e| format!("--smtp: {e}"))?;
    Ok(Arc::new(sender))
}

/// `url` if it is a PostgreSQL URL (it is never echoed: it may hold a
/// password).
fn postgres_url(from: &str, url: String) -> Result<String, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url)
    } else {
        Err(format!("{from} takes a postgres:// URL"))
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn run(args: Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{addr}");
    if args.database.is_none()
        && let Some(dir) = args.db.parent()
    {
        private_dir(dir)?;
    }
    let key_path = args
        .key
        .clone()
        .unwrap_or_else(|| args.db.with_extension("key"));
    if args.database.is_none() {
        check_private(&args.db)?;
    }
    check_private(&key_path)?;
    let key = if key_path.exists() {
        MasterKey::from_file(KeyId(1), &key_path)
    } else {
        MasterKey::create_dev_key_file(KeyId(1), &key_path)
    }
    .map_err(|e| format!("vault key {}: {e}", key_path.display()))?;
    let (secrets, store) = open_storage(&args).await?;
    if args.database.is_none() {
        make_private(&args.db)?;
    }
    let roots = extra_roots(&args.extra_roots)?;
    let vault = Arc::new(Vault::new(secrets, KeyRing::new(key)));
    let clock: Arc<dyn Clock> = match args.now {
        Some(now) => Arc::new(FixedClock::new(now)),
        None => Arc::new(SystemClock),
    };
    let mut builder = Assistant::builder()
        .store(store)
        .org_auth(Arc::new(scheduling_assistant::OrgAuth::new(
            vault.clone(),
            clock.clone(),
        )))
        .vault(vault.clone())
        .clock(clock.clone())
        .cache_ttl(args.cache_ttl)
        .refresh_lease(args.lease);

    match &args.icloud_server {
        Some(server) => {
            // Each participant's floating times are read in their own zone.
            let zones = ParticipantZones::new();
            let logins = Arc::new(
                VaultCalDavLogins::for_server(vault.clone(), server.clone())
                    .with_zones(zones.clone()),
            );
            let source =
                Arc::new(caldav_provider::CalDavSource::new(logins).map_err(|e| e.to_string())?);
            builder = builder
                .participant_zones(zones)
                .source(Provider::Icloud, source.clone())
                .caldav_validator(Arc::new(DiscoveryValidator::new(source, server.clone())));
        }
        None => {
            let (ics, files) = demo_data::sources(&args.data)?;
            builder = builder
                .source(Provider::Icloud, Arc::new(ics))
                .caldav_validator(Arc::new(files));
        }
    }
    let callback = format!("{base}/api/oauth/callback");
    if let Some(client_id) = env("GOOGLE_CLIENT_ID") {
        let secret = env("GOOGLE_CLIENT_SECRET").map(SecretString::new);
        let oauth = Arc::new(
            google_provider::GoogleOAuth::new(google_oauth_config(
                client_id,
                secret,
                callback.clone(),
            ))
            .map_err(|e| e.to_string())?,
        );
        let tokens = google_provider::UserTokens::with_clock(
            oauth.clone(),
            Arc::new(VaultTokens::google(vault.clone())),
            clock.clone(),
        );
        let mut config = google_provider::GoogleConfig::default();
        if let Some(url) = env("GOOGLE_API_URL") {
            config = config.base_url(url);
        }
        for der in &roots {
            config = config.add_root_certificate(der.clone());
        }
        let source = google_provider::GoogleSource::new(Arc::new(tokens), config)
            .map_err(|e| e.to_string())?;
        builder = builder
            .source(Provider::Google, Arc::new(source))
            .oauth(Provider::Google, Arc::new(GoogleConnector(oauth)));
    }
    if let Some(client_id) = env("MICROSOFT_CLIENT_ID") {
        let tenant = env("MICROSOFT_TENANT").unwrap_or_else(|| "common".to_owned());
        let mut config = graph_provider::AuthConfig::new(client_id, graph_provider::Tenant(tenant))
            .redirect_uri(callback.clone());
        if let Some(authority) = env("MICROSOFT_AUTHORITY") {
            config = config.authority(authority);
        }
        if let Some(secret) = env("MICROSOFT_CLIENT_SECRET") {
            config = config.client_secret(SecretString::new(secret));
        }
        let oauth = Arc::new(graph_provider::GraphOAuth::new(config).map_err(|e| e.to_string())?);
        let tokens = graph_provider::UserTokens::with_clock(
            oauth.clone(),
            Arc::new(VaultTokens::microsoft(vault.clone())),
            clock.clone(),
        );
        let mut config = graph_provider::GraphConfig::default();
        if let Some(url) = env("MICROSOFT_GRAPH_URL") {
            config = config.base_url(url);
        }
        for der in &roots {
            config = config.add_root_certificate(der.clone());
        }
        let source = graph_provider::GraphSource::new(Arc::new(tokens), config)
            .map_err(|e| e.to_string())?;
        builder = builder
            .source(Provider::Microsoft, Arc::new(source))
            .oauth(Provider::Microsoft, Arc::new(MicrosoftConnector(oauth)));
    }
    if let Some(smtp) = &args.smtp {
        builder = builder.invitations(email_invitations(smtp, &args, clock.clone())?);
    } else if args.smtp_from.is_some() {
        return Err("--smtp-from needs --smtp HOST[:PORT]".to_owned());
    }
    let assistant = builder.build().await.map_err(|e| e.to_string())?;
    if assistant.programs().is_empty() {
        demo_data::seed(&assistant).await?;
    }
    if let Some(file) = &args.org_config {
        enable_integrations(&assistant, file).await?;
    }
    let _refresher = assistant.spawn_refresher(args.refresh_every);
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    hosts.extend(args.allowed_hosts.iter().cloned());
    let app = router(
        assistant,
        HttpConfig::demo(DemoConfig::default())
            .allowed_hosts(hosts)
            .secure(args.secure)
            .limits(args.limits.clone()),
    );

    println!("serving on {base}/");
    match &args.database {
        // The URL may hold a password: never print it.
        Some(_) => println!(
            "database PostgreSQL, shared with other instances (key {})",
            key_path.display()
        ),
        None => println!(
            "database {} (key {})",
            args.db.display(),
            key_path.display()
        ),
    }
    let _ = std::io::Write::flush(&mut std::io::stdout());
    serve(listener, app, ServeConfig::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}

/// Enables the integrations of `--org-config FILE` that are not enabled
/// yet, as the service itself (a global administrator).
async fn enable_integrations(assistant: &Assistant, file: &std::path::Path) -> Result<(), String> {
    check_private(file)?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let config: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JSON object: {e}", file.display()))?;
    let serve = scheduling_assistant::Actor::global_admin("serve");
    let enabled: Vec<String> = assistant
        .integrations_for(&serve)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|s| s.kind.as_str().to_owned())
        .collect();
    for (kind, body) in config {
        if enabled.contains(&kind) {
            continue;
        }
        let integration = scheduling_assistant::http::integration_from_json(&kind, body)
            .map_err(|e| format!("{}: {kind}: {e}", file.display()))?;
        let connected = assistant
            .enable_integration_as(&serve, integration)
            .await
            .map_err(|e| format!("{}: enabling {kind}: {e}", file.display()))?;
        eprintln!("enabled {kind}: {} participants connected", connected.len());
    }
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700, or checks an existing
/// one is not open to others.
fn private_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        return Ok(());
    }
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if meta.permissions().mode() & 0o002 != 0 {
        return Err(format!(
            "{} is writable by everyone: use a directory of your own (chmod 700)",
            dir.display()
        ));
    }
    Ok(())
}

/// This process's user: the owner of `/proc/self` (Linux).
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Refuses an existing `file` that another user owns or others may read
/// or write (it holds sealed credentials, or the key that opens them).
fn check_private(file: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(meta) = std::fs::metadata(file) else {
        return Ok(());
    };
    if let Some(uid) = own_uid()
        && meta.uid() != uid
    {
        return Err(format!(
            "{} is owned by another user (uid {}); refusing to use it",
            file.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is open to other users (mode {:o}): chmod 600 it first",
            file.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Makes the database (and SQLite's WAL files beside it) mode 0600.
fn make_private(db: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// The DER certificates of the PEM files of `--extra-root`.
fn extra_roots(files: &[PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = Vec::new();
    for file in files {
        let before = roots.len();
        for cert in CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("--extra-root {}: {e}", file.display()))?
        {
            let cert = cert.map_err(|e| format!("--extra-root {}: {e}", file.display()))?;
            roots.push(cert.as_ref().to_vec());
        }
        if roots.len() == before {
            return Err(format!(
                "--extra-root {}: no PEM certificate in it",
                file.display()
            ));
        }
    }
    Ok(roots)
}

/// The vault's store and the records' store: one SQLite file, or one
/// PostgreSQL database shared with other instances.
async fn open_storage(args: &Args) -> Result<(Arc<dyn SecretStore>, Store), String> {
    match &args.database {
        #[cfg(feature = "postgres")]
        Some(url) => {
            let secrets = credential_vault::PostgresStore::connect_without_tls(url)
                .await
                .map_err(|e| format!("PostgreSQL: {e}"))?;
            let store = Store::connect_postgres_without_tls(url)
                .await
                .map_err(|e| format!("PostgreSQL: {e}"))?;
            Ok((Arc::new(secrets), store))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => {
            Err("--database needs PostgreSQL support: build with `--features postgres`".to_owned())
        }
        None => {
            let secrets = SqliteStore::open(&args.db).map_err(|e| e.to_string())?;
            let store = Store::open_sqlite(&args.db)
                .await
                .map_err(|e| e.to_string())?;
            Ok((Arc::new(secrets), store))
        }
    }
}

/// Google's OAuth endpoints, or `GOOGLE_AUTH_URL` / `GOOGLE_TOKEN_URL`.
fn google_oauth_config(
    client_id: String,
    secret: Option<SecretString>,
    callback: String,
) -> google_provider::OAuthConfig {
    let config = google_provider::OAuthConfig::new(client_id, secret, callback);
    match (env("GOOGLE_AUTH_URL"), env("GOOGLE_TOKEN_URL")) {
        (auth, token) if auth.is_some() || token.is_some() => {
            let auth = auth.unwrap_or_else(|| config.auth_url.clone());
            let token = token.unwrap_or_else(|| config.token_url.clone());
            let revoke = config.revoke_url.clone();
            config.with_endpoints(auth, token, revoke)
        }
        _ => config,
    }
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?
            .block_on(run(args))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("serve: {}", message.lines().next().unwrap_or_default());
            ExitCode::from(2)
        }
    }
}
