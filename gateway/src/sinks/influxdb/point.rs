//! Points and their line protocol encoding.
//!
//! Lines are built with InfluxData's `influxdb-line-protocol` builder, which escapes commas, spaces and `=` in names
//! and quotes and backslashes in string fields. Some strings cannot be carried by line protocol in a way that every
//! server reads back identically, so [`encode`] rejects them before the builder sees them, with a reason:
//!
//! - control characters (newline, carriage return, tab, NUL, ...) in a measurement, tag key, tag value or field
//!   key: a newline ends the line, and servers disagree about tabs and escaped newlines;
//! - a backslash in a measurement, tag or field key, or tag value: InfluxDB 1.x and 2.x keep `\\` as two
//!   backslashes in tags while the builder, VictoriaMetrics and the Rust parser read it as one, so no spelling
//!   round-trips on every server;
//! - a measurement starting with `#` (the line would be a comment and silently ignored);
//! - an empty measurement, tag key or field key, and the reserved keys `time`, `_measurement`, `_field`;
//! - a string field longer than 64 KiB (InfluxDB's limit).
//!
//! String field values may hold anything, newlines included. A tag whose value is empty is left out, which is
//! what InfluxDB does with it anyway. Float fields that are NaN or infinite are left out and counted; a point left
//! with no field is rejected.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use influxdb_line_protocol::LineProtocolBuilder;
use influxdb_line_protocol::builder::{AfterField, FieldValue as BuilderFieldValue};

/// Longest string field value InfluxDB accepts.
pub const MAX_STRING_FIELD_BYTES: usize = 64 * 1024;

/// A field value. The caller fixes the type of each field: a metric that is sometimes integral is always
/// written as [`FieldValue::F64`], or the server rejects the later lines with a type conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    F64(f64),
    I64(i64),
    U64(u64),
    Bool(bool),
    String(String),
}

impl From<f64> for FieldValue {
    fn from(v: f64) -> Self {
        FieldValue::F64(v)
    }
}
impl From<i64> for FieldValue {
    fn from(v: i64) -> Self {
        FieldValue::I64(v)
    }
}
impl From<u64> for FieldValue {
    fn from(v: u64) -> Self {
        FieldValue::U64(v)
    }
}
impl From<bool> for FieldValue {
    fn from(v: bool) -> Self {
        FieldValue::Bool(v)
    }
}
impl From<String> for FieldValue {
    fn from(v: String) -> Self {
        FieldValue::String(v)
    }
}
impl From<&str> for FieldValue {
    fn from(v: &str) -> Self {
        FieldValue::String(v.to_owned())
    }
}

/// One measurement at one instant: what the gateway hands to the sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub measurement: String,
    pub tags: BTreeMap<String, String>,
    pub fields: BTreeMap<String, FieldValue>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
}

impl Point {
    /// A point with no tags or fields yet, at `time`.
    pub fn new(measurement: impl Into<String>, time: DateTime<Utc>) -> Self {
        // Beyond the year 2262 nanoseconds overflow i64; such a time is a bug upstream, clamp it.
        let ns = time.timestamp_nanos_opt().unwrap_or(i64::MAX);
        Self::at_ns(measurement, ns)
    }

    /// A point with no tags or fields yet, at `timestamp_ns` nanoseconds since the Unix epoch.
    pub fn at_ns(measurement: impl Into<String>, timestamp_ns: i64) -> Self {
        Point {
            measurement: measurement.into(),
            tags: BTreeMap::new(),
            fields: BTreeMap::new(),
            timestamp_ns,
        }
    }

    /// Adds (or replaces) a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Adds (or replaces) a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }
}

