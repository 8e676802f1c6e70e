// thumbkit URLs for frontends and Node backends: the variant URL of a key, a preset's
// srcset, and URL signing (HMAC-SHA256, the same scheme as `thumbkit sign`). No dependencies.

const UNRESERVED = /[A-Za-z0-9\-._~\/]/;

/** Percent-encodes a key as thumbkit does: RFC 3986 unreserved characters and `/` kept. */
export function encodeKey(key) {
  let out = "";
  for (const ch of key) {
    if (UNRESERVED.test(ch)) {
      out += ch;
    } else {
      for (const byte of new TextEncoder().encode(ch)) {
        out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
      }
    }
  }
  return out;
}

/**
 * The URL of `key`'s variant for `preset`: `/t/{preset}[@{step}]/{key}[?v={hash}]`, after
 * `options.base` (e.g. `https://img.example.com`).
 */
export function thumbUrl(key, preset, options = {}) {
  if (typeof key !== "string" || key === "" || key.startsWith("/")) {
    throw new TypeError(`not an object key: ${JSON.stringify(key)}`);
  }
  if (!/^[a-z0-9_-]{1,64}$/.test(preset)) {
    throw new TypeError(`not a preset name: ${JSON.stringify(preset)}`);
  }
  const base = (options.base ?? "").replace(/\/+$/, "");
  const step = options.step ? `@${options.step}` : "";
  const pin = options.hash ? `?v=${options.hash}` : "";
  return `${base}/t/${preset}${step}/${encodeKey(key)}${pin}`;
}

/**
 * A `srcset` for a preset's steps, as the preset declares them: `{ densities: [1, 2] }`
 * or `{ widths: [320, 640] }`. The first step is the plain URL.
 */
export function srcset(key, preset, steps, options = {}) {
  const list = steps.densities ?? steps.widths;
  const unit = steps.densities ? "x" : "w";
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError("steps must be { densities: [...] } or { widths: [...] }");
  }
  return list
    .map((n, i) => {
      const url = thumbUrl(key, preset, { ...options, step: i === 0 ? undefined : `${n}${unit}` });
      return `${url} ${n}${unit}`;
    })
    .join(", ");
}

function pairs(query) {
  return query
    .split("&")
    .filter((p) => p !== "")
    .map((p) => {
      const i = p.indexOf("=");
      return i < 0 ? [p, ""] : [p.slice(0, i), p.slice(i + 1)];
    });
}

const compare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The `exp` of a URL signed at `now` (Unix seconds) to live `ttl` seconds: `now + ttl`
 * rounded up to a window of a quarter of the TTL (at least a second), as every thumbkit
 * signer does, so that a page rendered twice within a window gives the same URLs.
 */
export function expiry(now, ttl) {
  const window = Math.max(1, Math.floor(ttl / 4));
  return Math.ceil((Math.floor(now) + Math.floor(ttl)) / window) * window;
}

/**
 * Signs a thumbnail path (percent-encoded, may carry `?v=`) with `key`: the same path with
 * `exp` and `sig` added. `when` is an exact expiry (Unix seconds), or `{ttl, now}`: `ttl`
 * seconds (default 3600) from `now` (default: the current time), rounded up as `expiry`
 * says. Keep `ttl` within the server's THUMBKIT_SIGNED_URL_TTL. For servers: never ship the
 * key to a browser. Uses Web Crypto (Node 18+).
 */
export async function sign(pathAndQuery, key, when = {}) {
  const expires =
    typeof when === "number"
      ? when
      : expiry(when.now ?? Date.now() / 1000, when.ttl ?? 3600);
  const at = pathAndQuery.indexOf("?");
  const path = at < 0 ? pathAndQuery : pathAndQuery.slice(0, at);
  const query = at < 0 ? "" : pathAndQuery.slice(at + 1);
  const kept = pairs(query).filter(([k]) => k !== "exp" && k !== "sig");
  kept.push(["exp", String(Math.floor(expires))]);
  const sorted = [...kept].sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
  const message = `${path}\n${sorted.map(([k, v]) => `${k}=${v}`).join("&")}`;
  const encoder = new TextEncoder();
  const hmacKey = await globalThis.crypto.subtle.importKey(
    "raw",
    encoder.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", hmacKey, encoder.encode(message)));
  const sig = [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${path}?${kept.map(([k, v]) => `${k}=${v}`).join("&")}&sig=${sig}`;
}
