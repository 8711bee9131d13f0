//! Every reason and error code of Reclaim, defined once.
//!
//! A code is a stable name for one failure, the same wherever it shows: in the server's
//! error answers and decisions, in the app's errors and on its screens, in the command
//! line's JSON, in the audit. Each says here:
//! - its text ([`Code::as_str`]), which never changes meaning once published;
//! - the HTTP status the server answers with when it refuses a request with it
//!   ([`Code::status`]; `None` for codes that travel inside an answer, or never leave the
//!   app or the engine);
//! - who may see it ([`Code::audience`]): the person (with the groups of the UI's
//!   translation file, `ui/i18n/en.json`, that hold words for it), the person only under
//!   another code (a spoof check reads as [`Code::LivenessNotConfirmed`], a record check as
//!   [`Code::IdentityNotConfirmed`], so a refusal teaches an attacker neither which check
//!   fired nor whether an account exists), or no one but the logs and the audit.
//!
//! What is not here: detail vocabularies that stay inside one report (the MRZ and AAMVA
//! parsers' own error codes, the name matcher's notes, the audit verifier's findings),
//! each defined once in its module, and names that are not failures (steps, actions,
//! tiers, outcomes), which are typed in [`crate::wire`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A group of the UI's translation file that holds words for a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// `reason`: why a verification was refused (a message and advice).
    Reason,
    /// `quality`: the live hint while the camera looks (a message).
    Quality,
    /// `error`: why something the app tried did not happen (a message and advice).
    Error,
    /// `password`: what is wrong with a new password (a message; the key drops the
    /// `password_` prefix).
    Password,
}

impl Group {
    pub const ALL: [Group; 4] = [Group::Reason, Group::Quality, Group::Error, Group::Password];

    /// The group's key in the translation file.
    pub fn key(self) -> &'static str {
        match self {
            Group::Reason => "reason",
            Group::Quality => "quality",
            Group::Error => "error",
            Group::Password => "password",
        }
    }

    /// The key under which the group holds words for `code`.
    pub fn entry_key(self, code: Code) -> &'static str {
        match self {
            Group::Password => code
                .as_str()
                .strip_prefix("password_")
                .unwrap_or(code.as_str()),
            _ => code.as_str(),
        }
    }
}

/// Who may see a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The person, with words in these groups of the translation file.
    Person(&'static [Group]),
    /// The person, but only as this other code.
    As(Code),
    /// No one but the logs, the audit and the command line: an engine or server fault, or
    /// a request only a broken or hostile client sends. The app names it by its class.
    Internal,
}

use Group::{Error as E, Password as P, Quality as Q, Reason as R};

macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, $status:expr, $audience:expr; )*) => {
        /// One reason or error code; see the module's documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in the order defined.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The published text.
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $text, )* }
            }

            /// The status of the server's error answer with this code.
            pub const fn status(self) -> Option<u16> {
                match self { $( Code::$variant => $status, )* }
            }

            /// Who may see it.
            pub const fn audience(self) -> Audience {
                match self { $( Code::$variant => $audience, )* }
            }
        }
    };
}

const fn shown(groups: &'static [Group]) -> Audience {
    Audience::Person(groups)
}

/// Spoof-revealing liveness findings read as the one neutral liveness code.
const SPOOF: Audience = Audience::As(Code::LivenessNotConfirmed);
/// Findings about the account's record read as the one neutral identity code.
const IDENTITY: Audience = Audience::As(Code::IdentityNotConfirmed);
const INTERNAL: Audience = Audience::Internal;

