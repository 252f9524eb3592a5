//! Sorting a record's fields, remembered. A custom format's parser (the
//! image's nginx and uWSGI formats) pushes its fields in the format's
//! order, the same order for nearly every line, and a stable sort of them
//! (an insertion sort moving 40-byte fields) cost about 1,270 instructions
//! a line. The swaps that sort a sequence of field names are worked out
//! once, and replayed on each line with the same sequence.

use logmux_parsers::{Field, Value};
use smallvec::SmallVec;

/// Field sequences remembered (a pipeline sees a few formats).
const KEPT: usize = 8;
/// Longer sequences are left to [`super::sort_fields`].
const MAX_FIELDS: usize = 64;

#[derive(Debug)]
struct Known {
    keys: SmallVec<[Field; 24]>,
    /// Replayed in order, they sort a record with these keys.
    swaps: SmallVec<[(u8, u8); 24]>,
    /// A key comes twice.
    repeats: bool,
}

#[derive(Debug, Default)]
pub struct FieldOrders {
    known: Vec<Known>,
    /// The entry a new sequence replaces once `KEPT` are known.
    next: usize,
}

impl FieldOrders {
    /// Sorts `fields` by key, stably (of a field pushed twice the first
    /// stays first), as `sort_by_key` does; says whether a key comes twice.
    pub(super) fn sort(&mut self, fields: &mut [(Field, Value<'_>)]) -> bool {
        if fields.len() > MAX_FIELDS {
            fields.sort_by_key(|(f, _)| *f);
            return true;
        }
        let at = match self.known.iter().position(|k| same_keys(&k.keys, fields)) {
            Some(at) => at,
            None => self.learn(fields),
        };
        let Some(known) = self.known.get(at) else {
            return true;
        };
        for &(a, b) in &known.swaps {
            fields.swap(usize::from(a), usize::from(b));
        }
        known.repeats
    }

    /// Works out the swaps that sort `fields`' keys and keeps them;
    /// returns where.
    fn learn(&mut self, fields: &[(Field, Value<'_>)]) -> usize {
        let keys: SmallVec<[Field; 24]> = fields.iter().map(|(f, _)| *f).collect();
        let (swaps, repeats) = swaps_to_sort(&keys);
        let known = Known {
            swaps,
            repeats,
            keys,
        };
        if self.known.len() < KEPT {
            self.known.push(known);
            return self.known.len() - 1;
        }
        let at = self.next % KEPT;
        self.next = at + 1;
        if let Some(slot) = self.known.get_mut(at) {
            *slot = known;
        }
        at
    }
}

fn same_keys(keys: &[Field], fields: &[(Field, Value<'_>)]) -> bool {
    keys.len() == fields.len() && keys.iter().zip(fields).all(|(k, (f, _))| k == f)
}

/// The swaps that put `keys` in order, stably (at most 64 keys), and
/// whether a key comes twice.
fn swaps_to_sort(keys: &[Field]) -> (SmallVec<[(u8, u8); 24]>, bool) {
    let n = keys.len().min(MAX_FIELDS) as u8;
    let key = |i: u8| keys.get(usize::from(i)).copied();
    // order[i]: the key (by its first place) that goes to place i.
    let mut order: SmallVec<[u8; 24]> = (0..n).collect();
    order.sort_by_key(|&i| key(i));
    let repeats = order.windows(2).any(|w| key(w[0]) == key(w[1]));
    // at[p]: the key now at place p; place[k]: where key k now is.
    let mut at: SmallVec<[u8; 24]> = (0..n).collect();
    let mut place: SmallVec<[u8; 24]> = (0..n).collect();
    let mut swaps = SmallVec::new();
    for (i, &want) in (0..n).zip(order.iter()) {
        let (Some(&j), Some(&here)) = (place.get(usize::from(want)), at.get(usize::from(i))) else {
            break;
        };
        if j != i {
            swaps.push((i, j));
            at.swap(usize::from(i), usize::from(j));
            (place[usize::from(want)], place[usize::from(here)]) = (i, j);
        }
    }
    (swaps, repeats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{sort_fields, sort_fields_with};
    use logmux_parsers::field::ALL;
    use logmux_parsers::Record;
    use proptest::prelude::*;

    fn record(keys: &[Field]) -> Record<'static> {
        let mut rec = Record::default();
        for (i, k) in keys.iter().enumerate() {
            rec.push(*k, Value::Int(i as i64));
        }
        rec
    }

    fn fields(rec: &Record<'static>) -> Vec<(Field, Value<'static>)> {
        rec.fields.to_vec()
    }

    #[test]
    fn a_sequence_is_learnt_once_and_replayed() {
        let keys = [
            Field::UrlPath,
            Field::ClientAddress,
            Field::HttpRequestMethod,
            Field::ClientAddress,
        ];
        let mut orders = FieldOrders::default();
        for _ in 0..3 {
            let (mut a, mut b) = (record(&keys), record(&keys));
            sort_fields_with(&mut a, Some(&mut orders));
            sort_fields(&mut b);
            assert_eq!(fields(&a), fields(&b));
        }
        assert_eq!(orders.known.len(), 1);
        // Sorted already: nothing to learn.
        let sorted = [Field::ClientAddress, Field::UrlPath];
        sort_fields_with(&mut record(&sorted), Some(&mut orders));
        assert_eq!(orders.known.len(), 1);
    }

    #[test]
    fn the_oldest_sequence_makes_room() {
        let mut orders = FieldOrders::default();
        let seqs: Vec<[Field; 2]> = ALL
            .windows(2)
            .take(KEPT + 2)
            .map(|w| [w[1], w[0]])
            .collect();
        for seq in &seqs {
            sort_fields_with(&mut record(seq), Some(&mut orders));
        }
        assert_eq!(orders.known.len(), KEPT);
        let kept: Vec<&[Field]> = orders.known.iter().map(|k| k.keys.as_slice()).collect();
        // The two oldest went, in turn.
        for (i, seq) in seqs.iter().enumerate() {
            assert_eq!(kept.contains(&seq.as_slice()), i >= 2, "{i}");
        }
    }

    proptest! {
        /// Remembered or not, the fields come out as `sort_fields` puts
        /// them, a field pushed twice in the order pushed.
        #[test]
        fn replayed_swaps_sort_as_sort_fields_does(
            lines in proptest::collection::vec(
                proptest::collection::vec(0..ALL.len(), 0..40), 1..12),
            repeat in 1usize..4,
        ) {
            let mut orders = FieldOrders::default();
            for _ in 0..repeat {
                for line in &lines {
                    let keys: Vec<Field> = line.iter().map(|&i| ALL[i]).collect();
                    let (mut a, mut b) = (record(&keys), record(&keys));
                    let mut c = record(&keys);
                    sort_fields_with(&mut a, Some(&mut orders));
                    sort_fields(&mut b);
                    // Before the dedup, as sort_by_key leaves them.
                    let repeats = orders.sort(&mut c.fields);
                    let mut by_key = record(&keys);
                    by_key.fields.sort_by_key(|(f, _)| *f);
                    prop_assert_eq!(fields(&c), fields(&by_key));
                    let twice = by_key.fields.windows(2).any(|w| w[0].0 == w[1].0);
                    prop_assert!(repeats || !twice);
                    prop_assert_eq!(fields(&a), fields(&b));
                }
            }
        }
    }
}
