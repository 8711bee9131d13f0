// A stateful double of the parts of Okta's Management API that Reclaim's Okta connector
// uses, for tests only. No dependencies: node:http and node:crypto.
//
// Two listeners:
// - the FRONT (OKTA_FRONT_PORT) is the org URL the connector is given. It serves the org
//   authorization server's token endpoint (/oauth2/v1/token, not part of the Management
//   API's published description), the test controls under /_double/, and passes every
//   other request to Stoplight Prism (whose URL a test sets with POST /_double/prism),
//   which validates it against Okta's published OpenAPI description and forwards it to
// - the API (OKTA_API_PORT), which answers as Okta documents: status codes, error bodies
//   with errorCode / errorSummary / errorCauses, Link pagination, X-Rate-Limit-* headers.
//
// With OKTA_SPEC_IN and OKTA_SPEC_OUT set, it first writes a corrected copy of the
// description (see correctSpec) for Prism to load.
//
// Nothing here is Okta's code; the behaviour follows Okta's public API documentation.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const FRONT_PORT = Number(process.env.OKTA_FRONT_PORT);
const API_PORT = Number(process.env.OKTA_API_PORT);
const ORG = `http://127.0.0.1:${FRONT_PORT}`;

// The published @okta/openapi 2.15.0 writes the query into two path keys
// ("/lifecycle/expire_password?tempPassword=false"), which no request can match. The copy
// Prism loads has them as one path with a boolean `tempPassword` query parameter, as
// Okta's reference documents the call. Nothing else is changed.
function correctSpec(spec) {
  const base = '/api/v1/users/{userId}/lifecycle/expire_password';
  const withFalse = spec.paths[`${base}?tempPassword=false`];
  if (withFalse) {
    const op = withFalse.post;
    op.parameters = [...op.parameters, { in: 'query', name: 'tempPassword', type: 'boolean' }];
    spec.paths[base] = { post: op };
    delete spec.paths[`${base}?tempPassword=false`];
    delete spec.paths[`${base}?tempPassword=true`];
  }
  return spec;
}

if (process.env.OKTA_SPEC_IN && process.env.OKTA_SPEC_OUT) {
  const spec = JSON.parse(fs.readFileSync(process.env.OKTA_SPEC_IN, 'utf8'));
  fs.writeFileSync(process.env.OKTA_SPEC_OUT, JSON.stringify(correctSpec(spec)));
}

// ---- state ---------------------------------------------------------------------------

let prismUrl = null;
const users = new Map(); // id -> user
const apiTokens = new Set(); // SSWS tokens
const clients = new Map(); // client_id -> { key, kid, scopes, requireDpop, active, tokenTtl }
const accessTokens = new Map(); // token -> { clientId, scopes, until }
const seenJti = new Set();
let faults = []; // { phase, method, contains, times, action }
const requests = []; // what the API was asked, for tests to check
let nextId = 1;

const newId = (prefix) => `${prefix}${String(nextId++).padStart(4, '0')}${crypto.randomBytes(6).toString('hex')}`;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '.000Z');

function publicUser(u) {
  const creds = u.password !== null ? { password: {}, provider: { type: 'OKTA', name: 'OKTA' } } : { provider: { type: 'OKTA', name: 'OKTA' } };
  // Okta sends `null` for a time that has not happened (lastLogin, passwordChanged), but
  // the 2.15.0 description types them as strings, and Prism refuses the null: left out.
  const user = {
    id: u.id,
    status: u.status,
    created: u.created,
    activated: u.created,
    statusChanged: u.statusChanged,
    lastLogin: null,
    lastUpdated: u.lastUpdated,
    passwordChanged: u.passwordChanged,
    type: { id: 'oty1default' },
    profile: u.profile,
    credentials: creds,
    _links: { self: { href: `${ORG}/api/v1/users/${u.id}` } },
  };
  for (const k of Object.keys(user)) if (user[k] === null) delete user[k];
  return user;
}

