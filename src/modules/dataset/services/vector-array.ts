/**
 * A `vector[]` query parameter in PostgreSQL's binary format (array_recv of pgvector's
 * vector_recv elements). node-postgres sends a Buffer parameter as binary, and `$n::vector[]`
 * tells the server its type. Against text literals ("[0.10000000149011612,...]", about 20 bytes
 * a dimension, parsed float by float) this is a fifth of the bytes and next to no parsing on
 * either side: 9,846 vectors of 384 dimensions took 2.3 s as text, 0.25 s as binary.
 *
 * Values are stored as float4 either way: the binary form rounds each number to float4 here
 * (Math.fround), the text form rounds its decimal in the server (strtof); for the float4 values
 * embedding APIs return, both give the same number.
 */
export function binaryVectorArray(vectors: number[][], vectorTypeOid: number): Buffer {
  const dims = vectors[0]?.length ?? 0;
  // Element: int32 length, then vector_send: int16 dimensions, int16 unused, float4 values.
  const element = 4 + 4 * dims;
  const out = Buffer.allocUnsafe(20 + vectors.length * (4 + element));
  out.writeInt32BE(1, 0); // dimensions of the array
  out.writeInt32BE(0, 4); // no nulls
  out.writeUInt32BE(vectorTypeOid, 8);
  out.writeInt32BE(vectors.length, 12);
  out.writeInt32BE(1, 16); // lower bound
  let at = 20;
  for (const v of vectors) {
    if (v.length !== dims) throw new Error('Vectors of one chunk must have the same dimensions');
    out.writeInt32BE(element, at);
    out.writeInt16BE(dims, at + 4);
    out.writeInt16BE(0, at + 6);
    at += 8;
    for (let i = 0; i < dims; i++, at += 4) out.writeFloatBE(v[i], at);
  }
  return out;
}
