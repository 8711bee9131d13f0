//! The trusted referee: a case a decision left to a person, decided by reviewers
//! (`recovery::review`), and the waiting app collecting its grant through the session's
//! status. The console's pages and sign-in around it have their own tests (console.rs).

use reclaim_server::error::ApiError;
use reclaim_server::recovery::review::{self, Decided, Reviewer, Verdict};
use serde_json::Value;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    an_approval_hands_the_waiting_app_its_grant,
    a_privileged_account_needs_two_different_reviewers,
    an_account_outside_the_privileged_groups_needs_one,
    a_reviewer_cannot_decide_their_own_recovery,
    a_refusal_tells_the_app_and_destroys_the_evidence,
    a_case_approved_twice_at_once_issues_one_grant,
    a_case_past_its_retention_is_closed_unread,
    what_stops_an_automated_approval_stops_a_reviewers,
    a_refusal_counts_and_a_cancelled_grant_is_not_handed_out,
    two_approvals_at_once_on_a_privileged_case_close_it,
    a_session_left_in_review_without_a_case_is_told_no,
    each_picture_is_sealed_alone_and_closing_destroys_them_all,
    pictures_are_unsealed_a_few_at_a_time,
    an_older_case_s_whole_evidence_is_split_into_pictures,
);

/// A review queue, worked in a console whose provider is never reached by these tests.
const CONSOLE: &str = r#"
[admin.oidc]
issuer = "https://idp.example.test"
client_id = "reclaim-console"
reviewer_groups = ["reviewers"]
"#;

fn options(extra: &str) -> Options {
    Options {
        policy: "review_queue = true".into(),
        extra: format!("{CONSOLE}\n{extra}"),
        ..Options::default()
    }
}

/// A session of Avery's whose document names only an initial: the decision leaves it to
/// a person.
async fn case(h: &Harness) -> OpenSession {
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.document = Some(document("QUINN", "A"));
    assert_outcome(h.attest(&s, &c, &h.kiosk).await, "review");
    s
}

fn reviewer<'a>(subject: &'a str, aliases: &'a [String]) -> Reviewer<'a> {
    Reviewer {
        subject,
        name: subject,
        aliases,
    }
}

async fn vote(
    h: &Harness,
    who: &str,
    s: &OpenSession,
    verdict: Verdict,
) -> Result<Decided, ApiError> {
    review::decide(
        &h.app,
        &reviewer(who, &[]),
        &s.id,
        verdict,
        "checked the ID against the face",
    )
    .await
}

fn code(r: Result<Decided, ApiError>) -> String {
    match r {
        Ok(d) => panic!("decided {d:?}, expected a refusal"),
        Err(e) => e.code.as_str().to_string(),
    }
}

async fn status(h: &Harness, s: &OpenSession) -> Value {
    let (code, body) = h.status_of(s).await;
    assert_eq!(code, 200, "{body}");
    body
}

