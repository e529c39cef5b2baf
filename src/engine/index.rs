//! The in-memory object index of one token: objects by handle, and the handles of objects by
//! `CKA_ID`, `CKA_LABEL` and `CKA_CLASS`, so that a search touches only the candidates its
//! most selective attribute names, however many objects the token holds.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use cryptoki_sys::*;

use super::{Obj, ObjectHandle};
use crate::object::{Attr, Value};

/// The indexed attributes.
const INDEXED: [CK_ATTRIBUTE_TYPE; 3] = [CKA_ID, CKA_LABEL, CKA_CLASS];

fn key_of(v: &Value) -> Vec<u8> {
    match v {
        Value::Bytes(b) => b.clone(),
        Value::Ulong(u) => u.to_le_bytes().to_vec(),
        Value::Bool(b) => vec![u8::from(*b)],
        Value::Mechanisms(_) | Value::Template(_) => Vec::new(),
    }
}

/// A hasher for the engine's own 64-bit handles: one folded multiplication instead of
/// SipHash, which costs more than the rest of a handle lookup. Handles are chosen by the
/// engine, not by callers, so there is no flooding to defend against; the multiplication
/// spreads every input bit over the high and low halves that the table uses.
#[derive(Default, Clone, Copy)]
pub(crate) struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let m = u128::from(self.0 ^ n).wrapping_mul(u128::from(K));
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by engine handles (sessions, objects).
pub(crate) type HandleMap<V> = HashMap<u64, V, BuildHasherDefault<HandleHasher>>;
/// A set of engine handles.
pub(crate) type HandleSet = HashSet<u64, BuildHasherDefault<HandleHasher>>;

/// The objects carrying one indexed value. Most values (an ID, a label) belong to one object,
/// which is kept inline: no set to allocate, and one memory access less per search.
enum Holders {
    One(ObjectHandle),
    Many(HandleSet),
}

impl Holders {
    fn len(&self) -> usize {
        match self {
            Holders::One(_) => 1,
            Holders::Many(set) => set.len(),
        }
    }

    fn insert(&mut self, h: ObjectHandle) {
        match self {
            Holders::One(first) if *first == h => {}
            Holders::One(first) => {
                let set: HandleSet = [*first, h].into_iter().collect();
                *self = Holders::Many(set);
            }
            Holders::Many(set) => {
                set.insert(h);
            }
        }
    }

    /// Removes a handle; true when none is left.
    fn remove(&mut self, h: ObjectHandle) -> bool {
        match self {
            Holders::One(only) => *only == h,
            Holders::Many(set) => {
                set.remove(&h);
                if set.len() == 1 {
                    if let Some(&last) = set.iter().next() {
                        *self = Holders::One(last);
                    }
                }
                false
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = ObjectHandle> + '_ {
        let (one, many) = match self {
            Holders::One(h) => (Some(*h), None),
            Holders::Many(set) => (None, Some(set.iter().copied())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// Objects of one token, indexed.
#[derive(Default)]
pub(crate) struct ObjectIndex {
    by_handle: HandleMap<Arc<Obj>>,
    by_attr: HashMap<(CK_ATTRIBUTE_TYPE, Vec<u8>), Holders>,
}

impl ObjectIndex {
    /// The object with this handle.
    pub(crate) fn get(&self, h: &ObjectHandle) -> Option<&Arc<Obj>> {
        self.by_handle.get(h)
    }

    /// Every object.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<Obj>> {
        self.by_handle.values()
    }

    fn unindex(&mut self, o: &Obj) {
        for ty in INDEXED {
            if let Some(v) = o.attrs.get(ty) {
                let k = (ty, key_of(v));
                if let Some(holders) = self.by_attr.get_mut(&k) {
                    if holders.remove(o.handle) {
                        self.by_attr.remove(&k);
                    }
                }
            }
        }
    }

    /// Adds or replaces an object.
    pub(crate) fn insert(&mut self, o: Arc<Obj>) {
        if let Some(old) = self.by_handle.remove(&o.handle) {
            self.unindex(&old);
        }
        for ty in INDEXED {
            if let Some(v) = o.attrs.get(ty) {
                match self.by_attr.entry((ty, key_of(v))) {
                    Entry::Occupied(mut e) => e.get_mut().insert(o.handle),
                    Entry::Vacant(e) => {
                        e.insert(Holders::One(o.handle));
                    }
                }
            }
        }
        self.by_handle.insert(o.handle, o);
    }

    /// Removes an object.
    pub(crate) fn remove(&mut self, h: &ObjectHandle) -> Option<Arc<Obj>> {
        let o = self.by_handle.remove(h)?;
        self.unindex(&o);
        Some(o)
    }

    /// Removes everything.
    pub(crate) fn clear(&mut self) {
        self.by_handle.clear();
        self.by_attr.clear();
    }

    /// The objects that may match `template`: those carrying its most selective indexed
    /// attribute, or every object when it names none; and that attribute's type, which the
    /// caller need not compare again.
    pub(crate) fn candidates<'a>(
        &'a self,
        template: &[Attr],
    ) -> (
        Box<dyn Iterator<Item = &'a Arc<Obj>> + 'a>,
        Option<CK_ATTRIBUTE_TYPE>,
    ) {
        let mut best: Option<(&Holders, &Attr)> = None;
        for ty in INDEXED {
            if let Some(a) = template.iter().find(|a| a.ty == ty) {
                match self.by_attr.get(&(ty, key_of(&a.value))) {
                    // Nothing carries this value: nothing can match.
                    None => return (Box::new(std::iter::empty()), None),
                    Some(set) if best.is_none_or(|(b, _)| set.len() < b.len()) => {
                        best = Some((set, a));
                    }
                    Some(_) => {}
                }
            }
        }
        match best {
            Some((set, a)) => {
                // Every object in the set carries this value: the index key is the value's
                // bytes, and the attribute table gives each indexed type one kind of value
                // (`CKA_ID` and `CKA_LABEL` bytes, `CKA_CLASS` a number).
                let it = set.iter().filter_map(|h| self.by_handle.get(&h));
                debug_assert!(set
                    .iter()
                    .filter_map(|h| self.by_handle.get(&h))
                    .all(|o| o.attrs.get(a.ty) == Some(&a.value)));
                (Box::new(it), Some(a.ty))
            }
            None => (Box::new(self.by_handle.values()), None),
        }
    }
}
