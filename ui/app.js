// Reclaim: the page renders the AppState the Rust core sends; the core decides every
// transition. What lives here is only what a page must do itself: which section shows,
// the camera preview loop, the live password check, the hand-off poll and the kiosk's
// idle timer. The commands it calls are src-tauri/src/commands.rs (each one call into
// crates/client/src/recovery.rs, which defines AppState and Preview); a test in
// src-tauri/src/lib.rs checks the names on both sides match.
'use strict';

(() => {
  const { t, entry } = window.i18n;
  const $ = (id) => document.getElementById(id);

  const CAMERA_SCREENS = new Set(['document', 'selfie', 'scan']);
  // A screen whose camera runs: the capture screens, and a kiosk's review screen, where a
  // face in front of the camera is the person still waiting (the core counts it as use).
  const cameraOn = (screen) => CAMERA_SCREENS.has(screen) || (screen === 'review' && !!(state && state.kiosk));
  // The Rust watchdog does not wipe these either: a decision or a reset is under way.
  const IDLE_EXEMPT = new Set(['loading', 'attract', 'checking', 'applying']);
  const ESCAPE_EXEMPT = new Set(['loading', 'attract', 'start', 'checking', 'applying']);
  const AUTO_CAPTURE_READY_PREVIEWS = 3;
  // A card read as the side was shown may be the previous side's: let the reader look again.
  const AUTO_CAPTURE_SETTLE_MS = 800;
  const PREVIEW_MIN_INTERVAL_MS = 33; // ~30 calls a second at most: cameras give no more.
  const PREVIEW_RETRY_MS = 1000; // after a failed preview call
  const HANDOFF_POLL_MS = 1500;
  const PASSWORD_CHECK_DEBOUNCE_MS = 250;
  const GUIDANCE_STABLE_MS = 600; // a hint must hold this long before it is shown and read out
  const ACTIONS = ['reset_password', 'reset_mfa', 'unlock'];
  // Characters that show nothing, left out of the password's count exactly as the service
  // leaves them out of its length rule (INVISIBLE in crates/protocol/src/password.rs; a
  // test there checks that this list is the same).
  const INVISIBLE = [
    [0x00AD, 0x00AD],
    [0x034F, 0x034F],
    [0x061C, 0x061C],
    [0x115F, 0x1160],
    [0x17B4, 0x17B5],
    [0x180B, 0x180F],
    [0x200B, 0x200F],
    [0x202A, 0x202E],
    [0x2060, 0x206F],
    [0x3164, 0x3164],
    [0xFE00, 0xFE0F],
    [0xFEFF, 0xFEFF],
    [0xFFA0, 0xFFA0],
    [0xFFF0, 0xFFFB],
    [0x13430, 0x1343F],
    [0x1BCA0, 0x1BCA3],
    [0x1D173, 0x1D17A],
    [0xE0000, 0xE0FFF],
  ];

  let state = null; // the last AppState from Rust
  let shown = 'loading'; // the section shown (may be the local "checking")
  let local = freshLocal(); // per-screen page state, reset whenever the screen changes
  let pending = 0; // user-initiated commands in flight
  let beginning = false;

  function freshLocal() {
    return {
      side: null, sideShownAt: 0, readyRun: 0, lastSeq: -1, capturing: false,
      hadFrame: false, recording: false, submitting: false, claimArmed: true,
      hints: {},
    };
  }

  // ---- calling the core ---------------------------------------------------------------

  function codeOf(err) {
    return err && typeof err === 'object' && typeof err.code === 'string' && err.code
      ? err.code : 'unexpected';
  }

  function invoke(name, args) {
    return window.__TAURI__.core.invoke(name, args || {});
  }

  function showExplained(prefix, kind, code) {
    const { message, advice } = entry(kind, code);
    $(`${prefix}-message`).textContent = message;
    $(`${prefix}-advice`).textContent = advice;
    $(prefix).hidden = false;
  }

  function showAlert(code) { showExplained('alert', 'error', code); }
  function hideAlert() { $('alert').hidden = true; }

  // Every command goes through here. A rejection {code, detail} shows the translated
  // sentence for `code` (never `detail`), then the page re-reads the core's state: a
  // failed step may have left a screen only the page showed (checking).
  // opts.raw: the answer is not an AppState; opts.quiet: no alert (automatic steps);
  // opts.noRender: the caller renders; opts.background: not something the person did
  // (does not block their buttons); opts.keepAlert: success leaves the alert up.
  async function call(name, args, opts = {}) {
    const user = !opts.background;
    if (user) pending += 1;
    try {
      const answer = await invoke(name, args);
      if (!opts.keepAlert) hideAlert();
      if (!opts.raw && !opts.noRender) render(answer);
      return answer;
    } catch (err) {
      if (!opts.raw) await refresh();
      // After the re-render: a screen change clears the alert.
      if (!opts.quiet) showAlert(codeOf(err));
      return null;
    } finally {
      if (user) pending -= 1;
    }
  }

  async function refresh() {
    try {
      render(await invoke('get_state'));
    } catch (err) {
      if (!state) render(errorState(codeOf(err)));
    }
  }

  // When the core itself cannot answer (a broken install, no Tauri), the page still shows
  // the error screen with advice rather than nothing.
  function errorState(code) {
    return {
      screen: 'error', kiosk: false, idle_timeout_s: 90, login: null, action: null, steps: [],
      document_side: null, challenge: [], light: null, reasons: [], error: code, password_policy: null,
      password_error: null, result: null, handoff: null, camera: null, can_handoff: false,
    };
  }

  // ---- rendering ----------------------------------------------------------------------

  function render(next) {
    if (!next || typeof next !== 'object' || typeof next.screen !== 'string') return;
    state = next;
    const known = [...document.querySelectorAll('main > section[data-screen]')]
      .some((section) => section.dataset.screen === next.screen);
    show(known ? next.screen : 'error');
  }

  function show(screen) {
    const changed = screen !== shown;
    if (changed) {
      leave(shown);
      local = freshLocal();
      hideAlert();
    }
    shown = screen;
    for (const section of document.querySelectorAll('main > section[data-screen]')) {
      section.hidden = section.dataset.screen !== screen;
    }
    document.body.dataset.screen = screen;
    document.body.dataset.kiosk = String(!!(state && state.kiosk));
    const fill = screens[screen];
    let refocus = changed;
    if (fill && state) refocus = fill(state, changed) || changed;
    // Focus the new heading so screen readers announce the screen.
    if (refocus) {
      const heading = document.querySelector(`section[data-screen="${screen}"] h1`);
      if (heading) heading.focus();
    }
    syncLoops();
    armIdle();
  }

  // Clears what one person typed or saw from a screen they leave.
  function leave(screen) {
    if (screen === 'password') clearPasswords();
    if (screen === 'selfie') paintLight(null);
    if (cameraOn(screen)) {
      $('camera-alert').hidden = true;
      for (const id of ['preview-document', 'preview-selfie', 'preview-scan', 'preview-review']) $(id).removeAttribute('src');
    }
  }

  function setText(id, text) {
    const el = $(id);
    if (el.textContent !== text) el.textContent = text; // unchanged text is not re-announced
  }

  // Quality hints flicker from frame to frame; show one only once it has held for a moment.
  function steadyText(id, text) {
    const now = performance.now();
    if (!local.hints[id]) {
      local.hints[id] = { text, since: now - GUIDANCE_STABLE_MS }; // the first one shows at once
    }
    const h = local.hints[id];
    if (h.text !== text) {
      h.text = text;
      h.since = now;
    }
    if (now - h.since >= GUIDANCE_STABLE_MS || text === '') setText(id, text);
  }

  function qualityText(code) {
    if (window.i18n.has(`quality.${code}`)) return t(`quality.${code}`);
    return entry('reason', code).advice || t('quality.hold_still');
  }

  const screens = {
    attract() {
      resetStartForm(null);
    },

    start(s, changed) {
      if (changed) {
        resetStartForm(s);
        fillCameras();
      }
      offerActions(s);
      $('handoff-button').hidden = !s.can_handoff;
      $('scan-button').hidden = !s.can_handoff;
      const note = s.camera && s.camera.file_backed ? t('ui.camera_file_backed')
        : s.camera && s.camera.virtual ? t('ui.camera_virtual') : '';
      $('camera-note').textContent = note;
      $('camera-note').hidden = note === '';
    },

    document(s, changed) {
      const side = s.document_side === 'back' ? 'back' : 'front';
      const sideChanged = side !== local.side;
      if (sideChanged) {
        local.side = side;
        local.sideShownAt = performance.now();
        local.readyRun = 0;
        $('document-title').textContent = t(`ui.document_title_${side}`);
        $('capture-document').disabled = true;
        $('viewfinder-document').dataset.ready = 'false';
        setText('document-guidance', t(local.hadFrame ? 'prompt.hold_card' : 'ui.document_waiting_camera'));
        setMrz(false);
      }
      $('document-handoff').hidden = !s.can_handoff;
      return sideChanged && !changed; // a new side is announced like a new screen
    },

    selfie(s, changed) {
      if (changed) {
        paintLight(null);
        $('light-way-out').open = false;
        $('start-selfie').hidden = false;
        $('start-selfie').disabled = true;
        $('selfie-progress').value = 0;
        $('face-box').hidden = true;
        setText('selfie-prompt', t('ui.selfie_waiting_camera'));
        setText('selfie-guidance', '');
      }
      $('selfie-handoff').hidden = !s.can_handoff || local.recording;
      // The person is told before the screen changes colour, with a way out for someone
      // who cannot look at it. Kept whatever `prefers-reduced-motion` says: the light is
      // what the check needs, and it already stays under WCAG 2.3.1's limits.
      $('light-notice').hidden = !hasLight(s) || local.recording;
      $('light-frame').dataset.on = String(hasLight(s));
    },

    refused(s) {
      const list = $('refused-reasons');
      list.replaceChildren();
      const codes = Array.isArray(s.reasons) && s.reasons.length ? s.reasons : ['identity_not_confirmed'];
      const seen = new Set(); // several codes may share one sentence: say it once
      for (const code of codes) {
        const { message, advice } = entry('reason', code);
        if (seen.has(message)) continue;
        seen.add(message);
        const li = document.createElement('li');
        const m = document.createElement('p');
        m.className = 'reason-message';
        m.textContent = message;
        const a = document.createElement('p');
        a.className = 'advice';
        a.textContent = advice;
        li.append(m, a);
        list.append(li);
      }
    },

    password(s, changed) {
      const policy = s.password_policy || {};
      const min = policy.min_chars || policy.min_length;
      // The maximum (256 or so) is no help to anyone choosing; a too-long password is
      // reported as a problem instead.
      $('password-policy').textContent = min ? t('ui.policy_min', null, { min }) : '';
      if (s.password_error) {
        showExplained('password-error', 'error', s.password_error);
        // A refused password is not offered again.
        if (changed) clearPasswords();
      } else {
        $('password-error').hidden = true;
      }
      updatePasswordState();
    },

    done(s) {
      const action = (s.result && s.result.action) || s.action;
      const due = s.result && Number(s.result.effective_at);
      $('done-message').textContent = due > 0
        // Approved with notice and delay: nothing has changed yet, and the page says so.
        ? t('ui.done_scheduled', null, {
          time: new Date(due * 1000).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }),
        })
        : t(`ui.done_${action}`, 'ui.done_generic');
      $('done-already').hidden = !(s.result && s.result.already_completed);
      // A code the directory issued (a Temporary Access Pass, a bypass code): the service
      // hands it out once, so this screen is the only place the person sees it.
      const code = s.result && s.result.sign_in_code;
      $('done-code').hidden = !code;
      $('done-code-value').textContent = code ? String(code.code) : '';
      $('done-code-until').textContent = code
        ? t(code.one_time ? 'ui.done_code_until_once' : 'ui.done_code_until', null, {
          time: new Date(Number(code.valid_until) * 1000).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }),
        })
        : '';
    },

    handoff(s) {
      const h = s.handoff;
      if (!h) return;
      const src = `data:image/svg+xml;utf8,${encodeURIComponent(h.qr_svg || '')}`;
      if ($('handoff-qr').getAttribute('src') !== src) $('handoff-qr').src = src;
      const until = Number(h.expires_at);
      $('handoff-expires').textContent = until > 0
        ? t('ui.handoff_expires', null, {
          time: new Date(until * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
        })
        : '';
      const phone = ['waiting', 'connected', 'finished'].includes(h.phone) ? h.phone : 'waiting';
      // A claimed code works no more: once the phone has it, it is not left on screen.
      $('handoff-code').hidden = phone !== 'waiting';
      $('handoff-expires').hidden = phone !== 'waiting';
      $('handoff-intro').hidden = phone !== 'waiting';
      setText('handoff-status', t(`ui.handoff_${phone}`));
      $('handoff-status').dataset.phone = phone;
    },

    scan(s, changed) {
      if (changed) setText('scan-guidance', t('prompt.scan_qr'));
    },

    error(s) {
      const { message, advice } = entry('error', s.error || 'unexpected');
      $('error-text').textContent = message;
      $('error-advice').textContent = advice;
      // With a login the core can start a new session for the same person.
      $('error-start-over').hidden = !s.login;
    },
  };

  // ---- the start screen ---------------------------------------------------------------

  // Nothing of the previous person stays on screen.
  function resetStartForm(s) {
    $('login').value = (s && s.login) || '';
    $('login').removeAttribute('aria-invalid');
    const radio = $(`action-${(s && s.action) || 'reset_password'}`) || $('action-reset_password');
    radio.checked = true;
    offerActions(s || state);
  }

  // Only what the service's directory can do is offered (the core asked the service);
  // before it has said, everything is, and the service refuses the rest with a sentence.
  function offerActions(s) {
    const listed = s && Array.isArray(s.actions) ? s.actions.filter((a) => ACTIONS.includes(a)) : [];
    const offered = listed.length ? listed : ACTIONS;
    for (const a of ACTIONS) {
      const radio = $(`action-${a}`);
      radio.disabled = !offered.includes(a);
      radio.closest('.choice').hidden = radio.disabled;
    }
    const picked = document.querySelector('input[name="action"]:checked');
    if (!picked || picked.disabled) $(`action-${offered[0]}`).checked = true;
  }

  async function fillCameras() {
    const select = $('camera-select');
    const cameras = (await call('list_cameras', null, { raw: true, quiet: true, background: true, keepAlert: true })) || [];
    select.replaceChildren();
    const current = state && state.camera;
    if (current && current.file_backed) {
      select.append(new Option(current.name || t('ui.camera_file_backed'), '', true, true));
    }
    for (const cam of cameras) {
      const selected = !!current && !current.file_backed && cam.name === current.name;
      select.append(new Option(cam.name, cam.id, selected, selected));
    }
    if (!select.options.length) select.append(new Option(t('ui.camera_none'), ''));
    select.disabled = cameras.length === 0;
  }

  function readStart() {
    const login = $('login').value.trim();
    if (!login) {
      showAlert('input_invalid');
      $('login').setAttribute('aria-invalid', 'true');
      $('login').focus();
      return null;
    }
    $('login').removeAttribute('aria-invalid');
    const picked = document.querySelector('input[name="action"]:checked');
    return { login, action: picked ? picked.value : 'reset_password' };
  }

  async function startRecovery(thenHandoff) {
    if (pending) return; // one start at a time (double clicks, Enter held down)
    const args = readStart();
    if (!args) return;
    // For the phone, the session is made first and the QR shown next, without flashing
    // the document screen in between.
    const started = await call('start_recovery', args, { noRender: thenHandoff });
    if (!thenHandoff || !started) return;
    if (started.screen !== 'document' && started.screen !== 'selfie') {
      render(started);
      return;
    }
    const handed = await call('start_handoff', null, { noRender: true });
    render(handed || started);
  }

  // ---- the camera preview -------------------------------------------------------------

  const preview = { running: false, generation: 0, inFlight: false, notBefore: 0 };

  function syncLoops() {
    // No native camera (a phone, or none found): the webview's own, if it has one.
    if (cameraOn(shown) && state && !state.camera) {
      window.webviewCamera.start(window.__TAURI__.core.invoke);
    }
    if (cameraOn(shown)) startPreview(); else preview.running = false;
    // The laptop follows the phone; the review screen waits for a reviewer's decision.
    if (shown === 'handoff' || shown === 'review') startPoll(); else stopPoll();
  }

  function startPreview() {
    if (preview.running) return;
    preview.running = true;
    schedulePreview(++preview.generation);
  }

  // requestAnimationFrame paces the loop with the display; a slow timer keeps guidance
  // (and auto-capture) going if the webview stops painting, e.g. a kiosk screen blanked.
  function schedulePreview(generation) {
    let fired = false;
    const run = () => {
      if (fired) return;
      fired = true;
      cancelAnimationFrame(frame);
      clearTimeout(timer);
      previewTick(generation);
    };
    const frame = requestAnimationFrame(run);
    const timer = setTimeout(run, 250);
  }

  function previewTick(generation) {
    if (!preview.running || generation !== preview.generation) return;
    const now = performance.now();
    if (!preview.inFlight && now >= preview.notBefore) {
      preview.inFlight = true; // at most one call in flight: the core keeps only the newest frame
      preview.notBefore = now + PREVIEW_MIN_INTERVAL_MS;
      const screen = shown;
      invoke('preview')
        .then((p) => {
          if (preview.running && shown === screen) onPreview(p);
        })
        .catch((err) => {
          preview.notBefore = performance.now() + PREVIEW_RETRY_MS;
          if (preview.running && shown === screen) showCameraProblem(codeOf(err));
        })
        .finally(() => {
          preview.inFlight = false;
        });
    }
    schedulePreview(generation);
  }

  function showCameraProblem(code) {
    if ($('camera-alert').dataset.code === code && !$('camera-alert').hidden) return;
    $('camera-alert').dataset.code = code;
    showExplained('camera-alert', 'error', code);
  }

  function onPreview(p) {
    if (!p || typeof p !== 'object') return;
    if (p.camera_error) showCameraProblem(p.camera_error);
    else $('camera-alert').hidden = true;
    if (p.frame) {
      $(`preview-${shown}`).src = p.frame; // a null frame means nothing new: keep the last
      local.hadFrame = true;
      if (p.width > 0 && p.height > 0) {
        // The viewfinder takes the frame's shape, so normalised boxes map onto it exactly.
        $(`viewfinder-${shown}`).style.setProperty('--ratio', String(p.width / p.height));
      }
    }
    const g = p.guidance || {};
    // Someone in front of the camera is someone using the kiosk (as the core counts it).
    if (g.face_box || g.ready) armIdle();
    if (shown === 'document') onDocumentGuidance(p, g);
    else if (shown === 'selfie') onSelfieGuidance(p, g);
    else if (shown === 'scan') onScanGuidance(g);
  }

  function setMrz(readable) {
    setText('mrz-status', t(readable ? 'ui.mrz_readable' : 'ui.mrz_not_readable'));
    $('mrz-status').dataset.ok = String(readable);
  }

  function onDocumentGuidance(p, g) {
    const ready = !!g.ready && !p.camera_error;
    $('capture-document').disabled = !ready || local.capturing;
    $('viewfinder-document').dataset.ready = String(ready);
    setMrz(!!g.mrz_readable);
    const codes = Array.isArray(g.codes) ? g.codes : [];
    let hint;
    if (ready) hint = t('ui.document_ready');
    else if (codes.length) hint = qualityText(codes[0]);
    else hint = t(g.prompt ? `prompt.${g.prompt}` : 'prompt.hold_card', 'prompt.hold_card');
    steadyText('document-guidance', hint);
    // Taken by itself once it has read well on three previews in a row.
    if (p.seq !== local.lastSeq) {
      local.lastSeq = p.seq;
      local.readyRun = ready ? local.readyRun + 1 : 0;
    }
    if (local.readyRun >= AUTO_CAPTURE_READY_PREVIEWS && !local.capturing
        && performance.now() - local.sideShownAt >= AUTO_CAPTURE_SETTLE_MS) {
      captureDocument(true);
    }
  }

  async function captureDocument(automatic) {
    if (local.capturing || shown !== 'document') return;
    local.capturing = true;
    $('capture-document').disabled = true;
    const mine = local;
    // An automatic capture that misses (the card moved) just waits for the next reading.
    await call('capture_document', null, { quiet: automatic, background: automatic });
    mine.capturing = false;
    mine.readyRun = 0;
  }

  function hasLight(s) {
    return !!s && Array.isArray(s.light) && s.light.length > 0;
  }

  // Paints the colour the core gave for now (`#rrggbb`), or the neutral grey. The page
  // never times the light itself: the core's recorder is its clock.
  function paintLight(colour) {
    const frame = $('light-frame');
    const css = typeof colour === 'string' && /^#[0-9a-f]{6}$/i.test(colour) ? colour.toLowerCase() : '';
    if (frame.dataset.light === css) return;
    frame.dataset.light = css;
    if (css) frame.style.backgroundColor = css;
    else frame.style.removeProperty('background-color');
  }

  function onSelfieGuidance(p, g) {
    const cameraOk = !p.camera_error;
    paintLight(local.recording ? p.light : null);
    const codes = Array.isArray(g.codes) ? g.codes : [];
    drawFaceBox(g.face_box, codes.length > 0);
    $('selfie-progress').value = Math.max(0, Math.min(1, Number(g.progress) || 0));
    if (!local.recording) {
      $('start-selfie').disabled = !local.hadFrame || !cameraOk || pending > 0;
      setText('selfie-prompt', t(local.hadFrame ? 'ui.selfie_ready' : 'ui.selfie_waiting_camera'));
    } else if (g.prompt) {
      setText('selfie-prompt', t(`prompt.${g.prompt}`, 'prompt.look_center'));
    }
    steadyText('selfie-guidance', codes.length ? qualityText(codes[0]) : '');
    if (local.recording && g.done && !local.submitting) submitSelfie();
  }

  function drawFaceBox(box, troubled) {
    const el = $('face-box');
    if (!Array.isArray(box) || box.length !== 4) {
      el.hidden = true;
      return;
    }
    const pct = (v) => `${(Math.max(0, Math.min(1, Number(v) || 0)) * 100).toFixed(2)}%`;
    el.style.left = pct(box[0]);
    el.style.top = pct(box[1]);
    el.style.width = pct(box[2]);
    el.style.height = pct(box[3]);
    el.dataset.ok = String(!troubled);
    el.hidden = false;
  }

  async function startSelfie() {
    if (pending || local.recording) return;
    $('start-selfie').disabled = true;
    const mine = local;
    const answer = await call('start_selfie');
    if (!answer || mine !== local || shown !== 'selfie') return;
    local.recording = true;
    $('start-selfie').hidden = true;
    $('selfie-handoff').hidden = true;
    $('light-notice').hidden = true;
    setText('selfie-prompt', t('prompt.look_center'));
    $('selfie-prompt').focus(); // the button just went away; the prompt is what matters now
  }

  async function submitSelfie() {
    local.submitting = true;
    paintLight(null);
    show('checking'); // at once: the decision takes seconds
    await call('submit');
  }

  function onScanGuidance(g) {
    if (!g.done) {
      local.claimArmed = true;
      return;
    }
    // Once per sighting of a code: a refused code is not claimed again until a new one shows.
    if (!local.claimArmed) return;
    local.claimArmed = false;
    call('claim_handoff');
  }

  // ---- the hand-off and review polls --------------------------------------------------------------

  const poll = { on: false, generation: 0, timer: null };

  function startPoll() {
    if (poll.on) return;
    poll.on = true;
    const generation = ++poll.generation;
    const tick = async () => {
      if (!poll.on || generation !== poll.generation) return;
      if (shown === 'review') await call('review_poll', null, { background: true });
      else await call('handoff_poll', null, { background: true });
      if (poll.on && generation === poll.generation) poll.timer = setTimeout(tick, HANDOFF_POLL_MS);
    };
    poll.timer = setTimeout(tick, HANDOFF_POLL_MS);
  }

  function stopPoll() {
    poll.on = false;
    clearTimeout(poll.timer);
  }

  // ---- the new password ---------------------------------------------------------------

  const pw = { timer: null, generation: 0, checked: null, acceptable: false };

  function clearPasswords() {
    clearTimeout(pw.timer);
    pw.generation += 1;
    pw.checked = null;
    pw.acceptable = false;
    $('new-password').value = '';
    $('confirm-password').value = '';
    $('password-problems').replaceChildren();
    setText('password-ok', '');
    setText('password-count', '');
    setPasswordVisible(false);
    updatePasswordState();
  }

  // The length the service's rule judges: characters as typed, invisible ones left out.
  function visibleLength(value) {
    let n = 0;
    for (const c of value) {
      const cp = c.codePointAt(0);
      if (!INVISIBLE.some(([lo, hi]) => cp >= lo && cp <= hi)) n += 1;
    }
    return n;
  }

  function onPasswordInput() {
    const value = $('new-password').value;
    clearTimeout(pw.timer);
    pw.checked = null;
    pw.acceptable = false;
    setText('password-count', value ? t('ui.password_count', null, { count: visibleLength(value) }) : '');
    if (!value) {
      pw.generation += 1;
      $('password-problems').replaceChildren();
      setText('password-ok', '');
    } else {
      pw.timer = setTimeout(() => checkPassword(value), PASSWORD_CHECK_DEBOUNCE_MS);
    }
    updatePasswordState();
  }

  async function checkPassword(value) {
    const generation = ++pw.generation;
    let result = null;
    let failed = false;
    try {
      result = await invoke('check_password', { password: value });
      if (generation === pw.generation) hideAlert();
    } catch (err) {
      failed = true;
      if (generation === pw.generation) showAlert(codeOf(err));
    }
    // Only the answer for what is in the field now counts.
    if (generation !== pw.generation || shown !== 'password' || $('new-password').value !== value) return;
    pw.checked = value;
    if (failed) {
      // The live check is advice; the core checks again when the password is set.
      pw.acceptable = true;
    } else {
      const problems = Array.isArray(result && result.problems) ? result.problems : [];
      pw.acceptable = !!(result && result.acceptable) && problems.length === 0;
      $('password-problems').replaceChildren(...problems.map((p) => {
        const li = document.createElement('li');
        li.textContent = passwordProblemText(p);
        return li;
      }));
      setText('password-ok', pw.acceptable ? t('ui.password_ok') : '');
    }
    updatePasswordState();
  }

  // The core's codes are `password_too_short` and the like; the file is keyed without the
  // prefix. An unknown code shows the core's own sentence, then a generic one.
  function passwordProblemText(problem) {
    const code = String((problem && problem.code) || '');
    for (const key of [`password.${code}`, `password.${code.replace(/^password_/, '')}`]) {
      if (window.i18n.has(key)) return t(key);
    }
    if (problem && typeof problem.message === 'string' && problem.message) return problem.message;
    return t('password.policy');
  }

  function updatePasswordState() {
    const a = $('new-password').value;
    const b = $('confirm-password').value;
    const differ = b !== '' && a !== b;
    setText('password-match', differ ? t('ui.passwords_differ') : '');
    $('confirm-password').setAttribute('aria-invalid', String(differ));
    $('set-password').disabled = !(a && a === b && pw.checked === a && pw.acceptable);
  }

  function setPasswordVisible(visible) {
    for (const id of ['new-password', 'confirm-password']) $(id).type = visible ? 'text' : 'password';
    $('toggle-password').setAttribute('aria-pressed', String(visible));
    $('toggle-password').textContent = t(visible ? 'ui.hide_password' : 'ui.show_password');
  }

  async function setPassword(event) {
    event.preventDefault();
    updatePasswordState();
    if ($('set-password').disabled || pending) return;
    const password = $('new-password').value;
    show('applying');
    await call('set_password', { password });
  }

  // ---- kiosk --------------------------------------------------------------------------

  let idleTimer = null;

  // The core's watchdog forgets the person too (and says so with a `state` event); the
  // page's own timer also covers input the core never sees, like typing.
  // Typing and touching reach the core too (at most every 2 s), so its watchdog does not
  // wipe someone who is typing slowly.
  let lastTouch = 0;
  function tellCore() {
    const now = Date.now();
    if (state && state.kiosk && now - lastTouch > 2000) {
      lastTouch = now;
      window.__TAURI__.core.invoke('touch').catch(() => {});
    }
  }

  function armIdle() {
    tellCore();
    clearTimeout(idleTimer);
    idleTimer = null;
    if (!state || !state.kiosk || IDLE_EXEMPT.has(shown)) return;
    const seconds = Math.max(5, Number(state.idle_timeout_s) || 90);
    idleTimer = setTimeout(() => call('start_over', null, { background: true }), seconds * 1000);
  }

  async function begin() {
    if (beginning) return;
    beginning = true;
    try {
      await call('begin');
    } finally {
      beginning = false;
    }
  }

  // ---- wiring -------------------------------------------------------------------------

  function onClick(id, handler) {
    $(id).addEventListener('click', handler);
  }

  function wire() {
    const startOver = () => call('start_over');
    for (const button of document.querySelectorAll('button.start-over')) button.addEventListener('click', startOver);
    onClick('attract-start', begin);
    $('start-form').addEventListener('submit', (e) => {
      e.preventDefault();
      startRecovery(false);
    });
    onClick('handoff-button', () => startRecovery(true));
    onClick('scan-button', () => call('scan_handoff'));
    $('camera-select').addEventListener('change', (e) => {
      if (e.target.value) call('choose_camera', { id: e.target.value });
    });
    onClick('capture-document', () => captureDocument(false));
    onClick('document-handoff', () => call('start_handoff'));
    onClick('start-selfie', startSelfie);
    onClick('selfie-handoff', () => call('start_handoff'));
    onClick('retry-button', () => call('retry'));
    onClick('finish-button', startOver);
    onClick('error-retry', () => call(state && state.login ? 'retry' : 'start_over'));
    $('new-password').addEventListener('input', onPasswordInput);
    $('new-password').addEventListener('change', onPasswordInput);
    $('confirm-password').addEventListener('input', updatePasswordState);
    $('confirm-password').addEventListener('change', updatePasswordState);
    onClick('toggle-password', () => setPasswordVisible($('new-password').type === 'password'));
    $('password-form').addEventListener('submit', setPassword);

    // Any input is someone at the kiosk; on the attract screen any key or touch starts.
    document.addEventListener('pointerdown', () => {
      armIdle();
      if (shown === 'attract') begin();
    }, true);
    document.addEventListener('input', armIdle, true);
    document.addEventListener('keydown', (e) => {
      armIdle();
      if (shown === 'attract') {
        if (!['Shift', 'Control', 'Alt', 'Meta'].includes(e.key)) {
          e.preventDefault();
          begin();
        }
        return;
      }
      if (e.key === 'Escape' && state && state.kiosk && !ESCAPE_EXEMPT.has(shown)) {
        e.preventDefault();
        call('start_over');
      }
    }, true);

    // The core changed the state on its own (the kiosk's idle wipe).
    window.__TAURI__.event.listen('state', (event) => render(event.payload));
  }

  async function boot() {
    await window.i18n.ready;
    window.i18n.apply();
    if (!window.__TAURI__ || !window.__TAURI__.core) {
      render(errorState('engine_unavailable'));
      return;
    }
    wire();
    await refresh();
  }

  boot();
})();
