//! A kube client that counts what it sends, for tests and benchmarks that must show how many
//! requests (or writes) an operation costs.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use kube::Client;

use crate::{Cluster, HarnessError};

/// How many requests, and how many writes (anything but GET), a counting client has sent.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter {
    requests: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
}

impl RequestCounter {
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct Count<S> {
    inner: S,
    counter: RequestCounter,
}

impl<S, B> tower::Service<http::Request<B>> for Count<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.counter.requests.fetch_add(1, Ordering::SeqCst);
        if request.method() != http::Method::GET {
            self.counter.writes.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.call(request)
    }
}

impl Cluster {
    /// An admin client that counts every request it sends. Same runtime rule as [`Cluster::client`].
    pub fn counting_client(&self) -> Result<(Client, RequestCounter), HarnessError> {
        let counter = RequestCounter::default();
        let layer_counter = counter.clone();
        let client = kube::client::ClientBuilder::try_from(self.config().clone())
            .map_err(HarnessError::Client)?
            .with_layer(&tower::layer::layer_fn(move |inner| Count {
                inner,
                counter: layer_counter.clone(),
            }))
            .build();
        Ok((client, counter))
    }
}