registry! {
    // ---- The face in one picture (the engine's capture quality) ----
    NoFace = "no_face", None, shown(&[R, Q]);
    MultipleFaces = "multiple_faces", None, shown(&[R, Q]);
    FaceTooSmall = "face_too_small", None, shown(&[R, Q]);
    FaceCutOff = "face_cut_off", None, shown(&[R, Q]);
    Blurry = "blurry", None, shown(&[R, Q]);
    TooDark = "too_dark", None, shown(&[R, Q]);
    TooBright = "too_bright", None, shown(&[R, Q]);
    PoseOutOfRange = "pose_out_of_range", None, shown(&[R, Q]);
    /// Two usable faces whose similarity is below the threshold.
    FaceMismatch = "face_mismatch", None, shown(&[R]);
    /// The live hint while no card is in view yet.
    CardNotFound = "card_not_found", None, shown(&[Q]);

    // ---- The identity document ----
    DocumentNotFound = "document_not_found", None, shown(&[R, Q]);
    MrzUnreadable = "mrz_unreadable", None, shown(&[R, Q]);
    MrzCheckDigitFailed = "mrz_check_digit_failed", None, shown(&[R, Q]);
    MrzFieldInvalid = "mrz_field_invalid", None, shown(&[R, Q]);
    /// A position of the MRZ reading is in doubt.
    MrzUncertain = "mrz_uncertain", None, shown(&[R, Q]);
    BarcodeInvalid = "barcode_invalid", None, shown(&[R, Q]);
    MrzBarcodeMismatch = "mrz_barcode_mismatch", None, shown(&[R, Q]);
    /// The printed page does not state the names or birth date the MRZ or barcode states.
    DocumentPrintedMismatch = "document_printed_mismatch", None, shown(&[R, Q]);
    DocumentExpired = "document_expired", None, shown(&[R, Q]);
    PortraitMissing = "portrait_missing", None, shown(&[R, Q]);

    // ---- Liveness: retake hints, shown as they are (docs/liveness.md) ----
    LivenessInsufficientFrames = "liveness_insufficient_frames", None, shown(&[R]);
    LivenessTooSlow = "liveness_too_slow", None, shown(&[R]);
    LivenessMultipleFaces = "liveness_multiple_faces", None, shown(&[R]);
    LivenessFaceLost = "liveness_face_lost", None, shown(&[R]);
    /// The screen's light did not show on the face (a bright room, a dim screen): said
    /// as it is, with the advice to retake in a darker place with the brightness up.
    LivenessLightInsufficient = "liveness_light_insufficient", None, shown(&[R]);
    /// The one public code for every finding that says how a presentation attack was
    /// caught; the audit keeps which.
    LivenessNotConfirmed = "liveness_not_confirmed", None, shown(&[R]);
    // ---- Liveness: how a spoof was caught, never shown as itself ----
    LivenessInvalidInput = "liveness_invalid_input", None, SPOOF;
    LivenessChallengeNotCompleted = "liveness_challenge_not_completed", None, SPOOF;
    LivenessWrongAction = "liveness_wrong_action", None, SPOOF;
    LivenessPlanarMotion = "liveness_planar_motion", None, SPOOF;
    LivenessParallaxInconsistent = "liveness_parallax_inconsistent", None, SPOOF;
    LivenessStaticFrames = "liveness_static_frames", None, SPOOF;
    LivenessReplayedFrames = "liveness_replayed_frames", None, SPOOF;
    LivenessMotionTooRegular = "liveness_motion_too_regular", None, SPOOF;
    LivenessPoseJump = "liveness_pose_jump", None, SPOOF;
    LivenessFaceChanged = "liveness_face_changed", None, SPOOF;
    LivenessPassiveSpoof = "liveness_passive_spoof", None, SPOOF;
    /// The face's colour changed, but not as the session's screen light did.
    LivenessLightMismatch = "liveness_light_mismatch", None, SPOOF;
    /// The light followed the sequence, evenly over the face: a flat picture or a tint.
    LivenessLightFlat = "liveness_light_flat", None, SPOOF;
    /// A self-registered device's frames seen in an earlier session with another motion.
    LivenessSeenBefore = "liveness_seen_before", None, SPOOF;

    // ---- The server's judgement of the evidence and the claims ----
    /// The client declared a virtual or file-backed camera and policy refuses those.
    CameraNotAllowed = "camera_not_allowed", None, shown(&[R]);
    /// The client's models are not the ones this deployment allows.
    ModelNotAllowed = "model_not_allowed", None, shown(&[R]);
    /// A managed device's own engine refused, naming nothing the server knows.
    DeviceRejected = "device_rejected", None, shown(&[R]);
    /// A managed device's document checks failed.
    DocumentChecksFailed = "document_checks_failed", None, shown(&[R]);
    FaceEmbeddingInvalid = "face_embedding_invalid", None, shown(&[R]);
    /// The face was compared with nothing (fail closed).
    FaceNotCompared = "face_not_compared", None, shown(&[R]);
    /// A returning user with no enrolled face to compare with.
    ReferenceMissing = "reference_missing", None, shown(&[R]);
    /// First-time verification without a document.
    DocumentMissing = "document_missing", None, shown(&[R]);
    /// The one public code for "this evidence does not prove this account".
    IdentityNotConfirmed = "identity_not_confirmed", None, shown(&[R]);
    /// A match just above the threshold: a doubt for review, else not confirmed.
    FaceMatchBorderline = "face_match_borderline", None, IDENTITY;
    /// The document's names are a partial match of the record's: a doubt for review.
    DocumentNamePartial = "document_name_partial", None, IDENTITY;
    DocumentNameMismatch = "document_name_mismatch", None, IDENTITY;
    DocumentBirthDateMismatch = "document_birth_date_mismatch", None, IDENTITY;
    /// The record keeps a birth date the document does not carry.
    DocumentBirthDateMissing = "document_birth_date_missing", None, IDENTITY;
    /// No such account: told exactly as a record that does not match.
    UserUnknown = "user_unknown", None, IDENTITY;
    /// The change would wait for its owner's notice, and no address is known.
    OwnerUnreachable = "owner_unreachable", None, IDENTITY;
    /// Frames seen before with another motion, with a review queue to look at them.
    FaceSeenBefore = "face_seen_before", None, INTERNAL;
    /// The device's tier does not allow this recovery on its own.
    DeviceNotTrusted = "device_not_trusted", None, shown(&[R]);
    /// Self-service is locked for the account ("this wasn't me").
    SelfServiceLocked = "self_service_locked", None, shown(&[R]);
    /// A managed device's claims were not re-verified and policy wants them to be.
    EvidenceNotReverified = "evidence_not_reverified", None, shown(&[R]);

    // ---- The server's refusals of a request ----
    NotFound = "not_found", Some(404), INTERNAL;
    InternalError = "internal_error", Some(500), INTERNAL;
    /// The server's clock gives no date to judge a document's expiry by.
    ClockInvalid = "clock_invalid", Some(500), INTERNAL;
    ContentTypeUnsupported = "content_type_unsupported", Some(415), INTERNAL;
    /// The body is not JSON.
    RequestMalformed = "request_malformed", Some(400), INTERNAL;
    /// The body is JSON but not the request's shape.
    RequestInvalid = "request_invalid", Some(400), INTERNAL;
    RequestTooLarge = "request_too_large", Some(413), INTERNAL;
    RequestTimeout = "request_timeout", Some(408), INTERNAL;
    RequestUnreadable = "request_unreadable", Some(400), INTERNAL;
    SessionTokenMissing = "session_token_missing", Some(401), INTERNAL;
    SessionTokenInvalid = "session_token_invalid", Some(401), INTERNAL;
    LoginInvalid = "login_invalid", Some(400), INTERNAL;
    SessionExpired = "session_expired", Some(409), shown(&[E]);
    SessionClosed = "session_closed", Some(409), shown(&[E]);
    SessionHandedOff = "session_handed_off", Some(409), shown(&[E]);
    /// The session is another device's now.
    NotActiveDevice = "not_active_device", Some(403), shown(&[E]);
    NonceReplayed = "nonce_replayed", Some(409), shown(&[R, E]);
    EvidenceInvalid = "evidence_invalid", Some(400), INTERNAL;
    EvidenceRequired = "evidence_required", Some(400), INTERNAL;
    /// The evidence is not what the attestation's digests cover.
    EvidenceDigestMismatch = "evidence_digest_mismatch", Some(400), INTERNAL;
    AttestationUserMismatch = "attestation_user_mismatch", Some(400), INTERNAL;
    AttestationActionMismatch = "attestation_action_mismatch", Some(400), INTERNAL;
    ReverificationUnavailable = "reverification_unavailable", Some(503), shown(&[E]);
    RateLimited = "rate_limited", Some(429), shown(&[E]);
    /// Too many failed verifications for the account on this channel.
    BiometricLocked = "biometric_locked", Some(429), shown(&[E]);
    ServerBusy = "server_busy", Some(503), shown(&[E]);
    ShuttingDown = "shutting_down", Some(503), shown(&[E]);
    DatabaseUnavailable = "database_unavailable", Some(503), shown(&[E]);
    HandoffInvalid = "handoff_invalid", Some(403), shown(&[E]);
    HandoffNotAllowed = "handoff_not_allowed", Some(409), shown(&[E]);
    ActionUnsupported = "action_unsupported", Some(422), shown(&[E]);
    GrantInvalid = "grant_invalid", Some(403), shown(&[E]);
    GrantExpired = "grant_expired", Some(403), shown(&[E]);
    GrantCancelled = "grant_cancelled", Some(403), shown(&[E]);
    GrantAttemptsExhausted = "grant_attempts_exhausted", Some(429), shown(&[E]);
    PasswordMissing = "password_missing", Some(400), INTERNAL;
    /// The new password breaks the service's policy (the answer lists the problems).
    PasswordRefused = "password_refused", Some(422), shown(&[E]);
    PasswordCheckUnavailable = "password_check_unavailable", Some(503), INTERNAL;
    /// The change is recorded and waits for the directory.
    ResetInProgress = "reset_in_progress", Some(503), shown(&[E]);
    /// The change was given up; the grant is spent.
    ResetFailed = "reset_failed", Some(409), shown(&[E]);

    // ---- Devices ----
    /// A key this service does not know: at registration, at a session's start, or
    /// naming the attestation's signer.
    DeviceUnknown = "device_unknown", Some(401), shown(&[E]);
    DeviceRevoked = "device_revoked", Some(403), shown(&[E]);
    DeviceKeyInvalid = "device_key_invalid", Some(400), INTERNAL;
    DeviceNameInvalid = "device_name_invalid", Some(400), INTERNAL;
    DeviceAlreadyRegistered = "device_already_registered", Some(409), INTERNAL;

    // ---- The attestation token ----
    TokenTooLarge = "token_too_large", Some(413), INTERNAL;
    TokenMalformed = "token_malformed", Some(400), INTERNAL;
    TokenHeaderInvalid = "token_header_invalid", Some(400), INTERNAL;
    TokenAlgNotAllowed = "token_alg_not_allowed", Some(400), INTERNAL;
    TokenTypeInvalid = "token_type_invalid", Some(400), INTERNAL;
    TokenSignatureInvalid = "token_signature_invalid", Some(401), INTERNAL;
    TokenClaimsInvalid = "token_claims_invalid", Some(400), INTERNAL;
    ProtocolVersionUnsupported = "protocol_version_unsupported", Some(400), INTERNAL;
    TokenAudienceMismatch = "token_audience_mismatch", Some(400), INTERNAL;
    TokenSessionMismatch = "token_session_mismatch", Some(400), INTERNAL;
    TokenNonceMismatch = "token_nonce_mismatch", Some(400), INTERNAL;
    TokenExpired = "token_expired", Some(400), INTERNAL;
    TokenNotYetValid = "token_not_yet_valid", Some(400), INTERNAL;
    TokenLifetimeTooLong = "token_lifetime_too_long", Some(400), INTERNAL;
    TokenSigningFailed = "token_signing_failed", None, INTERNAL;

    // ---- A TPM's attestation of a device key ----
    TpmMalformed = "tpm_malformed", Some(400), INTERNAL;
    TpmUnsupported = "tpm_unsupported", Some(400), INTERNAL;
    TpmAttributesInvalid = "tpm_attributes_invalid", Some(400), INTERNAL;
    TpmEkUntrusted = "tpm_ek_untrusted", Some(400), INTERNAL;
    TpmCertificationInvalid = "tpm_certification_invalid", Some(400), INTERNAL;
    TpmKeyMismatch = "tpm_key_mismatch", Some(400), INTERNAL;
    TpmChallengeMismatch = "tpm_challenge_mismatch", Some(400), INTERNAL;
    TpmChallengeExpired = "tpm_challenge_expired", Some(400), INTERNAL;
    TpmConfigInvalid = "tpm_config_invalid", Some(400), INTERNAL;
    TpmActivationFailed = "tpm_activation_failed", Some(400), INTERNAL;
    TpmDeviceError = "tpm_device_error", Some(400), INTERNAL;

    // ---- A new password against the service's policy ----
    PasswordTooShort = "password_too_short", None, shown(&[P]);
    /// Also the server's refusal of a password too long to check at all.
    PasswordTooLong = "password_too_long", Some(400), shown(&[P, E]);
    PasswordInvalidCharacter = "password_invalid_character", None, shown(&[P]);
    PasswordCommon = "password_common", None, shown(&[P]);
    PasswordRepetitive = "password_repetitive", None, shown(&[P]);
    PasswordContainsAccountInfo = "password_contains_account_info", None, shown(&[P]);
    PasswordBreached = "password_breached", None, shown(&[P]);

    // ---- The company directory ----
    DirectoryPasswordTooShort = "directory_password_too_short", Some(422), shown(&[E]);
    DirectoryPasswordTooYoung = "directory_password_too_young", Some(422), shown(&[E]);
    DirectoryPasswordInHistory = "directory_password_in_history", Some(422), shown(&[E]);
    DirectoryPasswordQuality = "directory_password_quality", Some(422), shown(&[E]);
    DirectoryPasswordPolicy = "directory_password_policy", Some(422), shown(&[E]);
    DirectoryUnavailable = "directory_unavailable", Some(503), shown(&[E]);
    DirectoryTimeout = "directory_timeout", Some(503), shown(&[E]);
    DirectoryUserNotFound = "directory_user_not_found", Some(409), shown(&[E]);
    DirectoryPermissionDenied = "directory_permission_denied", Some(503), shown(&[E]);
    DirectoryActionUnsupported = "directory_action_unsupported", Some(503), shown(&[E]);
    DirectoryProtocolError = "directory_protocol_error", Some(503), shown(&[E]);
    DirectoryConfigInvalid = "directory_config_invalid", Some(503), shown(&[E]);

    // ---- The engine's errors: input it cannot judge (400), or a fault of its own (500) ----
    InputUnreadable = "input_unreadable", Some(500), INTERNAL;
    ImageEmpty = "image_empty", Some(400), INTERNAL;
    InputTooLarge = "input_too_large", Some(400), INTERNAL;
    ImageTooLarge = "image_too_large", Some(400), INTERNAL;
    ImageUnsupportedFormat = "image_unsupported_format", Some(400), INTERNAL;
    CaptureTooLarge = "capture_too_large", Some(400), INTERNAL;
    ImageCorrupt = "image_corrupt", Some(400), INTERNAL;
    ModelMissing = "model_missing", Some(500), INTERNAL;
    ModelDigestMismatch = "model_digest_mismatch", Some(500), INTERNAL;
    ModelInvalid = "model_invalid", Some(500), INTERNAL;
    InferenceFailed = "inference_failed", Some(500), INTERNAL;
    TemplateInvalid = "template_invalid", Some(500), INTERNAL;
    TemplateModelMismatch = "template_model_mismatch", Some(500), INTERNAL;
    NoFrames = "no_frames", Some(400), INTERNAL;
    TimestampsOutOfOrder = "timestamps_out_of_order", Some(400), INTERNAL;
    FrameSizesDiffer = "frame_sizes_differ", Some(400), INTERNAL;
    FrameEmpty = "frame_empty", Some(400), INTERNAL;
    UnknownAction = "unknown_action", Some(400), INTERNAL;
    ChallengeInvalid = "challenge_invalid", Some(400), INTERNAL;

    // ---- The admin console ----
    /// No console sign-in, or one that ended.
    AdminSignInRequired = "admin_sign_in_required", Some(401), INTERNAL;
    /// The identity provider's answer did not sign anyone in (one code for every way).
    AdminSignInFailed = "admin_sign_in_failed", Some(401), INTERNAL;
    /// Signed in, without the role this needs.
    AdminRoleMissing = "admin_role_missing", Some(403), INTERNAL;
    /// A console form without its sign-in's form token, or sent from another origin.
    AdminFormInvalid = "admin_form_invalid", Some(403), INTERNAL;
    /// No open case by that name (never one, decided, or past its retention).
    CaseNotFound = "case_not_found", Some(404), INTERNAL;
    /// A reviewer may not decide a recovery of their own account.
    CaseOwnRecovery = "case_own_recovery", Some(403), INTERNAL;
    /// This reviewer has already voted on the case: a second approval must be another's.
    CaseAlreadyVoted = "case_already_voted", Some(409), INTERNAL;

    // ---- The app's own errors ----
    BackendUnreachable = "backend_unreachable", None, shown(&[E]);
    BackendTimeout = "backend_timeout", None, shown(&[E]);
    BackendInvalidAnswer = "backend_invalid_answer", None, shown(&[E]);
    /// A server fault (5xx) with a code the app does not pass on.
    BackendUnavailable = "backend_unavailable", None, shown(&[E]);
    /// A refusal with a code the app does not pass on.
    BackendRefused = "backend_refused", None, shown(&[E]);
    /// A 401 or 403 with a code the app does not pass on.
    NotAllowed = "not_allowed", None, shown(&[E]);
    NoCamera = "no_camera", None, shown(&[E]);
    CameraUnavailable = "camera_unavailable", None, shown(&[E]);
    CameraLost = "camera_lost", None, shown(&[E]);
    EngineUnavailable = "engine_unavailable", None, shown(&[E]);
    /// The capture could not be judged (shown as a refusal on the result screen too).
    CaptureInvalid = "capture_invalid", None, shown(&[R, E]);
    KeyStore = "key_store", None, shown(&[E]);
    OutOfOrder = "out_of_order", None, shown(&[E]);
    InputInvalid = "input_invalid", None, shown(&[E]);

    // ---- The command line's own ----
    ConfigInvalid = "config_invalid", None, INTERNAL;
    ModelsInvalid = "models_invalid", None, INTERNAL;
    ModelManifestInvalid = "model_manifest_invalid", None, INTERNAL;
    PassiveModelInvalid = "passive_model_invalid", None, INTERNAL;
    NoRandomness = "no_randomness", None, INTERNAL;
    OutputUnwritable = "output_unwritable", None, INTERNAL;
    /// More selfie frames than a verification takes.
    TooManyFrames = "too_many_frames", None, INTERNAL;
    /// `--timestamps` that are not one time per frame, rising.
    TimestampsInvalid = "timestamps_invalid", None, INTERNAL;
    CheckpointFileUnreadable = "checkpoint_file_unreadable", None, INTERNAL;
    RuntimeFailed = "runtime_failed", None, INTERNAL;
    KeyWriteFailed = "key_write_failed", None, INTERNAL;
    ServerInvalid = "server_invalid", None, INTERNAL;
    ServerStartFailed = "server_start_failed", None, INTERNAL;
    ServerUnreachable = "server_unreachable", None, INTERNAL;
    DemoFailed = "demo_failed", None, INTERNAL;
    /// `reclaim-lab attack`: the victim named is not one the lab can play.
    VictimInvalid = "victim_invalid", None, INTERNAL;
    VictimNameInvalid = "victim_name_invalid", None, INTERNAL;
    VictimPhotoUnusable = "victim_photo_unusable", None, INTERNAL;
    BirthDateInvalid = "birth_date_invalid", None, INTERNAL;
    /// `reclaim-lab attack`: the stolen device key given could not be read.
    StolenKeyUnreadable = "stolen_key_unreadable", None, INTERNAL;

    // ---- The identity-verification provider (`[idv]`): OAuth 2.0's own error names
    // (RFC 6749 5.2), which its relying parties read. One code per class, never which
    // check fired. ----
    /// A pushed authorization request or an authorization that is not acceptable.
    InvalidRequest = "invalid_request", Some(400), INTERNAL;
    /// The client's authentication failed (unknown client, wrong secret).
    InvalidClient = "invalid_client", Some(401), INTERNAL;
    /// The code is unknown, used, expired, or not this client's, redirect's or verifier's.
    InvalidGrant = "invalid_grant", Some(400), INTERNAL;
    UnsupportedGrantType = "unsupported_grant_type", Some(400), INTERNAL;
}

