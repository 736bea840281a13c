use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use availability::{
    AccessToken, AccountId, FreeBusySource, SourceError, SourceErrorKind, TokenSource,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ews_provider::test_support::AvailabilityDouble;
use ews_provider::{EwsAuth, EwsConfig, EwsLogin, EwsSource};
use provider_http::test_support::{account_error, one_day};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{PASSWORD, USER, config, quick_retries, requests_seen, row, rows, source};

const ADA: &str = "ada@contoso.com";

/// Basic sends `Authorization: Basic base64(user:password)` with the SOAP
/// headers, the user as `DOMAIN\name`.
#[tokio::test]
async fn basic_sends_the_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(AvailabilityDouble::new().mailbox(ADA, &[]))
        .mount(&server)
        .await;
    let answer = source(config(&server))
        .free_busy(&one_day([ADA]))
        .await
        .unwrap();
    assert!(answer.accounts[0].result.is_ok());
    let requests = requests_seen(&server).await;
    let want = format!("Basic {}", BASE64.encode(format!("{USER}:{PASSWORD}")));
    assert_eq!(requests[0].headers["authorization"], want.as_str());
    assert_eq!(
        requests[0].headers["content-type"],
        "text/xml; charset=utf-8"
    );
    assert_eq!(
        requests[0].headers["soapaction"],
        "\"http://schemas.microsoft.com/exchange/services/2006/messages/GetUserAvailability\""
    );
}

/// Tokens `old` then `new`, counting invalidations.
#[derive(Debug, Default)]
struct Rotating {
    invalidated: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenSource for Rotating {
    async fn token(&self, _: &AccountId) -> Result<AccessToken, SourceError> {
        let secret = if self.invalidated.load(Ordering::SeqCst) == 0 {
            "old"
        } else {
            "new"
        };
        Ok(AccessToken::new(secret, None))
    }

    async fn invalidate(&self, _: &AccountId) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

/// A refused bearer token is invalidated and the request sent once more
/// with a new one.
#[tokio::test]
async fn bearer_refreshes_once_on_401() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer old"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer new"))
        .respond_with(AvailabilityDouble::new().mailbox(ADA, &[]))
        .mount(&server)
        .await;
    let tokens = Arc::new(Rotating::default());
    let source = EwsSource::new(config(&server), EwsAuth::Bearer(tokens.clone())).unwrap();
    let answer = source.free_busy(&one_day([ADA])).await.unwrap();
    assert!(answer.accounts[0].result.is_ok());
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
    assert_eq!(requests_seen(&server).await.len(), 2);
}

/// One HTTP/1.1 request read from `stream`: its headers (lower-cased
/// names) and body.
async fn read_request<S: tokio::io::AsyncBufRead + Unpin>(
    stream: &mut S,
) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    let mut headers = Vec::new();
    let mut line = String::new();
    stream.read_line(&mut line).await.ok()?;
    if line.is_empty() {
        return None;
    }
    loop {
        line.clear();
        stream.read_line(&mut line).await.ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await.ok()?;
    Some((headers, body))
}

fn authorization(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A Type 2 message: flags, a fixed server challenge, no target info.
fn challenge() -> String {
    let message = ntlmclient::Message::Challenge(ntlmclient::ChallengeMessage {
        target_name: "CORP".to_owned(),
        flags: ntlmclient::Flags::NEGOTIATE_UNICODE
            | ntlmclient::Flags::NEGOTIATE_NTLM
            | ntlmclient::Flags::NEGOTIATE_NTLM2_KEY
            | ntlmclient::Flags::NEGOTIATE_TARGET_INFO,
        challenge: *b"\x01\x23\x45\x67\x89\xab\xcd\xef",
        context: (0, 0),
        target_information: Vec::new(),
        os_version: Default::default(),
    });
    BASE64.encode(message.to_bytes().unwrap())
}

/// A loopback server that does the NTLM handshake's HTTP side (not its
/// cryptography) and records, per accepted connection, the message types
/// it saw: the client must send Type 1 and then Type 3 with the request on
/// one connection.
#[tokio::test]
async fn ntlm_sends_type1_then_type3_on_one_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let double = AvailabilityDouble::new().mailbox(ADA, &[]);
    let server = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((socket, _)) = listener.accept().await {
                let (seen, double, id) = (seen.clone(), double.clone(), n);
                n += 1;
                tokio::spawn(async move {
                    let mut stream = tokio::io::BufReader::new(socket);
                    while let Some((headers, body)) = read_request(&mut stream).await {
                        let auth = authorization(&headers);
                        let reply = if auth.starts_with("NTLM TlRMTVNTUAAB") {
                            seen.lock().unwrap().push((id, "type1".to_owned()));
                            format!(
                                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM {}\r\nContent-Length: 0\r\n\r\n",
                                challenge()
                            )
                        } else if auth.starts_with("NTLM TlRMTVNTUAAD") {
                            seen.lock().unwrap().push((id, "type3".to_owned()));
                            let answer = double.answer(&body).unwrap();
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{answer}",
                                answer.len()
                            )
                        } else {
                            seen.lock().unwrap().push((id, "other".to_owned()));
                            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n".to_owned()
                        };
                        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        })
    };
    let config =
        EwsConfig::new(format!("http://127.0.0.1:{port}/EWS/Exchange.asmx")).retry(quick_retries());
    let source = EwsSource::new(config, EwsAuth::Ntlm(EwsLogin::new(USER, PASSWORD))).unwrap();
    for _ in 0..2 {
        let answer = source.free_busy(&one_day([ADA, ADA])).await.unwrap();
        assert!(
            answer.accounts.iter().all(|a| a.result.is_ok()),
            "{answer:?}"
        );
    }
    // Each request: its own connection, Type 1 then Type 3 on it.
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (0, "type1".to_owned()),
            (0, "type3".to_owned()),
            (1, "type1".to_owned()),
            (1, "type3".to_owned())
        ]
    );
    server.abort();
}

