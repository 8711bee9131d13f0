//! The decision: from a signed attestation (and the evidence) to a reset grant, a manual
//! review, or a refusal. This module gathers and verifies the facts, asks the policy
//! (`crate::policy`, a pure function of them) and records its conclusion.
//!
//! Checks, in order: the session and its token; the device's key, tier and revocation;
//! the token (signature, audience, session, nonce, expiry, via `reclaim-protocol`); the
//! user and action it names. Then the policy table (see [`crate::policy`]) is asked
//! whether this device's tier may recover this account at all: when it refuses whatever
//! the evidence shows, the attempt ends there, before any evidence is decoded or judged.
//! Otherwise the uploaded evidence is checked byte for byte against its digests and judged
//! by the server's own engine (for every tier unless the operator trusts managed devices'
//! signed claims), the document's name and birth date against the directory record, the
//! returning user's template; and [`crate::policy::decide`] concludes. Everything before
//! the nonce is spent refuses with a 4xx and changes nothing; the nonce is spent with the
//! outcome, in one transaction. Evidence lives in memory for the request only, unless the
//! outcome is a manual review.

use reclaim_protocol::Code;
use std::collections::HashSet;
use std::sync::Arc;

use reclaim_directory::DirectoryUser;
use reclaim_document::names::{match_names, DirectoryName, DocumentName, NameVerdict};
use reclaim_document::Date;
use reclaim_protocol::wire::decision::Decision;
pub use reclaim_protocol::wire::decision::Outcome;
use reclaim_protocol::wire::evidence::AttestationRequest;
use reclaim_protocol::RecoveryAction;
use reclaim_protocol::{
    verify_attestation, AttestationClaims, AttestationError, DeviceVerdict, Expected,
};
use reclaim_verify::face::FaceEmbedding;
use reclaim_verify::template::FaceTemplate;
use reclaim_verify::{Reference, FACE_MATCH_THRESHOLD};

use super::evidence::{embedding_of, evidence_of};
use super::password::password_policy;
use super::review::{self, CaseDocument, CaseFacts};
use super::sessions::{self, login_key, Holder, Session};
use crate::audit::{self, Entry};
use crate::crypto::{new_secret, secret_hash};
use crate::devices::{self, Tier};
use crate::error::ApiError;
use crate::models::template_model;
use crate::notify::{self, NoticeKind, RecoveryNotice};
use crate::policy::{self, AppliedRow, Conclusion, Facts, Ruling, UserKind};
use crate::recovery::evidence::UploadedEvidence;
use crate::store::{self, now, StoreError};
use crate::{limits, App};

/// What judging found.
struct Judgement {
    reasons: Vec<Code>,
    review: Vec<Code>,
    embedding: Option<FaceEmbedding>,
    face_score: Option<f32>,
    /// The capture as kept for the replay check (store/replay.rs).
    frame_hashes: Vec<reclaim_verify::liveness::replay::SeenFrame>,
    reverified: bool,
    /// The document's fields as read (by the server's run, or the device's claims).
    document: Option<CaseDocument>,
    /// The document's kind (`td1`, `td3`, `aamva`...), code and issuing state, for an
    /// identity verification's claims (idv/claims.rs).
    document_kind: Option<String>,
    document_code: Option<String>,
    document_issuer: Option<String>,
}

fn token_error(e: AttestationError) -> ApiError {
    ApiError::new(e.code(), e.to_string())
}

