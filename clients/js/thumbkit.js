// thumbkit URLs for frontends and Node backends: the variant URL of a key, a preset's
// srcset, and URL signing (HMAC-SHA256, the same scheme as `thumbkit sign`). No dependencies.

const UNRESERVED = /[A-Za-z0-9\-._~:\/]/;

/**
 * Percent-encodes a key as thumbkit does: RFC 3986 unreserved characters, `:` (a source's
 * name: `docs:scans/a.pdf`) and `/` kept.
 */
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

// Rust's f64::round for the non-negative values here: halves away from zero.
const round = (x) => Math.floor(x + 0.5);

/**
 * What a preset makes of an upright original of `original` = {width, height} pixels, as the
 * server plans it: `{width, height, enlarges}`. `box` is the preset's {width, height} (either
 * may be null), `fit` one of inside, contain, fill, cover.
 */
export function output(original, box, fit = "inside", upscale = false) {
  const [sw, sh] = [original.width, original.height];
  const [bw, bh] = [box.width ?? null, box.height ?? null];
  let resized, used, canvas;
  if (fit === "inside" || fit === "contain") {
    const sx = bw ? bw / sw : null;
    const sy = bh ? bh / sh : null;
    const present = [sx, sy].filter((v) => v !== null);
    let scale = present.length ? Math.min(...present) : 1;
    if (!upscale) scale = Math.min(scale, 1);
    const rw = bw && sx <= scale ? bw : Math.max(1, round(sw * scale));
    const rh = bh && sy <= scale ? bh : Math.max(1, round(sh * scale));
    resized = [rw, rh];
    used = [sw, sh];
    canvas = fit === "inside" ? resized : [Math.max(bw ?? rw, rw), Math.max(bh ?? rh, rh)];
  } else if (fit === "fill") {
    const [w, h] = [bw ?? sw, bh ?? sh];
    resized = upscale ? [w, h] : [Math.min(w, sw), Math.min(h, sh)];
    used = [sw, sh];
    canvas = resized;
  } else if (fit === "cover") {
    const [fw, fh] = [bw ?? sw, bh ?? sh];
    used = sw / sh > fw / fh ? [(sh * fw) / fh, sh] : [sw, (sw * fh) / fw];
    resized =
      upscale || used[0] >= fw
        ? [Math.trunc(fw), Math.trunc(fh)]
        : [Math.max(1, round(used[0])), Math.max(1, round(used[1]))];
    canvas = resized;
  } else {
    throw new TypeError(`not a fit: ${JSON.stringify(fit)}`);
  }
  const enlarges = used[0] / resized[0] < 1 - 1e-9 || used[1] / resized[1] < 1 - 1e-9;
  return { width: canvas[0], height: canvas[1], enlarges };
}

/**
 * A preset's steps as `GET /v1/presets` lists them (`preset` is one entry of it, or
 * `{width, height, densities}` / `{width, height, widths}`): `[{suffix, width, height}]`,
 * the plain one first.
 */
export function steps(preset) {
  if (Array.isArray(preset.steps)) return preset.steps;
  const [w, h] = [preset.width ?? null, preset.height ?? null];
  if (preset.densities) {
    return preset.densities.map((n) => ({
      suffix: `${n}x`,
      width: w && w * n,
      height: h && h * n,
    }));
  }
  if (preset.widths) {
    const first = preset.widths[0];
    // The server's integer rounding of the height: (h * step + first / 2) / first, at least 1.
    return preset.widths.map((n) => ({
      suffix: `${n}w`,
      width: n,
      height: h && Math.max(1, Math.floor((h * n + Math.floor(first / 2)) / first)),
    }));
  }
  return [];
}

/**
 * A `srcset` for a preset's steps: `preset` is its name with `ladder` as the preset declares
 * it (`{ densities: [1, 2] }` or `{ widths: [320, 640] }`), or its entry of `GET /v1/presets`
 * (an object; `ladder` then null). The first step is the plain URL. Options: `base`, `hash`,
 * `original: {width, height}` (the manifest's; with a preset object, the result is exactly the
 * manifest's srcset: each step's real width, a step left out when it is no wider than the
 * last kept or enlarges the original), and `signer`, an async function from a URL to its
 * signed form (e.g. `(u) => sign(u, key, {ttl: 3600})`): with it, a Promise of the srcset.
 */
