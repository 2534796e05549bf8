//! `QueueSpec`, the `BITCONN_QUEUE` syntax naming where outbound jobs wait, and `open_queue`, the one place
//! that opens a queue from it (`bitconn serve`, the functions, the CLI's replay).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::{MemoryQueue, Queue, QueueError};
use crate::store::{SqliteLocation, StoreOptions};

const ACCEPTED: &str = "expected `memory:`, `sqlite:<path>`, `sqlite::memory:` or \
     `sqs:<queue url>?dlq=<url>&dedup_table=<table>[&fifo=<url>&fifo_dlq=<url>]`";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid queue `{spec}`: {reason}")]
pub struct InvalidQueueSpec {
    spec: String,
    reason: String,
}

impl InvalidQueueSpec {
    fn new(spec: &str, reason: impl Into<String>) -> Self {
        Self {
            spec: spec.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The SQS queues of one deployment. Unordered jobs go to `standard`, jobs of ordered webhooks to `fifo`
/// (message group = webhook); each has its own dead-letter queue (a FIFO queue's must be FIFO too). Dedup
/// markers are conditional puts in `dedup_table` (the idempotency table: same keys, TTL on `expires_at`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqsSpec {
    pub standard: String,
    pub dlq: String,
    pub fifo: Option<String>,
    pub fifo_dlq: Option<String>,
    pub dedup_table: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueSpec {
    /// `memory:`: jobs are lost with the process.
    Memory,
    /// `sqlite:<path>`: one table in that file.
    Sqlite(SqliteLocation),
    /// `sqs:<standard queue url>?dlq=…&dedup_table=…[&fifo=…&fifo_dlq=…]`.
    Sqs(SqsSpec),
}

impl FromStr for QueueSpec {
    type Err = InvalidQueueSpec;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = spec
            .split_once(':')
            .ok_or_else(|| InvalidQueueSpec::new(spec, ACCEPTED))?;
        match scheme {
            "memory" if rest.is_empty() => Ok(Self::Memory),
            "sqlite" => match rest.strip_prefix("//").unwrap_or(rest) {
                ":memory:" => Ok(Self::Sqlite(SqliteLocation::InMemory)),
                "" => Err(InvalidQueueSpec::new(spec, "`sqlite:` needs a file path")),
                path => Ok(Self::Sqlite(SqliteLocation::File(path.into()))),
            },
            "sqs" => parse_sqs(rest)
                .map(Self::Sqs)
                .map_err(|r| InvalidQueueSpec::new(spec, r)),
            _ => Err(InvalidQueueSpec::new(spec, ACCEPTED)),
        }
    }
}

fn parse_sqs(rest: &str) -> Result<SqsSpec, String> {
    let (standard, options) = rest.split_once('?').unwrap_or((rest, ""));
    let url = |name: &str, value: &str| -> Result<String, String> {
        let lower = value.to_ascii_lowercase();
        if (lower.starts_with("https://") || lower.starts_with("http://"))
            && !value.contains(char::is_whitespace)
        {
            Ok(value.to_owned())
        } else {
            Err(format!(
                "{name} must be a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)"
            ))
        }
    };
    let standard = url("the standard queue", standard)?;
    let (mut dlq, mut fifo, mut fifo_dlq, mut dedup_table) = (None, None, None, None);
    for option in options.split('&').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("dlq", v)) => dlq = Some(url("dlq", v)?),
            Some(("fifo", v)) => fifo = Some(url("fifo", v)?),
            Some(("fifo_dlq", v)) => fifo_dlq = Some(url("fifo_dlq", v)?),
            Some(("dedup_table", v)) if !v.is_empty() => dedup_table = Some(v.to_owned()),
            _ => return Err(format!("unknown option `{option}`; {ACCEPTED}")),
        }
    }
    let fifo_name = |u: &Option<String>| u.as_deref().is_none_or(|u| u.ends_with(".fifo"));
    if !fifo_name(&fifo) || !fifo_name(&fifo_dlq) || standard.ends_with(".fifo") {
        return Err(
            "fifo and fifo_dlq name FIFO queues (ending in .fifo); the first URL a standard one".into(),
        );
    }
    if fifo.is_some() != fifo_dlq.is_some() {
        return Err(
            "a FIFO queue needs its own FIFO dead-letter queue: give fifo and fifo_dlq together".into(),
        );
    }
    Ok(SqsSpec {
        standard,
        dlq: dlq.ok_or("`dlq=<url>` is required: jobs that used their last attempt go there")?,
        fifo,
        fifo_dlq,
        dedup_table: dedup_table.ok_or("`dedup_table=<table>` is required: it remembers dedup keys")?,
    })
}

