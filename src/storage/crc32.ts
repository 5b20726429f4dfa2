// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320, as zlib and gzip
// compute it), to catch a torn or damaged frame in the write-ahead log or a
// snapshot. zlib.crc32 is native from Node 20.15 / 22.2; older versions get
// the table-driven version below, which gives the same numbers.

import zlib from 'node:zlib';

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * The portable version. `seed` is the CRC of the bytes before `buf`, as in
 * zlib: crc32(b, crc32(a)) === crc32(a ++ b).
 */
export function crc32Table(buf: Uint8Array, seed = 0): number {
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Looked up at run time: the type declarations have it, Node 20.8–20.14 does not.
const native = typeof zlib.crc32 === 'function' ? zlib.crc32 : null;

/** CRC-32 of `buf`, continuing from `seed` (the CRC of whatever came before). */
export function crc32(buf: Uint8Array, seed = 0): number {
  return native === null ? crc32Table(buf, seed) : native(buf, seed) >>> 0;
}
