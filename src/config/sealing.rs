//! Tenant secrets at rest: every [`Secret`](super::tenant::Secret) a tenant row stores is
//! sealed with XChaCha20-Poly1305 under the master key, as
//! `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
//!
//! The keyring is process-wide, like the log subscriber and the metrics recorder: the key
//! must reach serde (a `Secret` seals itself when serialized and opens when deserialized),
//! so every store path, on both backends, is covered without passing it by hand, and a
//! new path cannot forget it. A process holds one set of master keys; several installs
//! (tests) add keys and never drop one, so a value sealed earlier stays readable.
//!
//! Key material (`ATENDE_MASTER_KEY`, or the file `secrets.master_key_file` /
//! `ATENDE_MASTER_KEY_FILE`) is one key per line (or comma-separated), each 32 bytes as 64
//! hex characters or base64; the first key seals, all of them open. A key's id is derived
//! from the key, so nothing else needs storing beside the file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// The prefix of a sealed value.
pub const SEALED_PREFIX: &str = "enc:v1:";
const AAD: &[u8] = b"atende/tenant-secret/v1";
const NONCE_LEN: usize = 24;

/// One master key and its id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
    bytes: [u8; 32],
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self::from_bytes(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        let digest = Sha256::new_with_prefix(b"atende-master-key-id").chain_update(bytes).finalize();
        Self { id: hex::encode(&digest[..4]), cipher: XChaCha20Poly1305::new(&bytes.into()), bytes }
    }

    /// Parses 64 hex characters or base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| KeyError::Format)?
        } else {
            STANDARD.decode(text).or_else(|_| URL_SAFE_NO_PAD.decode(text)).map_err(|_| KeyError::Format)?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Format)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key's id (8 hex characters), stored beside each value it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as 64 hex characters, for the key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

/// Key material that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not 32 bytes in hex or base64.
    #[error(
        "a master key must be 32 bytes written as 64 hex characters or base64 (generate one: openssl rand -hex 32)"
    )]
    Format,
    /// Nothing in the variable or the file.
    #[error("no master key in it")]
    Empty,
}

/// A sealed value that cannot be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed under a key this process does not have.
    #[error(
        "a tenant secret is encrypted with master key {0}, which this process does not have: set ATENDE_MASTER_KEY or ATENDE_MASTER_KEY_FILE (secrets.master_key_file) to the key file the database was written with"
    )]
    UnknownKey(String),
    /// Tampered, truncated or not ours.
    #[error(
        "a tenant secret encrypted with master key {0} fails authentication (the value was altered or the key is wrong)"
    )]
    Corrupt(String),
}

