//! JSON output, written by hand because it is the hot path: about a third of
//! the time per line. Keys are written nested (`{"http":{"response":…}}`) in
//! one pass over the sorted fields, or flat and dotted.

use std::sync::OnceLock;

use logmux_parsers::field::ALL;
use logmux_parsers::scan::load_block;
use logmux_parsers::{Field, Value};
use smallvec::SmallVec;

use super::cursor::Cursor;
use super::float_text;
use super::{keeps_original, message, Encoder, Event, KeyStyle};

/// Top-level keys the envelope always writes; a JSON line's own keys with
/// these names are not merged (the raw line in `message` still has them).
const ENVELOPE_KEYS: [&str; 5] = [
    "timestamp",
    "observed_timestamp",
    "severity_text",
    "severity_number",
    "message",
];

pub(super) fn encode(enc: &Encoder, event: &Event<'_, '_>, out: &mut Vec<u8>) {
    let record = event.record;
    out.extend_from_slice(b"{\"timestamp\":\"");
    enc.write_timestamp(event, out);

    let original = keeps_original(event).then(|| Value::str(event.raw));
    let invalid = record.invalid_utf8.then_some(Value::Bool(true));
    let format = Value::str(record.format.name());
    // The fields the engine derives are merged in order with the sorted
    // record fields, so the record itself need not be touched.
    let mut derived: SmallVec<[(Field, &Value<'_>); 3]> = SmallVec::new();
    if let Some(v) = &original {
        derived.push((Field::LogRecordOriginal, v));
    }
    derived.push((Field::LogmuxFormat, &format));
    if let Some(v) = &invalid {
        derived.push((Field::LogmuxInvalidUtf8, v));
    }
    let nested = enc.keys == KeyStyle::Nested;
    if nested && record.extra.is_empty() {
        let mut c = Cursor::new(out);
        write_envelope_rest(&mut c, event);
        write_nested(&mut c, &record.fields, &derived);
        end_event(c);
    } else {
        encode_keyed(event, out, derived, nested);
    }
}

/// [`encode`] for dotted keys or merged keys: the key writer's way. Out of
/// line, so that the usual event's cursor never has its address taken and
/// stays in registers.
#[inline(never)]
fn encode_keyed<'d>(
    event: &Event<'_, '_>,
    out: &mut Vec<u8>,
    derived: SmallVec<[(Field, &'d Value<'d>); 3]>,
    nested: bool,
) {
    let record = event.record;
    let mut c = Cursor::new(out);
    write_envelope_rest(&mut c, event);
    let mut writer = KeyWriter {
        c: &mut c,
        open: SmallVec::new(),
        nested,
        after: Some(None),
        // Built at the first nested event only: dotted keys never use it.
        transitions: if nested { transitions() } else { &[] },
    };
    if record.extra.is_empty() {
        for (field, value) in InOrder::new(&record.fields, &derived) {
            writer.static_field(field, value);
        }
    } else {
        write_with_extra(&mut writer, record, derived);
    }
    writer.close_all();
    end_event(c);
}

/// Closes the event's object and its line, and sets the buffer's length.
#[inline(always)]
fn end_event(mut c: Cursor<'_>) {
    c.room(2);
    c.put_slice(b"}\n");
    c.finish();
}

/// The envelope after its time: `observed_timestamp`, the severity and
/// `message`.
#[inline(always)]
fn write_envelope_rest(c: &mut Cursor<'_>, event: &Event<'_, '_>) {
    let record = event.record;
    let severity = record.severity.unwrap_or_default();
    c.room(event.observed.len() + 64);
    c.put_slice(b"\",\"observed_timestamp\":\"");
    c.put_short(event.observed);
    c.put_slice(b"\",\"severity_text\":");
    match &record.severity_text {
        Some(word) => write_str(c, word),
        None => {
            let text = severity.text().as_bytes();
            c.room(text.len() + 2);
            c.put(b'"');
            c.put_short(text);
            c.put(b'"');
        }
    }
    c.room(20);
    c.put_slice(b",\"severity_number\":");
    write_int(c, i64::from(severity.number()));
    c.room(11);
    c.put_slice(b",\"message\":");
    write_str(c, message(event));
}

/// Schema fields with nested keys after the envelope (the usual event):
/// each field is the bytes from the one before and its value. The
/// record's fields run in loops of their own (inlined, no call per field)
/// between the derived ones, each of which goes after the record's fields
/// that sort before it or equal it; then the last field's objects are
/// closed. Merging the two lists field by field cost a tenth of the event.
#[inline(always)]
fn write_nested(
    c: &mut Cursor<'_>,
    fields: &[(Field, Value<'_>)],
    derived: &[(Field, &Value<'_>)],
) {
    let table = transitions();
    let mut prev = None;
    let mut rest = fields;
    for &(field, value) in derived {
        let (before, after) = rest.split_at(rest.partition_point(|(f, _)| *f <= field));
        prev = write_run(c, table, prev, before);
        write_transition(c, table, prev, field);
        write_value(c, value);
        prev = Some(field);
        rest = after;
    }
    prev = write_run(c, table, prev, rest);
    let open = prev.map_or(0, |f| parents_of(f).len());
    c.room(open);
    // A slice of a row of braces: a loop of `put` was a `memset` call.
    const BRACES: &[u8; 16] = b"}}}}}}}}}}}}}}}}";
    match BRACES.get(..open) {
        Some(braces) => c.put_short(braces),
        None => (0..open).for_each(|_| c.put(b'}')),
    }
}

/// Sorted schema fields after `prev`, with nested keys; the last one's name.
#[inline(always)]
fn write_run(
    c: &mut Cursor<'_>,
    table: &[Transition],
    mut prev: Option<Field>,
    fields: &[(Field, Value<'_>)],
) -> Option<Field> {
    for (field, value) in fields {
        write_transition(c, table, prev, *field);
        write_value(c, value);
        prev = Some(*field);
    }
    prev
}

/// A record's sorted fields and the derived ones merged in schema order
/// (a derived field after a record field of the same name).
struct InOrder<'s, 'v, 'd> {
    fields: std::slice::Iter<'s, (Field, Value<'v>)>,
    derived: std::slice::Iter<'s, (Field, &'d Value<'d>)>,
    next_field: Option<&'s (Field, Value<'v>)>,
    next_derived: Option<&'s (Field, &'d Value<'d>)>,
}

impl<'s, 'v, 'd> InOrder<'s, 'v, 'd> {
    fn new(fields: &'s [(Field, Value<'v>)], derived: &'s [(Field, &'d Value<'d>)]) -> Self {
        let (mut fields, mut derived) = (fields.iter(), derived.iter());
        let (next_field, next_derived) = (fields.next(), derived.next());
        InOrder {
            fields,
            derived,
            next_field,
            next_derived,
        }
    }
}

impl<'s> Iterator for InOrder<'s, '_, '_> {
    type Item = (Field, &'s Value<'s>);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        match (self.next_field, self.next_derived) {
            (Some((field, _)), Some((f, v))) if f < field => {
                self.next_derived = self.derived.next();
                Some((*f, *v))
            }
            (Some((field, value)), _) => {
                self.next_field = self.fields.next();
                Some((*field, value))
            }
            (None, Some((f, v))) => {
                self.next_derived = self.derived.next();
                Some((*f, *v))
            }
            (None, None) => None,
        }
    }
}

/// The record's fields, the derived ones and the merged keys, in byte order.
fn write_with_extra<'k, 'v: 'k, 'd>(
    writer: &mut KeyWriter<'_, '_, 'k>,
    record: &'k logmux_parsers::Record<'v>,
    derived: SmallVec<[(Field, &'d Value<'d>); 3]>,
) {
    let mut derived = derived.into_iter().peekable();
    let mut extra = record
        .extra
        .iter()
        .filter(|(k, _)| !collides(k, record) && !shadowed(k, &record.extra))
        .peekable();

    for (field, value) in record.fields.iter() {
        write_merged(writer, &mut derived, &mut extra, Some(field.name()));
        writer.static_field(*field, value);
    }
    write_merged(writer, &mut derived, &mut extra, None);
}

/// Writes the derived fields and merged keys that sort before `bound`
/// (all of them for `None`), the two interleaved in byte order so that
/// each nested object is written once.
fn write_merged<'k, 'v: 'k, 'd>(
    writer: &mut KeyWriter<'_, '_, 'k>,
    derived: &mut std::iter::Peekable<impl Iterator<Item = (Field, &'d Value<'d>)>>,
    extra: &mut std::iter::Peekable<
        impl Iterator<Item = &'k (std::borrow::Cow<'v, str>, Value<'v>)>,
    >,
    bound: Option<&str>,
) {
    let before = |name: &str| bound.is_none_or(|b| name < b);
    loop {
        let next_derived = derived.peek().map(|(f, _)| f.name()).filter(|n| before(n));
        let next_extra = extra.peek().map(|(k, _)| k.as_ref()).filter(|n| before(n));
        match (next_derived, next_extra) {
            (Some(d), Some(e)) if d > e => {
                if let Some((k, v)) = extra.next() {
                    writer.dynamic_field(k, v);
                }
            }
            (Some(_), _) => {
                if let Some((f, v)) = derived.next() {
                    writer.static_field(f, v);
                }
            }
            (None, Some(_)) => {
                if let Some((k, v)) = extra.next() {
                    writer.dynamic_field(k, v);
                }
            }
            (None, None) => break,
        }
    }
}

/// Whether a merged key would clash with a key logmux writes itself. A
/// plain key (`"service"`, `"log"`) would replace one of logmux's objects;
/// a dotted key (`"service.version"`, from a merged logmux event) nests
/// beside logmux's own fields unless it names one of them, or a parent or
/// child of one.
fn collides(key: &str, record: &logmux_parsers::Record<'_>) -> bool {
    let top = key.split('.').next().unwrap_or(key);
    if ENVELOPE_KEYS.contains(&top) {
        return true;
    }
    if top.len() == key.len() {
        return ["log", "logmux"].contains(&top)
            || record
                .fields
                .iter()
                .any(|(f, _)| f.path().first() == Some(&top));
    }
    DERIVED.iter().any(|d| nests(key, d)) || record.fields.iter().any(|(f, _)| nests(key, f.name()))
}

/// Whether another merged key is a dotted parent of `key` (`a` for `a.b`,
/// or `a.b` for `a.b.c`): nested, both would write `a`, so the shorter key
/// wins and the longer one stays only in the raw line. Also a key inside
/// any schema field (`service.name.x`), which would make the field an object.
fn shadowed<V>(key: &str, extra: &[(std::borrow::Cow<'_, str>, V)]) -> bool {
    if !key.contains('.') {
        return false;
    }
    key.match_indices('.').any(|(at, _)| {
        let parent = key.get(..at).unwrap_or("");
        Field::from_name(parent).is_some() || extra.iter().any(|(k, _)| k == parent)
    })
}

/// Fields the encoder derives from the record rather than its field list.
const DERIVED: [&str; 3] = [
    "log.record.original",
    "logmux.format",
    "logmux.invalid_utf8",
];

/// Whether two dotted names are the same, or one is a parent of the other.
fn nests(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.starts_with(short) && matches!(long.as_bytes().get(short.len()), None | Some(b'.'))
}

/// Writes `"key":value` pairs, opening and closing nested objects as the
/// dotted prefixes change. Relies on keys arriving in byte order.
struct KeyWriter<'w, 'o, 'k> {
    c: &'w mut Cursor<'o>,
    /// The objects open (when `after` is `None`).
    open: SmallVec<[&'k str; 6]>,
    nested: bool,
    /// `Some(f)`: the last key written was schema field `f` (`Some(None)`:
    /// none yet), so the objects open are its parents and `open` is not
    /// kept up to date; `None`: `open` says what is open.
    after: Option<Option<Field>>,
    /// [`transitions`], looked up once an event rather than once a field.
    transitions: &'static [Transition],
}

impl<'k> KeyWriter<'_, '_, 'k> {
    fn static_field(&mut self, field: Field, value: &Value<'_>) {
        if self.nested {
            match self.after {
                // Schema field after schema field: the bytes between them
                // are always the same, so they are looked up, not built.
                Some(prev) => write_transition(self.c, self.transitions, prev, field),
                None => {
                    let Some((leaf, parents)) = field.path().split_last() else {
                        return;
                    };
                    self.open_parents(parents, false);
                    self.key(leaf, false);
                }
            }
            self.after = Some(Some(field));
            write_value(self.c, value);
        } else {
            self.c.room(1);
            self.c.put(b',');
            write_plain_key(self.c, field.name());
            write_value(self.c, value);
        }
    }

    fn dynamic_field(&mut self, key: &'k str, value: &Value<'_>) {
        if self.nested {
            let segments: SmallVec<[&'k str; 8]> = key.split('.').collect();
            self.path(&segments, value, true);
        } else {
            match value {
                Value::RawJson(raw) if raw.starts_with('{') => {
                    write_flattened(self.c, key, raw, &mut Vec::new());
                }
                _ => write_flat(self.c, key, value),
            }
        }
    }

    fn path(&mut self, segments: &[&'k str], value: &Value<'_>, escape: bool) {
        let Some((leaf, parents)) = segments.split_last() else {
            return;
        };
        if let Some(prev) = self.after.take() {
            self.open = prev
                .map(|f| parents_of(f).iter().copied().collect())
                .unwrap_or_default();
        }
        self.open_parents(parents, escape);
        self.key(leaf, escape);
        write_value(self.c, value);
    }

    /// Closes the objects not in `parents` and opens the missing ones.
    fn open_parents(&mut self, parents: &[&'k str], escape: bool) {
        let common = self
            .open
            .iter()
            .zip(parents)
            .take_while(|(a, b)| same(a, b))
            .count();
        while self.open.len() > common {
            self.open.pop();
            self.c.room(1);
            self.c.put(b'}');
        }
        for seg in &parents[common..] {
            self.key(seg, escape);
            // The NUL marks "no key yet" so the first key takes no comma.
            self.c.room(2);
            self.c.put_slice(b"{\x00");
            self.open.push(seg);
        }
    }

    fn key(&mut self, key: &str, escape: bool) {
        // A NUL placeholder marks "first key of an object": replace it
        // rather than tracking a flag per depth.
        if self.c.last() == Some(0) {
            self.c.pop();
        } else {
            self.c.room(1);
            self.c.put(b',');
        }
        if escape {
            write_str(self.c, key);
            self.c.room(1);
            self.c.put(b':');
        } else {
            write_plain_key(self.c, key);
        }
    }

    fn close_all(&mut self) {
        if let Some(prev) = self.after.take() {
            self.open = prev
                .map(|f| parents_of(f).iter().copied().collect())
                .unwrap_or_default();
        }
        while self.open.pop().is_some() {
            self.c.room(1);
            self.c.put(b'}');
        }
    }
}

/// A schema field's parent objects (`http.response.status_code`: `http`, `response`).
fn parents_of(field: Field) -> &'static [&'static str] {
    field
        .path()
        .split_last()
        .map_or(&[], |(_, parents)| parents)
}

/// The bytes between two schema fields' values (see [`write_transition`]).
enum Transition {
    /// Up to 32 bytes, padded and stored in place: copied with two
    /// fixed-size stores and no pointer to follow.
    Short { padded: [u8; 32], len: u8 },
    /// The rare longer ones (deep keys after deep keys).
    Long(Box<[u8]>),
}

/// The table [`write_transition`] reads: for every pair of schema fields
/// (the first may be `None`, the envelope), the bytes between their values.
fn transitions() -> &'static [Transition] {
    static TABLE: OnceLock<Vec<Transition>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Vec::with_capacity((ALL.len() + 1) * ALL.len());
        for prev in std::iter::once(None).chain(ALL.iter().copied().map(Some)) {
            for &field in ALL {
                let bytes = build_transition(prev, field);
                let mut padded = [0u8; 32];
                table.push(match padded.get_mut(..bytes.len()) {
                    Some(start) => {
                        start.copy_from_slice(&bytes);
                        // At most 32: the slice fitted.
                        let len = bytes.len() as u8;
                        Transition::Short { padded, len }
                    }
                    None => Transition::Long(bytes),
                });
            }
        }
        table
    })
}

/// The bytes between schema field `prev`'s value (`None`: the envelope's
/// last value) and `field`'s value, with nested keys: the objects to close,
/// a comma, the objects to open and the key, e.g. `},"response":{"status_code":`.
/// Built once for every pair of fields (73 × 72 entries of 40 bytes,
/// about 205 KiB: less than the boxed bytes and their index were).
#[inline(always)]
fn write_transition(c: &mut Cursor<'_>, table: &[Transition], prev: Option<Field>, field: Field) {
    let row = prev.map_or(0, |p| p as usize + 1);
    let Some(t) = table.get(row * ALL.len() + field as usize) else {
        return;
    };
    match t {
        Transition::Short { padded, len } => {
            c.room(padded.len());
            // SAFETY: `room` made room for the 32 bytes stored; the length
            // grows by `len`, at most 32.
            unsafe {
                std::ptr::write_unaligned(c.spare().cast::<[u8; 32]>(), *padded);
                c.advance(usize::from(*len));
            }
        }
        Transition::Long(bytes) => {
            c.room(bytes.len());
            c.put_slice(bytes);
        }
    }
}

fn build_transition(prev: Option<Field>, field: Field) -> Box<[u8]> {
    let before = prev.map_or(&[][..], parents_of);
    let (leaf, parents) = field.path().split_last().unwrap_or((&"", &[]));
    let common = before
        .iter()
        .zip(parents)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = vec![b'}'; before.len() - common];
    // The object at depth `common` already has a member: prev's, or the envelope's.
    out.push(b',');
    for seg in &parents[common..] {
        push_plain_key(&mut out, seg);
        out.push(b'{');
    }
    push_plain_key(&mut out, leaf);
    out.into_boxed_slice()
}

/// Segment equality; the schema's own segments are usually the same
/// literal, so the pointer check answers first.
#[inline]
fn same(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// `"key":` for a schema name, which never needs escaping.
#[inline]
fn write_plain_key(c: &mut Cursor<'_>, key: &str) {
    c.room(key.len() + 3);
    c.put(b'"');
    c.put_slice(key.as_bytes());
    c.put_slice(b"\":");
}

/// `,"key":` for a `build_transition` table entry, written to a vector.
fn push_plain_key(out: &mut Vec<u8>, key: &str) {
    let mut c = Cursor::new(out);
    write_plain_key(&mut c, key);
    c.finish();
}

fn write_flat(c: &mut Cursor<'_>, key: &str, value: &Value<'_>) {
    c.room(1);
    c.put(b',');
    write_str(c, key);
    c.room(1);
    c.put(b':');
    write_value(c, value);
}

/// With `--keys dotted`, a merged object is written as one dotted key per
/// leaf (`"user":{"id":7}` as `"user.id":7`); an empty object stays `{}`.
/// A dotted name that two members would both write (`{"b.c":1,"b":{"c":2}}`)
/// is written once, the first in key order, so the line stays valid JSON.
fn write_flattened(c: &mut Cursor<'_>, key: &str, raw: &str, seen: &mut Vec<String>) {
    let members = logmux_parsers::json::object(raw).filter(|m| !m.is_empty());
    let Some(members) = members else {
        if !seen.iter().any(|k| k == key) {
            seen.push(key.to_owned());
            write_flat(c, key, &Value::RawJson(raw.into()));
        }
        return;
    };
    for (k, v) in members {
        let name = format!("{key}.{k}");
        let text = v.get();
        if text.starts_with('{') {
            write_flattened(c, &name, text, seen);
        } else if !seen.contains(&name) {
            write_flat(c, &name, &Value::RawJson(text.into()));
            seen.push(name);
        }
    }
}

/// Inlined: called once a field, its call's own cost (saving and restoring
/// registers) was a fifth of a short value's (callgrind).
#[inline(always)]
fn write_value(c: &mut Cursor<'_>, value: &Value<'_>) {
    match value {
        Value::Str(s) => write_str(c, s),
        Value::Int(i) => write_int(c, *i),
        Value::Float(f) => write_float(c, *f),
        Value::Bool(b) => {
            c.room(5);
            c.put_slice(if *b { b"true" } else { b"false" });
        }
        Value::RawJson(raw) => {
            c.room(raw.len());
            c.put_slice(raw.as_bytes());
        }
        Value::FloatList(list) => {
            c.room(1);
            c.put(b'[');
            for (i, f) in list.iter().enumerate() {
                if i > 0 {
                    c.room(1);
                    c.put(b',');
                }
                write_float(c, *f);
            }
            c.room(1);
            c.put(b']');
        }
    }
}

/// An integer in decimal. Up to three digits (a status code, a severity
/// number) as bytes of a known count; itoa's text, whose length the
/// compiler cannot know, was a `memcpy` call.
#[inline(always)]
fn write_int(c: &mut Cursor<'_>, i: i64) {
    let digit = |d: i64| b'0' + (d % 10) as u8;
    // i64's longest text, `-9223372036854775808`, is 20 bytes.
    c.room(20);
    match i {
        0..=9 => c.put(digit(i)),
        10..=99 => c.put_slice(&[digit(i / 10), digit(i)]),
        100..=999 => c.put_slice(&[digit(i / 100), digit(i / 10), digit(i)]),
        _ => c.put_short(itoa::Buffer::new().format(i).as_bytes()),
    }
}

#[inline(always)]
fn write_float(c: &mut Cursor<'_>, f: f64) {
    let mut text = [0u8; FLOAT_TEXT];
    let n = float_json(f, &mut text);
    c.room(FLOAT_TEXT);
    c.put_short(text.get(..n).unwrap_or_default());
}

/// ryu's longest text, `-1.7976931348623157e308`, is 24 bytes.
const FLOAT_TEXT: usize = 24;
// The short way's text fits too.
const _: () = assert!(float_text::MAX_LEN <= FLOAT_TEXT);

/// `f` as JSON into `text` (`null` when not finite); its length. Out of
/// line, cold and given no cursor: a cursor whose address is taken leaves
/// the registers for the whole event, and inlined code grows the event's
/// loop (+1 to +2 % instructions on nginx's `combined`, which has no float).
#[cold]
#[inline(never)]
fn float_json(f: f64, text: &mut [u8; FLOAT_TEXT]) -> usize {
    if let Some(n) = float_text::few_decimals(f, text) {
        return n;
    }
    if f.is_finite() {
        copy_into(ryu::Buffer::new().format_finite(f).as_bytes(), text)
    } else {
        copy_into(b"null", text)
    }
}

/// Copies `from` to the start of `to` (as much as fits); its length.
fn copy_into(from: &[u8], to: &mut [u8]) -> usize {
    let n = from.len().min(to.len());
    to[..n].copy_from_slice(&from[..n]);
    n
}

/// Appends `s` as a quoted JSON string.
///
/// This is the hottest loop of the program: bytes are checked sixteen at a
/// time (SSE2 on x86_64, two SWAR words elsewhere) for control characters,
/// `"` and `\\`, and each block is stored whole into the spare capacity (one
/// store, no `memcpy` call per run of plain bytes); the length then stops at
/// the first byte to escape.
pub fn escape_json_str(out: &mut Vec<u8>, s: &str) {
    let mut c = Cursor::new(out);
    write_str(&mut c, s);
    c.finish();
}

/// [`escape_json_str`], inlined where events are encoded: the call's own
/// cost was a third of a short value's. Room is made once a run of plain
/// bytes (one check, then stores with none), for the run, its last block
/// stored whole, the escape after it and the closing quote: never more
/// than the string's length and a few bytes, so a long line grows the
/// buffer once, to its size.
#[inline(always)]
fn write_str(c: &mut Cursor<'_>, s: &str) {
    // Before each run: room for it, its last block stored whole (16), one
    // escape (6 at most) and the closing quote. The first time, the
    // opening quote too: a string with nothing to escape is one check.
    const AFTER_RUN: usize = 16 + 6 + 1;
    let bytes = s.as_bytes();
    c.room(bytes.len() + AFTER_RUN + 1);
    // Most values are short and plain (an address, a method, a name):
    // one padded block, checked and stored whole between the quotes.
    if bytes.len() < 16 {
        let block = load_block(bytes);
        if first_escape(&block) >= bytes.len() {
            // SAFETY: room was made for `len + 24` bytes; the quote, the
            // 16-byte block and the closing quote (at `1 + len <= 16`) end
            // within 17 bytes. The length grows by the `len + 2` written.
            unsafe {
                let dst = c.spare();
                dst.write(b'"');
                std::ptr::write_unaligned(dst.add(1).cast::<[u8; 16]>(), block);
                dst.add(1 + bytes.len()).write(b'"');
                c.advance(bytes.len() + 2);
            }
            return;
        }
    }
    c.put(b'"');
    let mut i = 0;
    loop {
        i += copy_plain(c, bytes.get(i..).unwrap_or(&[]));
        match bytes.get(i) {
            // `"` and `\\` (most escapes, in quoted log lines) inline.
            Some(&b @ (b'"' | b'\\')) => {
                c.put_slice(&[b'\\', b]);
                i += 1;
            }
            Some(&b) => {
                write_escape(c, b);
                i += 1;
            }
            None => break,
        }
        c.room(bytes.len().saturating_sub(i) + AFTER_RUN);
    }
    c.put(b'"');
}

/// Appends the longest start of `bytes` that needs no escaping and returns
/// its length. Whole blocks are read straight from `bytes`; the last,
/// partial one is the last 16 bytes (their start already checked) or,
/// under 16 bytes in all, a padded block. The caller made room for
/// `bytes.len() + 16`.
#[inline(always)]
fn copy_plain(c: &mut Cursor<'_>, bytes: &[u8]) -> usize {
    let mut n = 0;
    // SAFETY: the caller made room for `bytes.len() + 16` more bytes. Whole
    // blocks are read at `n + 16 <= bytes.len()` and stored within that
    // room; the last 16 bytes are read at `bytes.len() - 16` and stored
    // there, ending at `bytes.len()`; the padded block of a short `bytes`
    // is stored at `n < bytes.len()`, ending before `bytes.len() + 16`.
    // The length grows only by the `n` bytes (at most `bytes.len()`) that
    // were written and need no escape.
    unsafe {
        let dst = c.spare();
        while n + 16 <= bytes.len() {
            let block: [u8; 16] = std::ptr::read_unaligned(bytes.as_ptr().add(n).cast());
            std::ptr::write_unaligned(dst.add(n).cast::<[u8; 16]>(), block);
            let at = first_escape(&block);
            if at < 16 {
                c.advance(n + at);
                return n + at;
            }
            n += 16;
        }
        let rest = bytes.get(n..).unwrap_or(&[]);
        if !rest.is_empty() {
            if let Some(from) = bytes.len().checked_sub(16) {
                // The loop checked `[from, n)` as part of a whole block: the
                // first escape here, if any, is at `n` or after.
                let block: [u8; 16] = std::ptr::read_unaligned(bytes.as_ptr().add(from).cast());
                std::ptr::write_unaligned(dst.add(from).cast::<[u8; 16]>(), block);
                n = from + first_escape(&block);
            } else {
                let block = load_block(rest);
                std::ptr::write_unaligned(dst.add(n).cast::<[u8; 16]>(), block);
                n += first_escape(&block).min(rest.len());
            }
        }
        c.advance(n);
    }
    n
}

/// The index of the first byte of `block` that JSON must escape, or 16.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn first_escape(block: &[u8; 16]) -> usize {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 CPU; the load reads exactly the
    // 16 bytes of `block` and needs no alignment.
    let mask = unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        let low = _mm_set1_epi8(0x1f);
        // max(v, 0x1f) == 0x1f exactly when v <= 0x1f (unsigned).
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash)))
    };
    (mask as u32 | 1 << 16).trailing_zeros() as usize
}

