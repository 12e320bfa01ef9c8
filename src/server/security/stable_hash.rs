//! A 64-bit hash that every node and every build computes alike (SHA-256 under `Hash`), with
//! an optional secret prefix so that outsiders cannot aim keys at one another.

use std::hash::{Hash, Hasher};

use sha2::{Digest, Sha256};

pub struct StableHasher(Sha256);

impl StableHasher {
    /// A hasher keyed by `secret` (empty: a plain fingerprint).
    pub fn keyed(secret: &[u8]) -> Self {
        let mut sha = Sha256::new();
        sha.update((secret.len() as u64).to_be_bytes());
        sha.update(secret);
        Self(sha)
    }

    /// `value`'s hash under `secret`.
    pub fn hash_one(secret: &[u8], value: &impl Hash) -> u64 {
        let mut hasher = Self::keyed(secret);
        value.hash(&mut hasher);
        hasher.finish()
    }
}

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_be_bytes(
            digest[..8]
                .try_into()
                .expect("a SHA-256 digest has 32 bytes"),
        )
    }
}
