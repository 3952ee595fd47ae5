//! Mappings between the typed messages of two site profiles.
//!
//! `#[derive(Mapping)]` (in `hl7-macros`, re-exported as [`crate::Mapping`]) writes an impl of
//! [`Mapping`] whose every path, type and required element was checked at compile time; what
//! can only be known at run time (an optional source element that a required target needs, a
//! code a crosswalk rejects) fails the mapping with a located [`MapError`].

use std::borrow::Cow;
use std::fmt;

use crate::NonEmpty;

/// A mapping from one site's message (or group, or segment) to another's.
pub trait Mapping {
    /// The sender's type.
    type Source;
    /// The receiver's type.
    type Target;

    /// Maps one source value.
    fn map(source: &Self::Source) -> Result<Self::Target, MapError>;
}

/// Why a mapping failed for one message; `target` is the HL7 path of the target element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A required target element's source is not valued in this message.
    #[error("{target} is required, and its source {from} is not valued")]
    Missing {
        /// Target path, e.g. `PID-8`.
        target: Cow<'static, str>,
        /// Source path.
        from: Cow<'static, str>,
    },
    /// A crosswalk refused a code (its policy is `reject`).
    #[error("{target}: {message}")]
    Unmapped {
        /// Target path.
        target: Cow<'static, str>,
        /// The crosswalk's own account of the code.
        message: String,
    },
    /// A conversion function failed.
    #[error("{target}: {message}")]
    Conversion {
        /// Target path.
        target: Cow<'static, str>,
        /// What went wrong.
        message: String,
    },
}

impl MapError {
    /// A crosswalk's refusal, at `target`.
    pub fn unmapped(target: &'static str, error: impl fmt::Display) -> MapError {
        MapError::Unmapped {
            target: Cow::Borrowed(target),
            message: error.to_string(),
        }
    }

    /// The target path of the failure.
    pub fn target(&self) -> &str {
        match self {
            MapError::Missing { target, .. }
            | MapError::Unmapped { target, .. }
            | MapError::Conversion { target, .. } => target,
        }
    }

    /// Places an error of a composite's component (`.3`) under the field it belongs to
    /// (`OBX-3` gives `OBX-3.3`); composites are converted by functions shared between fields.
    pub fn under(self, field: &'static str) -> MapError {
        let place = |path: Cow<'static, str>| -> Cow<'static, str> {
            if path.starts_with('.') {
                Cow::Owned(format!("{field}{path}"))
            } else {
                path
            }
        };
        match self {
            MapError::Missing { target, from } => MapError::Missing {
                target: place(target),
                from: place(from),
            },
            MapError::Unmapped { target, message } => MapError::Unmapped {
                target: place(target),
                message,
            },
            MapError::Conversion { target, message } => MapError::Conversion {
                target: place(target),
                message,
            },
        }
    }
}

/// The value of an optional source that a required target needs.
pub fn required<T>(
    value: Option<T>,
    target: &'static str,
    source: &'static str,
) -> Result<T, MapError> {
    value.ok_or(MapError::Missing {
        target: Cow::Borrowed(target),
        from: Cow::Borrowed(source),
    })
}

/// The values of a source that a required repeating target needs, at least one.
pub fn non_empty<T>(
    values: Vec<T>,
    target: &'static str,
    source: &'static str,
) -> Result<NonEmpty<T>, MapError> {
    NonEmpty::from_vec(values).ok_or(MapError::Missing {
        target: Cow::Borrowed(target),
        from: Cow::Borrowed(source),
    })
}

/// Maps every value, stopping at the first failure.
pub fn each<'s, S: 's, T>(
    values: impl IntoIterator<Item = &'s S>,
    mut map: impl FnMut(&'s S) -> Result<T, MapError>,
) -> Result<Vec<T>, MapError> {
    values.into_iter().map(&mut map).collect()
}
