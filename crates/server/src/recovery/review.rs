//! The trusted referee (NIST SP 800-63A-4): a recovery the automated checks could not
//! settle waits as a case until a reviewer in the admin console approves or refuses it.
//!
//! - [`sealed_case`]: the decision opens a case with the evidence (each picture sealed on
//!   its own) and the facts a referee needs (sealed), and how many approvals it takes
//!   (two, from different reviewers, for an account in a privileged group, or whose
//!   groups could not be read).
//! - [`open`] and [`picture`]: a reviewer's page unseals the facts only; each of its
//!   pictures is a request of its own that unseals that one picture.
//! - [`decide`]: a reviewer's vote, read from the facts alone. A refusal closes the case;
//!   the last approval it needs closes it and issues the grant, in one transaction with
//!   the session's new state and the audit entry. Closing is one conditional statement,
//!   so a case decided twice at once issues one grant; the evidence is destroyed as the
//!   case closes.
//! - [`collect`]: the waiting app, following its session, collects the grant.
//! - [`expire`]: cases past their retention close unread; the waiting app is told no.

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reclaim_directory::DirectoryUser;
use reclaim_protocol::wire::decision::Decision;
use reclaim_protocol::wire::evidence::EvidenceItem;
use reclaim_protocol::{named::joined, Code, RecoveryAction};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::password::password_policy;
use super::sessions::Session;
use crate::audit::{self, Entry};
use crate::crypto::{new_secret, secret_hash};
use crate::devices::Tier;
use crate::error::ApiError;
use crate::notify::{self, NoticeKind, RecoveryNotice};
use crate::recovery::evidence::UploadedEvidence;
use crate::store::reviews::{Case, CaseSummary, NewCase, NewPicture, Picture, Vote};
use crate::store::{self, now, StoreError};
use crate::App;

/// Sealing purposes: a case's parts can only be opened as what they are.
const FACTS: &str = "review facts";
const GRANT: &str = "review grant";
/// The whole evidence as one list, as servers before `review_pictures` sealed it.
const WHOLE_EVIDENCE: &str = "review evidence";

/// The sealing purpose of picture `n` of the case of session `id`: a picture opens only
/// as that picture of that case, so a row copied to another case or place does not.
fn picture_purpose(id: &str, n: i64) -> String {
    format!("review picture {id} {n}")
}

/// What a referee reads about a case beside the pictures, sealed while it waits.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaseFacts {
    /// Every reason the automated checks gave, the ones the person was not shown too.
    pub reasons: Vec<String>,
    /// The face match's score against the ID portrait or the enrolled template.
    pub face_score: Option<f32>,
    /// The server ran the engine on the evidence itself (false: the device's claims).
    pub reverified: bool,
    pub document: Option<CaseDocument>,
    /// The directory record the login named, as it was when the case opened.
    pub record: Option<CaseRecord>,
    /// The selfie's face template, sealed as a grant keeps it, so an approval enrols it.
    pub template_sealed: Option<String>,
}

/// The document's fields as read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaseDocument {
    pub surname: String,
    pub given_names: String,
    pub names_truncated: bool,
    pub birth_date: Option<String>,
}

/// The directory record a case was matched to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaseRecord {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub email: Option<String>,
    pub birth_date: Option<String>,
    pub groups: Vec<String>,
    /// Needs two reviewers.
    pub privileged: bool,
}