/// Decides the attestation of session `id` (`POST /v1/sessions/{id}/attestation`), sent
/// with `token` (its bearer secret) from `addr`: a grant, a manual review, or a refusal.
/// A refusal that spends nothing (a wrong token, an expired session, evidence that does
/// not match its digests, a busy server) is an `Err`; an outcome is an `Ok`.
pub async fn attest(
    app: &Arc<App>,
    id: &str,
    token: &str,
    addr: &str,
    req: AttestationRequest,
) -> Result<Decision, ApiError> {
    let (session, holder) = sessions::authorized(app, id, token).await?;
    if holder != Holder::Actor {
        return Err(ApiError::new(
            Code::NotActiveDevice,
            "the session was handed off; only the device that took it over can send the attestation",
        ));
    }
    match sessions::visible_state(&session) {
        "open" if !session.nonce_used => {}
        "expired" => {
            return Err(ApiError::new(
                Code::SessionExpired,
                "the session has expired; start again",
            ))
        }
        _ => {
            return Err(ApiError::new(
                Code::NonceReplayed,
                "this session's nonce has already been used; start a new session",
            ))
        }
    }
    // No rate limit of its own: a session allows one decision, and starting sessions is
    // limited per device, user and address.
    let device = devices::usable(&app.store, &session.device_key).await?;
    let user_key = login_key(&session.login);
    // Failures count against the login as typed, never the account (so one alias's lock
    // says nothing of another, for known and unknown logins alike), on the device's
    // channel: a self-registered device's failures never lock the kiosk (limits.rs).
    // Replayed frames are looked for per account, so aliases do not start afresh there.
    let biometric_keys = limits::login_keys(&user_key, device.tier);
    let capture_key = store::replay::capture_key(session.user_ref.as_deref(), &user_key);
    let biometric = limits::biometric_state(&app.store, &biometric_keys).await?;
    if let Some(wait) = biometric.wait {
        return Err(limits::biometric_locked(
            wait,
            device.tier,
            &session.id,
            &device.key_id,
        ));
    }
    let had_failures = biometric.failures;
    let policy = &app.config.policy;
    let claims = verify_attestation(
        &req.token,
        |kid| (kid == device.key_id).then_some(device.public_key),
        &Expected {
            audience: &app.config.public_url,
            session: &session.id,
            nonce: &session.nonce,
            now: now().max(0) as u64,
            leeway_s: policy.clock_leeway_s,
            max_lifetime_s: policy.attestation_max_lifetime_s,
        },
    )
    .map_err(|e| {
        app.metrics.token_refused();
        token_error(e)
    })?;
    if login_key(&claims.user) != user_key {
        return Err(ApiError::new(
            Code::AttestationUserMismatch,
            "the attestation is for another user than the session",
        ));
    }
    if claims.action != session.action {
        return Err(ApiError::new(
            Code::AttestationActionMismatch,
            "the attestation is for another action than the session",
        ));
    }
    // The same work for every login, known or not, so the time taken does not tell
    // (docs/server.md, "Known and unknown accounts"): the directory is searched again (the
    // account may have changed since the session started), and the template and lock
    // lookups run with a stand-in reference when there is no account.
    // An identity verification changes nothing in the directory and asks nothing of it:
    // the relying party matches the verified claims against its own user.
    let verifying = session.action == RecoveryAction::VerifyIdentity;
    let user = if verifying {
        None
    } else {
        find_user(app, &session).await?
    };
    let reference = user
        .as_ref()
        .map_or_else(|| format!("absent:{user_key}"), |u| u.id.clone());
    // A returning user is one with a face enrolled by an earlier recovery; unknown
    // accounts look like first-time users (no template is ever stored for a stand-in).
    let enrolled = load_template(app, &reference).await?;
    let user_kind = if enrolled.is_some() {
        UserKind::Returning
    } else {
        UserKind::FirstTime
    };
    let settings = policy::Settings {
        review_queue: policy.review_queue,
        trust_signed_claims: !policy.managed_requires_evidence,
        notify_delay_s: policy.notify_delay_s,
    };
    let locked = crate::notify::self_service_locked(app, &reference).await?;

    // The tier may refuse whatever the evidence shows: then nothing is decoded or judged,
    // which spends no engine time on a device that cannot be trusted and tells it nothing
    // about how its pictures would have fared.
    if let Some(decision) = policy::before_judging(
        &policy.table,
        &settings,
        session.action,
        device.tier,
        user_kind,
        locked,
    ) {
        record_unjudged(app, &session, device.tier, user.as_ref(), &decision).await?;
        tracing::info!(
            session = %session.id,
            tier = device.tier.as_str(),
            verdict = decision.row.verdict.as_str(),
            "recovery refused by policy"
        );
        return Ok(refusal(&decision, false));
    }

    // Every tier uploads its evidence unless the operator trusts managed devices' claims.
    let required = device.tier == Tier::Unmanaged || policy.managed_requires_evidence;
    // Shared with the blocking re-verification task rather than copied: up to 48 MiB.
    let evidence = evidence_of(&claims, req.evidence, required)?.map(Arc::new);
    // Admitted before anything is spent: a busy server leaves the session usable. One
    // judgement in flight per account, and per address for unmanaged keys or per device
    // for managed and hardware ones (admission.rs).
    let client = crate::admission::Client::new(device.tier, &device.key_id, addr);
    let _admitted = match &evidence {
        Some(_) => Some(app.admission.judgement(&client, &capture_key)?),
        None => None,
    };
    if evidence.is_some() && app.engines.is_none() {
        return Err(ApiError::new(
            Code::ReverificationUnavailable,
            "this server does not re-verify evidence (reverify = false)",
        ));
    }
    // The face is compared with the enrolled template when the session skipped the ID.
    let template = enrolled.filter(|_| !session.needs_document());

    // The nonce is spent with the outcome, in one transaction (`record_outcome`): of two
    // requests racing with the same token, one records its outcome and the other gets
    // `nonce_replayed`, and a crash cannot leave a spent nonce without an outcome.
    let judged = judge(
        app,
        &session,
        &claims,
        evidence.as_ref(),
        user.as_ref(),
        template.as_ref(),
        &capture_key,
        device.tier,
    )
    .await;
    let judgement = match judged {
        Ok(j) => j,
        // No engine place in time, or past the deadline: unspent, to be sent again.
        Err(e) if e.code == Code::ServerBusy => return Err(e),
        Err(e) => {
            // The evidence could not be analysed (undecodable image, engine failure): the
            // session ends rejected, and the client learns why.
            let decision = Ruling {
                conclusion: Conclusion::Rejected,
                reasons: vec![e.code],
                row: policy::verdict(&policy.table, session.action, device.tier, user_kind),
                refused_by_policy: false,
            };
            record_unjudged(app, &session, device.tier, user.as_ref(), &decision).await?;
            return Err(e);
        }
    };
    let decision = policy::decide(
        &policy.table,
        &settings,
        &Facts {
            action: session.action,
            tier: device.tier,
            user: user_kind,
            reverified: judgement.reverified,
            failures: judgement.reasons.clone(),
            doubts: judgement.review.clone(),
            self_service_locked: locked,
            owner_reachable: user
                .as_ref()
                .is_some_and(|u| notify::reachable(&u.email.iter().cloned().collect::<Vec<_>>())),
        },
    );
    // A relying party's flow cannot wait for the service desk, and nothing is changed that
    // notice and delay could undo: an identity verification passes or is refused now.
    let decision = if verifying {
        let birth_date_read = judgement
            .document
            .as_ref()
            .and_then(|d| d.birth_date.as_deref())
            .is_some_and(|b| !b.trim().is_empty());
        super::idv::ruling_for_verification(decision, birth_date_read)
    } else {
        decision
    };
    // Every review verdict opens a case, with the pictures when the device sent them (a
    // managed device whose signed claims are trusted sends none): a person decides it.
    let case = match decision.conclusion {
        Conclusion::Review => {
            let facts = CaseFacts {
                reasons: judgement
                    .reasons
                    .iter()
                    .chain(&judgement.review)
                    .map(|c| c.as_str().to_string())
                    .collect(),
                face_score: judgement.face_score,
                reverified: judgement.reverified,
                document: judgement.document.clone(),
                record: match &user {
                    Some(u) => Some(review::record_of(app, u).await),
                    None => None,
                },
                template_sealed: judgement
                    .embedding
                    .as_ref()
                    .map(|e| seal_template(app, e))
                    .transpose()?,
            };
            Some(review::sealed_case(
                app,
                &session,
                device.tier,
                evidence.as_deref(),
                &facts,
                &decision.reasons,
                // The row asked for notice and delay before doubts sent it here.
                match decision.row.verdict {
                    policy::Verdict::ApproveNotifyDelay => policy.notify_delay_s,
                    _ => 0,
                },
            )?)
        }
        _ => None,
    };
    let grant = record_outcome(
        app,
        &session,
        device.tier,
        user.as_ref(),
        &decision,
        Some((&judgement, &capture_key)),
        case,
    )
    .await?;
    match decision.conclusion {
        Conclusion::Approved { .. } if had_failures => {
            for key in &biometric_keys {
                limits::biometric_success(&app.store, key).await?;
            }
        }
        Conclusion::Approved { .. } | Conclusion::Review => {}
        Conclusion::Rejected => {
            limits::biometric_failure(
                &app.store,
                &limits::failure_key(&user_key, device.tier),
                &app.config.limits,
                &session.id,
            )
            .await?;
        }
    }
    match (&decision.conclusion, grant) {
        (Conclusion::Approved { .. }, None) if verifying => Ok(Decision::Verified {
            reverified: judgement.reverified,
            message: "Your identity is verified. Go back to the browser window where you started."
                .into(),
        }),
        (Conclusion::Approved { delay_s }, Some((secret, expires_at))) => {
            Ok(Decision::Approved {
                grant: secret.to_string(),
                grant_expires_at: expires_at,
                action: session.action,
                reverified: judgement.reverified,
                password_policy: password_policy(app),
                // The change waits: the account's addresses are told, and can cancel it.
                delay_s: (*delay_s > 0).then_some(*delay_s),
            })
        }
        (Conclusion::Review, _) => Ok(Decision::Review {
            message:
                "A person at the service desk will check this request; keep the app open, and it goes on by itself once they approve."
                    .into(),
        }),
        _ => Ok(refusal(&decision, judgement.reverified)),
    }
}

