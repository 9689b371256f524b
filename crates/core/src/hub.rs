//! [`Hub`]: the running core, one cheap handle for the CLI and the desktop shell alike.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::relay::{Relay, RelayOptions, ServerStatus};

/// Where a server can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub server: String,
    /// Streamable HTTP.
    pub mcp_url: String,
    /// Legacy HTTP+SSE.
    pub sse_url: String,
}

/// The proxy, running: the relay plus its loopback listener and the idle sweeper.
pub struct Hub {
    relay: Arc<Relay>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
}

impl Hub {
    /// Binds `127.0.0.1:port` (0 picks a free port, for tests) and starts serving `config`.
    pub async fn start(config: &Config, port: u16, options: RelayOptions) -> Result<Hub> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|source| Error::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { port, source })?;
        let relay = Relay::new(config, options);
        let (stop, stopped) = oneshot::channel::<()>();
        let router = crate::http::router(relay.clone());
        let server = tokio::spawn(crate::http::serve(listener, router, async {
            let _ = stopped.await;
        }));
        let sweeper = tokio::spawn(sweep_idle(relay.clone()));
        log::info!("listening on http://{addr}");
        Ok(Hub {
            relay,
            addr,
            stop: Some(stop),
            server,
            sweeper,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    /// The URLs of every enabled server.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.relay
            .server_names()
            .iter()
            .map(|name| Endpoint {
                server: name.to_string(),
                mcp_url: format!("http://{}/servers/{name}/mcp", self.addr),
                sse_url: format!("http://{}/servers/{name}/sse", self.addr),
            })
            .collect()
    }

    pub fn status(&self) -> Vec<ServerStatus> {
        self.relay.status()
    }

    /// Stops accepting connections and stops every child (close stdin → SIGTERM → SIGKILL).
    pub async fn shutdown(mut self) {
        self.sweeper.abort();
        // Children first: that ends every open stream, so the server can drain.
        self.relay.shutdown().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        log::info!("stopped");
    }
}

async fn sweep_idle(relay: Arc<Relay>) {
    let every = (relay.options().idle_timeout / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(30));
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        relay.expire_idle().await;
    }
}
