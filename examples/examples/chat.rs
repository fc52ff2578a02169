//! A chat server: open `http://127.0.0.1:8080/?room=lobby` in two browser
//! windows and talk. The page joins its room over a WebSocket; each
//! message is published to everyone in the room, across every worker.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example chat -- --port 8080
//! ```
//!
//! Runs on every backend (`--backend std` too, in any `--model`), whose
//! `Sender` carries messages between workers (or connection threads).

fn main() -> std::io::Result<()> {
    use peregrine_examples::Options;
    use peregrine_examples::chat::Chat;

    Options::from_args().run_with_sender("chat", |_, sender| Chat::new(sender))?;
    Ok(())
}
