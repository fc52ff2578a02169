//! A small REST service of JSON items: a path parameter
//! (`/items/{id}`), a decoded query (`?limit=&offset=`), JSON bodies in
//! (`serde_json::from_slice`) and out (`serde_json::to_writer` straight
//! into the write buffer). See `peregrine_examples::json` for the routes.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example json -- --port 8080
//! curl -d '{"name":"kettle","price":2999}' -H 'Content-Type: application/json' localhost:8080/items
//! curl 'localhost:8080/items?limit=10&offset=0'
//! curl localhost:8080/items/1
//! ```

use peregrine_examples::Options;
use peregrine_examples::json::Json;

fn main() -> std::io::Result<()> {
    let options = Options::from_args();
    options.run("json", |_| Json::new())?;
    Ok(())
}
