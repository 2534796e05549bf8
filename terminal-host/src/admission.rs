//! Caps on connections that are not (yet) sessions, in total and per peer, so idle sockets from one
//! address cannot lock everyone else out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// Connections not yet authenticated (page loads, handshakes, sockets waiting for `auth`), from everyone.
/// With the handshake and auth deadlines each one lasts seconds at most.
pub const MAX_PENDING: usize = 64;

/// Where a connection comes from, for the per-peer cap. IPv6 peers are grouped by their /64, which one
/// host usually has whole; IPv4-mapped IPv6 addresses count as their IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerKey(IpAddr);

impl PeerKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => PeerKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                PeerKey(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{MAX_PENDING} connections are already waiting to authenticate")]
    Full,
    #[error("this address already has {0} connections waiting to authenticate")]
    PeerFull(usize),
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_peer: HashMap<PeerKey, usize>,
}

/// Admits connections while both caps have room; a [`Pending`] gives its place back when dropped.
#[derive(Debug)]
pub struct Admission {
    per_peer: usize,
    counts: Mutex<Counts>,
}

impl Admission {
    pub fn new(per_peer: usize) -> Arc<Self> {
        Arc::new(Admission {
            per_peer,
            counts: Mutex::default(),
        })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Pending, Refused> {
        let peer = PeerKey::of(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= MAX_PENDING {
            return Err(Refused::Full);
        }
        let held = counts.by_peer.entry(peer).or_insert(0);
        if *held >= self.per_peer {
            return Err(Refused::PeerFull(*held));
        }
        *held += 1;
        counts.total += 1;
        Ok(Pending {
            admission: self.clone(),
            peer,
        })
    }

    /// Connections currently admitted and not yet sessions.
    pub fn pending(&self) -> usize {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

/// One admitted connection's place; the session drops it once authenticated, so running sessions never
/// count against the caps.
#[derive(Debug)]
pub struct Pending {
    admission: Arc<Admission>,
    peer: PeerKey,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut counts = self
            .admission
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(held) = counts.by_peer.get_mut(&self.peer) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.by_peer.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_peer_and_in_total_and_gives_places_back() {
        let admission = Admission::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).err(), Some(Refused::PeerFull(2)));
        let _other = admission.admit(b).unwrap();
        drop(first);
        let _again = admission.admit(a).unwrap();
        assert_eq!(admission.pending(), 3);

        let many = Admission::new(MAX_PENDING);
        let held: Vec<Pending> = (0..MAX_PENDING).map(|_| many.admit(a).unwrap()).collect();
        assert_eq!(many.admit(b).err(), Some(Refused::Full));
        drop(held);
        assert_eq!(many.pending(), 0);
        assert!(many.counts.lock().unwrap().by_peer.is_empty());
    }

    #[test]
    fn ipv6_peers_share_their_64_and_mapped_v4_is_v4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let two: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(PeerKey::of(one), PeerKey::of(two));
        assert_ne!(PeerKey::of(one), PeerKey::of(other));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(PeerKey::of(mapped), PeerKey::of("127.0.0.1".parse().unwrap()));
    }
}