/// Why a point was rejected before it reached the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPoint {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} {value:?} holds a control character, which line protocol cannot carry")]
    ControlCharacter { what: &'static str, value: String },
    #[error("{what} {value:?} holds a backslash, which InfluxDB does not read back as written")]
    Backslash { what: &'static str, value: String },
    #[error("measurement {0:?} starts with '#', which makes the line a comment")]
    CommentMeasurement(String),
    #[error("{what} {value:?} is reserved")]
    ReservedKey { what: &'static str, value: String },
    #[error("string field {key:?} is {len} bytes, more than {MAX_STRING_FIELD_BYTES}")]
    StringTooLong { key: String, len: usize },
    #[error("unsigned field {key:?} = {value} does not fit the v1 API's signed integers")]
    UnsignedTooLarge { key: String, value: u64 },
    #[error("no field left to write ({omitted} non-finite float fields omitted)")]
    NoFields { omitted: usize },
}

/// A point as one line of line protocol (without the trailing newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedLine {
    pub line: String,
    /// Float fields left out because they were NaN or infinite.
    pub omitted_fields: usize,
}

/// How to spell field types the server may not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Write `U64` fields with the `u` suffix (InfluxDB 2+). When false (the v1 API, where InfluxDB 1.x has no
    /// unsigned type) they are written as signed integers, and a value above `i64::MAX` rejects the point.
    pub unsigned: bool,
}

fn check_name(what: &'static str, value: &str) -> Result<(), InvalidPoint> {
    if value.is_empty() {
        return Err(InvalidPoint::Empty { what });
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidPoint::ControlCharacter {
            what,
            value: value.to_owned(),
        });
    }
    if value.contains('\\') {
        return Err(InvalidPoint::Backslash {
            what,
            value: value.to_owned(),
        });
    }
    Ok(())
}

fn check_key(what: &'static str, key: &str) -> Result<(), InvalidPoint> {
    check_name(what, key)?;
    if matches!(key, "time" | "_measurement" | "_field") {
        return Err(InvalidPoint::ReservedKey {
            what,
            value: key.to_owned(),
        });
    }
    Ok(())
}

/// Encodes `point` as one line, or says why it cannot be.
pub fn encode(point: &Point, opts: EncodeOptions) -> Result<EncodedLine, InvalidPoint> {
    check_name("measurement", &point.measurement)?;
    if point.measurement.starts_with('#') {
        return Err(InvalidPoint::CommentMeasurement(point.measurement.clone()));
    }
    for (key, value) in &point.tags {
        check_key("tag key", key)?;
        if !value.is_empty() {
            check_name("tag value", value)?;
        }
    }
    let mut omitted = 0;
    let mut fields: Vec<(&str, Field<'_>)> = Vec::with_capacity(point.fields.len());
    for (key, value) in &point.fields {
        check_key("field key", key)?;
        let field = match value {
            FieldValue::F64(v) if !v.is_finite() => {
                omitted += 1;
                continue;
            }
            FieldValue::F64(v) => Field::F64(*v),
            FieldValue::I64(v) => Field::I64(*v),
            FieldValue::U64(v) if opts.unsigned => Field::U64(*v),
            FieldValue::U64(v) => {
                Field::I64(
                    i64::try_from(*v).map_err(|_| InvalidPoint::UnsignedTooLarge {
                        key: key.clone(),
                        value: *v,
                    })?,
                )
            }
            FieldValue::Bool(v) => Field::Bool(*v),
            FieldValue::String(s) if s.len() > MAX_STRING_FIELD_BYTES => {
                return Err(InvalidPoint::StringTooLong {
                    key: key.clone(),
                    len: s.len(),
                });
            }
            FieldValue::String(s) => Field::Str(s),
        };
        fields.push((key, field));
    }
    let Some(((first_key, first), rest)) = fields.split_first() else {
        return Err(InvalidPoint::NoFields { omitted });
    };

    // The builder is a type-state machine: the first field changes its type, the later ones do not, so the
    // first is written outside the loop.
    let mut builder = LineProtocolBuilder::new().measurement(&point.measurement);
    for (key, value) in point.tags.iter().filter(|(_, v)| !v.is_empty()) {
        builder = builder.tag(key, value);
    }
    let mut builder = first.write_first(builder, first_key);
    for (key, field) in rest {
        builder = field.write_next(builder, key);
    }
    let bytes = builder.timestamp(point.timestamp_ns).close_line().build();
    let mut line = String::from_utf8(bytes).expect("the builder writes UTF-8 given UTF-8");
    line.pop(); // the newline; batches join lines themselves
    Ok(EncodedLine {
        line,
        omitted_fields: omitted,
    })
}

/// A checked field value, borrowed for the builder.
enum Field<'a> {
    F64(f64),
    I64(i64),
    U64(u64),
    Bool(bool),
    Str(&'a str),
}

type AfterMeasurement = influxdb_line_protocol::builder::AfterMeasurement;

/// Dispatches a [`Field`] to the builder's generic `field` methods.
macro_rules! with_value {
    ($field:expr, |$v:ident| $body:expr) => {
        match $field {
            Field::F64($v) => $body,
            Field::I64($v) => $body,
            Field::U64($v) => $body,
            Field::Bool($v) => $body,
            Field::Str($v) => $body,
        }
    };
}

impl Field<'_> {
    fn write_first(
        &self,
        b: LineProtocolBuilder<Vec<u8>, AfterMeasurement>,
        key: &str,
    ) -> LineProtocolBuilder<Vec<u8>, AfterField> {
        with_value!(self, |v| b.field(key, copy(v)))
    }

    fn write_next(
        &self,
        b: LineProtocolBuilder<Vec<u8>, AfterField>,
        key: &str,
    ) -> LineProtocolBuilder<Vec<u8>, AfterField> {
        with_value!(self, |v| b.field(key, copy(v)))
    }
}

