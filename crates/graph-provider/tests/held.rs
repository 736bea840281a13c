//! A loopback HTTP/1.1 server that holds requests, to see how many a
//! client has in flight (wiremock answers on one thread, so a slow
//! responder there serialises requests and a peak taken in it is always 1).
//!
//! Each connection has its own thread. A request counts as in flight from
//! when its body is read until just before its answer is written, so the
//! count never exceeds what the client has outstanding. Requests are held
//! in rounds: a round is let go when `level` requests are held, or once
//! all `total` requests have arrived. No clock decides
//! anything, except a guard against a client that never reaches `level`,
//! which lets the requests go and is reported by [`HeldServer::stalled`].

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a request waits for `level` before the guard lets it go.
const GUARD: Duration = Duration::from_secs(10);

/// What a [`HeldServer`] answers: the request's path and body to a JSON
/// body for a 200.
type Answer = dyn Fn(&str, &[u8]) -> String + Send + Sync;

#[derive(Default)]
struct Counts {
    started: usize,
    in_flight: usize,
    held: usize,
    peak: usize,
    rounds: usize,
    stalled: bool,
    requests: Vec<(String, Vec<u8>)>,
}

struct Shared {
    level: usize,
    total: usize,
    counts: Mutex<Counts>,
    changed: Condvar,
    answer: Box<Answer>,
}

/// The server; it runs until the test process ends.
pub(crate) struct HeldServer {
    uri: String,
    shared: Arc<Shared>,
}

impl HeldServer {
    /// Listens on loopback, holding requests until `level` are in flight
    /// or `total` have arrived, and answering each with `answer`.
    pub(crate) fn start(
        level: usize,
        total: usize,
        answer: impl Fn(&str, &[u8]) -> String + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            level,
            total,
            counts: Mutex::new(Counts::default()),
            changed: Condvar::new(),
            answer: Box::new(answer),
        });
        let serving = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let shared = serving.clone();
                std::thread::spawn(move || serve(&shared, stream.unwrap()));
            }
        });
        Self { uri, shared }
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// The most requests in flight at once.
    pub(crate) fn peak(&self) -> usize {
        self.shared.counts.lock().unwrap().peak
    }

    /// Whether a request waited out the guard without `level` being
    /// reached (the client never had that many in flight); from then on
    /// no request is held.
    pub(crate) fn stalled(&self) -> bool {
        self.shared.counts.lock().unwrap().stalled
    }

    /// The requests seen, as path and body, in the order they arrived.
    pub(crate) fn requests(&self) -> Vec<(String, Vec<u8>)> {
        self.shared.counts.lock().unwrap().requests.clone()
    }
}

/// Serves the requests of one (kept-alive) connection.
fn serve(shared: &Shared, stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        hold(shared, &path, &body);
        let answer = (shared.answer)(&path, &body);
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Counts a request in, waits for its round, and counts it out.
fn hold(shared: &Shared, path: &str, body: &[u8]) {
    let mut counts = shared.counts.lock().unwrap();
    counts.started += 1;
    counts.in_flight += 1;
    counts.peak = counts.peak.max(counts.in_flight);
    counts.requests.push((path.to_owned(), body.to_vec()));
    counts.held += 1;
    let round = counts.rounds;
    // A round is let go as a whole, so a request arriving while the last
    // round's threads wake joins the next round, not that one.
    if counts.held >= shared.level {
        counts.rounds += 1;
        counts.held = 0;
    }
    shared.changed.notify_all();
    let (mut counts, waited) = shared
        .changed
        .wait_timeout_while(counts, GUARD, |c| {
            c.rounds == round && c.started < shared.total && !c.stalled
        })
        .unwrap();
    if waited.timed_out() {
        counts.stalled = true;
    }
    counts.in_flight -= 1;
}
