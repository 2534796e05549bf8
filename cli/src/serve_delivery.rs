//! The runtime `bitconn serve` runs its delivery side on (dispatcher and poller): worker threads of their own at
//! a lower CPU priority, so on a busy machine trigger and inbound answers are not queued behind delivery work.

/// How much lower the delivery threads' priority is (nice, added to the process's): 10 gives them about a tenth
/// of a core's time against a busy answering thread, and all of it when nothing else runs.
pub const DELIVERY_NICENESS: i32 = 10;
/// The highest nice value there is.
const MAX_NICE: i32 = 19;

/// A multi-thread runtime (one worker per core) whose threads lower their own priority as they start. The
/// SQLite stores run their blocking calls on the runtime that opened them, so no delivery thread holds a
/// connection an answering request waits for.
pub fn delivery_runtime() -> std::io::Result<DeliveryRuntime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("bitconn-delivery")
        .on_thread_start(lower_priority)
        .enable_all()
        .build()
        .map(|runtime| DeliveryRuntime(Some(runtime)))
}

/// The delivery runtime, shut down without waiting when dropped: it is dropped on the main runtime (where a
/// runtime's ordinary drop, which blocks, is refused), and by then its tasks have finished or no longer matter.
pub struct DeliveryRuntime(Option<tokio::runtime::Runtime>);

impl DeliveryRuntime {
    pub fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(tokio::runtime::Runtime::handle)
    }
}

impl Drop for DeliveryRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    let thread = rustix::thread::gettid();
    // On Linux, PRIO_PROCESS with a thread id sets that thread alone.
    let result = getpriority_process(Some(thread))
        .and_then(|nice| setpriority_process(Some(thread), (nice + DELIVERY_NICENESS).min(MAX_NICE)));
    if let Err(error) = result {
        tracing::debug!(%error, "the delivery thread keeps the process's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn delivery_threads_run_at_a_lower_priority_than_the_process() {
        let process = rustix::process::getpriority_process(None).unwrap();
        let runtime = delivery_runtime().unwrap();
        let handle = runtime.handle().unwrap().clone();
        let inside = handle
            .block_on(handle.spawn(async {
                rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
            }))
            .unwrap();
        assert_eq!(inside, (process + DELIVERY_NICENESS).min(MAX_NICE));
        let here = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(here, process, "the calling thread keeps its priority");
    }
}
