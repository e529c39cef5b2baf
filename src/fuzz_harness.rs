//! Entry points shared by the fuzz targets and the corpus replay test.
//!
//! Each function takes arbitrary bytes, must not panic on any input other than through one of its
//! own invariant checks, and returns whether the input was accepted by the parser under test (the
//! replay test uses that to keep the seed corpus meaningful). An `assert!` failing here is a bug in
//! the code under test, not in the harness.

use std::path::Path;

use crate::config::Config;
use crate::engine::Error;
use crate::mechanism::{self, Kind, RawParam, MECHANISMS};
use crate::object::Attributes;
use crate::store::StoreHeader;
use crate::vault::Share;

/// Decodes an encoded attribute map; an accepted map must re-encode to the same length, decode
/// back to itself, and encode identically a second time.
pub fn attributes(data: &[u8]) -> bool {
    let Ok(attrs) = Attributes::decode(data) else {
        return false;
    };
    let enc = attrs.encode();
    // Decoding is strict (no trailing bytes, no duplicates, fixed-size values), so only the
    // attribute order may differ from the input.
    assert_eq!(enc.len(), data.len(), "re-encoding changed the length");
    assert_eq!(attrs.encoded_len(), enc.len(), "encoded_len disagrees");
    let again = Attributes::decode(&enc).expect("re-encoded attributes must decode");
    assert_eq!(again, attrs, "decode(encode(x)) != x");
    assert_eq!(again.encode(), enc, "encoding is not stable");
    assert_eq!(again.len(), attrs.len());
    true
}

/// Parses a share text; an accepted share must survive a round trip through its text form with
/// every public field and its commitment unchanged.
pub fn share_text(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(share) = Share::parse(text) else {
        return false;
    };
    assert!(share.index() >= 1 && share.index() <= share.total());
    assert!(share.threshold() >= 1 && share.threshold() <= share.total());
    let out = share.to_text();
    let again = Share::parse(&out).expect("to_text output must parse");
    assert_eq!(again.index(), share.index());
    assert_eq!(again.threshold(), share.threshold());
    assert_eq!(again.total(), share.total());
    assert_eq!(again.store_id(), share.store_id());
    assert_eq!(again.commitment(), share.commitment());
    assert_eq!(*again.to_text(), *out, "share text is not stable");
    true
}

/// Parses a configuration file's text, without and with a base directory; both must agree on
/// acceptance, and an accepted configuration must hold values in their documented ranges.
pub fn config_text(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let plain = Config::parse(text, None);
    let based = Config::parse(text, Some(Path::new("/fuzz/base")));
    assert_eq!(
        plain.is_ok(),
        based.is_ok(),
        "a base directory changed whether the text parses"
    );
    let (Ok(plain), Ok(based)) = (plain, based) else {
        return false;
    };
    assert!((1..=255).contains(&plain.max_pin_failures));
    assert!(plain.pin_iterations >= 1);
    assert_eq!(plain.max_pin_failures, based.max_pin_failures);
    assert_eq!(plain.pin_iterations, based.pin_iterations);
    assert_eq!(plain.shares_env, based.shares_env);
    assert_eq!(plain.shares.len(), based.shares.len());
    assert!(based.store.is_absolute(), "store not made absolute");
    assert!(based.shares.iter().all(|s| s.is_absolute()));
    true
}

/// Decodes a store header; the layout is fixed, so an accepted header must encode back to
/// exactly the input and decode to itself.
pub fn store_header(data: &[u8]) -> bool {
    let Ok(header) = StoreHeader::decode(data) else {
        return false;
    };
    let enc = header.encode().expect("a decoded header must be encodable");
    assert_eq!(enc, data, "re-encoding a header changed its bytes");
    let again = StoreHeader::decode(&enc).expect("re-encoded header must decode");
    assert_eq!(again, header);
    true
}

/// Reads fixed-width fields from fuzz input, yielding zeros once the input runs out.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        b.iter_mut().for_each(|x| *x = self.u8());
        u64::from_le_bytes(b)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
}