fn copy<T: Copy + BuilderFieldValue>(v: &T) -> T {
    *v
}

#[cfg(test)]
mod tests {
    use super::*;
    use influxdb_line_protocol::{FieldValue as Parsed, parse_lines};
    use proptest::prelude::*;

    const V2: EncodeOptions = EncodeOptions { unsigned: true };

    fn parse_back(line: &str) -> Point {
        let mut lines = parse_lines(line);
        let parsed = lines.next().expect("one line").expect("parses");
        assert!(lines.next().is_none(), "one line only: {line:?}");
        let mut point = Point::at_ns(
            parsed.series.measurement.as_str(),
            parsed.timestamp.expect("timestamp"),
        );
        for (k, v) in parsed.series.tag_set.iter().flatten() {
            point.tags.insert(k.to_string(), v.to_string());
        }
        for (k, v) in &parsed.field_set {
            let value = match v {
                Parsed::F64(x) => FieldValue::F64(*x),
                Parsed::I64(x) => FieldValue::I64(*x),
                Parsed::U64(x) => FieldValue::U64(*x),
                Parsed::Boolean(x) => FieldValue::Bool(*x),
                Parsed::String(x) => FieldValue::String(x.to_string()),
            };
            point.fields.insert(k.to_string(), value);
        }
        point
    }

    #[test]
    fn awkward_names_round_trip() {
        let point = Point::at_ns("设备 heart,beat=1", 1_700_000_000_000_000_000)
            .tag("device id", "自助终端 #3, \"东区\" a=b 'x'")
            .tag("empty", "")
            .field("cpu,pct=", 12.5)
            .field("note", "line one\nline \"two\" \\ back\\slash")
            .field("n", 7i64)
            .field("u", 7u64)
            .field("ok", true);
        let encoded = encode(&point, V2).unwrap();
        let mut expected = point.clone();
        expected.tags.remove("empty");
        assert_eq!(parse_back(&encoded.line), expected);
    }

    #[test]
    fn non_finite_floats_are_omitted_and_counted() {
        let point = Point::at_ns("m", 1)
            .field("a", f64::NAN)
            .field("b", f64::INFINITY)
            .field("c", 1.0);
        let encoded = encode(&point, V2).unwrap();
        assert_eq!(encoded.omitted_fields, 2);
        assert_eq!(encoded.line, "m c=1 1");
        let empty = Point::at_ns("m", 1).field("a", f64::NEG_INFINITY);
        assert_eq!(
            encode(&empty, V2),
            Err(InvalidPoint::NoFields { omitted: 1 })
        );
    }

