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
/** A `srcset` string for a preset's steps (the first is the plain URL). */
export function srcset(key: string, preset: string, steps: Steps, options?: Omit<UrlOptions, "step">): string;
/** Signs a thumbnail path until `expires` (Unix seconds): server-side only. */
/** `now + ttl` (Unix seconds) rounded up to a quarter of the TTL, as every thumbkit signer does. */
export function expiry(now: number, ttl: number): number;
/** Signs until an exact expiry (Unix seconds), or for `ttl` seconds (default 3600) rounded up. */
export function sign(
  pathAndQuery: string,
  key: string,
  when?: number | { ttl?: number; now?: number },
): Promise<string>;
