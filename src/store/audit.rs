//! The sealed, hash-chained audit log.
//!
//! Each entry is sealed like a record (AES-256-GCM under the store key) and kept in the
//! `audit` table at its position (1, 2, ...). Its plaintext carries its own sequence number
//! and the digest of the previous entry, and the store's integrity state holds the number of
//! entries and the digest of the last one, updated in the same transaction as the entry. So:
//!
//! - a modified entry fails authentication;
//! - a deleted entry leaves a gap in the positions;
//! - reordered entries show a sequence number that differs from their position, and a broken
//!   chain of digests;
//! - a truncated log is shorter than the sealed count, or ends on a digest other than the
//!   sealed head.
//!
//! The digest of an entry is SHA-256 over `"custos-audit" || previous digest || encoded entry`.
//!
//! Encoding (little-endian): `seq u64 || unix_ms u64 || pid u32 || slot u32 || actor u8 ||
//! result u64 || prev (32) || op (u16 length + UTF-8) || object (u16 + UTF-8) || detail (u16 +
//! UTF-8)`.

use super::error::StoreError;

/// The slot number recorded for store-wide events.
pub const NO_SLOT: u32 = u32::MAX;

/// Record kind used in the seal's authenticated data for audit entries.
pub(crate) const AUDIT_KIND: u16 = 0x4155;

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Actor {
    /// A session not logged in.
    Public = 0,
    /// The normal user.
    User = 1,
    /// The security officer.
    So = 2,
    /// The custodians or the operator of the `custos` tool (store-wide actions).
    Custodian = 3,
}

impl Actor {
    fn from_u8(v: u8) -> Option<Actor> {
        Some(match v {
            0 => Actor::Public,
            1 => Actor::User,
            2 => Actor::So,
            3 => Actor::Custodian,
            _ => return None,
        })
    }

    /// A short name for listings.
    pub fn name(self) -> &'static str {
        match self {
            Actor::Public => "public",
            Actor::User => "user",
            Actor::So => "so",
            Actor::Custodian => "custodian",
        }
    }
}

/// What happened, as recorded by the caller; the store adds the sequence number and the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The process that acted.
    pub pid: u32,
    /// The slot, or [`NO_SLOT`].
    pub slot: u32,
    /// Who acted.
    pub actor: Actor,
    /// The operation, e.g. `C_GenerateKeyPair` or `store.rekey`.
    pub op: String,
    /// The object concerned (its `CKA_UNIQUE_ID`), if any.
    pub object: String,
    /// The PKCS#11 return code of the operation (0 for success).
    pub result: u64,
    /// Free text: the mechanism, a label, a count.
    pub detail: String,
}

impl AuditEvent {
    /// An event of this process, now.
    pub fn now(slot: u32, actor: Actor, op: &str) -> AuditEvent {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        AuditEvent {
            unix_ms,
            pid: std::process::id(),
            slot,
            actor,
            op: op.to_string(),
            object: String::new(),
            result: 0,
            detail: String::new(),
        }
    }

    /// Sets the object.
    pub fn object(mut self, object: impl Into<String>) -> AuditEvent {
        self.object = object.into();
        self
    }

    /// Sets the result code.
    pub fn result(mut self, rv: u64) -> AuditEvent {
        self.result = rv;
        self
    }

    /// Sets the detail text.
    pub fn detail(mut self, detail: impl Into<String>) -> AuditEvent {
        self.detail = detail.into();
        self
    }
}

/// One entry as stored: the event, its position and the digest of the entry before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Sequence number, from 1.
    pub seq: u64,
    /// Digest of the previous entry (zero for the first).
    pub prev: [u8; 32],
    /// What happened.
    pub event: AuditEvent,
}

const MAX_TEXT: usize = 4096;

