//! The outbound `Queue` contract, run against every adapter: memory, SQLite (a real file, mode 0600), and SQS
//! on moto_server — standard and FIFO queues, each with a dead-letter queue and redrive.
#![allow(clippy::unwrap_used)]

mod storage;

use async_trait::async_trait;
use bitconn::config::WebhookId;
use bitconn::outbound::queue::{
    DeadJob, Job, MemoryQueue, Queue, QueueError, Receipt, Received, SqliteQueue, SqsQueue,
};
use bitconn::store::SqliteLocation;
use std::time::{Duration, SystemTime};
use storage::Moto;
use storage::sqs::{MAX_RECEIVES, sqs_queue};

fn job(event: &str) -> Job {
    Job::Deliver {
        event_id: event.into(),
        webhook_id: WebhookId::generate(),
        model: "res.partner".parse().unwrap(),
        ids: vec![1, 2],
        event: Some("partner.changed".into()),
        extra: None,
    }
}

const LEASE: Duration = Duration::from_secs(60);

fn ticks(tick: Duration, n: f64) -> Duration {
    tick.mul_f64(n)
}

// Timings are in `tick`s: SQS counts delays and visibility in whole seconds, the local queues in milliseconds.

async fn jobs_round_trip_and_ack_ends_them(queue: &dyn Queue, _tick: Duration) {
    assert!(queue.enqueue("a", &job("a"), SystemTime::now()).await.unwrap());
    let got = queue.receive(10, LEASE).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].job.clone(), got[0].attempt),
        (job_with_id(&got[0].job, "a"), 1)
    );
    assert!(
        queue.receive(10, LEASE).await.unwrap().is_empty(),
        "leased jobs are invisible"
    );
    queue.ack(&got[0].receipt).await.unwrap();
    assert!(matches!(
        queue.ack(&got[0].receipt).await,
        Err(QueueError::LeaseLost(_))
    ));
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
}

fn job_with_id(j: &Job, id: &str) -> Job {
    let mut expected = j.clone();
    match &mut expected {
        Job::Deliver { event_id, .. } => *event_id = id.into(),
        Job::Native(event) => event.event_id = id.into(),
    }
    expected
}

async fn a_repeated_dedup_key_is_dropped_even_after_ack(queue: &dyn Queue, _tick: Duration) {
    assert!(queue.enqueue("k", &job("k"), SystemTime::now()).await.unwrap());
    assert!(!queue.enqueue("k", &job("k2"), SystemTime::now()).await.unwrap());
    let got = queue.receive(10, LEASE).await.unwrap();
    queue.ack(&got[0].receipt).await.unwrap();
    assert!(!queue.enqueue("k", &job("k3"), SystemTime::now()).await.unwrap());
    assert!(queue.receive(10, LEASE).await.unwrap().is_empty());
}

async fn not_before_delays_and_expired_leases_are_handed_out_again(queue: &dyn Queue, tick: Duration) {
    let later = SystemTime::now() + ticks(tick, 3.0);
    queue.enqueue("late", &job("late"), later).await.unwrap();
    assert!(queue.receive(10, LEASE).await.unwrap().is_empty());
    tokio::time::sleep(ticks(tick, 3.5)).await;
    let first = queue.receive(10, tick).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempt, 1, "waiting for not_before is not an attempt");
    tokio::time::sleep(ticks(tick, 1.5)).await;
    let second = queue.receive(10, LEASE).await.unwrap();
    assert_eq!((second.len(), second[0].attempt), (1, 2), "redelivered, counted");
    assert!(
        matches!(queue.ack(&first[0].receipt).await, Err(QueueError::LeaseLost(_))),
        "a consumer that outlived its lease changes nothing"
    );
    queue.ack(&second[0].receipt).await.unwrap();
}