function publicFactor(u, f) {
  return {
    id: f.id,
    factorType: f.factorType,
    provider: f.provider,
    vendorName: f.provider,
    status: f.status,
    created: f.created,
    lastUpdated: f.created,
    profile: {},
    _links: { self: { href: `${ORG}/api/v1/users/${u.id}/factors/${f.id}` } },
  };
}

// ---- HTTP helpers --------------------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function rateHeaders() {
  return {
    'x-rate-limit-limit': '600',
    'x-rate-limit-remaining': '599',
    'x-rate-limit-reset': String(Math.floor(Date.now() / 1000) + 60),
  };
}

function send(res, status, body, headers = {}) {
  const h = { ...rateHeaders(), ...headers };
  if (body === undefined) {
    res.writeHead(status, h);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...h });
  res.end(text);
}

function oktaError(res, status, code, summary, causes = [], headers = {}) {
  send(res, status, {
    errorCode: code,
    errorSummary: summary,
    errorLink: code,
    errorId: `oae${crypto.randomBytes(8).toString('hex')}`,
    errorCauses: causes.map((c) => ({ errorSummary: c })),
  }, headers);
}

const notFound = (res, what) => oktaError(res, 404, 'E0000007', `Not found: Resource not found: ${what}`);

function takeFault(phase, method, url) {
  const i = faults.findIndex((f) => f.phase === phase && (!f.method || f.method === method) && url.includes(f.contains) && f.times > 0);
  if (i < 0) return null;
  const f = faults[i];
  f.times -= 1;
  if (f.times <= 0) faults.splice(i, 1);
  return f.action;
}

// ---- the token endpoint (org authorization server) -----------------------------------

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function tokenError(res, status, error, description) {
  send(res, status, { error, error_description: description });
}

async function token(req, res) {
  const form = new URLSearchParams((await readBody(req)).toString('utf8'));
  if (form.get('grant_type') !== 'client_credentials') {
    return tokenError(res, 400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server.');
  }
  if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    return tokenError(res, 401, 'invalid_client', 'Client authentication failed.');
  }
  const jwt = form.get('client_assertion') || '';
  const parts = jwt.split('.');
  if (parts.length !== 3) return tokenError(res, 401, 'invalid_client', 'The client_assertion is not a JWT.');
  let header, claims;
  try { header = b64json(parts[0]); claims = b64json(parts[1]); } catch { return tokenError(res, 401, 'invalid_client', 'The client_assertion is malformed.'); }
  const client = clients.get(claims.iss);
  if (!client || !client.active || claims.sub !== claims.iss) {
    return tokenError(res, 401, 'invalid_client', 'The client_assertion token is invalid.');
  }
  if (form.has('client_id') && form.get('client_id') !== claims.iss) {
    return tokenError(res, 401, 'invalid_client', 'client_id does not match the assertion.');
  }
  const alg = { RS256: { dsaEncoding: undefined }, ES256: { dsaEncoding: 'ieee-p1363' } }[header.alg];
  if (!alg || (client.kid && header.kid !== undefined && header.kid !== client.kid)) {
    return tokenError(res, 401, 'invalid_client', 'The client_assertion signature is invalid.');
  }
  const ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: client.key, dsaEncoding: alg.dsaEncoding }, Buffer.from(parts[2], 'base64url'));
  if (!ok) return tokenError(res, 401, 'invalid_client', 'The client_assertion signature is invalid.');
  const now = Math.floor(Date.now() / 1000);
  if (claims.aud !== `${ORG}/oauth2/v1/token`) return tokenError(res, 401, 'invalid_client', 'The audience of the client_assertion is invalid.');
  if (typeof claims.exp !== 'number' || claims.exp < now || claims.exp - now > 3600) {
    return tokenError(res, 401, 'invalid_client', 'The client_assertion token is expired or lives too long.');
  }
  if (!claims.jti || seenJti.has(claims.jti)) return tokenError(res, 401, 'invalid_client', 'The client_assertion token has already been used.');
  seenJti.add(claims.jti);
  if (client.requireDpop && !req.headers.dpop) {
    return tokenError(res, 400, 'invalid_dpop_proof', 'The DPoP proof JWT header is missing.');
  }
  const scopes = (form.get('scope') || '').split(' ').filter(Boolean);
  if (scopes.length === 0 || scopes.some((s) => !client.scopes.includes(s))) {
    return tokenError(res, 400, 'invalid_scope', 'The following scopes are not granted to the client: ' + scopes.filter((s) => !client.scopes.includes(s)).join(' '));
  }
  const access = crypto.randomBytes(24).toString('base64url');
  accessTokens.set(access, { clientId: claims.iss, scopes, until: Date.now() + client.tokenTtl * 1000 });
  client.issued = (client.issued || 0) + 1;
  send(res, 200, { token_type: 'Bearer', expires_in: client.tokenTtl, access_token: access, scope: scopes.join(' ') });
}

