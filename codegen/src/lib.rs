//! The build-time generator: conformance profiles in, typed Rust out.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     hl7_codegen::Config::new()
//!         .site("acme")
//!         .profile("profiles/acme/oru_r01.xml")
//!         .compile()?;
//!     Ok(())
//! }
//! // src/lib.rs: pub mod acme { hl7_runtime::include_site!("acme"); }
//! ```
//!
//! Each site becomes one file, `$OUT_DIR/hl7/<site>.rs`: one module per profile (named after its
//! message structure, `ORU_R01` -> `OruR01` in `oru_r01`), holding the message, its groups,
//! segments and composites as data plus `#[hl7(...)]` attributes; the derives of `hl7-macros`
//! write the impls. Output is formatted with prettyplease, deterministic, and written only when
//! it changed.

mod constraints;
mod crosswalk;
mod docs;
pub mod dynamic;
mod error;
mod generate;
mod ident;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub use error::{Error, NameCollision};

/// The conditional elements of `profile` whose predicate is text only: documented in the
/// generated code, not checked by the validator. Each is `(path, predicate text)`.
pub fn unchecked_predicates(profile: &MessageProfile) -> Vec<(String, String)> {
    fn elements(
        label: &str,
        list: &[hl7_spec::Element],
        sep: char,
        out: &mut Vec<(String, String)>,
    ) {
        for element in list {
            let path = format!("{label}{sep}{}", element.position);
            // A bare `C` with no predicate at all (as base data has it) is plain optional.
            if let Some(text) = element.usage.condition().and_then(|c| c.text.as_ref()) {
                if constraints::predicate_of(&element.usage).is_none() {
                    out.push((path.clone(), text.clone()));
                }
            }
            elements(&path, &element.children, '.', out);
        }
    }
    fn nodes(list: &[hl7_spec::Node], out: &mut Vec<(String, String)>) {
        for node in list {
            match node {
                hl7_spec::Node::Segment(segment) => {
                    elements(&segment.name, &segment.fields, '-', out)
                }
                hl7_spec::Node::Group(group) => nodes(&group.children, out),
            }
        }
    }
    let mut out = Vec::new();
    nodes(&profile.children, &mut out);
    out
}
use hl7_spec::MessageProfile;

/// One site: its profiles and renames.
#[derive(Debug, Clone, Default)]
struct Site {
    name: String,
    profiles: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    base_structures: Vec<(String, String)>,
    renames: BTreeMap<PathBuf, String>,
    crosswalks: Vec<PathBuf>,
    crosswalk_dirs: Vec<PathBuf>,
}

/// Configuration of the generator, used from `build.rs` (prost-build style).
#[derive(Debug, Clone, Default)]
pub struct Config {
    sites: Vec<Site>,
    out_dir: Option<PathBuf>,
    /// Sender and receiver profiles whose compatibility `compile` reports.
    compat_pairs: Vec<(PathBuf, PathBuf)>,
    deny_incompatible: bool,
    deny_unmapped: bool,
}

impl Config {
    /// An empty configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// Starts a site: the profiles named after it belong to it, and `include_site!(name)`
    /// includes its code.
    pub fn site(&mut self, name: &str) -> &mut Self {
        self.sites.push(Site {
            name: name.to_owned(),
            ..Site::default()
        });
        self
    }

    /// Adds a profile file (an `HL7v2xConformanceProfile` or a concise `SiteProfile`) to the
    /// current site.
    pub fn profile(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.current().profiles.push(path.as_ref().to_owned());
        self
    }

    /// Adds every `*.xml` profile of a folder (sorted by name) to the current site.
    pub fn profiles_in(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.current().dirs.push(dir.as_ref().to_owned());
        self
    }

    /// Adds a message structure of a bundled HL7 base version, unconstrained (usage and
    /// cardinality as the standard gives them), e.g. `("2.5.1", "ORU_R01")`.
    pub fn base_structure(&mut self, version: &str, structure: &str) -> &mut Self {
        self.current()
            .base_structures
            .push((version.to_owned(), structure.to_owned()));
        self
    }

    /// Names the message type of one profile, when two profiles of a site share a structure.
    pub fn rename(&mut self, profile: impl AsRef<Path>, type_name: &str) -> &mut Self {
        self.current()
            .renames
            .insert(profile.as_ref().to_owned(), type_name.to_owned());
        self
    }

