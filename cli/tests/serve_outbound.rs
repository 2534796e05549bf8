//! `bitconn serve` runs the dispatcher: a trigger over HTTP reaches a receiver, signed, and jobs queued by a
//! process killed with SIGKILL are delivered after a restart (at least once; duplicates counted).
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, bitconn, json, serve};
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A receiver on a thread: answers 200 to every request and sends (webhook-id, body) on the channel.
fn receiver() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut headers = HashMap::new();
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                        }
                    }
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let id = headers.get("webhook-id").cloned().unwrap_or_default();
                    let _ = tx.send((id, String::from_utf8(body).unwrap()));
                    let mut out = &stream;
                    if out
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
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
fn serve_delivers_triggers_and_redelivers_after_sigkill() {
    let store = TempStore::new();
    let first = serve(&store.spec, &[]);
    let url = first.printed("url:").unwrap();
    let secret = first.printed("secret:").unwrap();
    let id = url.rsplit('/').next().unwrap().to_owned();
    let (receiver_url, got) = receiver();
    let mut set = bitconn(&store.spec);
    set.args([
        "--json",
        "webhook",
        "outbound",
        "set",
        &id,
        "--url",
        &format!("{receiver_url}/in"),
    ])
    .args(["--allow-cidr", "127.0.0.0/8", "--fields", "name"]);
    json(set);

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

    // Queue a burst and kill the process at once: whatever it had not delivered is delivered after a restart.
    const BURST: usize = 50;
    let mut events = Vec::new();
    for _ in 0..BURST {
        let answer = curl_trigger(
            &first.base_url,
            &id,
            &secret,
            r#"{"model": "res.partner", "ids": [3]}"#,
        );
        events.push(answer["event_id"].as_str().unwrap().to_owned());
    }
    drop(first);
    let second = serve(&store.spec, &[]);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let until = Instant::now() + Duration::from_secs(60);
    while events.iter().any(|e| !seen.contains_key(e)) && Instant::now() < until {
        if let Ok((webhook_id, _)) = got.recv_timeout(Duration::from_millis(200)) {
            *seen.entry(webhook_id).or_default() += 1;
        }
    }
    let missing: Vec<&String> = events.iter().filter(|e| !seen.contains_key(*e)).collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!("{BURST} events across a SIGKILL: all delivered, {duplicates} duplicates");
    drop(second);
}
