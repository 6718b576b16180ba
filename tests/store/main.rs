//! The event store (issue 11): the SQLite and JSONL sinks behind the queue,
//! runs, the faults they must survive, and the Pushgateway push.

mod faults;
mod jsonl;
mod push;
mod sqlite;