impl fmt::Display for QueueSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory:"),
            Self::Sqlite(SqliteLocation::InMemory) => f.write_str("sqlite::memory:"),
            Self::Sqlite(SqliteLocation::File(path)) => write!(f, "sqlite:{}", path.display()),
            Self::Sqs(s) => {
                write!(
                    f,
                    "sqs:{}?dlq={}&dedup_table={}",
                    s.standard, s.dlq, s.dedup_table
                )?;
                if let (Some(fifo), Some(fifo_dlq)) = (&s.fifo, &s.fifo_dlq) {
                    write!(f, "&fifo={fifo}&fifo_dlq={fifo_dlq}")?;
                }
                Ok(())
            }
        }
    }
}

/// An opened queue, with its concrete type for what only one adapter does (`SqliteQueue::release_leases`,
/// `SqsQueue::received` for Lambda records).
#[derive(Clone)]
pub enum OpenedQueue {
    Memory(Arc<MemoryQueue>),
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<super::SqliteQueue>),
    #[cfg(feature = "sqs")]
    Sqs(Arc<super::SqsQueue>),
}

impl OpenedQueue {
    pub fn queue(&self) -> Arc<dyn Queue> {
        match self {
            Self::Memory(q) => q.clone(),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(q) => q.clone(),
            #[cfg(feature = "sqs")]
            Self::Sqs(q) => q.clone(),
        }
    }
}

/// Opens the queue `spec` names; SQS clients use `options.sdk_config` (else the SDK defaults over the shared
/// HTTP stack, as the DynamoDB store does).
pub async fn open_queue(spec: &QueueSpec, options: &StoreOptions) -> Result<OpenedQueue, QueueError> {
    let _ = options;
    match spec {
        QueueSpec::Memory => Ok(OpenedQueue::Memory(Arc::new(MemoryQueue::new()))),
        #[cfg(feature = "sqlite")]
        QueueSpec::Sqlite(location) => Ok(OpenedQueue::Sqlite(Arc::new(
            super::SqliteQueue::open(location).await?,
        ))),
        #[cfg(feature = "sqs")]
        QueueSpec::Sqs(sqs) => {
            let sdk = crate::store::aws_sdk_config(options).await;
            Ok(OpenedQueue::Sqs(Arc::new(super::SqsQueue::from_sdk_config(
                &sdk,
                sqs.clone(),
            ))))
        }
        #[allow(unreachable_patterns)]
        other => Err(QueueError::Backend(format!(
            "this build cannot open `{other}` (a cargo feature of the bitconn crate is off)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STD: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/bitconn-outbound";

    #[test]
    fn accepted_forms_parse_and_print_back() {
        let full = format!(
            "sqs:{STD}?dlq={STD}-dlq&dedup_table=bitconn-idempotency&fifo={STD}.fifo&fifo_dlq={STD}-dlq.fifo"
        );
        for text in [
            "memory:",
            "sqlite::memory:",
            "sqlite:./q.db",
            &format!("sqs:{STD}?dlq={STD}-dlq&dedup_table=t1"),
        ]
        .into_iter()
        .chain([full.as_str()])
        {
            let spec: QueueSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
        let QueueSpec::Sqs(spec) = full.parse().unwrap() else {
            panic!()
        };
        assert_eq!(spec.fifo.as_deref(), Some(&*format!("{STD}.fifo")));
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for (text, reason) in [
            ("redis:x", "expected"),
            ("sqlite:", "file path"),
            ("sqs:not-a-url?dlq=https://x/d&dedup_table=t", "queue URL"),
            (&format!("sqs:{STD}?dedup_table=t"), "dlq"),
            (&format!("sqs:{STD}?dlq={STD}-d"), "dedup_table"),
            (
                &format!("sqs:{STD}?dlq={STD}-d&dedup_table=t&fifo={STD}.fifo"),
                "fifo_dlq",
            ),
            (
                &format!("sqs:{STD}?dlq={STD}-d&dedup_table=t&fifo={STD}&fifo_dlq={STD}.fifo"),
                ".fifo",
            ),
            (
                &format!("sqs:{STD}?dlq={STD}-d&dedup_table=t&region=x"),
                "unknown option",
            ),
        ] {
            let error = text.parse::<QueueSpec>().unwrap_err().to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
