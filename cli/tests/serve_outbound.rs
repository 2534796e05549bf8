//! `bitconn serve` runs the dispatcher: a trigger over HTTP reaches a receiver, signed, and every event it
//! accepted survives the process being killed with SIGKILL a hundred times while events flow (delivered at
//! least once; duplicates counted and printed).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Served, TempStore, bitconn, json, serve};
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A receiver answering 200 to every request: (webhook-id, body) of each on the channel.
fn receiver() -> (String, mpsc::Receiver<(String, String)>) {
    let (url, raw) = common::receiver(Arc::new(AtomicU16::new(200)));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for got in raw {
            let id = got.headers.get("webhook-id").cloned().unwrap_or_default();
            if tx.send((id, String::from_utf8(got.body).unwrap())).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

fn curl_trigger(base: &str, id: &str, secret: &str, body: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args([
            "-s",
            &format!("{base}/bitconn/outbound/{id}"),
            "-H",
            &format!("Authorization: Bearer {secret}"),
        ])
        .args(["-d", body])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn serve_delivers_a_trigger_signed() {
    let store = TempStore::new();
    let first = serve(&store.spec, &[]);
    let (id, secret) = demo_hook(&first);
    let (receiver_url, got) = receiver();
    send_to(&store, &id, &receiver_url);

    let answer = curl_trigger(
        &first.base_url,
        &id,
        &secret,
        r#"{"model": "res.partner", "ids": [3]}"#,
    );
    assert_eq!(answer["ok"], true, "{answer}");
    let (webhook_id, body) = got.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(webhook_id, answer["event_id"]);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["model"].as_str(), body["count"].as_u64()),
        (Some("res.partner"), Some(1))
    );
}

/// The demo webhook's id and secret, as `serve` printed them.
fn demo_hook(served: &Served) -> (String, String) {
    let url = served.printed("url:").unwrap();
    let id = url.rsplit('/').next().unwrap().to_owned();
    (id, served.printed("secret:").unwrap())
}

/// Points the webhook's outbound target at the receiver (allow-listed: it listens on loopback).
fn send_to(store: &TempStore, id: &str, receiver_url: &str) {
    let mut set = bitconn(&store.spec);
    set.args([
        "--json",
        "webhook",
        "outbound",
        "set",
        id,
        "--url",
        &format!("{receiver_url}/in"),
    ])
    .args(["--allow-cidr", "127.0.0.0/8", "--fields", "name"]);
    json(set);
}

/// Events triggered while `serve` is killed; each life of the process is sent at most `PER_LIFE` of them.
const EVENTS: usize = 1000;
const KILLS: usize = 100;
const PER_LIFE: usize = EVENTS / KILLS;
/// Longest a life lasts after it accepted its share of events; each life's share and delay differ, so the kills
/// land anywhere: while triggers are answered, while jobs are leased, delivered or acknowledged, or while idle.
const MAX_LIFE_MS: u64 = 40;
/// Longest a life waits for its share of events before it is killed anyway.
const LIFE_WAIT: Duration = Duration::from_secs(5);
/// Time the deliveries have to catch up once the last process runs.
const CATCH_UP: Duration = Duration::from_secs(30);

/// One life of `serve`: where triggers go (each life listens on a new port).
#[derive(Clone)]
struct Life {
    generation: usize,
    address: String,
    path: String,
    secret: String,
    last: bool,
}

/// Posts one trigger on a keep-alive connection; `Ok(status, event_id)` when a whole answer came back.
fn post_trigger(stream: &mut BufReader<TcpStream>, life: &Life) -> std::io::Result<(u16, Option<String>)> {
    let body = r#"{"model": "res.partner", "ids": [3]}"#;
    let request = format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        life.path,
        life.address,
        life.secret,
        body.len()
    );
    stream.get_mut().write_all(request.as_bytes())?;
    let broken = || std::io::Error::other("a cut answer");
    let mut line = String::new();
    if stream.read_line(&mut line)? == 0 {
        return Err(broken());
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(broken)?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        if stream.read_line(&mut header)? == 0 {
            return Err(broken());
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| broken())?;
        }
    }
    let mut answer = vec![0; length];
    stream.read_exact(&mut answer)?;
    let answer: serde_json::Value = serde_json::from_slice(&answer).map_err(|_| broken())?;
    Ok((status, answer["event_id"].as_str().map(str::to_owned)))
}