    /// Where the code goes; default `$OUT_DIR/hl7`.
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Reports, when compiling, what the receiver's profile expects that messages conforming
    /// to the sender's may not give it (see [`compatibility`]): each finding becomes
    /// `cargo:warning=` lines. Both files are profiles of either format.
    pub fn check_compatibility(
        &mut self,
        sender: impl AsRef<Path>,
        receiver: impl AsRef<Path>,
    ) -> &mut Self {
        self.compat_pairs
            .push((sender.as_ref().to_owned(), receiver.as_ref().to_owned()));
        self
    }

    /// Makes error-level compatibility findings fail `compile` with [`Error::Incompatible`]
    /// (default: they are only printed as warnings).
    pub fn deny_incompatible(&mut self, deny: bool) -> &mut Self {
        self.deny_incompatible = deny;
        self
    }

    /// Adds a vocabulary crosswalk (a CSV file, format in [`hl7_runtime::crosswalk`]) to the
    /// current site: it becomes the static `crosswalks::<FILE_STEM>` of the site's code, and its
    /// description an entry of `<out_dir>/<site>.crosswalks.json`.
    pub fn crosswalk(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.current().crosswalks.push(path.as_ref().to_owned());
        self
    }

    /// Adds every `*.csv` crosswalk of a folder (sorted by name) to the current site.
    pub fn crosswalks_in(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.current().crosswalk_dirs.push(dir.as_ref().to_owned());
        self
    }

    /// Makes a code of a closed `# from_table:` (HL7-defined, or a site value set) without a row
    /// a located build error (default: a `cargo:warning=` line).
    pub fn deny_unmapped(&mut self, deny: bool) -> &mut Self {
        self.deny_unmapped = deny;
        self
    }

    /// The crosswalk report `compile` prints as `cargo:warning=` lines: one line per code of a
    /// closed `from_table` without a row (`crosswalk lab_sex: code U of table 0001 has no mapping`).
    pub fn crosswalk_warnings(&self) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for site in &self.sites {
            out.extend(generate_site(site)?.3.warnings());
        }
        Ok(out)
    }

    fn current(&mut self) -> &mut Site {
        if self.sites.is_empty() {
            self.sites.push(Site {
                name: "site".to_owned(),
                ..Site::default()
            });
        }
        let last = self.sites.len() - 1;
        &mut self.sites[last]
    }

    /// Generates every site and writes `<out_dir>/<site>.rs` where it changed; announces every
    /// file read with `cargo:rerun-if-changed`.
    ///
    /// The compatibility pairs are checked first: their findings are printed as
    /// `cargo:warning=` lines, and with [`deny_incompatible`](Config::deny_incompatible) the
    /// first report with an error fails the build.
    pub fn compile(&mut self) -> Result<(), Error> {
        self.check_compatibility_pairs()?;
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| {
                Error::Config(
                    "OUT_DIR is not set: call compile() from build.rs, or set out_dir()".into(),
                )
            })?)
            .join("hl7"),
        };
        fs::create_dir_all(&out_dir).map_err(|source| Error::Io {
            action: "create",
            path: out_dir.clone(),
            source,
        })?;
        // Only a build script (cargo sets OUT_DIR for it) reads these lines from stdout.
        let in_build_script = std::env::var_os("OUT_DIR").is_some();
        for site in &self.sites {
            let (code, read, manifest, crosswalks) = generate_site(site)?;
            if in_build_script {
                for path in &read {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
                for warning in crosswalks.warnings() {
                    println!("cargo:warning={warning}");
                }
            }
            crosswalks.deny_unmapped(self.deny_unmapped)?;
            // Read by the derives to check a crosswalk's columns against the fields it maps.
            let crosswalk_manifest = crosswalk::manifest(&site.name, &crosswalks.crosswalks);
            let crosswalk_manifest = serde_json::to_string_pretty(&crosswalk_manifest)
                .map_err(|e| Error::Config(format!("crosswalk manifest: {e}")))?;
            write_if_changed(
                &out_dir.join(format!("{}.crosswalks.json", site.name)),
                &crosswalk_manifest,
            )?;
            write_if_changed(&out_dir.join(format!("{}.rs", site.name)), &code)?;
            // Read by `#[derive(Mapping)]` to resolve HL7 paths at compile time.
            write_if_changed(
                &out_dir.join(format!("{}.manifest.json", site.name)),
                &manifest,
            )?;
        }
        Ok(())
    }

    /// Runs the compatibility pairs; prints their findings under cargo.
    fn check_compatibility_pairs(&self) -> Result<(), Error> {
        // Only a build script (cargo sets OUT_DIR for it) reads these lines from stdout.
        let in_build_script = std::env::var_os("OUT_DIR").is_some();
        let mut denied = None;
        for (sender, receiver) in &self.compat_pairs {
            let report = compatibility(sender, receiver)?;
            if in_build_script {
                println!("cargo:rerun-if-changed={}", sender.display());
                println!("cargo:rerun-if-changed={}", receiver.display());
                let title = format!(
                    "compatibility of `{}` (sender) with `{}` (receiver): {}",
                    display_path(sender),
                    display_path(receiver),
                    report.summary()
                );
                let findings = report.findings.iter().map(ToString::to_string);
                for line in std::iter::once(title).chain(findings) {
                    for part in line.lines() {
                        println!("cargo:warning={part}");
                    }
                }
            }
            if self.deny_incompatible && report.has_errors() && denied.is_none() {
                denied = Some(report);
            }
        }
        match denied {
            Some(report) => Err(Error::Incompatible(report)),
            None => Ok(()),
        }
    }

    /// The code of the configured sites, as `compile` would write it (for snapshot tests).
    pub fn generate_to_string(&self) -> Result<String, Error> {
        if self.sites.is_empty() {
            return Err(Error::Config(
                "no site configured: call .site(name) first".into(),
            ));
        }
        let mut out = String::new();
        for site in &self.sites {
            let (code, _, _, crosswalks) = generate_site(site)?;
            crosswalks.deny_unmapped(self.deny_unmapped)?;
            out.push_str(&code);
        }
        Ok(out)
    }
}

