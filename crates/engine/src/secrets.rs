//! Secrets at rest.
//!
//! The ConnectWise private key and the Sophos client secret are stored encrypted with
//! XChaCha20-Poly1305 under a 32-byte master key. Each value gets its own random 24-byte nonce and
//! associated data naming where it lives (`table/row/column`), so a ciphertext copied into another row
//! does not decrypt. The master key comes from `CENTRALBRIDGE_MASTER_KEY` (base64) or from a key file
//! that is created with mode 0600 on first use.
//!
//! Stored layout of one value: `version (1 byte) || nonce (24 bytes) || ciphertext+tag`.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

pub use secrecy::{ExposeSecret, SecretString};

/// Environment variable holding the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "CENTRALBRIDGE_MASTER_KEY";

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Errors about the master key and encrypted values. Each message names the problem and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "{MASTER_KEY_ENV} is not a valid master key: it must be 32 random bytes encoded in base64 \
         (44 characters). Fix: set it to the key this installation was set up with, or generate a new \
         one with `head -c 32 /dev/urandom | base64` before any secret is stored"
    )]
    /// `CENTRALBRIDGE_MASTER_KEY` is set but is not 32 bytes of base64.
    BadEnvKey,
    #[error(
        "the master key file {path} is not valid: it must hold 32 random bytes encoded in base64. \
         Fix: restore the file from your backup; if it is lost, delete it and re-run `centralbridge \
         connect` to store the credentials again"
    )]
    /// The key file exists but does not hold 32 bytes of base64.
    BadKeyFile {
        /// The key file.
        path: PathBuf,
    },
    #[error(
        "cannot read the master key file {path}: {source}. Fix: check the file's permissions, or set \
         {MASTER_KEY_ENV} instead"
    )]
    /// The key file exists but cannot be read.
    ReadKeyFile {
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    #[error(
        "cannot create the master key file {path}: {source}. Fix: make its directory writable, choose \
         another place with `[secrets] key_file`, or set {MASTER_KEY_ENV}"
    )]
    /// A new key file (mode 0600) cannot be created or written.
    WriteKeyFile {
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    #[error(
        "the master key does not match the one these secrets were stored with, so they cannot be \
         decrypted. Fix: restore the original key ({MASTER_KEY_ENV} or the key file from your backup), \
         or re-run `centralbridge connect` to store the credentials again under the current key"
    )]
    /// A value does not decrypt: wrong key, wrong associated data, or a damaged value.
    WrongKey,
    #[error("the operating system's random number generator failed: {0}")]
    /// The OS random number generator failed (key or nonce generation); the text is its error.
    Random(String),
}