/// Parses key material: one key per line or comma-separated; blank lines and `#` comments
/// are skipped.
pub fn parse_keys(text: &str) -> Result<Vec<MasterKey>, KeyError> {
    let keys = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(MasterKey::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() { Err(KeyError::Empty) } else { Ok(keys) }
}

#[derive(Default)]
struct Keyring {
    /// Seals with the first; opens with any.
    keys: Vec<MasterKey>,
    /// Re-read when a value names a key not held, or before sealing when it changed:
    /// `atende secrets rotate-master` reaches running processes without a restart.
    file: Option<(PathBuf, Option<SystemTime>)>,
}

static KEYRING: RwLock<Option<Keyring>> = RwLock::new(None);

/// Makes `keys` this process's master keys (the first seals), adding to any installed
/// before; `file` is where they came from, watched for rotation.
pub fn install(keys: Vec<MasterKey>, file: Option<&Path>) {
    let mut ring = KEYRING.write().unwrap_or_else(PoisonError::into_inner);
    let ring = ring.get_or_insert_with(Keyring::default);
    let mut merged = keys;
    for old in ring.keys.drain(..) {
        if !merged.iter().any(|k| k.id == old.id) {
            merged.push(old);
        }
    }
    ring.keys = merged;
    if let Some(path) = file {
        ring.file = Some((path.to_path_buf(), modified(path)));
    }
}

/// Whether a master key is installed (values are sealed when stored).
pub fn is_installed() -> bool {
    KEYRING.read().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(|r| !r.keys.is_empty())
}

/// The id of the key that seals, when one is installed.
pub fn current_key_id() -> Option<String> {
    KEYRING.read().unwrap_or_else(PoisonError::into_inner).as_ref().and_then(|r| r.keys.first()).map(|k| k.id.clone())
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Re-reads the key file when it changed (or unconditionally with `force`); keys read are
/// added in front. A file that became unreadable keeps the keys already held.
fn reload(force: bool) {
    let Some((path, seen)) =
        KEYRING.read().unwrap_or_else(PoisonError::into_inner).as_ref().and_then(|r| r.file.clone())
    else {
        return;
    };
    let now = modified(&path);
    if !force && now == seen {
        return;
    }
    if let Ok(keys) = std::fs::read_to_string(&path).map_err(|_| KeyError::Empty).and_then(|t| parse_keys(&t)) {
        install(keys, Some(&path));
    }
}

/// Seals `plain` under the current key; `None` when no key is installed (stored as is).
pub fn seal(plain: &str) -> Option<String> {
    reload(false);
    let ring = KEYRING.read().unwrap_or_else(PoisonError::into_inner);
    let key = ring.as_ref()?.keys.first()?;
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = key
        .cipher
        .encrypt(&nonce, Payload { msg: plain.as_bytes(), aad: AAD })
        .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&sealed);
    Some(format!("{SEALED_PREFIX}{}:{}", key.id, URL_SAFE_NO_PAD.encode(blob)))
}

/// The key id a sealed value names; `None` for a plain value.
pub fn sealed_key_id(value: &str) -> Option<&str> {
    value.strip_prefix(SEALED_PREFIX)?.split_once(':').map(|(id, _)| id)
}

/// Opens a value written by [`seal`]; a plain value is returned as is.
pub fn open(value: &str) -> Result<String, OpenError> {
    let Some(rest) = value.strip_prefix(SEALED_PREFIX) else { return Ok(value.to_string()) };
    let (id, blob) = rest.split_once(':').unwrap_or((rest, ""));
    let corrupt = || OpenError::Corrupt(id.to_string());
    let key = match find(id) {
        Some(key) => key,
        None => {
            reload(true);
            find(id).ok_or_else(|| OpenError::UnknownKey(id.to_string()))?
        }
    };
    let blob = URL_SAFE_NO_PAD.decode(blob).map_err(|_| corrupt())?;
    if blob.len() < NONCE_LEN {
        return Err(corrupt());
    }
    let (nonce, sealed) = blob.split_at(NONCE_LEN);
    let plain =
        key.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: AAD }).map_err(|_| corrupt())?;
    String::from_utf8(plain).map_err(|_| corrupt())
}

fn find(id: &str) -> Option<MasterKey> {
    let ring = KEYRING.read().unwrap_or_else(PoisonError::into_inner);
    ring.as_ref()?.keys.iter().find(|k| k.id == id).cloned()
}

/// Where a process's master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `ATENDE_MASTER_KEY`.
    Env,
    /// A key file.
    File(PathBuf),
}

/// Reads the master keys: `ATENDE_MASTER_KEY` when set, else the key file when it exists.
/// `Ok(None)`: no key yet (the caller may generate one into `file`).
pub fn read_keys(env_key: Option<&str>, file: &Path) -> Result<Option<(Vec<MasterKey>, KeySource)>, String> {
    if let Some(text) = env_key.filter(|t| !t.trim().is_empty()) {
        let keys = parse_keys(text).map_err(|e| format!("ATENDE_MASTER_KEY: {e}"))?;
        return Ok(Some((keys, KeySource::Env)));
    }
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let keys = parse_keys(&text)
                .map_err(|e| format!("{} (ATENDE_MASTER_KEY_FILE / secrets.master_key_file): {e}", file.display()))?;
            Ok(Some((keys, KeySource::File(file.to_path_buf()))))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("cannot read the master key file {}: {err}", file.display())),
    }
}

