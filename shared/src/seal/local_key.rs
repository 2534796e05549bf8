//! The local key-encryption key: 32 random bytes in a key file beside the SQLite store, created with mode 0600.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

use super::envelope::{NONCE_BYTES, decrypt, encrypt};
use super::{DataKey, KEY_BYTES, KeyWrap, SealContext, SealError};

/// First line of a key file, naming its format.
const KEY_FILE_HEADER: &str = "bitconn-seal-key-v1";
/// A key file is a header line and one base64 line; anything longer is not ours.
const MAX_KEY_FILE_BYTES: u64 = 1024;
/// Hex digits of the key's SHA-256 shown in envelopes and errors: enough to tell keys apart, useless to an attacker.
const FINGERPRINT_HEX: usize = 16;
/// Owner read and write only.
#[cfg(unix)]
pub(crate) const PRIVATE_MODE: u32 = 0o600;

/// The key file that goes with an SQLite store: `bitconn.db` → `bitconn.db.key`.
pub fn key_file_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// A key held in memory, loaded from (or created in) a key file, or made up for an in-memory store.
pub struct LocalKey {
    key: Zeroizing<[u8; KEY_BYTES]>,
    name: String,
}

impl LocalKey {
    /// Loads the key in `path`, creating a new random key there (mode 0600, never overwriting) when the file
    /// does not exist. A key file that others may read, or that is not a key file, is refused.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        if path.exists() {
            return Self::load(path);
        }
        let key = Zeroizing::new(rand::random::<[u8; KEY_BYTES]>());
        let text = Zeroizing::new(format!("{KEY_FILE_HEADER}\n{}\n", STANDARD.encode(*key)));
        match publish_new(path, text.as_bytes()) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created a new key file for sealing stored credentials");
                Ok(Self::from_key(key))
            }
            // Another process created it first (`serve` and the CLI starting on a fresh store): use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(SealError::KeyFile {
                path: path.display().to_string(),
                reason: format!("cannot create it: {e}"),
            }),
        }
    }

    fn load(path: &Path) -> Result<Self, SealError> {
        let error = |reason: String| SealError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let metadata = std::fs::metadata(path).map_err(|e| error(e.to_string()))?;
        check_private(&metadata).map_err(error)?;
        if metadata.len() > MAX_KEY_FILE_BYTES {
            return Err(error("not a bitconn key file (too long)".into()));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?);
        let mut lines = text.lines();
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(error(format!(
                "not a bitconn key file (no `{KEY_FILE_HEADER}` line)"
            )));
        }
        let bytes = Zeroizing::new(
            STANDARD
                .decode(lines.next().unwrap_or_default().trim())
                .map_err(|e| error(format!("the key is not base64: {e}")))?,
        );
        let key: [u8; KEY_BYTES] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| error(format!("the key must be {KEY_BYTES} bytes")))?;
        Ok(Self::from_key(Zeroizing::new(key)))
    }

    /// A key that lives as long as the process: for `sqlite::memory:` stores, which keep nothing at rest.
    pub fn ephemeral() -> Self {
        Self::from_key(Zeroizing::new(rand::random()))
    }

    fn from_key(key: Zeroizing<[u8; KEY_BYTES]>) -> Self {
        let digest = Sha256::new_with_prefix(b"bitconn-seal-key-id\0")
            .chain_update(*key)
            .finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            name: format!("local:{}", &hex[..FINGERPRINT_HEX]),
            key,
        }
    }
}

/// Creates `path` holding `contents`, all or nothing: the key is written and synced under a temporary name,
/// then linked into place, which fails if the file exists meanwhile. So a process that finds the file never
/// reads a half-written key, and two processes never end up with different keys. Where hard links are not
/// supported, the file is created in place (exclusive create, then written).
fn publish_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{:016x}.tmp", rand::random::<u64>()));
    let temporary = PathBuf::from(temporary);
    let written = create_new_private(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists && !path.exists() => {
            let mut file = create_new_private(path)?;
            file.write_all(contents)?;
            file.sync_all()
        }
        other => other,
    }
}

#[cfg(unix)]
fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(path)
}

#[cfg(not(unix))]
fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn check_private(metadata: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "others may read it (mode {mode:03o}); make it private with `chmod 600`"
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

#[async_trait]
impl KeyWrap for LocalKey {
    fn key_name(&self) -> &str {
        &self.name
    }

    fn can_open(&self, sealed_with: &str) -> bool {
        sealed_with == self.name
    }

    async fn new_data_key(&self, context: &SealContext<'_>) -> Result<DataKey, SealError> {
        let plaintext = Zeroizing::new(rand::random::<[u8; KEY_BYTES]>());
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let mut wrapped = nonce.to_vec();
        wrapped.extend(encrypt(
            &self.key,
            &nonce,
            &*plaintext,
            &context.associated_data(&self.name),
        )?);
        Ok(DataKey { plaintext, wrapped })
    }

    async fn unwrap_data_key(
        &self,
        wrapped: &[u8],
        context: &SealContext<'_>,
    ) -> Result<Zeroizing<[u8; KEY_BYTES]>, SealError> {
        let (nonce, ciphertext) = wrapped
            .split_first_chunk::<NONCE_BYTES>()
            .ok_or_else(|| SealError::Malformed("wrapped data key too short".into()))?;
        let plain = Zeroizing::new(decrypt(
            &self.key,
            nonce,
            ciphertext,
            &context.associated_data(&self.name),
        )?);
        let key: [u8; KEY_BYTES] = plain
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Malformed("wrapped data key of the wrong size".into()))?;
        Ok(Zeroizing::new(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_created_private_and_read_back_as_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_file_for(&dir.path().join("bitconn.db"));
        assert!(path.ends_with("bitconn.db.key"));
        let created = LocalKey::load_or_create(&path).unwrap();
        let loaded = LocalKey::load_or_create(&path).unwrap();
        assert_eq!(created.key_name(), loaded.key_name());
        assert!(created.key_name().starts_with("local:"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_ne!(LocalKey::ephemeral().key_name(), created.key_name());
    }

    #[test]
    fn processes_creating_the_key_at_once_all_get_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raced.key");
        let names: Vec<String> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| LocalKey::load_or_create(&path).unwrap().key_name().to_owned()))
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert!(names.iter().all(|n| n == &names[0]), "{names:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["raced.key"], "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_or_that_is_not_a_key_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("open.key");
        LocalKey::load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = LocalKey::load_or_create(&path).err().unwrap().to_string();
        assert!(
            error.contains("mode 644") && error.contains("chmod 600"),
            "{error}"
        );

        let garbage = dir.path().join("garbage.key");
        std::fs::write(&garbage, "hello").unwrap();
        std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
        let error = LocalKey::load_or_create(&garbage).err().unwrap().to_string();
        assert!(error.contains("not a bitconn key file"), "{error}");
    }

    #[tokio::test]
    async fn data_keys_unwrap_only_in_their_context_and_with_their_key() {
        let key = LocalKey::ephemeral();
        let context = SealContext {
            record: "w",
            field: "/odoo/api_key",
        };
        let data_key = key.new_data_key(&context).await.unwrap();
        let unwrapped = key.unwrap_data_key(&data_key.wrapped, &context).await.unwrap();
        assert_eq!(*unwrapped, *data_key.plaintext);
        let other = SealContext {
            field: "/x",
            ..context
        };
        assert!(key.unwrap_data_key(&data_key.wrapped, &other).await.is_err());
        assert!(
            LocalKey::ephemeral()
                .unwrap_data_key(&data_key.wrapped, &context)
                .await
                .is_err()
        );
    }
}
