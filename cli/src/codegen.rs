//! `hl7 codegen`: the generator outside `build.rs`, for a look at the code a site gets.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{report, Status};

/// Runs `hl7 codegen --site site --profile p... --out dir`: writes `<dir>/<site>.rs` (only
/// when it changed) and prints its path.
pub(crate) fn run(
    site: &str,
    profiles: &[PathBuf],
    dir: &Path,
    out: &mut dyn Write,
) -> io::Result<Status> {
    let mut config = hl7_codegen::Config::new();
    config.site(site);
    for profile in profiles {
        config.profile(profile);
    }
    config.out_dir(dir);
    match config.compile() {
        Ok(()) => {
            writeln!(out, "wrote {}", dir.join(format!("{site}.rs")).display())?;
            Ok(Status::Success)
        }
        Err(err) => {
            report(err);
            Ok(Status::Failed)
        }
    }
}
