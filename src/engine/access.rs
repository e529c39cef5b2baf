//! Every object policy rule, in one file: which attributes a new object may carry and their
//! defaults, what `C_SetAttributeValue` and `C_CopyObject` may change, which attributes may be
//! read, and whether a key may be used for a mechanism.

use cryptoki_sys::*;

use super::{Error, Result};
use crate::crypto::Curve;
use crate::object::{attr_def, Attr, Attributes, Kind, Rule, Value};

const COMMON: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_LABEL,
    CKA_UNIQUE_ID,
];
const DATA: &[CK_ATTRIBUTE_TYPE] = &[CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE];
const CERT: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CERTIFICATE_TYPE,
    CKA_TRUSTED,
    CKA_CERTIFICATE_CATEGORY,
    CKA_CHECK_VALUE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_PUBLIC_KEY_INFO,
    CKA_SUBJECT,
    CKA_ID,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_VALUE,
    CKA_URL,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
    CKA_NAME_HASH_ALGORITHM,
];
const KEY: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_DERIVE_TEMPLATE,
    CKA_KEY_TYPE,
    CKA_ID,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_DERIVE,
    CKA_LOCAL,
    CKA_KEY_GEN_MECHANISM,
    CKA_ALLOWED_MECHANISMS,
];
const PUBLIC: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_WRAP_TEMPLATE,
    CKA_SUBJECT,
    CKA_ENCRYPT,
    CKA_VERIFY,
    CKA_VERIFY_RECOVER,
    CKA_WRAP,
    CKA_TRUSTED,
    CKA_PUBLIC_KEY_INFO,
];
const PRIVATE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_UNWRAP_TEMPLATE,
    CKA_SUBJECT,
    CKA_SENSITIVE,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_SIGN_RECOVER,
    CKA_UNWRAP,
    CKA_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_PUBLIC_KEY_INFO,
];
const SECRET: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_SENSITIVE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE,
    CKA_CHECK_VALUE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_TRUSTED,
    CKA_VALUE,
    CKA_VALUE_LEN,
];
const RSA_PUBLIC: &[CK_ATTRIBUTE_TYPE] = &[CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT];
const RSA_PRIVATE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
];
const EC_PUBLIC: &[CK_ATTRIBUTE_TYPE] = &[CKA_EC_PARAMS, CKA_EC_POINT];
const EC_PRIVATE: &[CK_ATTRIBUTE_TYPE] = &[CKA_EC_PARAMS, CKA_VALUE];

/// How an object came to be; decides `CKA_LOCAL` and the ALWAYS/NEVER companions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `C_CreateObject`: key material came from outside.
    Created,
    /// Generated inside the token by this mechanism.
    Generated(CK_MECHANISM_TYPE),
    /// Derived from a base key with these ALWAYS_SENSITIVE / NEVER_EXTRACTABLE values.
    Derived {
        /// The base key's `CKA_ALWAYS_SENSITIVE`.
        always_sensitive: bool,
        /// The base key's `CKA_NEVER_EXTRACTABLE`.
        never_extractable: bool,
    },
    /// Unwrapped: key material came from outside, wrapped.
    Unwrapped,
}

/// Who is acting, for the rules that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// Not logged in.
    Public,
    /// The normal user.
    User,
    /// The security officer.
    So,
}

fn allowed_for(
    class: CK_OBJECT_CLASS,
    key_type: Option<CK_KEY_TYPE>,
) -> Result<Vec<CK_ATTRIBUTE_TYPE>> {
    let mut v: Vec<CK_ATTRIBUTE_TYPE> = COMMON.to_vec();
    match class {
        CKO_DATA => v.extend_from_slice(DATA),
        CKO_CERTIFICATE => v.extend_from_slice(CERT),
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
            v.extend_from_slice(KEY);
            let kt = key_type.ok_or(Error::TemplateIncomplete)?;
            match (class, kt) {
                (CKO_PUBLIC_KEY, CKK_RSA) => {
                    v.extend_from_slice(PUBLIC);
                    v.extend_from_slice(RSA_PUBLIC);
                }
                (CKO_PUBLIC_KEY, CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY) => {
                    v.extend_from_slice(PUBLIC);
                    v.extend_from_slice(EC_PUBLIC);
                }
                (CKO_PRIVATE_KEY, CKK_RSA) => {
                    v.extend_from_slice(PRIVATE);
                    v.extend_from_slice(RSA_PRIVATE);
                }
                (CKO_PRIVATE_KEY, CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY) => {
                    v.extend_from_slice(PRIVATE);
                    v.extend_from_slice(EC_PRIVATE);
                }
                (CKO_SECRET_KEY, CKK_AES | CKK_GENERIC_SECRET) => v.extend_from_slice(SECRET),
                _ => return Err(Error::TemplateInconsistent),
            }
        }
        _ => return Err(Error::AttributeValueInvalid),
    }
    Ok(v)
}

