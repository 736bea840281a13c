//! Invitations by email (RFC 6047 iMIP): the iTIP text as a
//! `text/calendar; method=...` part beside a plain-text one, sent over SMTP
//! by `lettre` (rustls with ring; implicit TLS or STARTTLS, plain SMTP to
//! a loopback relay only).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use availability::{Clock, Delivered, Meeting, MeetingChange, MeetingSender, Person, SourceError};
use credential_vault::SecretString;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::itip::{Method, itip};

/// How the connection to the SMTP server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpSecurity {
    /// TLS from the first byte (port 465, RFC 8314). The default.
    Tls,
    /// Plain, then `STARTTLS` before anything is sent (port 587); a server
    /// that does not offer it is refused.
    StartTls,
    /// No TLS: only to a relay on this machine (127.0.0.1, `::1`,
    /// `localhost`), such as a local MTA or a test server.
    LoopbackPlain,
}

/// Where invitations are sent from and through.
#[derive(Clone)]
pub struct SmtpSettings {
    host: String,
    port: u16,
    security: SmtpSecurity,
    login: Option<(String, SecretString)>,
    sender: Person,
    timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("login", &self.login.as_ref().map(|_| "[redacted]"))
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// Sends through `host` over implicit TLS (port 465) from `sender`,
    /// with a 30-second timeout per command.
    pub fn new(host: impl Into<String>, sender: Person) -> Self {
        Self {
            host: host.into(),
            port: 465,
            security: SmtpSecurity::Tls,
            login: None,
            sender,
            timeout: Duration::from_secs(30),
        }
    }

    /// Another port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Another security (see [`SmtpSecurity`]).
    #[must_use]
    pub fn security(mut self, security: SmtpSecurity) -> Self {
        self.security = security;
        self
    }

    /// Logs in (SMTP AUTH PLAIN or LOGIN, only over TLS).
    #[must_use]
    pub fn login(mut self, user: impl Into<String>, password: SecretString) -> Self {
        self.login = Some((user.into(), password));
        self
    }

    /// Another timeout per SMTP command.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The sender invitations come from (their `ORGANIZER`).
    pub fn sender(&self) -> &Person {
        &self.sender
    }
}

/// Why the email sender could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// Plain SMTP was asked for a host that is not this machine.
    #[error("plain SMTP is allowed to a loopback relay only, not to {0}")]
    PlainNotLoopback(String),
    /// A login without TLS.
    #[error("an SMTP login is sent only over TLS")]
    LoginWithoutTls,
    /// The sender's address does not parse.
    #[error("the sender address is not a valid mailbox")]
    BadSender,
    /// The TLS settings were refused.
    #[error("SMTP TLS set-up failed: {0}")]
    Tls(String),
}

/// Sends meetings as iTIP email (implements [`MeetingSender`], `via`
/// `"email"`): works for every participant, whatever calendar they use,
/// with no write access to anyone's calendar.
pub struct EmailInvitations {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Mailbox,
    organiser: Person,
    clock: std::sync::Arc<dyn Clock>,
}

impl fmt::Debug for EmailInvitations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailInvitations").finish_non_exhaustive()
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn mailbox(person: &Person) -> Option<Mailbox> {
    let address = person.email.parse().ok()?;
    Some(Mailbox::new(person.name.clone(), address))
}