async fn an_approval_hands_the_waiting_app_its_grant(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = case(&h).await;
    let waiting = status(&h, &s).await;
    assert_eq!(waiting["state"], "review");
    assert!(waiting.get("decision").is_none(), "{waiting}");
    let (queue, total) = review::queue(&h.app, 0, 50).await.unwrap();
    assert_eq!((queue.len(), total), (1, 1));
    assert_eq!(queue[0].login, AVERY);
    assert_eq!(queue[0].reasons, "document_name_partial");
    let opened = review::open(&h.app, &s.id).await.unwrap();
    assert_eq!(opened.facts.document.as_ref().unwrap().given_names, "A");
    assert_eq!(opened.facts.record.as_ref().unwrap().username, AVERY);

    assert_eq!(
        vote(&h, "rita", &s, Verdict::Approve).await.unwrap(),
        Decided::Approved
    );
    let approved = status(&h, &s).await;
    assert_eq!(approved["state"], "approved", "{approved}");
    assert_eq!(approved["decision"]["outcome"], "approved");
    let grant = approved["decision"]["grant"].as_str().unwrap().to_string();
    // The grant resets the password as any other.
    assert_reset(
        h.reset(&grant, "a brand new passphrase 42").await,
        200,
        "completed",
    );
    assert!(h.password_is(AVERY, "a brand new passphrase 42").await);
    // Collected and spent: the session is completed and carries no grant any more.
    let done = status(&h, &s).await;
    assert_eq!(done["state"], "completed");
    assert!(done.get("decision").is_none(), "{done}");
    // The evidence and the facts are gone with the decision; the queue is empty.
    assert_eq!(
        h.count("SELECT COUNT(*) FROM reviews WHERE evidence_sealed <> '' OR facts_sealed <> ''")
            .await,
        0
    );
    assert_eq!(review::queue(&h.app, 0, 50).await.unwrap().1, 0);
    assert_eq!(h.audit_count_of("review_vote").await, 1);
    assert_chain_intact(&h.app).await;
}

async fn a_privileged_account_needs_two_different_reviewers(db: Db) {
    // Avery is a Domain Admin in this directory.
    let mut avery = reclaim_server::demo_seed().remove(0);
    avery.groups = vec!["CN=Domain Admins,CN=Users,DC=example,DC=test".into()];
    // No `privileged_groups` in the configuration: by default, Active Directory's
    // protected groups take four eyes.
    let mut o = options("");
    o.users = Some(vec![avery]);
    let h = Harness::with(db, o).await;
    let s = case(&h).await;
    let opened = review::open(&h.app, &s.id).await.unwrap();
    assert!(opened.facts.record.as_ref().unwrap().privileged);
    assert_eq!(opened.summary.approvals_needed, 2);
    // A break-glass account approves nothing (here: two of them, made on the server's
    // command line, or one beside its holder's company sign-in, would be "four eyes").
    assert_eq!(
        code(vote(&h, "local:breakglass", &s, Verdict::Approve).await),
        "request_invalid"
    );
    assert_eq!(
        vote(&h, "rita", &s, Verdict::Approve).await.unwrap(),
        Decided::AwaitingSecond
    );
    assert_eq!(
        code(vote(&h, "local:breakglass", &s, Verdict::Approve).await),
        "request_invalid"
    );
    assert_eq!(status(&h, &s).await["state"], "review");
    // The same reviewer again is not a second pair of eyes.
    assert_eq!(
        code(vote(&h, "rita", &s, Verdict::Approve).await),
        "case_already_voted"
    );
    assert_eq!(h.count("SELECT COUNT(*) FROM grants").await, 0);
    assert_eq!(
        vote(&h, "sam", &s, Verdict::Approve).await.unwrap(),
        Decided::Approved
    );
    assert_eq!(status(&h, &s).await["decision"]["outcome"], "approved");
    assert_eq!(h.count("SELECT COUNT(*) FROM grants").await, 1);
}

async fn an_account_outside_the_privileged_groups_needs_one(db: Db) {
    let h = Harness::with(
        db,
        options("[admin]\nprivileged_groups = [\"Domain Admins\"]"),
    )
    .await;
    let s = case(&h).await;
    assert_eq!(
        review::open(&h.app, &s.id)
            .await
            .unwrap()
            .summary
            .approvals_needed,
        1
    );
    assert_eq!(
        vote(&h, "rita", &s, Verdict::Approve).await.unwrap(),
        Decided::Approved
    );
}

