//! A small REST service of JSON documents: items with a name and a price,
//! kept in memory.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /items?limit=&offset=` | `200`, the items in id order, a page of them (`limit` at most 1,000, default 100) |
//! | `POST /items` with `{"name":…,"price":…}` | `201`, the item made, and `Location` |
//! | `GET /items/{id}` | `200`, the item; `404` if there is none |
//! | `PUT /items/{id}` with `{"name":…,"price":…}` | `200`, the item replaced (or made) |
//! | `DELETE /items/{id}` | `204`; `404` if there was none |
//!
//! Request bodies are parsed with `serde_json::from_slice` from the
//! request's buffered body; responses are serialized with
//! `serde_json::to_writer` straight into the connection's write buffer
//! (`Response::writer`), with no buffer of their own: a page too long
//! for the write buffer goes on, chunked, through the worker's spill.
//! Errors are answers too, as `{"error":…}`: `400` for a malformed body,
//! query or id, `404`, `405` with `Allow`, `413` for a body over the
//! limit, `415` for a body that is not JSON.

use std::collections::BTreeMap;
use std::sync::RwLock;

use peregrine_core::{Handler, Method, Request, Response, StatusCode, query};
use serde::{Deserialize, Serialize};

/// The longest page `GET /items` answers.
pub const MAX_LIMIT: usize = 1000;

/// The page length when the query names none.
pub const DEFAULT_LIMIT: usize = 100;

/// An item as clients send it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// What it is called.
    pub name: String,
    /// Its price, in cents.
    pub price: u64,
}

/// An item as stored and answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Its id, as in `/items/{id}`.
    pub id: u64,
    /// What it is called.
    pub name: String,
    /// Its price, in cents.
    pub price: u64,
}

/// The items, by id, and the next id to give.
#[derive(Debug, Default)]
struct Store {
    /// The items.
    items: BTreeMap<u64, Item>,
    /// The id the next `POST` gets.
    next_id: u64,
}

/// The service: its handler, shared by every worker.
#[derive(Debug, Default)]
pub struct Json {
    /// The items.
    store: RwLock<Store>,
}

/// A page of `GET /items`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Page {
    /// Items at most.
    limit: usize,
    /// Items skipped first.
    offset: usize,
}

/// What a request asked for.
enum Route {
    /// `/items`.
    Items,
    /// `/items/{id}`.
    Item(u64),
}

impl Json {
    /// An empty store.
    pub fn new() -> Self {
        Json::default()
    }

    /// The store, even if a writer panicked while holding it (every
    /// change is a single insert or removal, so it is whole).
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// See [`read`](Self::read).
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// `GET /items`: a page of the items, in id order.
    fn list(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let page = match page(request.query().unwrap_or(b"")) {
            Ok(page) => page,
            Err(message) => return error(response, StatusCode::BAD_REQUEST, message),
        };
        let store = self.read();
        let items: Vec<&Item> = store
            .items
            .values()
            .skip(page.offset)
            .take(page.limit)
            .collect();
        answer(response, StatusCode::OK, &items);
    }

    /// `POST /items`.
    fn create(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let Some(new) = parse_body(request, response) else {
            return;
        };
        let item = {
            let mut store = self.write();
            store.next_id += 1;
            let item = Item {
                id: store.next_id,
                name: new.name,
                price: new.price,
            };
            store.items.insert(item.id, item.clone());
            item
        };
        let mut location = itoa::Buffer::new();
        let location = ["/items/", location.format(item.id)].concat();
        let _ = response.header("Location", &location);
        answer(response, StatusCode::CREATED, &item);
    }

    /// `GET /items/{id}`.
    fn get(&self, id: u64, response: &mut Response<'_>) {
        let store = self.read();
        match store.items.get(&id) {
            Some(item) => answer(response, StatusCode::OK, item),
            None => error(response, StatusCode::NOT_FOUND, "no such item"),
        }
    }

    /// `PUT /items/{id}`.
    fn replace(&self, id: u64, request: &Request<'_>, response: &mut Response<'_>) {
        let Some(new) = parse_body(request, response) else {
            return;
        };
        let item = Item {
            id,
            name: new.name,
            price: new.price,
        };
        let mut store = self.write();
        store.next_id = store.next_id.max(id);
        store.items.insert(id, item.clone());
        drop(store);
        answer(response, StatusCode::OK, &item);
    }

    /// `DELETE /items/{id}`.
    fn delete(&self, id: u64, response: &mut Response<'_>) {
        if self.write().items.remove(&id).is_some() {
            response.status(StatusCode::NO_CONTENT);
        } else {
            error(response, StatusCode::NOT_FOUND, "no such item");
        }
    }
}

