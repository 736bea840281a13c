//! Busy time of one calendar as JSON, the public contract of DESIGN.md.
//!
//! ```text
//! cargo run --release --example freebusy -- --ics PATH --from RFC3339 --to RFC3339 [--tz ZONE]
//! cargo run --release --example freebusy -- --caldav URL --user NAME --password-env VAR \
//!     --from RFC3339 --to RFC3339 [--tz ZONE]
//! ```
//!
//! `--caldav` takes a server (`https://caldav.icloud.com/`), a principal, a
//! calendar home or one calendar; the password (for iCloud an app-specific
//! password) is read from the environment variable named by
//! `--password-env`, never from the command line.
//!
//! Prints `{"busy":[{"start":"…Z","end":"…Z","kind":"busy"}]}`: coalesced per
//! kind, sorted by start then kind, clipped to the window, UTC, whole seconds.
//! `--tz` is the IANA zone for floating times and all-day dates (default UTC).
//! Problems inside the calendar (a broken event, an unknown zone) are
//! reported on stderr as warnings; the rest of the calendar still counts.
//! Exit code 2, with a one-line error, for bad arguments or unreadable input.
//!
//! `--google BASE_URL --token-env VAR --calendar ID [--calendar ID ...]`
//! asks Google's `freeBusy` (BASE_URL such as `https://www.googleapis.com`)
//! with an access token the caller already has, and prints
//! `{"accounts":[{"id":"…","busy":[…]},{"id":"…","error":{"kind":"…","message":"…"}}]}`
//! in the order the ids were given, with the provider's batching, window
//! chunking, retries and per-account errors.
//!
//! `--graph BASE_URL --token-env VAR --schedule EMAIL [--schedule EMAIL ...]`
//! asks Microsoft Graph's getSchedule (BASE_URL such as
//! `https://graph.microsoft.com/v1.0`; the path
//! `/users/{first schedule}/calendar/getSchedule` is appended) and prints
//! the same `{"accounts":[...]}` shape.
//!
//! `--ews URL --user NAME --password-env VAR [--auth ntlm|basic|bearer]
//! --mailbox EMAIL [--mailbox EMAIL ...]` asks Exchange Server's EWS
//! `GetUserAvailability` (URL the full endpoint, such as
//! `https://mail.example.com/EWS/Exchange.asmx`; NAME `DOMAIN\name` or a
//! UPN; the password, or with `--auth bearer` the access token, read from
//! the environment variable VAR; default `--auth ntlm`) and prints the same
//! `{"accounts":[...]}` shape.

use std::process::ExitCode;

use availability::{AccountId, Interval};
use std::sync::Arc;

use availability::{FreeBusyRequest, FreeBusySource};
use caldav_provider::ical::ExpandOptions;
use caldav_provider::{CalDavLogin, CalDavSource, IcsSource, Password, StaticLogins};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

const USAGE: &str = "usage: freebusy (--ics PATH | --caldav URL --user NAME --password-env VAR | \
                     --google BASE_URL --token-env VAR --calendar ID... | \
                     --graph BASE_URL --token-env VAR --schedule EMAIL... | \
                     --ews URL --user NAME --password-env VAR [--auth ntlm|basic|bearer] \
                     --mailbox EMAIL...) \
                     --from RFC3339 --to RFC3339 [--tz ZONE]";

enum Input {
    Ics(String),
    CalDav {
        url: String,
        user: String,
        password: Password,
    },
    Google {
        base_url: String,
        token: String,
        calendars: Vec<String>,
    },
    Graph {
        base_url: String,
        token: String,
        schedules: Vec<String>,
    },
    Ews {
        url: String,
        auth: ews_provider::EwsAuth,
        mailboxes: Vec<String>,
    },
}

