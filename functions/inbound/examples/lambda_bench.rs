//! Benchmarks of the built `inbound` bootstrap against a local Lambda runtime API stub: cold start
//! (process spawn → first `GET …/invocation/next`) and peak RSS while serving many invocations.
//!
//! `scripts/bench-lambda.sh` builds the release binaries, starts moto and the Odoo simulator, creates the
//! webhook and runs: `lambda_bench compare <runs> <name>=<bootstrap>…` (the first is the baseline; every
//! function timed in each round, the order rotated per round; medians and ratios to the baseline),
//! `lambda_bench cold-start <bootstrap> [runs]` and `lambda_bench rss <bootstrap> <event.json> [invocations]`.
//! Store settings come from the environment.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const DEFAULT_COLD_RUNS: usize = 20;
const DEFAULT_INVOCATIONS: usize = 1000;
/// Longest a run may take before the benchmark gives up on the function.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
enum Seen {
    /// `GET next` number n (0-based).
    Next(usize),
    Response {
        status: Option<u64>,
    },
    Error(String),
}

#[derive(Clone)]
struct Stub {
    event: Arc<String>,
    served: Arc<Mutex<usize>>,
    limit: usize,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn next(State(stub): State<Stub>) -> axum::response::Response {
    let n = {
        let mut served = stub
            .served
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *served += 1;
        *served - 1
    };
    let _ = stub.seen.send(Seen::Next(n));
    if n >= stub.limit {
        std::future::pending::<()>().await;
    }
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or_default();
    axum::response::Response::builder()
        .header("lambda-runtime-aws-request-id", format!("bench-{n}"))
        .header("lambda-runtime-deadline-ms", deadline.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:eu-west-1:123456789012:function:inbound",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        )
        .header("content-type", "application/json")
        .body(axum::body::Body::from(stub.event.as_str().to_owned()))
        .unwrap_or_default()
}

async fn response(State(stub): State<Stub>, Path(_id): Path<String>, body: String) -> &'static str {
    let status = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["statusCode"].as_u64());
    let _ = stub.seen.send(Seen::Response { status });
    "{}"
}

async fn error(State(stub): State<Stub>, headers: HeaderMap, body: String) -> &'static str {
    let kind = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let _ = stub.seen.send(Seen::Error(format!("{kind} {body}")));
    "{}"
}

async fn start_stub(event: String, limit: usize) -> anyhow::Result<(String, mpsc::UnboundedReceiver<Seen>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let stub = Stub {
        event: Arc::new(event),
        served: Arc::default(),
        limit,
        seen: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr.to_string(), rx))
}

fn spawn(bootstrap: &str, runtime_api: &str) -> anyhow::Result<Child> {
    Ok(Command::new(bootstrap)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "inbound")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/inbound")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?)
}

async fn expect(rx: &mut mpsc::UnboundedReceiver<Seen>) -> anyhow::Result<Seen> {
    match tokio::time::timeout(RUN_TIMEOUT, rx.recv()).await {
        Ok(Some(seen)) => Ok(seen),
        Ok(None) => anyhow::bail!("runtime API stub stopped"),
        Err(_) => anyhow::bail!("the function did not call the runtime API within {RUN_TIMEOUT:?}"),
    }
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

async fn cold_start(bootstrap: &str, runs: usize) -> anyhow::Result<()> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(one_cold_start(bootstrap).await?);
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "cold start (spawn -> first GET /invocation/next), {runs} runs: min {:.1} ms, median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ms(samples[0]),
        ms(samples[runs / 2]),
        ms(samples[(runs * 9 / 10).min(runs - 1)]),
        ms(samples[runs - 1])
    );
    Ok(())
}

/// One cold start: spawn → the first `GET next`.
async fn one_cold_start(bootstrap: &str) -> anyhow::Result<Duration> {
    let (api, mut rx) = start_stub(String::new(), 0).await?;
    let started = Instant::now();
    let child = spawn(bootstrap, &api)?;
    let seen = expect(&mut rx).await;
    let elapsed = started.elapsed();
    kill(child);
    match seen? {
        Seen::Next(0) => Ok(elapsed),
        other => anyhow::bail!("{bootstrap}: expected the first GET next, got {other:?}"),
    }
}

