//! Uses Custos the way an application does: loads `libcustos_pkcs11.so` through the PKCS#11
//! C ABI, logs in, generates keys inside the token and uses them.
//!
//! ```text
//! CUSTOS_STORE=/path/to/store cargo run --release --example quickstart -- \
//!     target/release/libcustos_pkcs11.so 0 1234
//! ```

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let module = args
        .next()
        .unwrap_or_else(|| "target/release/libcustos_pkcs11.so".into());
    let slot_index: usize = args.next().map_or(Ok(0), |s| s.parse())?;
    let pin = args.next().unwrap_or_else(|| "1234".into());

    let p11 = Pkcs11::new(&module)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let info = p11.get_library_info()?;
    println!(
        "loaded {module}: {} {}, PKCS#11 {}",
        info.manufacturer_id(),
        info.library_description(),
        info.cryptoki_version()
    );
    let slots = p11.get_slots_with_token()?;
    let slot = *slots
        .get(slot_index)
        .ok_or("no such slot (is the store unsealed?)")?;
    let token = p11.get_token_info(slot)?;
    println!("slot {}: token '{}'", slot.id(), token.label());

    let session = p11.open_rw_session(slot)?;
    session.login(UserType::User, Some(&AuthPin::new(pin.into())))?;

    // An EC P-256 key pair generated inside the token, kept in the sealed store.
    let p256_oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (public, private) = session.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::EcParams(p256_oid),
            Attribute::Label(b"quickstart-ec".to_vec()),
            Attribute::Id(b"qs1".to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Sign(true),
            Attribute::Label(b"quickstart-ec".to_vec()),
            Attribute::Id(b"qs1".to_vec()),
        ],
    )?;
    let message = b"signed inside the boundary";
    let signature = session.sign(&Mechanism::EcdsaSha256, private, message)?;
    session.verify(&Mechanism::EcdsaSha256, public, message, &signature)?;
    println!(
        "ECDSA P-256 signature ({} bytes) made and verified",
        signature.len()
    );

    // The private key's scalar never leaves the token.
    match session.get_attributes(private, &[AttributeType::Value]) {
        Ok(v) if v.is_empty() => println!("CKA_VALUE of the private key: not readable (sensitive)"),
        Ok(_) => return Err("a sensitive key's value was readable".into()),
        Err(e) => println!("CKA_VALUE of the private key: refused ({e})"),
    }

    // An AES-256 key and authenticated encryption.
    let aes = session.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::ValueLen(32.into()),
            Attribute::Label(b"quickstart-aes".to_vec()),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ],
    )?;
    let mut iv = [0u8; 12];
    session.generate_random_slice(&mut iv)?;
    let gcm = GcmParams::new(&mut iv, b"aad", 128.into())?;
    let ciphertext = session.encrypt(&Mechanism::AesGcm(gcm), aes, b"secret payload")?;
    let gcm = GcmParams::new(&mut iv, b"aad", 128.into())?;
    let plaintext = session.decrypt(&Mechanism::AesGcm(gcm), aes, &ciphertext)?;
    assert_eq!(plaintext, b"secret payload");
    println!(
        "AES-256-GCM round trip ok ({} bytes of ciphertext)",
        ciphertext.len()
    );

    let keys = session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])?;
    println!("the token now holds {} private key(s)", keys.len());
    session.logout()?;
    Ok(())
}
