//! The checker of RELIABILITY.md ("Tests, with numbers"): the sender log against each sink's
//! delivery log (`MSH-10<TAB>sha256` per delivery, written by the simulated destination before
//! it answers `AA`).
//!
//! - lost = acknowledged − delivered, must be empty;
//! - dup = deliveries − distinct; every delivery, duplicate or not, must carry the bytes that
//!   were sent under its MSH-10 (same SHA-256);
//! - per-destination FIFO: for each sender connection, the order of first deliveries equals
//!   the order in which that connection's messages were acknowledged.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use super::Msg;

/// One destination's verdict.
#[derive(Debug, Clone)]
pub struct DestReport {
    /// The destination.
    pub name: String,
    /// Lines in its log.
    pub deliveries: usize,
    /// Distinct MSH-10s delivered.
    pub distinct: usize,
    /// deliveries − distinct.
    pub dup: usize,
    /// Acknowledged, never delivered (MSH-10s).
    pub lost: Vec<String>,
    /// Deliveries whose bytes differ from what was sent under that MSH-10, or whose MSH-10
    /// was never sent.
    pub corrupt: Vec<String>,
    /// Delivered, never acknowledged to the sender (every sender here retries until it is
    /// acknowledged, so there should be none).
    pub unacked: Vec<String>,
    /// The first FIFO break, if any.
    pub fifo: Option<String>,
}

impl DestReport {
    /// No loss, no altered delivery, order kept.
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty()
            && self.corrupt.is_empty()
            && self.unacked.is_empty()
            && self.fifo.is_none()
    }
}

impl fmt::Display for DestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} deliveries, {} distinct, dup {}, lost {}, corrupt {}",
            self.name,
            self.deliveries,
            self.distinct,
            self.dup,
            self.lost.len(),
            self.corrupt.len()
        )?;
        if !self.lost.is_empty() {
            write!(f, " (lost e.g. {:?})", &self.lost[..self.lost.len().min(5)])?;
        }
        if !self.corrupt.is_empty() {
            write!(
                f,
                " (corrupt e.g. {:?})",
                &self.corrupt[..self.corrupt.len().min(5)]
            )?;
        }
        if !self.unacked.is_empty() {
            write!(
                f,
                ", {} delivered never acknowledged (e.g. {})",
                self.unacked.len(),
                self.unacked[0]
            )?;
        }
        if let Some(fifo) = &self.fifo {
            write!(f, ", FIFO broken: {fifo}")?;
        }
        Ok(())
    }
}

/// `(MSH-10, sha256)` per line of a sink log, for the MSH-10s starting with `prefix`.
pub fn read_log(path: &Path, prefix: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (id, sha) = l.split_once('\t')?;
            Some((id.to_owned(), sha.to_owned()))
        })
        .filter(|(id, _)| id.starts_with(prefix))
        .collect()
}

/// Distinct MSH-10s starting with `prefix` in a sink log (for polling until a destination
/// has everything).
pub fn distinct_delivered(path: &Path, prefix: &str) -> usize {
    read_log(path, prefix)
        .into_iter()
        .map(|(id, _)| id)
        .collect::<HashSet<_>>()
        .len()
}

/// Checks one destination's log (its lines whose MSH-10 starts with `prefix`) against the
/// messages and, per connection, the acknowledged message indices in acknowledgment order.
pub fn check(
    name: &str,
    log: &Path,
    prefix: &str,
    msgs: &[Msg],
    acked: &[Vec<usize>],
) -> DestReport {
    let index: HashMap<&str, usize> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| (m.control_id.as_str(), i))
        .collect();
    let lines = read_log(log, prefix);
    let mut seen = HashSet::new();
    let mut first = Vec::new();
    let mut corrupt = Vec::new();
    for (id, sha) in &lines {
        match index.get(id.as_str()) {
            Some(&i) if msgs[i].sha == *sha => {
                if seen.insert(i) {
                    first.push(i);
                }
            }
            Some(_) => corrupt.push(format!("{id} (other bytes)")),
            None => corrupt.push(format!("{id} (never sent)")),
        }
    }
    let lost = acked
        .iter()
        .flatten()
        .filter(|i| !seen.contains(i))
        .map(|&i| msgs[i].control_id.clone())
        .collect();
    let mut fifo = None;
    let mut unacked = Vec::new();
    for (conn, order) in acked.iter().enumerate() {
        let order_set: HashSet<usize> = order.iter().copied().collect();
        let (delivered, extra): (Vec<usize>, Vec<usize>) = first
            .iter()
            .copied()
            .filter(|&i| msgs[i].conn == conn)
            .partition(|i| order_set.contains(i));
        unacked.extend(extra.iter().map(|&i| msgs[i].control_id.clone()));
        let expected: Vec<usize> = order.iter().copied().filter(|i| seen.contains(i)).collect();
        if fifo.is_none() {
            if let Some(k) = (0..expected.len()).find(|&k| delivered.get(k) != expected.get(k)) {
                fifo = Some(format!(
                    "connection {conn}: first delivery #{k} is {:?}, acknowledged #{k} was {}",
                    delivered.get(k).map(|&i| &msgs[i].control_id),
                    msgs[expected[k]].control_id
                ));
            }
        }
    }
    DestReport {
        name: name.to_owned(),
        deliveries: lines.len(),
        distinct: seen.len(),
        dup: lines.len() - seen.len() - corrupt.len(),
        lost,
        corrupt,
        unacked,
        fifo,
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::support::adt_messages;

    /// The checker itself: a sink log with a lost message, an identical duplicate, an altered
    /// duplicate, a message never sent and two swapped deliveries is caught on each count.
    #[test]
    fn the_checker_catches_loss_corruption_and_reordering() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let msgs = adt_messages(1, "C", 6, 2);
        let acked = vec![vec![0, 2, 4], vec![1, 3, 5]];
        let line = |i: usize| format!("{}\t{}\n", msgs[i].control_id, msgs[i].sha);
        let write = |name: &str, text: String| {
            let path = tmp.path().join(name);
            std::fs::write(&path, text).expect("write a log");
            path
        };

        let good = write("good.log", [0, 1, 2, 2, 3, 4, 5].map(line).concat());
        let r = check("good", &good, "", &msgs, &acked);
        assert!(r.is_clean(), "{r}");
        assert_eq!((r.deliveries, r.distinct, r.dup), (7, 6, 1));

        let lost = write("lost.log", [0, 1, 2, 3, 5].map(line).concat());
        let r = check("lost", &lost, "", &msgs, &acked);
        assert_eq!(r.lost, [msgs[4].control_id.clone()]);

        let altered = format!(
            "{}{}\t{}\nNEVER-SENT\t00\n",
            [0, 1, 2, 3, 4, 5].map(line).concat(),
            msgs[3].control_id,
            msgs[2].sha
        );
        let altered = write("altered.log", altered);
        let r = check("altered", &altered, "", &msgs, &acked);
        assert_eq!(r.corrupt.len(), 2, "{r}");

        let swapped = write("swapped.log", [0, 1, 4, 3, 2, 5].map(line).concat());
        let r = check("swapped", &swapped, "", &msgs, &acked);
        assert!(r.lost.is_empty() && r.corrupt.is_empty());
        assert!(r.fifo.is_some(), "{r}");
    }
}