/// The answer to a refused attempt: public reason codes only (see
/// [`policy::public_reasons`]), and where the tier refused, a sentence that says where to go.
fn refusal(ruling: &Ruling, reverified: bool) -> Decision {
    // A canonical set in a fixed order: neither which account nor which check shows.
    let reasons = policy::public_reasons(&ruling.reasons);
    let message = ruling.refused_by_policy.then(|| {
        if ruling.reasons.contains(&Code::SelfServiceLocked) {
            "Self-service recovery is locked for this account. Contact the IT helpdesk."
        } else {
            "This device cannot be used for self-service recovery on its own. Use a company-managed laptop or the IT walk-up kiosk, or contact the IT helpdesk."
        }
        .to_string()
    });
    Decision::Rejected {
        reasons: reasons.iter().map(|c| c.as_str().to_string()).collect(),
        reverified,
        message,
    }
}

/// The session's account as the directory has it now (it may have changed since the
/// session started), or `None` when it is gone or another account took its login.
async fn find_user(app: &App, session: &Session) -> Result<Option<DirectoryUser>, ApiError> {
    Ok(app
        .directory
        .find_user(&session.login)
        .await
        .map_err(|e| {
            app.metrics.directory_error();
            tracing::warn!(code = e.code().as_str(), "directory lookup failed");
            ApiError::new(
                Code::DirectoryUnavailable,
                "the company directory cannot be reached; try again",
            )
        })?
        .filter(|u| Some(&u.id) == session.user_ref.as_ref()))
}

