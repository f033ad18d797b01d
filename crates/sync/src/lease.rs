//! The hub as the one place that says who refreshes an account's tokens:
//! the gateway's [`RefreshCoordinator`] for a linked device.

use std::sync::Arc;

use switchyard_gateway::{LeaseAnswer, LeaseFuture, RefreshCoordinator};

use crate::{SyncClient, SyncError};

/// Asks the hub for the turn before refreshing an account's tokens.
///
/// The hub grants one device at a time, and only one that already has its
/// newest tokens for the account; the holder pushes its new tokens before
/// giving the turn back, so the next device to ask finds them on their way
/// instead of spending the old refresh token again. A device that is not linked, or
/// cannot reach its hub, refreshes alone (its account keeps working).
#[derive(Debug, Clone)]
pub struct HubLease(pub Arc<SyncClient>);

impl RefreshCoordinator for HubLease {
    fn take<'a>(&'a self, subject: &'a str) -> LeaseFuture<'a> {
        Box::pin(async move {
            if self.0.linked().is_err() {
                return LeaseAnswer::Unavailable;
            }
            match self.0.take_lease(subject).await {
                Ok(true) => LeaseAnswer::Granted,
                Ok(false) => LeaseAnswer::HeldElsewhere,
                Err(SyncError::Refused(message)) => {
                    tracing::warn!(%message, subject, "sync: the hub refused a refresh lease");
                    LeaseAnswer::Unavailable
                }
                Err(error) => {
                    tracing::warn!(%error, subject, "sync: no refresh lease from the hub; refreshing alone");
                    LeaseAnswer::Unavailable
                }
            }
        })
    }

    fn end<'a>(&'a self, subject: &'a str, refreshed: bool) -> LeaseFuture<'a> {
        Box::pin(async move {
            if self.0.linked().is_err() {
                return LeaseAnswer::Unavailable;
            }
            // In the background (the request goes on at once): new tokens
            // reach the hub before the turn passes on; if they cannot, the
            // turn runs out by itself (45 s by the hub's clock).
            let client = Arc::clone(&self.0);
            let subject = subject.to_owned();
            tokio::spawn(async move {
                if refreshed && let Err(error) = client.push_now().await {
                    tracing::warn!(%error, %subject, "sync: new tokens not pushed yet; the turn runs out by itself");
                    return;
                }
                if let Err(error) = client.end_lease(&subject).await {
                    tracing::debug!(%error, %subject, "sync: lease not given back; it runs out");
                }
            });
            LeaseAnswer::Unavailable
        })
    }
}