export function srcset(key, preset, ladder, options = {}) {
  const info = typeof preset === "string" ? { name: preset } : preset;
  const list = steps(ladder ? { ...info, ...ladder, steps: undefined } : info);
  if (list.length === 0) {
    throw new TypeError("steps must be { densities: [...] } or { widths: [...] }");
  }
  const boxKnown = typeof preset === "object" && ("width" in preset || "height" in preset);
  const original = options.original;
  if (original && !boxKnown) {
    throw new TypeError("options.original needs the preset's box: pass its entry of GET /v1/presets");
  }
  const byWidth = list[0].suffix.endsWith("w");
  const kept = [];
  let last = 0;
  list.forEach((step, i) => {
    let width = step.width ?? 0;
    let enlarges = false;
    if (original) {
      ({ width, enlarges } = output(original, step, info.fit ?? "inside", info.upscale ?? false));
      if (i > 0 && (width <= last || enlarges)) return;
    }
    last = width;
    const url = thumbUrl(key, info.name, { hash: options.hash, step: i === 0 ? undefined : step.suffix });
    kept.push({ url, descriptor: byWidth && original ? `${width}w` : step.suffix });
  });
  const base = (options.base ?? "").replace(/\/+$/, "");
  const join = (urls) => urls.map((u, i) => `${base}${u} ${kept[i].descriptor}`).join(", ");
  if (options.signer) {
    return Promise.all(kept.map((k) => options.signer(k.url))).then(join);
  }
  return join(kept.map((k) => k.url));
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

/**
 * A `next/image` loader that asks only for steps `preset` declares: the width Next asks for
 * maps to the smallest step at least that wide, else the largest, so no URL is ever a 404.
 * `preset` is its entry of `GET /v1/presets` (or `thumbkit presets --json`), or its name with
 * `options.widths` (or `options.densities` and `options.width`) as the preset file declares
 * them. `src` is the original's key (a leading `/` is dropped), optionally with `?v=HASH` to
 * pin it; Next's `quality` is the preset's to say, so it is not used. Options: `base`.
 *
 *   <Image loader={thumbkitLoader("hero", { widths: [320, 640, 1280], base })} src={key} … />
 */
export function thumbkitLoader(preset, options = {}) {
  const info =
    typeof preset === "string"
      ? { name: preset, width: options.width, widths: options.widths, densities: options.densities }
      : preset;
  const ladder = steps(info).filter((s) => s.width);
  if (ladder.length === 0) {
    throw new TypeError(`preset ${JSON.stringify(info.name)} declares no steps with widths`);
  }
  const base = (options.base ?? "").replace(/\/+$/, "");
  return ({ src, width }) => {
    const [key, query] = String(src).replace(/^\//, "").split("?");
    const hash = new URLSearchParams(query ?? "").get("v") ?? undefined;
    const at = ladder.findIndex((s) => s.width >= width);
    const i = at < 0 ? ladder.length - 1 : at;
    const step = i === 0 ? undefined : ladder[i].suffix;
    return thumbUrl(key, info.name, { base, hash, step });
  };
}

const HEX_COLOUR = /^#[0-9a-f]{6}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The placeholders of a manifest (`GET /v1/originals/{key}`, or an upload's answer), checked
 * before they reach a page: `color` (the average, for a `background-color` while the image
 * loads), `dominant`, `thumbhash` (base64, for the `thumbhash` package's
 * `thumbHashToDataURL`) and `blurhash`. A value that is not what thumbkit writes is left out
 * (undefined), so nothing from a manifest can inject CSS or markup.
 */
export function placeholder(manifest) {
  const m = manifest ?? {};
  const pick = (v, ok) => (typeof v === "string" && ok(v) ? v : undefined);
  return {
    color: pick(m.average_color, (v) => HEX_COLOUR.test(v)),
    dominant: pick(m.dominant_color, (v) => HEX_COLOUR.test(v)),
    thumbhash: pick(m.thumbhash, (v) => v.length <= 64 && BASE64.test(v)),
    blurhash: pick(m.blurhash, (v) => v.length <= 100 && /^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]+$/.test(v)),
  };
}
