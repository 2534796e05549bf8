//! `bitconn deliveries replay` on an AWS deployment (DynamoDB store, SQS queues on moto): a replayed dead job
//! leaves the dead-letter queue once it is queued again, so the next `replay --dead` does not find it again.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Moto, authority, bitconn, fails, json, ok};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::process::Command;
use std::time::Duration;

const STORE: &str = "dynamodb:replay-webhooks";

/// One call of SQS's JSON protocol on moto; returns the answer's body.
fn sqs(moto: &Moto, action: &str, body: &Value) -> Value {
    let host = authority(&moto.endpoint);
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: AmazonSQS.{action}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
    assert!(head.starts_with("HTTP/1.1 200"), "{action}: {answer}");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn create_queue(moto: &Moto, name: &str) -> String {
    let created = sqs(moto, "CreateQueue", &json!({"QueueName": name}));
    created["QueueUrl"].as_str().unwrap().to_owned()
}

/// The event ids of the jobs on `queue` (received with no visibility timeout, so they stay where they are).
fn events_on(moto: &Moto, queue: &str) -> Vec<String> {
    let got = sqs(
        moto,
        "ReceiveMessage",
        &json!({"QueueUrl": queue, "MaxNumberOfMessages": 10, "VisibilityTimeout": 0}),
    );
    let mut events: Vec<String> = got["Messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let job: Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
            job["event_id"].as_str().unwrap().to_owned()
        })
        .collect();
    events.sort();
    events
}

fn replay(moto: &Moto, queue: &str, args: &[&str]) -> Command {
    let mut cmd = bitconn(STORE);
    moto.configure(&mut cmd);
    cmd.env("BITCONN_QUEUE", queue);
    cmd.args(["--json", "deliveries", "replay"]).args(args);
    cmd
}

#[test]
fn a_replayed_dead_job_leaves_the_dead_letter_queue() {
    let moto = Moto::start().expect("moto_server is not installed; run scripts/ensure-tools.sh");
    let mut init = bitconn(STORE);
    moto.configure(&mut init);
    init.args(["store", "init"]);
    ok(init);
    let jobs = create_queue(&moto, "replay-jobs");
    let dlq = create_queue(&moto, "replay-jobs-dlq");
    let spec = format!("sqs:{jobs}?dlq={dlq}&dedup_table=replay-idempotency");
    for event in ["evt_dead_one", "evt_dead_two"] {
        let job = json!({"type": "deliver", "event_id": event, "webhook_id": "0f0e0d0c-0b0a-4908-8706-050403020100",
                         "model": "res.partner", "ids": [7]});
        sqs(
            &moto,
            "SendMessage",
            &json!({"QueueUrl": dlq, "MessageBody": job.to_string(), "MessageAttributes": {
                "dead_reason": {"DataType": "String", "StringValue": "HTTP 500 on the last attempt"}}}),
        );
    }

    let one = json(replay(&moto, &spec, &["evt_dead_one"]));
    assert_eq!(one["replayed"], json!(["evt_dead_one"]));
    assert_eq!(events_on(&moto, &dlq), ["evt_dead_two"]);
    let bulk = json(replay(&moto, &spec, &["--dead"]));
    assert_eq!(
        bulk["replayed"],
        json!(["evt_dead_two"]),
        "the job replayed before is not found again"
    );
    assert!(events_on(&moto, &dlq).is_empty());
    assert_eq!(json(replay(&moto, &spec, &["--dead"]))["replayed"], json!([]));
    assert_eq!(
        events_on(&moto, &jobs),
        ["evt_dead_one", "evt_dead_two"],
        "each queued once"
    );
    // Neither the dead-letter queue nor the log (nothing was attempted here) holds it any more.
    let error = fails(replay(&moto, &spec, &["evt_dead_one"]));
    assert!(error.contains("no delivery evt_dead_one"), "{error}");
}