impl Handler for Json {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let route = match route(request.path()) {
            Some(Ok(route)) => route,
            Some(Err(message)) => return error(response, StatusCode::BAD_REQUEST, message),
            None => return error(response, StatusCode::NOT_FOUND, "no such resource"),
        };
        match (route, request.method()) {
            (Route::Items, Method::Get | Method::Head) => self.list(request, response),
            (Route::Items, Method::Post) => self.create(request, response),
            (Route::Item(id), Method::Get | Method::Head) => self.get(id, response),
            (Route::Item(id), Method::Put) => self.replace(id, request, response),
            (Route::Item(id), Method::Delete) => self.delete(id, response),
            (route, _) => {
                let allow = match route {
                    Route::Items => "GET, HEAD, POST",
                    Route::Item(_) => "GET, HEAD, PUT, DELETE",
                };
                let _ = response.header("Allow", allow);
                error(
                    response,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed",
                );
            }
        }
    }
}

/// The route of `path`: `None` for none, an error for a malformed id.
fn route(path: &[u8]) -> Option<Result<Route, &'static str>> {
    let rest = path.strip_prefix(b"/items")?;
    match rest {
        b"" | b"/" => Some(Ok(Route::Items)),
        _ => {
            let id = rest.strip_prefix(b"/")?;
            let id = id.strip_suffix(b"/").unwrap_or(id);
            Some(number(id).map(Route::Item).ok_or("the id is not a number"))
        }
    }
}

/// A decimal number of at most 19 digits.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The page a query asks for: `limit` (at most [`MAX_LIMIT`]) and
/// `offset`, each a number, percent-encoded or not.
fn page(raw: &[u8]) -> Result<Page, &'static str> {
    let mut page = Page {
        limit: DEFAULT_LIMIT,
        offset: 0,
    };
    for (key, value) in query::pairs(raw) {
        let mut decoded = [0; 32];
        let field = match key {
            b"limit" => &mut page.limit,
            b"offset" => &mut page.offset,
            _ => continue,
        };
        let value =
            query::decode_component(value, &mut decoded).map_err(|_| "a malformed query")?;
        let n = number(value).ok_or("limit and offset must be numbers")?;
        *field = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if page.limit > MAX_LIMIT {
        return Err("limit is at most 1000");
    }
    Ok(page)
}

/// The request's body as an item, or an error answered.
fn parse_body(request: &Request<'_>, response: &mut Response<'_>) -> Option<NewItem> {
    let json = request.header("content-type").is_none_or(|kind| {
        let kind = kind.split(|&b| b == b';').next().unwrap_or(b"");
        kind.trim_ascii().eq_ignore_ascii_case(b"application/json")
    });
    if !json {
        let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        error(response, status, "the body must be application/json");
        return None;
    }
    match serde_json::from_slice(request.body()) {
        Ok(item) => Some(item),
        Err(e) => {
            let message = match e.classify() {
                serde_json::error::Category::Data => "the body is not an item",
                _ => "the body is not valid JSON",
            };
            error(response, StatusCode::BAD_REQUEST, message);
            None
        }
    }
}

/// Answers `status` with `value` as JSON, written in place.
fn answer<T: Serialize + ?Sized>(response: &mut Response<'_>, status: StatusCode, value: &T) {
    response.status(status);
    let _ = response.header("Content-Type", "application/json");
    // A body too long even for the spill fails the write; the response is
    // then answered 500 by the connection, never cut short.
    let _ = serde_json::to_writer(response.writer(), value);
}

/// Answers `status` with `{"error": message}`.
fn error(response: &mut Response<'_>, status: StatusCode, message: &str) {
    #[derive(Serialize)]
    struct Error<'m> {
        error: &'m str,
    }
    answer(response, status, &Error { error: message });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_from_the_query() {
        let page_of = |raw: &[u8]| page(raw);
        assert_eq!(
            page_of(b""),
            Ok(Page {
                limit: DEFAULT_LIMIT,
                offset: 0
            })
        );
        assert_eq!(
            page_of(b"limit=%32&offset=5&x=y"),
            Ok(Page {
                limit: 2,
                offset: 5
            })
        );
        assert!(page_of(b"limit=-1").is_err());
        assert!(page_of(b"limit=1001").is_err());
        assert!(page_of(b"offset=%zz").is_err());
    }

    #[test]
    fn routes_and_ids() {
        assert!(matches!(route(b"/items"), Some(Ok(Route::Items))));
        assert!(matches!(route(b"/items/"), Some(Ok(Route::Items))));
        assert!(matches!(route(b"/items/42"), Some(Ok(Route::Item(42)))));
        assert!(matches!(route(b"/items/4x"), Some(Err(_))));
        assert!(route(b"/itemsx").is_none());
        assert!(route(b"/other").is_none());
    }
}