async fn retry_later_moves_visibility_and_dead_letter_keeps_the_job(queue: &dyn Queue, tick: Duration) {
    queue.enqueue("r", &job("r"), SystemTime::now()).await.unwrap();
    let got = queue.receive(10, LEASE).await.unwrap();
    queue
        .retry_later(&got[0].receipt, ticks(tick, 2.0))
        .await
        .unwrap();
    assert!(queue.receive(10, LEASE).await.unwrap().is_empty());
    tokio::time::sleep(ticks(tick, 2.5)).await;
    let again = queue.receive(10, LEASE).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    queue
        .dead_letter(&again[0].receipt, "HTTP 500 on the last attempt")
        .await
        .unwrap();
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
    let dead = queue.dead(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].attempts, dead[0].reason.as_str()),
        (2, "HTTP 500 on the last attempt")
    );
    assert_eq!(dead[0].job.event_id(), "r");
}

/// A replay queues the dead job again, then removes it from the dead-letter list: the next listing no longer
/// finds it (so a bulk replay does not queue it twice), the others stay, and the job queued again goes out.
async fn a_dead_job_queued_again_is_removed_from_the_dead_letter_list(queue: &dyn Queue, _tick: Duration) {
    for key in ["d1", "d2"] {
        queue.enqueue(key, &job(key), SystemTime::now()).await.unwrap();
        let got = queue.receive(1, LEASE).await.unwrap();
        assert_eq!(got.len(), 1);
        queue.dead_letter(&got[0].receipt, "HTTP 500").await.unwrap();
    }
    let dead = queue.dead(10).await.unwrap();
    let mut listed: Vec<&str> = dead.iter().map(|d| d.job.event_id()).collect();
    listed.sort_unstable();
    assert_eq!(listed, ["d1", "d2"]);
    let first = dead.iter().find(|d| d.job.event_id() == "d1").unwrap();
    assert!(
        queue
            .enqueue("replay_d1", &first.job, SystemTime::now())
            .await
            .unwrap()
    );
    queue.remove_dead(&first.handle).await.unwrap();
    let left = queue.dead(10).await.unwrap();
    let left: Vec<&str> = left.iter().map(|d| d.job.event_id()).collect();
    assert_eq!(left, ["d2"], "the replayed job left the dead-letter list");
    let again = queue.receive(10, LEASE).await.unwrap();
    assert_eq!(ids(&again), ["d1"]);
    queue.ack(&again[0].receipt).await.unwrap();
    assert!(
        !queue.enqueue("d1", &job("d1"), SystemTime::now()).await.unwrap(),
        "its dedup key is still remembered"
    );
    assert_eq!(queue.dead(10).await.unwrap().len(), 1);
}

async fn receive_takes_at_most_max_in_order(queue: &dyn Queue, _tick: Duration) {
    for i in 0..5 {
        queue
            .enqueue(&format!("o{i}"), &job(&format!("o{i}")), SystemTime::now())
            .await
            .unwrap();
    }
    let first = queue.receive(3, LEASE).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|r| r.job.event_id()).collect();
    assert_eq!(ids, ["o0", "o1", "o2"]);
    assert_eq!(queue.receive(10, LEASE).await.unwrap().len(), 2);
}

fn ids(batch: &[Received]) -> Vec<&str> {
    let mut ids: Vec<&str> = batch.iter().map(|r| r.job.event_id()).collect();
    ids.sort_unstable();
    ids
}

async fn an_ordered_group_goes_one_at_a_time_and_a_waiting_head_holds_it(queue: &dyn Queue, tick: Duration) {
    for (key, group) in [
        ("a1", Some("A")),
        ("a2", Some("A")),
        ("b1", Some("B")),
        ("a3", Some("A")),
        ("u1", None),
    ] {
        assert!(
            queue
                .enqueue_in(key, &job(key), SystemTime::now(), group)
                .await
                .unwrap()
        );
    }
    let first = queue.receive(10, LEASE).await.unwrap();
    assert_eq!(ids(&first), ["a1", "b1", "u1"], "one job per group, the oldest");
    let receipt = |batch: &[Received], id: &str| -> Receipt {
        batch
            .iter()
            .find(|r| r.job.event_id() == id)
            .unwrap()
            .receipt
            .clone()
    };
    queue
        .retry_later(&receipt(&first, "a1"), ticks(tick, 2.0))
        .await
        .unwrap();
    queue.ack(&receipt(&first, "b1")).await.unwrap();
    queue.ack(&receipt(&first, "u1")).await.unwrap();
    assert!(
        queue.receive(10, LEASE).await.unwrap().is_empty(),
        "a head waiting for its retry holds back its group"
    );
    tokio::time::sleep(ticks(tick, 2.5)).await;
    let retried = queue.receive(10, LEASE).await.unwrap();
    assert_eq!((ids(&retried), retried[0].attempt), (vec!["a1"], 2));
    queue.ack(&retried[0].receipt).await.unwrap();
    let second = queue.receive(10, LEASE).await.unwrap();
    assert_eq!((ids(&second), second[0].attempt), (vec!["a2"], 1));
    queue.dead_letter(&second[0].receipt, "gone").await.unwrap();
    let third = queue.receive(10, LEASE).await.unwrap();
    assert_eq!(ids(&third), ["a3"], "a dead-lettered head lets the next one go");
    queue.ack(&third[0].receipt).await.unwrap();
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
}

