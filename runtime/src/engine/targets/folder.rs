//! Folder destinations: one file per item, written atomically.

use std::path::PathBuf;

use crate::engine::{Deliver, DeliveryFuture, Verdict};
use crate::store::ItemId;

pub(crate) struct FolderDeliver {
    pub(crate) dir: PathBuf,
}

impl Deliver for FolderDeliver {
    fn deliver<'a>(&'a mut self, item: ItemId, payload: &'a [u8]) -> DeliveryFuture<'a> {
        let dir = self.dir.clone();
        let payload = payload.to_vec();
        Box::pin(async move {
            let written = tokio::task::spawn_blocking(move || write_file(&dir, item, &payload))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r);
            match written {
                Ok(()) => Verdict::Delivered { response: None },
                Err(e) => Verdict::Failed {
                    error: e.to_string(),
                    response: None,
                },
            }
        })
    }
}

/// Writes `q<item>.hl7` in `dir` atomically; a redelivery of the item rewrites the same file.
fn write_file(dir: &std::path::Path, item: ItemId, payload: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let name = format!("{:012}.hl7", item.0);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(payload)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(&name))?;
    std::fs::File::open(dir)?.sync_all()
}