fn put_text(out: &mut Vec<u8>, s: &str) {
    let mut n = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    let b = &s.as_bytes()[..n];
    // MAX_TEXT fits in u16.
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

impl AuditEntry {
    /// The entry's encoding.
    pub fn encode(&self) -> Vec<u8> {
        let e = &self.event;
        let mut out = Vec::with_capacity(80 + e.op.len() + e.object.len() + e.detail.len());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&e.unix_ms.to_le_bytes());
        out.extend_from_slice(&e.pid.to_le_bytes());
        out.extend_from_slice(&e.slot.to_le_bytes());
        out.push(e.actor as u8);
        out.extend_from_slice(&e.result.to_le_bytes());
        out.extend_from_slice(&self.prev);
        put_text(&mut out, &e.op);
        put_text(&mut out, &e.object);
        put_text(&mut out, &e.detail);
        out
    }

    /// Strict decoding.
    pub fn decode(b: &[u8]) -> Result<AuditEntry, StoreError> {
        let bad = || StoreError::IntegrityFailure("malformed audit entry".into());
        let mut r = Reader { b, at: 0 };
        let seq = r.u64().ok_or_else(bad)?;
        let unix_ms = r.u64().ok_or_else(bad)?;
        let pid = r.u32().ok_or_else(bad)?;
        let slot = r.u32().ok_or_else(bad)?;
        let actor = r
            .take(1)
            .and_then(|a| Actor::from_u8(a[0]))
            .ok_or_else(bad)?;
        let result = r.u64().ok_or_else(bad)?;
        let mut prev = [0u8; 32];
        prev.copy_from_slice(r.take(32).ok_or_else(bad)?);
        let op = r.text().ok_or_else(bad)?;
        let object = r.text().ok_or_else(bad)?;
        let detail = r.text().ok_or_else(bad)?;
        if r.at != b.len() {
            return Err(bad());
        }
        Ok(AuditEntry {
            seq,
            prev,
            event: AuditEvent {
                unix_ms,
                pid,
                slot,
                actor,
                op,
                object,
                result,
                detail,
            },
        })
    }

    /// The digest that the next entry chains to.
    pub fn digest(&self) -> [u8; 32] {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(b"custos-audit");
        ctx.update(&self.prev);
        ctx.update(&self.encode());
        let d = ctx.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_le_bytes(s.try_into().unwrap_or([0; 4])))
    }
    fn text(&mut self) -> Option<String> {
        let n = self
            .take(2)
            .map(|s| usize::from(u16::from_le_bytes([s[0], s[1]])))?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// A defect found by [`super::Store::verify_audit`], naming the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditDefect {
    /// The entry at this position failed authentication (its bytes were changed).
    Modified(u64),
    /// The entry at this position could be read but is not the one that belongs there: it
    /// carries another sequence number (entries were reordered or moved).
    Misplaced {
        /// Where it was found.
        position: u64,
        /// The sequence number it carries.
        seq: u64,
    },
    /// The entry at this position does not chain to the entry before it (an entry was
    /// replaced or inserted).
    ChainBroken(u64),
    /// The entry with this sequence number is missing (deleted).
    Missing(u64),
    /// The log ends early: the sealed state counts more entries than there are.
    Truncated {
        /// Entries present.
        present: u64,
        /// Entries the sealed state counts.
        sealed: u64,
    },
    /// The last entry is not the one the sealed state ends on.
    HeadMismatch,
    /// There are entries beyond the sealed count.
    Extra(u64),
}

impl std::fmt::Display for AuditDefect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditDefect::Modified(n) => write!(f, "entry {n} was modified (fails authentication)"),
            AuditDefect::Misplaced { position, seq } => write!(
                f,
                "entry {seq} was found at position {position}: entries were reordered"
            ),
            AuditDefect::ChainBroken(n) => {
                write!(
                    f,
                    "entry {n} does not chain to entry {}",
                    n.saturating_sub(1)
                )
            }
            AuditDefect::Missing(n) => write!(f, "entry {n} is missing (deleted)"),
            AuditDefect::Truncated { present, sealed } => write!(
                f,
                "the log was truncated: {present} entries present, {sealed} recorded"
            ),
            AuditDefect::HeadMismatch => {
                write!(f, "the last entry is not the one the store recorded last")
            }
            AuditDefect::Extra(n) => write!(f, "entry {n} is beyond the recorded end of the log"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            seq: 7,
            prev: [9; 32],
            event: AuditEvent::now(2, Actor::So, "C_InitPIN")
                .object("abcd")
                .result(0xA0)
                .detail("detail"),
        }
    }

    #[test]
    fn round_trip_and_strict_decoding() {
        let e = entry();
        let enc = e.encode();
        assert_eq!(AuditEntry::decode(&enc).unwrap(), e);
        for n in 0..enc.len() {
            assert!(AuditEntry::decode(&enc[..n]).is_err(), "prefix {n}");
        }
        let mut longer = enc.clone();
        longer.push(0);
        assert!(AuditEntry::decode(&longer).is_err());
        let mut bad_actor = enc.clone();
        bad_actor[24] = 9;
        assert!(AuditEntry::decode(&bad_actor).is_err());
    }

    #[test]
    fn digest_covers_every_field_and_the_chain() {
        let e = entry();
        let d = e.digest();
        let mut other = e.clone();
        other.prev[0] ^= 1;
        assert_ne!(other.digest(), d);
        let mut other = e.clone();
        other.event.result = 0;
        assert_ne!(other.digest(), d);
        let mut other = e;
        other.event.detail.push('x');
        assert_ne!(other.digest(), d);
    }

    #[test]
    fn long_text_is_capped() {
        let mut e = entry();
        e.event.detail = "x".repeat(MAX_TEXT + 10);
        let back = AuditEntry::decode(&e.encode()).unwrap();
        assert_eq!(back.event.detail.len(), MAX_TEXT);
        // Cut on a character boundary, never inside one.
        e.event.detail = format!("x{}", "é".repeat(MAX_TEXT));
        let back = AuditEntry::decode(&e.encode()).unwrap();
        assert_eq!(back.event.detail.len(), MAX_TEXT - 1);
    }
}
