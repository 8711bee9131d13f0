-- SIEM export (issue 17): the audit chain is its own outbox, so a sink needs only how far
-- it got. One row per configured sink (`file`, `syslog`, `webhook`): the last audit `seq`
-- it delivered, its failures in a row and when it is tried next, and a lease (holder and
-- expiry) so that instances sharing the database deliver each entry through one of them.
-- `delivered_hash` is that entry's MAC: when the chain no longer holds it there, the chain
-- was cut or rewritten under the sink, which then delivers it again from the start.
CREATE TABLE siem_cursors (
    sink TEXT PRIMARY KEY,
    delivered_seq BIGINT NOT NULL,
    delivered_hash TEXT NOT NULL,
    failures BIGINT NOT NULL,
    next_try_at BIGINT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL
)
;