// ---- the front: token endpoint, controls, and the way to Prism ------------------------

async function control(req, res, path) {
  const body = req.method === 'GET' || req.method === 'DELETE' ? {} : JSON.parse((await readBody(req)).toString('utf8') || '{}');
  const seg = path.split('/').filter(Boolean).slice(1); // after _double
  if (req.method === 'POST' && seg[0] === 'prism') { prismUrl = body.url; return send(res, 200, {}); }
  if (req.method === 'POST' && seg[0] === 'api-tokens') { apiTokens.add(body.token); return send(res, 200, {}); }
  if (req.method === 'DELETE' && seg[0] === 'api-tokens') { apiTokens.delete(decodeURIComponent(seg[1])); return send(res, 200, {}); }
  if (req.method === 'POST' && seg[0] === 'clients' && seg.length === 1) {
    clients.set(body.client_id, {
      key: body.public_key_pem ? crypto.createPublicKey(body.public_key_pem) : crypto.createPublicKey({ key: body.public_key_jwk, format: "jwk" }), kid: body.kid || null, scopes: body.scopes || [],
      permissions: body.permissions || null, requireDpop: !!body.require_dpop, active: true, tokenTtl: body.token_ttl_s || 3600, issued: 0,
    });
    return send(res, 200, {});
  }
  if (req.method === 'GET' && seg[0] === 'clients') { const c = clients.get(seg[1]); return c ? send(res, 200, { issued: c.issued }) : send(res, 404, {}); }
  if (req.method === 'POST' && seg[0] === 'clients' && seg[2] === 'revoke-tokens') {
    for (const [t, v] of accessTokens) if (v.clientId === seg[1]) accessTokens.delete(t);
    return send(res, 200, {});
  }
  if (req.method === 'POST' && seg[0] === 'clients' && seg[2] === 'deactivate') {
    const c = clients.get(seg[1]); if (c) c.active = false;
    for (const [t, v] of accessTokens) if (v.clientId === seg[1]) accessTokens.delete(t);
    return send(res, 200, {});
  }
  if (req.method === 'POST' && seg[0] === 'users') {
    const id = body.id || newId('00u');
    const now = Date.now();
    const u = {
      id,
      status: body.status || 'ACTIVE',
      created: iso(now - 86400000),
      statusChanged: iso(now - 86400000),
      lastUpdated: iso(now - 86400000),
      passwordChanged: body.password ? iso(now - 86400000) : null,
      profile: body.profile,
      password: body.password ?? null,
      history: body.password ? [body.password] : [],
      policy: { minLength: 8, historyCount: 4, common: ['Password1!', 'Welcome123!'], ...(body.policy || {}) },
      factors: (body.factors || []).map((f) => ({ id: f.id || newId('fac'), factorType: f.factorType, provider: f.provider || 'OKTA', status: f.status || 'ACTIVE', created: f.created || iso(now - 86400000) })),
      groups: (body.groups || []).map((name) => ({ id: newId('00g'), name })),
      groupsPageSize: body.groups_page_size || 200,
    };
    users.set(id, u);
    return send(res, 200, { id });
  }
  if (req.method === 'POST' && seg[0] === 'user-state') {
    const u = users.get(seg[1]);
    if (!u) return send(res, 404, {});
    if (body.status) { u.status = body.status; u.statusChanged = iso(Date.now()); }
    if (body.add_factor) {
      u.factors.push({ id: newId('fac'), factorType: body.add_factor.factorType, provider: body.add_factor.provider || 'OKTA', status: 'ACTIVE', created: body.add_factor.created || iso(Date.now()) });
    }
    return send(res, 200, {});
  }
  if (req.method === 'GET' && seg[0] === 'users') {
    const u = users.get(seg[1]);
    if (!u) return send(res, 404, {});
    return send(res, 200, {
      id: u.id, status: u.status, password: u.password, profile: u.profile,
      factors: u.factors.map((f) => ({ id: f.id, factorType: f.factorType, created: f.created })),
      requests: requests.filter((r) => r.path.includes(u.id)),
    });
  }
  if (req.method === 'GET' && seg[0] === 'requests') {
    const q = new URL(req.url, ORG).searchParams.get('contains') || '';
    return send(res, 200, requests.filter((r) => r.url.includes(q)));
  }
  if (req.method === 'POST' && seg[0] === 'faults') {
    faults.push({ phase: body.phase || 'api', method: body.method || null, contains: body.contains, times: body.times || 1, action: body.action || {} });
    return send(res, 200, {});
  }
  return send(res, 404, { error: 'no such control' });
}

