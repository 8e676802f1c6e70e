/** Options for a variant URL. */
export interface UrlOptions {
  /** Put before the path, e.g. `https://img.example.com`. */
  base?: string;
  /** The original's blake3 content hash: pins the URL (`?v=`), so it can be cached forever. */
  hash?: string;
  /** A responsive step the preset declares: `2x` or `640w`. */
  step?: string;
}

/** A preset's steps, as its file declares them. */
export type Steps = { densities: number[] } | { widths: number[] };

/** Percent-encodes an object key as thumbkit does. */
export function encodeKey(key: string): string;
/** The URL of `key`'s variant for `preset`. */
export function thumbUrl(key: string, preset: string, options?: UrlOptions): string;
/** One step of a preset, as `GET /v1/presets` lists it. */
export interface PresetStep {
  name?: string;
  suffix: string;
  width: number | null;
  height: number | null;
}

/** A preset as `GET /v1/presets` lists it (the fields the helpers read). */
export interface PresetInfo {
  name: string;
  width?: number | null;
  height?: number | null;
  fit?: "inside" | "contain" | "fill" | "cover";
  upscale?: boolean;
  steps?: PresetStep[];
  sizes?: string | null;
}

/** Options for a srcset. */
export interface SrcsetOptions extends Omit<UrlOptions, "step"> {
  /** The original's upright size (the manifest's): then the srcset is exactly the manifest's. */
  original?: { width: number; height: number };
  /** Signs each URL (e.g. `(u) => sign(u, key, {ttl: 3600})`); the srcset is then a Promise. */
  signer?: (url: string) => Promise<string>;
}

/** What a preset makes of an original: its output size, and whether it enlarges it. */
export function output(
  original: { width: number; height: number },
  box: { width: number | null; height: number | null },
  fit?: "inside" | "contain" | "fill" | "cover",
  upscale?: boolean,
): { width: number; height: number; enlarges: boolean };
/** A preset's steps, the plain one first. */
export function steps(preset: PresetInfo | (Steps & { width?: number; height?: number })): PresetStep[];
/** A `srcset` string for a preset's steps (the first is the plain URL). */
export function srcset(
  key: string,
  preset: string | PresetInfo,
  steps: Steps | null,
  options?: SrcsetOptions,
): string | Promise<string>;
/** `now + ttl` (Unix seconds) rounded up to a quarter of the TTL, as every thumbkit signer does. */
export function expiry(now: number, ttl: number): number;
/** Signs until an exact expiry (Unix seconds), or for `ttl` seconds (default 3600) rounded up. */
export function sign(
  pathAndQuery: string,
  key: string,
  when?: number | { ttl?: number; now?: number },
): Promise<string>;

/** What `next/image` hands a loader. */
export interface LoaderProps {
  src: string;
  width: number;
  quality?: number;
}

/** A `next/image` loader that asks only for steps the preset declares (never a 404). */
export function thumbkitLoader(
  preset: string | PresetInfo,
  options?: { widths?: number[]; densities?: number[]; width?: number; base?: string },
): (props: LoaderProps) => string;

/** A manifest's placeholders, each left undefined unless it is what thumbkit writes. */
export interface Placeholder {
  /** The average colour, `#rrggbb`: a `background-color` while the image loads. */
  color?: string;
  /** The most common colour, `#rrggbb`. */
  dominant?: string;
  /** ThumbHash, base64 (decode with the `thumbhash` package's `thumbHashToDataURL`). */
  thumbhash?: string;
  blurhash?: string;
}

/** The placeholders of a manifest (`GET /v1/originals/{key}` or an upload's answer), checked. */
export function placeholder(manifest: {
  average_color?: string;
  dominant_color?: string;
  thumbhash?: string;
  blurhash?: string;
}): Placeholder;
