//! A `moto_server` (DynamoDB and KMS emulator) on a free port, shared by the tests of one test binary.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// How long moto may take to answer after being started (it starts in about half a second).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Runs moto_server as the child of a small shell that kills it when its stdin closes: when this handle is
/// dropped, or when the test process ends in any way (a static is never dropped; its pipe still closes).
const LAUNCHER: &str = r#"
command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not on PATH; run scripts/ensure-tools.sh" >&2; exit 127; }
moto_server -H 127.0.0.1 -p "$1" >/dev/null 2>&1 &
moto=$!
cat >/dev/null
kill "$moto" 2>/dev/null
wait "$moto" 2>/dev/null
"#;

pub struct Moto {
    launcher: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut launcher = Command::new("sh")
            .args(["-c", LAUNCHER, "moto-launcher", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run sh to start moto_server: {e}"))?;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = launcher.try_wait().map_err(|e| e.to_string())? {
                let mut stderr = String::new();
                if let Some(mut pipe) = launcher.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return Err(format!("moto_server did not start ({status}): {}", stderr.trim()));
            }
            if answers_http(port) {
                return Ok(Self {
                    launcher,
                    endpoint: format!("http://127.0.0.1:{port}"),
                });
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "moto_server did not answer on port {port} within {STARTUP_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The process-wide instance, started on first use. Panics with the reason when moto cannot run:
    /// the DynamoDB tests are never skipped silently.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
        match MOTO.get_or_init(Moto::start) {
            Ok(moto) => moto,
            Err(reason) => panic!("DynamoDB tests need moto_server: {reason}"),
        }
    }

    /// An SDK configuration pointing at this moto with fake credentials, built without touching the environment.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .http_client(bitconn::store::aws_http_client().unwrap())
            .load()
            .await
    }
}

impl Moto {
    /// A new symmetric KMS key in this moto; returns its id.
    pub async fn kms_key(&self) -> String {
        let kms = aws_sdk_kms::Client::new(&self.sdk_config().await);
        let created = kms
            .create_key()
            .description("bitconn test key")
            .send()
            .await
            .unwrap();
        created.key_metadata().unwrap().key_id().to_owned()
    }

    /// A sealer with a new KMS key of this moto.
    pub async fn kms_sealer(&self) -> bitconn::seal::Sealer {
        let key = bitconn::seal::KmsKey::from_sdk_config(&self.sdk_config().await, self.kms_key().await);
        bitconn::seal::Sealer::with_key(std::sync::Arc::new(key))
    }
}

fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.")
}

impl Drop for Moto {
    fn drop(&mut self) {
        drop(self.launcher.stdin.take());
        let _ = self.launcher.wait();
    }
}

/// A table name no other test uses (moto may be shared by every test of a binary).
pub fn unique_table(purpose: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("test-{purpose}-{}-{n}", std::process::id())
}
