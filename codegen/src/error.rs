//! Errors of the generator.

use std::path::PathBuf;

/// Why code generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A profile (or its base) could not be loaded; the error is located.
    #[error(transparent)]
    Load(#[from] hl7_spec::LoadError),
    /// Reading a profile folder or writing the output failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Two profiles of one site would generate the same name in the site's module.
    #[error(transparent)]
    NameCollision(Box<NameCollision>),
    /// A receiver's profile would reject messages that conform to the sender's
    /// ([`Config::deny_incompatible`](crate::Config::deny_incompatible)); the report lists why.
    #[error(
        "the receiver's profile would reject messages that conform to the sender's ({summary}):\n\n{0}",
        summary = .0.summary()
    )]
    Incompatible(hl7_spec::compat::CompatReport),
    /// The configuration cannot work (no site, no profiles, no output folder).
    #[error("{0}")]
    Config(String),
}

/// Two profiles of one site would generate the same name in the site's module: a message
/// type, its typed view (`<type>View`) or its module, or one of the site's own modules.
#[derive(Debug, thiserror::Error)]
#[error(
    "two profiles of site `{site}` generate {what}:\n  --> {first}\n  --> {second}\n  = help: give one a name of its own: `.rename(\"{second}\", \"{renamed}\")`"
)]
#[non_exhaustive]
pub struct NameCollision {
    /// The site.
    pub site: String,
    /// The name and what it is to each: e.g. "the message type `AdtA01`", or "the name
    /// `AdtA01View` (the view type of the first, the message type of the second)".
    pub what: String,
    /// The colliding name.
    pub name: String,
    /// What generates it first (a profile, or the site's own module).
    pub first: String,
    /// The profile that generates it again.
    pub second: String,
    /// A type name for the second profile that generates none of the names taken.
    pub renamed: String,
}
