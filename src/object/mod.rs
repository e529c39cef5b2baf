//! PKCS#11 objects as typed attribute maps.
//!
//! Every attribute the token understands has one entry in [`ATTRIBUTES`]: its value kind, whether it
//! is secret key material, and when it may be set. The C ABI layer parses caller bytes with
//! [`kind_of`], the engine applies the rules in `engine::access`, and the store persists objects
//! with [`Attributes::encode`] (fixed-width little-endian, versioned; `CK_ULONG` never goes to disk
//! raw).

use std::collections::BTreeMap;

use cryptoki_sys::*;
use zeroize::Zeroize;

/// The kind of value an attribute holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `CK_BBOOL`.
    Bool,
    /// `CK_ULONG` (and the types defined as `CK_ULONG`).
    Ulong,
    /// A byte string (`CK_BYTE` arrays, UTF-8 text, DER, big integers, dates).
    Bytes,
    /// An array of `CK_MECHANISM_TYPE` (`CKA_ALLOWED_MECHANISMS`).
    MechanismList,
    /// An array of `CK_ATTRIBUTE` (`CKA_WRAP_TEMPLATE`, `CKA_UNWRAP_TEMPLATE`,
    /// `CKA_DERIVE_TEMPLATE`).
    AttributeArray,
}

/// When an attribute may be given by a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Set only by the token (`CKA_LOCAL`, `CKA_ALWAYS_SENSITIVE`, ...).
    TokenOnly,
    /// May be given when the object is made, never changed afterwards.
    Fixed,
    /// May be given when the object is made and changed later (subject to `CKA_MODIFIABLE`).
    Modifiable,
    /// `CKA_SENSITIVE` / `CKA_WRAP_WITH_TRUSTED`: may only change from FALSE to TRUE.
    OnlyToTrue,
    /// `CKA_EXTRACTABLE`: may only change from TRUE to FALSE.
    OnlyToFalse,
}

/// One row of the attribute table.
#[derive(Clone, Copy, Debug)]
pub struct AttrDef {
    /// The attribute type.
    pub ty: CK_ATTRIBUTE_TYPE,
    /// Its value kind.
    pub kind: Kind,
    /// When it may be set.
    pub rule: Rule,
    /// Secret key material: never readable while the key is sensitive or unextractable.
    pub secret: bool,
}

const fn def(ty: CK_ATTRIBUTE_TYPE, kind: Kind, rule: Rule, secret: bool) -> AttrDef {
    AttrDef {
        ty,
        kind,
        rule,
        secret,
    }
}

use Kind::*;
use Rule::*;