// --- NTLM against pyspnego ------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The peer venv's interpreter. Under `CI=true` a missing one fails;
/// elsewhere only `SKIP_NTLM_PEER=1` skips, and says so.
fn peer_python() -> Option<PathBuf> {
    let path = std::env::var_os("PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../../.venv/bin/python"));
    if path.exists() {
        return Some(path);
    }
    let in_ci = std::env::var("CI").as_deref() == Ok("true");
    if !in_ci && std::env::var("SKIP_NTLM_PEER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: the NTLM peer tests (SKIP_NTLM_PEER=1)");
        return None;
    }
    panic!(
        "the peer venv is missing at {} (scripts/peers-env installs it with pyspnego); \
         SKIP_NTLM_PEER=1 skips these tests outside CI",
        path.display()
    );
}

/// A scratch directory of this test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ews-ntlm-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// tests/ntlm_server.py on 127.0.0.1; stopped (stdin closed, then
/// killed) when dropped, also when a test panics.
struct NtlmServer {
    child: Child,
    port: u16,
}

impl NtlmServer {
    fn start(python: &Path, users: &Path, tls: Option<(&Path, &Path)>) -> Self {
        let mut command = Command::new(python);
        command.arg(root().join("tests/ntlm_server.py"));
        if let Some((cert, key)) = tls {
            command.arg(cert).arg(key);
        }
        let mut child = command
            .env("NTLM_USER_FILE", users)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the NTLM server did not start: {line:?}")
        });
        Self { child, port }
    }
}

impl Drop for NtlmServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn users(dir: &Path) -> PathBuf {
    let path = dir.join("users");
    std::fs::write(&path, format!("CORP:scheduler:{PASSWORD}\n")).unwrap();
    path
}