/// Checks a caller's template on its own: every type known, no type twice, values of the
/// right kind, nothing only the token may set.
pub fn check_template(t: &[Attr]) -> Result<()> {
    for (i, a) in t.iter().enumerate() {
        let d = attr_def(a.ty).ok_or(Error::AttributeTypeInvalid)?;
        let kind_ok = matches!(
            (d.kind, &a.value),
            (Kind::Bool, Value::Bool(_))
                | (Kind::Ulong, Value::Ulong(_))
                | (Kind::Bytes, Value::Bytes(_))
                | (Kind::MechanismList, Value::Mechanisms(_))
                | (Kind::AttributeArray, Value::Template(_))
        );
        if !kind_ok {
            return Err(Error::AttributeValueInvalid);
        }
        if d.rule == Rule::TokenOnly {
            return Err(Error::AttributeReadOnly);
        }
        if t[i + 1..].iter().any(|b| b.ty == a.ty) {
            return Err(Error::TemplateInconsistent);
        }
        if matches!(a.ty, CKA_START_DATE | CKA_END_DATE) {
            check_date(&a.value)?;
        }
        if let Value::Template(inner) = &a.value {
            for x in inner {
                let d = attr_def(x.ty).ok_or(Error::AttributeTypeInvalid)?;
                if d.kind == Kind::AttributeArray {
                    return Err(Error::AttributeValueInvalid);
                }
            }
        }
    }
    Ok(())
}

fn check_date(v: &Value) -> Result<()> {
    match v {
        Value::Bytes(b) if b.is_empty() => Ok(()),
        Value::Bytes(b) if b.len() == 8 && b.iter().all(u8::is_ascii_digit) => Ok(()),
        _ => Err(Error::AttributeValueInvalid),
    }
}

fn merge(attrs: &mut Attributes, t: &[Attr]) {
    for a in t {
        attrs.set(a.ty, a.value.clone());
    }
}

fn template_value(t: &[Attr], ty: CK_ATTRIBUTE_TYPE) -> Option<&Value> {
    t.iter().find(|a| a.ty == ty).map(|a| &a.value)
}

fn template_ulong(t: &[Attr], ty: CK_ATTRIBUTE_TYPE) -> Option<u64> {
    match template_value(t, ty) {
        Some(Value::Ulong(u)) => Some(*u),
        _ => None,
    }
}

/// Fills the defaults every object of `class` gets, and the token-set attributes.
fn apply_defaults(a: &mut Attributes, class: CK_OBJECT_CLASS, origin: Origin, unique_id: String) {
    let secretish = matches!(class, CKO_PRIVATE_KEY | CKO_SECRET_KEY);
    a.set_default(CKA_TOKEN, Value::Bool(false));
    a.set_default(CKA_PRIVATE, Value::Bool(secretish));
    a.set_default(CKA_MODIFIABLE, Value::Bool(true));
    a.set_default(CKA_COPYABLE, Value::Bool(true));
    a.set_default(CKA_DESTROYABLE, Value::Bool(true));
    a.set_default(CKA_LABEL, Value::Bytes(Vec::new()));
    a.set(CKA_UNIQUE_ID, Value::Bytes(unique_id.into_bytes()));
    match class {
        CKO_DATA => {
            a.set_default(CKA_APPLICATION, Value::Bytes(Vec::new()));
            a.set_default(CKA_OBJECT_ID, Value::Bytes(Vec::new()));
            a.set_default(CKA_VALUE, Value::Bytes(Vec::new()));
        }
        CKO_CERTIFICATE => {
            a.set_default(CKA_TRUSTED, Value::Bool(false));
            a.set_default(CKA_CERTIFICATE_CATEGORY, Value::Ulong(0));
            a.set_default(CKA_START_DATE, Value::Bytes(Vec::new()));
            a.set_default(CKA_END_DATE, Value::Bytes(Vec::new()));
            a.set_default(CKA_SUBJECT, Value::Bytes(Vec::new()));
            a.set_default(CKA_ID, Value::Bytes(Vec::new()));
            a.set_default(CKA_ISSUER, Value::Bytes(Vec::new()));
            a.set_default(CKA_SERIAL_NUMBER, Value::Bytes(Vec::new()));
        }
        _ => {
            let (local, mech) = match origin {
                Origin::Generated(m) => (true, m),
                _ => (false, CK_UNAVAILABLE_INFORMATION),
            };
            a.set(CKA_LOCAL, Value::Bool(local));
            a.set(CKA_KEY_GEN_MECHANISM, Value::Ulong(mech));
            a.set_default(CKA_ID, Value::Bytes(Vec::new()));
            a.set_default(CKA_START_DATE, Value::Bytes(Vec::new()));
            a.set_default(CKA_END_DATE, Value::Bytes(Vec::new()));
            a.set_default(CKA_DERIVE, Value::Bool(false));
            a.set_default(CKA_ALLOWED_MECHANISMS, Value::Mechanisms(Vec::new()));
            let public = class == CKO_PUBLIC_KEY;
            let private = class == CKO_PRIVATE_KEY;
            let secret = class == CKO_SECRET_KEY;
            // Usage defaults follow what the key type can do: only RSA and AES keys encrypt
            // and wrap; AES and X25519 keys do not sign.
            let kt = a.key_type();
            let ciphers = matches!(kt, Some(CKK_RSA | CKK_AES));
            let signs = !matches!(kt, Some(CKK_AES | CKK_EC_MONTGOMERY));
            let defaults: &[(CK_ATTRIBUTE_TYPE, bool)] = if public {
                &[
                    (CKA_ENCRYPT, ciphers),
                    (CKA_VERIFY, signs),
                    (CKA_WRAP, ciphers),
                ]
            } else if private {
                &[
                    (CKA_DECRYPT, ciphers),
                    (CKA_SIGN, signs),
                    (CKA_UNWRAP, ciphers),
                ]
            } else {
                &[
                    (CKA_ENCRYPT, ciphers),
                    (CKA_DECRYPT, ciphers),
                    (CKA_SIGN, signs),
                    (CKA_VERIFY, signs),
                    (CKA_WRAP, ciphers),
                    (CKA_UNWRAP, ciphers),
                ]
            };
            for (ty, on) in defaults {
                a.set_default(*ty, Value::Bool(*on));
            }
            if public {
                a.set_default(CKA_VERIFY_RECOVER, Value::Bool(false));
                a.set_default(CKA_TRUSTED, Value::Bool(false));
                a.set_default(CKA_SUBJECT, Value::Bytes(Vec::new()));
            }
            if private {
                a.set_default(CKA_SIGN_RECOVER, Value::Bool(false));
                a.set_default(CKA_ALWAYS_AUTHENTICATE, Value::Bool(false));
                a.set_default(CKA_SUBJECT, Value::Bytes(Vec::new()));
            }
            if secret {
                a.set_default(CKA_TRUSTED, Value::Bool(false));
            }
            if private || secret {
                // Strict by default: keys are sensitive and cannot leave the token unless the
                // caller asks for that when the key is made.
                a.set_default(CKA_SENSITIVE, Value::Bool(true));
                a.set_default(CKA_EXTRACTABLE, Value::Bool(false));
                a.set_default(CKA_WRAP_WITH_TRUSTED, Value::Bool(false));
                let (was_sensitive, was_unextractable) = match origin {
                    Origin::Generated(_) => (true, true),
                    Origin::Derived {
                        always_sensitive,
                        never_extractable,
                    } => (always_sensitive, never_extractable),
                    Origin::Created | Origin::Unwrapped => (false, false),
                };
                let sensitive = a.bool_or(CKA_SENSITIVE, true);
                let extractable = a.bool_or(CKA_EXTRACTABLE, false);
                a.set(
                    CKA_ALWAYS_SENSITIVE,
                    Value::Bool(was_sensitive && sensitive),
                );
                a.set(
                    CKA_NEVER_EXTRACTABLE,
                    Value::Bool(was_unextractable && !extractable),
                );
            }
        }
    }
}

