//! One delivery attempt over HTTP: SSRF-guarded resolution at every attempt (address literals checked here),
//! no redirects, no proxy, the target's timeout, Standard Webhooks headers over the exact bytes sent, and the
//! start of the answer kept for the delivery log.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::deliveries::{MAX_RESPONSE_BYTES, capped_text};
use super::ssrf::{AllowList, GuardedResolver, check_literal_host};
use super::{SigningSecret, signature_headers};
use crate::config::HttpVerb;

/// The connection phase never waits longer than this, even when the target's timeout is longer.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `Retry-After` honoured; a receiver asking for more is retried then.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Clients kept (one per allow-list and timeout); beyond it the cache starts afresh.
const MAX_CLIENTS: usize = 256;
const USER_AGENT: &str = concat!("bitconn-webhook/", env!("CARGO_PKG_VERSION"));

/// What one attempt sends.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub verb: HttpVerb,
    pub headers: &'a BTreeMap<String, String>,
    /// `None` for GET and DELETE, which send no body (as the original).
    pub body: Option<&'a [u8]>,
    pub event_id: &'a str,
    pub secrets: &'a [SigningSecret],
    pub timeout: Duration,
    pub allow: &'a AllowList,
}

/// What one attempt got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    pub error: Option<String>,
    pub response: Option<String>,
    pub duration: Duration,
    /// True when nothing was sent because the SSRF guard refused the destination.
    pub refused: bool,
    /// The headers sent, as the delivery log keeps them (`logged_headers`).
    pub request_headers: BTreeMap<String, String>,
}

/// What the log keeps of the headers sent: custom headers' names only (their values may be credentials),
/// signatures as a count, the rest as sent.
pub fn logged_headers(
    custom: &BTreeMap<String, String>,
    sent_by_us: &[(&'static str, String)],
) -> BTreeMap<String, String> {
    let mut kept: BTreeMap<String, String> = custom
        .keys()
        .map(|name| {
            (
                name.to_ascii_lowercase(),
                crate::execution_log::REDACTED.to_owned(),
            )
        })
        .collect();
    for (name, value) in sent_by_us {
        let value = if *name == super::signature::HEADER_SIGNATURE {
            value
                .split(' ')
                .map(|s| {
                    format!(
                        "{},{}",
                        s.split(',').next().unwrap_or("v1"),
                        crate::execution_log::REDACTED
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            value.clone()
        };
        kept.insert((*name).to_owned(), value);
    }
    kept
}

/// Delivers attempts; holds one HTTP client per (allow-list, timeout), so connections are pooled.
#[derive(Default)]
pub struct Deliverer {
    clients: Mutex<HashMap<(String, Duration), reqwest::Client>>,
    /// The resolver behind the guard (the system's unless a test gives one).
    resolver: Option<Arc<dyn reqwest::dns::Resolve>>,
}

impl Deliverer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A deliverer resolving names with `resolver` (still guarded): for tests of rebinding.
    pub fn with_resolver(resolver: Arc<dyn reqwest::dns::Resolve>) -> Self {
        Self {
            clients: Mutex::default(),
            resolver: Some(resolver),
        }
    }

    fn client(&self, allow: &AllowList, timeout: Duration) -> Result<reqwest::Client, String> {
        let key = (format!("{allow:?}"), timeout);
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let guard = match &self.resolver {
            Some(inner) => GuardedResolver::new(allow.clone(), inner.clone()),
            None => GuardedResolver::system(allow.clone()),
        };
        let client = crate::odoo::tls::http_client_builder()
            .dns_resolver(guard)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            .user_agent(USER_AGENT)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }

    pub async fn send(&self, out: &Outgoing<'_>) -> Answer {
        let started = Instant::now();
        let mut answer = match self.attempt(out).await {
            Ok(answer) => answer,
            Err((error, refused)) => Answer {
                error: Some(error),
                refused,
                ..Answer::default()
            },
        };
        answer.duration = started.elapsed();
        answer
    }

    async fn attempt(&self, out: &Outgoing<'_>) -> Result<Answer, (String, bool)> {
        let url =
            reqwest::Url::parse(out.url).map_err(|e| (format!("invalid URL {:?}: {e}", out.url), false))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err((format!("unsupported URL scheme {:?}", url.scheme()), false));
        }
        let host = url
            .host_str()
            .ok_or_else(|| ("the URL has no host".to_owned(), false))?;
        check_literal_host(host, out.allow).map_err(|e| (format!("refused by the SSRF guard: {e}"), true))?;
        let client = self.client(out.allow, out.timeout).map_err(|e| (e, false))?;
        let method = http::Method::from_bytes(out.verb.as_str().as_bytes()).unwrap_or(http::Method::POST);
        let body = out.body.unwrap_or_default();
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let secrets: Vec<&SigningSecret> = out.secrets.iter().collect();
        let mut request = client.request(method, url);
        for (name, value) in out.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut ours: Vec<(&'static str, String)> = vec![("user-agent", USER_AGENT.to_owned())];
        if out.body.is_some() && !out.headers.keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
            ours.push(("content-type", "application/json".to_owned()));
        }
        if !secrets.is_empty() {
            ours.extend(signature_headers(out.event_id, timestamp, body, &secrets));
        } else {
            ours.push((super::signature::HEADER_ID, out.event_id.to_owned()));
        }
        for (name, value) in &ours[1..] {
            request = request.header(*name, value.as_str());
        }
        let request_headers = logged_headers(out.headers, &ours);
        if let Some(body) = out.body {
            request = request.body(body.to_vec());
        }
        let mut response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut kept = Vec::new();
        let mut error = None;
        while kept.len() < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    kept.extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE_BYTES - kept.len())])
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(describe(&e).0);
                    break;
                }
            }
        }
        Ok(Answer {
            status: Some(status),
            retry_after,
            error,
            response: Some(capped_text(&kept)),
            duration: Duration::ZERO,
            refused: false,
            request_headers,
        })
    }
}