/// Sends triggers to whichever life is current until `EVENTS` were accepted; returns the accepted event ids
/// (with the life that accepted each) and the answers that were neither a 202 nor cut by a kill.
fn feed(
    current: Arc<Mutex<Option<Life>>>,
    progress: Arc<Mutex<(usize, usize)>>,
    stop: Arc<AtomicBool>,
) -> (Vec<(String, usize)>, Vec<u16>) {
    let (mut accepted, mut unexpected) = (Vec::new(), Vec::new());
    let mut connection: Option<(usize, BufReader<TcpStream>)> = None;
    let mut sent_in_life = (usize::MAX, 0);
    while accepted.len() < EVENTS && !stop.load(Ordering::Relaxed) {
        let Some(life) = current.lock().unwrap().clone() else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        if sent_in_life.0 != life.generation {
            sent_in_life = (life.generation, 0);
        }
        if sent_in_life.1 >= PER_LIFE && !life.last {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        if connection.as_ref().is_none_or(|(g, _)| *g != life.generation) {
            connection = TcpStream::connect(&life.address).ok().map(|s| {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                (life.generation, BufReader::new(s))
            });
        }
        let Some((_, stream)) = connection.as_mut() else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        match post_trigger(stream, &life) {
            Ok((202, Some(event_id))) => {
                accepted.push((event_id, life.generation));
                sent_in_life.1 += 1;
                *progress.lock().unwrap() = sent_in_life;
            }
            Ok((status, _)) => unexpected.push(status),
            Err(_) => {
                connection = None;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    (accepted, unexpected)
}

/// Stops the feeder when the test ends, whichever way.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn a_hundred_sigkills_while_events_flow_lose_no_event() {
    // One simulator for every life of `serve` (a regular webhook, so `serve` starts in milliseconds, not in
    // demo mode's seconds of loading the simulator).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(odoo_sim::start(odoo_sim::SimConfig::default()))
        .unwrap();
    let store = TempStore::new();
    let mut create = bitconn(&store.spec);
    create
        .args(["webhook", "create", "--name", "kill", "--odoo-url", &sim.url])
        .args(["--odoo-db", odoo_sim::DEFAULT_DB, "--odoo-login", "admin"])
        .args(["--models", "res.partner", "--json"])
        .env("BITCONN_ODOO_API_KEY", odoo_sim::DEFAULT_ADMIN_API_KEY);
    let created = json(create);
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let (receiver_url, got) = receiver();
    send_to(&store, &id, &receiver_url);
    let current: Arc<Mutex<Option<Life>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let _stop = StopOnDrop(stop.clone());
    let started = Instant::now();
    let mut served = serve(&store.spec, &["--no-demo"]);
    let publish = |served: &Served, generation: usize, last: bool| {
        *current.lock().unwrap() = Some(Life {
            generation,
            address: served.base_url.trim_start_matches("http://").to_owned(),
            path: format!("/bitconn/outbound/{id}"),
            secret: secret.clone(),
            last,
        });
    };
    let progress: Arc<Mutex<(usize, usize)>> = Arc::default();
    let feeder = {
        let (current, progress, stop) = (current.clone(), progress.clone(), stop.clone());
        std::thread::spawn(move || feed(current, progress, stop))
    };
    for kill in 0..KILLS {
        publish(&served, kill, false);
        // Killed once it accepted from half its share to all of it, and then after 0 to 40 ms.
        let share = PER_LIFE / 2 + kill % (PER_LIFE / 2 + 1);
        let until = Instant::now() + LIFE_WAIT;
        while *progress.lock().unwrap() < (kill, share) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis((kill as u64 * 7 + 3) % MAX_LIFE_MS));
        drop(served);
        served = serve(&store.spec, &["--no-demo"]);
    }
    publish(&served, KILLS, true);
    let (accepted, unexpected) = feeder.join().unwrap();
    assert_eq!(accepted.len(), EVENTS);
    let by_killed_lives = accepted.iter().filter(|(_, life)| *life < KILLS).count();
    let accepted: Vec<String> = accepted.into_iter().map(|(event, _)| event).collect();
    assert!(unexpected.is_empty(), "answers other than 202: {unexpected:?}");

    let mut seen: HashMap<String, usize> = HashMap::new();
    let until = Instant::now() + CATCH_UP;
    while accepted.iter().any(|e| !seen.contains_key(e)) && Instant::now() < until {
        if let Ok((webhook_id, _)) = got.recv_timeout(Duration::from_millis(100)) {
            *seen.entry(webhook_id).or_default() += 1;
        }
    }
    let missing: Vec<&String> = accepted.iter().filter(|e| !seen.contains_key(*e)).collect();
    assert!(
        missing.is_empty(),
        "{} of {EVENTS} accepted events never delivered: {missing:?}",
        missing.len()
    );
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!(
        "{EVENTS} events across {KILLS} SIGKILLs of serve ({by_killed_lives} accepted by a life later killed): \
         all delivered, {duplicates} duplicates, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(served);
}