/// Rules about the actor that apply to every new object.
fn check_actor(a: &Attributes, actor: Actor) -> Result<()> {
    if a.bool_or(CKA_PRIVATE, false) && actor != Actor::User {
        return Err(Error::UserNotLoggedIn);
    }
    if a.bool_or(CKA_TRUSTED, false) && actor != Actor::So {
        return Err(Error::AttributeReadOnly);
    }
    Ok(())
}

fn check_allowed(a: &Attributes) -> Result<()> {
    let class = a.class().ok_or(Error::TemplateIncomplete)?;
    let allowed = allowed_for(class, a.key_type())?;
    if a.iter().all(|(ty, _)| allowed.contains(ty)) {
        Ok(())
    } else {
        Err(Error::TemplateInconsistent)
    }
}

fn require(a: &Attributes, tys: &[CK_ATTRIBUTE_TYPE]) -> Result<()> {
    if tys.iter().all(|t| a.contains(*t)) {
        Ok(())
    } else {
        Err(Error::TemplateIncomplete)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|x| **x == 0).count();
    &b[n..]
}

/// The curve named by `CKA_EC_PARAMS`.
pub fn curve_of(a: &Attributes) -> Result<Curve> {
    let p = a.bytes(CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete)?;
    Curve::from_oid_der(p).ok_or(Error::AttributeValueInvalid)
}

/// `CKA_EC_POINT` as the DER OCTET STRING the token stores, from raw or DER input.
pub fn ec_point_der(curve: Curve, given: &[u8]) -> Result<Vec<u8>> {
    let raw_len = 1 + 2 * curve.field_len();
    let raw = if given.len() == raw_len && given[0] == 0x04 {
        given
    } else if given.len() == raw_len + 2 && given[0] == 0x04 && given[1] as usize == raw_len {
        &given[2..]
    } else if given.len() == raw_len + 3
        && given[0] == 0x04
        && given[1] == 0x81
        && given[2] as usize == raw_len
    {
        &given[3..]
    } else {
        return Err(Error::AttributeValueInvalid);
    };
    // Validate the point is on the curve.
    crate::crypto::EcPublicKey::from_point(curve, raw).map_err(|_| Error::AttributeValueInvalid)?;
    Ok(der_octet_string(raw))
}