impl CaseRecord {
    pub fn of(user: &DirectoryUser, privileged: bool) -> CaseRecord {
        CaseRecord {
            id: user.id.clone(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            given_name: user.given_name.clone(),
            surname: user.surname.clone(),
            email: user.email.clone(),
            birth_date: user.birth_date.clone(),
            groups: Vec::new(),
            privileged,
        }
    }
}

/// `user`'s record for a case, with its group memberships read now, and whether
/// recovering it takes two reviewers: a member of a configured privileged group, or one
/// whose groups could not be read (the safe side: two reviewers rather than one too few).
pub async fn record_of(app: &App, user: &DirectoryUser) -> CaseRecord {
    let privileged_groups = &app.config.admin.privileged_groups;
    if privileged_groups.is_empty() {
        return CaseRecord::of(user, false);
    }
    let user = app.directory.with_groups(user.clone()).await;
    let privileged = user.member_of_any(privileged_groups) != Some(false);
    let mut record = CaseRecord::of(&user, privileged);
    record.groups = user.groups.clone();
    record
}

/// A case for `session`, sealed, for the decision to open in its own transaction: the
/// evidence as the app sent it (none from a managed device whose claims are trusted) and
/// `facts`, until the configured retention runs out.
pub fn sealed_case(
    app: &App,
    session: &Session,
    tier: Tier,
    evidence: Option<&UploadedEvidence>,
    facts: &CaseFacts,
    reasons: &[Code],
    delay_s: u64,
) -> Result<NewCase, ApiError> {
    let pictures = evidence
        .map(UploadedEvidence::pieces)
        .unwrap_or_default()
        .into_iter()
        .zip(0i64..)
        .map(|((name, t_ms, bytes), n)| seal_picture(app, &session.id, n, name, t_ms, bytes))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let facts_plain = Zeroizing::new(
        serde_json::to_vec(facts).map_err(|e| ApiError::new(Code::InternalError, e.to_string()))?,
    );
    // Unknown groups count as privileged: two reviewers rather than one too few.
    let privileged = facts.record.as_ref().is_none_or(|r| r.privileged);
    let t = now();
    Ok(NewCase {
        session_id: session.id.clone(),
        login: session.login.clone(),
        action: session.action.as_str().to_string(),
        device_key: session.device_key.clone(),
        tier: tier.as_str().to_string(),
        pictures,
        facts_sealed: app.keys.seal(FACTS, &facts_plain)?,
        reasons: joined(reasons, ","),
        approvals_needed: if privileged { 2 } else { 1 },
        delay_s: delay_s as i64,
        created_at: t,
        delete_after: t + app.config.policy.review_retention_s as i64,
    })
}

fn seal_picture(
    app: &App,
    id: &str,
    n: i64,
    name: String,
    t_ms: Option<u64>,
    bytes: &[u8],
) -> Result<NewPicture, ApiError> {
    Ok(NewPicture {
        n,
        name,
        t_ms: t_ms.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
        sealed: app.keys.seal(&picture_purpose(id, n), bytes)?,
    })
}

/// The open cases, oldest first: `per_page` of them from page `page` (0-based), and how
/// many there are.
pub async fn queue(
    app: &App,
    page: u32,
    per_page: u32,
) -> Result<(Vec<CaseSummary>, i64), ApiError> {
    let per_page = i64::from(per_page.clamp(1, 200));
    Ok(store::reviews::open(&app.store, now(), per_page, i64::from(page) * per_page).await?)
}

/// An open case, its facts unsealed for one viewer; its pictures are listed, not opened.
pub struct OpenCase {
    pub summary: CaseSummary,
    pub facts: CaseFacts,
    /// The evidence's pictures, in the upload's order: names and times, each opened on
    /// its own request ([`picture`]).
    pub pictures: Vec<Picture>,
    pub votes: Vec<Vote>,
    pub device_key: String,
    /// An approval's change waits this long, seconds (0: at once).
    pub delay_s: i64,
}

/// Pictures unsealed at once per instance, and what each holds in memory meanwhile: its
/// sealed row as read (base64, 4/3 of the picture), the ciphertext, and the picture. One
/// picture is at most 36 MiB (the most a 48 MiB upload holds); a case page asks for
/// several at once. Splitting an older case's whole evidence takes every place.
pub const UNSEALING_AT_ONCE: u32 = 2;

static UNSEALING: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(UNSEALING_AT_ONCE as usize);
/// Places taken now, and the most ever taken at once (what the bound's test reads).
static UNSEALING_NOW: AtomicUsize = AtomicUsize::new(0);
static UNSEALING_PEAK: AtomicUsize = AtomicUsize::new(0);

/// `places` of [`UNSEALING`], held from before the sealed bytes are read until the
/// plain ones are handed on.
struct Unsealing {
    _permit: tokio::sync::SemaphorePermit<'static>,
    places: usize,
}

impl Unsealing {
    async fn enter(places: u32) -> Result<Unsealing, ApiError> {
        let permit = UNSEALING
            .acquire_many(places)
            .await
            .map_err(|_| ApiError::new(Code::InternalError, "closed"))?;
        let places = places as usize;
        let now = UNSEALING_NOW.fetch_add(places, Ordering::SeqCst) + places;
        UNSEALING_PEAK.fetch_max(now, Ordering::SeqCst);
        Ok(Unsealing {
            _permit: permit,
            places,
        })
    }
}

impl Drop for Unsealing {
    fn drop(&mut self) {
        UNSEALING_NOW.fetch_sub(self.places, Ordering::SeqCst);
    }
}

/// The most places of the unsealing bound ever taken at once in this process: never more
/// than [`UNSEALING_AT_ONCE`].
#[cfg(feature = "test-hooks")]
pub fn unsealing_peak() -> usize {
    UNSEALING_PEAK.load(Ordering::SeqCst)
}

/// The open case of session `id` within its retention, and its facts, unsealed: all a
/// decision reads. Not found otherwise.
async fn open_facts(app: &App, id: &str) -> Result<(Case, CaseFacts), ApiError> {
    let case = store::reviews::load(&app.store, id)
        .await?
        .filter(|c| c.outcome.is_none() && c.summary.delete_after >= now())
        .ok_or_else(case_not_found)?;
    let facts: CaseFacts = serde_json::from_slice(&app.keys.open(FACTS, &case.facts_sealed)?)
        .map_err(|e| ApiError::new(Code::InternalError, format!("case facts: {e}")))?;
    Ok((case, facts))
}

/// The open case of session `id`, within its retention, for a reviewer's page: not found
/// otherwise.
pub async fn open(app: &App, id: &str) -> Result<OpenCase, ApiError> {
    let (case, facts) = open_facts(app, id).await?;
    let pictures = store::reviews::pictures(&app.store, id).await?;
    let votes = store::reviews::votes(&app.store, id).await?;
    Ok(OpenCase {
        summary: case.summary,
        facts,
        pictures,
        votes,
        device_key: case.device_key,
        delay_s: case.delay_s,
    })
}

/// Picture `index` of the open case of session `id`: that picture's row alone is read and
/// unsealed.
pub async fn picture(app: &App, id: &str, index: usize) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let n = i64::try_from(index).map_err(|_| case_not_found())?;
    let _place = Unsealing::enter(1).await?;
    let sealed = store::reviews::picture(&app.store, id, n, now())
        .await?
        .ok_or_else(case_not_found)?;
    Ok(app.keys.open(&picture_purpose(id, n), &sealed)?)
}