/// The compatibility report of two profile files (either format): what the receiver's profile
/// expects that messages conforming to the sender's may not give it.
///
/// ```no_run
/// let report =
///     hl7_codegen::compatibility("profiles/lab/oru_r01.xml", "profiles/ehr/oru_r01.xml")?;
/// if report.has_errors() {
///     eprintln!("{report}");
/// }
/// # Ok::<(), hl7_codegen::Error>(())
/// ```
///
/// Both files are read even when the first fails, so all load errors are reported at once.
/// See [`hl7_spec::compat`] for what is compared and how severe each finding is.
pub fn compatibility(
    sender: impl AsRef<Path>,
    receiver: impl AsRef<Path>,
) -> Result<hl7_spec::compat::CompatReport, Error> {
    let sender = hl7_spec::profile::load_profile(sender.as_ref());
    let receiver = hl7_spec::profile::load_profile(receiver.as_ref());
    match (sender, receiver) {
        (Ok(sender), Ok(receiver)) => Ok(hl7_spec::compat::compare(&sender, &receiver)),
        (sender, receiver) => {
            let errors = [sender.err(), receiver.err()]
                .into_iter()
                .flatten()
                .collect();
            Err(hl7_spec::LoadError::from_all(errors).map_or_else(
                || Error::Config("a profile failed to load".into()),
                Error::Load,
            ))
        }
    }
}

/// Generates one site; returns its code and the files and folders read.
fn generate_site(
    site: &Site,
) -> Result<(String, Vec<PathBuf>, String, crosswalk::SiteCrosswalks), Error> {
    let (paths, mut read) = files_in(&site.profiles, &site.dirs, "xml")?;
    if paths.is_empty()
        && site.base_structures.is_empty()
        && site.crosswalks.is_empty()
        && site.crosswalk_dirs.is_empty()
    {
        return Err(Error::Config(format!(
            "site `{}` has no profiles",
            site.name
        )));
    }
    let mut errors = Vec::new();
    let mut profiles: Vec<(PathBuf, MessageProfile)> = Vec::new();
    for (version, structure) in &site.base_structures {
        // A base structure stands for every event that uses it (ADT_A01 for A01, A04, A08...).
        let profile = hl7_spec::base::load(version)
            .and_then(|base| base.to_profile(structure))
            .map(|profile| MessageProfile {
                event_type: String::new(),
                ..profile
            });
        match profile {
            Ok(profile) => profiles.push((
                PathBuf::from(format!("hl7-spec/spec/{version}#{structure}")),
                profile,
            )),
            Err(error) => errors.push(error),
        }
    }
    for path in &paths {
        match hl7_spec::profile::load_profile(path) {
            Ok(profile) => profiles.push((path.clone(), profile)),
            Err(error) => errors.push(error),
        }
    }
    if let Some(error) = hl7_spec::LoadError::from_all(errors) {
        return Err(error.into());
    }
    let mut names = SiteNames::new();
    let mut inputs = Vec::new();
    for (path, profile) in &profiles {
        let source = display_path(path);
        let type_name = site
            .renames
            .get(path)
            .cloned()
            .unwrap_or_else(|| ident::camel(&profile.structure_id, "Message"));
        if let Some((what, name, first)) = names.take(&type_name, &source) {
            return Err(Error::NameCollision(Box::new(NameCollision {
                site: site.name.clone(),
                what,
                renamed: names.free(&type_name),
                name,
                first,
                second: source,
            })));
        }
        inputs.push(generate::Input {
            profile,
            type_name,
            source,
        });
    }
    let crosswalks = crosswalk::compile_site(
        &site.name,
        &site.crosswalks,
        &site.crosswalk_dirs,
        &profiles,
    )?;
    read.extend(crosswalks.read.iter().cloned());
    let (mut tokens, manifest) = generate::site(&inputs);
    tokens.extend(crosswalk::crosswalks_module(&crosswalks.crosswalks));
    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| Error::Config(format!("generated code does not parse: {e}")))?;
    let sources: Vec<&str> = inputs
        .iter()
        .map(|i| i.source.as_str())
        .chain(crosswalks.crosswalks.iter().map(|c| c.source.as_str()))
        .collect();
    let header = format!(
        "// @generated by hl7-codegen for site `{}` from {}. Do not edit.\n\n",
        site.name,
        sources.join(", ")
    );
    let manifest = serde_json::to_string_pretty(
        &serde_json::json!({ "site": site.name, "messages": manifest["messages"] }),
    )
    .map_err(|e| Error::Config(format!("manifest: {e}")))?;
    Ok((
        header + &prettyplease::unparse(&file),
        read,
        manifest,
        crosswalks,
    ))
}

