//! Which department reports of which run were delivered to whom: `mailpatrol send` asks
//! before sending and records after the server accepted, so sending is safe to repeat and a
//! message already accepted for (run, department, recipient) is never sent again.

use chrono::{DateTime, Local};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

impl Store {
    /// Whether the report of `department` in `run` was already delivered to `recipient`.
    pub fn delivered(
        &self,
        run: i64,
        department: &str,
        recipient: &str,
    ) -> Result<bool, StoreError> {
        self.flush()?;
        let found: Option<i64> = self
            .conn()
            .query_row(
                "SELECT 1 FROM deliveries WHERE run_id = ?1 AND department = ?2 AND recipient = ?3",
                params![run, department, recipient],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// Records that the server accepted the report of `department` in `run` for `recipient`
    /// (a second record of the same delivery keeps the first).
    pub fn record_delivery(
        &self,
        run: i64,
        department: &str,
        recipient: &str,
        sent_at: DateTime<Local>,
        message_id: &str,
    ) -> Result<(), StoreError> {
        self.flush()?;
        self.conn().execute(
            "INSERT INTO deliveries (run_id, department, recipient, sent_at, message_id)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (run_id, department, recipient) DO NOTHING",
            params![run, department, recipient, sent_at.to_rfc3339(), message_id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_recorded_once_per_run_department_and_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.sqlite")).unwrap();
        assert!(!store.delivered(1, "甲学院", "jia@x.edu.cn").unwrap());
        store
            .record_delivery(1, "甲学院", "jia@x.edu.cn", Local::now(), "<a@x>")
            .unwrap();
        store
            .record_delivery(1, "甲学院", "jia@x.edu.cn", Local::now(), "<b@x>")
            .unwrap();
        assert!(store.delivered(1, "甲学院", "jia@x.edu.cn").unwrap());
        assert!(!store.delivered(2, "甲学院", "jia@x.edu.cn").unwrap());
        assert!(!store.delivered(1, "乙学院", "jia@x.edu.cn").unwrap());
        assert!(!store.delivered(1, "甲学院", "yi@x.edu.cn").unwrap());
    }
}
