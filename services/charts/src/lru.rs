//! A small bounded LRU map (O(1) get/put) over a slab-backed doubly linked list.

use std::collections::HashMap;
use std::hash::Hash;

const NIL: usize = usize::MAX;

struct Node<K, V> {
    key: K,
    value: V,
    prev: usize,
    next: usize,
}

pub struct Lru<K, V> {
    map: HashMap<K, usize>,
    nodes: Vec<Node<K, V>>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Lru {
            map: HashMap::with_capacity(capacity.min(1 << 16)),
            nodes: Vec::with_capacity(capacity.min(1 << 16)),
            head: NIL,
            tail: NIL,
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
    }

    fn push_front(&mut self, i: usize) {
        self.nodes[i].prev = NIL;
        self.nodes[i].next = self.head;
        if self.head != NIL {
            self.nodes[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    /// The value, marked most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let i = *self.map.get(key)?;
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
        Some(&self.nodes[i].value)
    }

    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Inserts or replaces; evicts the least recently used entry when full.
    pub fn put(&mut self, key: K, value: V) {
        if let Some(&i) = self.map.get(&key) {
            self.nodes[i].value = value;
            if self.head != i {
                self.unlink(i);
                self.push_front(i);
            }
            return;
        }
        let i = if self.nodes.len() < self.capacity {
            self.nodes.push(Node {
                key: key.clone(),
                value,
                prev: NIL,
                next: NIL,
            });
            self.nodes.len() - 1
        } else {
            let i = self.tail;
            self.unlink(i);
            let old = std::mem::replace(
                &mut self.nodes[i],
                Node {
                    key: key.clone(),
                    value,
                    prev: NIL,
                    next: NIL,
                },
            );
            self.map.remove(&old.key);
            i
        };
        self.map.insert(key, i);
        self.push_front(i);
    }

    pub fn remove(&mut self, key: &K) -> Option<V>
    where
        V: Clone,
    {
        let i = self.map.remove(key)?;
        self.unlink(i);
        let last = self.nodes.len() - 1;
        if i != last {
            // Move the last node into the hole and fix its neighbours.
            self.nodes.swap(i, last);
            let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
            if prev == NIL {
                self.head = i;
            } else {
                self.nodes[prev].next = i;
            }
            if next == NIL {
                self.tail = i;
            } else {
                self.nodes[next].prev = i;
            }
            if let Some(slot) = self.map.get_mut(&self.nodes[i].key) {
                *slot = i;
            }
        }
        self.nodes.pop().map(|n| n.value)
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.nodes.clear();
        self.head = NIL;
        self.tail = NIL;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut l = Lru::new(2);
        l.put("a", 1);
        l.put("b", 2);
        assert_eq!(l.get(&"a"), Some(&1));
        l.put("c", 3); // evicts b
        assert!(l.get(&"b").is_none());
        assert_eq!(l.get(&"a"), Some(&1));
        assert_eq!(l.get(&"c"), Some(&3));
        l.put("a", 10);
        l.put("d", 4); // evicts c
        assert!(!l.contains(&"c"));
        assert_eq!(l.get(&"a"), Some(&10));
        assert_eq!(l.len(), 2);
        assert_eq!(l.remove(&"d"), Some(4));
        assert_eq!(l.remove(&"d"), None);
        l.put("e", 5);
        l.put("f", 6); // evicts a
        assert!(!l.contains(&"a"));
        assert_eq!(l.get(&"e"), Some(&5));
        assert_eq!(l.get(&"f"), Some(&6));
        l.clear();
        assert!(l.is_empty());
        l.put("x", 1);
        assert_eq!(l.get(&"x"), Some(&1));
    }

    #[test]
    fn stays_bounded_under_churn() {
        let mut l = Lru::new(100);
        for i in 0..10_000 {
            l.put(i, i);
            if i % 3 == 0 {
                let _ = l.get(&(i / 2));
            }
        }
        assert_eq!(l.len(), 100);
        for i in 9_950..10_000 {
            assert!(l.contains(&i));
        }
    }
}