/// Wraps bytes in a DER OCTET STRING.
pub fn der_octet_string(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    if raw.len() < 0x80 {
        out.push(raw.len() as u8);
    } else if raw.len() < 0x100 {
        out.extend_from_slice(&[0x81, raw.len() as u8]);
    } else {
        out.extend_from_slice(&[0x82, (raw.len() >> 8) as u8, raw.len() as u8]);
    }
    out.extend_from_slice(raw);
    out
}

/// Per key type checks of the material a caller supplies (`C_CreateObject`).
fn check_key_material(a: &mut Attributes) -> Result<()> {
    let class = a.class().ok_or(Error::TemplateIncomplete)?;
    match (class, a.key_type()) {
        (CKO_SECRET_KEY, Some(kt)) => {
            require(a, &[CKA_VALUE])?;
            if a.contains(CKA_VALUE_LEN) {
                return Err(Error::TemplateInconsistent);
            }
            let len = a.bytes(CKA_VALUE).map_or(0, <[u8]>::len);
            if kt == CKK_AES && !matches!(len, 16 | 24 | 32) {
                return Err(Error::AttributeValueInvalid);
            }
            if kt == CKK_GENERIC_SECRET && len == 0 {
                return Err(Error::AttributeValueInvalid);
            }
            a.set(CKA_VALUE_LEN, Value::Ulong(len as u64));
        }
        (CKO_PUBLIC_KEY, Some(CKK_RSA)) => {
            require(a, &[CKA_MODULUS, CKA_PUBLIC_EXPONENT])?;
            if a.contains(CKA_MODULUS_BITS) {
                return Err(Error::TemplateInconsistent);
            }
            let n = strip_zeros(a.bytes(CKA_MODULUS).unwrap_or_default()).to_vec();
            let e = a.bytes(CKA_PUBLIC_EXPONENT).unwrap_or_default().to_vec();
            let k = crate::crypto::RsaPublicKey::from_components(&n, &e)
                .map_err(|_| Error::AttributeValueInvalid)?;
            a.set(CKA_MODULUS_BITS, Value::Ulong(k.modulus_bits() as u64));
        }
        (CKO_PRIVATE_KEY, Some(CKK_RSA)) => {
            require(a, RSA_PRIVATE)?;
        }
        (CKO_PUBLIC_KEY, Some(CKK_EC)) => {
            require(a, &[CKA_EC_PARAMS, CKA_EC_POINT])?;
            let curve = curve_of(a)?;
            let point = ec_point_der(curve, a.bytes(CKA_EC_POINT).unwrap_or_default())?;
            a.set(CKA_EC_PARAMS, Value::Bytes(curve.oid_der().to_vec()));
            a.set(CKA_EC_POINT, Value::Bytes(point));
        }
        (CKO_PRIVATE_KEY, Some(CKK_EC)) => {
            require(a, &[CKA_EC_PARAMS, CKA_VALUE])?;
            let curve = curve_of(a)?;
            a.set(CKA_EC_PARAMS, Value::Bytes(curve.oid_der().to_vec()));
            let d = a.bytes(CKA_VALUE).unwrap_or_default();
            crate::crypto::EcPrivateKey::from_scalar(curve, d)
                .map_err(|_| Error::AttributeValueInvalid)?;
        }
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY, Some(kt @ (CKK_EC_EDWARDS | CKK_EC_MONTGOMERY))) => {
            let public = class == CKO_PUBLIC_KEY;
            require(
                a,
                &[CKA_EC_PARAMS, if public { CKA_EC_POINT } else { CKA_VALUE }],
            )?;
            let params = a.bytes(CKA_EC_PARAMS).unwrap_or_default();
            let params_ok = if kt == CKK_EC_EDWARDS {
                crate::crypto::edwards::edwards_params_ok(params)
            } else {
                crate::crypto::edwards::montgomery_params_ok(params)
            };
            if !params_ok {
                return Err(Error::AttributeValueInvalid);
            }
            if public {
                let raw =
                    super::keys::unwrap_octet_string(a.bytes(CKA_EC_POINT).unwrap_or_default());
                if raw.len() != 32 {
                    return Err(Error::AttributeValueInvalid);
                }
                let der = der_octet_string(raw);
                a.set(CKA_EC_POINT, Value::Bytes(der));
            } else if a.bytes(CKA_VALUE).map_or(0, <[u8]>::len) != 32 {
                return Err(Error::AttributeValueInvalid);
            }
        }
        (CKO_CERTIFICATE, _) => {
            require(a, &[CKA_CERTIFICATE_TYPE, CKA_VALUE])?;
            if a.ulong(CKA_CERTIFICATE_TYPE) != Some(CKC_X_509) {
                return Err(Error::AttributeValueInvalid);
            }
        }
        (CKO_DATA, _) => {}
        _ => return Err(Error::TemplateIncomplete),
    }
    Ok(())
}