/// Splits the evidence of cases a server before `review_pictures` sealed as one list into
/// a sealed row per picture, one case at a time (each holds its whole evidence in memory
/// meanwhile, so it takes every unsealing place); how many. Evidence that cannot be opened
/// any more is dropped: the case stays, to be refused.
async fn split_whole_evidence(app: &App) -> Result<u64, ApiError> {
    let mut split = 0;
    loop {
        let _places = Unsealing::enter(UNSEALING_AT_ONCE).await?;
        let Some((id, sealed)) = store::reviews::whole_evidence(&app.store).await? else {
            break;
        };
        let items: Vec<EvidenceItem> = match app
            .keys
            .open(WHOLE_EVIDENCE, &sealed)
            .ok()
            .and_then(|plain| serde_json::from_slice(&plain).ok())
        {
            Some(items) => items,
            None => {
                tracing::warn!(session = %id, "a case's evidence could not be opened: dropped");
                Vec::new()
            }
        };
        drop(sealed);
        let mut pictures = Vec::with_capacity(items.len());
        for (item, n) in items.into_iter().zip(0i64..) {
            let bytes = Zeroizing::new(STANDARD.decode(&item.data).unwrap_or_default());
            pictures.push(seal_picture(app, &id, n, item.name, item.t_ms, &bytes)?);
        }
        let mut tx = app.store.begin().await?;
        store::reviews::split_evidence(&mut tx, &id, &pictures).await?;
        tx.commit().await.map_err(StoreError::from)?;
        split += 1;
    }
    Ok(split)
}

fn case_not_found() -> ApiError {
    ApiError::new(
        Code::CaseNotFound,
        "no open case by that name: it was decided, or its retention ran out",
    )
}

/// Who votes: a signed-in reviewer.
pub struct Reviewer<'a> {
    /// Stable: the provider's issuer and subject.
    pub subject: &'a str,
    /// For the audit chain and the page.
    pub name: &'a str,
    /// The names the reviewer's own account goes by (login, mail), lower case.
    pub aliases: &'a [String],
}

/// A reviewer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Refuse,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Refuse => "refuse",
        }
    }
}