fn ntlm_source(scheme: &str, port: u16, password: &str, root: Option<Vec<u8>>) -> EwsSource {
    let host = if scheme == "https" {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let mut config = EwsConfig::new(format!("{scheme}://{host}:{port}/EWS/Exchange.asmx"))
        .retry(quick_retries());
    if let Some(der) = root {
        config = config.add_root_certificate(der);
    }
    EwsSource::new(config, EwsAuth::Ntlm(EwsLogin::new(USER, password))).unwrap()
}

/// The real handshake with pyspnego's acceptor: the right password reads
/// the canned answer; a wrong one is a 401, Unauthorized, without the
/// password in the message.
#[tokio::test]
async fn ntlm_against_a_real_acceptor() {
    let Some(python) = peer_python() else { return };
    let dir = Scratch::new("plain");
    let server = NtlmServer::start(&python, &users(&dir.0), None);
    let answer = ntlm_source("http", server.port, PASSWORD, None)
        .free_busy(&one_day([ADA, "bea@contoso.com"]))
        .await
        .unwrap();
    for a in &answer.accounts {
        assert_eq!(
            rows(a.result.as_ref().unwrap()),
            vec![row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy")]
        );
    }
    let wrong = ntlm_source("http", server.port, "Summer-2025?", None);
    let err = account_error(&wrong, ADA).await;
    assert_eq!(err.kind(), SourceErrorKind::Unauthorized, "{err}");
    assert!(!err.to_string().contains("Summer-2025?"));
    drop(server);
}

/// Over TLS, the server's self-signed certificate trusted through
/// `add_root_certificate`, on NTLM's own connection; without the root the
/// TLS handshake fails.
#[tokio::test]
async fn ntlm_over_tls_with_an_extra_root() {
    let Some(python) = peer_python() else { return };
    let dir = Scratch::new("tls");
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, pem_key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert, key.cert.pem()).unwrap();
    std::fs::write(&pem_key, key.signing_key.serialize_pem()).unwrap();
    let server = NtlmServer::start(&python, &users(&dir.0), Some((&cert, &pem_key)));
    let der = key.cert.der().to_vec();
    let answer = ntlm_source("https", server.port, PASSWORD, Some(der))
        .free_busy(&one_day([ADA]))
        .await
        .unwrap();
    assert!(answer.accounts[0].result.is_ok(), "{answer:?}");
    let untrusted = ntlm_source("https", server.port, PASSWORD, None);
    let err = account_error(&untrusted, ADA).await;
    assert_eq!(err.kind(), SourceErrorKind::Transport, "{err}");
}

/// The acceptor holds NTLM to its connection: a Type 3 sent on another
/// connection than its Type 1 is refused (401), the same Type 3 on the
/// right one accepted, so the client's success above proves it used one.
#[tokio::test]
async fn the_acceptor_refuses_a_type3_on_another_connection() {
    let Some(python) = peer_python() else { return };
    let dir = Scratch::new("split");
    let server = NtlmServer::start(&python, &users(&dir.0), None);
    let connect = || async {
        tokio::io::BufReader::new(
            tokio::net::TcpStream::connect(("127.0.0.1", server.port))
                .await
                .unwrap(),
        )
    };
    async fn send<S: tokio::io::AsyncBufRead + tokio::io::AsyncWrite + Unpin>(
        stream: &mut S,
        auth: &str,
    ) -> (u16, Vec<(String, String)>) {
        let request = format!(
            "POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nContent-Length: 0\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut status = String::new();
        stream.read_line(&mut status).await.unwrap();
        let code = status.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            stream.read_line(&mut line).await.unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; len];
        stream.read_exact(&mut body).await.unwrap();
        (code, headers)
    }
    let negotiate = ntlmclient::Message::Negotiate(ntlmclient::NegotiateMessage {
        flags: ntlmclient::Flags::NEGOTIATE_UNICODE
            | ntlmclient::Flags::REQUEST_TARGET
            | ntlmclient::Flags::NEGOTIATE_NTLM
            | ntlmclient::Flags::NEGOTIATE_NTLM2_KEY,
        supplied_domain: String::new(),
        supplied_workstation: String::new(),
        os_version: Default::default(),
    });
    let mut first = connect().await;
    let (status, headers) = send(
        &mut first,
        &format!("NTLM {}", BASE64.encode(negotiate.to_bytes().unwrap())),
    )
    .await;
    assert_eq!(status, 401);
    let token = headers
        .iter()
        .find(|(n, v)| n == "www-authenticate" && v.starts_with("NTLM "))
        .map(|(_, v)| BASE64.decode(&v[5..]).unwrap())
        .unwrap();
    let ntlmclient::Message::Challenge(challenge) =
        ntlmclient::Message::try_from(token.as_slice()).unwrap()
    else {
        panic!("a challenge");
    };
    let target: Vec<u8> = challenge
        .target_information
        .iter()
        .flat_map(|e| e.to_bytes())
        .collect();
    let credentials = ntlmclient::Credentials {
        username: "scheduler".to_owned(),
        password: PASSWORD.to_owned(),
        domain: "CORP".to_owned(),
    };
    let response = ntlmclient::respond_challenge_ntlm_v2(
        challenge.challenge,
        &target,
        ntlmclient::get_ntlm_time(),
        &credentials,
    );
    let authenticate = ntlmclient::Message::Authenticate(ntlmclient::AuthenticateMessage {
        lm_response: response.lm_response,
        ntlm_response: response.ntlm_response,
        domain_name: "CORP".to_owned(),
        user_name: "scheduler".to_owned(),
        workstation_name: String::new(),
        session_key: Vec::new(),
        flags: ntlmclient::Flags::NEGOTIATE_UNICODE
            | ntlmclient::Flags::NEGOTIATE_NTLM
            | ntlmclient::Flags::NEGOTIATE_NTLM2_KEY,
        os_version: Default::default(),
    });
    let type3 = format!("NTLM {}", BASE64.encode(authenticate.to_bytes().unwrap()));
    let mut other = connect().await;
    assert_eq!(
        send(&mut other, &type3).await.0,
        401,
        "another connection is refused"
    );
    assert_eq!(
        send(&mut first, &type3).await.0,
        200,
        "the same connection is accepted"
    );
}
