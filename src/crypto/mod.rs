//! Cryptographic backend for the PKCS#11 engine.
//!
//! Every function here takes key material in the byte formats PKCS#11 stores
//! in attributes (big-endian integers for RSA components, fixed-width scalars
//! and uncompressed points for EC) and returns plain byte vectors. The
//! primitives come from AWS-LC: through the safe `aws-lc-rs` API where it
//! covers the need, and through `aws-lc-sys` (wrapped here in owning types
//! that free every AWS-LC object on drop) where it does not.
//!
//! Nothing in this module panics on caller-supplied input; every failure is a
//! [`CryptoError`].
#![allow(unsafe_code)]

pub mod aes;
pub mod aes_modes;
pub mod cmac;
pub mod digest;
pub mod ec;
pub mod edwards;
pub mod error;
mod ffi;
pub mod kdf;
pub mod keywrap;
pub mod mac;
pub mod pkcs8;
pub mod rand;
pub mod rsa;
pub mod rsa_enc;
pub mod secmem;

pub use error::CryptoError;

pub use aes::{gcm_decrypt, gcm_encrypt, generate_key as aes_generate_key, CbcPad};
pub use digest::{digest, HashAlg, Hasher};
pub use ec::{ec_generate, Curve, EcPrivateKey, EcPublicKey};
pub use rand::fill_random;
pub use rsa::{generate as rsa_generate, RsaComponents, RsaPrivateKey, RsaPublicKey};
