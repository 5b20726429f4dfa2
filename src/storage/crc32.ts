// CRC-32 (IEEE 802.3, as zlib and gzip compute it), to catch a torn or
// damaged record in the write-ahead log. zlib.crc32 is native from Node
// 20.15; older versions get the table-driven version below.

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

function crc32Table(buf: Uint8Array, seed = 0): number {
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export function crc32(buf: Uint8Array, seed = 0): number {
  return native === undefined ? crc32Table(buf, seed) : native(buf, seed) >>> 0;
}

export { crc32Table };