/// The attributes of an object made by `C_CreateObject`.
pub fn new_object(t: &[Attr], actor: Actor, unique_id: String) -> Result<Attributes> {
    check_template(t)?;
    let class = template_ulong(t, CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
    let mut a = Attributes::new();
    merge(&mut a, t);
    check_allowed(&a)?;
    check_key_material(&mut a)?;
    apply_defaults(&mut a, class, Origin::Created, unique_id);
    check_actor(&a, actor)?;
    Ok(a)
}

/// The attributes of a key made inside the token (generated, derived or unwrapped): the
/// caller's template, checked against the class and key type the mechanism makes, plus the
/// key material in `material`.
pub fn new_key(
    t: &[Attr],
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    origin: Origin,
    material: Vec<Attr>,
    actor: Actor,
    unique_id: String,
) -> Result<Attributes> {
    check_template(t)?;
    if template_ulong(t, CKA_CLASS).is_some_and(|c| c != class)
        || template_ulong(t, CKA_KEY_TYPE).is_some_and(|k| k != key_type)
    {
        return Err(Error::TemplateInconsistent);
    }
    let mut a = Attributes::new();
    merge(&mut a, t);
    a.set(CKA_CLASS, Value::Ulong(class));
    a.set(CKA_KEY_TYPE, Value::Ulong(key_type));
    check_allowed(&a)?;
    for m in material {
        a.set(m.ty, m.value);
    }
    apply_defaults(&mut a, class, origin, unique_id);
    check_actor(&a, actor)?;
    Ok(a)
}

/// A template value a key generator needs (`CKA_VALUE_LEN`, `CKA_MODULUS_BITS`, ...).
pub fn wanted_ulong(t: &[Attr], ty: CK_ATTRIBUTE_TYPE) -> Option<u64> {
    template_ulong(t, ty)
}

/// A template byte value a key generator needs (`CKA_EC_PARAMS`, `CKA_PUBLIC_EXPONENT`).
pub fn wanted_bytes(t: &[Attr], ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
    match template_value(t, ty) {
        Some(Value::Bytes(b)) => Some(b),
        _ => None,
    }
}

/// Removes attributes the generator computes itself from a generation template, refusing
/// the ones a caller must not give.
pub fn generation_template(
    t: &[Attr],
    forbidden: &[CK_ATTRIBUTE_TYPE],
    computed: &[CK_ATTRIBUTE_TYPE],
) -> Result<Vec<Attr>> {
    if t.iter().any(|a| forbidden.contains(&a.ty)) {
        return Err(Error::TemplateInconsistent);
    }
    Ok(t.iter()
        .filter(|a| !computed.contains(&a.ty))
        .cloned()
        .collect())
}

/// Checks a `C_SetAttributeValue` change against the object's rules.
pub fn check_set(obj: &Attributes, changes: &[Attr], actor: Actor) -> Result<()> {
    check_template(changes)?;
    if !obj.bool_or(CKA_MODIFIABLE, true) {
        return Err(Error::ActionProhibited);
    }
    let class = obj
        .class()
        .ok_or(Error::General("object without class".into()))?;
    let allowed = allowed_for(class, obj.key_type())?;
    for c in changes {
        if !allowed.contains(&c.ty) {
            return Err(Error::AttributeTypeInvalid);
        }
        let d = attr_def(c.ty).ok_or(Error::AttributeTypeInvalid)?;
        let current = obj.get(c.ty);
        let unchanged = current == Some(&c.value);
        match d.rule {
            Rule::Modifiable => {}
            Rule::OnlyToTrue => {
                if c.value != Value::Bool(true) && !unchanged {
                    return Err(Error::AttributeReadOnly);
                }
            }
            Rule::OnlyToFalse => {
                if c.value != Value::Bool(false) && !unchanged {
                    return Err(Error::AttributeReadOnly);
                }
            }
            Rule::Fixed | Rule::TokenOnly => {
                if !unchanged {
                    return Err(Error::AttributeReadOnly);
                }
            }
        }
        if c.ty == CKA_TRUSTED && c.value == Value::Bool(true) && actor != Actor::So {
            return Err(Error::AttributeReadOnly);
        }
    }
    Ok(())
}

/// Applies a checked change; the ALWAYS/NEVER companions only ever lose their truth.
pub fn apply_set(obj: &mut Attributes, changes: &[Attr]) {
    for c in changes {
        obj.set(c.ty, c.value.clone());
    }
    if !obj.bool_or(CKA_SENSITIVE, true) {
        obj.set(CKA_ALWAYS_SENSITIVE, Value::Bool(false));
    }
    if obj.bool_or(CKA_EXTRACTABLE, false) && obj.contains(CKA_NEVER_EXTRACTABLE) {
        obj.set(CKA_NEVER_EXTRACTABLE, Value::Bool(false));
    }
}

/// Checks a `C_CopyObject` template: the object must be copyable; only TOKEN, PRIVATE (to TRUE),
/// MODIFIABLE, DESTROYABLE and what `C_SetAttributeValue` could change may differ.
pub fn check_copy(obj: &Attributes, changes: &[Attr], actor: Actor) -> Result<()> {
    if !obj.bool_or(CKA_COPYABLE, true) {
        return Err(Error::ActionProhibited);
    }
    check_template(changes)?;
    let mut rest = Vec::new();
    for c in changes {
        match c.ty {
            CKA_TOKEN | CKA_MODIFIABLE | CKA_DESTROYABLE => {}
            CKA_PRIVATE => {
                if c.value != Value::Bool(true) && obj.get(CKA_PRIVATE) != Some(&c.value) {
                    return Err(Error::AttributeReadOnly);
                }
            }
            _ => rest.push(c.clone()),
        }
    }
    // The copy is checked as if modifiable, whatever the original says.
    let mut probe = obj.clone();
    probe.set(CKA_MODIFIABLE, Value::Bool(true));
    check_set(&probe, &rest, actor)
}

/// What `C_GetAttributeValue` may reveal of one attribute.
#[derive(Debug, PartialEq, Eq)]
pub enum Readable<'a> {
    /// The value.
    Value(&'a Value),
    /// Secret material of a sensitive or unextractable key.
    Sensitive,
    /// Not an attribute of this object.
    Invalid,
}

/// Decides what may be read of one attribute.
pub fn readable(obj: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Readable<'_> {
    let Some(v) = obj.get(ty) else {
        return Readable::Invalid;
    };
    let key_secret = matches!(obj.class(), Some(CKO_PRIVATE_KEY | CKO_SECRET_KEY))
        && attr_def(ty).is_some_and(|d| d.secret);
    if key_secret && (obj.bool_or(CKA_SENSITIVE, true) || !obj.bool_or(CKA_EXTRACTABLE, false)) {
        return Readable::Sensitive;
    }
    Readable::Value(v)
}

/// The operation a key is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// `C_EncryptInit`.
    Encrypt,
    /// `C_DecryptInit`.
    Decrypt,
    /// `C_SignInit`.
    Sign,
    /// `C_VerifyInit`.
    Verify,
    /// `C_DeriveKey` (the base key).
    Derive,
    /// `C_WrapKey` (the wrapping key).
    Wrap,
    /// `C_UnwrapKey` (the unwrapping key).
    Unwrap,
}

