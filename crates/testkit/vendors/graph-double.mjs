// A stateful test double of the parts of Microsoft Graph v1.0 and of the Microsoft identity
// platform's token endpoint that Reclaim's Entra connector uses. No dependencies: node:http
// and node:crypto only. It answers as Microsoft documents (error bodies
// `{"error": {"code", "message"}}`, `@odata.nextLink` paging, `429` with `Retry-After`), and
// in the tests Prism stands in front of its Graph half, checking every request against
// Microsoft's published OpenAPI description (vendors/graph/openapi-subset.yaml).
//
// Environment: GRAPH_DOUBLE_PORT, GRAPH_DOUBLE_TENANT, GRAPH_DOUBLE_CLIENT_ID,
// GRAPH_DOUBLE_CERT (PEM file of the app's certificate: assertions must carry its SHA-256
// thumbprint as `x5t#S256` and be signed PS256 by its key).
//
// Control endpoints (not Graph's), under /_control:
//   POST /_control/add     {users, groups, methods: [{user, method}], permissions, tapPolicy,
//                          pageSize, publicBase}:
//                          adds users and groups (tests running at once bring their own)
//   POST /_control/faults  [{method, path, times, status, code, message, retryAfter,
//                            delayMs, drop, revokeTokens}]: adds scripted faults, first
//                            match wins (a test scopes its own by its user's id); `path` is a
//                            substring of the request path; `drop: "after"` applies the
//                            request and then destroys the connection without an answer
//   GET  /_control/state   users (password, methods, passes), tokens issued, request log

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const PORT = Number(process.env.GRAPH_DOUBLE_PORT || 0);
const TENANT = process.env.GRAPH_DOUBLE_TENANT || 'tenant';
const CLIENT_ID = process.env.GRAPH_DOUBLE_CLIENT_ID || 'client';
const CERT = new crypto.X509Certificate(fs.readFileSync(process.env.GRAPH_DOUBLE_CERT));
const THUMBPRINT = crypto.createHash('sha256').update(CERT.raw).digest('base64url');

const METHOD_KINDS = {
  phoneMethods: '#microsoft.graph.phoneAuthenticationMethod',
  microsoftAuthenticatorMethods: '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod',
  fido2Methods: '#microsoft.graph.fido2AuthenticationMethod',
  softwareOathMethods: '#microsoft.graph.softwareOathAuthenticationMethod',
  windowsHelloForBusinessMethods: '#microsoft.graph.windowsHelloForBusinessAuthenticationMethod',
  emailMethods: '#microsoft.graph.emailAuthenticationMethod',
  temporaryAccessPassMethods: '#microsoft.graph.temporaryAccessPassAuthenticationMethod',
};
// Graph gives a creation time for these kinds only.
const HAS_CREATED = new Set([
  '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod',
  '#microsoft.graph.fido2AuthenticationMethod',
  '#microsoft.graph.windowsHelloForBusinessAuthenticationMethod',
  '#microsoft.graph.temporaryAccessPassAuthenticationMethod',
]);
const ALL_PERMISSIONS = [
  'User.Read.All',
  'User-PasswordProfile.ReadWrite.All',
  'UserAuthenticationMethod.ReadWrite.All',
  'GroupMember.Read.All',
];

let state;
let faults = [];
const tokens = new Map(); // token -> expiry (ms)
const seenJti = new Set();
let tokensIssued = 0;
const log = [];

function newUser(u) {
  return {
    id: u.id || crypto.randomUUID(),
    userPrincipalName: u.userPrincipalName,
    mail: u.mail ?? null,
    displayName: u.displayName ?? null,
    givenName: u.givenName ?? null,
    surname: u.surname ?? null,
    // Graph returns the object with its fifteen attributes, unset ones null.
    onPremisesExtensionAttributes: Object.fromEntries(
      Array.from({ length: 15 }, (_, i) => [`extensionAttribute${i + 1}`, u.onPremisesExtensionAttributes?.[`extensionAttribute${i + 1}`] ?? null]),
    ),
    password: u.password || 'Initial-Passw0rd',
    forceChangePasswordNextSignIn: false,
    lastPasswordChangeDateTime: new Date().toISOString(),
    methods: [
      { '@odata.type': '#microsoft.graph.passwordAuthenticationMethod', id: '28c10230-6103-485e-b985-444c60001490' },
      ...(u.methods || []).map((m) => ({ id: crypto.randomUUID(), ...m })),
    ],
    memberOf: u.memberOf || [],
    // Page size of this user's listings (methods, memberships), and where their next
    // links point (a test of a link away from Graph).
    pageSize: u.pageSize || null,
    nextLinkBase: u.nextLinkBase || null,
  };
}