    #[test]
    fn unrepresentable_names_are_rejected_with_a_reason() {
        let base = || Point::at_ns("m", 1).field("v", 1.0);
        let cases = [
            (Point::at_ns("", 1).field("v", 1.0), "measurement is empty"),
            (
                base().tag("dev", "a\nb"),
                "tag value \"a\\nb\" holds a control character",
            ),
            (base().tag("dev", r"DOMAIN\pc"), "backslash"),
            (Point::at_ns("#m", 1).field("v", 1.0), "comment"),
            (base().field("time", 1.0), "reserved"),
            (
                base().field("s", "x".repeat(MAX_STRING_FIELD_BYTES + 1)),
                "more than",
            ),
        ];
        for (point, reason) in cases {
            let error = encode(&point, V2).unwrap_err().to_string();
            assert!(
                error.contains(reason),
                "{error:?} should mention {reason:?}"
            );
        }
        let big = base().field("u", u64::MAX);
        assert!(matches!(
            encode(&big, EncodeOptions { unsigned: false }),
            Err(InvalidPoint::UnsignedTooLarge { .. })
        ));
        assert_eq!(
            encode(&base().field("u", 5u64), EncodeOptions { unsigned: false })
                .unwrap()
                .line,
            "m u=5i,v=1 1"
        );
    }

    fn any_name() -> impl Strategy<Value = String> {
        // Anything, with the characters that need escaping made frequent.
        prop::collection::vec(
            prop_oneof![
                any::<char>(),
                prop::sample::select(vec![' ', ',', '=', '"', '\\', '\n', '#', '\''])
            ],
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn any_field() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<f64>().prop_map(FieldValue::F64),
            any::<i64>().prop_map(FieldValue::I64),
            any::<u64>().prop_map(FieldValue::U64),
            any::<bool>().prop_map(FieldValue::Bool),
            any_name().prop_map(FieldValue::String),
            ".*".prop_map(FieldValue::String),
        ]
    }

    fn any_point() -> impl Strategy<Value = Point> {
        (
            any_name(),
            prop::collection::btree_map(any_name(), any_name(), 0..4),
            prop::collection::btree_map(any_name(), any_field(), 0..4),
            any::<i64>(),
        )
            .prop_map(|(measurement, tags, fields, timestamp_ns)| Point {
                measurement,
                tags,
                fields,
                timestamp_ns,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Every point either encodes to a line that parses back to exactly the same point (less empty tags and
        /// non-finite floats), or is rejected with a reason.
        #[test]
        fn encoding_round_trips_or_rejects(point in any_point()) {
            match encode(&point, V2) {
                Ok(encoded) => {
                    let mut expected = point.clone();
                    expected.tags.retain(|_, v| !v.is_empty());
                    expected.fields.retain(|_, v| !matches!(v, FieldValue::F64(x) if !x.is_finite()));
                    let back = parse_back(&encoded.line);
                    prop_assert_eq!(back, expected, "line {:?}", encoded.line);
                }
                Err(reason) => prop_assert!(!reason.to_string().is_empty()),
            }
        }

        /// Names made only of characters line protocol can carry are never rejected.
        #[test]
        fn printable_names_are_accepted(m in "[^#\\\\\\p{Cc}][^\\\\\\p{Cc}]{0,10}", k in "[^\\\\\\p{Cc}]{1,10}", v in "[^\\\\\\p{Cc}]{1,10}") {
            prop_assume!(!matches!(k.as_str(), "time" | "_measurement" | "_field"));
            let point = Point::at_ns(m, 0).tag(k.clone(), v).field(k, 1.0);
            prop_assert!(encode(&point, V2).is_ok());
        }
    }
}