impl Usage {
    /// The attribute that permits this use.
    fn flag(self) -> CK_ATTRIBUTE_TYPE {
        match self {
            Usage::Encrypt => CKA_ENCRYPT,
            Usage::Decrypt => CKA_DECRYPT,
            Usage::Sign => CKA_SIGN,
            Usage::Verify => CKA_VERIFY,
            Usage::Derive => CKA_DERIVE,
            Usage::Wrap => CKA_WRAP,
            Usage::Unwrap => CKA_UNWRAP,
        }
    }

    const ALL: [Usage; 7] = [
        Usage::Encrypt,
        Usage::Decrypt,
        Usage::Sign,
        Usage::Verify,
        Usage::Derive,
        Usage::Wrap,
        Usage::Unwrap,
    ];
}

/// What the use of a key depends on, gathered once: an object's attributes never change
/// in place (a change makes a new object version), so the engine keeps this beside the
/// object and checks each use without looking attributes up again.
#[derive(Debug, Clone)]
pub struct KeyUse {
    class: Option<CK_OBJECT_CLASS>,
    key_type: Option<CK_KEY_TYPE>,
    /// Bit `u as usize` set when the use `u` is permitted.
    permitted: u8,
    /// `CKA_ALLOWED_MECHANISMS` when present and not empty.
    allowed: Option<Box<[CK_MECHANISM_TYPE]>>,
    /// `CKA_START_DATE` / `CKA_END_DATE` when they hold a date (8 bytes).
    start: Option<[u8; 8]>,
    end: Option<[u8; 8]>,
}

impl KeyUse {
    /// Gathers the usage policy of a key.
    pub fn of(key: &Attributes) -> KeyUse {
        let permitted = Usage::ALL
            .iter()
            .filter(|u| key.bool_or(u.flag(), false))
            .fold(0u8, |bits, u| bits | 1 << (*u as u8));
        let allowed = match key.get(CKA_ALLOWED_MECHANISMS) {
            Some(Value::Mechanisms(list)) if !list.is_empty() => Some(list.clone().into()),
            _ => None,
        };
        let date = |ty| key.bytes(ty).and_then(|b| <[u8; 8]>::try_from(b).ok());
        KeyUse {
            class: key.class(),
            key_type: key.key_type(),
            permitted,
            allowed,
            start: date(CKA_START_DATE),
            end: date(CKA_END_DATE),
        }
    }