struct Args {
    input: Input,
    window: Interval,
    zone: TimeZone,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut ics, mut from, mut to, mut tz) = (None, None, None, None);
    let (mut caldav, mut user, mut password_env) = (None, None, None);
    let (mut google, mut token_env, mut calendars) = (None, None, Vec::new());
    let (mut graph, mut schedules) = (None, Vec::new());
    let (mut ews, mut auth, mut mailboxes) = (None, None, Vec::new());
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value; {USAGE}"))
        };
        match flag.as_str() {
            "--ics" => ics = Some(value("--ics")?),
            "--from" => from = Some(value("--from")?),
            "--to" => to = Some(value("--to")?),
            "--tz" => tz = Some(value("--tz")?),
            "--caldav" => caldav = Some(value("--caldav")?),
            "--user" => user = Some(value("--user")?),
            "--password-env" => password_env = Some(value("--password-env")?),
            "--google" => google = Some(value("--google")?),
            "--token-env" => token_env = Some(value("--token-env")?),
            "--calendar" => calendars.push(value("--calendar")?),
            "--graph" => graph = Some(value("--graph")?),
            "--schedule" => schedules.push(value("--schedule")?),
            "--ews" => ews = Some(value("--ews")?),
            "--auth" => auth = Some(value("--auth")?),
            "--mailbox" => mailboxes.push(value("--mailbox")?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let token = |flag: &str, var: Option<String>| -> Result<String, String> {
        let var = var.ok_or_else(|| format!("{flag} needs --token-env; {USAGE}"))?;
        std::env::var(&var)
            .map_err(|_| format!("the environment variable {var} (--token-env) is not set"))
    };
    let secret = |flag: &str, var: Option<String>| -> Result<String, String> {
        let var = var.ok_or_else(|| format!("{flag} needs --password-env; {USAGE}"))?;
        std::env::var(&var)
            .map_err(|_| format!("the environment variable {var} (--password-env) is not set"))
    };
    if ews.is_none() && (auth.is_some() || !mailboxes.is_empty()) {
        return Err(format!("--auth and --mailbox go with --ews; {USAGE}"));
    }
    if let Some(url) = ews {
        if ics.is_some() || caldav.is_some() || google.is_some() || graph.is_some() {
            return Err(format!(
                "give exactly one of --ics, --caldav, --google, --graph and --ews; {USAGE}"
            ));
        }
        if mailboxes.is_empty() {
            return Err(format!("--ews needs at least one --mailbox; {USAGE}"));
        }
        let method: ews_provider::AuthMethod = match auth {
            None => ews_provider::AuthMethod::Ntlm,
            Some(name) => name
                .parse()
                .map_err(|e| format!("--auth {name:?}: {e}; {USAGE}"))?,
        };
        let secret = secret("--ews", password_env)?;
        let login = |user: Option<String>| -> Result<ews_provider::EwsLogin, String> {
            let user = user.ok_or_else(|| format!("--ews needs --user; {USAGE}"))?;
            Ok(ews_provider::EwsLogin::new(user, secret.clone()))
        };
        let auth = match method {
            ews_provider::AuthMethod::Ntlm => ews_provider::EwsAuth::Ntlm(login(user)?),
            ews_provider::AuthMethod::Basic => ews_provider::EwsAuth::Basic(login(user)?),
            ews_provider::AuthMethod::Bearer => ews_provider::EwsAuth::Bearer(Arc::new(
                availability::StaticToken::new(secret.clone()),
            )),
        };
        return finish(
            Input::Ews {
                url,
                auth,
                mailboxes,
            },
            from,
            to,
            tz,
        );
    }
    let input = match (ics, caldav, google, graph) {
        (Some(path), None, None, None) => Input::Ics(path),
        (None, None, Some(base_url), None) => {
            if calendars.is_empty() {
                return Err(format!("--google needs at least one --calendar; {USAGE}"));
            }
            Input::Google {
                base_url,
                token: token("--google", token_env)?,
                calendars,
            }
        }
        (None, None, None, Some(base_url)) => {
            if schedules.is_empty() {
                return Err(format!("--graph needs at least one --schedule; {USAGE}"));
            }
            Input::Graph {
                base_url,
                token: token("--graph", token_env)?,
                schedules,
            }
        }
        (None, Some(url), None, None) => {
            let user = user.ok_or_else(|| format!("--caldav needs --user; {USAGE}"))?;
            let var =
                password_env.ok_or_else(|| format!("--caldav needs --password-env; {USAGE}"))?;
            let password = std::env::var(&var).map_err(|_| {
                format!("the environment variable {var} (--password-env) is not set")
            })?;
            Input::CalDav {
                url,
                user,
                password: Password::new(password),
            }
        }
        _ => {
            return Err(format!(
                "give exactly one of --ics, --caldav, --google, --graph and --ews; {USAGE}"
            ));
        }
    };
    finish(input, from, to, tz)
}

/// The window and zone flags, shared by every input.
fn finish(
    input: Input,
    from: Option<String>,
    to: Option<String>,
    tz: Option<String>,
) -> Result<Args, String> {
    let instant = |name: &str, v: Option<String>| -> Result<Timestamp, String> {
        let v = v.ok_or_else(|| format!("{name} is required; {USAGE}"))?;
        v.parse::<Timestamp>()
            .map_err(|e| format!("{name} {v:?} is not an RFC 3339 time: {e}"))
    };
    let from = instant("--from", from)?;
    let to = instant("--to", to)?;
    let window = Interval::from_jiff(from, to)
        .map_err(|e| format!("--from/--to do not make a window: {e}"))?;
    if window.len_secs() == 0 {
        return Err("--to must be after --from".to_owned());
    }
    let zone = match tz {
        None => TimeZone::UTC,
        Some(name) => caldav_provider::ical::time_zone(&name)
            .ok_or_else(|| format!("--tz {name:?} is not an IANA time zone"))?,
    };
    Ok(Args {
        input,
        window,
        zone,
    })
}

async fn run(args: Args) -> Result<String, String> {
    let account = AccountId::new("calendar");
    let busy = match args.input {
        Input::Google {
            base_url,
            token,
            calendars,
        } => {
            let tokens = Arc::new(google_provider::StaticToken::new(token));
            let config = google_provider::GoogleConfig::default().base_url(base_url);
            let source =
                google_provider::GoogleSource::new(tokens, config).map_err(|e| e.to_string())?;
            return many(&source, calendars, args.window).await;
        }
        Input::Graph {
            base_url,
            token,
            schedules,
        } => {
            let tokens = Arc::new(graph_provider::StaticToken::new(token));
            let config = graph_provider::GraphConfig::default().base_url(base_url);
            let source =
                graph_provider::GraphSource::new(tokens, config).map_err(|e| e.to_string())?;
            return many(&source, schedules, args.window).await;
        }
        Input::Ews {
            url,
            auth,
            mailboxes,
        } => {
            let source = ews_provider::EwsSource::new(ews_provider::EwsConfig::new(url), auth)
                .map_err(|e| e.to_string())?;
            return many(&source, mailboxes, args.window).await;
        }
        Input::Ics(path) => {
            let source = IcsSource::new()
                .with_options(ExpandOptions::new(args.zone))
                .with_file(account.clone(), &path);
            let report = source
                .report(&account, args.window)
                .await
                .map_err(|e| e.to_string())?;
            for problem in &report.problems {
                eprintln!("warning: {path}: {problem}");
            }
            report.busy
        }
        Input::CalDav {
            url,
            user,
            password,
        } => {
            let login = CalDavLogin::new(url, user, password).with_zone(args.zone);
            let logins = StaticLogins::new().with(account.clone(), login);
            let source = CalDavSource::new(Arc::new(logins)).map_err(|e| e.to_string())?;
            let report = source
                .report(&account, args.window)
                .await
                .map_err(|e| e.to_string())?;
            for p in &report.problems {
                eprintln!("warning: {}: {:?}", p.href, p.problem);
            }
            report.busy
        }
    };
    serde_json::to_string(&busy).map_err(|e| e.to_string())
}

/// One account of a many-account answer, in the contract's key order.
#[derive(Serialize)]
struct AccountOut {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    busy: Option<Vec<availability::BusyEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorOut>,
}

#[derive(Serialize)]
struct ErrorOut {
    kind: availability::SourceErrorKind,
    message: String,
}

/// `{"accounts":[...]}` from any many-account source.
async fn many(
    source: &dyn FreeBusySource,
    ids: Vec<String>,
    window: Interval,
) -> Result<String, String> {
    let answer = source
        .free_busy(&FreeBusyRequest::new(window, ids))
        .await
        .map_err(|e| e.to_string())?;
    let accounts: Vec<AccountOut> = answer
        .accounts
        .into_iter()
        .map(|a| match a.result {
            Ok(busy) => AccountOut {
                id: a.account.to_string(),
                busy: Some(busy.entries()),
                error: None,
            },
            Err(e) => AccountOut {
                id: a.account.to_string(),
                busy: None,
                error: Some(ErrorOut {
                    kind: e.kind(),
                    message: e.to_string(),
                }),
            },
        })
        .collect();
    #[derive(Serialize)]
    struct Out {
        accounts: Vec<AccountOut>,
    }
    serde_json::to_string(&Out { accounts }).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("freebusy: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("freebusy: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("freebusy: {message}");
            ExitCode::from(2)
        }
    }
}
