// The demo page's script: the browser-upload flow, then a card per variant with its
// BlurHash placeholder, and an <img srcset> snippet per preset. No dependencies.

const $ = (id) => document.getElementById(id);
const status = (text, error = false) => {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
};

// What a browser's <img> sends, so that `auto` presets negotiate as they would in a page.
const IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";

// Browsers leave `type` empty for formats they do not know (JPEG XL, HEIC on most systems).
const TYPES_BY_EXTENSION = {
  jxl: "image/jxl", heic: "image/heic", heif: "image/heif", avif: "image/avif",
  mkv: "video/x-matroska", mov: "video/quicktime",
};
function typeFromName(name) {
  const ext = (name.split(".").pop() || "").toLowerCase();
  return TYPES_BY_EXTENSION[ext] || "application/octet-stream";
}

function headers(extra = {}) {
  const token = $("token").value.trim();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function problem(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || response.statusText;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function upload(file) {
  document.body.dataset.state = "uploading";
  $("grid").replaceChildren();
  $("snippets").replaceChildren();
  const safe = file.name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[-.]+/, "") || "image";
  const key = `demo/${Date.now()}-${safe}`;
  status(`Asking for an upload ticket for ${key}…`);
  let response = await fetch("/v1/uploads", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ key, content_type: file.type || typeFromName(file.name), size: file.size }),
  });
  if (!response.ok) throw new Error(`ticket: ${await problem(response)}`);
  const ticket = await response.json();
  status(`Uploading ${file.size} bytes…`);
  response = await fetch(ticket.upload_url, { method: ticket.method, headers: ticket.headers, body: file });
  if (!response.ok) throw new Error(`upload: ${await problem(response)}`);
  status("Validating and pre-generating every variant…");
  response = await fetch(`${ticket.complete_url}?pregenerate=all`, { method: "POST", headers: headers() });
  if (!response.ok) throw new Error(`complete: ${await problem(response)}`);
  return response.json();
}

const HEX_COLOUR = /^#[0-9a-f]{6}$/;

/// The manifest's colours as swatches and its ThumbHash as text (only values shaped as
/// thumbkit writes them reach the page).
function placeholders(manifest) {
  const place = $("placeholders");
  place.replaceChildren();
  for (const [label, value] of [["average", manifest.average_color], ["dominant", manifest.dominant_color]]) {
    if (typeof value !== "string" || !HEX_COLOUR.test(value)) continue;
    const swatch = document.createElement("figure");
    swatch.className = "swatch";
    swatch.dataset.kind = label;
    swatch.dataset.color = value;
    swatch.style.backgroundColor = value;
    const caption = document.createElement("figcaption");
    caption.textContent = `${label} ${value}`;
    swatch.append(caption);
    place.append(swatch);
  }
  if (typeof manifest.thumbhash === "string") {
    const code = document.createElement("code");
    code.className = "thumbhash";
    code.textContent = `thumbhash ${manifest.thumbhash}`;
    place.append(code);
  }
}

function card(name, info, blurhash, color) {
  const figure = document.createElement("figure");
  figure.dataset.variant = name;
  const frame = document.createElement("div");
  frame.className = "frame";
  if (typeof color === "string" && HEX_COLOUR.test(color)) frame.style.backgroundColor = color;
  if (blurhash) {
    const canvas = document.createElement("canvas");
    canvas.width = 32;
    canvas.height = 32;
    canvas.setAttribute("aria-hidden", "true");
    paintBlurhash(canvas, blurhash);
    frame.append(canvas);
  }
  const img = document.createElement("img");
  img.width = info.width;
  img.height = info.height;
  img.alt = `${name} variant, ${info.width}×${info.height}`;
  img.dataset.width = info.width;
  img.dataset.height = info.height;
  frame.append(img);
  const caption = document.createElement("figcaption");
  caption.innerHTML = `<strong></strong><span class="facts">${info.width}×${info.height}, loading…</span>`;
  caption.querySelector("strong").textContent = name;
  figure.append(frame, caption);
  return { figure, img, facts: caption.querySelector(".facts") };
}

async function load({ img, facts }, info) {
  const response = await fetch(info.url, { headers: { Accept: IMAGE_ACCEPT } });
  if (!response.ok) throw new Error(`${info.url}: ${await problem(response)}`);
  const blob = await response.blob();
  const tier = response.headers.get("X-Cache") || "?";
  const type = (response.headers.get("Content-Type") || blob.type).replace("image/", "");
  await new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = () => reject(new Error(`${info.url} did not decode`));
    img.src = URL.createObjectURL(blob);
  });
  img.classList.add("loaded");
  img.dataset.loaded = "true";
  facts.textContent = `${img.naturalWidth}×${img.naturalHeight}, ${type}, ${blob.size} bytes, ${tier}`;
}