    /// Whether the key may be used for `usage` with mechanism `mech`, which needs a key of
    /// `class` and `key_type`: `CKR_KEY_TYPE_INCONSISTENT` for another kind of key,
    /// `CKR_KEY_FUNCTION_NOT_PERMITTED` without the usage flag or outside the key's dates
    /// (`today` is asked only for a key that has dates), `CKR_MECHANISM_INVALID` for a
    /// mechanism outside `CKA_ALLOWED_MECHANISMS`.
    pub fn check(
        &self,
        usage: Usage,
        mech: CK_MECHANISM_TYPE,
        class: CK_OBJECT_CLASS,
        key_type: CK_KEY_TYPE,
        today: impl FnOnce() -> [u8; 8],
    ) -> Result<()> {
        if self.class != Some(class) || self.key_type != Some(key_type) {
            return Err(Error::KeyTypeInconsistent);
        }
        if self.permitted & (1 << (usage as u8)) == 0 {
            return Err(Error::KeyFunctionNotPermitted);
        }
        if let Some(list) = &self.allowed {
            if !list.contains(&mech) {
                return Err(Error::MechanismInvalid);
            }
        }
        if self.start.is_some() || self.end.is_some() {
            let today = today();
            if self.start.is_some_and(|s| today < s) || self.end.is_some_and(|e| today > e) {
                return Err(Error::KeyFunctionNotPermitted);
            }
        }
        Ok(())
    }
}

/// Merges a key's template attribute (`CKA_UNWRAP_TEMPLATE`, `CKA_DERIVE_TEMPLATE`) into a
/// caller's template: a conflicting value is `CKR_TEMPLATE_INCONSISTENT`, missing ones are added.
pub fn merge_required(t: &[Attr], required: Option<&Value>) -> Result<Vec<Attr>> {
    let mut out = t.to_vec();
    if let Some(Value::Template(req)) = required {
        for r in req {
            match out.iter().find(|a| a.ty == r.ty) {
                Some(a) if a.value != r.value => return Err(Error::TemplateInconsistent),
                Some(_) => {}
                None => out.push(r.clone()),
            }
        }
    }
    Ok(out)
}

