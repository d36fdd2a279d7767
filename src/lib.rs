//! hush: one scanning engine behind a commit guard, a history scanner and an egress proxy.
//! Dependencies flow one way: commands → {source, report, proxy} → scan → rules.

pub mod proxy;