/// The 32-byte key that encrypts secrets at rest. Cheap to clone; never printed.
#[derive(Clone)]
pub struct MasterKey(Arc<Zeroizing<[u8; 32]>>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

/// Where a master key came from, so the caller can persist a new one only once the store accepted it.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// From `CENTRALBRIDGE_MASTER_KEY`.
    Env,
    /// Read from an existing key file.
    File(PathBuf),
    /// Freshly generated; not yet written. Call [`MasterKey::persist`] to create the file.
    New(PathBuf),
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(Self(Arc::new(bytes)))
    }

    /// A key from raw bytes (tests, and keys decoded elsewhere).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Arc::new(Zeroizing::new(bytes)))
    }

    /// Decodes a base64 key (surrounding whitespace ignored). `None` if it is not 32 bytes of base64.
    pub fn from_base64(text: &str) -> Option<Self> {
        let decoded = Zeroizing::new(B64.decode(text.trim()).ok()?);
        let bytes: [u8; 32] = decoded.as_slice().try_into().ok()?;
        Some(Self::from_bytes(bytes))
    }

    /// The key as base64, for writing a key file or printing it once on request.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(B64.encode(self.0.as_slice()))
    }

    /// Resolves the master key without writing anything: `env_value` (the value of
    /// `CENTRALBRIDGE_MASTER_KEY`, if set) wins; otherwise the key file at `key_file` is read; if it does
    /// not exist a new key is generated and returned as [`KeySource::New`].
    pub fn resolve(
        env_value: Option<&str>,
        key_file: &Path,
    ) -> Result<(Self, KeySource), SecretError> {
        if let Some(value) = env_value {
            let key = Self::from_base64(value).ok_or(SecretError::BadEnvKey)?;
            return Ok((key, KeySource::Env));
        }
        match std::fs::read_to_string(key_file) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let key = Self::from_base64(&text).ok_or_else(|| SecretError::BadKeyFile {
                    path: key_file.to_path_buf(),
                })?;
                warn_if_readable_by_others(key_file);
                Ok((key, KeySource::File(key_file.to_path_buf())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((Self::generate()?, KeySource::New(key_file.to_path_buf())))
            }
            Err(source) => Err(SecretError::ReadKeyFile {
                path: key_file.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the key to `path` with mode 0600, creating the parent directory. Refuses to overwrite an
    /// existing file, so a key can never be silently replaced.
    pub fn persist(&self, path: &Path) -> Result<(), SecretError> {
        let err = |source| SecretError::WriteKeyFile {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(err)?;
        let encoded = self.to_base64();
        file.write_all(encoded.expose_secret().as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(err)?;
        Ok(())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.0.as_slice()))
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the master key file can be read by other users; run `chmod 600` on it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Associated data for a value stored at `table/row/column`.
pub fn aad(table: &str, row: &str, column: &str) -> String {
    format!("{table}/{row}/{column}")
}

/// Encrypts `plaintext` bound to `aad` (see [`aad`]).
pub fn encrypt(key: &MasterKey, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, SecretError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| SecretError::Random(e.to_string()))?;
    let ciphertext = key
        .cipher()
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: aad.as_bytes(),
            },
        )
        // Encryption only fails for absurd lengths (> 256 GiB); report it like a bad key rather than panic.
        .map_err(|_| SecretError::WrongKey)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Decrypts a value made by [`encrypt`] with the same `aad`. A wrong key, a wrong `aad` or a tampered
/// value all give [`SecretError::WrongKey`], never garbage.
pub fn decrypt(
    key: &MasterKey,
    stored: &[u8],
    aad: &str,
) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    if stored.len() < 1 + NONCE_LEN + TAG_LEN || stored[0] != VERSION {
        return Err(SecretError::WrongKey);
    }
    let (nonce, ciphertext) = stored[1..].split_at(NONCE_LEN);
    key.cipher()
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SecretError::WrongKey)
}

/// Encrypts a secret string.
pub fn encrypt_secret(
    key: &MasterKey,
    secret: &SecretString,
    aad: &str,
) -> Result<Vec<u8>, SecretError> {
    encrypt(key, secret.expose_secret().as_bytes(), aad)
}

/// Decrypts a secret string.
pub fn decrypt_secret(
    key: &MasterKey,
    stored: &[u8],
    aad: &str,
) -> Result<SecretString, SecretError> {
    let bytes = decrypt(key, stored, aad)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| SecretError::WrongKey)?;
    Ok(SecretString::from(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key_or_aad_fail_cleanly() {
        let key = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let stored = encrypt(&key, b"hunter2-private-key", "connections/sophos/secret").unwrap();
        assert!(!stored.windows(7).any(|w| w == b"hunter2"));
        let plain = decrypt(&key, &stored, "connections/sophos/secret").unwrap();
        assert_eq!(plain.as_slice(), b"hunter2-private-key");
        assert!(matches!(
            decrypt(&other, &stored, "connections/sophos/secret"),
            Err(SecretError::WrongKey)
        ));
        assert!(matches!(
            decrypt(&key, &stored, "connections/connectwise/secret"),
            Err(SecretError::WrongKey)
        ));
        assert!(matches!(
            decrypt(&key, &stored[..10], "x"),
            Err(SecretError::WrongKey)
        ));
    }

    #[test]
    fn nonces_differ_per_value() {
        let key = MasterKey::generate().unwrap();
        let a = encrypt(&key, b"same", "t/r/c").unwrap();
        let b = encrypt(&key, b"same", "t/r/c").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn debug_never_prints_the_key() {
        let key = MasterKey::from_bytes([7u8; 32]);
        let encoded = key.to_base64().expose_secret().to_owned();
        let shown = format!("{key:?} {:?}", key.to_base64());
        assert!(!shown.contains(&encoded), "{shown}");
    }

    #[test]
    fn key_file_is_created_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let (key, source) = MasterKey::resolve(None, &path).unwrap();
        assert!(matches!(source, KeySource::New(_)));
        assert!(!path.exists(), "resolve must not write");
        key.persist(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = MasterKey::resolve(None, &path).unwrap();
        assert!(matches!(source, KeySource::File(_)));
        let stored = encrypt(&key, b"x", "a/b/c").unwrap();
        assert_eq!(decrypt(&again, &stored, "a/b/c").unwrap().as_slice(), b"x");
        assert!(key.persist(&path).is_err(), "must not overwrite a key file");
    }

    #[test]
    fn bad_env_and_bad_file_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let err = MasterKey::resolve(Some("not-base64!"), &path).unwrap_err();
        assert!(err.to_string().contains(MASTER_KEY_ENV));
        std::fs::write(&path, "c2hvcnQ=\n").unwrap();
        let err = MasterKey::resolve(None, &path).unwrap_err();
        assert!(matches!(err, SecretError::BadKeyFile { .. }));
    }
}
