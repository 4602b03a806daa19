import { buildZip } from '@test/support/document-fixtures';
import { DocumentParseError } from './pipeline.types';
import { assertZipWithinLimits, DEFAULT_ZIP_LIMITS } from './zip-guard';

const limits = { maxEntries: 10, maxUnzippedBytes: 10_000 };
const check = (bytes: Buffer): Promise<void> => assertZipWithinLimits(bytes, 'a.zip', limits);

describe('assertZipWithinLimits', () => {
  const zip = buildZip([
    { name: 'a.xml', data: '<a>'.repeat(1000) },
    { name: 'b.xml', data: 'hello' },
  ]);

  it('passes an archive within the limits', async () => {
    await expect(check(zip)).resolves.toBeUndefined();
    expect(DEFAULT_ZIP_LIMITS.maxUnzippedBytes).toBe(100 * 2 ** 20);
  });

  it('refuses archives that are cut off or have no directory', async () => {
    await expect(check(zip.subarray(0, zip.length - 30))).rejects.toThrow(DocumentParseError);
    await expect(check(zip.subarray(40))).rejects.toThrow(/is not a valid document archive/);
    await expect(check(Buffer.from('not a zip'))).rejects.toThrow(/no zip directory/);
  });

  it('refuses ZIP64 markers and unknown compression', async () => {
    const zip64 = Buffer.from(zip);
    zip64.writeUInt16LE(0xffff, zip64.length - 22 + 10);
    await expect(check(zip64)).rejects.toThrow(/ZIP64 archives are not accepted/);
    const method = Buffer.from(zip);
    const dir = method.readUInt32LE(method.length - 22 + 16);
    method.writeUInt16LE(12, dir + 10); // bzip2
    await expect(check(method)).rejects.toThrow(/uses unsupported compression 12/);
  });

  it('refuses data that does not inflate', async () => {
    const broken = Buffer.from(zip);
    broken.fill(0xff, 30 + 'a.xml'.length, 30 + 'a.xml'.length + 8);
    await expect(check(broken)).rejects.toThrow(/part "a.xml" does not inflate/);
  });

  it('refuses too many entries, too large a declared total, and lies', async () => {
    const many = buildZip(Array.from({ length: 11 }, (_, i) => ({ name: `${i}`, data: '' })));
    await expect(check(many)).rejects.toThrow(/too many parts \(11, at most 10\)/);
    const big = buildZip([{ name: 'big', data: 'x'.repeat(20_000) }]);
    await expect(check(big)).rejects.toThrow(/unpacks to more than/);
    const liar = buildZip([{ name: 'big', data: 'x'.repeat(20_000), declaredSize: 10 }]);
    await expect(check(liar)).rejects.toThrow(/unpacks to more than/);
    // A declared size larger than the data is a lie too.
    const short = buildZip([{ name: 'b', data: 'hello', declaredSize: 50 }]);
    await expect(check(short)).rejects.toThrow(/part "b" is not the size it declares/);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      assertZipWithinLimits(zip, 'a.zip', limits, controller.signal),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
