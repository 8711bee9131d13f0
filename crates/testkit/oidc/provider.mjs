// An OpenID provider for Reclaim's tests (crates/testkit/src/oidc.rs starts it).
//
// The protocol is oidc-provider's (https://github.com/panva/node-oidc-provider, MIT,
// Copyright (c) 2015 Filip Skokan; pinned in package.json), a certified implementation, so
// the relying party is tested against a real provider rather than against our reading of
// the specification. What is ours is small: static accounts with passwords and groups, a
// login form (a real page a browser fills in), consent granted without asking, and the
// settings below.
//
// Plain http on 127.0.0.1: the relying party accepts http only for loopback hosts.
//
// Settings, all from the environment:
//   OIDC_PORT            port to listen on (127.0.0.1)
//   OIDC_CLIENT_ID       the confidential client (client_secret_basic); `${id}-es256`
//                        is the same client whose ID tokens are signed with ES256
//   OIDC_CLIENT_SECRET   its secret
//   OIDC_REDIRECT_URIS   the client's redirect URIs, separated by spaces
//   OIDC_ID_TOKEN_TTL    ID token lifetime in seconds (default 300)

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import Provider from 'oidc-provider';

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback === undefined) {
      console.error(`${name} is not set`);
      process.exit(2);
    }
    return fallback;
  }
  return v;
};

const port = Number(env('OIDC_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const clientId = env('OIDC_CLIENT_ID');
const clientSecret = env('OIDC_CLIENT_SECRET');
const redirectUris = env('OIDC_REDIRECT_URIS').split(' ').filter((u) => u !== '');
const idTokenTtl = Number(env('OIDC_ID_TOKEN_TTL', '300'));

// The people who can sign in, their passwords and groups (crates/testkit/src/oidc.rs lists
// the same, for the tests). Everyone has a verified mail, `LOGIN@example.test`, except
// frank (`mail: false`), whom the provider names by nothing but the subject.
const ACCOUNTS = {
  alice: { name: 'Alice Example', groups: ['reclaim-reviewers'] },
  bob: { name: 'Bob Example', groups: ['reclaim-reviewers'] },
  carol: { name: 'Carol Example', groups: ['reclaim-auditors'] },
  dave: { name: 'Dave Example', groups: ['reclaim-admins'] },
  erin: { name: 'Erin Example', groups: [] },
  frank: { name: 'Frank Example', groups: ['reclaim-reviewers'], mail: false },
  // A reviewer whose sign-in is a password alone (the rest sign in with a second factor).
  grace: { name: 'Grace Example', groups: ['reclaim-reviewers'], amr: ['pwd'] },
};
const password = (login) => `${login}-password`;
// How each account signs in (RFC 8176), as the ID token's `amr` says.
const amr = (login) => ACCOUNTS[login].amr ?? ['pwd', 'mfa'];

// Fresh signing keys each start: one RSA (RS256) and one P-256 (ES256).
const jwk = (type, options, kid, alg) => {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
};
const keys = [
  jwk('rsa', { modulusLength: 2048 }, `rsa-${randomBytes(4).toString('hex')}`, 'RS256'),
  jwk('ec', { namedCurve: 'P-256' }, `ec-${randomBytes(4).toString('hex')}`, 'ES256'),
];

const client = (id, alg) => ({
  client_id: id,
  client_secret: clientSecret,
  token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: redirectUris,
  response_types: ['code'],
  grant_types: ['authorization_code'],
  id_token_signed_response_alg: alg,
});

const provider = new Provider(issuer, {
  clients: [client(clientId, 'RS256'), client(`${clientId}-es256`, 'ES256')],
  jwks: { keys },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // Every client, confidential ones too, must use PKCE (S256 is the only method enabled).
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    // `amr` says how the person signed in (the relying party requires a second factor).
    openid: ['sub', 'amr'],
    profile: ['name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // The scopes' claims go into the ID token itself, where the relying party reads them,
  // not only to the userinfo endpoint.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { IdToken: idTokenTtl, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
  async findAccount(_ctx, sub) {
    const account = ACCOUNTS[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        const mail = account.mail === false ? {} : { email: `${sub}@example.test`, email_verified: true };
        return { sub, name: account.name, ...mail, groups: account.groups };
      },
    };
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const loginPage = (uid, error) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<h1>Sign in to the test provider</h1>
${error ? `<p id="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<label>Login <input type="text" name="login" autofocus required></label>
<label>Password <input type="password" name="password" required></label>
<button type="submit" id="submit">Sign in</button>
</form>
</body></html>`;

const readForm = (req) => new Promise((resolve, reject) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
    if (body.length > 16384) reject(new Error('form too large'));
  });
  req.on('end', () => resolve(new URLSearchParams(body)));
  req.on('error', reject);
});

const samePassword = (given, expected) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

// Consent is granted for whatever the client asked, without a page.
async function grantConsent(req, res, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  if (prompt.details.missingResourceScopes) {
    for (const [indicator, scope] of Object.entries(prompt.details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scope.join(' '));
    }
  }
  const id = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId: id } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, url) {
  const parts = url.pathname.split('/').filter((p) => p !== '');
  // /interaction/UID or /interaction/UID/login
  const details = await provider.interactionDetails(req, res);
  if (parts[1] !== details.uid) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('interaction mismatch\n');
    return;
  }
  const html = (status, body) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(body);
  };
  if (req.method === 'GET' && parts.length === 2) {
    if (details.prompt.name === 'login') return html(200, loginPage(details.uid));
    if (details.prompt.name === 'consent') return grantConsent(req, res, details);
    res.writeHead(501).end();
    return;
  }
  if (req.method === 'POST' && parts.length === 3 && parts[2] === 'login' && details.prompt.name === 'login') {
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const given = form.get('password') ?? '';
    if (!Object.hasOwn(ACCOUNTS, login) || !samePassword(given, password(login))) {
      return html(401, loginPage(details.uid, 'Wrong login or password.'));
    }
    await provider.interactionFinished(req, res, { login: { accountId: login, amr: amr(login) } }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(405).end();
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/interaction' || url.pathname.startsWith('/interaction/')) {
    interaction(req, res, url).catch((err) => {
      // An expired or unknown interaction (its cookie gone): a plain error page.
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${err.name}\n`);
    });
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