function forward(req, res, body, loseAnswer) {
  if (!prismUrl) return oktaError(res, 503, 'E0000010', 'Service is in read only mode'); // never wired: fail loudly
  const target = new URL(req.url, prismUrl);
  const headers = { ...req.headers, host: target.host };
  const out = http.request(target, { method: req.method, headers }, (answer) => {
    const chunks = [];
    answer.on('data', (c) => chunks.push(c));
    answer.on('end', () => {
      if (loseAnswer) { req.socket.destroy(); return; }
      res.writeHead(answer.statusCode, answer.headers);
      res.end(Buffer.concat(chunks));
    });
  });
  out.on('error', () => req.socket.destroy());
  out.end(body);
}

const front = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, ORG).pathname;
    if (path.startsWith('/_double/')) return await control(req, res, path);
    if (path === '/oauth2/v1/token' && req.method === 'POST') {
      const f = takeFault('front', req.method, req.url);
      if (f && f.respond) return send(res, f.respond.status, f.respond.body, f.respond.headers || {});
      return await token(req, res);
    }
    const body = await readBody(req);
    const f = takeFault('front', req.method, req.url);
    forward(req, res, body, !!(f && f.lose_answer));
  } catch (e) {
    send(res, 500, { error: String(e) });
  }
});

// ---- the API, behind Prism -----------------------------------------------------------

const READ = ['okta.users.read', 'okta.users.manage'];
const MANAGE = ['okta.users.manage'];

function authorize(req, res, scopesNeeded, permission) {
  const auth = req.headers.authorization || '';
  if (auth.startsWith('SSWS ')) {
    if (apiTokens.has(auth.slice(5))) return true;
  } else if (auth.startsWith('Bearer ')) {
    const t = accessTokens.get(auth.slice(7));
    if (t && t.until > Date.now()) {
      if (!t.scopes.some((s) => scopesNeeded.includes(s))) {
        oktaError(res, 403, 'E0000006', 'You do not have permission to perform the requested action', [], {
          'www-authenticate': `Bearer authorization_uri="${ORG}/oauth2/v1/authorize", realm="${ORG}", scope="${scopesNeeded[0]}", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="${new URL(req.url, ORG).pathname}"`,
        });
        return false;
      }
      const perms = clients.get(t.clientId)?.permissions;
      if (perms && !perms.includes(permission)) {
        oktaError(res, 403, 'E0000006', 'You do not have permission to perform the requested action');
        return false;
      }
      return true;
    }
  }
  oktaError(res, 401, 'E0000011', 'Invalid token provided');
  return false;
}

