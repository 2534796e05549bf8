//! The outbound `Queue` contract, run against every adapter: memory and SQLite (a real file, mode 0600).
#![allow(clippy::unwrap_used)]

use bitconn::config::WebhookId;
use bitconn::outbound::queue::{Job, MemoryQueue, Queue, QueueError, SqliteQueue};
use bitconn::store::SqliteLocation;
use std::time::{Duration, SystemTime};

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

async fn jobs_round_trip_and_ack_ends_them(queue: &dyn Queue) {
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

async fn a_repeated_dedup_key_is_dropped_even_after_ack(queue: &dyn Queue) {
    assert!(queue.enqueue("k", &job("k"), SystemTime::now()).await.unwrap());
    assert!(!queue.enqueue("k", &job("k2"), SystemTime::now()).await.unwrap());
    let got = queue.receive(10, LEASE).await.unwrap();
    queue.ack(&got[0].receipt).await.unwrap();
    assert!(!queue.enqueue("k", &job("k3"), SystemTime::now()).await.unwrap());
    assert!(queue.receive(10, LEASE).await.unwrap().is_empty());
}

async fn not_before_delays_and_expired_leases_are_handed_out_again(queue: &dyn Queue) {
    let later = SystemTime::now() + Duration::from_millis(300);
    queue.enqueue("late", &job("late"), later).await.unwrap();
    assert!(queue.receive(10, LEASE).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(350)).await;
    let first = queue.receive(10, Duration::from_millis(100)).await.unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = queue.receive(10, LEASE).await.unwrap();
    assert_eq!((second.len(), second[0].attempt), (1, 2), "redelivered, counted");
    assert!(
        matches!(queue.ack(&first[0].receipt).await, Err(QueueError::LeaseLost(_))),
        "a consumer that outlived its lease changes nothing"
    );
    queue.ack(&second[0].receipt).await.unwrap();
}

async fn retry_later_moves_visibility_and_dead_letter_keeps_the_job(queue: &dyn Queue) {
    queue.enqueue("r", &job("r"), SystemTime::now()).await.unwrap();
    let got = queue.receive(10, LEASE).await.unwrap();
    queue
        .retry_later(&got[0].receipt, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(queue.receive(10, LEASE).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(250)).await;
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

async fn receive_takes_at_most_max_in_order(queue: &dyn Queue) {
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

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(&bitconn::outbound::queue::MemoryQueue::new()).await; })*
        }
        mod sqlite {
            $(#[tokio::test] async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("outbound.db");
                let queue = super::SqliteQueue::open(&super::SqliteLocation::File(path)).await.unwrap();
                super::$name(&queue).await;
            })*
        }
    };
}

contract!(
    jobs_round_trip_and_ack_ends_them,
    a_repeated_dedup_key_is_dropped_even_after_ack,
    not_before_delays_and_expired_leases_are_handed_out_again,
    retry_later_moves_visibility_and_dead_letter_keeps_the_job,
    receive_takes_at_most_max_in_order,
);

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
