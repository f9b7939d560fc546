//! A map with a size bound, for the memos an isolate keeps between requests (parsed bodies,
//! token specs, answers): when it is full, the next new key starts it again from empty. Simple
//! and cheap on the hot path; the cost of a reset is one more computation per key.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// A map that holds at most `max` entries; inserting a new key into a full one empties it first.
#[derive(Debug)]
pub struct Bounded<K, V> {
    map: HashMap<K, V>,
    max: usize,
}

impl<K: Hash + Eq, V> Bounded<K, V> {
    /// An empty map that holds at most `max` entries (at least 1).
    pub fn new(max: usize) -> Self {
        Self {
            map: HashMap::new(),
            max: max.max(1),
        }
    }

    /// The value kept for `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    /// The value kept for `key`, to change in place.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(key)
    }

    /// Keeps `value` for `key` (replacing what was kept for it) and answers it. A new key in a
    /// full map empties the map first.
    pub fn insert(&mut self, key: K, value: V) -> &V {
        if self.map.len() >= self.max && !self.map.contains_key(&key) {
            self.map.clear();
        }
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                e.insert(value);
                e.into_mut()
            }
            std::collections::hash_map::Entry::Vacant(e) => e.insert(value),
        }
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_max_and_starts_again_when_full() {
        let mut m = Bounded::new(2);
        assert_eq!(*m.insert("a".to_owned(), 1), 1);
        m.insert("b".to_owned(), 2);
        // Replacing a kept key does not empty it.
        assert_eq!(*m.insert("a".to_owned(), 3), 3);
        assert_eq!((m.len(), m.get("a"), m.get("b")), (2, Some(&3), Some(&2)));
        // A new key in a full map: only the new key is left.
        m.insert("c".to_owned(), 4);
        assert_eq!((m.len(), m.get("a"), m.get("c")), (1, None, Some(&4)));
        *m.get_mut("c").expect("kept") += 1;
        assert_eq!(m.get("c"), Some(&5));
        assert!(!m.is_empty());
        assert_eq!(Bounded::<u8, u8>::new(0).max, 1);
    }
}