/// The codes a reset that ended for good is reported with (the grant is spent; the
/// person starts again or asks the helpdesk): the directory cannot make the change, or
/// stayed unreachable past the server's bound ([`Code::ResetFailed`]).
pub const RESET_ENDED: [Code; 5] = [
    Code::DirectoryActionUnsupported,
    Code::DirectoryUserNotFound,
    Code::DirectoryPermissionDenied,
    Code::DirectoryConfigInvalid,
    Code::ResetFailed,
];

impl Code {
    /// The code with this text.
    pub fn parse(text: &str) -> Option<Code> {
        crate::named::parse(text)
    }

    /// The form the person is shown: itself, or the neutral code it reads as. An internal
    /// code stays itself (the app names it by its class, [`Code::shown`] says whether).
    pub const fn public(self) -> Code {
        match self.audience() {
            Audience::As(c) => c,
            _ => self,
        }
    }

    /// Whether the person may see this code as itself.
    pub const fn shown(self) -> bool {
        matches!(self.audience(), Audience::Person(_))
    }

    /// The groups of the translation file that hold words for it.
    pub const fn groups(self) -> &'static [Group] {
        match self.audience() {
            Audience::Person(groups) => groups,
            _ => &[],
        }
    }

    pub fn in_group(self, group: Group) -> bool {
        self.groups().contains(&group)
    }
}