/// The index of the first byte of `block` that JSON must escape, or 16.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn first_escape(block: &[u8; 16]) -> usize {
    let (a, b) = block.split_at(8);
    let word = |h: &[u8]| u64::from_le_bytes(h.try_into().unwrap_or([b' '; 8]));
    let (ma, mb) = (escape_mask(word(a)), escape_mask(word(b)));
    if ma != 0 {
        (ma.trailing_zeros() / 8) as usize
    } else if mb != 0 {
        8 + (mb.trailing_zeros() / 8) as usize
    } else {
        16
    }
}

/// The high bit of each byte of `w` that is below 0x20, `"` or `\\`. The
/// lowest set bit is always exact (borrows only run upwards).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below_space | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\')))
}

/// One escaped byte, six at most; the caller made room. Inlined: a call
/// would take the cursor's address and keep it out of registers.
#[inline(always)]
fn write_escape(c: &mut Cursor<'_>, b: u8) {
    match b {
        b'"' => c.put_slice(b"\\\""),
        b'\\' => c.put_slice(b"\\\\"),
        b'\n' => c.put_slice(b"\\n"),
        b'\r' => c.put_slice(b"\\r"),
        b'\t' => c.put_slice(b"\\t"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            c.put_slice(b"\\u00");
            c.put(HEX[usize::from(b >> 4)]);
            c.put(HEX[usize::from(b & 0xF)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use logmux_parsers::{Format, Record, Severity, Timestamp};

    use super::super::test_support::encode_with;
    use super::*;

    fn parse(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("invalid JSON {e}: {s}"))
    }

    #[test]
    fn integers_are_written_as_their_decimal_text() {
        for i in [
            i64::MIN,
            -1000,
            -999,
            -1,
            0,
            1,
            9,
            10,
            42,
            99,
            100,
            404,
            999,
            1000,
            123_456,
            i64::MAX,
        ] {
            let mut out = b"x".to_vec();
            let mut c = Cursor::new(&mut out);
            write_int(&mut c, i);
            c.finish();
            assert_eq!(out, format!("x{i}").into_bytes(), "{i}");
        }
    }

    #[test]
    fn nests_dotted_names() {
        let mut r = Record {
            format: Format::NginxAccess,
            severity: Some(Severity::WARN),
            ..Default::default()
        };
        r.push_int(Field::HttpResponseStatusCode, 404);
        r.push_str(Field::HttpRequestMethod, "GET");
        r.push_str(Field::ServiceName, "nginx");
        r.push_str(Field::ClientAddress, "::1");
        r.push(Field::HttpServerRequestDuration, Value::Float(0.035));
        let out = encode_with(Encoder::json(), &mut r, "raw \"line\"");
        assert!(out.ends_with("}\n") && out.matches('\n').count() == 1);
        let v = parse(&out);
        assert_eq!(v["http"]["response"]["status_code"], 404);
        assert_eq!(v["http"]["request"]["method"], "GET");
        assert_eq!(v["http"]["server"]["request"]["duration"], 0.035);
        assert_eq!(v["client"]["address"], "::1");
        assert_eq!(v["service"]["name"], "nginx");
        assert_eq!(v["logmux"]["format"], "nginx.access");
        assert_eq!(v["message"], "raw \"line\"");
        assert_eq!(v["severity_text"], "WARN");
        assert_eq!(v["severity_number"], 13);
        assert_eq!(v["timestamp"], "2026-11-25T18:35:12.000000000Z");
        assert_eq!(v["observed_timestamp"], "2026-11-25T18:35:12.000000000Z");
    }

    #[test]
    fn dotted_keys_are_flat() {
        let mut r = Record::default();
        r.push_int(Field::HttpResponseStatusCode, 200);
        let enc = Encoder {
            keys: KeyStyle::Dotted,
            ..Encoder::json()
        };
        let v = parse(&encode_with(enc, &mut r, "x"));
        assert_eq!(v["http.response.status_code"], 200);
        assert_eq!(v["logmux.format"], "text");
    }

    #[test]
    fn dotted_keys_flatten_merged_objects() {
        let line = r#"{"msg":"m","user":{"id":7,"roles":["a"],"empty":{},"x":{"b.c":1,"b":{"c":2}}},"n":1}"#;
        let mut r = Record::default();
        assert!(logmux_parsers::json::parse(line, &mut r));
        let enc = Encoder {
            keys: KeyStyle::Dotted,
            ..Encoder::json()
        };
        let out = encode_with(enc, &mut r, line);
        let v = parse(&out);
        assert_eq!(v["user.id"], 7);
        assert_eq!(v["user.roles"], serde_json::json!(["a"]));
        assert_eq!(v["user.empty"], serde_json::json!({}));
        // Members are read in key order: `b` before `b.c`.
        assert_eq!(v["user.x.b.c"], 2);
        assert_eq!(out.matches("\"user.x.b.c\"").count(), 1, "{out}");
        assert_eq!(v["n"], 1);
        assert!(v.get("user").is_none());
    }

    #[test]
    fn severity_text_is_the_source_word() {
        let mut r = Record {
            severity: Some(Severity::WARN),
            severity_text: Some(Cow::Borrowed("warn\"ing")),
            ..Default::default()
        };
        let v = parse(&encode_with(Encoder::json(), &mut r, "x"));
        assert_eq!(v["severity_text"], "warn\"ing");
        assert_eq!(v["severity_number"], 13);
    }

    #[test]
    fn replaced_message_keeps_the_original() {
        let mut r = Record {
            message: Some(Cow::Borrowed("short")),
            ..Default::default()
        };
        r.timestamp = Timestamp::new(2026, 11, 25, 18, 35, 12, logmux_parsers::Offset::Local);
        let v = parse(&encode_with(
            Encoder::json(),
            &mut r,
            "2026/11/25 18:35:12 [error] short, client: x",
        ));
        assert_eq!(v["message"], "short");
        assert_eq!(
            v["log"]["record"]["original"],
            "2026/11/25 18:35:12 [error] short, client: x"
        );
        assert_eq!(v["timestamp"], "2026-11-25T18:35:12+00:00");
    }

    #[test]
    fn merges_extra_keys_in_order_and_skips_clashes() {
        let mut r = Record {
            format: Format::Json,
            invalid_utf8: true,
            ..Default::default()
        };
        r.push_str(Field::ServiceName, "app");
        r.extra.push((
            Cow::Borrowed("zeta"),
            Value::RawJson(Cow::Borrowed("[1,2]")),
        ));
        r.extra.push((
            Cow::Borrowed("message"),
            Value::RawJson(Cow::Borrowed("\"no\"")),
        ));
        r.extra.push((
            Cow::Borrowed("service"),
            Value::RawJson(Cow::Borrowed("\"api\"")),
        ));
        r.extra.push((
            Cow::Borrowed("alpha"),
            Value::RawJson(Cow::Borrowed("{\"a\":1}")),
        ));
        r.extra
            .push((Cow::Borrowed("nginx.custom"), Value::str("v")));
        let out = encode_with(Encoder::json(), &mut r, "{}");
        let v = parse(&out);
        assert_eq!(v["zeta"], serde_json::json!([1, 2]));
        assert_eq!(v["alpha"]["a"], 1);
        assert_eq!(v["nginx"]["custom"], "v");
        assert_eq!(v["message"], "{}");
        assert_eq!(v["service"]["name"], "app");
        assert_eq!(v["logmux"]["invalid_utf8"], true);
        assert_eq!(out.matches("\"service\"").count(), 1);
    }

    #[test]
    fn dotted_extra_keys_nest_beside_schema_fields() {
        let mut r = Record::default();
        r.push_str(Field::ServiceName, "app");
        for (k, v) in [
            ("service.version", "1.2"),
            ("logmux.program", "uwsgi"),
            // These name logmux's own fields or their parents: not merged.
            ("service.name", "other"),
            ("logmux.format", "x"),
            ("log.record", "y"),
            ("timestamp.x", "z"),
        ] {
            r.extra.push((Cow::Borrowed(k), Value::str(v)));
        }
        let out = encode_with(Encoder::json(), &mut r, "m");
        let v = parse(&out);
        assert_eq!(
            v["service"],
            serde_json::json!({"name": "app", "version": "1.2"})
        );
        assert_eq!(
            v["logmux"],
            serde_json::json!({"format": "text", "program": "uwsgi"})
        );
        assert!(v.get("log").is_none(), "{out}");
        assert!(v["timestamp"].is_string());
        assert_eq!(out.matches("\"service\"").count(), 1);
        assert_eq!(out.matches("\"logmux\"").count(), 1);
    }

    #[test]
    fn escapes_controls_and_keeps_unicode() {
        let mut out = Vec::new();
        escape_json_str(&mut out, "a\"b\\c\n\t\u{1}é\u{FFFD}");
        assert_eq!(String::from_utf8_lossy(&out), r#""a\"b\\c\n\t\u0001é�""#);
    }

    #[test]
    fn escaping_agrees_with_serde_json_at_every_position() {
        // Specials at every offset within and across 8-byte words, and
        // bytes >= 0x80 next to them (the SWAR mask must not misfire).
        let specials = ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "\u{7f}", " ", "€"];
        for len in 0..20 {
            for pos in 0..len {
                for sp in specials {
                    let mut s = "x".repeat(pos);
                    s.push_str(sp);
                    s.push_str(&"y".repeat(len - pos));
                    let mut out = Vec::new();
                    escape_json_str(&mut out, &s);
                    let back: String =
                        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {s:?}"));
                    assert_eq!(back, s);
                }
            }
        }
    }

    #[test]
    fn floats_lists_and_non_finite() {
        let mut r = Record::default();
        r.push(
            Field::NginxUpstreamResponseTime,
            Value::FloatList(vec![0.004, 0.01, 0.002]),
        );
        r.push(Field::HttpServerRequestDuration, Value::Float(f64::NAN));
        let v = parse(&encode_with(Encoder::json(), &mut r, "x"));
        assert_eq!(
            v["nginx"]["upstream_response_time"],
            serde_json::json!([0.004, 0.01, 0.002])
        );
        assert!(v["http"]["server"]["request"]["duration"].is_null());
    }

    proptest::proptest! {
        /// Any text, at any offset into the buffer, comes back whole.
        #[test]
        fn escaped_strings_read_back(s in "(?s).{0,80}", prefix in 0usize..20) {
            let mut out = vec![b'x'; prefix];
            super::escape_json_str(&mut out, &s);
            let back: String = serde_json::from_slice(&out[prefix..]).unwrap();
            proptest::prop_assert_eq!(back, s);
        }

        /// Plain ASCII with a few bytes that need escaping, anywhere.
        #[test]
        fn escapes_land_anywhere(s in "[a-z\"\\\\\n\u{1}\u{7f}é]{0,70}") {
            let mut out = Vec::new();
            super::escape_json_str(&mut out, &s);
            let back: String = serde_json::from_slice(&out).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }
}
