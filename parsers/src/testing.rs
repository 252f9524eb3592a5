//! Helpers shared by the parsers' tests.

/// Applies byte edits to a sample line: each `(position, byte, op)`
/// overwrites, inserts or deletes one byte. Used by the property tests to
/// turn valid lines into nearly valid ones, where parsers are most likely to
/// slip.
pub fn mutate(base: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = base.as_bytes().to_vec();
    for &(pos, byte, op) in edits {
        let at = if b.is_empty() { 0 } else { pos % (b.len() + 1) };
        match op % 3 {
            0 if at < b.len() => b[at] = byte,
            1 => b.insert(at, byte),
            _ if at < b.len() => {
                b.remove(at);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Calls `check` on both halves of every sample, cut at every character
/// boundary: the lines a parser sees when a read or a limit cuts one.
pub fn for_every_cut(samples: &[&str], mut check: impl FnMut(&str)) {
    for s in samples {
        for (i, _) in s.char_indices() {
            check(&s[..i]);
            check(&s[i..]);
        }
    }
}

/// Up to 12 byte edits for [`mutate`].
pub fn edits() -> impl proptest::strategy::Strategy<Value = Vec<(usize, u8, u8)>> {
    use proptest::prelude::any;
    proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12)
}
