//! Store files as earlier versions of the schema left them.

use rusqlite::{params, Connection};

/// Rewrites the messages as version 5 and older kept them: `raw` verbatim, and no
/// `raw_codec` column. A test that sets `user_version` below 6 to stand for an older file
/// calls this first, or the file would not be the one that version wrote.
pub(crate) fn without_raw_codec(conn: &Connection) -> rusqlite::Result<()> {
    let packed = conn
        .prepare("SELECT id, raw FROM messages WHERE raw_codec = 1")?
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (id, stored) in packed {
        let raw = lz4_flex::decompress_size_prepended(&stored).expect("an LZ4 block");
        conn.execute(
            "UPDATE messages SET raw = ?1 WHERE id = ?2",
            params![raw, id],
        )?;
    }
    conn.execute_batch("ALTER TABLE messages DROP COLUMN raw_codec")
}
