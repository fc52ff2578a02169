//! Servers whose handler (and test) hold the server's
//! [`Sender`](peregrine_driver::Sender): the readiness backends' and the
//! portable backend's, for every model.

use peregrine_driver::Sender;

use crate::{Backend, Handler, Options, ShutdownHandle, Started, TestServer};

impl TestServer {
    /// Starts on `backend`, configured by `options`, the handler `make`
    /// builds from the server's [`Sender`]; returns the server and a
    /// sender of its own for the test.
    ///
    /// # Panics
    ///
    /// For [`Backend::Tokio`], which has no sender, or if the server
    /// cannot bind or start.
    pub fn start_with_sender_on<H, L>(
        backend: Backend,
        options: Options,
        make: impl FnOnce(Sender) -> H,
    ) -> (TestServer, Sender)
    where
        H: Handler<L> + Send + 'static,
        L: Default,
    {
        Self::start_with_handles_on(backend, options, |sender, _| make(sender))
    }

    /// [`start_with_sender_on`](Self::start_with_sender_on), `make` also
    /// given the server's shutdown handle (for a handler that stops the
    /// server).
    ///
    /// # Panics
    ///
    /// As [`start_with_sender_on`](Self::start_with_sender_on).
    pub fn start_with_handles_on<H, L>(
        backend: Backend,
        options: Options,
        make: impl FnOnce(Sender, ShutdownHandle) -> H,
    ) -> (TestServer, Sender)
    where
        H: Handler<L> + Send + 'static,
        L: Default,
    {
        if let Some(served_by) = backend.h2c_of() {
            let (mut server, sender) =
                Self::start_with_handles_on(served_by, options.with_h2c(), make);
            server.h2c = true;
            return (server, sender);
        }
        let (addr, handle, run, sender): Started = match backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => {
                crate::start_reactor_with::<peregrine_epoll::Epoll, H, L>(&options, make)
            }
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => {
                crate::start_reactor_with::<peregrine_kqueue::Kqueue, H, L>(&options, make)
            }
            Backend::StdPool | Backend::StdPerConnection | Backend::StdSingle => {
                let server = crate::std_server(backend, &options);
                // Taken before the handler is made, as a program would.
                let sender = server.sender();
                let handle = server.shutdown_handle();
                let handler = make(sender.clone(), handle.clone());
                let addr = server.local_addr();
                (addr, handle, Box::new(move || server.run(handler)), sender)
            }
            Backend::Tokio => panic!("the tokio example has no sender"),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::EpollH2c => unreachable!("served by epoll"),
            Backend::StdPoolH2c => unreachable!("served by the std pool"),
        };
        (TestServer::spawn(addr, handle, run), sender)
    }

    /// [`start_with_sender_on`](Self::start_with_sender_on) this
    /// platform's readiness backend (epoll or kqueue).
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    pub fn start_with_sender<H, L>(
        options: Options,
        make: impl FnOnce(Sender) -> H,
    ) -> (TestServer, Sender)
    where
        H: Handler<L> + Send + 'static,
        L: Default,
    {
        Self::start_with_sender_on(Backend::NATIVE, options, make)
    }

    /// [`start_with_handles_on`](Self::start_with_handles_on) this
    /// platform's readiness backend (epoll or kqueue).
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    pub fn start_with_handles<H, L>(
        options: Options,
        make: impl FnOnce(Sender, ShutdownHandle) -> H,
    ) -> (TestServer, Sender)
    where
        H: Handler<L> + Send + 'static,
        L: Default,
    {
        Self::start_with_handles_on(Backend::NATIVE, options, make)
    }
}