async fn load_template(app: &App, user_ref: &str) -> Result<Option<FaceTemplate>, ApiError> {
    let Some(sealed) = store::templates::sealed(&app.store, user_ref).await? else {
        return Ok(None);
    };
    let bytes = app.keys.open("template", &sealed)?;
    let model = template_model().map_err(|e| ApiError::new(Code::InternalError, e))?;
    // A template from another model cannot be compared: the user is treated as new.
    Ok(FaceTemplate::parse(&bytes, &model).ok())
}

/// A code a managed device named, if it is one of the registry's: anything else (a
/// newer build's code, or text no code has) is left out, and a refusal that names none
/// this server knows reads as `device_rejected`.
fn sane_reason(r: &str) -> Option<Code> {
    Code::parse(r)
}

/// Codes as the database keeps them: comma-joined.
fn joined(codes: &[Code]) -> String {
    reclaim_protocol::named::joined(codes, ",")
}

#[allow(clippy::too_many_arguments)]
async fn judge(
    app: &Arc<App>,
    session: &Session,
    claims: &AttestationClaims,
    evidence: Option<&Arc<UploadedEvidence>>,
    user: Option<&DirectoryUser>,
    template: Option<&FaceTemplate>,
    capture_key: &str,
    tier: crate::devices::Tier,
) -> Result<Judgement, ApiError> {
    let policy = &app.config.policy;
    let mut j = Judgement {
        reasons: Vec::new(),
        review: Vec::new(),
        embedding: None,
        face_score: None,
        frame_hashes: Vec::new(),
        reverified: false,
        document: None,
        document_kind: None,
        document_code: None,
        document_issuer: None,
    };
    // The camera's name, driver and flags are the client's word: an honest app declares a
    // virtual or file-backed source and is refused here, a custom client declares a webcam.
    // So this stops only honest clients; the device's tier decides what a capture is worth.
    if (claims.camera.virtual_device || claims.camera.file_backed) && !policy.allow_virtual_camera {
        j.reasons.push(Code::CameraNotAllowed);
    }
    if claims.models.is_empty()
        || !claims
            .models
            .values()
            .all(|d| app.allowed_models.contains(&d.to_ascii_lowercase()))
    {
        j.reasons.push(Code::ModelNotAllowed);
    }
    if let Some(ev) = evidence {
        let engine = app.engines.clone().ok_or_else(|| {
            ApiError::new(
                Code::ReverificationUnavailable,
                "this server does not re-verify evidence",
            )
        })?;
        let challenge = session.challenge.clone();
        let light = session.light.clone();
        let seen = store::replay::seen_sessions(&app.store, capture_key).await?;
        // The engine, then the run, within one deadline; the slot goes into the run, which
        // keeps it (and its account busy) until it really ends (admission.rs).
        let deadline = app.admission.deadline();
        let channel = crate::admission::Channel::of(tier);
        let slot = app.admission.engine(channel, capture_key, deadline).await?;
        let started = std::time::Instant::now();
        let ev = Arc::clone(ev);
        let template_owned = template.cloned();
        let needs_document = session.needs_document();
        let today = Date::today_utc()
            .ok_or_else(|| ApiError::new(Code::ClockInvalid, "the clock gives no date"))?;
        let run = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let selfies = ev.selfie_pieces();
            engine.judge(&reclaim_verify::Evidence {
                id_front: ev.id_front.as_deref(),
                id_back: ev.id_back.as_deref(),
                selfies: &selfies,
                challenge: &challenge,
                light: light.as_ref(),
                reference: match (needs_document, template_owned.as_ref()) {
                    (true, _) => Reference::IdPortrait,
                    (false, Some(t)) => Reference::Template(t),
                    (false, None) => Reference::Missing,
                },
                seen: &seen,
                today,
            })
        });
        let result = tokio::time::timeout_at(deadline, run)
            .await
            .map_err(|_| app.admission.overrun())?
            .map_err(|_| ApiError::new(Code::InternalError, "re-verification failed"))?;
        app.metrics.reverified(started.elapsed().as_secs_f64());
        let v = result.map_err(|e| ApiError::new(e.code(), e.to_string()))?;
        j.reverified = true;
        j.reasons.extend(v.reasons.iter().copied());
        j.face_score = v.face_match.iter().filter_map(|m| m.score).reduce(f32::min);
        j.embedding = v.selfie_embedding.clone();
        if let Some(report) = &v.liveness.report {
            j.frame_hashes = report
                .frames
                .iter()
                .filter_map(|f| f.seen_frame())
                .collect();
            // Frames seen before with another motion: the person coming back, or a
            // recording cropped or brightened beyond what the motion check matches, which
            // nothing kept tells apart (docs/liveness.md, "Replays"). With a review queue
            // a person looks at it. Without one, a self-registered device (the channel an
            // attacker's own client uses to send an edited recording) is refused with the
            // neutral liveness sentence (its advice names the helpdesk), counted as a
            // failure of that channel only, so the kiosk stays open; a managed or hardware
            // device, whose frames come from the company's own camera, goes on with the
            // doubt logged.
            if report.seen_before {
                tracing::warn!(
                    session = %session.id,
                    tier = tier.as_str(),
                    frames = report.seen_frames.len(),
                    "selfie frames seen in an earlier session, with another motion"
                );
                if policy.review_queue {
                    j.review.push(Code::FaceSeenBefore);
                } else if tier == crate::devices::Tier::Unmanaged {
                    j.reasons.push(Code::LivenessSeenBefore);
                }
            }
            if report
                .reasons
                .contains(&reclaim_verify::liveness::LivenessReason::LivenessReplayedFrames)
            {
                tracing::warn!(session = %session.id, "selfie capture replayed from an earlier session");
            }
        }
        if let Some(d) = &v.document {
            j.document = Some(CaseDocument {
                surname: d.fields.surname.clone().unwrap_or_default(),
                given_names: d.fields.given_names.clone().unwrap_or_default(),
                names_truncated: d.mrz.as_ref().is_some_and(|m| m.names_truncated),
                birth_date: d.fields.birth_date.map(|b| b.to_string()),
            });
            let aamva = d.kind == reclaim_document::DocumentKind::Aamva;
            j.document_kind = Some(format!("{:?}", d.kind).to_ascii_lowercase());
            j.document_code = d.fields.document_code.clone();
            // A licence's issuer is its state or province; its country is in DCG.
            j.document_issuer = if aamva {
                d.fields.nationality.clone()
            } else {
                d.fields.issuer.clone()
            };
        }
    } else {
        // A managed device's own run, trusted as signed.
        if claims.decision != DeviceVerdict::Verified || claims.results.iter().any(|r| !r.passed) {
            let mut rs: Vec<Code> = claims
                .reasons
                .iter()
                .filter_map(|r| sane_reason(r))
                .take(16)
                .collect();
            if rs.is_empty() {
                rs.push(Code::DeviceRejected);
            }
            j.reasons.extend(rs);
        }
        j.face_score = claims
            .results
            .iter()
            .filter(|r| r.name == "face_match")
            .map(|r| r.score as f32)
            .reduce(f32::min);
        if let Some(d) = &claims.document {
            if !d.checks_passed {
                j.reasons.push(Code::DocumentChecksFailed);
            }
            j.document = Some(CaseDocument {
                surname: d.surname.clone(),
                given_names: d.given_names.clone(),
                names_truncated: d.names_truncated,
                birth_date: d.birth_date.clone(),
            });
            j.document_kind = Some(d.kind.clone());
        }
        if let Some(text) = &claims.face_embedding {
            match embedding_of(text) {
                Some(e) => j.embedding = Some(e),
                None => j.reasons.push(Code::FaceEmbeddingInvalid),
            }
        }
        if let Some(t) = template {
            match &j.embedding {
                Some(e) => {
                    let score = t.embedding.cosine(e);
                    j.face_score = Some(score);
                    if score < FACE_MATCH_THRESHOLD {
                        j.reasons.push(Code::FaceMismatch);
                    }
                }
                None => j.reasons.push(Code::FaceNotCompared),
            }
        }
        // Fail closed: the face must have been compared with something. A returning
        // user's template that is gone or unreadable (another model) is no pass, and a
        // first-time verification must carry the device's match against the ID portrait
        // (a failed one is already a reason above).
        if session.needs_document() {
            if !claims.results.iter().any(|r| r.name == "face_match") {
                j.reasons.push(Code::FaceNotCompared);
            }
        } else if template.is_none() {
            j.reasons.push(Code::ReferenceMissing);
        }
    }
    if let Some(score) = j.face_score {
        if score >= FACE_MATCH_THRESHOLD && score < FACE_MATCH_THRESHOLD + policy.review_margin {
            j.review.push(Code::FaceMatchBorderline);
        }
    }
    if session.needs_document() {
        match (j.document.clone(), user) {
            (None, _) => j.reasons.push(Code::DocumentMissing),
            (Some(d), Some(u)) => {
                let verdict = match_names(
                    &DocumentName {
                        surname: &d.surname,
                        given_names: &d.given_names,
                        truncated: d.names_truncated,
                    },
                    &DirectoryName {
                        display_name: u.display_name.as_deref().unwrap_or(""),
                        given_name: u.given_name.as_deref(),
                        family_name: u.surname.as_deref(),
                    },
                )
                .verdict;
                match verdict {
                    NameVerdict::Match => {}
                    NameVerdict::Partial => j.review.push(Code::DocumentNamePartial),
                    NameVerdict::Mismatch => j.reasons.push(Code::DocumentNameMismatch),
                }
                // Where the directory keeps a birth date, the document must carry the
                // same one: a document (or a device's claims) without it proves less than
                // the record asks for.
                match (&u.birth_date, &d.birth_date) {
                    (Some(dir_birth), Some(doc_birth)) if dir_birth != doc_birth => {
                        j.reasons.push(Code::DocumentBirthDateMismatch)
                    }
                    (Some(_), None) => j.reasons.push(Code::DocumentBirthDateMissing),
                    _ => {}
                }
            }
            (Some(_), None) => {}
        }
    }
    // Last, where a known account's record checks land: the audit reads the same way for
    // a login that does not exist and one whose record does not match.
    // An identity verification has no account: the relying party matches the claims.
    if user.is_none() && session.action != RecoveryAction::VerifyIdentity {
        j.reasons.push(Code::UserUnknown);
    }
    let mut seen = HashSet::new();
    j.reasons.retain(|r| seen.insert(*r));
    Ok(j)
}