async fn a_reviewer_cannot_decide_their_own_recovery(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = case(&h).await;
    // By login, whatever its case.
    let own = vec![AVERY.to_string()];
    let answer = review::decide(
        &h.app,
        &reviewer("avery", &own),
        &s.id,
        Verdict::Approve,
        "me",
    )
    .await;
    assert_eq!(code(answer), "case_own_recovery");
    assert_eq!(status(&h, &s).await["state"], "review");
    assert_eq!(h.count("SELECT COUNT(*) FROM review_votes").await, 0);
    assert_eq!(h.audit_count_of("review_refused_own").await, 1);

    // Each name on its own. The record's login alone: the case was asked for by mail
    // (the directory finds an account by either), and the reviewer's provider gives only
    // a mail whose local part is that login.
    let by_mail = h.session("avery.quinn@example.test", &h.kiosk).await;
    let mut c = claims(&by_mail, &h.kiosk);
    c.document = Some(document("QUINN", "A"));
    assert_outcome(h.attest(&by_mail, &c, &h.kiosk).await, "review");
    // Refused, whichever the verdict: the reviewer's names are `aliases`.
    let own = |aliases: &'static [&'static str], id: String, verdict: Verdict| {
        let h = &h;
        async move {
            let aliases: Vec<String> = aliases.iter().map(|a| a.to_string()).collect();
            let answer =
                review::decide(&h.app, &reviewer("avery", &aliases), &id, verdict, "me").await;
            assert_eq!(code(answer), "case_own_recovery", "{aliases:?}");
        }
    };
    own(&["avery.quinn"], by_mail.id.clone(), Verdict::Approve).await;
    // The record's mail alone: asked for by login, the reviewer known by mail only.
    own(&["avery.quinn@example.test"], s.id.clone(), Verdict::Refuse).await;
    // The login as typed alone: a directory that finds accounts by another name too
    // (Active Directory's userPrincipalName) opens a case under a login that is neither
    // the record's login nor its mail. The case's row says what was typed.
    h.execute(&format!(
        "UPDATE reviews SET login = 'a.quinn@corp.example.test' WHERE session_id = '{}'",
        s.id
    ))
    .await;
    own(
        &["a.quinn@corp.example.test"],
        s.id.clone(),
        Verdict::Refuse,
    )
    .await;
    assert_eq!(h.count("SELECT COUNT(*) FROM review_votes").await, 0);
    assert_eq!(h.audit_count_of("review_refused_own").await, 4);
    // Someone else's names decide it.
    let rita = vec!["rita".to_string(), "rita@example.test".to_string()];
    assert_eq!(
        review::decide(
            &h.app,
            &reviewer("rita", &rita),
            &by_mail.id,
            Verdict::Refuse,
            "not her"
        )
        .await
        .unwrap(),
        Decided::Refused
    );
    // A reason is required, and bounded.
    let long = "x".repeat(501);
    for reason in ["", "   ", long.as_str()] {
        let answer = review::decide(
            &h.app,
            &reviewer("rita", &[]),
            &s.id,
            Verdict::Approve,
            reason,
        )
        .await;
        assert_eq!(code(answer), "request_invalid");
    }
}

async fn a_refusal_tells_the_app_and_destroys_the_evidence(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = case(&h).await;
    assert_eq!(
        vote(&h, "rita", &s, Verdict::Refuse).await.unwrap(),
        Decided::Refused
    );
    let refused = status(&h, &s).await;
    assert_eq!(refused["state"], "rejected");
    assert!(refused.get("decision").is_none());
    assert_eq!(h.count("SELECT COUNT(*) FROM grants").await, 0);
    assert_eq!(
        h.count("SELECT COUNT(*) FROM reviews WHERE evidence_sealed <> '' OR facts_sealed <> ''")
            .await,
        0
    );
    // A decided case is no longer open to anyone.
    assert_eq!(
        code(vote(&h, "sam", &s, Verdict::Approve).await),
        "case_not_found"
    );
    assert!(review::open(&h.app, &s.id).await.is_err());
}

