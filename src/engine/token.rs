//! The sealed token record: label, PIN verifiers and retry counters of one slot's token.

use super::{Error, Result};
use crate::vault::PinVerifier;

const TOKEN_RECORD_VERSION: u16 = 1;

/// What the store keeps about an initialised token.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    /// `CK_TOKEN_INFO.label`, blank padded.
    pub label: [u8; 32],
    /// The SO PIN verifier.
    pub so_pin: PinVerifier,
    /// The user PIN verifier, once `C_InitPIN` has run.
    pub user_pin: Option<PinVerifier>,
    /// Consecutive wrong SO PINs.
    pub so_failures: u32,
    /// Consecutive wrong user PINs.
    pub user_failures: u32,
    /// A random serial number, fixed at `C_InitToken`.
    pub serial: [u8; 8],
}

impl TokenRecord {
    /// Encodes the record (fixed-width little-endian, versioned).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(200);
        out.extend_from_slice(&TOKEN_RECORD_VERSION.to_le_bytes());
        out.extend_from_slice(&self.label);
        out.extend_from_slice(&self.serial);
        out.extend_from_slice(&self.so_failures.to_le_bytes());
        out.extend_from_slice(&self.user_failures.to_le_bytes());
        let so = self.so_pin.to_bytes();
        out.extend_from_slice(&(so.len() as u16).to_le_bytes());
        out.extend_from_slice(&so);
        let user = self
            .user_pin
            .as_ref()
            .map(PinVerifier::to_bytes)
            .unwrap_or_default();
        out.extend_from_slice(&(user.len() as u16).to_le_bytes());
        out.extend_from_slice(&user);
        out
    }

    /// Decodes a record written by [`TokenRecord::encode`].
    pub fn decode(b: &[u8]) -> Result<TokenRecord> {
        let bad = || Error::DeviceError("malformed token record".into());
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = b.get(pos..pos + n).ok_or_else(bad)?;
            pos += n;
            Ok(s)
        };
        let version = u16::from_le_bytes(take(2)?.try_into().map_err(|_| bad())?);
        if version != TOKEN_RECORD_VERSION {
            return Err(bad());
        }
        let label: [u8; 32] = take(32)?.try_into().map_err(|_| bad())?;
        let serial: [u8; 8] = take(8)?.try_into().map_err(|_| bad())?;
        let so_failures = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?);
        let user_failures = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?);
        let so_len = u16::from_le_bytes(take(2)?.try_into().map_err(|_| bad())?) as usize;
        let so_pin = PinVerifier::from_bytes(take(so_len)?).map_err(|_| bad())?;
        let user_len = u16::from_le_bytes(take(2)?.try_into().map_err(|_| bad())?) as usize;
        let user_pin = match user_len {
            0 => None,
            n => Some(PinVerifier::from_bytes(take(n)?).map_err(|_| bad())?),
        };
        if pos != b.len() {
            return Err(bad());
        }
        Ok(TokenRecord {
            label,
            so_pin,
            user_pin,
            so_failures,
            user_failures,
            serial,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let r = TokenRecord {
            label: [b'a'; 32],
            so_pin: PinVerifier::new(b"1234", 10).unwrap(),
            user_pin: Some(PinVerifier::new(b"5678", 10).unwrap()),
            so_failures: 2,
            user_failures: 3,
            serial: [9; 8],
        };
        let enc = r.encode();
        let d = TokenRecord::decode(&enc).unwrap();
        assert_eq!(d.label, r.label);
        assert_eq!(d.so_failures, 2);
        assert_eq!(d.user_failures, 3);
        assert!(d.so_pin.verify(b"1234"));
        assert!(d.user_pin.unwrap().verify(b"5678"));
        for cut in 0..enc.len() {
            assert!(TokenRecord::decode(&enc[..cut]).is_err());
        }
        let mut long = enc.clone();
        long.push(0);
        assert!(TokenRecord::decode(&long).is_err());
    }
}
