// Tests of the JS helper with Node's built-in runner (`node --test`), including the signing
// vectors shared with the Rust and Python signers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { encodeKey, thumbUrl, srcset, sign, expiry, thumbkitLoader, output, placeholder } from "../thumbkit.js";

const vectors = JSON.parse(readFileSync(new URL("../../signing-vectors.json", import.meta.url))).vectors;

test("keys are encoded as thumbkit encodes them", () => {
  assert.equal(encodeKey("a b/é?#%.jpg"), "a%20b/%C3%A9%3F%23%25.jpg");
  assert.equal(encodeKey("x/(1)!*'.png"), "x/%281%29%21%2A%27.png");
  // A source's name stays readable, as the server's manifests write it.
  assert.equal(encodeKey("docs:scans/a b.pdf"), "docs:scans/a%20b.pdf");
});

test("thumbUrl builds plain, stepped, pinned and absolute URLs", () => {
  const hash = "ab".repeat(32);
  assert.equal(thumbUrl("p/a.jpg", "card"), "/t/card/p/a.jpg");
  assert.equal(thumbUrl("p/a.jpg", "card", { step: "2x", hash }), `/t/card@2x/p/a.jpg?v=${hash}`);
  assert.equal(thumbUrl("a.jpg", "thumb", { base: "https://img.example/" }), "https://img.example/t/thumb/a.jpg");
  assert.throws(() => thumbUrl("/abs.jpg", "thumb"), TypeError);
  assert.throws(() => thumbUrl("a.jpg", "Bad Name"), TypeError);
});

test("srcset lists every step, the first as the plain URL", () => {
  assert.equal(srcset("a.jpg", "card", { densities: [1, 2] }), "/t/card/a.jpg 1x, /t/card@2x/a.jpg 2x");
  assert.equal(
    srcset("a.jpg", "hero", { widths: [320, 640] }, { hash: "00".repeat(32) }),
    `/t/hero/a.jpg?v=${"00".repeat(32)} 320w, /t/hero@640w/a.jpg?v=${"00".repeat(32)} 640w`,
  );
  assert.throws(() => srcset("a.jpg", "card", {}), TypeError);
});

test("sign agrees with every shared vector", async () => {
  assert.ok(vectors.length >= 5);
  for (const v of vectors) {
    assert.equal(await sign(v.path, v.key, v.expires), v.signed, v.description);
  }
});

test("a lifetime is rounded up as the shared vectors say, and an exact expiry is kept", async () => {
  const rounded = vectors.filter((v) => v.ttl !== undefined);
  assert.ok(rounded.length >= 5);
  for (const v of rounded) {
    assert.equal(expiry(v.now, v.ttl), v.expires, v.description);
    assert.equal(await sign(v.path, v.key, { ttl: v.ttl, now: v.now }), v.signed, v.description);
  }
  // The same page rendered twice a few minutes apart: the same URL.
  const first = await sign("/t/thumb/a.jpg", "first-key-0123456789", { ttl: 3600, now: 1767225601 });
  const later = await sign("/t/thumb/a.jpg", "first-key-0123456789", { ttl: 3600, now: 1767226400 });
  assert.equal(first, later);
  // By default: an hour from now, rounded.
  const now = Date.now() / 1000;
  const exp = Number((await sign("/t/thumb/a.jpg", "first-key-0123456789")).match(/exp=(\d+)/)[1]);
  assert.ok(exp >= now + 3600 - 1 && exp <= now + 4500 + 1, `${exp - now}`);
});

test("a changed path or expiry changes the signature", async () => {
  const a = await sign("/t/thumb/a.jpg", "first-key-0123456789", 1000);
  const b = await sign("/t/thumb/b.jpg", "first-key-0123456789", 1000);
  const c = await sign("/t/thumb/a.jpg", "first-key-0123456789", 1001);
  const sig = (u) => u.split("sig=")[1];
  assert.notEqual(sig(a), sig(b));
  assert.notEqual(sig(a), sig(c));
  assert.match(sig(a), /^[0-9a-f]{64}$/);
});

// next/image's own defaults (next.config.js `images.deviceSizes` and `images.imageSizes`).
const NEXT_DEVICE_SIZES = [640, 750, 828, 1080, 1200, 1920, 2048, 3840];
const NEXT_IMAGE_SIZES = [16, 32, 48, 64, 96, 128, 256, 384];

test("the Next.js loader maps every default size to a declared step", () => {
  const loader = thumbkitLoader("hero", { widths: [320, 640, 1280], base: "https://img.example.com/" });
  const seen = new Set();
  for (const width of [...NEXT_IMAGE_SIZES, ...NEXT_DEVICE_SIZES]) {
    const url = loader({ src: "/albums/a b.jpg", width, quality: 75 });
    const step = url.match(/\/t\/hero(@\d+w)?\//)[1] ?? "";
    const w = step ? Number(step.slice(1, -1)) : 320;
    assert.ok([320, 640, 1280].includes(w), url);
    assert.ok(w >= width || w === 1280, `${width} -> ${url}`);
    seen.add(url);
  }
  assert.deepEqual([...seen].sort(), [
    "https://img.example.com/t/hero/albums/a%20b.jpg",
    "https://img.example.com/t/hero@1280w/albums/a%20b.jpg",
    "https://img.example.com/t/hero@640w/albums/a%20b.jpg",
  ]);
  // Pinned through the src; a preset entry from GET /v1/presets works as well.
  const pinned = thumbkitLoader({ name: "avatar", steps: [
    { suffix: "1x", width: 128, height: 128 },
    { suffix: "2x", width: 256, height: 256 },
  ] });
  assert.equal(pinned({ src: `u/7.jpg?v=${"ab".repeat(32)}`, width: 200 }), `/t/avatar@2x/u/7.jpg?v=${"ab".repeat(32)}`);
  assert.throws(() => thumbkitLoader("plain", {}), TypeError);
});

test("output follows the server's geometry", () => {
  assert.deepEqual(output({ width: 4032, height: 3024 }, { width: 320, height: 320 }), { width: 320, height: 240, enlarges: false });
  assert.deepEqual(output({ width: 100, height: 50 }, { width: 128, height: 128 }, "cover", true), { width: 128, height: 128, enlarges: true });
  assert.deepEqual(output({ width: 100, height: 50 }, { width: 128, height: 128 }, "cover", false), { width: 50, height: 50, enlarges: false });
});

test("placeholder passes thumbkit's values and drops anything that could inject CSS", () => {
  const manifest = {
    average_color: "#ab214e",
    dominant_color: "#dc1e1e",
    thumbhash: "lxiDa5Q8nwOIh3gNiNhwhxBjiIh3iHg=",
    blurhash: "L*K#|owX21auspjrWrfPfQfQfQfQ",
  };
  assert.deepEqual(placeholder(manifest), {
    color: "#ab214e",
    dominant: "#dc1e1e",
    thumbhash: "lxiDa5Q8nwOIh3gNiNhwhxBjiIh3iHg=",
    blurhash: "L*K#|owX21auspjrWrfPfQfQfQfQ",
  });
  const hostile = placeholder({
    average_color: "red;background:url(https://evil.example/x)",
    dominant_color: "#ABCDEF\"><script>",
    thumbhash: "</style><script>alert(1)</script>",
    blurhash: "x".repeat(5000),
  });
  assert.deepEqual(hostile, { color: undefined, dominant: undefined, thumbhash: undefined, blurhash: undefined });
  assert.deepEqual(placeholder(null), { color: undefined, dominant: undefined, thumbhash: undefined, blurhash: undefined });
});