/// Writes the outcome: the session's state, the grant when approved, the case when a
/// person must decide, the audit entry, and, when the evidence was judged, the capture as kept for the replay check (under its
/// key, [`store::replay::capture_key`]).
async fn record_outcome(
    app: &App,
    session: &Session,
    tier: Tier,
    user: Option<&DirectoryUser>,
    decision: &Ruling,
    judged: Option<(&Judgement, &str)>,
    case: Option<store::reviews::NewCase>,
) -> Result<Option<(zeroize::Zeroizing<String>, i64)>, ApiError> {
    let embedding = judged.and_then(|(j, _)| j.embedding.as_ref());
    let face_score = judged.and_then(|(j, _)| j.face_score);
    let outcome = match decision.conclusion {
        Conclusion::Approved { .. } => Outcome::Approved,
        Conclusion::Review => Outcome::Review,
        Conclusion::Rejected => Outcome::Rejected,
    };
    let reasons = &decision.reasons;
    let t = now();
    // One transaction: the grant, the session's state, the kept capture and the audit entry
    // commit together (a crash between them would let the capture be sent again unseen).
    let mut tx = app.store.begin().await?;
    let spent =
        store::sessions::spend(&mut tx, &session.id, outcome.as_str(), &joined(reasons)).await?;
    if !spent {
        tx.rollback().await.map_err(StoreError::from)?;
        return Err(ApiError::new(
            Code::NonceReplayed,
            "this session's nonce has already been used; start a new session",
        ));
    }
    if let Some(case) = &case {
        store::reviews::insert(&mut tx, case).await?;
    }
    let mut grant = None;
    let mut grant_hash = None;
    // An identity verification is granted nothing: its document facts are kept, sealed,
    // for the one relying party request its session is bound to (recovery/idv.rs).
    let verifying = session.action == RecoveryAction::VerifyIdentity;
    if outcome == Outcome::Approved && verifying {
        let judgement = judged
            .map(|(j, _)| j)
            .ok_or_else(|| ApiError::new(Code::InternalError, "a verification passed unjudged"))?;
        let verified = verified_of(judgement, t)?;
        super::idv::keep_verified(&mut tx, app, &session.id, &verified).await?;
    }
    if outcome == Outcome::Approved && !verifying {
        let secret = new_secret("rg_")?;
        let expires_at = t + app.config.policy.grant_ttl_s as i64;
        // A delayed change is applied no sooner than this, unless cancelled meanwhile.
        let apply_after = match decision.conclusion {
            Conclusion::Approved { delay_s } if delay_s > 0 => t + delay_s as i64,
            _ => 0,
        };
        let template_sealed = match embedding {
            Some(e) => {
                let model = template_model().map_err(|e| ApiError::new(Code::InternalError, e))?;
                Some(
                    app.keys
                        .seal("template", &FaceTemplate::new(&model, e.clone()).to_bytes())?,
                )
            }
            None => None,
        };
        let hash = secret_hash(&secret);
        let user_ref = session.user_ref.clone().unwrap_or_default();
        store::resets::insert(
            &mut tx,
            store::resets::NewGrant {
                id: &hash,
                session_id: &session.id,
                user_ref: &user_ref,
                login: &session.login,
                action: session.action,
                expires_at,
                template_sealed,
                created_at: t,
                apply_after,
            },
        )
        .await?;
        grant_hash = Some(hash);
        grant = Some((secret, expires_at));
    }
    // The account's owner hears of every approved recovery and of refused ones after the
    // first (NIST SP 800-63B-4), from a notice queued in this same transaction.
    let notice = match (user, decision.conclusion) {
        (Some(_), Conclusion::Approved { delay_s }) => Some(NoticeKind::Approved {
            effective_at: (delay_s > 0).then_some(t + delay_s as i64),
        }),
        (Some(_), Conclusion::Rejected) => Some(NoticeKind::Refused),
        _ => None,
    };
    let mut notices = 0;
    if let (Some(u), Some(kind)) = (user, notice) {
        let queued = notify::enqueue_recovery_notice(
            &mut tx,
            app,
            &RecoveryNotice {
                user_ref: &u.id,
                to: u.email.iter().cloned().collect(),
                display_name: u.display_name.as_deref(),
                action: session.action,
                kind,
                device_tier: tier.as_str(),
                at: t,
                session_id: &session.id,
            },
        )
        .await?;
        notices = queued.notices;
    }
    audit::append_in(
        &mut tx,
        &app.keys,
        Entry {
            kind: "decision",
            actor: &format!("device:{}", session.device_key),
            subject: &format!("session:{}", session.id),
            detail: serde_json::json!({
                "outcome": outcome.as_str(),
                "reasons": reasons,
                "device_tier": tier.as_str(),
                // The row of the policy table that produced this outcome.
                "policy": policy_detail(&decision.row),
                "delay_s": match decision.conclusion {
                    Conclusion::Approved { delay_s } => Some(delay_s),
                    _ => None,
                },
                "user": session.user_ref,
                "action": session.action.as_str(),
                "face_score": face_score.map(|s| (s * 1000.0).round() / 1000.0),
                // The grant's digest ties this entry to the reset entries without the grant.
                "grant_sha256": grant_hash,
                "notices_queued": notices,
            }),
        },
    )
    .await?;
    if let Some((judgement, capture_key)) = judged {
        store::replay::keep_session_in(
            &mut tx,
            capture_key,
            &session.id,
            outcome == Outcome::Approved,
            &judgement.frame_hashes,
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    app.metrics.decision(outcome);
    Ok(grant)
}

/// The outcome of an attempt whose evidence was never judged (refused before, or the
/// engine could not read it): no capture to keep, no case to open.
async fn record_unjudged(
    app: &App,
    session: &Session,
    tier: Tier,
    user: Option<&DirectoryUser>,
    decision: &Ruling,
) -> Result<(), ApiError> {
    record_outcome(app, session, tier, user, decision, None, None).await?;
    Ok(())
}

/// What a passed identity verification proves: the document's names and birth date, its
/// type and issuing state. A pass without a document cannot happen (its steps require
/// one: `document_missing`); if it did, it fails rather than release empty claims.
fn verified_of(j: &Judgement, t: i64) -> Result<crate::idv::claims::Verified, ApiError> {
    let d = j
        .document
        .as_ref()
        .filter(|d| !d.surname.trim().is_empty())
        .ok_or_else(|| ApiError::new(Code::DocumentMissing, "no document was read"))?;
    Ok(crate::idv::claims::Verified {
        given_name: d.given_names.clone(),
        family_name: d.surname.clone(),
        birthdate: d.birth_date.clone(),
        document_type: crate::idv::claims::document_type(
            j.document_kind.as_deref().unwrap_or(""),
            j.document_code.as_deref(),
        )
        .to_string(),
        issuer_country: j
            .document_issuer
            .clone()
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())),
        verified_at: t,
        reverified: j.reverified,
    })
}

/// A face template sealed as a grant keeps it until the reset enrols it.
fn seal_template(app: &App, embedding: &FaceEmbedding) -> Result<String, ApiError> {
    let model = template_model().map_err(|e| ApiError::new(Code::InternalError, e))?;
    Ok(app.keys.seal(
        "template",
        &FaceTemplate::new(&model, embedding.clone()).to_bytes(),
    )?)
}

fn policy_detail(row: &AppliedRow) -> serde_json::Value {
    serde_json::json!({
        "action": row.action,
        "tier": row.tier,
        "user": row.user,
        "verdict": row.verdict.as_str(),
        "row": row.configured_row.map_or_else(|| "default".to_string(), |n| format!("policy.table[{n}]")),
    })
}
