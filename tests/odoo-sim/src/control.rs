//! Test switches: injected latency, fault plans and the per-call log with counters.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Latency added to every JSON-RPC call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Latency {
    None,
    Fixed(#[serde(with = "humantime_serde_compat")] Duration),
    Uniform {
        #[serde(with = "humantime_serde_compat")]
        min: Duration,
        #[serde(with = "humantime_serde_compat")]
        max: Duration,
    },
}

/// What a fault does to a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this Odoo error instead of running the call.
    OdooError { name: String, message: String },
    /// Close the connection without an answer.
    DropConnection,
    /// Delay the call by this long before running it.
    Slow(#[serde(with = "humantime_serde_compat")] Duration),
    /// A writing call's transaction hits this many serialization failures: Odoo re-runs the whole call (at most
    /// `MAX_TRIES_ON_CONCURRENCY_FAILURE` = 5 tries), its automation rules and their webhook POSTs included.
    ConcurrencyRetries(u32),
}

/// Which calls a fault hits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTimes {
    /// The next N calls.
    Next(u32),
    /// Each call with this probability (0.0..=1.0).
    Fraction(f64),
}

/// A fault and the calls it applies to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    pub fault: Fault,
    pub times: FaultTimes,
}

/// One JSON-RPC call as the log keeps it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallRecord {
    pub service: String,
    pub method: String,
    pub model: Option<String>,
    pub model_method: Option<String>,
    #[serde(serialize_with = "ser_micros")]
    pub duration: Duration,
}

fn ser_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Durations in JSON as humantime strings ("5ms") or integer milliseconds.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Ms(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Ms(ms) => Ok(Duration::from_millis(ms)),
            Raw::Text(t) => humantime::parse_duration(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// Upper bound of the kept call log; older entries are dropped.
const MAX_LOG: usize = 100_000;

#[derive(Default)]
struct State {
    latency: Option<Latency>,
    faults: Vec<(FaultPlan, u32)>,
    calls: Vec<CallRecord>,
    total: usize,
}

/// Switches and log of one simulator.
pub struct Control {
    state: Mutex<State>,
    rng: AtomicU64,
}

/// What a call must suffer before (or instead of) running.
#[derive(Debug, Default)]
pub struct Plan {
    pub delay: Duration,
    pub error: Option<(String, String)>,
    pub drop: bool,
    /// Serialization failures the call's tries hit (see [`Fault::ConcurrencyRetries`]).
    pub retries: u32,
}

impl Control {
    pub fn new(latency: Latency) -> Control {
        Control {
            state: Mutex::new(State {
                latency: Some(latency),
                ..State::default()
            }),
            rng: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A pseudo-random number in [0, 1).
    fn random(&self) -> f64 {
        let mut x = self.rng.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        x ^= x >> 30;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides latency and faults for the next call.
    pub fn plan(&self) -> Plan {
        let mut plan = Plan::default();
        let latency = self.lock().latency.clone();
        plan.delay = match latency {
            Some(Latency::Fixed(d)) => d,
            Some(Latency::Uniform { min, max }) if max > min => min + (max - min).mul_f64(self.random()),
            Some(Latency::Uniform { min, .. }) => min,
            _ => Duration::ZERO,
        };
        let mut st = self.lock();
        let mut keep = Vec::with_capacity(st.faults.len());
        for (fp, used) in std::mem::take(&mut st.faults) {
            let hit = match fp.times {
                FaultTimes::Next(n) => used < n,
                FaultTimes::Fraction(f) => self.random() < f,
            };
            if hit {
                match &fp.fault {
                    Fault::OdooError { name, message } => plan.error = Some((name.clone(), message.clone())),
                    Fault::DropConnection => plan.drop = true,
                    Fault::Slow(d) => plan.delay += *d,
                    Fault::ConcurrencyRetries(n) => plan.retries = plan.retries.max(*n),
                }
            }
            let used = used + u32::from(hit);
            if !matches!(fp.times, FaultTimes::Next(n) if used >= n) {
                keep.push((fp, used));
            }
        }
        st.faults = keep;
        plan
    }

    pub fn record(&self, call: CallRecord) {
        let mut st = self.lock();
        st.total += 1;
        if st.calls.len() >= MAX_LOG {
            st.calls.remove(0);
        }
        st.calls.push(call);
    }
    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().calls.clone()
    }
    pub fn call_count(&self) -> usize {
        self.lock().calls.len()
    }
    /// Counters per `service` / `model.method`.
    pub fn counters(&self) -> BTreeMap<String, usize> {
        let st = self.lock();
        let mut out = BTreeMap::new();
        for c in &st.calls {
            let key = match (&c.model, &c.model_method) {
                (Some(m), Some(mm)) => format!("{m}.{mm}"),
                _ => format!("{}.{}", c.service, c.method),
            };
            *out.entry(key).or_insert(0) += 1;
        }
        out
    }
    pub fn clear_calls(&self) {
        let mut st = self.lock();
        st.calls.clear();
        st.total = 0;
    }
    pub fn set_latency(&self, latency: Latency) {
        self.lock().latency = Some(latency);
    }
    pub fn inject_fault(&self, fault: FaultPlan) {
        self.lock().faults.push((fault, 0));
    }
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_n_faults_expire() {
        let c = Control::new(Latency::None);
        c.inject_fault(FaultPlan {
            fault: Fault::DropConnection,
            times: FaultTimes::Next(2),
        });
        assert!(c.plan().drop);
        assert!(c.plan().drop);
        assert!(!c.plan().drop);
    }

    #[test]
    fn fraction_zero_never_hits_and_one_always_does() {
        let c = Control::new(Latency::Fixed(Duration::from_millis(3)));
        c.inject_fault(FaultPlan {
            fault: Fault::Slow(Duration::from_millis(1)),
            times: FaultTimes::Fraction(0.0),
        });
        assert_eq!(c.plan().delay, Duration::from_millis(3));
        c.clear_faults();
        c.inject_fault(FaultPlan {
            fault: Fault::Slow(Duration::from_millis(1)),
            times: FaultTimes::Fraction(1.0),
        });
        assert_eq!(c.plan().delay, Duration::from_millis(4));
    }
}