/// What a vote did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// The last approval needed: the grant waits for the person's app.
    Approved,
    /// The case is refused; the person's app is told.
    Refused,
    /// One approval of two: another reviewer must approve too.
    AwaitingSecond,
}

/// Records `reviewer`'s `verdict` on the case of session `id`, with `reason`.
pub async fn decide(
    app: &App,
    reviewer: &Reviewer<'_>,
    id: &str,
    verdict: Verdict,
    reason: &str,
) -> Result<Decided, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::new(
            Code::RequestInvalid,
            "give a reason of 1 to 500 characters",
        ));
    }
    // The facts alone: a vote needs nothing of the pictures.
    let (case, facts) = open_facts(app, id).await?;
    // Four eyes, and none of them the subject's own: a reviewer cannot decide the
    // recovery of an account that is theirs (by login or mail).
    let own = |name: &str| {
        let name = name.to_lowercase();
        reviewer.aliases.contains(&name)
    };
    if own(&case.summary.login)
        || facts
            .record
            .as_ref()
            .is_some_and(|r| own(&r.username) || r.email.as_deref().is_some_and(own))
    {
        audit::append(
            &app.store,
            &app.keys,
            Entry {
                kind: "review_refused_own",
                actor: &format!("admin:{}", reviewer.name),
                subject: &format!("session:{id}"),
                detail: serde_json::json!({ "reviewer": reviewer.subject }),
            },
        )
        .await?;
        return Err(ApiError::new(
            Code::CaseOwnRecovery,
            "this is a recovery of your own account: another reviewer must decide it",
        ));
    }
    if verdict == Verdict::Approve && facts.record.is_none() {
        return Err(ApiError::new(
            Code::RequestInvalid,
            "this case names no directory record: it can only be refused",
        ));
    }
    // Group memberships are read again before an approval can close the case: what
    // counts is the account as it is when the grant is issued. (Outside the transaction:
    // a directory call does not hold the database's write lock.)
    let now_privileged = match (&facts.record, verdict) {
        (Some(r), Verdict::Approve) if !app.config.admin.privileged_groups.is_empty() => {
            match app.directory.find_user(&r.username).await {
                Ok(Some(u)) if u.id == r.id && !record_of(app, &u).await.privileged => "",
                Ok(Some(_)) => "privileged",
                // Gone, another account under the login, or unreadable: not one
                // reviewer's call alone.
                _ => "unknown",
            }
        }
        _ => "",
    };
    // An approval hands someone a reset of a person's account, so it must come from a
    // person the company's provider knows. A local (break-glass) account is a name on
    // this server only: nothing says which directory account is its holder's (so it
    // could approve its holder's own recovery), and two of them, made on the server's
    // command line, or one beside its holder's company sign-in, would be "four eyes" of
    // one person. It may refuse.
    if verdict == Verdict::Approve && crate::admin::local::is_local(reviewer.subject) {
        return Err(ApiError::new(
            Code::RequestInvalid,
            "a break-glass account cannot approve a recovery: a reviewer signed in through the company's provider must",
        ));
    }
    if verdict == Verdict::Approve {
        // What stops an automated approval stops a reviewer's: the owner's "this wasn't
        // me" lock, and a device revoked since.
        if let Some(r) = &facts.record {
            if crate::notify::self_service_locked(app, &r.id).await? {
                return Err(ApiError::new(
                    Code::RequestInvalid,
                    "the account's owner locked self-service recovery: this case can only be refused",
                ));
            }
        }
        crate::devices::usable(&app.store, &case.device_key).await?;
    }
    let t = now();
    let mut tx = app.store.begin().await?;
    store::reviews::lock(&mut tx, id).await?;
    let voted = store::reviews::vote(
        &mut tx,
        id,
        &Vote {
            reviewer: reviewer.subject.to_string(),
            vote: verdict.as_str().to_string(),
            reason: reason.to_string(),
            at: t,
        },
    )
    .await?;
    if !voted {
        tx.rollback().await.map_err(StoreError::from)?;
        return Err(ApiError::new(
            Code::CaseAlreadyVoted,
            "you have already voted on this case: a second approval must come from another reviewer",
        ));
    }
    let approvals = store::reviews::approvals(&mut tx, id).await?;
    let mut needed = case.summary.approvals_needed;
    if verdict == Verdict::Approve
        && approvals >= needed
        && needed < 2
        && !now_privileged.is_empty()
    {
        // The account joined a privileged group since the case opened (or its groups
        // cannot be read now): a second reviewer is needed after all.
        needed = 2;
        store::reviews::require_approvals(&mut tx, id, needed).await?;
    }
    let decided = match verdict {
        Verdict::Refuse => Decided::Refused,
        Verdict::Approve if approvals >= needed => Decided::Approved,
        Verdict::Approve => Decided::AwaitingSecond,
    };
    let mut grant_hash = None;
    match decided {
        Decided::AwaitingSecond => {}
        Decided::Refused => {
            if !store::reviews::close(&mut tx, id, "refused", None, t, t).await? {
                tx.rollback().await.map_err(StoreError::from)?;
                return Err(case_not_found());
            }
            store::sessions::reviewed(&mut tx, id, "rejected").await?;
            if let Some(r) = &facts.record {
                // As any refusal: the owner hears of it (from the second of a series on),
                // and it counts against the channel it came from.
                notify::enqueue_recovery_notice(
                    &mut tx,
                    app,
                    &RecoveryNotice {
                        user_ref: &r.id,
                        to: r.email.iter().cloned().collect(),
                        display_name: r.display_name.as_deref(),
                        action: RecoveryAction::parse(&case.summary.action)
                            .unwrap_or(RecoveryAction::ResetPassword),
                        kind: NoticeKind::Refused,
                        device_tier: &case.summary.tier,
                        at: t,
                        session_id: id,
                    },
                )
                .await?;
            }
        }
        Decided::Approved => {
            let record = facts.record.as_ref().ok_or_else(case_not_found)?;
            let action = RecoveryAction::parse(&case.summary.action)
                .ok_or_else(|| ApiError::new(Code::InternalError, "invalid action in reviews"))?;
            let secret = new_secret("rg_")?;
            let expires_at = t + app.config.policy.grant_ttl_s as i64;
            // The delay the policy row asked for before doubts sent the attempt here: a
            // doubtful case gets no less time for its owner to object than a clean one.
            let effective_at = (case.delay_s > 0).then_some(t + case.delay_s);
            let sealed = app.keys.seal(GRANT, secret.as_bytes())?;
            // The close comes first: of two approvals racing, the one that does not
            // close the case issues nothing.
            if !store::reviews::close(&mut tx, id, "approved", Some(&sealed), t, expires_at).await?
            {
                tx.rollback().await.map_err(StoreError::from)?;
                return Err(case_not_found());
            }
            let hash = secret_hash(&secret);
            store::resets::insert(
                &mut tx,
                store::resets::NewGrant {
                    id: &hash,
                    session_id: id,
                    user_ref: &record.id,
                    login: &case.summary.login,
                    action,
                    expires_at,
                    template_sealed: facts.template_sealed.clone(),
                    created_at: t,
                    apply_after: effective_at.unwrap_or(0),
                },
            )
            .await?;
            store::sessions::reviewed(&mut tx, id, "approved").await?;
            notify::enqueue_recovery_notice(
                &mut tx,
                app,
                &RecoveryNotice {
                    user_ref: &record.id,
                    to: record.email.iter().cloned().collect(),
                    display_name: record.display_name.as_deref(),
                    action,
                    kind: NoticeKind::Approved { effective_at },
                    device_tier: &case.summary.tier,
                    at: t,
                    session_id: id,
                },
            )
            .await?;
            grant_hash = Some(hash);
        }
    }
    audit::append_in(
        &mut tx,
        &app.keys,
        Entry {
            kind: "review_vote",
            actor: &format!("admin:{}", reviewer.name),
            subject: &format!("session:{id}"),
            detail: serde_json::json!({
                "reviewer": reviewer.subject,
                "vote": verdict.as_str(),
                "reason": reason,
                "approvals": approvals,
                "approvals_needed": case.summary.approvals_needed,
                "outcome": match decided {
                    Decided::Approved => "approved",
                    Decided::Refused => "refused",
                    Decided::AwaitingSecond => "open",
                },
                "user": facts.record.as_ref().map(|r| r.id.clone()),
            }),
        },
    )
    .await?;
    // A closed case is the session's decision: in the chain as any decision is, so the
    // grant it issued is backed (`audit::verify`) like an automated approval's.
    if decided != Decided::AwaitingSecond {
        let votes = store::reviews::votes_in(&mut tx, id).await?;
        audit::append_in(
            &mut tx,
            &app.keys,
            Entry {
                kind: "decision",
                actor: &format!("admin:{}", reviewer.name),
                subject: &format!("session:{id}"),
                detail: serde_json::json!({
                    "outcome": if decided == Decided::Approved { "approved" } else { "rejected" },
                    "by": "review",
                    "reviewers": votes.iter().map(|v| v.reviewer.clone()).collect::<Vec<_>>(),
                    "reasons": case.summary.reasons.split(',').filter(|r| !r.is_empty()).collect::<Vec<_>>(),
                    "device_tier": case.summary.tier,
                    "user": facts.record.as_ref().map(|r| r.id.clone()),
                    "action": case.summary.action,
                    "face_score": facts.face_score.map(|s| (s * 1000.0).round() / 1000.0),
                    "delay_s": (case.delay_s > 0).then_some(case.delay_s),
                    "grant_sha256": grant_hash,
                }),
            },
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    if decided == Decided::Refused {
        // A refusal by a person counts as a failed biometric attempt of that login on
        // that channel, as an automated one does: filing case after case is not a way
        // round the delays.
        if let Some(tier) = Tier::parse(&case.summary.tier) {
            crate::limits::biometric_failure(
                &app.store,
                &crate::limits::failure_key(&super::sessions::login_key(&case.summary.login), tier),
                &app.config.limits,
                id,
            )
            .await?;
        }
    }
    Ok(decided)
}

/// The grant a reviewer's approval issued for `session`, for its waiting app: `None`
/// unless the session was approved through a case whose grant has not run out.
pub async fn collect(app: &App, session: &Session) -> Result<Option<Decision>, ApiError> {
    if session.state != "approved" {
        return Ok(None);
    }
    let Some(case) = store::reviews::load(&app.store, &session.id).await? else {
        return Ok(None);
    };
    let (Some(sealed), true) = (&case.grant_sealed, case.summary.delete_after >= now()) else {
        return Ok(None);
    };
    let secret = app.keys.open(GRANT, sealed)?;
    let grant = String::from_utf8(secret.to_vec())
        .map_err(|_| ApiError::new(Code::InternalError, "invalid grant in reviews"))?;
    // Only a grant still to be used: one the owner cancelled ("this wasn't me") or that
    // ended is not handed out again.
    let usable = store::resets::load(&app.store, &secret_hash(&grant))
        .await?
        .is_some_and(|g| g.state == "issued");
    if !usable {
        return Ok(None);
    }
    Ok(Some(Decision::Approved {
        grant,
        grant_expires_at: case.summary.delete_after,
        action: session.action,
        // A person judged the evidence; the server's own run did not approve it.
        reverified: false,
        password_policy: password_policy(app),
        delay_s: (case.delay_s > 0).then_some(case.delay_s as u64),
    }))
}

/// Closes cases past their retention (the waiting app is told no, the evidence is
/// destroyed), and deletes decided cases whose grant ran out. Every instance runs it;
/// each case closes once.
pub async fn expire(app: &App) -> Result<u64, StoreError> {
    let t = now();
    let mut closed = 0;
    for id in store::reviews::overdue(&app.store, t).await? {
        let mut tx = app.store.begin().await?;
        // Only if still open: an approval that committed meanwhile keeps its grant.
        if store::reviews::delete_overdue(&mut tx, &id, t).await?
            && store::sessions::reviewed(&mut tx, &id, "rejected").await?
        {
            audit::append_in(
                &mut tx,
                &app.keys,
                Entry {
                    kind: "review_expired",
                    actor: "server",
                    subject: &format!("session:{id}"),
                    detail: serde_json::json!({}),
                },
            )
            .await?;
            closed += 1;
        }
        tx.commit().await?;
    }
    store::reviews::purge_decided(&app.store, t).await?;
    if let Err(e) = split_whole_evidence(app).await {
        tracing::warn!(
            code = e.code.as_str(),
            "splitting an older case's evidence failed; the next round tries again"
        );
    }
    // Sessions a server before the console left waiting for review with no case (or a
    // case without its facts): nobody can ever decide them, so the app is told no.
    closed += store::reviews::reject_caseless(&app.store).await?;
    Ok(closed)
}