/// Builds a mechanism type and raw parameters from the bytes and parses them.
///
/// Layout: byte 0 picks the type (below 0x80: a row of [`MECHANISMS`], modulo its length;
/// otherwise the next 8 bytes are an arbitrary little-endian type). The next byte picks the
/// parameter shape modulo 4: none; bytes (the rest); GCM (`iv_len` u16 modulo 512, `iv_bits` u64,
/// `tag_bits` u64, the IV, then the rest as AAD); PSS (`hash`, `mgf`, `salt_len`, each u64).
/// An accepted mechanism must report the requested type and carry the given parameters.
pub fn mechanism_params(data: &[u8]) -> bool {
    let mut r = Bytes(data);
    let pick = r.u8();
    let ty = if pick < 0x80 {
        MECHANISMS[usize::from(pick) % MECHANISMS.len()].ty
    } else {
        r.u64()
    };
    let param = match r.u8() % 4 {
        0 => RawParam::None,
        1 => RawParam::Bytes(r.rest().to_vec()),
        2 => {
            let iv_len = usize::from(r.u16() % 512);
            let iv_bits = r.u64();
            let tag_bits = r.u64();
            let iv = r.take(iv_len).to_vec();
            RawParam::Gcm {
                iv,
                iv_bits,
                aad: r.rest().to_vec(),
                tag_bits,
            }
        }
        _ => RawParam::Pss {
            hash: r.u64(),
            mgf: r.u64(),
            salt_len: r.u64(),
        },
    };
    let result = mechanism::parse(ty, param.clone());
    let known = mechanism::info(ty).is_some();
    let m = match result {
        Ok(m) => m,
        Err(e) => {
            if !known {
                assert_eq!(e, Error::MechanismInvalid, "unknown type {ty:#x}");
            }
            return false;
        }
    };
    assert!(known, "unknown type {ty:#x} accepted");
    assert_eq!(m.ck_type(), ty, "parsed {m:?} for requested {ty:#x}");
    match (&m.kind, &param) {
        (Kind::AesCbcPad(iv), RawParam::Bytes(b)) => assert_eq!(&iv[..], &b[..]),
        (
            Kind::AesGcm(g),
            RawParam::Gcm {
                iv, aad, tag_bits, ..
            },
        ) => {
            assert_eq!(&g.iv, iv);
            assert_eq!(&g.aad, aad);
            assert_eq!(g.tag_bits, *tag_bits);
            assert!((1..=crate::crypto::aes::GCM_MAX_IV_LEN).contains(&g.iv.len()));
        }
        (Kind::RsaPss(p) | Kind::RsaPssWith(p), RawParam::Pss { salt_len, .. }) => {
            assert_eq!(p.salt_len as u64, *salt_len);
        }
        (Kind::AesCbcPad(_) | Kind::AesGcm(_), _) | (Kind::RsaPss(_) | Kind::RsaPssWith(_), _) => {
            panic!("{m:?} accepted from mismatched parameters {param:?}")
        }
        (_, RawParam::None) => {}
        (_, _) => panic!("{m:?} accepted with unexpected parameters {param:?}"),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_empty_inputs_are_rejected_without_panicking() {
        for f in [
            attributes,
            share_text,
            config_text,
            store_header,
            mechanism_params,
        ] {
            let _ = f(&[]);
            let _ = f(&[0xff]);
            let _ = f(&[0; 3]);
        }
        assert!(!attributes(&[]));
        assert!(!store_header(&[]));
    }

    #[test]
    fn mechanism_params_accepts_a_plain_digest() {
        // Row 0 (SHA-256), shape 0 (no parameter).
        assert!(mechanism_params(&[0, 0]));
        // Arbitrary unknown type.
        assert!(!mechanism_params(&[0x80, 1, 2, 3, 4, 5, 6, 7, 0x7f, 0]));
    }
}