/// Writes `keys` to `path` (one per line, the sealing key first) with permissions 0600,
/// replacing it atomically. `create_new` refuses to replace an existing file.
pub fn write_key_file(path: &Path, keys: &[MasterKey], create_new: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut text = String::from("# Atende master keys: the first encrypts, all decrypt. Keep this file secret.\n");
    for key in keys {
        text.push_str(&key.to_hex());
        text.push('\n');
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // A name of its own per writer: two first starts must not write into one temporary file.
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("atende.key");
    let tmp = dir.join(format!(".{name}.{}.{:016x}.tmp", std::process::id(), rand::random::<u64>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    if create_new {
        // hard_link fails when `path` exists: two first starts cannot overwrite each other.
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        linked
    } else {
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_or_base64_and_bad_material_names_the_format() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let a = MasterKey::parse(hex_key).unwrap();
        let b = MasterKey::parse(&STANDARD.encode(hex::decode(hex_key).unwrap())).unwrap();
        assert_eq!((a.id(), a.id().len()), (b.id(), 8));
        assert_eq!(a.to_hex(), hex_key);
        assert_eq!(MasterKey::parse("short").unwrap_err(), KeyError::Format);
        assert_eq!(MasterKey::parse(&"ab".repeat(31)).unwrap_err(), KeyError::Format);
        let two = parse_keys(&format!("# comment\n{hex_key}\n\n{}, {}\n", MasterKey::generate().to_hex(), hex_key));
        assert_eq!(two.unwrap().len(), 3);
        assert_eq!(parse_keys("# nothing\n\n").unwrap_err(), KeyError::Empty);
        assert!(!format!("{a:?}").contains(hex_key));
    }

    // The keyring is process-wide, so one test covers sealing, rotation and tampering.
    #[test]
    fn values_seal_open_survive_rotation_and_refuse_tampering_or_unknown_keys() {
        let first = MasterKey::generate();
        install(vec![first.clone()], None);
        let sealed = seal("whaticket-token-123").unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX) && !sealed.contains("whaticket-token-123"), "{sealed}");
        assert_eq!(sealed_key_id(&sealed), Some(first.id()));
        assert_ne!(seal("whaticket-token-123").unwrap(), sealed, "a fresh nonce per value");
        assert_eq!(open(&sealed).unwrap(), "whaticket-token-123");
        assert_eq!(open("plain value").unwrap(), "plain value");

        let second = MasterKey::generate();
        install(vec![second.clone()], None);
        assert_eq!(sealed_key_id(&seal("x").unwrap()), Some(second.id()), "the newest key seals");
        assert_eq!(open(&sealed).unwrap(), "whaticket-token-123", "older keys still open");

        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(open(&tampered).unwrap_err(), OpenError::Corrupt(first.id().to_string()));
        assert_eq!(open("enc:v1:deadbeef:AAAA").unwrap_err(), OpenError::UnknownKey("deadbeef".into()));
        assert!(OpenError::UnknownKey("deadbeef".into()).to_string().contains("ATENDE_MASTER_KEY"));
    }

    #[test]
    fn the_key_file_is_private_is_not_overwritten_on_create_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atende.key");
        assert!(read_keys(None, &path).unwrap().is_none());
        let key = MasterKey::generate();
        write_key_file(&path, std::slice::from_ref(&key), true).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(write_key_file(&path, &[MasterKey::generate()], true).is_err(), "an existing key is kept");
        let (keys, source) = read_keys(None, &path).unwrap().unwrap();
        assert_eq!((keys[0].id(), source), (key.id(), KeySource::File(path.clone())));
        let (keys, source) = read_keys(Some(&MasterKey::generate().to_hex()), &path).unwrap().unwrap();
        assert_ne!(keys[0].id(), key.id(), "the variable wins over the file");
        assert_eq!(source, KeySource::Env);
        assert!(read_keys(Some("nope"), &path).unwrap_err().contains("ATENDE_MASTER_KEY"));
    }
}
