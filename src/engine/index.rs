//! The in-memory object index of one token: objects by handle, and the handles of objects by
//! `CKA_ID`, `CKA_LABEL` and `CKA_CLASS`, so that a search touches only the candidates its
//! most selective attribute names, however many objects the token holds.

use std::collections::{HashMap, HashSet};
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

/// Objects of one token, indexed.
#[derive(Default)]
pub(crate) struct ObjectIndex {
    by_handle: HashMap<ObjectHandle, Arc<Obj>>,
    by_attr: HashMap<(CK_ATTRIBUTE_TYPE, Vec<u8>), HashSet<ObjectHandle>>,
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
                if let Some(set) = self.by_attr.get_mut(&k) {
                    set.remove(&o.handle);
                    if set.is_empty() {
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
                self.by_attr
                    .entry((ty, key_of(v)))
                    .or_default()
                    .insert(o.handle);
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
    /// attribute, or every object when it names none.
    pub(crate) fn candidates<'a>(
        &'a self,
        template: &[Attr],
    ) -> Box<dyn Iterator<Item = &'a Arc<Obj>> + 'a> {
        let mut best: Option<&HashSet<ObjectHandle>> = None;
        for ty in INDEXED {
            if let Some(a) = template.iter().find(|a| a.ty == ty) {
                match self.by_attr.get(&(ty, key_of(&a.value))) {
                    // Nothing carries this value: nothing can match.
                    None => return Box::new(std::iter::empty()),
                    Some(set) if best.is_none_or(|b| set.len() < b.len()) => best = Some(set),
                    Some(_) => {}
                }
            }
        }
        match best {
            Some(set) => Box::new(set.iter().filter_map(|h| self.by_handle.get(h))),
            None => Box::new(self.by_handle.values()),
        }
    }
}
