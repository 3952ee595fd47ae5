//! Leases on queue items, held in memory: a claim is a read of the database and an entry
//! here, not a write; the database learns of an attempt when its outcome is filed (one update
//! of the item and one attempt row, in the applier's next transaction).
//!
//! Why it is safe: a store is used by one process (its ingest log is its own), and a lease
//! only has to keep two workers of that process off one item and keep the order of a
//! destination's queue. After a crash the leases are gone with the process, which is what
//! [`Store::recover_owned`](super::Store::recover_owned) did to them anyway: every item not
//! filed as done is delivered again (at least once, the same bytes).
//!
//! An entry outlives its report until the transaction that files the report has committed
//! ([`LeaseState::Filing`]): until then the database still shows the item unfinished, and
//! the entry is what a claim goes by. Claims read the database and this registry under the
//! registry's lock, and an entry is removed under it after its commit, so a claim sees either
//! the entry or the committed report, never neither.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::error::{Error, Result};
use super::sqlite::timestamp;
use super::{AttemptInfo, ItemDetail, ItemId, ItemInfo, ItemState, QueueItem};

/// The leases of a store.
#[derive(Debug, Default)]
pub(super) struct Leases {
    registry: Mutex<Registry>,
}

impl Leases {
    pub(super) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shows the items being delivered as leased (or sent) with this attempt's number, as the
    /// database would if leases were written there.
    pub(super) fn overlay<'a>(&self, items: impl IntoIterator<Item = &'a mut ItemInfo>) {
        let registry = self.lock();
        for item in items {
            if let Some(lease) = registry.held_now(item.id.0) {
                lease.show(item);
            }
        }
    }

    /// [`Leases::overlay`] for a message's detail, where an item being delivered also shows
    /// the attempt in progress (no outcome yet): its row is written only once it ended.
    pub(super) fn overlay_detail(&self, items: &mut [ItemDetail]) {
        let registry = self.lock();
        for item in items {
            if let Some(lease) = registry.held_now(item.info.id.0) {
                lease.show(&mut item.info);
                item.attempts.push(AttemptInfo {
                    attempt: lease.attempt,
                    owner: lease.owner.clone(),
                    started_at: timestamp(lease.started_ms),
                    sent_at: lease.sent_ms.map(timestamp),
                    finished_at: None,
                    outcome: None,
                    error: None,
                    response: None,
                });
            }
        }
    }

    /// [`Leases::overlay`] for a page of a queue.
    pub(super) fn overlay_queue(&self, items: &mut [QueueItem]) {
        let registry = self.lock();
        for item in items {
            if let Some(lease) = registry.held_now(item.id.0) {
                item.state = lease.shown_state();
                item.attempts = lease.attempt;
            }
        }
    }

    /// The items being delivered now.
    pub(super) fn held(&self) -> HashSet<ItemId> {
        let registry = self.lock();
        registry
            .entries
            .iter()
            .filter(|(_, l)| l.state == LeaseState::Held)
            .map(|(item, _)| ItemId(*item))
            .collect()
    }
}

/// The entries, by item id (ids are unique across destinations).
#[derive(Debug, Default)]
pub(super) struct Registry {
    entries: HashMap<u64, Lease>,
    last_token: i64,
    /// By destination, an owner and an item id: every unfinished item with a lower id is held
    /// by that owner or filed as finished, so that owner's claims read the queue from there (a
    /// worker claims ahead of the head while its last batches are delivered and filed, and
    /// reading those again for every claim cost more than the deliveries). Forgotten whenever
    /// an item below it becomes anything else: given back, to be retried, expired, taken over.
    frontiers: HashMap<String, (String, u64)>,
}

/// One item's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lease {
    pub(super) destination: String,
    pub(super) owner: String,
    pub(super) token: i64,
    pub(super) until_ms: i64,
    /// This attempt's number, from 1.
    pub(super) attempt: u32,
    pub(super) started_ms: i64,
    pub(super) sent_ms: Option<i64>,
    pub(super) state: LeaseState,
}

/// Where a lease stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LeaseState {
    /// The item is being delivered.
    Held,
    /// The attempt ended (reported, or its lease expired) and the transaction filing it has
    /// not committed yet. `ready_at`: the item may be claimed again from then (a retry, an
    /// expired lease); `None`: it is finished (delivered, dead-lettered).
    Filing { ready_at: Option<i64> },
}

impl Lease {
    /// The item as the database would show it if leases were written there.
    fn show(&self, item: &mut ItemInfo) {
        item.state = self.shown_state();
        item.attempts = self.attempt;
    }

    fn shown_state(&self) -> ItemState {
        match self.sent_ms {
            Some(_) => ItemState::Sent,
            None => ItemState::Leased,
        }
    }
}

impl Registry {
    pub(super) fn get(&self, item: u64) -> Option<&Lease> {
        self.entries.get(&item)
    }

    fn held_now(&self, item: u64) -> Option<&Lease> {
        self.get(item).filter(|l| l.state == LeaseState::Held)
    }

    /// How many entries there are (a claim reads that many rows more than it may claim).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Leases `item` to `owner`, replacing whatever entry it had; returns the new token.
    pub(super) fn grant(
        &mut self,
        item: u64,
        destination: &str,
        owner: &str,
        attempt: u32,
        now_ms: i64,
        until_ms: i64,
    ) -> i64 {
        self.last_token += 1;
        let token = self.last_token;
        self.entries.insert(
            item,
            Lease {
                destination: destination.to_owned(),
                owner: owner.to_owned(),
                token,
                until_ms,
                attempt,
                started_ms: now_ms,
                sent_ms: None,
                state: LeaseState::Held,
            },
        );
        token
    }

