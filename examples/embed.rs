//! Mounting the assistant's router in your own service, behind your own
//! sign-in: here a header token (`Authorization: Bearer TOKEN`) that your
//! service issued, mapped to a participant or an administrator by an
//! [`Authenticator`]. The demo's sign-in is off, so naming someone is no
//! way in.
//!
//! ```sh
//! cargo run --example embed [-- --addr 127.0.0.1:PORT]
//! curl -H 'Authorization: Bearer token-of-maya' http://127.0.0.1:PORT/api/me
//! ```
//!
//! Prints `serving on http://ADDR/` and serves until Ctrl-C; exits 2 with a
//! one-line error on bad arguments.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::get;
use scheduling_assistant::http::{
    AuthError, Authenticator, HttpConfig, Identity, ServeConfig, router, serve,
};
use scheduling_assistant::{
    Actor, Assistant, KeyId, KeyRing, MasterKey, Participant, Program, ProgramId, Provider,
    SqliteStore, Store, Vault,
};

/// Your service's tokens and whom each stands for. A real service checks a
/// signed token or looks a session up in its own store.
struct BearerTokens(HashMap<String, Actor>);

#[async_trait]
impl Authenticator for BearerTokens {
    async fn authenticate(&self, request: &Parts) -> Result<Option<Identity>, AuthError> {
        let Some(value) = request.headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| AuthError::Rejected("expected `Authorization: Bearer TOKEN`".into()))?;
        match self.0.get(token) {
            // No session of its own: OAuth connects are bound to the actor.
            Some(actor) => Ok(Some(Identity::new(actor.clone()))),
            None => Err(AuthError::Rejected("unknown token".into())),
        }
    }
}

async fn assistant(dir: &std::path::Path) -> Result<Assistant, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let db = dir.join("assistant.sqlite3");
    let mut key = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| "no randomness for the vault key".to_owned())?;
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).map_err(|e| err(&e))?),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), key)),
    ));
    let a = Assistant::builder()
        .store(Store::open_sqlite(&db).await.map_err(|e| err(&e))?)
        .vault(vault)
        .source(
            Provider::Icloud,
            Arc::new(availability::MemorySource::new()),
        )
        .build()
        .await
        .map_err(|e| err(&e))?;
    a.add_program(Program::new("mentoring", "Mentoring"))
        .await
        .map_err(|e| err(&e))?;
    for (id, name) in [("maya", "Maya"), ("theo", "Theo")] {
        a.add_participant(
            Participant::new(id, name, format!("{id}@example.org"), "Europe/London"),
            &[ProgramId::new("mentoring")],
        )
        .await
        .map_err(|e| err(&e))?;
    }
    Ok(a)
}

async fn run(addr: std::net::SocketAddr) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let assistant = assistant(dir.path()).await?;
    let tokens = BearerTokens(HashMap::from([
        ("token-of-maya".to_owned(), Actor::participant("maya")),
        ("token-of-theo".to_owned(), Actor::participant("theo")),
        (
            "token-of-admin".to_owned(),
            Actor::global_admin("coordinator"),
        ),
    ]));
    // Your own routes beside the assistant's.
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(router(assistant, HttpConfig::new(Arc::new(tokens))));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("serving on http://{addr}/");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    serve(listener, app, ServeConfig::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = match (args.next().as_deref(), args.next()) {
        (None, _) => Ok("127.0.0.1:8081".to_owned()),
        (Some("--addr"), Some(a)) => Ok(a),
        _ => Err("usage: embed [--addr 127.0.0.1:PORT]".to_owned()),
    }
    .and_then(|a| {
        a.parse::<std::net::SocketAddr>()
            .map_err(|e| format!("--addr: {e}"))
    })
    .and_then(|a| {
        if a.ip().is_loopback() {
            Ok(a)
        } else {
            Err("--addr must be a loopback address".to_owned())
        }
    });
    let result = addr.and_then(|addr| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?
            .block_on(run(addr))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("embed: {message}");
            ExitCode::from(2)
        }
    }
}
