//! Conversions between the wire types and SQLite columns.
//!
//! Enums are stored by their serde names (`acknowledged`, `family_visit`), so a row reads the same as the JSON of
//! the API; instants as fixed-width UTC RFC 3339 text so that text order is time order.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use rusqlite::types::Type;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A UTC instant as stored: `2026-12-03T01:00:00.000000Z`.
pub fn utc_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An instant with the offset it was given in, kept as entered.
pub fn offset_text(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The serde name of a unit enum variant.
pub fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        // Every enum stored here is a unit enum with snake_case names; anything else is a programming error that
        // the tests catch, and storing its JSON keeps the row readable.
        Ok(other) => other.to_string(),
        Err(e) => e.to_string(),
    }
}

/// JSON text of an optional value (audit old/new).
pub fn json_text(value: &Option<serde_json::Value>) -> Option<String> {
    value.as_ref().map(|v| v.to_string())
}

fn bad(idx: usize, err: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(err))
}

/// Reads column `idx` as an enum by its serde name.
pub fn get_enum<T: DeserializeOwned>(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_value(serde_json::Value::String(text)).map_err(|e| bad(idx, e))
}

pub fn get_utc(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(idx)?;
    parse_utc(&text).map_err(|e| bad(idx, e))
}

pub fn get_opt_utc(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| parse_utc(&t).map_err(|e| bad(idx, e)))
        .transpose()
}

pub fn get_offset(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<DateTime<FixedOffset>> {
    let text: String = row.get(idx)?;
    DateTime::parse_from_rfc3339(&text).map_err(|e| bad(idx, e))
}

pub fn get_json(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| bad(idx, e)))
        .transpose()
}

/// Ids are u64 on the wire and INTEGER (i64) in SQLite; ids come from SQLite or from the alert book's counter, so
/// they never come near `i64::MAX`.
pub fn get_id(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let id: i64 = row.get(idx)?;
    u64::try_from(id).map_err(|e| bad(idx, e))
}

fn parse_utc(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}
