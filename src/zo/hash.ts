/**
 * FNV-1a, 64-bit: the fingerprint of a model's raw bits and the checksum of zeroth-order
 * checkpoint files.
 *
 * Fowler, Noll & Vo, "The FNV Non-Cryptographic Hash Algorithm", IETF draft
 * draft-eastlake-fnv (2011–2024); parameters from its section 5 and from Noll's reference
 * page (isthe.com/chongo/tech/comp/fnv):
 *
 *     h ← 0xcbf29ce484222325                        (offset basis)
 *     for each byte b:  h ← (h XOR b) · 0x100000001b3   mod 2^64
 *
 * Why this hash: it is written here in integer arithmetic on four 16-bit limbs, so it runs and
 * gives the same value in every JavaScript engine (no node:crypto, no BigInt in the loop), and
 * its structure makes a guarantee a checksum wants: each step is a bijection of h for a fixed
 * byte (the prime is odd), so two inputs of equal length that differ in exactly one byte
 * always hash differently. It is not a cryptographic hash; a fingerprint guards against
 * accidents (wrong file, flipped bits, a replay that diverged), not against forgery.
 *
 * Floating-point buffers are hashed as their IEEE-754 bytes in little-endian order, whatever
 * the machine's byte order, so a fingerprint names the exact bits (−0 ≠ +0, every NaN payload
 * distinct) and is the same everywhere.
 */
import type { FloatArray } from "../params/layout.js";

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes converted at a time on big-endian machines. */
const SWAP_CHUNK = 8192;

/** An FNV-1a 64-bit hash fed incrementally: `update` any number of times, then `digest`. */
export class Fnv1a64 {
  // h = l3·2^48 + l2·2^32 + l1·2^16 + l0, each limb in [0, 2^16).
  private l0 = 0x2325;
  private l1 = 0x8422;
  private l2 = 0x9ce4;
  private l3 = 0xcbf2;

  /** Feeds `bytes` in order. @returns this hasher, for chaining */
  update(bytes: Uint8Array): this {
    let l0 = this.l0;
    let l1 = this.l1;
    let l2 = this.l2;
    let l3 = this.l3;
    for (let i = 0; i < bytes.length; i++) {
      l0 ^= bytes[i];
      // Multiply by 2^40 + 0x1b3: the 0x1b3 part limb by limb, the 2^40 part shifts limbs 0 and
      // 1 up by two limbs and eight bits (what lands above bit 63 is dropped). Every partial
      // sum stays below 2^27, exact in a double and in 32-bit integer operations.
      const t0 = l0 * 0x1b3;
      const t1 = l1 * 0x1b3 + (t0 >>> 16);
      const t2 = l2 * 0x1b3 + (l0 << 8) + (t1 >>> 16);
      const t3 = l3 * 0x1b3 + (l1 << 8) + (t2 >>> 16);
      l0 = t0 & 0xffff;
      l1 = t1 & 0xffff;
      l2 = t2 & 0xffff;
      l3 = t3 & 0xffff;
    }
    this.l0 = l0;
    this.l1 = l1;
    this.l2 = l2;
    this.l3 = l3;
    return this;
  }

  /** Feeds the little-endian IEEE-754 bytes of `values`. @returns this hasher */
  updateFloats(values: FloatArray): this {
    if (littleEndian) {
      return this.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
    const width = values.BYTES_PER_ELEMENT;
    const chunk = new Uint8Array(SWAP_CHUNK);
    const view = new DataView(chunk.buffer);
    const perChunk = SWAP_CHUNK / width;
    for (let start = 0; start < values.length; start += perChunk) {
      const end = Math.min(values.length, start + perChunk);
      for (let i = start; i < end; i++) {
        if (width === 8) view.setFloat64((i - start) * 8, values[i], true);
        else view.setFloat32((i - start) * 4, values[i], true);
      }
      this.update(chunk.subarray(0, (end - start) * width));
    }
    return this;
  }

  /** The hash so far as 16 lowercase hexadecimal digits, most significant first. */
  digest(): string {
    return [this.l3, this.l2, this.l1, this.l0]
      .map((l) => l.toString(16).padStart(4, "0"))
      .join("");
  }

  /** The hash so far as 8 bytes, least significant first (how checkpoint files store it). */
  digestBytes(): Uint8Array {
    const out = new Uint8Array(8);
    const limbs = [this.l0, this.l1, this.l2, this.l3];
    for (let k = 0; k < 4; k++) {
      out[2 * k] = limbs[k] & 0xff;
      out[2 * k + 1] = limbs[k] >>> 8;
    }
    return out;
  }
}

/** FNV-1a 64 of `bytes`, as 16 hexadecimal digits. */
export function fnv1a64(bytes: Uint8Array): string {
  return new Fnv1a64().update(bytes).digest();
}

/**
 * Fingerprint of a parameter buffer: FNV-1a 64 of its little-endian IEEE-754 bytes, as 16
 * hexadecimal digits. Two buffers of the same type and length have equal fingerprints when
 * their bits are equal; buffers that differ in a single byte always have different ones.
 */
export function hashBits(values: FloatArray): string {
  return new Fnv1a64().updateFloats(values).digest();
}
