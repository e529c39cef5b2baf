use super::*;

#[test]
fn table_has_no_duplicates() {
    for (i, a) in MECHANISMS.iter().enumerate() {
        assert!(
            MECHANISMS[i + 1..].iter().all(|b| b.ty != a.ty),
            "duplicate mechanism {:#x}",
            a.ty
        );
        assert!(a.min_key <= a.max_key, "{:#x}", a.ty);
        assert_ne!(a.flags, 0, "{:#x} has no function flags", a.ty);
    }
}

#[test]
fn every_row_parses_or_needs_params() {
    for m in MECHANISMS {
        let r = parse(m.ty, RawParam::None);
        match m.param {
            ParamShape::None | ParamShape::OptionalIv | ParamShape::Eddsa => {
                assert_eq!(r.unwrap().ck_type(), m.ty)
            }
            _ => assert_eq!(r, Err(Error::MechanismParamInvalid), "{:#x}", m.ty),
        }
    }
}

#[test]
fn unknown_mechanism_is_invalid_and_legacy_kwp_is_an_alias() {
    assert_eq!(
        parse(CKM_DES3_CBC, RawParam::None),
        Err(Error::MechanismInvalid)
    );
    let m = parse(CKM_AES_KEY_WRAP_KWP_LEGACY, RawParam::None).unwrap();
    assert_eq!(m.kind, Kind::AesKeyWrapPad);
    assert_eq!(m.ty, CKM_AES_KEY_WRAP_KWP_LEGACY);
}

#[test]
fn gcm_params_are_checked() {
    let ok = RawParam::Gcm {
        iv: vec![0; 12],
        iv_bits: 96,
        aad: vec![],
        tag_bits: 128,
    };
    assert!(matches!(
        parse(CKM_AES_GCM, ok).unwrap().kind,
        Kind::AesGcm(_)
    ));
    for (iv, bits, tag) in [
        (0usize, 0u64, 128u64),
        (12, 95, 128),
        (12, 0, 127),
        (65537, 0, 128),
    ] {
        let p = RawParam::Gcm {
            iv: vec![0; iv],
            iv_bits: bits,
            aad: vec![],
            tag_bits: tag,
        };
        assert_eq!(parse(CKM_AES_GCM, p), Err(Error::MechanismParamInvalid));
    }
}

#[test]
fn pss_params_must_match_the_mechanism_hash() {
    let p = |h| RawParam::Pss {
        hash: h,
        mgf: CKG_MGF1_SHA256,
        salt_len: 32,
    };
    assert!(parse(CKM_SHA256_RSA_PKCS_PSS, p(CKM_SHA256)).is_ok());
    assert!(parse(CKM_SHA3_384_RSA_PKCS_PSS, p(CKM_SHA3_384)).is_ok());
    assert_eq!(
        parse(CKM_SHA256_RSA_PKCS_PSS, p(CKM_SHA384)),
        Err(Error::MechanismParamInvalid)
    );
    assert!(parse(CKM_RSA_PKCS_PSS, p(CKM_SHA384)).is_ok());
    assert_eq!(
        parse(CKM_RSA_PKCS_PSS, p(CKM_MD5)),
        Err(Error::MechanismParamInvalid)
    );
}

#[test]
fn other_params_are_checked() {
    assert!(parse(CKM_AES_CBC_PAD, RawParam::Bytes(vec![0; 16])).is_ok());
    assert_eq!(
        parse(CKM_AES_CBC_PAD, RawParam::Bytes(vec![0; 15])),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        parse(CKM_SHA256_HMAC_GENERAL, RawParam::Ulong(33)),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        parse(CKM_SHA256_HMAC_GENERAL, RawParam::Ulong(16))
            .unwrap()
            .kind,
        Kind::Hmac(HashAlg::Sha256, 16)
    );
    assert_eq!(
        parse(
            CKM_AES_CTR,
            RawParam::Ctr {
                counter_bits: 0,
                block: [0; 16]
            }
        ),
        Err(Error::MechanismParamInvalid)
    );
    let ccm = |n: usize, mac: u64| RawParam::Ccm {
        data_len: 5,
        nonce: vec![1; n],
        aad: vec![],
        mac_len: mac,
    };
    assert!(parse(CKM_AES_CCM, ccm(12, 16)).is_ok());
    assert_eq!(
        parse(CKM_AES_CCM, ccm(6, 16)),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        parse(CKM_AES_CCM, ccm(12, 5)),
        Err(Error::MechanismParamInvalid)
    );
    let ecdh = |kdf: u64, shared: Vec<u8>| RawParam::Ecdh {
        kdf,
        shared_data: shared,
        public: vec![4; 65],
    };
    assert!(parse(CKM_ECDH1_DERIVE, ecdh(CKD_NULL, vec![])).is_ok());
    assert!(parse(CKM_ECDH1_DERIVE, ecdh(CKD_SHA256_KDF, vec![1])).is_ok());
    assert_eq!(
        parse(CKM_ECDH1_DERIVE, ecdh(CKD_NULL, vec![1])),
        Err(Error::MechanismParamInvalid)
    );
    let oaep = |source: u64| RawParam::Oaep {
        hash: CKM_SHA256,
        mgf: CKG_MGF1_SHA1,
        source,
        label: b"label".to_vec(),
    };
    assert!(parse(CKM_RSA_PKCS_OAEP, oaep(CKZ_DATA_SPECIFIED)).is_ok());
    assert_eq!(
        parse(CKM_RSA_PKCS_OAEP, oaep(0)),
        Err(Error::MechanismParamInvalid)
    );
}

#[test]
fn pbkdf2_iterations_are_bounded() {
    let raw = |iterations| RawParam::Pbkdf2 {
        salt_source: CKZ_SALT_SPECIFIED,
        salt: b"salt".to_vec(),
        iterations,
        prf: CKP_PKCS5_PBKD2_HMAC_SHA256,
        prf_data_len: 0,
        password: b"password".to_vec(),
    };
    assert!(parse(CKM_PKCS5_PBKD2, raw(1)).is_ok());
    assert!(parse(CKM_PKCS5_PBKD2, raw(MAX_PBKDF2_ITERATIONS)).is_ok());
    for n in [0, MAX_PBKDF2_ITERATIONS + 1, u64::from(u32::MAX), u64::MAX] {
        assert_eq!(
            parse(CKM_PKCS5_PBKD2, raw(n)),
            Err(Error::MechanismParamInvalid),
            "{n} iterations"
        );
    }
}