/// Times every function in each of `runs` rounds, rotating the order so none always runs first; one untimed
/// round first fills the page cache. Prints each median and its ratio to the first function's (the baseline).
async fn compare(runs: usize, functions: &[(String, String)]) -> anyhow::Result<()> {
    anyhow::ensure!(!functions.is_empty(), "compare needs name=bootstrap pairs");
    for (_, bootstrap) in functions {
        one_cold_start(bootstrap).await?;
    }
    let mut samples = vec![Vec::with_capacity(runs); functions.len()];
    for round in 0..runs {
        for k in 0..functions.len() {
            let i = (round + k) % functions.len();
            samples[i].push(one_cold_start(&functions[i].1).await?);
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let medians: Vec<f64> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            ms(s[s.len() / 2])
        })
        .collect();
    println!("cold start (spawn -> first GET /invocation/next), median of {runs} alternating runs:");
    for (i, (name, bootstrap)) in functions.iter().enumerate() {
        let size = std::fs::metadata(bootstrap).map(|m| m.len()).unwrap_or(0);
        println!(
            "  {name:<16} median {:>6.2} ms (min {:.2}, max {:.2})  {:.2}x baseline  bootstrap {size} bytes",
            medians[i],
            ms(samples[i][0]),
            ms(samples[i][runs - 1]),
            medians[i] / medians[0],
        );
    }
    Ok(())
}

fn vm_hwm_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or_else(|| anyhow::anyhow!("no VmHWM"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

async fn rss(bootstrap: &str, event_file: &str, invocations: usize) -> anyhow::Result<()> {
    let event = std::fs::read_to_string(event_file)?;
    let (api, mut rx) = start_stub(event, invocations).await?;
    let started = Instant::now();
    let child = spawn(bootstrap, &api)?;
    let pid = child.id();
    let mut statuses = std::collections::BTreeMap::<u64, usize>::new();
    let mut first_next = None;
    let result = loop {
        match expect(&mut rx).await {
            Ok(Seen::Next(0)) => first_next = Some(started.elapsed()),
            Ok(Seen::Next(n)) if n >= invocations => break vm_hwm_kib(pid),
            Ok(Seen::Next(_)) => {}
            Ok(Seen::Response { status }) => *statuses.entry(status.unwrap_or(0)).or_default() += 1,
            Ok(Seen::Error(error)) => break Err(anyhow::anyhow!("function error: {error}")),
            Err(error) => break Err(error),
        }
    };
    let total = started.elapsed();
    kill(child);
    let hwm = result?;
    let serving = total - first_next.unwrap_or_default();
    println!(
        "peak RSS (VmHWM) after {invocations} invocations: {:.1} MiB; statuses {statuses:?}; {:.2} ms per invocation",
        hwm as f64 / 1024.0,
        serving.as_secs_f64() * 1000.0 / invocations as f64
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(0), arg(1)) {
        (Some("cold-start"), Some(bootstrap)) => {
            let runs = arg(2).map(str::parse).transpose()?.unwrap_or(DEFAULT_COLD_RUNS);
            cold_start(bootstrap, runs.max(1)).await
        }
        (Some("compare"), Some(runs)) => {
            let functions = args[2..]
                .iter()
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(name, path)| (name.to_owned(), path.to_owned()))
                        .ok_or_else(|| anyhow::anyhow!("expected name=bootstrap, got {pair}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            compare(runs.parse::<usize>()?.max(1), &functions).await
        }
        (Some("rss"), Some(bootstrap)) => {
            let event = arg(2).ok_or_else(|| anyhow::anyhow!("rss needs an event file"))?;
            let invocations = arg(3).map(str::parse).transpose()?.unwrap_or(DEFAULT_INVOCATIONS);
            rss(bootstrap, event, invocations.max(1)).await
        }
        _ => anyhow::bail!(
            "usage: lambda_bench compare <runs> <name>=<bootstrap>... | cold-start <bootstrap> [runs] | rss <bootstrap> <event.json> [n]"
        ),
    }
}