async fn ordered_jobs_keep_their_order_under_retries(queue: &dyn Queue, tick: Duration) {
    let order: Vec<String> = (0..5).map(|i| format!("e{i}")).collect();
    for key in &order {
        queue
            .enqueue_in(key, &job(key), SystemTime::now(), Some("G"))
            .await
            .unwrap();
    }
    // A receiver that fails every job's first attempt: each head is retried once before it succeeds.
    let mut delivered = Vec::new();
    let deadline = std::time::Instant::now() + ticks(tick, 60.0);
    while delivered.len() < order.len() && std::time::Instant::now() < deadline {
        let batch = queue.receive(10, LEASE).await.unwrap();
        assert!(batch.len() <= 1, "never two jobs of one group at once");
        for received in batch {
            if received.attempt == 1 {
                queue.retry_later(&received.receipt, tick).await.unwrap();
            } else {
                delivered.push(received.job.event_id().to_owned());
                queue.ack(&received.receipt).await.unwrap();
            }
        }
        tokio::time::sleep(ticks(tick, 0.25)).await;
    }
    assert_eq!(delivered, order);
}

/// Every job in a FIFO message group of its own (ordered jobs keep theirs): the unordered contract, run on the
/// FIFO queue.
struct OnFifo(SqsQueue);

#[async_trait]
impl Queue for OnFifo {
    async fn enqueue_in(
        &self,
        key: &str,
        job: &Job,
        not_before: SystemTime,
        group: Option<&str>,
    ) -> Result<bool, QueueError> {
        self.0
            .enqueue_in(key, job, not_before, Some(group.unwrap_or(key)))
            .await
    }
    async fn receive(&self, max: usize, lease: Duration) -> Result<Vec<Received>, QueueError> {
        self.0.receive(max, lease).await
    }
    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        self.0.ack(receipt).await
    }
    async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        self.0.retry_later(receipt, delay).await
    }
    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<(), QueueError> {
        self.0.dead_letter(receipt, reason).await
    }
    async fn dead(&self, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        self.0.dead(limit).await
    }
    async fn remove_dead(&self, handle: &str) -> Result<(), QueueError> {
        self.0.remove_dead(handle).await
    }
}

const LOCAL_TICK: Duration = Duration::from_millis(100);
const SQS_TICK: Duration = Duration::from_secs(1);

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() {
                super::$name(&bitconn::outbound::queue::MemoryQueue::new(), super::LOCAL_TICK).await;
            })*
        }
        mod sqlite {
            $(#[tokio::test] async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("outbound.db");
                let queue = super::SqliteQueue::open(&super::SqliteLocation::File(path)).await.unwrap();
                super::$name(&queue, super::LOCAL_TICK).await;
            })*
        }
        mod sqs_standard {
            $(#[tokio::test] async fn $name() {
                super::$name(&super::sqs_queue().await, super::SQS_TICK).await;
            })*
        }
        mod sqs_fifo {
            $(#[tokio::test] async fn $name() {
                super::$name(&super::OnFifo(super::sqs_queue().await), super::SQS_TICK).await;
            })*
        }
    };
}