/// The reasons a refusal shows: public forms only, each once, in one fixed order
/// (sorted), whatever order the checks found them in.
///
/// [`Code::IdentityNotConfirmed`] is shown only when nothing else failed. An unknown login
/// has no record to match, so it always carries a record reason, while a known account
/// whose record the document matches carries none: shown beside other failures, the code
/// would tell a stranger with a document in the right name that the account exists. Shown
/// alone, it is what every account answers when the evidence is otherwise sound, known or
/// not; the only answer that differs is a grant, which takes evidence that passes.
pub fn public_codes(codes: &[Code]) -> Vec<Code> {
    let mut out: Vec<Code> = codes
        .iter()
        .map(|c| c.public())
        .filter(|c| *c != Code::IdentityNotConfirmed)
        .collect();
    if out.is_empty() && !codes.is_empty() {
        return vec![Code::IdentityNotConfirmed];
    }
    out.sort_by_key(|c| c.as_str());
    out.dedup();
    out
}

/// [`public_codes`] over codes as text from elsewhere (a server's answer, another build's
/// engine). A text this build does not know is kept as it is (the app shows its group's
/// `unexpected` words), except an unknown liveness code, which reads as the neutral one:
/// a check added later stays quiet until this build knows it.
pub fn public_texts<S: AsRef<str>>(texts: &[S]) -> Vec<String> {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for text in texts {
        let text = text.as_ref();
        match Code::parse(text) {
            Some(c) => known.push(c),
            None if text.starts_with("liveness_") => known.push(Code::LivenessNotConfirmed),
            None => unknown.push(text.to_string()),
        }
    }
    let mut out: Vec<String> = public_codes(&known)
        .into_iter()
        // Beside a failure this build cannot name, a record reason goes too.
        .filter(|c| unknown.is_empty() || *c != Code::IdentityNotConfirmed)
        .map(|c| c.as_str().to_string())
        .collect();
    out.extend(unknown);
    out.sort();
    out.dedup();
    out
}

