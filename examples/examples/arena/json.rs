//! The JSON profiles' endpoint: `GET /json/{count}?m={multiplier}`
//! (`json`, `json-comp`, and `json-tls` on the TLS port).
//!
//! The data set is read once, at start, from `DIR/dataset.json` into
//! plain Rust values; each request takes the first `count` items (at most
//! as many as the data set holds), computes `total = price × quantity ×
//! m` for each, and serializes `{"items":[…],"count":N}` with serde_json
//! there and then: nothing of an answer is kept from one request to the
//! next. The serialization borrows the data set's strings, and writes
//! into a buffer the worker keeps between requests, so a request
//! allocates nothing. That buffer is then copied into the response
//! (`Response::body`) or, when the request has `Accept-Encoding`, handed
//! to the driver's compression (`CompressBody::body_compressed`: gzip
//! when the request accepts it, with `Content-Encoding` and `Vary` set
//! by the driver; see `routes::COMPRESSION` for why not brotli).
//!
//! Why not serialize straight into the write buffer with
//! `Response::writer`: serde_json writes a page in about 1,500 small
//! pieces, and each `BodyWriter::write_all` costs about 80 instructions
//! (the writer's state checked, a `memcpy` call), where a `Vec` takes
//! them inline. Measured with callgrind over HttpArena's seven `json`
//! requests: 158,000 instructions per request in place, 57,000 through
//! the buffer and one copy.
//!
//! `m` defaults to 1 when the query has none; a count or multiplier that
//! is not an integer is `400`.

use std::io;
use std::path::Path;

use peregrine_core::{Method, Request, Response, StatusCode, query};
use peregrine_driver::compress::CompressBody;
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::baseline::integer;
use crate::routes::Worker;

/// An item of the data set, as `dataset.json` holds it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its category.
    pub category: String,
    /// Its price.
    pub price: i64,
    /// How many there are.
    pub quantity: i64,
    /// Whether it is on sale.
    pub active: bool,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its rating.
    pub rating: Rating,
}

/// An item's rating.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// The score.
    pub score: i64,
    /// How many rated it.
    pub count: i64,
}

/// The data set, read at start.
#[derive(Debug)]
pub struct Dataset {
    /// Its items, in order.
    items: Vec<Item>,
    /// The largest `|price × quantity|` of its items: what bounds the
    /// multipliers whose totals are exact in 128 bits.
    largest: u128,
}

impl Dataset {
    /// Reads `path` (a JSON array of items).
    ///
    /// # Errors
    ///
    /// If the file cannot be read or is not such an array.
    pub fn load(path: &Path) -> io::Result<Dataset> {
        let bytes = std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Dataset::from_json(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }

    /// The data set in `json`.
    pub fn from_json(json: &[u8]) -> serde_json::Result<Dataset> {
        let items: Vec<Item> = serde_json::from_slice(json)?;
        let largest = items
            .iter()
            .map(|item| {
                u128::from(item.price.unsigned_abs()) * u128::from(item.quantity.unsigned_abs())
            })
            .max()
            .unwrap_or(0);
        Ok(Dataset { items, largest })
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The answer to `/json/{count}?m={m}`: the first `count` items (at
    /// most all of them), each with its total; `None` if a total would
    /// not fit 128 bits (`m` beyond about 10^30 divided by the largest
    /// `price × quantity`).
    pub fn page(&self, count: usize, m: i64) -> Option<Page<'_>> {
        let bound = self.largest.checked_mul(u128::from(m.unsigned_abs()))?;
        if bound > i128::MAX as u128 {
            return None;
        }
        let items = &self.items[..count.min(self.items.len())];
        Some(Page {
            count: items.len(),
            items: Priced { items, m },
        })
    }
}

/// `{"items":[…],"count":N}`.
#[derive(Serialize)]
pub struct Page<'a> {
    /// The items, with their totals.
    items: Priced<'a>,
    /// How many.
    count: usize,
}

/// Items serialized with their totals.
struct Priced<'a> {
    /// The items.
    items: &'a [Item],
    /// The multiplier.
    m: i64,
}

impl Serialize for Priced<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.items.len()))?;
        for item in self.items {
            seq.serialize_element(&Row {
                id: item.id,
                name: &item.name,
                category: &item.category,
                price: item.price,
                quantity: item.quantity,
                active: item.active,
                tags: &item.tags,
                rating: item.rating,
                // Exact: `page` checked that every total fits.
                total: i128::from(item.price) * i128::from(item.quantity) * i128::from(self.m),
            })?;
        }
        seq.end()
    }
}

/// One item of an answer.
#[derive(Serialize)]
struct Row<'a> {
    /// As in the data set.
    id: i64,
    /// As in the data set.
    name: &'a str,
    /// As in the data set.
    category: &'a str,
    /// As in the data set.
    price: i64,
    /// As in the data set.
    quantity: i64,
    /// As in the data set.
    active: bool,
    /// As in the data set.
    tags: &'a [String],
    /// As in the data set.
    rating: Rating,
    /// `price × quantity × m`.
    total: i128,
}

