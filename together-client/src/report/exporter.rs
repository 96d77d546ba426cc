//! [`MetricsServer`]: the `metrics` of this process in Prometheus' text format at `/metrics`
//! (feature `prometheus`; metrics-exporter-prometheus renders, a small hyper server answers).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use http::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Serves the metrics of a Prometheus recorder at `http://ADDR/metrics` until shut down
/// (or dropped).
///
/// [`MetricsServer::install`] installs the recorder for the whole process: do it before the
/// client's first request, since the client and its limiter register their series then.
///
/// ```
/// use together_client::report::MetricsServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
/// let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), recorder.handle()).await?;
/// println!("scrape http://{}/metrics", server.local_addr());
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    handle: PrometheusHandle,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Installs a Prometheus recorder as the process's global `metrics` recorder and serves
    /// it on `addr` (port 0: any free port, see [`local_addr`](Self::local_addr)). An error
    /// if the address cannot be bound or a global recorder is already installed.
    pub async fn install(addr: SocketAddr) -> io::Result<MetricsServer> {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .map_err(io::Error::other)?;
        MetricsServer::start(addr, handle).await
    }

    /// Serves the recorder behind `handle` on `addr`, leaving its installation to the caller.
    pub async fn start(addr: SocketAddr, handle: PrometheusHandle) -> io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept(listener, handle.clone()));
        Ok(MetricsServer { addr, handle, task })
    }

    /// The address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metrics as the server renders them now.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = (&mut { self }.task).await;
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, handle: PrometheusHandle) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors, say: let some connections end first.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let handle = handle.clone();
                let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    std::future::ready(Ok::<_, Infallible>(answer(&request, &handle)))
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// `GET /metrics`: the text format; anything else: 404 or 405.
fn answer<B>(request: &Request<B>, handle: &PrometheusHandle) -> Response<String> {
    let (status, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, handle.render()),
        (_, "/metrics") => (StatusCode::METHOD_NOT_ALLOWED, String::new()),
        _ => (StatusCode::NOT_FOUND, "try /metrics\n".to_owned()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