/// Every attribute the token understands.
pub static ATTRIBUTES: &[AttrDef] = &[
    // Common storage attributes.
    def(CKA_CLASS, Ulong, Fixed, false),
    def(CKA_TOKEN, Bool, Fixed, false),
    def(CKA_PRIVATE, Bool, Fixed, false),
    def(CKA_MODIFIABLE, Bool, Fixed, false),
    def(CKA_COPYABLE, Bool, OnlyToFalse, false),
    def(CKA_DESTROYABLE, Bool, Modifiable, false),
    def(CKA_LABEL, Bytes, Modifiable, false),
    def(CKA_UNIQUE_ID, Bytes, TokenOnly, false),
    // Data objects.
    def(CKA_APPLICATION, Bytes, Fixed, false),
    def(CKA_OBJECT_ID, Bytes, Fixed, false),
    def(CKA_VALUE, Bytes, Fixed, true),
    // Certificates.
    def(CKA_CERTIFICATE_TYPE, Ulong, Fixed, false),
    def(CKA_TRUSTED, Bool, Fixed, false),
    def(CKA_CERTIFICATE_CATEGORY, Ulong, Fixed, false),
    def(CKA_CHECK_VALUE, Bytes, Fixed, false),
    def(CKA_START_DATE, Bytes, Modifiable, false),
    def(CKA_END_DATE, Bytes, Modifiable, false),
    def(CKA_SUBJECT, Bytes, Modifiable, false),
    def(CKA_ISSUER, Bytes, Modifiable, false),
    def(CKA_SERIAL_NUMBER, Bytes, Modifiable, false),
    def(CKA_URL, Bytes, Fixed, false),
    def(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, Bytes, Fixed, false),
    def(CKA_HASH_OF_ISSUER_PUBLIC_KEY, Bytes, Fixed, false),
    def(CKA_JAVA_MIDP_SECURITY_DOMAIN, Ulong, Fixed, false),
    def(CKA_NAME_HASH_ALGORITHM, Ulong, Fixed, false),
    // Keys.
    def(CKA_KEY_TYPE, Ulong, Fixed, false),
    def(CKA_ID, Bytes, Modifiable, false),
    def(CKA_DERIVE, Bool, Modifiable, false),
    def(CKA_LOCAL, Bool, TokenOnly, false),
    def(CKA_KEY_GEN_MECHANISM, Ulong, TokenOnly, false),
    def(CKA_ALLOWED_MECHANISMS, MechanismList, Fixed, false),
    def(CKA_PUBLIC_KEY_INFO, Bytes, Fixed, false),
    def(CKA_ENCRYPT, Bool, Modifiable, false),
    def(CKA_DECRYPT, Bool, Modifiable, false),
    def(CKA_SIGN, Bool, Modifiable, false),
    def(CKA_SIGN_RECOVER, Bool, Modifiable, false),
    def(CKA_VERIFY, Bool, Modifiable, false),
    def(CKA_VERIFY_RECOVER, Bool, Modifiable, false),
    def(CKA_WRAP, Bool, Modifiable, false),
    def(CKA_UNWRAP, Bool, Modifiable, false),
    def(CKA_SENSITIVE, Bool, OnlyToTrue, false),
    def(CKA_EXTRACTABLE, Bool, OnlyToFalse, false),
    def(CKA_ALWAYS_SENSITIVE, Bool, TokenOnly, false),
    def(CKA_NEVER_EXTRACTABLE, Bool, TokenOnly, false),
    def(CKA_ALWAYS_AUTHENTICATE, Bool, Fixed, false),
    def(CKA_WRAP_WITH_TRUSTED, Bool, OnlyToTrue, false),
    def(CKA_VALUE_LEN, Ulong, Fixed, false),
    def(CKA_WRAP_TEMPLATE, AttributeArray, Fixed, false),
    def(CKA_UNWRAP_TEMPLATE, AttributeArray, Fixed, false),
    def(CKA_DERIVE_TEMPLATE, AttributeArray, Fixed, false),
    // RSA.
    def(CKA_MODULUS, Bytes, Fixed, false),
    def(CKA_MODULUS_BITS, Ulong, Fixed, false),
    def(CKA_PUBLIC_EXPONENT, Bytes, Fixed, false),
    def(CKA_PRIVATE_EXPONENT, Bytes, Fixed, true),
    def(CKA_PRIME_1, Bytes, Fixed, true),
    def(CKA_PRIME_2, Bytes, Fixed, true),
    def(CKA_EXPONENT_1, Bytes, Fixed, true),
    def(CKA_EXPONENT_2, Bytes, Fixed, true),
    def(CKA_COEFFICIENT, Bytes, Fixed, true),
    // EC.
    def(CKA_EC_PARAMS, Bytes, Fixed, false),
    def(CKA_EC_POINT, Bytes, Fixed, false),
];

/// The table row for an attribute type, if the token knows it.
pub fn attr_def(ty: CK_ATTRIBUTE_TYPE) -> Option<&'static AttrDef> {
    ATTRIBUTES.iter().find(|d| d.ty == ty)
}