/// The `count` of `/json/{count}` and the `m` of its query (1 if absent),
/// or what is wrong with them.
pub fn parameters(count: &[u8], raw_query: &[u8]) -> Result<(usize, i64), &'static [u8]> {
    let count = integer(count)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(&b"the count must be a non-negative integer\n"[..])?;
    let mut m = 1;
    for (key, value) in query::pairs(raw_query) {
        if key == b"m" {
            m = integer(value).ok_or(&b"m must be an integer\n"[..])?;
        }
    }
    Ok((count, m))
}

/// `GET /json/{count}?m=`, `count` being the rest of the path.
pub fn json(
    dataset: &Dataset,
    count: &[u8],
    request: &Request<'_>,
    response: &mut Response<'_, Worker>,
) {
    if !matches!(request.method(), Method::Get | Method::Head) {
        response.status(StatusCode::METHOD_NOT_ALLOWED);
        let _ = response.header("Allow", "GET, HEAD");
        return;
    }
    let (count, m) = match parameters(count, request.query().unwrap_or(b"")) {
        Ok(parameters) => parameters,
        Err(message) => {
            response.status(StatusCode::BAD_REQUEST);
            let _ = response.header("Content-Type", "text/plain");
            return response.body_static(message);
        }
    };
    let Some(page) = dataset.page(count, m) else {
        response.status(StatusCode::BAD_REQUEST);
        let _ = response.header("Content-Type", "text/plain");
        return response.body_static(b"m is too large for exact totals\n");
    };
    let _ = response.header("Content-Type", "application/json");
    // Serialized into the worker's buffer, kept between requests (taken
    // out of its state while the response, which holds that state, is
    // written).
    let mut plain = std::mem::take(&mut response.local().json);
    plain.clear();
    let sent = serde_json::to_writer(&mut plain, &page).is_ok()
        && if request.header("accept-encoding").is_some() {
            // Compressed if the request accepts it; `Content-Encoding`
            // and `Vary` are the driver's to set.
            response.body_compressed(request, &plain).is_ok()
        } else {
            // Caches still learn that the answer depends on the header.
            let _ = response.header("Vary", "Accept-Encoding");
            send(response, &plain)
        };
    response.local().json = plain;
    if !sent {
        response.abandon();
    }
}

/// Sends `body` whole: copied into the write buffer, or if it is larger,
/// written on into the worker's spill (chunked).
fn send(response: &mut Response<'_, Worker>, body: &[u8]) -> bool {
    response.body(body).is_ok() || response.writer().append(body).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATASET: &str = r#"[
        {"id":1,"name":"Alpha Widget","category":"electronics","price":328,"quantity":15,
         "active":true,"tags":["fast","new"],"rating":{"score":48,"count":127}},
        {"id":2,"name":"Quote \" and \\ slash","category":"tools","price":-3,"quantity":7,
         "active":false,"tags":[],"rating":{"score":1,"count":2}}
    ]"#;

    fn dataset() -> Dataset {
        Dataset::from_json(DATASET.as_bytes()).unwrap()
    }

    #[test]
    fn a_page_holds_the_first_items_with_their_totals() {
        let dataset = dataset();
        let json = serde_json::to_string(&dataset.page(1, 3).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"items":[{"id":1,"name":"Alpha Widget","category":"electronics","price":328,"quantity":15,"active":true,"tags":["fast","new"],"rating":{"score":48,"count":127},"total":14760}],"count":1}"#
        );
        let all: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&dataset.page(50, -2).unwrap()).unwrap())
                .unwrap();
        assert_eq!(all["count"], 2);
        assert_eq!(all["items"][1]["name"], "Quote \" and \\ slash");
        assert_eq!(all["items"][1]["total"], 42);
        assert_eq!(
            serde_json::to_string(&dataset.page(0, 1).unwrap()).unwrap(),
            r#"{"items":[],"count":0}"#
        );
    }

    #[test]
    fn totals_are_exact_or_refused() {
        let dataset = Dataset::from_json(
            br#"[{"id":1,"name":"n","category":"c","price":9223372036854775807,
                "quantity":-9223372036854775808,"active":true,"tags":[],
                "rating":{"score":0,"count":0}}]"#,
        )
        .unwrap();
        let json = serde_json::to_string(&dataset.page(1, -1).unwrap()).unwrap();
        let expected = -i128::from(i64::MAX) * i128::from(i64::MIN);
        assert!(json.contains(&format!("\"total\":{expected}")), "{json}");
        assert!(dataset.page(1, 2).is_some());
        assert!(dataset.page(1, 3).is_none());
        assert!(dataset.page(1, i64::MIN).is_none());
        let small = self::dataset();
        assert!(small.page(50, i64::MIN).is_some());
        assert!(small.page(50, i64::MAX).is_some());
    }

    #[test]
    fn parameters_come_from_the_path_and_the_query() {
        assert_eq!(parameters(b"5", b"m=3"), Ok((5, 3)));
        assert_eq!(parameters(b"50", b"x=1&m=-2"), Ok((50, -2)));
        assert_eq!(parameters(b"12", b""), Ok((12, 1)));
        assert!(parameters(b"", b"m=1").is_err());
        assert!(parameters(b"-1", b"m=1").is_err());
        assert!(parameters(b"5", b"m=x").is_err());
        assert!(parameters(b"5/6", b"").is_err());
    }
}
