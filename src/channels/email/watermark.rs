//! The IMAP sync's watermark while messages are recorded out of order: the highest UID
//! that may be saved as seen, i.e. every fetched message at or below it is stored or
//! quarantined. A crash after saving it can only re-fetch messages (which `record()`
//! dedupes), never skip one that was not committed.

use std::collections::BTreeSet;

#[derive(Debug, Default)]
pub struct Watermark {
    /// Handed on to be recorded, not answered yet.
    open: BTreeSet<u32>,
    /// Every message at or below this UID has been handed on (its fetch command ended).
    through: u32,
}

impl Watermark {
    /// A fetched message handed on to be recorded.
    pub fn started(&mut self, uid: u32) {
        self.open.insert(uid);
    }

    /// A message stored or quarantined (committed).
    pub fn finished(&mut self, uid: u32) {
        self.open.remove(&uid);
    }

    /// The fetch command for UIDs up to `uid` has ended and each message it returned was
    /// handed on (messages it did not return are gone from the mailbox).
    pub fn fetched_through(&mut self, uid: u32) {
        self.through = self.through.max(uid);
    }

    /// The highest UID that may be saved.
    pub fn safe(&self) -> u32 {
        match self.open.first() {
            Some(&first) => self.through.min(first.saturating_sub(1)),
            None => self.through,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Watermark;

    #[test]
    fn never_passes_a_message_not_committed() {
        let mut w = Watermark::default();
        for uid in [3, 5, 8] {
            w.started(uid);
        }
        w.fetched_through(9);
        assert_eq!(w.safe(), 2);
        // Finished out of order: 5 and 8 are done, 3 is not.
        w.finished(8);
        w.finished(5);
        assert_eq!(w.safe(), 2);
        w.finished(3);
        assert_eq!(w.safe(), 9, "9 was asked for and not returned: gone");
    }

    #[test]
    fn never_passes_what_is_still_being_fetched() {
        let mut w = Watermark::default();
        w.started(1);
        w.started(2);
        w.finished(1);
        w.finished(2);
        // The command for 1..=4 has not ended: 3 and 4 may still come.
        assert_eq!(w.safe(), 0);
        w.fetched_through(4);
        assert_eq!(w.safe(), 4);
        // The next command's first message is open: the mark stays below it.
        w.started(7);
        w.fetched_through(10);
        assert_eq!(w.safe(), 6);
    }
}
