import { promisify } from 'node:util';
import { constants, inflate as inflateCb } from 'node:zlib';
import { DocumentParseError } from './pipeline.types';

const inflate = promisify(inflateCb);

const STREAM = Buffer.from('stream');
const ENDSTREAM = Buffer.from('endstream');

/**
 * Refuses a PDF whose compressed streams would inflate past `maxBytes` together, before pdf.js
 * reads it: pdf.js keeps each decoded stream whole in memory, so a small file with a deflate
 * bomb as page content would take the process down. Image streams are skipped (text extraction
 * never decodes them, and scans legitimately inflate to a lot); streams that do not inflate
 * (encrypted, damaged) are left to pdf.js.
 */
export async function assertPdfStreamsWithinLimit(
  bytes: Buffer,
  name: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<void> {
  let total = 0;
  let from = 0;
  for (;;) {
    const at = bytes.indexOf(STREAM, from);
    if (at < 0) return;
    from = at + STREAM.length;
    if (at >= 3 && bytes.toString('latin1', at - 3, at) === 'end') continue;
    let start = at + STREAM.length;
    if (bytes[start] === 0x0d) start++;
    if (bytes[start] !== 0x0a) continue;
    start++;
    // The stream's dictionary: from the object's "obj" keyword to "stream".
    const objAt = bytes.lastIndexOf('obj', at);
    const dict = bytes.toString('latin1', Math.max(objAt, at - 4096, 0), at);
    if (!/\/Filter\s*\[?\s*\/(?:FlateDecode|Fl)\b/.test(dict)) continue;
    if (/\/Subtype\s*\/Image\b/.test(dict)) continue;
    const declared = /\/Length\s+(\d+)(?!\s+\d+\s+R)/.exec(dict);
    let end = declared ? start + Number(declared[1]) : -1;
    if (end < 0 || end > bytes.length) end = bytes.indexOf(ENDSTREAM, start);
    if (end < 0) return;
    from = Math.max(from, end);
    signal?.throwIfAborted();
    try {
      const out = await inflate(bytes.subarray(start, end), {
        maxOutputLength: Math.max(1, maxBytes - total + 1),
        // Tolerate a stream cut short, as pdf.js does.
        finishFlush: constants.Z_SYNC_FLUSH,
      });
      total += out.length;
    } catch (err) {
      // By code, not instanceof: the error may come from another realm (jest's vm contexts).
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') total = maxBytes + 1;
    }
    if (total > maxBytes) {
      throw new DocumentParseError(
        `"${name}" unpacks to more than ${Math.round(maxBytes / 2 ** 20)} MB of page data, ` +
          'which is more than a document should hold',
      );
    }
  }
}