impl crate::named::Named for Code {
    const ALL: &'static [Code] = Code::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::str::FromStr for Code {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Code, UnknownCode> {
        Code::parse(s).ok_or(UnknownCode)
    }
}

/// A text that is no code of this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a code this build knows")]
pub struct UnknownCode;

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Code::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown code {text:?}")))
    }
}

/// Serializes a crate's own enum of codes (one with `fn code(self) -> Code`) as the
/// registry's text, so no crate spells a code a second time through serde's names.
#[macro_export]
macro_rules! serialize_as_code {
    ($ty:ty) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code().as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_text_is_one_code_and_reads_back() {
        let mut seen = HashSet::new();
        for &c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert_eq!(Code::parse(c.as_str()), Some(c));
            let text = c.as_str();
            assert!(
                !text.is_empty()
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{text} is not snake_case"
            );
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), c);
        }
        assert_eq!(Code::parse("no_such_code"), None);
        assert!(serde_json::from_str::<Code>("\"no_such_code\"").is_err());
    }

    #[test]
    fn statuses_are_client_or_server_errors() {
        for &c in Code::ALL {
            if let Some(s) = c.status() {
                assert!((400..600).contains(&s), "{c}: {s}");
            }
        }
    }

    /// A code read as another is read as one the person is shown, so no chain of
    /// mappings can end on a hidden code.
    #[test]
    fn a_code_shown_as_another_is_shown_as_one_the_person_sees() {
        for &c in Code::ALL {
            if let Audience::As(other) = c.audience() {
                assert!(other.shown(), "{c} reads as {other}, which is not shown");
                assert_eq!(other.public(), other);
            }
        }
    }

    #[test]
    fn spoof_checks_and_record_checks_read_as_one_neutral_code() {
        for spoof in [
            Code::LivenessPlanarMotion,
            Code::LivenessReplayedFrames,
            Code::LivenessSeenBefore,
            Code::LivenessWrongAction,
        ] {
            assert_eq!(spoof.public(), Code::LivenessNotConfirmed, "{spoof}");
            assert!(!spoof.shown());
        }
        for hint in [Code::LivenessTooSlow, Code::LivenessFaceLost] {
            assert_eq!(hint.public(), hint);
        }
        // Every liveness code is a hint shown as itself or reads as the neutral one.
        for &c in Code::ALL {
            if c.as_str().starts_with("liveness_") {
                assert!(
                    c.public() == c && c.in_group(Group::Reason)
                        || c.public() == Code::LivenessNotConfirmed,
                    "{c}"
                );
            }
        }
        for record in [
            Code::UserUnknown,
            Code::DocumentNameMismatch,
            Code::DocumentBirthDateMismatch,
        ] {
            assert_eq!(record.public(), Code::IdentityNotConfirmed);
        }
        assert_eq!(Code::TooDark.public(), Code::TooDark);
    }

    #[test]
    fn the_order_found_does_not_show() {
        let a = public_codes(&[
            Code::TooDark,
            Code::LivenessPoseJump,
            Code::LivenessPlanarMotion,
        ]);
        let b = public_codes(&[
            Code::LivenessPlanarMotion,
            Code::TooDark,
            Code::LivenessPoseJump,
        ]);
        assert_eq!(a, b);
        assert_eq!(a, [Code::LivenessNotConfirmed, Code::TooDark]);
    }

    /// Whether the account exists shows nowhere: a record reason beside any other failure
    /// is dropped, and alone reads as the neutral code, as for a known account.
    #[test]
    fn a_record_reason_shows_only_alone_and_neutrally() {
        assert_eq!(
            public_codes(&[Code::UserUnknown, Code::Blurry]),
            [Code::Blurry]
        );
        assert_eq!(
            public_codes(&[Code::UserUnknown]),
            [Code::IdentityNotConfirmed]
        );
        assert_eq!(
            public_codes(&[Code::DocumentNameMismatch, Code::DocumentBirthDateMissing]),
            [Code::IdentityNotConfirmed]
        );
        assert_eq!(public_codes(&[]), Vec::<Code>::new());
    }

    #[test]
    fn texts_from_elsewhere_read_the_same_way() {
        assert_eq!(
            public_texts(&["too_dark", "liveness_planar_motion", "liveness_added_later"]),
            ["liveness_not_confirmed", "too_dark"]
        );
        assert_eq!(
            public_texts(&["user_unknown", "a_newer_servers_code"]),
            ["a_newer_servers_code"]
        );
        assert_eq!(public_texts(&["user_unknown"]), ["identity_not_confirmed"]);
    }

    /// Every `.rs` file under `dir`, recursively.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name();
            if path.is_dir() {
                if name != "tests" && name != "target" {
                    sources(&path, out);
                }
            } else if path.extension().is_some_and(|x| x == "rs") && name != "tests.rs" {
                out.push(path);
            }
        }
    }

    /// No code is spelled out anywhere but here: the workspace's non-test sources hold no
    /// string literal that is a code's text. (Tests do spell codes, to pin the wire.) Two
    /// vocabularies that share words with codes are let through: an audit entry's kind
    /// (`kind: "device_revoked"`) and a JSON key (`"self_service_locked": true`).
    #[test]
    fn no_code_is_spelled_outside_the_registry() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        sources(&root.join("crates"), &mut files);
        sources(&root.join("src-tauri/src"), &mut files);
        assert!(files.len() > 50, "found only {} sources", files.len());
        let mut spelled = Vec::new();
        for path in files {
            if path.ends_with("protocol/src/codes.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code_part = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code_part.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                let mut rest = line;
                while let Some(start) = rest.find('"') {
                    let before = &rest[..start];
                    let after = &rest[start + 1..];
                    let Some(end) = after.find('"') else { break };
                    let literal = &after[..end];
                    let tail = after[end + 1..].trim_start();
                    let is_key = tail.starts_with(':') && !tail.starts_with("::");
                    let is_kind = before.trim_end().ends_with("kind:");
                    if Code::parse(literal).is_some() && !is_key && !is_kind {
                        spelled.push(format!("{}:{}: {literal}", path.display(), n + 1));
                    }
                    rest = &after[end + 1..];
                }
            }
        }
        assert!(
            spelled.is_empty(),
            "codes spelled outside the registry: {spelled:#?}"
        );
    }

    #[test]
    fn password_entries_drop_the_prefix() {
        assert_eq!(
            Group::Password.entry_key(Code::PasswordTooShort),
            "too_short"
        );
        assert_eq!(Group::Error.entry_key(Code::RateLimited), "rate_limited");
    }
}