async fn a_case_approved_twice_at_once_issues_one_grant(db: Db) {
    let h = Harness::with(db, options("")).await;
    for _ in 0..3 {
        let s = case(&h).await;
        let (a, b) = tokio::join!(
            vote(&h, "rita", &s, Verdict::Approve),
            vote(&h, "sam", &s, Verdict::Approve)
        );
        let approved = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Ok(Decided::Approved)))
            .count();
        assert_eq!(approved, 1, "{a:?} {b:?}");
        let other = if a.is_ok() { b } else { a };
        assert_eq!(code(other), "case_not_found");
        let grants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE session_id = $1")
            .bind(&s.id)
            .fetch_one(&h.app.store.pool)
            .await
            .unwrap();
        assert_eq!(grants, 1);
    }
}

async fn a_case_past_its_retention_is_closed_unread(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = case(&h).await;
    h.execute("UPDATE reviews SET delete_after = 1").await;
    assert_eq!(review::queue(&h.app, 0, 50).await.unwrap().1, 0);
    assert!(review::open(&h.app, &s.id).await.is_err());
    assert_eq!(
        code(vote(&h, "rita", &s, Verdict::Approve).await),
        "case_not_found"
    );
    assert_eq!(review::expire(&h.app).await.unwrap(), 1);
    assert_eq!(status(&h, &s).await["state"], "rejected");
    assert_eq!(h.count("SELECT COUNT(*) FROM reviews").await, 0);
    assert_eq!(h.audit_count_of("review_expired").await, 1);
}

async fn what_stops_an_automated_approval_stops_a_reviewers(db: Db) {
    // The policy row for the kiosk asks for notice and delay; doubts sent it to a person.
    let h = Harness::with(
        db,
        Options {
            policy: "review_queue = true\nnotify_delay_s = 3600\n[[policy.table]]\naction = \"*\"\ntier = \"managed\"\nuser = \"*\"\nverdict = \"approve_notify_delay\"".into(),
            extra: CONSOLE.into(),
            ..Options::default()
        },
    )
    .await;
    // A case waits an hour by default, not days: the person waits at the app.
    let s = case(&h).await;
    assert_eq!(
        h.count("SELECT MIN(delete_after - created_at) FROM reviews")
            .await,
        3600
    );
    assert_eq!(
        vote(&h, "rita", &s, Verdict::Approve).await.unwrap(),
        Decided::Approved
    );
    // Approved with the same delay the row asked for: the owner can still object.
    let t = unix_now() as i64;
    assert!(h.count("SELECT MIN(apply_after) FROM grants").await >= t + 3500);
    assert_eq!(status(&h, &s).await["decision"]["delay_s"], 3600);

    // The owner locked self-service ("this wasn't me"): a case can only be refused.
    let s = case(&h).await;
    let mut tx = h.app.store.begin().await.unwrap();
    reclaim_server::store::notices::lock(&mut tx, "demo:avery.quinn", unix_now() as i64)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        code(vote(&h, "rita", &s, Verdict::Approve).await),
        "request_invalid"
    );
    assert_eq!(
        vote(&h, "rita", &s, Verdict::Refuse).await.unwrap(),
        Decided::Refused
    );

    // A device revoked since the case opened cannot be approved for.
    h.execute("DELETE FROM self_service_locks").await;
    let s = case(&h).await;
    h.execute("UPDATE devices SET revoked_at = 1").await;
    assert_eq!(
        code(vote(&h, "rita", &s, Verdict::Approve).await),
        "device_revoked"
    );
}

async fn a_refusal_counts_and_a_cancelled_grant_is_not_handed_out(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = case(&h).await;
    assert_eq!(
        vote(&h, "rita", &s, Verdict::Refuse).await.unwrap(),
        Decided::Refused
    );
    // Counted against the login on the kiosk's channel, as an automated refusal is.
    assert_eq!(
        h.count("SELECT COUNT(*) FROM limits WHERE key LIKE 'bio:m:%'")
            .await,
        1
    );

    let s = case(&h).await;
    assert_eq!(
        vote(&h, "rita", &s, Verdict::Approve).await.unwrap(),
        Decided::Approved
    );
    assert!(status(&h, &s).await.get("decision").is_some());
    // The owner cancels it from the notice ("this wasn't me"): not handed out again.
    h.execute("UPDATE grants SET state = 'cancelled'").await;
    let after = status(&h, &s).await;
    assert!(after.get("decision").is_none(), "{after}");
}