    /// The lease `token` holds on `item`, or [`Error::LeaseLost`].
    pub(super) fn held(&mut self, item: ItemId, token: i64) -> Result<&mut Lease> {
        match self.entries.get_mut(&item.0) {
            Some(lease) if lease.token == token && lease.state == LeaseState::Held => Ok(lease),
            _ => Err(Error::LeaseLost(item)),
        }
    }

    /// Removes the entry of `item` if it is still the one of `token`.
    pub(super) fn remove(&mut self, item: u64, token: i64) {
        if self.entries.get(&item).is_none_or(|l| l.token != token) {
            return;
        }
        if let Some(lease) = self.entries.remove(&item) {
            if lease.state != (LeaseState::Filing { ready_at: None }) {
                self.forget(&lease.destination);
            }
        }
    }

    /// Where `owner`'s claims of `destination` start reading (see the field).
    pub(super) fn frontier(&self, destination: &str, owner: &str) -> u64 {
        match self.frontiers.get(destination) {
            Some((holder, id)) if holder == owner => *id,
            _ => 0,
        }
    }

    /// Records that every unfinished item of `destination` below `id` is held by `owner` or
    /// filed as finished.
    pub(super) fn advance(&mut self, destination: &str, owner: &str, id: u64) {
        match self.frontiers.get_mut(destination) {
            Some((holder, frontier)) if holder == owner => *frontier = (*frontier).max(id),
            _ => {
                self.frontiers
                    .insert(destination.to_owned(), (owner.to_owned(), id));
            }
        }
    }

    /// Forgets `destination`'s frontier: claims read its queue from the head again.
    pub(super) fn forget(&mut self, destination: &str) {
        self.frontiers.remove(destination);
    }

    /// Ends, as expired, the held leases that `expires` picks (by item and lease): each is
    /// filed as an expired attempt, its item claimable again at once. Returns them.
    pub(super) fn expire(
        &mut self,
        now_ms: i64,
        mut expires: impl FnMut(&Lease) -> bool,
    ) -> Vec<(u64, Lease)> {
        let mut ended = Vec::new();
        for (item, lease) in &mut self.entries {
            if lease.state == LeaseState::Held && expires(lease) {
                self.frontiers.remove(&lease.destination);
                ended.push((*item, lease.clone()));
                lease.state = LeaseState::Filing {
                    ready_at: Some(now_ms),
                };
            }
        }
        ended.sort_by_key(|(item, _)| *item);
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_held_by_its_token_only_and_removed_by_it() {
        let mut registry = Registry::default();
        let first = registry.grant(7, "lab", "w", 1, 0, 100);
        assert!(registry.held(ItemId(7), first).is_ok());
        assert!(matches!(
            registry.held(ItemId(7), first + 1),
            Err(Error::LeaseLost(ItemId(7)))
        ));
        // Taken over: the old token no longer holds it, nor removes the new entry.
        let second = registry.grant(7, "lab", "v", 2, 200, 300);
        assert!(registry.held(ItemId(7), first).is_err());
        registry.remove(7, first);
        assert_eq!(registry.get(7).map(|l| l.token), Some(second));
        registry.remove(7, second);
        assert_eq!(registry.len(), 0);
    }

    #[test]
    fn expired_leases_are_filed_claimable_at_once() {
        let mut registry = Registry::default();
        registry.grant(1, "lab", "a", 1, 0, 100);
        registry.grant(2, "lab", "b", 3, 0, 500);
        let ended = registry.expire(100, |l| l.until_ms <= 100);
        assert_eq!(ended.len(), 1);
        assert_eq!((ended[0].0, ended[0].1.attempt), (1, 1));
        assert_eq!(
            registry.get(1).map(|l| l.state),
            Some(LeaseState::Filing {
                ready_at: Some(100)
            })
        );
        assert_eq!(registry.get(2).map(|l| l.state), Some(LeaseState::Held));
    }

    #[test]
    fn an_item_claimable_again_moves_the_frontier_back() {
        let mut registry = Registry::default();
        let done = registry.grant(1, "lab", "a", 1, 0, 100);
        let retried = registry.grant(2, "lab", "a", 1, 0, 100);
        registry.advance("lab", "a", 3);
        registry.advance("lab", "a", 2);
        assert_eq!(registry.frontier("lab", "a"), 3);
        assert_eq!(
            registry.frontier("lab", "b"),
            0,
            "another owner reads from the head"
        );
        registry
            .held(ItemId(1), done)
            .map(|l| l.state = LeaseState::Filing { ready_at: None })
            .ok();
        registry.remove(1, done);
        assert_eq!(
            registry.frontier("lab", "a"),
            3,
            "a finished item is not claimable again"
        );
        registry
            .held(ItemId(2), retried)
            .map(|l| l.state = LeaseState::Filing { ready_at: Some(5) })
            .ok();
        registry.remove(2, retried);
        assert_eq!(registry.frontier("lab", "a"), 0);
        assert_eq!(registry.frontier("billing", "a"), 0);
    }
}
