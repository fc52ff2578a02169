//! epoll and an eventfd waker, as a [`Poller`] for the shared worker loop.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use peregrine_driver::Waker;
use peregrine_driver::io::Readiness;
use peregrine_driver::reactor::{LISTENER, Poller, WAKER};
use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::event::{EventfdFlags, Timespec, eventfd};

/// One worker's epoll instance.
#[derive(Debug)]
pub struct Epoll {
    /// The epoll descriptor.
    epoll: OwnedFd,
    /// The eventfd other threads write to wake the worker.
    waker: Arc<EventFd>,
}

/// An eventfd as a [`Waker`].
#[derive(Debug)]
struct EventFd(OwnedFd);

impl Waker for EventFd {
    fn wake(&self) {
        // A full counter already wakes the worker; nothing to handle.
        let _ = rustix::io::write(&self.0, &1u64.to_ne_bytes());
    }
}

impl Poller for Epoll {
    type Event = Event;

    fn new() -> io::Result<Self> {
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        let waker = eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC)?;
        epoll::add(
            &epoll,
            &waker,
            EventData::new_u64(WAKER),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(Epoll {
            epoll,
            waker: Arc::new(EventFd(waker)),
        })
    }

    fn waker(&self) -> Arc<dyn Waker> {
        self.waker.clone()
    }

    fn clear_wake(&self) {
        let mut count = [0u8; 8];
        let _ = rustix::io::read(&self.waker.0, &mut count);
    }

    fn add_listener(&self, fd: &OwnedFd) -> io::Result<()> {
        let flags = EventFlags::IN | EventFlags::ET;
        Ok(epoll::add(
            &self.epoll,
            fd,
            EventData::new_u64(LISTENER),
            flags,
        )?)
    }

    fn add_connection(&self, fd: &OwnedFd, token: u64) -> io::Result<()> {
        // Registered once for everything, edge-triggered: no epoll_ctl as
        // the connection's interest changes.
        let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
        Ok(epoll::add(
            &self.epoll,
            fd,
            EventData::new_u64(token),
            flags,
        )?)
    }

    fn wait(&mut self, events: &mut Vec<Event>, timeout_ms: Option<u64>) -> io::Result<()> {
        events.clear();
        let timeout = timeout_ms.map(|ms| Timespec {
            tv_sec: (ms / 1000) as i64,
            tv_nsec: ((ms % 1000) * 1_000_000) as i64,
        });
        epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(events),
            timeout.as_ref(),
        )?;
        Ok(())
    }

    fn decode(event: &Event) -> (u64, Readiness) {
        let flags = event.flags;
        let hangup = flags.intersects(EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR);
        let readiness = Readiness {
            readable: hangup || flags.contains(EventFlags::IN),
            writable: flags.intersects(EventFlags::OUT | EventFlags::HUP | EventFlags::ERR),
            hangup,
        };
        (event.data.u64(), readiness)
    }
}