/// A transport error as one line naming its cause (the guard's refusal, a timeout, a refused connection).
fn describe(error: &reqwest::Error) -> (String, bool) {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    let mut refused = false;
    while let Some(cause) = source {
        if cause.downcast_ref::<super::ssrf::Refused>().is_some() {
            refused = true;
        }
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_timeout() {
        text = format!("timed out: {text}");
    }
    // The resolver's refusal may reach us re-wrapped by the connector, so its text counts too.
    refused |= text.contains(super::ssrf::REFUSED_PREFIX);
    (text, refused)
}

/// `Retry-After` as seconds or an HTTP date, capped at `MAX_RETRY_AFTER`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let format = time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            );
            let at = time::PrimitiveDateTime::parse(value, &format).ok()?.assume_utc();
            let seconds = (at - time::OffsetDateTime::now_utc()).whole_seconds().max(0);
            Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("99999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn logged_headers_keep_no_header_value_or_signature() {
        let custom = BTreeMap::from([("Authorization".to_owned(), "Bearer rcv-secret".to_owned())]);
        let ours = [
            ("content-type", "application/json".to_owned()),
            ("webhook-id", "evt_1".to_owned()),
            ("webhook-signature", "v1,AAAA v1,BBBB".to_owned()),
        ];
        let kept = logged_headers(&custom, &ours);
        assert_eq!(kept["authorization"], crate::execution_log::REDACTED);
        assert_eq!(kept["webhook-id"], "evt_1");
        assert_eq!(kept["webhook-signature"], "v1,[redacted] v1,[redacted]");
        let text = format!("{kept:?}");
        assert!(!text.contains("rcv-secret") && !text.contains("AAAA"), "{text}");
    }

    #[tokio::test]
    async fn literal_addresses_are_refused_before_connecting() {
        let deliverer = Deliverer::new();
        let headers = BTreeMap::new();
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]:9/",
            "http://[::ffff:169.254.169.254]/",
            "http://10.0.0.1/",
        ] {
            let answer = deliverer
                .send(&Outgoing {
                    url,
                    verb: HttpVerb::Post,
                    headers: &headers,
                    body: Some(b"{}"),
                    event_id: "evt_1",
                    secrets: &[],
                    timeout: Duration::from_secs(1),
                    allow: &AllowList::default(),
                })
                .await;
            assert!(answer.refused && answer.status.is_none(), "{url}: {answer:?}");
            assert!(answer.error.unwrap().contains("SSRF"), "{url}");
        }
    }
}