function snippets(manifest) {
  for (const [name, info] of Object.entries(manifest.variants)) {
    if (info.step_of) continue;
    const attr = (v) => String(v).replaceAll("&", "&amp;").replaceAll('"', "&quot;");
    const attrs = [`src="${attr(info.url)}"`];
    if (info.srcset) attrs.push(`srcset="${attr(info.srcset)}"`);
    if (info.sizes) attrs.push(`sizes="${attr(info.sizes)}"`);
    attrs.push(`width="${info.width}"`, `height="${info.height}"`, `alt=""`);
    const block = document.createElement("div");
    const label = document.createElement("h3");
    label.textContent = name;
    const pre = document.createElement("pre");
    pre.textContent = `<img ${attrs.join(" ")}>`;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.textContent = `Copy the ${name} snippet`;
    copy.addEventListener("click", () => navigator.clipboard?.writeText(pre.textContent));
    block.append(label, pre, copy);
    $("snippets").append(block);
  }
}

/// The whole picture (the first variant that keeps its aspect ratio) with the subject's box
/// and each face's drawn over it, in percentages of the picture.
function subject(manifest) {
  const place = $("subject");
  place.replaceChildren();
  if (!manifest.subject) return;
  const ratio = manifest.width / manifest.height;
  const whole = Object.values(manifest.variants)
    .filter((v) => !v.step_of && Math.abs(v.width / v.height - ratio) < 0.02)
    .sort((a, b) => a.width - b.width)
    .find((v) => v.width >= 320);
  if (!whole) return;
  const img = document.createElement("img");
  img.src = whole.url;
  img.alt = `${manifest.key} with its subject marked`;
  img.width = whole.width;
  img.height = whole.height;
  place.append(img);
  const box = (b, kind) => {
    const div = document.createElement("div");
    div.className = `box ${kind}`;
    div.dataset.kind = kind;
    Object.assign(div.style, {
      left: `${b.x * 100}%`, top: `${b.y * 100}%`, width: `${b.w * 100}%`, height: `${b.h * 100}%`,
    });
    place.append(div);
  };
  box(manifest.subject, "subject");
  for (const face of manifest.subject.faces || []) box(face, "face");
}

async function show(manifest) {
  window.thumbkitManifest = manifest;
  subject(manifest);
  placeholders(manifest);
  const entries = Object.entries(manifest.variants);
  const cards = entries.map(([name, info]) => [card(name, info, manifest.blurhash, manifest.average_color), info]);
  $("grid").replaceChildren(...cards.map(([c]) => c.figure));
  snippets(manifest);
  status(`Loading ${entries.length} variants of ${manifest.key}…`);
  await Promise.all(cards.map(([c, info]) => load(c, info)));
  status(`${entries.length} variants of ${manifest.key} (${manifest.width}×${manifest.height}).`);
  document.body.dataset.state = "done";
}

async function handle(file) {
  if (!file) return;
  try {
    await show(await upload(file));
  } catch (e) {
    status(e.message, true);
    document.body.dataset.state = "error";
  }
}

// BlurHash (https://blurha.sh) decoded onto a small canvas, stretched as the placeholder.
const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
const decode83 = (s) => [...s].reduce((v, c) => v * 83 + DIGITS.indexOf(c), 0);
const toLinear = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
const toSrgb = (v) => {
  v = Math.max(0, Math.min(1, v));
  return Math.round((v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055) * 255);
};
const signPow = (v, e) => Math.sign(v) * Math.abs(v) ** e;

function paintBlurhash(canvas, hash) {
  const size = decode83(hash[0]);
  const nx = (size % 9) + 1, ny = Math.floor(size / 9) + 1;
  if (hash.length !== 4 + 2 * nx * ny) return;
  const max = (decode83(hash[1]) + 1) / 166;
  const colours = [];
  for (let i = 0; i < nx * ny; i++) {
    if (i === 0) {
      const v = decode83(hash.slice(2, 6));
      colours.push([toLinear(v >> 16), toLinear((v >> 8) & 255), toLinear(v & 255)]);
    } else {
      const v = decode83(hash.slice(4 + i * 2, 6 + i * 2));
      colours.push([Math.floor(v / 361), Math.floor(v / 19) % 19, v % 19].map((q) => signPow((q - 9) / 9, 2) * max));
    }
  }
  const { width: w, height: h } = canvas;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const rgb = [0, 0, 0];
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const basis = Math.cos((Math.PI * x * i) / w) * Math.cos((Math.PI * y * j) / h);
          const c = colours[i + j * nx];
          rgb[0] += c[0] * basis; rgb[1] += c[1] * basis; rgb[2] += c[2] * basis;
        }
      }
      const p = 4 * (x + y * w);
      image.data.set([toSrgb(rgb[0]), toSrgb(rgb[1]), toSrgb(rgb[2]), 255], p);
    }
  }
  ctx.putImageData(image, 0, 0);
}

$("file").addEventListener("change", (e) => handle(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("click", () => $("file").click());
drop.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); }
});
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  handle(e.dataTransfer.files[0]);
});
document.body.dataset.state = "ready";