/// The value kind used to parse an attribute; unknown types are kept as bytes.
pub fn kind_of(ty: CK_ATTRIBUTE_TYPE) -> Kind {
    attr_def(ty).map_or(Kind::Bytes, |d| d.kind)
}

/// A typed attribute value.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// A `CK_BBOOL`.
    Bool(bool),
    /// A `CK_ULONG`.
    Ulong(u64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list of mechanism types.
    Mechanisms(Vec<u64>),
    /// An attribute template (one level deep).
    Template(Vec<Attr>),
}

impl Zeroize for Value {
    fn zeroize(&mut self) {
        match self {
            Value::Bytes(b) => b.zeroize(),
            Value::Mechanisms(m) => m.zeroize(),
            Value::Template(t) => t.iter_mut().for_each(|a| a.value.zeroize()),
            Value::Bool(b) => *b = false,
            Value::Ulong(u) => *u = 0,
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Ulong(u) => write!(f, "{u:#x}"),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::Mechanisms(m) => write!(f, "{m:x?}"),
            Value::Template(t) => write!(f, "<template of {}>", t.len()),
        }
    }
}

/// One attribute of a caller's template.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attr {
    /// The attribute type.
    pub ty: CK_ATTRIBUTE_TYPE,
    /// Its value.
    pub value: Value,
}

impl Attr {
    /// A boolean attribute.
    pub fn bool(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Attr {
        Attr {
            ty,
            value: Value::Bool(v),
        }
    }
    /// A `CK_ULONG` attribute.
    pub fn ulong(ty: CK_ATTRIBUTE_TYPE, v: u64) -> Attr {
        Attr {
            ty,
            value: Value::Ulong(v),
        }
    }
    /// A byte-string attribute.
    pub fn bytes(ty: CK_ATTRIBUTE_TYPE, v: impl Into<Vec<u8>>) -> Attr {
        Attr {
            ty,
            value: Value::Bytes(v.into()),
        }
    }
}

/// Why an encoded attribute map could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed object record: {}", self.0)
    }
}
impl std::error::Error for DecodeError {}

const ENCODING_VERSION: u16 = 1;
const TAG_BOOL: u8 = 1;
const TAG_ULONG: u8 = 2;
const TAG_BYTES: u8 = 3;
const TAG_MECHS: u8 = 4;
const TAG_TEMPLATE: u8 = 5;
/// An upper bound on a decoded attribute count, so a corrupt count cannot allocate without bound.
const MAX_ATTRIBUTES: u32 = 4096;

/// The attributes of one object. Byte values are wiped when the map is dropped.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Attributes {
    map: BTreeMap<CK_ATTRIBUTE_TYPE, Value>,
}

impl Drop for Attributes {
    fn drop(&mut self) {
        for v in self.map.values_mut() {
            v.zeroize();
        }
    }
}

impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.map {
            if attr_def(*k).is_some_and(|d| d.secret) {
                m.entry(&format_args!("{k:#x}"), &"<secret>");
            } else {
                m.entry(&format_args!("{k:#x}"), v);
            }
        }
        m.finish()
    }
}