impl EmailInvitations {
    /// A sender over `settings`, stamping messages with `clock`'s time.
    ///
    /// # Errors
    /// [`SmtpError`] for plain SMTP to another machine, a login without
    /// TLS, a bad sender address, refused TLS settings.
    pub fn new(
        settings: SmtpSettings,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Result<Self, SmtpError> {
        let sender = mailbox(&settings.sender).ok_or(SmtpError::BadSender)?;
        let tls = |host: &str| {
            lettre::transport::smtp::client::TlsParameters::new_rustls(host.to_owned())
                .map_err(|e| SmtpError::Tls(e.to_string()))
        };
        use lettre::transport::smtp::client::Tls;
        let security = match settings.security {
            SmtpSecurity::Tls => Tls::Wrapper(tls(&settings.host)?),
            SmtpSecurity::StartTls => Tls::Required(tls(&settings.host)?),
            SmtpSecurity::LoopbackPlain => {
                if !is_loopback(&settings.host) {
                    return Err(SmtpError::PlainNotLoopback(settings.host));
                }
                if settings.login.is_some() {
                    return Err(SmtpError::LoginWithoutTls);
                }
                Tls::None
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
                .port(settings.port)
                .tls(security)
                .timeout(Some(settings.timeout));
        if let Some((user, password)) = settings.login {
            builder = builder.credentials(Credentials::new(user, password.secret().to_owned()));
        }
        Ok(Self {
            transport: builder.build(),
            sender,
            organiser: settings.sender,
            clock,
        })
    }

    fn message(&self, meeting: &Meeting, method: Method) -> Result<Message, SourceError> {
        let invalid = |what: &str| SourceError::InvalidResponse {
            message: format!("the invitation could not be written: {what}"),
        };
        let mut builder = Message::builder()
            .from(self.sender.clone())
            .subject(match method {
                Method::Request if meeting.sequence == 0 => {
                    format!("Invitation: {}", meeting.title)
                }
                Method::Request => format!("Updated invitation: {}", meeting.title),
                Method::Cancel => format!("Cancelled: {}", meeting.title),
            });
        for attendee in &meeting.attendees {
            builder = builder.to(mailbox(attendee).ok_or_else(|| invalid("an attendee address"))?);
        }
        let ics = itip(meeting, method, self.clock.now().as_second());
        let when = jiff::Timestamp::from_second(meeting.interval.start())
            .map(|t| t.to_string())
            .unwrap_or_default();
        let text = match method {
            Method::Request => format!(
                "{}\n\nWhen: {when} (UTC), {} minutes.\n\n{}\n",
                meeting.title,
                meeting.interval.len_secs() / 60,
                meeting.description
            ),
            Method::Cancel => format!("{} on {when} (UTC) is cancelled.\n", meeting.title),
        };
        let calendar = ContentType::parse(&format!(
            "text/calendar; method={}; charset=UTF-8",
            method.as_str()
        ))
        .map_err(|_| invalid("the content type"))?;
        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(text))
                    .singlepart(SinglePart::builder().header(calendar).body(ics)),
            )
            .map_err(|_| invalid("the message"))
    }
}

/// An SMTP failure as a [`SourceError`]: the reply code only, never the
/// server's text (which may echo an address).
fn smtp_error(e: &lettre::transport::smtp::Error) -> SourceError {
    let code = e
        .status()
        .map_or_else(String::new, |c| format!(" (reply {c})"));
    if e.is_transient() || e.is_timeout() {
        SourceError::Unavailable {
            message: format!("the SMTP server could not take the invitation now{code}"),
            retry_after: None,
        }
    } else if e.status().is_some_and(|c| c.to_string() == "535") {
        SourceError::Unauthorized {
            message: "the SMTP server refused the sender's login".to_owned(),
        }
    } else if e.is_permanent() {
        SourceError::Forbidden {
            message: format!("the SMTP server refused the invitation{code}"),
        }
    } else {
        SourceError::Transport {
            message: "the SMTP server could not be reached".to_owned(),
            source: None,
        }
    }
}

#[async_trait]
impl MeetingSender for EmailInvitations {
    fn via(&self) -> &'static str {
        "email"
    }

    fn organiser(&self) -> Option<Person> {
        Some(self.organiser.clone())
    }

    async fn send(
        &self,
        meeting: &Meeting,
        change: &MeetingChange,
    ) -> Result<Delivered, SourceError> {
        let method = match change {
            MeetingChange::Create | MeetingChange::Update { .. } => Method::Request,
            MeetingChange::Cancel { .. } => Method::Cancel,
        };
        let message = self.message(meeting, method)?;
        self.transport
            .send(message)
            .await
            .map_err(|e| smtp_error(&e))?;
        Ok(Delivered {
            via: "email",
            event: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README: implicit TLS on port 465 unless told otherwise (STARTTLS
    /// keeps the port given; 587 is `serve`'s choice, not this type's).
    #[test]
    fn the_default_is_implicit_tls_on_port_465() {
        let settings = SmtpSettings::new("mail.example.org", Person::new("sched@example.org"));
        assert_eq!((settings.port, settings.security), (465, SmtpSecurity::Tls));
    }

    #[test]
    fn plain_smtp_goes_to_loopback_only_and_never_with_a_login() {
        let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(availability::SystemClock);
        let sender = Person::new("sched@example.org");
        let plain = |host: &str| {
            SmtpSettings::new(host, sender.clone()).security(SmtpSecurity::LoopbackPlain)
        };
        assert!(EmailInvitations::new(plain("127.0.0.1"), clock.clone()).is_ok());
        assert!(EmailInvitations::new(plain("[::1]"), clock.clone()).is_ok());
        assert!(matches!(
            EmailInvitations::new(plain("mail.example.org"), clock.clone()),
            Err(SmtpError::PlainNotLoopback(_))
        ));
        assert!(matches!(
            EmailInvitations::new(
                plain("127.0.0.1").login("u", SecretString::new("p".to_owned())),
                clock.clone()
            ),
            Err(SmtpError::LoginWithoutTls)
        ));
        assert!(matches!(
            EmailInvitations::new(SmtpSettings::new("h", Person::new("not an address")), clock),
            Err(SmtpError::BadSender)
        ));
        let settings = plain("127.0.0.1").login("u", SecretString::new("hunter2".to_owned()));
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
