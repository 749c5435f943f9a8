//! The request id of the work in progress, wherever it runs: a span opened with a `request_id`
//! field names it, and every span opened inside that one (in this process) inherits it. The
//! log lines of those spans print it; [`current_request_id`] reads it, so that a call to another
//! service or a domain event carries it along.

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

/// The name of the span field that gives a request id.
pub const FIELD: &str = "request_id";

/// The request id a span carries (its own, or its parent's), kept in the span's extensions.
#[derive(Clone, Debug)]
struct RequestId(String);

/// Keeps each span's request id: the one its `request_id` field names, else its parent's.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIdLayer;

impl<S> tracing_subscriber::Layer<S> for RequestIdLayer
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let Some(span) = context.span(id) else { return };
        let mut own = OwnId(None);
        attributes.record(&mut own);
        let request_id = own.0.map(RequestId).or_else(|| {
            let parent = span.parent()?;
            let extensions = parent.extensions();
            extensions.get::<RequestId>().cloned()
        });
        if let Some(request_id) = request_id {
            span.extensions_mut().insert(request_id);
        }
    }
}

struct OwnId(Option<String>);

impl Visit for OwnId {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == FIELD && !value.is_empty() {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == FIELD {
            let value = format!("{value:?}");
            if !value.is_empty() && value != "\"\"" {
                self.0 = Some(value.trim_matches('"').to_owned());
            }
        }
    }
}

/// The request id of the current span, if the global subscriber keeps them and one was given.
pub fn current_request_id() -> Option<String> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            let span = registry.span(id)?;
            let extensions = span.extensions();
            extensions.get::<RequestId>().map(|request_id| request_id.0.clone())
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn a_span_inside_a_request_carries_its_id_and_a_span_outside_none() {
        let subscriber = tracing_subscriber::registry().with(RequestIdLayer);
        tracing::subscriber::with_default(subscriber, || {
            assert_eq!(current_request_id(), None);
            let request = tracing::info_span!("request", request_id = "abc-1");
            let _entered = request.enter();
            assert_eq!(current_request_id().as_deref(), Some("abc-1"));
            let inner = tracing::info_span!("inner");
            let _inner = inner.enter();
            assert_eq!(current_request_id().as_deref(), Some("abc-1"), "inherited from the parent");
            let displayed = tracing::info_span!("other", request_id = %"xyz");
            let _displayed = displayed.enter();
            assert_eq!(current_request_id().as_deref(), Some("xyz"), "its own, given with %");
        });
    }
}
