// The console's one script: the two passkey ceremonies (WebAuthn), enrolment and
// sign-in. Each is a button with `data-passkey` ("enrol" or "sign-in"); what happens is
// said in the page's status region (`role="status"`), refusals as alerts.
"use strict";
(function () {
  var button = document.querySelector("button[data-passkey]");
  var status = document.getElementById("passkey-status");
  if (!button || !status) {
    return;
  }
  var kind = button.getAttribute("data-passkey");

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "note warn" : "note";
    status.setAttribute("role", bad ? "alert" : "status");
  }

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(
        function (j) {
          if (!r.ok) {
            throw new Error(j.message || "The console refused (HTTP " + r.status + ").");
          }
          return j;
        },
        function () {
          throw new Error("The console answered HTTP " + r.status + ".");
        }
      );
    });
  }

  // The browser's answer, as the server reads it (binary fields in base64url).
  function credentialJson(c) {
    var r = c.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) {
        response.userHandle = toB64url(r.userHandle);
      }
    }
    return {
      id: c.id,
      rawId: toB64url(c.rawId),
      type: c.type,
      response: response,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
    };
  }

  function failed(e) {
    button.disabled = false;
    // Back where the person was, to try again (disabling it moved the focus away).
    button.focus();
    if (e && (e.name === "NotAllowedError" || e.name === "AbortError")) {
      say("The passkey request was cancelled or timed out. Press the button to try again.", true);
    } else if (e && e.name === "InvalidStateError") {
      say("This authenticator already holds a passkey for this account.", true);
    } else {
      say((e && e.message) || "That did not work. Press the button to try again.", true);
    }
  }

  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
    button.disabled = true;
    say(
      "This browser cannot use passkeys. Use a current browser (Chrome, Edge, Firefox or Safari) on a device with a screen lock or a security key.",
      true
    );
    return;
  }

  // The enrolment link's secret is in the address's fragment, which no server sees; it
  // leaves the address bar at once.
  var token = "";
  if (kind === "enrol") {
    token = decodeURIComponent(window.location.hash.replace(/^#/, ""));
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname);
    }
    if (!token) {
      button.disabled = true;
      say("This address has no enrolment secret: open the whole link you were given.", true);
      return;
    }
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("Follow your browser's prompt to use your passkey (you will be asked for your PIN, fingerprint or face)…", false);
    var done;
    if (kind === "enrol") {
      done = post("/admin/enrol/begin", { token: token })
        .then(function (options) {
          var o = options.publicKey;
          o.challenge = fromB64url(o.challenge);
          o.user.id = fromB64url(o.user.id);
          (o.excludeCredentials || []).forEach(function (c) {
            c.id = fromB64url(c.id);
          });
          return navigator.credentials.create({ publicKey: o });
        })
        .then(function (c) {
          return post("/admin/enrol/finish", credentialJson(c));
        });
    } else {
      done = post("/admin/passkey/begin", {})
        .then(function (options) {
          var o = options.publicKey;
          o.challenge = fromB64url(o.challenge);
          (o.allowCredentials || []).forEach(function (c) {
            c.id = fromB64url(c.id);
          });
          return navigator.credentials.get({ publicKey: o });
        })
        .then(function (c) {
          return post("/admin/passkey/finish", credentialJson(c));
        });
    }
    done.then(function (answer) {
      say(answer.message || "Done.", false);
      window.location.assign(answer.next || "/admin");
    }, failed);
  });
})();