// Okta's search grammar, the part the connector uses: `attr eq "value"` joined by `or`,
// strings with backslash escapes. Anything else is refused as Okta refuses bad criteria.
function parseSearch(text) {
  const terms = [];
  let i = 0;
  const ws = () => { while (text[i] === ' ') i++; };
  for (;;) {
    ws();
    const m = /^([A-Za-z][A-Za-z0-9_.]*) eq "/.exec(text.slice(i));
    if (!m) return null;
    i += m[0].length;
    let v = '';
    for (;;) {
      if (i >= text.length) return null;
      const c = text[i++];
      if (c === '\\') { if (i >= text.length) return null; v += text[i++]; } else if (c === '"') break; else v += c;
    }
    terms.push([m[1], v]);
    ws();
    if (i >= text.length) return terms;
    if (text.slice(i, i + 3) !== 'or ') return null;
    i += 3;
  }
}

function attr(u, name) {
  if (name === 'status') return u.status;
  if (name === 'id') return u.id;
  if (name.startsWith('profile.')) return u.profile[name.slice(8)];
  return undefined;
}

function page(res, url, items, size) {
  const after = Number(url.searchParams.get('after') || 0);
  const slice = items.slice(after, after + size);
  const headers = { link: `<${ORG}${url.pathname}${url.search}>; rel="self"` };
  if (after + size < items.length) {
    const next = new URL(url.pathname, ORG);
    next.searchParams.set('after', String(after + size));
    next.searchParams.set('limit', String(size));
    headers.link += `, <${next}>; rel="next"`;
  }
  send(res, 200, slice, headers);
}

function passwordCauses(u, value, strict) {
  const p = u.policy;
  const requirements = `Password requirements were not met. Password requirements: at least ${p.minLength} characters, a lowercase letter, an uppercase letter, a number, no parts of your username. Your password cannot be any of your last ${p.historyCount} passwords.`;
  const login = (u.profile.login || '').split('@')[0].toLowerCase();
  if (value.length < p.minLength || !/[a-z]/.test(value) || !/[A-Z]/.test(value) || !/[0-9]/.test(value) || (login.length >= 3 && value.toLowerCase().includes(login))) {
    return [`password: ${requirements}`];
  }
  if (p.common.includes(value)) return ['password: This password was found in a list of commonly used passwords. Please try another password.'];
  if (strict) {
    if (u.password === value) return ['password: Password cannot be your current password'];
    if (u.history.slice(-p.historyCount).includes(value)) return ['password: Password has been used too recently'];
    if (p.minAgeMinutes && u.passwordChanged && Date.now() - Date.parse(u.passwordChanged) < p.minAgeMinutes * 60000) {
      return ['password: Password cannot be changed more than once per minimum password age period.'];
    }
  }
  return [];
}

