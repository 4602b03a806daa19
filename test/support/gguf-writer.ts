/**
 * A tiny GGUF v3 writer for tests: magic, version, tensor count, kv count, typed key/values, then
 * tensor infos and zero-filled, aligned tensor data.
 */
export type GgufKv =
  | { key: string; type: 'u32'; value: number }
  | { key: string; type: 'u64'; value: bigint }
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'strings'; value: string[] };

export interface GgufTensor {
  name: string;
  shape: number[];
}

const T_U32 = 4;
const T_STRING = 8;
const T_ARRAY = 9;
const T_U64 = 10;
const GGML_F32 = 0;
const ALIGN = 32;

export function buildGguf(kvs: GgufKv[], tensors: GgufTensor[] = []): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    parts.push(b);
  };
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(n);
    parts.push(b);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    u64(BigInt(b.length));
    parts.push(b);
  };
  parts.push(Buffer.from('GGUF', 'ascii'));
  u32(3);
  u64(BigInt(tensors.length));
  u64(BigInt(kvs.length));
  for (const kv of kvs) {
    str(kv.key);
    if (kv.type === 'u32') {
      u32(T_U32);
      u32(kv.value);
    } else if (kv.type === 'u64') {
      u32(T_U64);
      u64(kv.value);
    } else if (kv.type === 'string') {
      u32(T_STRING);
      str(kv.value);
    } else {
      u32(T_ARRAY);
      u32(T_STRING);
      u64(BigInt(kv.value.length));
      for (const s of kv.value) str(s);
    }
  }
  let offset = 0n;
  const sizes: number[] = [];
  for (const t of tensors) {
    str(t.name);
    u32(t.shape.length);
    for (const d of t.shape) u64(BigInt(d));
    u32(GGML_F32);
    u64(offset);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    sizes.push(bytes);
    offset += BigInt(Math.ceil(bytes / ALIGN) * ALIGN);
  }
  const header = Buffer.concat(parts);
  const pad = (ALIGN - (header.length % ALIGN)) % ALIGN;
  return Buffer.concat([header, Buffer.alloc(pad), Buffer.alloc(Number(offset))]);
}
