// A relying party acting as Okta towards Reclaim's identity-verification provider, for
// crates/server/tests/server/idv.rs. It uses openid-client (Filip Skokan, MIT licence,
// OpenID-certified relying party) for discovery, PAR, PKCE, the code grant and ID token
// validation, with its non-repudiation checks on (the ID token's signature is verified
// with the provider's published JWKS), and jose (same author, MIT) to verify a token
// again later against the JWKS (key rotation).
//
// Usage: node rp.mjs ISSUER, with IDV_CLIENTS='{"okta":{"id":..,"secret":..,"auth":"basic"|"post"}}'.
// It reads one JSON command a line on stdin and answers one JSON line on stdout:
//   {"cmd":"start","flow":F,"client":C,"redirect_uri":U,"claims":{..}}  PAR, then the
//       authorization page: {"ok":true,"session":..,"handoff":..} or {"ok":false,"error":..}
//   {"cmd":"authorize_again","flow":F}   the same authorization URL again: {"status":..}
//   {"cmd":"finish","flow":F,"session_of":G,"cookie_of":H}  the finish page (of G's
//       session with H's cookie; both F's by default): {"status":..,"location":..}
//   {"cmd":"redeem","flow":F,"client":C,"verifier":"wrong"?,"redirect_uri":U?}
//       the code grant: {"ok":true,"id_token":..,"claims":..,"kid":..} or {"ok":false,"error":..}
//   {"cmd":"verify","jwt":T,"audience":A}  jose against the JWKS: {"ok":..,"kid":..}
import * as client from "openid-client";
import * as jose from "jose";
import readline from "node:readline";

const issuer = new URL(process.argv[2]);
const registered = JSON.parse(process.env.IDV_CLIENTS || "{}");
const configs = {};
const flows = {};

async function configOf(name) {
  if (!configs[name]) {
    const c = registered[name];
    if (!c) throw new Error(`no client ${name}`);
    const auth = c.auth === "post" ? client.ClientSecretPost(c.secret) : client.ClientSecretBasic(c.secret);
    const config = await client.discovery(issuer, c.id, undefined, auth, {
      execute: [client.allowInsecureRequests],
    });
    client.enableNonRepudiationChecks(config);
    configs[name] = config;
  }
  return configs[name];
}

function failure(e) {
  return {
    ok: false,
    error: e.error || (e.cause && e.cause.error) || e.code || "error",
    status: e.status || (e.cause && e.cause.status) || null,
    message: String(e.message || e),
  };
}

function unescapeHtml(s) {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

async function start(cmd) {
  const config = await configOf(cmd.client);
  const verifier = client.randomPKCECodeVerifier();
  const flow = {
    client: cmd.client,
    verifier,
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  const params = {
    redirect_uri: cmd.redirect_uri,
    scope: "openid profile identity_assurance",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state: flow.state,
    nonce: flow.nonce,
  };
  if (cmd.claims) params.claims = JSON.stringify(cmd.claims);
  try {
    flow.url = await client.buildAuthorizationUrlWithPAR(config, params);
  } catch (e) {
    return failure(e);
  }
  flows[cmd.flow] = flow;
  const res = await fetch(flow.url, { redirect: "manual" });
  const body = await res.text();
  if (res.status !== 200) return { ok: false, error: "authorize", status: res.status, message: body };
  const setCookie = res.headers.get("set-cookie") || "";
  flow.cookie = setCookie.split(";")[0];
  const main = body.match(/<main id="idv" data-session="([^"]+)" data-status="([^"]+)" data-finish="([^"]+)">/);
  const handoff = body.match(/<pre id="handoff-text">([^<]+)<\/pre>/);
  if (!main || !handoff) return { ok: false, error: "page", status: res.status, message: body };
  flow.session = main[1];
  flow.finishPath = unescapeHtml(main[3]);
  return { ok: true, session: flow.session, handoff: unescapeHtml(handoff[1]), has_cookie: flow.cookie.length > 0 };
}

async function finish(cmd) {
  const flow = flows[cmd.flow];
  const target = flows[cmd.session_of || cmd.flow];
  const cookieFlow = flows[cmd.cookie_of || cmd.flow];
  const cookie = cookieFlow.cookie.replace(/^reclaim_idv_[^=]+=/, `reclaim_idv_${target.session}=`);
  const res = await fetch(new URL(target.finishPath, issuer), { redirect: "manual", headers: { cookie } });
  const location = res.headers.get("location");
  if (location && cmd.flow) flow.callback = location;
  return { status: res.status, location };
}

async function redeem(cmd) {
  const flow = flows[cmd.flow];
  const config = await configOf(cmd.client || flow.client);
  let callback = new URL(flow.callback);
  if (cmd.redirect_uri) {
    const other = new URL(cmd.redirect_uri);
    other.search = callback.search;
    callback = other;
  }
  try {
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: cmd.verifier === "wrong" ? client.randomPKCECodeVerifier() : flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const header = jose.decodeProtectedHeader(tokens.id_token);
    return { ok: true, id_token: tokens.id_token, claims: tokens.claims(), kid: header.kid };
  } catch (e) {
    return failure(e);
  }
}

async function verify(cmd) {
  const config = await configOf(Object.keys(registered)[0]);
  const meta = config.serverMetadata();
  try {
    const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
    const { protectedHeader } = await jose.jwtVerify(cmd.jwt, jwks, {
      issuer: meta.issuer,
      audience: cmd.audience,
      algorithms: ["ES256"],
    });
    return { ok: true, kid: protectedHeader.kid };
  } catch (e) {
    return failure(e);
  }
}

async function handle(cmd) {
  switch (cmd.cmd) {
    case "start":
      return start(cmd);
    case "authorize_again": {
      const res = await fetch(flows[cmd.flow].url, { redirect: "manual" });
      return { status: res.status };
    }
    case "finish":
      return finish(cmd);
    case "redeem":
      return redeem(cmd);
    case "verify":
      return verify(cmd);
    case "metadata": {
      const config = await configOf(Object.keys(registered)[0]);
      return { ok: true, metadata: config.serverMetadata() };
    }
    default:
      return { ok: false, error: "unknown command" };
  }
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = await handle(JSON.parse(line));
  } catch (e) {
    answer = failure(e);
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