async fn two_approvals_at_once_on_a_privileged_case_close_it(db: Db) {
    let mut avery = reclaim_server::demo_seed().remove(0);
    avery.groups = vec!["CN=Domain Admins,CN=Users,DC=example,DC=test".into()];
    let mut o = options("[admin]\nprivileged_groups = [\"Domain Admins\"]");
    o.users = Some(vec![avery]);
    let h = Harness::with(db, o).await;
    for _ in 0..3 {
        let s = case(&h).await;
        let (a, b) = tokio::join!(
            vote(&h, "rita", &s, Verdict::Approve),
            vote(&h, "sam", &s, Verdict::Approve)
        );
        // Counted one after the other: the second of the two closes it.
        let mut outcomes = vec![a.unwrap(), b.unwrap()];
        outcomes.sort_by_key(|d| format!("{d:?}"));
        assert_eq!(outcomes, [Decided::Approved, Decided::AwaitingSecond]);
        assert_eq!(status(&h, &s).await["state"], "approved");
    }
}

async fn a_session_left_in_review_without_a_case_is_told_no(db: Db) {
    let h = Harness::with(db, options("")).await;
    // What a server before the console left: the session waiting, no case.
    let s = case(&h).await;
    h.execute("DELETE FROM reviews").await;
    assert_eq!(status(&h, &s).await["state"], "review");
    review::expire(&h.app).await.unwrap();
    assert_eq!(status(&h, &s).await["state"], "rejected");
}

async fn each_picture_is_sealed_alone_and_closing_destroys_them_all(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = case_with_pictures(&h).await;
    let sent = pictures();
    assert_eq!(
        h.count("SELECT COUNT(*) FROM review_pictures").await,
        sent.len() as i64
    );
    assert_eq!(
        h.count("SELECT COUNT(*) FROM reviews WHERE evidence_sealed <> ''")
            .await,
        0
    );
    // The page lists them, names and times, without opening any.
    let opened = review::open(&h.app, &s.id).await.unwrap();
    let listed: Vec<_> = opened
        .pictures
        .iter()
        .map(|p| (p.n, p.name.clone(), p.t_ms))
        .collect();
    let expected: Vec<_> = (0i64..)
        .zip(&sent)
        .map(|(n, (name, _, t))| (n, name.clone(), t.map(|t| t as i64)))
        .collect();
    assert_eq!(listed, expected);
    // Each request opens its own picture: the bytes the app sent.
    for (n, (_, bytes, _)) in sent.iter().enumerate() {
        assert_eq!(
            review::picture(&h.app, &s.id, n).await.unwrap().as_slice(),
            bytes.as_slice()
        );
    }
    assert_eq!(
        review::picture(&h.app, &s.id, sent.len())
            .await
            .unwrap_err()
            .code
            .as_str(),
        "case_not_found"
    );
    // A sealed picture opens only in its own place: one copied over another does not.
    h.execute(&format!(
        "UPDATE review_pictures SET picture_sealed = \
         (SELECT p.picture_sealed FROM review_pictures p WHERE p.session_id = '{0}' AND p.n = 1) \
         WHERE session_id = '{0}' AND n = 2",
        s.id
    ))
    .await;
    assert!(review::picture(&h.app, &s.id, 2).await.is_err());
    assert!(review::picture(&h.app, &s.id, 1).await.is_ok());

    // Closing the case destroys every picture, with the decision.
    let other = case_with_pictures(&h).await;
    assert_eq!(
        vote(&h, "rita", &s, Verdict::Refuse).await.unwrap(),
        Decided::Refused
    );
    assert_eq!(
        code_of(review::picture(&h.app, &s.id, 0).await.map(|p| p.len())),
        "case_not_found"
    );
    let left: Vec<String> = sqlx::query_scalar("SELECT DISTINCT session_id FROM review_pictures")
        .fetch_all(&h.app.store.pool)
        .await
        .unwrap();
    assert_eq!(left, std::slice::from_ref(&other.id));
    // An approval too.
    assert_eq!(
        vote(&h, "rita", &other, Verdict::Approve).await.unwrap(),
        Decided::Approved
    );
    assert_eq!(h.count("SELECT COUNT(*) FROM review_pictures").await, 0);
    // And a case past its retention, closed unread.
    let s = case_with_pictures(&h).await;
    h.execute("UPDATE reviews SET delete_after = 1 WHERE outcome IS NULL")
        .await;
    assert_eq!(
        code_of(review::picture(&h.app, &s.id, 0).await.map(|p| p.len())),
        "case_not_found"
    );
    assert_eq!(review::expire(&h.app).await.unwrap(), 1);
    assert_eq!(h.count("SELECT COUNT(*) FROM review_pictures").await, 0);
}