contract!(
    jobs_round_trip_and_ack_ends_them,
    a_repeated_dedup_key_is_dropped_even_after_ack,
    not_before_delays_and_expired_leases_are_handed_out_again,
    retry_later_moves_visibility_and_dead_letter_keeps_the_job,
    a_dead_job_queued_again_is_removed_from_the_dead_letter_list,
    receive_takes_at_most_max_in_order,
    an_ordered_group_goes_one_at_a_time_and_a_waiting_head_holds_it,
    ordered_jobs_keep_their_order_under_retries,
);

/// SQS's own backstop: a job received `maxReceiveCount` times without being settled (a consumer that keeps
/// dying) is moved to the dead-letter queue by the redrive policy, and listed with the other dead jobs.
async fn redrive_moves_an_unsettled_job_to_the_dead_letter_queue(queue: &dyn Queue) {
    queue
        .enqueue("crash", &job("crash"), SystemTime::now())
        .await
        .unwrap();
    for attempt in 1..=MAX_RECEIVES {
        let got = queue.receive(10, SQS_TICK).await.unwrap();
        assert_eq!((got.len(), got[0].attempt), (1, attempt));
        tokio::time::sleep(ticks(SQS_TICK, 1.5)).await;
    }
    assert!(
        queue.receive(10, LEASE).await.unwrap().is_empty(),
        "redriven, not handed out"
    );
    let dead = queue.dead(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.event_id(), "crash");
    assert!(dead[0].reason.contains("redrive"), "{}", dead[0].reason);
}

#[tokio::test]
async fn sqs_standard_redrive() {
    redrive_moves_an_unsettled_job_to_the_dead_letter_queue(&sqs_queue().await).await;
}

#[tokio::test]
async fn sqs_fifo_redrive() {
    redrive_moves_an_unsettled_job_to_the_dead_letter_queue(&OnFifo(sqs_queue().await)).await;
}

#[tokio::test]
async fn sqs_ordered_jobs_need_the_fifo_queue() {
    let queue = sqs_queue().await;
    let mut spec = queue.spec().clone();
    spec.fifo = None;
    spec.fifo_dlq = None;
    let standard_only = SqsQueue::from_sdk_config(&Moto::shared().sdk_config().await, spec);
    let error = standard_only
        .enqueue_in("o", &job("o"), SystemTime::now(), Some("G"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("FIFO"), "{error}");
}

#[tokio::test]
async fn sqlite_jobs_survive_reopening_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbound.db");
    let location = SqliteLocation::File(path.clone());
    let queue = SqliteQueue::open(&location).await.unwrap();
    queue
        .enqueue("durable", &job("durable"), SystemTime::now())
        .await
        .unwrap();
    let leased = queue.receive(1, Duration::from_millis(50)).await.unwrap();
    assert_eq!(leased.len(), 1);
    drop(queue);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let reopened = SqliteQueue::open(&location).await.unwrap();
    let got = reopened.receive(10, LEASE).await.unwrap();
    assert_eq!((got[0].job.event_id(), got[0].attempt), ("durable", 2));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let _ = MemoryQueue::new();
}

#[tokio::test]
async fn sqlite_queue_files_from_before_ordering_groups_open_and_keep_their_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbound.db");
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE outbound_queue (id INTEGER PRIMARY KEY, dedup_key TEXT UNIQUE, job TEXT NOT NULL,
             state TEXT NOT NULL, visible_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease TEXT,
             finished_at INTEGER, reason TEXT) STRICT;",
        )
        .unwrap();
        old.execute(
            "INSERT INTO outbound_queue (dedup_key, job, state, visible_at) VALUES ('old', ?1, 'ready', 0)",
            [serde_json::to_string(&job("old")).unwrap()],
        )
        .unwrap();
    }
    let queue = SqliteQueue::open(&SqliteLocation::File(path)).await.unwrap();
    queue
        .enqueue_in("new", &job("new"), SystemTime::now(), Some("G"))
        .await
        .unwrap();
    let got = queue.receive(10, LEASE).await.unwrap();
    assert_eq!(ids(&got), ["new", "old"]);
}
