//! Routes: which inbound messages go to which destinations, and in what shape.
//!
//! A route has a filter on the [`Inbound`] message and actions, each producing the payload of
//! one destination. Every route whose filter matches contributes its deliveries (fan-out
//! across routes and within one). Generic routes pass bytes through or transform them;
//! typed routes parse the message as the sender's generated type, validate it against the
//! sender's profile, and hand the typed value to a mapping that returns the destination's
//! type.

use std::fmt;
use std::marker::PhantomData;

use super::inbound::Inbound;
use crate::er7::Location;
use crate::mapping::MapError;
use crate::typed::{self, MessageType};
use crate::validate::{Problem, ProblemKind, Severity};

/// One destination's copy of a routed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The destination's name.
    pub destination: String,
    /// The bytes to deliver.
    pub payload: Vec<u8>,
}

/// Why a route could not produce its outputs. The message is kept in the error state with
/// this reason; in original mode with ACK after processing it answers `AE` (or `AR` for
/// [`RouteError::Rejected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// The message breaks the profile a typed route reads it with, or a mapped output breaks
    /// its destination's profile.
    Invalid {
        /// The route.
        route: String,
        /// The problems, each with its HL7 location (error-level ones first).
        problems: Vec<Problem>,
    },
    /// A filter or transform refused the message.
    Rejected {
        /// The route.
        route: String,
        /// Why.
        reason: String,
    },
}

impl RouteError {
    /// The problems to put in ERR segments (none for [`RouteError::Rejected`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            RouteError::Invalid { problems, .. } => problems,
            RouteError::Rejected { .. } => &[],
        }
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Invalid { route, problems } => {
                let errors: Vec<&Problem> = problems.iter().filter(|p| p.is_error()).collect();
                write!(f, "route `{route}`: {} error(s)", errors.len())?;
                for p in errors {
                    write!(f, "; {p}")?;
                }
                Ok(())
            }
            RouteError::Rejected { route, reason } => write!(f, "route `{route}`: {reason}"),
        }
    }
}

impl std::error::Error for RouteError {}

/// What a route does with a message it matched: the outputs for its destinations.
pub trait Action: Send + Sync + 'static {
    /// The destinations this action may deliver to (checked against the engine's
    /// destinations when it is built).
    fn destinations(&self) -> Vec<String>;

    /// Appends this action's outputs for `message`.
    fn apply(
        &self,
        route: &str,
        message: &Inbound<'_>,
        out: &mut Vec<Output>,
    ) -> Result<(), RouteError>;
}

type Filter = Box<dyn Fn(&Inbound<'_>) -> bool + Send + Sync>;

/// A named route: a filter and the actions of the messages it takes.
pub struct Route {
    name: String,
    filter: Filter,
    actions: Vec<Box<dyn Action>>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.name)
            .field("destinations", &self.destinations())
            .finish_non_exhaustive()
    }
}

impl Route {
    /// A route that takes every message until [`Route::when`] narrows it.
    pub fn new(name: impl Into<String>) -> Route {
        Route {
            name: name.into(),
            filter: Box::new(|_| true),
            actions: Vec::new(),
        }
    }

    /// Takes only the messages `filter` accepts, e.g. `|m| m.is("ADT", "*")`.
    pub fn when(mut self, filter: impl Fn(&Inbound<'_>) -> bool + Send + Sync + 'static) -> Route {
        self.filter = Box::new(filter);
        self
    }

    /// Delivers the message to `destination` as received (generic pass-through).
    pub fn to(self, destination: impl Into<String>) -> Route {
        self.action(PassThrough {
            destination: destination.into(),
        })
    }

    /// Delivers what `transform` makes of the message to `destination`; an `Err` puts the
    /// message in the error state with that reason.
    pub fn transform(
        self,
        destination: impl Into<String>,
        transform: impl Fn(&Inbound<'_>) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Route {
        self.action(Transform {
            destination: destination.into(),
            transform,
        })
    }

    /// Reads the message as the sender's generated type `S` (validated against its profile;
    /// an error-level problem puts the message in the error state) and adds the outputs that
    /// [`Typed`] declares.
    pub fn typed<S: MessageType + Send + Sync + 'static>(
        self,
        build: impl FnOnce(Typed<S>) -> Typed<S>,
    ) -> Route {
        let typed = build(Typed {
            outputs: Vec::new(),
            _sender: PhantomData,
        });
        self.action(typed)
    }

    /// Adds any [`Action`].
    pub fn action(mut self, action: impl Action) -> Route {
        self.actions.push(Box::new(action));
        self
    }

    /// The route's name, as logs and errors show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every destination the route may deliver to.
    pub fn destinations(&self) -> Vec<String> {
        self.actions.iter().flat_map(|a| a.destinations()).collect()
    }

    /// Whether the route takes `message`.
    pub fn matches(&self, message: &Inbound<'_>) -> bool {
        (self.filter)(message)
    }

    /// Appends the route's outputs for `message` (which it matched).
    pub fn apply(&self, message: &Inbound<'_>, out: &mut Vec<Output>) -> Result<(), RouteError> {
        for action in &self.actions {
            action.apply(&self.name, message, out)?;
        }
        Ok(())
    }
}

/// Runs every matching route of `routes` on `message`: all outputs, or the first error.
pub fn route_all(routes: &[Route], message: &Inbound<'_>) -> Result<Vec<Output>, RouteError> {
    let mut out = Vec::new();
    for route in routes.iter().filter(|r| r.matches(message)) {
        route.apply(message, &mut out)?;
    }
    Ok(out)
}

struct PassThrough {
    destination: String,
}

impl Action for PassThrough {
    fn destinations(&self) -> Vec<String> {
        vec![self.destination.clone()]
    }

