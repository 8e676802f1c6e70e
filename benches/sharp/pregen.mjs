// sharp making a whole variant set of one photo, for `thumbkit bench --pregen`: the same
// sizes, fits, formats, qualities and encoder efforts thumbkit's pre-generation writes, on
// one libvips thread with the operation cache off. Two ways, and the faster counts:
//   clone: sharp(file).rotate() once, then .clone() per variant (sharp's documented way to
//          make several outputs from one input; libvips may decode again per output, with
//          JPEG shrink-on-load);
//   raw:   one full decode to raw pixels, then every variant from them (one decode).
// Usage: node pregen.mjs --spec variants.json --rounds N FILE
// Prints one line: `clone <median ms> raw <median ms>`.
import sharp from 'sharp';
import { readFileSync } from 'node:fs';

sharp.concurrency(1);
sharp.cache(false);

const argv = process.argv.slice(2);
const opts = { rounds: 3 };
for (let i = 0; i < argv.length; i++) {
  if (argv[i].startsWith('--')) opts[argv[i].slice(2)] = argv[++i];
  else opts.file = argv[i];
}
const variants = JSON.parse(readFileSync(opts.spec, 'utf8'));

// One variant's pipeline from `base` (a sharp instance), encoded to a buffer.
function variant(base, v) {
  const background = { r: v.background[0], g: v.background[1], b: v.background[2], alpha: 1 };
  let p = base.resize(v.width ?? undefined, v.height ?? undefined, {
    fit: v.fit, position: v.position, background, withoutEnlargement: !v.upscale,
  });
  if (v.format === 'jpeg') {
    p = p.flatten({ background }).jpeg({
      quality: v.quality, optimiseCoding: true,
      chromaSubsampling: v.quality >= 90 ? '4:4:4' : '4:2:0',
    });
  } else if (v.format === 'webp') {
    p = p.webp({ quality: v.quality, lossless: v.lossless, effort: 4 });
  } else if (v.format === 'avif') {
    p = p.avif({ quality: v.quality, effort: v.effort, chromaSubsampling: '4:2:0' });
  } else {
    p = p.png();
  }
  return p.toBuffer();
}

async function byClone(file) {
  const base = sharp(file, { limitInputPixels: 268402689 }).rotate();
  for (const v of variants) await variant(base.clone(), v);
}

async function byRaw(file) {
  const { data, info } = await sharp(file, { limitInputPixels: 268402689 })
    .rotate().raw().toBuffer({ resolveWithObject: true });
  const base = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  for (const v of variants) await variant(base.clone(), v);
}

async function median(way) {
  const times = [];
  for (let r = 0; r < Number(opts.rounds); r++) {
    const t = process.hrtime.bigint();
    await way(opts.file);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

try {
  // One warm-up of each, as thumbkit's first round warms its own.
  await byClone(opts.file);
  await byRaw(opts.file);
  console.log(`clone ${(await median(byClone)).toFixed(1)} raw ${(await median(byRaw)).toFixed(1)}`);
} catch (e) {
  console.error(`sharp: ${e.message.split('\n')[0]}`);
  process.exit(1);
}