fn code_of<T: std::fmt::Debug>(r: Result<T, ApiError>) -> String {
    match r {
        Ok(v) => panic!("answered {v:?}, expected a refusal"),
        Err(e) => e.code.as_str().to_string(),
    }
}

async fn pictures_are_unsealed_a_few_at_a_time(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = case_with_pictures(&h).await;
    let sent = pictures();
    // A case page's pictures, asked for all at once, several times over: each request
    // waits for a place before it reads its sealed row, so no more than the bound hold
    // one in memory at a time, in this test or any other running beside it.
    let mut asked = tokio::task::JoinSet::new();
    for i in 0..24 {
        let app = h.app.clone();
        let id = s.id.clone();
        let n = i % sent.len();
        asked.spawn(async move { (n, review::picture(&app, &id, n).await.map(|p| p.len())) });
    }
    while let Some(answer) = asked.join_next().await {
        let (n, len) = answer.unwrap();
        assert_eq!(len.unwrap(), sent[n].1.len());
    }
    let peak = review::unsealing_peak();
    assert!(peak >= 1);
    assert!(
        peak <= review::UNSEALING_AT_ONCE as usize,
        "{peak} pictures were being unsealed at once; the bound is {}",
        review::UNSEALING_AT_ONCE
    );
}

async fn an_older_case_s_whole_evidence_is_split_into_pictures(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = case_with_pictures(&h).await;
    // What a server from before `review_pictures` kept: the whole evidence as one sealed
    // list, as the app uploaded it, and no picture rows.
    let sent = pictures();
    let mut c = claims(&s, &h.kiosk);
    let whole = serde_json::to_vec(&evidence_of(&mut c, &sent)).unwrap();
    let sealed = h.app.keys.seal("review evidence", &whole).unwrap();
    h.execute("DELETE FROM review_pictures").await;
    h.execute(&format!(
        "UPDATE reviews SET evidence_sealed = '{sealed}' WHERE session_id = '{}'",
        s.id
    ))
    .await;
    // The worker splits it, once.
    review::expire(&h.app).await.unwrap();
    assert_eq!(
        h.count("SELECT COUNT(*) FROM reviews WHERE evidence_sealed <> ''")
            .await,
        0
    );
    assert_eq!(
        h.count("SELECT COUNT(*) FROM review_pictures").await,
        sent.len() as i64
    );
    for (n, (_, bytes, _)) in sent.iter().enumerate() {
        assert_eq!(
            review::picture(&h.app, &s.id, n).await.unwrap().as_slice(),
            bytes.as_slice()
        );
    }
    assert_eq!(
        review::open(&h.app, &s.id).await.unwrap().pictures[1].t_ms,
        Some(0)
    );
}
