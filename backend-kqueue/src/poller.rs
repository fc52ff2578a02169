//! kqueue and an `EVFILT_USER` waker, as a [`Poller`] for the shared
//! worker loop.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

use peregrine_driver::Waker;
use peregrine_driver::io::Readiness;
use peregrine_driver::reactor::{LISTENER, Poller, WAKER};
use rustix::event::Timespec;
use rustix::event::kqueue::{self, Event, EventFilter, EventFlags, UserDefinedFlags, UserFlags};

// Tokens carry a slot's generation in their upper 32 bits and travel in
// kqueue's pointer-sized user data.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("peregrine-kqueue needs 64-bit pointers to carry its tokens");

/// The identifier of the waker's `EVFILT_USER` event.
const WAKER_IDENT: isize = 1;

/// One worker's kqueue.
#[derive(Debug)]
pub struct Kqueue {
    /// The kqueue descriptor, shared with the waker.
    kq: Arc<OwnedFd>,
    /// Interrupts `wait` from other threads.
    waker: Arc<UserEvent>,
}

/// Triggers the kqueue's `EVFILT_USER` event.
#[derive(Debug)]
struct UserEvent(Arc<OwnedFd>);

/// The user data a token travels as.
fn udata(token: u64) -> *mut core::ffi::c_void {
    token as usize as *mut core::ffi::c_void
}

/// Applies `changes` to `kq`, collecting no events.
fn change(kq: &OwnedFd, changes: &[Event]) -> io::Result<()> {
    let mut none: [Event; 0] = [];
    // SAFETY: the descriptors named in `changes` are open (the caller
    // holds them), and closing a descriptor removes its filters from every
    // kqueue (kevent(2)), so the kqueue never refers to a closed one.
    unsafe { kqueue::kevent_timespec(kq, changes, &mut none[..], Some(&Timespec::default())) }?;
    Ok(())
}

impl Waker for UserEvent {
    fn wake(&self) {
        let trigger = Event::new(
            EventFilter::User {
                ident: WAKER_IDENT,
                flags: UserFlags::TRIGGER,
                user_flags: UserDefinedFlags::new(0),
            },
            EventFlags::empty(),
            udata(WAKER),
        );
        // A failed wake-up leaves the worker to its next deadline at worst.
        let _ = change(&self.0, &[trigger]);
    }
}

impl Poller for Kqueue {
    type Event = Event;

    fn new() -> io::Result<Self> {
        let kq = Arc::new(kqueue::kqueue()?);
        let user = Event::new(
            EventFilter::User {
                ident: WAKER_IDENT,
                flags: UserFlags::empty(),
                user_flags: UserDefinedFlags::new(0),
            },
            // EV_CLEAR: the event resets once reported.
            EventFlags::ADD | EventFlags::CLEAR,
            udata(WAKER),
        );
        change(&kq, &[user])?;
        Ok(Kqueue {
            waker: Arc::new(UserEvent(Arc::clone(&kq))),
            kq,
        })
    }

    fn waker(&self) -> Arc<dyn Waker> {
        self.waker.clone()
    }

    fn clear_wake(&self) {
        // EV_CLEAR already reset the user event.
    }

    fn add_listener(&self, fd: &OwnedFd) -> io::Result<()> {
        let read = Event::new(
            EventFilter::Read(fd.as_fd().as_raw_fd()),
            EventFlags::ADD | EventFlags::CLEAR,
            udata(LISTENER),
        );
        change(&self.kq, &[read])
    }

    fn add_connection(&self, fd: &OwnedFd, token: u64) -> io::Result<()> {
        // Both filters once, edge-triggered (EV_CLEAR): no kevent as the
        // connection's interest changes.
        let raw = fd.as_fd().as_raw_fd();
        let flags = EventFlags::ADD | EventFlags::CLEAR;
        let changes = [
            Event::new(EventFilter::Read(raw), flags, udata(token)),
            Event::new(EventFilter::Write(raw), flags, udata(token)),
        ];
        change(&self.kq, &changes)
    }

    fn wait(&mut self, events: &mut Vec<Event>, timeout_ms: Option<u64>) -> io::Result<()> {
        events.clear();
        let timeout = timeout_ms.map(|ms| Timespec {
            tv_sec: (ms / 1000) as i64,
            tv_nsec: ((ms % 1000) * 1_000_000) as _,
        });
        // SAFETY: as in `change`: registered descriptors stay open while
        // registered, and closing one removes its filters.
        unsafe {
            kqueue::kevent_timespec(
                &*self.kq,
                &[],
                rustix::buffer::spare_capacity(events),
                timeout.as_ref(),
            )
        }?;
        Ok(())
    }

    fn decode(event: &Event) -> (u64, Readiness) {
        let token = event.udata() as usize as u64;
        let flags = event.flags();
        let hangup = flags.intersects(EventFlags::EOF | EventFlags::ERROR);
        let readiness = match event.filter() {
            EventFilter::Read(_) => Readiness {
                readable: true,
                writable: false,
                hangup,
            },
            EventFilter::Write(_) => Readiness {
                readable: hangup,
                writable: true,
                hangup,
            },
            _ => Readiness::default(),
        };
        (token, readiness)
    }
}