/// Whether a key may be wrapped by a wrapping key: extractable, trusted wrapping when asked,
/// and matching the wrapping key's `CKA_WRAP_TEMPLATE`.
pub fn check_wrappable(key: &Attributes, wrapping: &Attributes) -> Result<()> {
    if !matches!(key.class(), Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY)) {
        return Err(Error::KeyNotWrappable);
    }
    if !key.bool_or(CKA_EXTRACTABLE, false) {
        return Err(Error::KeyUnextractable);
    }
    if key.bool_or(CKA_WRAP_WITH_TRUSTED, false) && !wrapping.bool_or(CKA_TRUSTED, false) {
        return Err(Error::KeyNotWrappable);
    }
    if let Some(Value::Template(t)) = wrapping.get(CKA_WRAP_TEMPLATE) {
        if !key.matches(t) {
            return Err(Error::KeyNotWrappable);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`KeyUse::check`] on attributes, as the engine runs it on an object's.
    fn check_use(
        key: &Attributes,
        usage: Usage,
        mech: CK_MECHANISM_TYPE,
        class: CK_OBJECT_CLASS,
        key_type: CK_KEY_TYPE,
        today: &[u8; 8],
    ) -> Result<()> {
        KeyUse::of(key).check(usage, mech, class, key_type, || *today)
    }

    fn aes_template() -> Vec<Attr> {
        vec![
            Attr::ulong(CKA_CLASS, CKO_SECRET_KEY),
            Attr::ulong(CKA_KEY_TYPE, CKK_AES),
            Attr::bytes(CKA_VALUE, vec![7u8; 32]),
            Attr::bool(CKA_TOKEN, true),
        ]
    }

    #[test]
    fn created_secret_key_defaults_are_strict() {
        let a = new_object(&aes_template(), Actor::User, "u".into()).unwrap();
        assert!(a.bool_or(CKA_SENSITIVE, false));
        assert!(!a.bool_or(CKA_EXTRACTABLE, true));
        assert!(!a.bool_or(CKA_LOCAL, true));
        assert!(!a.bool_or(CKA_ALWAYS_SENSITIVE, true));
        assert!(!a.bool_or(CKA_NEVER_EXTRACTABLE, true));
        assert!(a.bool_or(CKA_PRIVATE, false));
        assert_eq!(a.ulong(CKA_VALUE_LEN), Some(32));
        assert_eq!(readable(&a, CKA_VALUE), Readable::Sensitive);
        assert_eq!(readable(&a, CKA_MODULUS), Readable::Invalid);
    }

    #[test]
    fn create_rules() {
        // Private key material needs a logged-in user.
        assert_eq!(
            new_object(&aes_template(), Actor::Public, "u".into()).unwrap_err(),
            Error::UserNotLoggedIn
        );
        // Token-only attributes are read-only.
        let mut t = aes_template();
        t.push(Attr::bool(CKA_LOCAL, true));
        assert_eq!(
            new_object(&t, Actor::User, "u".into()).unwrap_err(),
            Error::AttributeReadOnly
        );
        // Duplicates are inconsistent.
        let mut t = aes_template();
        t.push(Attr::bool(CKA_TOKEN, false));
        assert_eq!(
            new_object(&t, Actor::User, "u".into()).unwrap_err(),
            Error::TemplateInconsistent
        );
        // Wrong AES length.
        let mut t = aes_template();
        t[2] = Attr::bytes(CKA_VALUE, vec![1u8; 15]);
        assert_eq!(
            new_object(&t, Actor::User, "u".into()).unwrap_err(),
            Error::AttributeValueInvalid
        );
        // An attribute of another class.
        let mut t = aes_template();
        t.push(Attr::bytes(CKA_MODULUS, vec![1u8; 4]));
        assert_eq!(
            new_object(&t, Actor::User, "u".into()).unwrap_err(),
            Error::TemplateInconsistent
        );
        // Missing class.
        assert_eq!(
            new_object(&aes_template()[1..], Actor::User, "u".into()).unwrap_err(),
            Error::TemplateIncomplete
        );
        // Wrong kind of value for a boolean attribute.
        let mut t = aes_template();
        t[3] = Attr::ulong(CKA_TOKEN, 1);
        assert_eq!(
            new_object(&t, Actor::User, "u".into()).unwrap_err(),
            Error::AttributeValueInvalid
        );
        // A bad date.
        let mut t = aes_template();
        t.push(Attr::bytes(CKA_START_DATE, b"2026-1-1".to_vec()));
        assert_eq!(
            new_object(&t, Actor::User, "u".into()).unwrap_err(),
            Error::AttributeValueInvalid
        );
    }

    #[test]
    fn set_rules() {
        let mut t = aes_template();
        t.push(Attr::bool(CKA_SENSITIVE, false));
        t.push(Attr::bool(CKA_EXTRACTABLE, true));
        let a = new_object(&t, Actor::User, "u".into()).unwrap();
        assert_eq!(
            readable(&a, CKA_VALUE),
            Readable::Value(&Value::Bytes(vec![7u8; 32]))
        );
        // Label may change; value may not.
        assert!(check_set(&a, &[Attr::bytes(CKA_LABEL, b"x".to_vec())], Actor::User).is_ok());
        assert_eq!(
            check_set(&a, &[Attr::bytes(CKA_VALUE, vec![0u8; 32])], Actor::User),
            Err(Error::AttributeReadOnly)
        );
        // Sensitive only to TRUE, extractable only to FALSE.
        assert!(check_set(&a, &[Attr::bool(CKA_SENSITIVE, true)], Actor::User).is_ok());
        assert!(check_set(&a, &[Attr::bool(CKA_EXTRACTABLE, false)], Actor::User).is_ok());
        let mut b = a.clone();
        apply_set(&mut b, &[Attr::bool(CKA_SENSITIVE, true)]);
        assert_eq!(
            check_set(&b, &[Attr::bool(CKA_SENSITIVE, false)], Actor::User),
            Err(Error::AttributeReadOnly)
        );
        assert_eq!(readable(&b, CKA_VALUE), Readable::Sensitive);
        // Unmodifiable objects refuse every change.
        let mut c = a.clone();
        c.set(CKA_MODIFIABLE, Value::Bool(false));
        assert_eq!(
            check_set(&c, &[Attr::bytes(CKA_LABEL, b"x".to_vec())], Actor::User),
            Err(Error::ActionProhibited)
        );
        // Copy: not copyable is prohibited; private may not be dropped.
        let mut d = a.clone();
        d.set(CKA_COPYABLE, Value::Bool(false));
        assert_eq!(
            check_copy(&d, &[], Actor::User),
            Err(Error::ActionProhibited)
        );
        assert_eq!(
            check_copy(&a, &[Attr::bool(CKA_PRIVATE, false)], Actor::User),
            Err(Error::AttributeReadOnly)
        );
        assert!(check_copy(&a, &[Attr::bool(CKA_TOKEN, false)], Actor::User).is_ok());
    }

    #[test]
    fn use_rules() {
        let mut t = aes_template();
        t.push(Attr::bool(CKA_ENCRYPT, false));
        t.push(Attr {
            ty: CKA_ALLOWED_MECHANISMS,
            value: Value::Mechanisms(vec![CKM_AES_GCM]),
        });
        let a = new_object(&t, Actor::User, "u".into()).unwrap();
        let today = *b"20261128";
        assert_eq!(
            check_use(
                &a,
                Usage::Encrypt,
                CKM_AES_GCM,
                CKO_SECRET_KEY,
                CKK_AES,
                &today
            ),
            Err(Error::KeyFunctionNotPermitted)
        );
        assert!(check_use(
            &a,
            Usage::Decrypt,
            CKM_AES_GCM,
            CKO_SECRET_KEY,
            CKK_AES,
            &today
        )
        .is_ok());
        assert_eq!(
            check_use(
                &a,
                Usage::Decrypt,
                CKM_AES_CBC_PAD,
                CKO_SECRET_KEY,
                CKK_AES,
                &today
            ),
            Err(Error::MechanismInvalid)
        );
        assert_eq!(
            check_use(&a, Usage::Sign, CKM_ECDSA, CKO_PRIVATE_KEY, CKK_EC, &today),
            Err(Error::KeyTypeInconsistent)
        );
        let mut b = a.clone();
        b.set(CKA_END_DATE, Value::Bytes(b"20250101".to_vec()));
        assert_eq!(
            check_use(
                &b,
                Usage::Decrypt,
                CKM_AES_GCM,
                CKO_SECRET_KEY,
                CKK_AES,
                &today
            ),
            Err(Error::KeyFunctionNotPermitted)
        );
    }
}