// Adds to the state, so tests running at once each bring their own users and groups.
function add(s = {}) {
  for (const u of s.users || []) state.users.push(newUser(u));
  for (const g of s.groups || []) state.groups.push(g);
  for (const m of s.methods || []) userById(m.user).methods.push({ id: crypto.randomUUID(), ...m.method });
  if (s.permissions) state.permissions = s.permissions;
  if (s.tapPolicy) state.tapPolicy = { ...state.tapPolicy, ...s.tapPolicy };
  if (s.pageSize) state.pageSize = s.pageSize;
  // Graph's base URL as the connector sees it (Prism's, in the tests): next links point there.
  if (s.publicBase) state.publicBase = s.publicBase;
}

state = {
  users: [],
  groups: [],
  permissions: ALL_PERMISSIONS,
  tapPolicy: { enabled: true, minLifetime: 10, maxLifetime: 43200 },
  pageSize: 100,
  publicBase: null,
};

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(text ? { 'content-type': 'application/json' } : {}),
    'content-length': Buffer.byteLength(text),
    'request-id': crypto.randomUUID(),
    ...headers,
  });
  res.end(text);
}

function graphError(res, status, code, message, extra = {}, headers = {}) {
  send(res, status, {
    error: {
      code,
      message,
      innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': crypto.randomUUID() },
      ...extra,
    },
  }, headers);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) reject(new Error('too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// --- the token endpoint -----------------------------------------------------------------

function tokenError(res, status, error, description) {
  send(res, status, { error, error_description: description, error_codes: [], timestamp: new Date().toISOString() });
}

function issueToken(req, res, form, fault) {
  if (form.get('grant_type') !== 'client_credentials') return tokenError(res, 400, 'unsupported_grant_type', 'AADSTS70003');
  if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    return tokenError(res, 400, 'invalid_request', 'AADSTS50012: client_assertion_type');
  }
  if (form.get('client_id') !== CLIENT_ID) return tokenError(res, 400, 'unauthorized_client', 'AADSTS700016: client_id');
  const scope = form.get('scope') || '';
  if (!scope.endsWith('/.default')) return tokenError(res, 400, 'invalid_scope', 'AADSTS1002012: scope must end in /.default');
  const parts = (form.get('client_assertion') || '').split('.');
  if (parts.length !== 3) return tokenError(res, 401, 'invalid_client', 'AADSTS50027: not a JWT');
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return tokenError(res, 401, 'invalid_client', 'AADSTS50027: not a JWT');
  }
  if (header.alg !== 'PS256' || header['x5t#S256'] !== THUMBPRINT) {
    return tokenError(res, 401, 'invalid_client', 'AADSTS700027: the certificate thumbprint or algorithm does not match a registered key');
  }
  const ok = crypto.verify(
    'sha256',
    Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: CERT.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
    Buffer.from(parts[2], 'base64url'),
  );
  if (!ok) return tokenError(res, 401, 'invalid_client', 'AADSTS700027: signature verification failed');
  const now = Math.floor(Date.now() / 1000);
  const audience = `http://${req.headers.host}/${TENANT}/oauth2/v2.0/token`;
  if (claims.aud !== audience) return tokenError(res, 401, 'invalid_client', 'AADSTS700027: wrong audience');
  if (claims.iss !== CLIENT_ID || claims.sub !== CLIENT_ID) return tokenError(res, 401, 'invalid_client', 'AADSTS700027: iss/sub');
  if (!(claims.exp > now) || !(claims.nbf <= now + 60)) return tokenError(res, 401, 'invalid_client', 'AADSTS700024: assertion not valid now');
  if (!claims.jti || seenJti.has(claims.jti)) return tokenError(res, 401, 'invalid_client', 'AADSTS7000219: assertion replayed');
  seenJti.add(claims.jti);
  if (fault && fault.tokenError) return tokenError(res, 401, 'invalid_client', fault.tokenError);
  const token = crypto.randomBytes(24).toString('base64url');
  tokens.set(token, Date.now() + 3599 * 1000);
  tokensIssued += 1;
  send(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
}

// --- Graph ------------------------------------------------------------------------------

function needs(res, permission) {
  if (state.permissions.includes(permission)) return true;
  graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  return false;
}

function userById(id) {
  return state.users.find((u) => u.id === id || u.userPrincipalName.toLowerCase() === String(id).toLowerCase());
}

// The one filter the connector sends: `userPrincipalName eq '…' or mail eq '…'`, quotes
// doubled inside the literals, as OData has them.
function parseFilter(f) {
  const lit = "'((?:[^']|'')*)'";
  const m = new RegExp(`^userPrincipalName eq ${lit} or mail eq ${lit}$`).exec(f);
  if (!m) return null;
  return [m[1].replaceAll("''", "'"), m[2].replaceAll("''", "'")];
}

function select(obj, sel) {
  if (!sel) return obj;
  const out = {};
  for (const k of sel.split(',')) if (k in obj) out[k] = obj[k];
  return out;
}

function publicUser(u) {
  const { password, methods, memberOf, forceChangePasswordNextSignIn, pageSize, nextLinkBase, ...rest } = u;
  return rest;
}

function page(req, res, items, base, size = state.pageSize, linkBase = null) {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const top = Math.min(Number(url.searchParams.get('$top') || size), size);
  const skip = Number(url.searchParams.get('$skiptoken') || 0);
  const value = items.slice(skip, skip + top);
  // No `@odata.context`: Microsoft's description lets only objects be extra members.
  const body = { value };
  if (skip + top < items.length) {
    const next = new URL(url);
    next.searchParams.set('$skiptoken', String(skip + top));
    body['@odata.nextLink'] = `${linkBase || base}${next.pathname.replace(/^\/(v1\.0\/)?/, '')}${next.search}`;
  }
  send(res, 200, body);
}

function groupClosure(u) {
  const out = [];
  const seen = new Set();
  const visit = (id) => {
    if (seen.has(id)) return;
    seen.add(id);
    const g = state.groups.find((x) => x.id === id);
    if (!g) return;
    out.push({ '@odata.type': g.type || '#microsoft.graph.group', id: g.id, displayName: g.displayName });
    for (const parent of g.memberOf || []) visit(parent);
  };
  for (const id of u.memberOf) visit(id);
  return out;
}

function complexEnough(p) {
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(p)).length;
  return p.length >= 8 && p.length <= 256 && classes >= 3;
}