    fn apply(
        &self,
        _: &str,
        message: &Inbound<'_>,
        out: &mut Vec<Output>,
    ) -> Result<(), RouteError> {
        out.push(Output {
            destination: self.destination.clone(),
            payload: message.raw().to_vec(),
        });
        Ok(())
    }
}

struct Transform<F> {
    destination: String,
    transform: F,
}

impl<F> Action for Transform<F>
where
    F: Fn(&Inbound<'_>) -> Result<Vec<u8>, String> + Send + Sync + 'static,
{
    fn destinations(&self) -> Vec<String> {
        vec![self.destination.clone()]
    }

    fn apply(
        &self,
        route: &str,
        message: &Inbound<'_>,
        out: &mut Vec<Output>,
    ) -> Result<(), RouteError> {
        let payload = (self.transform)(message).map_err(|reason| RouteError::Rejected {
            route: route.to_owned(),
            reason,
        })?;
        out.push(Output {
            destination: self.destination.clone(),
            payload,
        });
        Ok(())
    }
}

type TypedOutput<S> = Box<dyn Fn(&S) -> Result<Vec<u8>, Vec<Problem>> + Send + Sync>;

/// The outputs of a typed route, over the sender's generated type `S`; see [`Route::typed`].
pub struct Typed<S> {
    outputs: Vec<(String, Option<TypedOutput<S>>)>,
    _sender: PhantomData<fn(&S)>,
}

impl<S: MessageType + Send + Sync + 'static> Typed<S> {
    /// Delivers the (validated) message to `destination` as received.
    pub fn to(mut self, destination: impl Into<String>) -> Self {
        self.outputs.push((destination.into(), None));
        self
    }

    /// Delivers `map(&message)` to `destination`, encoded as ER7 and validated against the
    /// destination type's profile; a mapping error or an error-level problem of the output
    /// puts the inbound message in the error state. `map` is usually a derived mapping's
    /// `Mapping::map`.
    pub fn map<T: MessageType + 'static>(
        mut self,
        destination: impl Into<String>,
        map: impl Fn(&S) -> Result<T, MapError> + Send + Sync + 'static,
    ) -> Self {
        let output: TypedOutput<S> = Box::new(move |source: &S| {
            let target = map(source).map_err(|e| vec![unmapped(&e)])?;
            let problems = typed::validate(&target);
            if problems.iter().any(Problem::is_error) {
                return Err(problems);
            }
            Ok(typed::to_er7(&target).into_bytes())
        });
        self.outputs.push((destination.into(), Some(output)));
        self
    }
}

fn unmapped(error: &MapError) -> Problem {
    let message = match error {
        MapError::Missing { from, .. } => format!("required, and its source {from} is not valued"),
        MapError::Unmapped { message, .. } | MapError::Conversion { message, .. } => {
            message.clone()
        }
    };
    Problem {
        severity: Severity::Error,
        kind: ProblemKind::Unmapped {
            target: error.target().to_owned(),
            message,
        },
        location: Location::default(),
    }
}

impl<S: MessageType + Send + Sync + 'static> Action for Typed<S> {
    fn destinations(&self) -> Vec<String> {
        self.outputs.iter().map(|(d, _)| d.clone()).collect()
    }

    fn apply(
        &self,
        route: &str,
        message: &Inbound<'_>,
        out: &mut Vec<Output>,
    ) -> Result<(), RouteError> {
        let invalid = |problems: Vec<Problem>| RouteError::Invalid {
            route: route.to_owned(),
            problems,
        };
        let malformed = |e: crate::er7::ParseError| {
            invalid(vec![Problem {
                severity: Severity::Error,
                kind: ProblemKind::Malformed {
                    datatype: "message".into(),
                    value: e.to_string().into(),
                },
                location: e.location().cloned().unwrap_or_default(),
            }])
        };
        // Outputs that deliver the message as received need it checked, not built: the struct
        // is read only when a mapping takes it.
        let (built, mut problems) = if self.outputs.iter().all(|(_, map)| map.is_none()) {
            let problems = typed::validate_bytes::<S>(message.raw()).map_err(malformed)?;
            (None, problems)
        } else {
            let parsed = typed::parse_lenient::<S>(message.raw()).map_err(malformed)?;
            (Some(parsed.message), parsed.problems)
        };
        if problems.iter().any(Problem::is_error) {
            problems.sort_by_key(|p| !p.is_error());
            return Err(invalid(problems));
        }
        for (destination, output) in &self.outputs {
            let payload = match (output, &built) {
                (Some(map), Some(built)) => map(built).map_err(invalid)?,
                (None, _) => message.raw().to_vec(),
                (Some(_), None) => unreachable!("the message is built when an output maps it"),
            };
            out.push(Output {
                destination: destination.clone(),
                payload,
            });
        }
        Ok(())
    }
}