/// The files named, then every `*.<extension>` of each folder (sorted by name); and everything
/// read (files and folders), for `cargo:rerun-if-changed`.
pub(crate) fn files_in(
    files: &[PathBuf],
    dirs: &[PathBuf],
    extension: &str,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Error> {
    let mut paths = files.to_vec();
    let mut read = files.to_vec();
    for dir in dirs {
        read.push(dir.clone());
        let io = |source| Error::Io {
            action: "read",
            path: dir.clone(),
            source,
        };
        let mut found = Vec::new();
        for entry in fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == extension) {
                found.push(path);
            }
        }
        found.sort();
        read.extend(found.iter().cloned());
        paths.extend(found);
    }
    Ok((paths, read))
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), Error> {
    if fs::read_to_string(path).ok().as_deref() != Some(text) {
        fs::write(path, text).map_err(|source| Error::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// The names a site's module holds, each with what generates it: per message its type, its
/// typed view and its module (all in the site's module, where the views are re-exported),
/// beside the site's own modules.
struct SiteNames(BTreeMap<String, (&'static str, String)>);

impl SiteNames {
    fn new() -> SiteNames {
        let own = [
            ("tables", "the site's code tables (`tables`)"),
            ("crosswalks", "the site's crosswalks (`crosswalks`)"),
        ];
        SiteNames(
            own.into_iter()
                .map(|(name, by)| (name.to_owned(), ("module", by.to_owned())))
                .collect(),
        )
    }

    /// The names of a message type `type_name`, with what each one is.
    fn of(type_name: &str) -> [(&'static str, String); 3] {
        [
            ("message type", type_name.to_owned()),
            ("view type", format!("{type_name}View")),
            ("module", ident::snake(type_name, "message")),
        ]
    }

    /// Takes the names of `type_name` for `source`; or, when one is taken already, says
    /// which and what it is to each (see [`Error::NameCollision`]) and who took it, and takes
    /// nothing.
    fn take(&mut self, type_name: &str, source: &str) -> Option<(String, String, String)> {
        let names = SiteNames::of(type_name);
        if let Some((again, name)) = names.iter().find(|(_, n)| self.0.contains_key(n)) {
            let (first, by) = &self.0[name];
            let what = if first == again {
                format!("the {again} `{name}`")
            } else {
                format!("the name `{name}` (the {first} of the first, the {again} of the second)")
            };
            return Some((what, name.clone(), by.clone()));
        }
        for (what, name) in names {
            self.0.insert(name, (what, source.to_owned()));
        }
        None
    }

    /// A type name like `type_name` none of whose names is taken.
    fn free(&self, type_name: &str) -> String {
        (0..)
            .map(|n| match n {
                0 => format!("{type_name}Other"),
                n => format!("{type_name}Other{n}"),
            })
            .find(|candidate| {
                SiteNames::of(candidate)
                    .iter()
                    .all(|(_, n)| !self.0.contains_key(n))
            })
            .expect("finitely many names are taken")
    }
}

/// A path as the user gave it, made relative to the crate when it is absolute under it, so
/// output never depends on where the checkout lives.
fn display_path(path: &Path) -> String {
    let relative = std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| path.strip_prefix(Path::new(&dir)).ok().map(Path::to_owned))
        .unwrap_or_else(|| path.to_owned());
    relative.to_string_lossy().replace('\\', "/")
}