async function graph(req, res, path, url, base, fault) {
  const auth = req.headers.authorization || '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  if (!token) return graphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
  if (!(tokens.get(token) > Date.now()) || (fault && fault.revokeTokens)) {
    return graphError(res, 401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
  }
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  const body = ['POST', 'PATCH'].includes(req.method) ? await readBody(req) : '';
  const apply = () => route(req, res, seg, url, base, body);
  if (fault && fault.drop === 'after') {
    // Apply, then lose the answer: the change took effect, the caller cannot know.
    const sink = { writeHead() {}, end() {} };
    route(req, sink, seg, url, base, body);
    req.socket.destroy();
    return;
  }
  return apply();
}

function route(req, res, seg, url, base, body) {
  if (seg[0] !== 'users') return graphError(res, 400, 'BadRequest', 'Resource not found for the segment.');
  if (seg.length === 1 && req.method === 'GET') {
    if (!needs(res, 'User.Read.All')) return;
    const filter = url.searchParams.get('$filter');
    let users = state.users;
    if (filter !== null) {
      const f = parseFilter(filter);
      if (!f) return graphError(res, 400, 'Request_UnsupportedQuery', 'Unsupported Query.');
      users = users.filter(
        (u) => u.userPrincipalName.toLowerCase() === f[0].toLowerCase() || (u.mail && u.mail.toLowerCase() === f[1].toLowerCase()),
      );
    }
    const sel = url.searchParams.get('$select');
    return page(req, res, users.map((u) => select(publicUser(u), sel)), base);
  }
  const u = userById(seg[1]);
  if (!u) return graphError(res, 404, 'Request_ResourceNotFound', `Resource '${seg[1]}' does not exist or one of its queried reference-property objects are not present.`);
  if (seg.length === 2 && req.method === 'PATCH') {
    if (!needs(res, 'User-PasswordProfile.ReadWrite.All')) return;
    let patch;
    try {
      patch = JSON.parse(body);
    } catch {
      return graphError(res, 400, 'BadRequest', 'Unable to read JSON request payload.');
    }
    const p = patch.passwordProfile;
    if (p && typeof p.password === 'string') {
      if (!complexEnough(p.password)) {
        return graphError(res, 400, 'Request_BadRequest', 'The specified password does not comply with password complexity requirements. Please provide a different password.', {
          details: [{ code: 'InvalidValue', message: 'The password does not comply with the password policy.', target: 'passwordProfile.password' }],
        });
      }
      u.password = p.password;
      u.forceChangePasswordNextSignIn = !!p.forceChangePasswordNextSignIn;
      u.lastPasswordChangeDateTime = new Date().toISOString();
    }
    res.writeHead(204, { 'request-id': crypto.randomUUID() });
    return res.end();
  }
  if (seg.length === 3 && seg[2] === 'transitiveMemberOf' && req.method === 'GET') {
    if (!needs(res, 'GroupMember.Read.All')) return;
    return page(req, res, groupClosure(u), base, u.pageSize || state.pageSize, u.nextLinkBase);
  }
  if (seg[2] === 'authentication') {
    if (!needs(res, 'UserAuthenticationMethod.ReadWrite.All')) return;
    if (seg.length === 4 && seg[3] === 'methods' && req.method === 'GET') {
      return page(req, res, u.methods, base, u.pageSize || state.pageSize);
    }
    if (seg.length === 4 && seg[3] === 'temporaryAccessPassMethods' && req.method === 'POST') {
      let b;
      try {
        b = JSON.parse(body);
      } catch {
        return graphError(res, 400, 'BadRequest', 'Unable to read JSON request payload.');
      }
      const lifetime = b.lifetimeInMinutes ?? 60;
      const pol = state.tapPolicy;
      if (!pol.enabled || lifetime < pol.minLifetime || lifetime > pol.maxLifetime) {
        return graphError(res, 400, 'badRequest', 'Temporary Access Pass policy does not allow this request.');
      }
      // One pass a user: a new one replaces the old.
      u.methods = u.methods.filter((m) => m['@odata.type'] !== METHOD_KINDS.temporaryAccessPassMethods);
      const now = new Date().toISOString();
      const tap = {
        '@odata.type': METHOD_KINDS.temporaryAccessPassMethods,
        id: crypto.randomUUID(),
        temporaryAccessPass: crypto.randomBytes(6).toString('base64url'),
        createdDateTime: now,
        startDateTime: now,
        lifetimeInMinutes: lifetime,
        isUsableOnce: b.isUsableOnce ?? false,
        isUsable: true,
        methodUsabilityReason: 'EnabledByPolicy',
      };
      u.methods.push(tap);
      return send(res, 201, tap);
    }
    if (seg.length === 5 && METHOD_KINDS[seg[3]] && req.method === 'DELETE') {
      const i = u.methods.findIndex((m) => m.id === seg[4] && m['@odata.type'] === METHOD_KINDS[seg[3]]);
      if (i < 0) return graphError(res, 404, 'itemNotFound', 'The requested method was not found.');
      u.methods.splice(i, 1);
      res.writeHead(204, { 'request-id': crypto.randomUUID() });
      return res.end();
    }
  }
  graphError(res, 405, 'Request_BadRequest', 'The request is not supported by this double.');
}

function takeFault(method, path) {
  const i = faults.findIndex((f) => (!f.method || f.method === method) && (!f.path || path.includes(f.path)));
  if (i < 0) return null;
  const f = faults[i];
  f.times = (f.times ?? 1) - 1;
  if (f.times <= 0) faults.splice(i, 1);
  return f;
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, `http://${req.headers.host}`);
    const path = url.pathname;
    if (path.startsWith('/_control/')) {
      if (path === '/_control/add' && req.method === 'POST') {
        add(JSON.parse(await readBody(req)));
        return send(res, 200, { ok: true });
      }
      if (path === '/_control/faults' && req.method === 'POST') {
        faults.push(...JSON.parse(await readBody(req)));
        return send(res, 200, { ok: true });
      }
      if (path === '/_control/state' && req.method === 'GET') {
        return send(res, 200, { users: state.users, tokensIssued, log });
      }
      return send(res, 404, { error: 'no such control endpoint' });
    }
    log.push(`${req.method} ${path}${url.search}`);
    const fault = takeFault(req.method, path);
    if (fault && fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault && fault.drop === 'before') return req.socket.destroy();
    if (fault && fault.status) {
      const headers = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      return graphError(res, fault.status, fault.code || 'generalException', fault.message || 'Scripted fault.', {}, headers);
    }
    if (path === `/${TENANT}/oauth2/v2.0/token` && req.method === 'POST') {
      return issueToken(req, res, new URLSearchParams(await readBody(req)), fault);
    }
    // Graph's base URL as the connector was given it (the prefix is kept in next links).
    const prefix = path.startsWith('/v1.0/') ? '/v1.0/' : '/';
    const base = state.publicBase || `http://${req.headers.host}${prefix}`;
    return await graph(req, res, path.slice(prefix.length - 1), url, base, fault);
  } catch (e) {
    console.error(e);
    graphError(res, 500, 'generalException', `double failed: ${e.message}`);
  }
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`graph double listening on 127.0.0.1:${server.address().port}`);
});
