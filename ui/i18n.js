// Reclaim: the strings the person reads. Every sentence lives in i18n/<lang>.json; this
// file loads the right one and looks keys up. A missing key never shows a raw key or
// code: it falls back to the message for `error.unexpected`.
'use strict';

(() => {
  const DEFAULT_LANG = 'en';
  // Shown only if no translation file could be read at all (a broken install), so the
  // person is still told something and pointed at the helpdesk.
  const LAST_RESORT = 'Something went wrong. Please contact the IT helpdesk.';

  let strings = {};
  let lang = DEFAULT_LANG;

  function lookup(key) {
    if (typeof key !== 'string' || key === '') return undefined;
    let node = strings;
    for (const part of key.split('.')) {
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) {
        return undefined;
      }
      node = node[part];
    }
    return node;
  }

  // A reason or error entry is { message, advice }; as plain text it is its message.
  function asText(value) {
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object' && typeof value.message === 'string') {
      return value.message;
    }
    return undefined;
  }

  function format(text, vars) {
    if (!vars) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      vars[name] === undefined || vars[name] === null ? whole : String(vars[name]));
  }

  function has(key) {
    return asText(lookup(key)) !== undefined;
  }

  // t('ui.start_title'); t('quality.' + code, 'ui.some_default'); t(key, null, { min: 15 }).
  function t(key, fallbackKey, vars) {
    for (const k of [key, fallbackKey, 'error.unexpected']) {
      const text = asText(lookup(k));
      if (text !== undefined) return format(text, vars);
    }
    return LAST_RESORT;
  }

  // { message, advice } for a code of one kind ('reason', 'error'); an unknown code gets
  // that kind's `unexpected` entry, then the generic error.
  function entry(kind, code) {
    for (const key of [`${kind}.${code}`, `${kind}.unexpected`, 'error.unexpected']) {
      const value = lookup(key);
      if (value && typeof value === 'object' && typeof value.message === 'string') {
        return { message: value.message, advice: typeof value.advice === 'string' ? value.advice : '' };
      }
    }
    return { message: LAST_RESORT, advice: '' };
  }

  // Fills the static text of the page (or of `root`).
  function apply(root = document) {
    for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll('[data-i18n-label]')) {
      el.setAttribute('aria-label', t(el.dataset.i18nLabel));
    }
    for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
      el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
    }
    for (const el of root.querySelectorAll('[data-i18n-alt]')) {
      el.setAttribute('alt', t(el.dataset.i18nAlt));
    }
    if (root === document) {
      document.title = t('ui.window_title');
      document.documentElement.lang = lang;
    }
  }

  // The system language first ("pt-BR", then "pt"), English last. Only well-formed tags
  // become file names.
  function candidates() {
    const wanted = [];
    const tag = typeof navigator !== 'undefined' ? String(navigator.language || '') : '';
    if (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(tag)) {
      wanted.push(tag);
      wanted.push(tag.split('-')[0].toLowerCase());
    }
    wanted.push(DEFAULT_LANG);
    return [...new Set(wanted)];
  }

  function parseStrings(text) {
    const data = JSON.parse(text);
    if (!data || typeof data !== 'object' || !data.ui) throw new Error('not a translation file');
    return data;
  }

  // Resolves to the strings, or to null when the file is not there; rejects only when
  // fetch itself is refused.
  async function viaFetch(url) {
    const response = await fetch(url, { cache: 'no-store' });
    if (!response.ok) return null;
    try {
      // A missing asset is answered with index.html: parsing tells them apart.
      return parseStrings(await response.text());
    } catch (_) {
      return null;
    }
  }

  // Fallback for a Content-Security-Policy whose connect-src does not allow 'self' (fetch
  // is refused, but a same-origin frame is allowed by default-src 'self'). The frame is
  // sandboxed without scripts, so a missing file answered with index.html runs nothing.
  function viaFrame(url) {
    return new Promise((resolve, reject) => {
      const frame = document.createElement('iframe');
      frame.setAttribute('sandbox', 'allow-same-origin');
      frame.setAttribute('aria-hidden', 'true');
      frame.tabIndex = -1;
      frame.className = 'i18n-loader';
      const done = (fn, value) => {
        clearTimeout(timer);
        frame.remove();
        fn(value);
      };
      const timer = setTimeout(() => done(reject, new Error('timeout')), 4000);
      frame.addEventListener('load', () => {
        try {
          const doc = frame.contentDocument;
          done(resolve, parseStrings(doc && doc.body ? doc.body.textContent : ''));
        } catch (e) {
          done(reject, e);
        }
      });
      frame.src = url;
      document.body.appendChild(frame);
    });
  }

  async function load() {
    let fetchRefused = false;
    for (const code of candidates()) {
      const url = `i18n/${code}.json`;
      let found = null;
      if (!fetchRefused) {
        try {
          found = await viaFetch(url);
        } catch (_) {
          fetchRefused = true; // the CSP (or the platform) refuses fetch: use frames from now on
        }
      }
      if (fetchRefused) {
        try {
          found = await viaFrame(url);
        } catch (_) {
          found = null; // not there, or unreadable: the next language
        }
      }
      if (found) {
        strings = found;
        lang = code;
        return;
      }
    }
  }

  window.i18n = {
    ready: load(),
    t,
    has,
    entry,
    apply,
    get lang() {
      return lang;
    },
  };
  window.t = t;
})();
