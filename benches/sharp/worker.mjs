// One sharp benchmark worker for `thumbkit bench`: renders each file with a preset's box, fit,
// gravity, format and quality, one image at a time on one libvips thread with the operation
// cache off, and writes `<stem>.<ext>` into --out-dir. Usage:
//   node worker.mjs --width 320 --height 320 --fit inside --gravity centre --format jpeg
//     --quality 80 --background 255,255,255 [--upscale] [--lossless] --out-dir DIR
//     [--time-file F] FILE...
import sharp from 'sharp';
import { writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';

sharp.concurrency(1);
sharp.cache(false);

const opts = { files: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--upscale' || a === '--lossless') opts[a.slice(2)] = true;
  else if (a.startsWith('--')) opts[a.slice(2).replace('-', '_')] = argv[++i];
  else opts.files.push(a);
}
const width = opts.width ? Number(opts.width) : undefined;
const height = opts.height ? Number(opts.height) : undefined;
const [r, g, b] = (opts.background || '255,255,255').split(',').map(Number);
const background = { r, g, b, alpha: 1 };
// thumbkit's compass gravities are sharp's positions of the same names; `attention` is
// the bench's word for thumbkit's `smart`.
const position = opts.gravity || 'centre';
const quality = Number(opts.quality || 80);

// Timed from the first image: sharp is used in-process, so node's start-up (~150 ms) is not
// part of its rate; the seconds go to --time-file for `thumbkit bench`.
const started = process.hrtime.bigint();
for (const file of opts.files) {
  let pipeline = sharp(file, { limitInputPixels: 268402689 }).rotate();
  if (width || height) {
    pipeline = pipeline.resize(width, height, {
      fit: opts.fit || 'inside', position, background,
      withoutEnlargement: !opts.upscale,
    });
  }
  let ext = opts.format;
  if (opts.format === 'jpeg') {
    pipeline = pipeline.flatten({ background }).jpeg({ quality, optimiseCoding: true });
    ext = 'jpg';
  } else if (opts.format === 'png') {
    pipeline = pipeline.png();
  } else if (opts.format === 'webp') {
    pipeline = pipeline.webp(opts.lossless ? { lossless: true } : { quality });
  } else if (opts.format === 'avif') {
    pipeline = pipeline.avif({ quality });
  } else {
    console.error(`sharp worker: unknown --format ${opts.format}`);
    process.exit(2);
  }
  const stem = basename(file, extname(file));
  try {
    await pipeline.toFile(join(opts.out_dir, `${stem}.${ext}`));
  } catch (e) {
    // One line, which `thumbkit bench` shows in sharp's row.
    console.error(`sharp: ${basename(file)}: ${e.message.split('\n')[0]}`);
    process.exit(1);
  }
}
if (opts.time_file) {
  writeFileSync(opts.time_file, String(Number(process.hrtime.bigint() - started) / 1e9));
}