async function api(req, res) {
  const url = new URL(req.url, ORG);
  const body = await readBody(req);
  requests.push({ method: req.method, path: url.pathname, url: req.url, auth: (req.headers.authorization || '').split(' ')[0] });
  const f = takeFault('api', req.method, decodeURIComponent(req.url));
  if (f && f.delay_ms) await new Promise((r) => setTimeout(r, f.delay_ms));
  if (f && f.respond) return send(res, f.respond.status, f.respond.body, f.respond.headers || {});
  const seg = url.pathname.split('/').filter(Boolean); // api v1 users ...
  if (seg[0] !== 'api' || seg[1] !== 'v1' || seg[2] !== 'users') return notFound(res, url.pathname);
  const p = `/${seg.slice(3).map((s, i) => (i === 0 ? '{id}' : s)).join('/')}`;
  const u = seg[3] ? users.get(decodeURIComponent(seg[3])) ?? [...users.values()].find((x) => x.profile.login === decodeURIComponent(seg[3])) : null;

  if (req.method === 'GET' && seg.length === 3) {
    if (!authorize(req, res, READ, 'okta.users.read')) return;
    const search = url.searchParams.get('search');
    let found = [...users.values()].filter((x) => x.status !== 'DEPROVISIONED');
    if (search !== null) {
      const terms = parseSearch(search);
      if (!terms) return oktaError(res, 400, 'E0000031', 'Invalid search criteria.');
      // `eq` on strings ignores case, as Okta's search does; deactivated users match too.
      found = [...users.values()].filter((x) => terms.some(([a, v]) => typeof attr(x, a) === 'string' && attr(x, a).toLowerCase() === v.toLowerCase()));
    }
    return page(res, url, found.map(publicUser), Math.min(Number(url.searchParams.get('limit') || 10), 200));
  }
  if (!u) {
    if (!authorize(req, res, READ, 'okta.users.read')) return;
    return notFound(res, `${seg[3]} (User)`);
  }
  if (req.method === 'GET' && p === '/{id}') {
    if (!authorize(req, res, READ, 'okta.users.read')) return;
    return send(res, 200, publicUser(u));
  }
  if (req.method === 'POST' && p === '/{id}') {
    if (!authorize(req, res, MANAGE, 'okta.users.credentials.resetPassword')) return;
    const update = JSON.parse(body.toString('utf8') || '{}');
    const value = update?.credentials?.password?.value;
    if (typeof value === 'string') {
      if (['SUSPENDED', 'DEPROVISIONED'].includes(u.status)) {
        return oktaError(res, 403, 'E0000038', "This operation is not allowed in the user's current status.");
      }
      const causes = passwordCauses(u, value, url.searchParams.get('strict') === 'true');
      if (causes.length) return oktaError(res, 400, 'E0000001', 'Api validation failed: password', causes);
      u.password = value;
      u.history.push(value);
      u.passwordChanged = iso(Date.now());
      if (['PASSWORD_EXPIRED', 'RECOVERY'].includes(u.status)) u.status = 'ACTIVE';
    }
    u.lastUpdated = iso(Date.now());
    return send(res, 200, publicUser(u));
  }
  if (req.method === 'POST' && p === '/{id}/lifecycle/unlock') {
    if (!authorize(req, res, MANAGE, 'okta.users.lifecycle.unlock')) return;
    if (u.status !== 'LOCKED_OUT') return oktaError(res, 403, 'E0000032', 'Unlock is not allowed for this user.');
    u.status = 'ACTIVE';
    u.statusChanged = iso(Date.now());
    return send(res, 200, {});
  }
  if (req.method === 'POST' && p === '/{id}/lifecycle/expire_password') {
    if (!authorize(req, res, MANAGE, 'okta.users.credentials.expirePassword')) return;
    if (!['ACTIVE', 'PASSWORD_EXPIRED', 'RECOVERY', 'LOCKED_OUT'].includes(u.status)) {
      return oktaError(res, 403, 'E0000038', "This operation is not allowed in the user's current status.");
    }
    u.status = 'PASSWORD_EXPIRED';
    return send(res, 200, publicUser(u));
  }
  if (req.method === 'GET' && p === '/{id}/factors') {
    if (!authorize(req, res, READ, 'okta.users.read')) return;
    return send(res, 200, u.factors.map((x) => publicFactor(u, x)));
  }
  if (req.method === 'DELETE' && seg[4] === 'factors' && seg.length === 6) {
    if (!authorize(req, res, MANAGE, 'okta.users.credentials.resetFactors')) return;
    const i = u.factors.findIndex((x) => x.id === seg[5]);
    if (i < 0) return notFound(res, `${seg[5]} (UserFactor)`);
    u.factors.splice(i, 1);
    return send(res, 204);
  }
  if (req.method === 'GET' && p === '/{id}/groups') {
    if (!authorize(req, res, READ, 'okta.users.read')) return;
    const groups = u.groups.map((g) => ({
      id: g.id, created: iso(0), lastUpdated: iso(0), lastMembershipUpdated: iso(0), objectClass: ['okta:user_group'], type: 'OKTA_GROUP',
      profile: { name: g.name, description: '' }, _links: {},
    }));
    const limit = Math.min(Number(url.searchParams.get('limit') || 200), u.groupsPageSize);
    return page(res, url, groups, limit);
  }
  return notFound(res, url.pathname);
}

const apiServer = http.createServer((req, res) => {
  api(req, res).catch((e) => { try { send(res, 500, { errorCode: 'E0000009', errorSummary: String(e) }); } catch { /* gone */ } });
});

front.listen(FRONT_PORT, '127.0.0.1');
apiServer.listen(API_PORT, '127.0.0.1');
