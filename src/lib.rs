//! hush: one scanning engine behind a commit guard, a history scanner and an egress proxy.
//! Dependencies flow one way: cmd → {source, report, proxy} → scan → rules.

pub mod cmd;
pub mod hook;
pub mod proxy;
pub mod report;
pub mod rules;
pub mod scan;
pub mod source;