impl Attributes {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of an attribute.
    pub fn get(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&Value> {
        self.map.get(&ty)
    }

    /// Sets an attribute, replacing (and wiping) any earlier value.
    pub fn set(&mut self, ty: CK_ATTRIBUTE_TYPE, value: Value) {
        if let Some(mut old) = self.map.insert(ty, value) {
            old.zeroize();
        }
    }

    /// Sets an attribute only if it is absent.
    pub fn set_default(&mut self, ty: CK_ATTRIBUTE_TYPE, value: Value) {
        self.map.entry(ty).or_insert(value);
    }

    /// Removes an attribute, wiping it.
    pub fn remove(&mut self, ty: CK_ATTRIBUTE_TYPE) {
        if let Some(mut old) = self.map.remove(&ty) {
            old.zeroize();
        }
    }

    /// Whether the attribute is present.
    pub fn contains(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        self.map.contains_key(&ty)
    }

    /// A boolean attribute, or `default` when absent or not boolean.
    pub fn bool_or(&self, ty: CK_ATTRIBUTE_TYPE, default: bool) -> bool {
        match self.map.get(&ty) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    /// A `CK_ULONG` attribute.
    pub fn ulong(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<u64> {
        match self.map.get(&ty) {
            Some(Value::Ulong(u)) => Some(*u),
            _ => None,
        }
    }

    /// A byte-string attribute.
    pub fn bytes(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        match self.map.get(&ty) {
            Some(Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    /// The object class.
    pub fn class(&self) -> Option<CK_OBJECT_CLASS> {
        self.ulong(CKA_CLASS)
    }

    /// The key type, for keys.
    pub fn key_type(&self) -> Option<CK_KEY_TYPE> {
        self.ulong(CKA_KEY_TYPE)
    }

    /// Whether every attribute of `template` is present here with an equal value.
    pub fn matches(&self, template: &[Attr]) -> bool {
        self.matches_all(template)
    }

    /// [`matches`](Self::matches) for any sequence of attributes.
    pub fn matches_all<'a>(&self, template: impl IntoIterator<Item = &'a Attr>) -> bool {
        template
            .into_iter()
            .all(|a| self.map.get(&a.ty).is_some_and(|v| *v == a.value))
    }

    /// Iterates over the attributes in type order.
    pub fn iter(&self) -> impl Iterator<Item = (&CK_ATTRIBUTE_TYPE, &Value)> {
        self.map.iter()
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The encoded size, used for `C_GetObjectSize`.
    pub fn encoded_len(&self) -> usize {
        self.encode().len()
    }

    /// Encodes the map: version u16, count u32, then per attribute type u64, tag u8, length u32,
    /// value; all little-endian. The caller wipes the returned buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.map.len() * 24);
        out.extend_from_slice(&ENCODING_VERSION.to_le_bytes());
        out.extend_from_slice(&(self.map.len() as u32).to_le_bytes());
        for (ty, v) in &self.map {
            encode_attr(&mut out, *ty, v);
        }
        out
    }

    /// Decodes what [`Attributes::encode`] wrote; strict about lengths and tags.
    pub fn decode(buf: &[u8]) -> Result<Attributes, DecodeError> {
        let mut r = Reader { buf, pos: 0 };
        if r.u16()? != ENCODING_VERSION {
            return Err(DecodeError("unsupported encoding version"));
        }
        let count = r.u32()?;
        if count > MAX_ATTRIBUTES {
            return Err(DecodeError("too many attributes"));
        }
        let mut attrs = Attributes::new();
        for _ in 0..count {
            let (ty, value) = decode_attr(&mut r, true)?;
            if attrs.map.insert(ty, value).is_some() {
                return Err(DecodeError("duplicate attribute"));
            }
        }
        if r.pos != buf.len() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(attrs)
    }
}

fn encode_attr(out: &mut Vec<u8>, ty: CK_ATTRIBUTE_TYPE, v: &Value) {
    out.extend_from_slice(&ty.to_le_bytes());
    let (tag, body): (u8, std::borrow::Cow<'_, [u8]>) = match v {
        Value::Bool(b) => (TAG_BOOL, vec![u8::from(*b)].into()),
        Value::Ulong(u) => (TAG_ULONG, u.to_le_bytes().to_vec().into()),
        Value::Bytes(b) => (TAG_BYTES, b.as_slice().into()),
        Value::Mechanisms(m) => (
            TAG_MECHS,
            m.iter()
                .flat_map(|x| x.to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        ),
        Value::Template(t) => {
            let mut inner = (t.len() as u32).to_le_bytes().to_vec();
            for a in t {
                encode_attr(&mut inner, a.ty, &a.value);
            }
            (TAG_TEMPLATE, inner.into())
        }
    };
    out.push(tag);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
}

fn decode_attr(
    r: &mut Reader<'_>,
    nested_ok: bool,
) -> Result<(CK_ATTRIBUTE_TYPE, Value), DecodeError> {
    let ty = r.u64()?;
    let tag = r.u8()?;
    let len = r.u32()? as usize;
    let body = r.take(len)?;
    let value = match (tag, len) {
        (TAG_BOOL, 1) => match body[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ => return Err(DecodeError("bad boolean")),
        },
        (TAG_ULONG, 8) => Value::Ulong(le_u64(body)),
        (TAG_BYTES, _) => Value::Bytes(body.to_vec()),
        (TAG_MECHS, l) if l % 8 == 0 => {
            Value::Mechanisms(body.chunks_exact(8).map(le_u64).collect())
        }
        (TAG_TEMPLATE, _) if nested_ok => {
            let mut inner = Reader { buf: body, pos: 0 };
            let count = inner.u32()?;
            if count > MAX_ATTRIBUTES {
                return Err(DecodeError("too many attributes"));
            }
            let mut t = Vec::new();
            for _ in 0..count {
                let (ty, value) = decode_attr(&mut inner, false)?;
                t.push(Attr { ty, value });
            }
            if inner.pos != body.len() {
                return Err(DecodeError("trailing bytes in template"));
            }
            Value::Template(t)
        }
        _ => return Err(DecodeError("bad attribute tag or length")),
    };
    Ok((ty, value))
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(DecodeError("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(le_u64(self.take(8)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let mut a = Attributes::new();
        a.set(CKA_CLASS, Value::Ulong(CKO_SECRET_KEY));
        a.set(CKA_TOKEN, Value::Bool(true));
        a.set(CKA_VALUE, Value::Bytes(vec![1, 2, 3]));
        a.set(
            CKA_ALLOWED_MECHANISMS,
            Value::Mechanisms(vec![CKM_AES_GCM, CKM_AES_CBC_PAD]),
        );
        let enc = a.encode();
        let b = Attributes::decode(&enc).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.class(), Some(CKO_SECRET_KEY));
        assert_eq!(b.bytes(CKA_VALUE), Some(&[1u8, 2, 3][..]));
    }

    #[test]
    fn decode_rejects_truncation_and_garbage() {
        let mut a = Attributes::new();
        a.set(CKA_LABEL, Value::Bytes(b"hello".to_vec()));
        a.set(CKA_TOKEN, Value::Bool(true));
        let enc = a.encode();
        for cut in 0..enc.len() {
            assert!(Attributes::decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = enc.clone();
        extra.push(0);
        assert!(Attributes::decode(&extra).is_err());
        // A boolean that is neither 0 nor 1.
        let mut only_bool = Attributes::new();
        only_bool.set(CKA_TOKEN, Value::Bool(true));
        let mut bad = only_bool.encode();
        let last = bad.len() - 1;
        bad[last] = 7;
        assert!(Attributes::decode(&bad).is_err());
        // A huge count.
        let mut huge = enc;
        huge[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Attributes::decode(&huge).is_err());
    }

    #[test]
    fn table_has_no_duplicates() {
        for (i, a) in ATTRIBUTES.iter().enumerate() {
            assert!(
                ATTRIBUTES[i + 1..].iter().all(|b| b.ty != a.ty),
                "duplicate {:#x}",
                a.ty
            );
        }
    }

    #[test]
    fn matches_compares_values() {
        let mut a = Attributes::new();
        a.set(CKA_ID, Value::Bytes(vec![1]));
        assert!(a.matches(&[Attr::bytes(CKA_ID, vec![1])]));
        assert!(!a.matches(&[Attr::bytes(CKA_ID, vec![2])]));
        assert!(!a.matches(&[Attr::bool(CKA_TOKEN, true)]));
        assert!(a.matches(&[]));
    }
}
